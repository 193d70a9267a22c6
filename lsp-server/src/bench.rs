//! `pencil-lsp bench`: latency of the run pipeline and reach of the quick fixes over
//! corpus programs (mid-trace and last program of each sampled trace).

use crate::checker::Checker;
use crate::coach::Coach;
use crate::pipeline::{self, RunInput, Services};
use crate::store::{StoreHandle, Trigger};
use indicatif::{ProgressBar, ProgressStyle};
use pencil_core::corpus::{read_corpus, ReadOptions};
use pencil_sandbox::{SandboxConfig, Status};
use similar::{ChangeTag, TextDiff};
use std::io::Write;
use std::path::PathBuf;

/// Options of `pencil-lsp bench`.
#[derive(Debug, Clone, clap::Args)]
pub struct BenchArgs {
    /// Corpus file.
    #[arg(long, default_value = "../shared/data/public/trace-model.jsonl.gz")]
    pub corpus: PathBuf,
    /// Number of traces to sample (evenly spaced through the file).
    #[arg(long, default_value_t = 150)]
    pub traces: usize,
}

/// Why the benchmark could not run.
#[derive(Debug, thiserror::Error)]
pub enum BenchError {
    /// The corpus could not be read.
    #[error(transparent)]
    Corpus(#[from] pencil_core::corpus::CorpusError),
    /// The store could not be opened.
    #[error(transparent)]
    Store(#[from] crate::store::StoreError),
    /// The sandbox could not start.
    #[error(transparent)]
    Sandbox(#[from] pencil_sandbox::SandboxError),
    /// Writing the report failed.
    #[error("{0}")]
    Io(#[from] std::io::Error),
}

#[derive(Default)]
struct Tally {
    run_ms: Vec<f64>,
    record_ms: Vec<f64>,
    check_ms: Vec<f64>,
    first_fix_ms: Vec<f64>,
    lines_touched: Vec<usize>,
    statuses: [usize; 4],
    errors: [usize; 2],
    errors_fixed: [usize; 2],
    /// Error message shapes (digits masked) -> (count, with a fix).
    kinds: std::collections::BTreeMap<String, (usize, usize)>,
}

/// Runs the benchmark and writes its report.
pub fn bench(args: &BenchArgs, out: &mut dyn Write) -> Result<(), BenchError> {
    let corpus = read_corpus(&args.corpus, ReadOptions { skip_bad: true })?;
    let traces = &corpus.traces;
    let step = (traces.len() / args.traces.max(1)).max(1);
    let mut programs: Vec<(usize, &pencil_core::Trace, &pencil_core::ProgramState)> = Vec::new();
    for trace in traces.iter().step_by(step).take(args.traces) {
        let len = trace.programs.len();
        if len > 1 {
            programs.push((0, trace, &trace.programs[(len - 1) / 2]));
        }
        if let Some(last) = trace.programs.last() {
            programs.push((1, trace, last));
        }
    }
    let dir = tempfile::tempdir()?;
    let (store, _) = StoreHandle::open(dir.path())?;
    let checker = Checker::start(SandboxConfig::default())?;
    let services = Services { store: Some(store), checker: Some(checker), coach: Coach::unavailable("bench: model not wired yet") };
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
    // Warm the runtime and the store so the first sample is not an outlier of start-up.
    for (_, trace, program) in programs.iter().take(3) {
        runtime.block_on(pipeline::run(&services, input(trace, &program.code, "warmup")));
    }
    let bar = ProgressBar::new(programs.len() as u64);
    bar.set_style(ProgressStyle::with_template("{bar:40} {pos}/{len} programs {elapsed}").unwrap_or_else(|_| ProgressStyle::default_bar()));
    let mut tally = Tally::default();
    for (kind, trace, program) in &programs {
        let outcome = runtime.block_on(pipeline::run(&services, input(trace, &program.code, &trace.student)));
        bar.inc(1);
        tally.run_ms.push(outcome.timings.run_ms);
        tally.record_ms.push(outcome.timings.record_ms);
        tally.check_ms.push(outcome.timings.check_ms);
        let Some(verdict) = outcome.verdict else { continue };
        tally.statuses[match verdict.status {
            Status::Ok => 0,
            Status::Error => 1,
            Status::Timeout => 2,
            Status::WaitsForInput => 3,
        }] += 1;
        if verdict.status == Status::Error {
            tally.errors[*kind] += 1;
            let shape = verdict.error.as_ref().map_or_else(String::new, |e| {
                let m: String = format!("{}: {}", e.kind, e.message).chars().map(|c| if c.is_ascii_digit() { 'N' } else { c }).collect();
                m.chars().take(60).collect()
            });
            let entry = tally.kinds.entry(shape).or_default();
            entry.0 += 1;
            entry.1 += usize::from(!outcome.fixes.is_empty());
            if let Some(best) = outcome.fixes.first() {
                tally.errors_fixed[*kind] += 1;
                tally.first_fix_ms.push(outcome.timings.run_ms + outcome.timings.fixes_ms);
                tally.lines_touched.push(lines_touched(&program.code, &best.fix.new_code));
            }
        }
    }
    bar.finish_and_clear();
    report(out, args, programs.len(), &mut tally)
}

fn input(trace: &pencil_core::Trace, code: &str, student: &str) -> RunInput {
    RunInput {
        student: student.to_string(),
        title: trace.title.clone(),
        code: code.to_string(),
        time: crate::clock::now_timestamp(),
        trigger: Trigger::Replay,
        quick_fixes: true,
    }
}

/// Lines a fix changes: the larger of lines removed and lines added.
pub fn lines_touched(before: &str, after: &str) -> usize {
    let diff = TextDiff::from_lines(before, after);
    let (del, ins) = diff.iter_all_changes().fold((0, 0), |(d, i), c| match c.tag() {
        ChangeTag::Delete => (d + 1, i),
        ChangeTag::Insert => (d, i + 1),
        ChangeTag::Equal => (d, i),
    });
    del.max(ins)
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let rank = ((p / 100.0) * (sorted.len() - 1) as f64).round() as usize;
    sorted[rank.min(sorted.len() - 1)]
}

fn report(out: &mut dyn Write, args: &BenchArgs, n: usize, tally: &mut Tally) -> Result<(), BenchError> {
    tally.run_ms.sort_by(f64::total_cmp);
    tally.record_ms.sort_by(f64::total_cmp);
    tally.check_ms.sort_by(f64::total_cmp);
    tally.first_fix_ms.sort_by(f64::total_cmp);
    tally.lines_touched.sort_unstable();
    let r = &tally.run_ms;
    writeln!(out, "bench: {n} programs (mid-trace and last) from {} sampled traces of {}", args.traces, args.corpus.display())?;
    writeln!(
        out,
        "per-run latency (record + check): p50 {:.1} ms, p90 {:.1} ms, p99 {:.1} ms, max {:.1} ms",
        percentile(r, 50.0),
        percentile(r, 90.0),
        percentile(r, 99.0),
        r.last().copied().unwrap_or(f64::NAN)
    )?;
    for (name, v) in [("  record alone (SQLite, synchronous=FULL)", &tally.record_ms), ("  check alone (sandbox)", &tally.check_ms)] {
        writeln!(out, "{name}: p50 {:.1} ms, p90 {:.1} ms, p99 {:.1} ms", percentile(v, 50.0), percentile(v, 90.0), percentile(v, 99.0))?;
    }
    let [ok, error, timeout, waits] = tally.statuses;
    writeln!(out, "status: ok {ok}, error {error}, timeout {timeout}, waits_for_input {waits}")?;
    let share = |fixed: usize, total: usize| if total == 0 { 0.0 } else { 100.0 * fixed as f64 / total as f64 };
    let (fixed, total) = (tally.errors_fixed[0] + tally.errors_fixed[1], tally.errors[0] + tally.errors[1]);
    writeln!(
        out,
        "errors with >= 1 verified rule-based fix: {fixed}/{total} ({:.1}%); mid-trace {}/{} ({:.1}%), last {}/{} ({:.1}%)",
        share(fixed, total),
        tally.errors_fixed[0],
        tally.errors[0],
        share(tally.errors_fixed[0], tally.errors[0]),
        tally.errors_fixed[1],
        tally.errors[1],
        share(tally.errors_fixed[1], tally.errors[1])
    )?;
    let (resource, resource_fixed) = tally
        .kinds
        .iter()
        .filter(|(shape, _)| shape.starts_with("ResourceError"))
        .fold((0, 0), |(n, f), (_, (c, x))| (n + c, f + x));
    writeln!(
        out,
        "  excluding ResourceError (images and scripts that cannot load offline; no rule touches them): {}/{} ({:.1}%)",
        fixed - resource_fixed,
        total - resource,
        share(fixed - resource_fixed, total - resource)
    )?;
    writeln!(
        out,
        "time to first verified fix (run + fix search): p50 {:.1} ms, p90 {:.1} ms",
        percentile(&tally.first_fix_ms, 50.0),
        percentile(&tally.first_fix_ms, 90.0)
    )?;
    let median_lines = tally.lines_touched.get(tally.lines_touched.len() / 2).copied();
    writeln!(out, "lines touched by the best fix: median {}", median_lines.map_or("-".to_string(), |m| m.to_string()))?;
    let mut kinds: Vec<(&String, &(usize, usize))> = tally.kinds.iter().collect();
    kinds.sort_by_key(|(_, (n, _))| std::cmp::Reverse(*n));
    for (shape, (count, fixed)) in kinds.into_iter().take(12) {
        writeln!(out, "  {count:>4} errors, {fixed:>4} fixed: {shape}")?;
    }
    writeln!(out, "resident memory: {} (no model loaded)", resident_memory().unwrap_or_else(|| "unknown".into()))?;
    Ok(())
}

/// VmRSS of this process, from /proc (Linux).
fn resident_memory() -> Option<String> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmRSS:"))?;
    let kb: f64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(format!("{:.0} MB", kb / 1024.0))
}
