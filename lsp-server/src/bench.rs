//! `pencil-lsp bench`: latency of the run pipeline (record + check + risk), time to
//! the first verified suggestion, and reach of the rule-based quick fixes and of
//! "Fix in my style" over corpus programs (mid-trace and last program of each
//! sampled trace), plus resident memory with the model loaded. With `--recovery`,
//! how the quick fixes recover from errors the rules were not written from
//! ([`recovery`]). With `--adapt`, the time and memory of learning a student's
//! vector ([`adapt`]).

pub mod adapt;
pub mod mutants;
pub mod recovery;
pub mod style;

use crate::checker::Checker;
use crate::coach::style_fix::{request_seed, HintSize};
use crate::coach::{Coach, ModelRequest, ModelStatus, StudentVector};
use crate::pipeline::{self, RiskOutcome, RunInput, Services, StyleFixParams};
use crate::store::{StoreHandle, Trigger};
use indicatif::{ProgressBar, ProgressStyle};
use pencil_core::corpus::{read_corpus, ReadOptions};
use pencil_sandbox::Status;
use similar::{ChangeTag, TextDiff};
use std::io::Write;
use std::path::PathBuf;
use std::time::Instant;

/// Options of `pencil-lsp bench`.
#[derive(Debug, Clone, clap::Args)]
pub struct BenchArgs {
    /// Corpus file.
    #[arg(long, default_value = "../shared/data/public/trace-model.jsonl.gz")]
    pub corpus: PathBuf,
    /// Number of traces to sample (evenly spaced through the file).
    #[arg(long, default_value_t = 150)]
    pub traces: usize,
    /// Trace model directory (default: $PENCIL_MODEL_DIR, else models/default beside the executable).
    #[arg(long)]
    pub model: Option<PathBuf>,
    /// At most this many `error` programs get a "Fix in my style" search (each samples
    /// and checks `--samples` programs a round, rounds until one runs; the first ones in sampling order).
    #[arg(long, default_value_t = 120)]
    pub model_errors: usize,
    /// Continuations sampled per "Fix in my style" round.
    #[arg(long, default_value_t = crate::session::DEFAULT_FIX_SAMPLES)]
    pub samples: usize,
    /// Write the error programs no rule-based fix reached to this JSONL file (error and code), to find the next rule worth writing
    /// (with `--recovery`: the cases with no running fix, whose first fix does not move toward the target, deletes a line or is not the student's next running state, with their half, kind, target, next state, latest earlier states and why).
    #[arg(long)]
    pub unfixed: Option<PathBuf>,
    /// Instead: print `--listen`'s refusal matrix (Host x Origin x token) and the latency its checks add to a handshake.
    #[arg(long)]
    pub handshake: bool,
    /// Handshakes per latency figure with --handshake.
    #[arg(long, default_value_t = 200)]
    pub handshakes: usize,
    /// Measure recovery instead: quick fixes on failing corpus programs and on planted
    /// mistakes, per error kind, on a seeded split of the titles (tune / held-out).
    #[arg(long)]
    pub recovery: bool,
    /// With `--recovery`: at most this many failing corpus programs per half.
    #[arg(long, default_value_t = 100)]
    pub limit: usize,
    /// With `--recovery`: at most this many failing mutants per kind of mistake and half.
    #[arg(long, default_value_t = 10)]
    pub mutants_per_kind: usize,
    /// With `--recovery`: the seed of the title split and of the mutations.
    #[arg(long, default_value_t = 21)]
    pub seed: u64,
    /// With `--recovery`: the real runtime's verdicts, whose running programs get mistakes planted.
    #[arg(long, default_value = "../shared/data/oracle/labels.jsonl.gz")]
    pub oracle: PathBuf,
    /// Measure adaptation instead: wall time and peak memory of learning a student's
    /// vector from k = 1, 4, 10 of the `--corpus` student's traces with the most traces.
    #[arg(long)]
    pub adapt: bool,
    /// Skip this many traces before the evenly spaced sample (a different, disjoint set
    /// of programs when below the spacing, the corpus size over `--traces`).
    #[arg(long, default_value_t = 0)]
    pub trace_offset: usize,
    /// Instead: only the "Fix in my style" searches of the first `--model-errors`
    /// failing programs, every sample classified, one JSON line per search in this file.
    #[arg(long)]
    pub style_dump: Option<PathBuf>,
    /// With `--style-dump`: sampling temperature (default: the server's).
    #[arg(long)]
    pub temperature: Option<f32>,
    /// With `--style-dump`: nucleus (default: the server's).
    #[arg(long)]
    pub top_p: Option<f32>,
    /// With `--style-dump`: the prompt's time gap in seconds (default: the small hint size's).
    #[arg(long)]
    pub gap: Option<u32>,
    /// With `--style-dump`: sample whole states as before (no kept lines above the error, no splicing).
    #[arg(long)]
    pub whole_state: bool,
    /// With `--style-dump`: sample with the strong student's vector.
    #[arg(long)]
    pub vector_strong: bool,
}

/// The bench's programs: (kind: 0 mid-trace / 1 last, trace, index of the program in
/// the trace) of `--traces` traces evenly spaced through the corpus after `--trace-offset`.
pub(crate) fn select_programs<'a>(traces: &'a [pencil_core::Trace], args: &BenchArgs) -> Vec<(usize, &'a pencil_core::Trace, usize)> {
    let step = (traces.len() / args.traces.max(1)).max(1);
    let mut programs = Vec::new();
    for trace in traces.iter().skip(args.trace_offset).step_by(step).take(args.traces) {
        let len = trace.programs.len();
        if len > 1 {
            programs.push((0, trace, (len - 1) / 2));
        }
        if len > 0 {
            programs.push((1, trace, len - 1));
        }
    }
    programs
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
    /// The model could not be found, read or adapted.
    #[error("{0}")]
    Model(String),
}

#[derive(Default)]
struct Tally {
    run_ms: Vec<f64>,
    /// Record + check when the text had only been compiled while the student paused.
    run_precompiled_ms: Vec<f64>,
    /// Record + check when the text was checked while the student paused (the server's way).
    run_ahead_ms: Vec<f64>,
    record_ms: Vec<f64>,
    check_ms: Vec<f64>,
    risk_ms: Vec<f64>,
    /// Risk when the model read the previous run's prefix and, as the student paused,
    /// the trace up to the program about to run (only the new state is left to read).
    risk_ahead_ms: Vec<f64>,
    /// Record + check + risk with the text checked and the trace read as the student paused.
    run_risk_ahead_ms: Vec<f64>,
    /// Record + check + risk, per run.
    run_risk_ms: Vec<f64>,
    first_fix_ms: Vec<f64>,
    /// Time to the first verified suggestion, rule-based or model, over searched errors.
    first_any_ms: Vec<f64>,
    /// Time to the model's verified suggestions, over searched errors where it found one.
    first_model_ms: Vec<f64>,
    /// Model search time (sampling + checking), every search.
    search_ms: Vec<f64>,
    lines_touched: Vec<usize>,
    /// Lines touched by the best fix (rule-based first, else the model's), over searched errors.
    lines_touched_any: Vec<usize>,
    lines_touched_model: Vec<usize>,
    statuses: [usize; 4],
    errors: [usize; 2],
    errors_fixed: [usize; 2],
    /// Per kind (mid-trace, last): errors searched by the model, fixed by rules among
    /// them, by the model, by either.
    searched: [usize; 2],
    searched_rule_fixed: [usize; 2],
    searched_model_fixed: [usize; 2],
    /// Of those fixed by the model, how many only by a second attempt.
    second_attempt_fixed: usize,
    searched_any_fixed: [usize; 2],
    samples: usize,
    /// Searches that could not sample, by reason (e.g. a program too long for the context).
    search_problems: std::collections::BTreeMap<String, usize>,
    cut_off: usize,
    candidates: usize,
    running: usize,
    risk_problems: usize,
    /// Programs whose only failure was a resource the offline sandbox cannot load.
    unchecked_loads: usize,
    model_loaded: bool,
    /// Error message shapes (digits masked) -> (count, with a fix).
    kinds: std::collections::BTreeMap<String, (usize, usize)>,
}

/// Runs the benchmark and writes its report.
pub fn bench(args: &BenchArgs, out: &mut dyn Write) -> Result<(), BenchError> {
    if args.handshake {
        return Ok(crate::bench_handshake::run(args.handshakes, out)?);
    }
    if args.recovery {
        return recovery::bench_recovery(args, out);
    }
    if args.adapt {
        return adapt::bench_adapt(args, out);
    }
    if args.style_dump.is_some() {
        return style::bench_style(args, out);
    }
    let corpus = read_corpus(&args.corpus, ReadOptions { skip_bad: true })?;
    let programs = select_programs(&corpus.traces, args);
    let dir = tempfile::tempdir()?;
    let (store, _) = StoreHandle::open(dir.path())?;
    let checker = Checker::start(crate::checker::student_sandbox_config())?;
    let load_started = Instant::now();
    let coach = Coach::load(&ModelRequest { setting: None, cli: args.model.clone() });
    let load_ms = load_started.elapsed().as_secs_f64() * 1e3;
    let model_line = match (coach.status(), coach.missing_message()) {
        (ModelStatus::Ready { dir, probe }, _) => format!("model: {} (probe: {probe}), loaded in {load_ms:.0} ms", dir.display()),
        (ModelStatus::Unavailable(r), _) => format!("model: none ({r})"),
    };
    let services = Services { store: Some(store), checker: Some(checker), coach };
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
    // Warm the runtime, the store and the model so the first sample is not an outlier of start-up.
    for (_, trace, i) in programs.iter().take(3) {
        runtime.block_on(pipeline::run(&services, input(trace, &trace.programs[*i].code, "warmup")));
        runtime.block_on(pipeline::assess_risk(&services, prefix(trace, *i)));
    }
    let bar = ProgressBar::new(programs.len() as u64);
    bar.set_style(ProgressStyle::with_template("{bar:40} {pos}/{len} programs {elapsed}").unwrap_or_else(|_| ProgressStyle::default_bar()));
    let mut tally = Tally::default();
    let mut unfixed = match &args.unfixed {
        Some(path) => Some(std::io::BufWriter::new(std::fs::File::create(path)?)),
        None => None,
    };
    let has_model = services.coach.engine().is_some();
    tally.model_loaded = has_model;
    for (kind, trace, i) in &programs {
        let program = &trace.programs[*i];
        let outcome = runtime.block_on(pipeline::run(&services, input(trace, &program.code, &trace.student)));
        if let Some(engine) = services.coach.engine() {
            engine.forget_prefixes();
        }
        let risk_started = Instant::now();
        let risk = runtime.block_on(pipeline::assess_risk(&services, prefix(trace, *i)));
        let risk_ms = match risk {
            RiskOutcome::Risk(_) => risk_started.elapsed().as_secs_f64() * 1e3,
            RiskOutcome::Failed(_) => {
                tally.risk_problems += 1;
                0.0
            }
            RiskOutcome::NoModel | RiskOutcome::NoProbe => 0.0,
        };
        bar.inc(1);
        tally.run_ms.push(outcome.timings.run_ms);
        // The same program as the server usually meets it: compiled during the quiet
        // moment after the last edit (a trailing newline keeps it out of the cache until then).
        if let Some(checker) = &services.checker {
            let typed = format!("{}\n", program.code);
            let _ = checker.prepare_blocking(&typed);
            let warm = runtime.block_on(pipeline::run(&services, input(trace, &typed, &trace.student)));
            tally.run_precompiled_ms.push(warm.timings.run_ms);
            // As the server meets it after a pause: checked ahead, the run takes the verdict.
            let paused: std::sync::Arc<str> = std::sync::Arc::from(format!("{}\n\n", program.code));
            let _ = runtime.block_on(checker.check_ahead(std::sync::Arc::clone(&paused)));
            let ahead_run = runtime.block_on(pipeline::run(&services, input(trace, &paused, &trace.student)));
            tally.run_ahead_ms.push(ahead_run.timings.run_ms);
            // The risk as the server usually meets it: the model read the previous
            // run's prefix then, and this one up to its new state during the pause
            // (at a time a few seconds off the run's, as in the editor).
            if let Some(engine) = services.coach.engine().filter(|e| e.has_probe()) {
                engine.forget_prefixes();
                let previous = i.checked_sub(1).map(|p| engine.risk(&prefix(trace, p)));
                let mut ahead = prefix(trace, *i);
                if let Some(last) = ahead.programs.last_mut() {
                    last.time = crate::clock::now_timestamp();
                }
                if matches!(previous, None | Some(Ok(_))) && engine.prepare_risk(&ahead).is_ok() {
                    let started = Instant::now();
                    if matches!(runtime.block_on(pipeline::assess_risk(&services, prefix(trace, *i))), RiskOutcome::Risk(_)) {
                        let ms = started.elapsed().as_secs_f64() * 1e3;
                        tally.risk_ahead_ms.push(ms);
                        tally.run_risk_ahead_ms.push(ahead_run.timings.run_ms + ms);
                    }
                }
            }
        }
        tally.record_ms.push(outcome.timings.record_ms);
        tally.check_ms.push(outcome.timings.check_ms);
        tally.risk_ms.push(risk_ms);
        tally.run_risk_ms.push(outcome.timings.run_ms + risk_ms);
        let Some(verdict) = outcome.verdict else { continue };
        tally.unchecked_loads += usize::from(verdict.status != Status::Error && verdict.unchecked_load.is_some());
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
            let rule_ms = outcome.timings.run_ms + outcome.timings.fixes_ms;
            if let (Some(file), true) = (unfixed.as_mut(), outcome.fixes.is_empty()) {
                let line = serde_json::json!({ "title": trace.title, "error": verdict.error, "code": program.code });
                writeln!(file, "{line}")?;
            }
            if let Some(best) = outcome.fixes.first() {
                tally.errors_fixed[*kind] += 1;
                tally.first_fix_ms.push(rule_ms);
                tally.lines_touched.push(lines_touched(&program.code, &best.fix.new_code));
            }
            if has_model && tally.searched[0] + tally.searched[1] < args.model_errors {
                let params = StyleFixParams {
                    samples: args.samples,
                    size: HintSize::Small,
                    vector: StudentVector::Mine,
                    seed: request_seed(&trace.student, &trace.title, &program.code),
                };
                let search = runtime.block_on(pipeline::find_style_fixes(&services, prefix(trace, *i), params, None));
                let search_ms = search.sample_ms + search.check_ms;
                tally.search_ms.push(search_ms);
                tally.samples += search.sampled;
                if let Some(problem) = &search.problem {
                    // Numbers differ per program; the reason is the same.
                    let shape: String = problem.chars().map(|c| if c.is_ascii_digit() { 'N' } else { c }).collect();
                    *tally.search_problems.entry(shape).or_default() += 1;
                }
                tally.cut_off += search.cut_off;
                tally.candidates += search.candidates;
                tally.running += search.running;
                tally.searched[*kind] += 1;
                let rule_fixed = !outcome.fixes.is_empty();
                let model_best = search.fixes.first();
                tally.searched_rule_fixed[*kind] += usize::from(rule_fixed);
                tally.searched_model_fixed[*kind] += usize::from(model_best.is_some());
                tally.second_attempt_fixed += usize::from(model_best.is_some() && search.from_second_attempt);
                tally.searched_any_fixed[*kind] += usize::from(rule_fixed || model_best.is_some());
                // The model search starts when the editor asks for code actions, right after the run.
                if let Some(m) = model_best {
                    tally.first_model_ms.push(rule_ms + search_ms);
                    tally.lines_touched_model.push(lines_touched(&program.code, &m.new_code));
                }
                match (outcome.fixes.first(), model_best) {
                    (Some(rule), _) => {
                        tally.first_any_ms.push(rule_ms);
                        tally.lines_touched_any.push(lines_touched(&program.code, &rule.fix.new_code));
                    }
                    (None, Some(m)) => {
                        tally.first_any_ms.push(rule_ms + search_ms);
                        tally.lines_touched_any.push(lines_touched(&program.code, &m.new_code));
                    }
                    (None, None) => {}
                }
            }
        }
    }
    bar.finish_and_clear();
    writeln!(out, "{model_line}")?;
    report(out, args, programs.len(), &mut tally)
}

/// The trace up to and including program `i`, as the coach would have recorded it.
fn prefix(trace: &pencil_core::Trace, i: usize) -> pencil_core::Trace {
    pencil_core::Trace { programs: trace.programs[..=i].to_vec(), eos: false, ..trace.clone() }
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

/// One latency line: `label: p50 …, p90 …, p99 …, max …` and `suffix`, from sorted samples.
fn latency_line(out: &mut dyn Write, label: &str, sorted: &[f64], suffix: &str) -> std::io::Result<()> {
    writeln!(
        out,
        "{label}: p50 {:.1} ms, p90 {:.1} ms, p99 {:.1} ms, max {:.1} ms{suffix}",
        percentile(sorted, 50.0),
        percentile(sorted, 90.0),
        percentile(sorted, 99.0),
        sorted.last().copied().unwrap_or(f64::NAN)
    )
}

fn report(out: &mut dyn Write, args: &BenchArgs, n: usize, tally: &mut Tally) -> Result<(), BenchError> {
    for v in [
        &mut tally.run_ms,
        &mut tally.run_precompiled_ms,
        &mut tally.run_ahead_ms,
        &mut tally.record_ms,
        &mut tally.check_ms,
        &mut tally.risk_ms,
        &mut tally.risk_ahead_ms,
        &mut tally.run_risk_ahead_ms,
        &mut tally.run_risk_ms,
        &mut tally.first_fix_ms,
        &mut tally.first_any_ms,
        &mut tally.first_model_ms,
        &mut tally.search_ms,
    ] {
        v.sort_by(f64::total_cmp);
    }
    for v in [&mut tally.lines_touched, &mut tally.lines_touched_any, &mut tally.lines_touched_model] {
        v.sort_unstable();
    }
    writeln!(out, "bench: {n} programs (mid-trace and last) from {} sampled traces of {}", args.traces, args.corpus.display())?;
    latency_line(out, "per-run latency (record + check)", &tally.run_ms, "")?;
    latency_line(
        out,
        "per-run latency (record + check) when the text had only been compiled as the student paused",
        &tally.run_precompiled_ms,
        "",
    )?;
    latency_line(
        out,
        "per-run latency (record + check) when the text was checked as the student paused (the server's way)",
        &tally.run_ahead_ms,
        "",
    )?;
    let no_risk = tally.risk_ms.iter().all(|&r| r == 0.0);
    latency_line(
        out,
        "per-run latency (record + check + risk)",
        &tally.run_risk_ms,
        if no_risk { " (no risk computed: no model or no probe)" } else { "" },
    )?;
    if !tally.run_risk_ahead_ms.is_empty() {
        latency_line(
            out,
            "per-run latency (record + check + risk) when the text was checked and the trace read by the model as the student paused",
            &tally.run_risk_ahead_ms,
            "",
        )?;
    }
    for (name, v) in [
        ("  record alone (SQLite, synchronous=FULL)", &tally.record_ms),
        ("  check alone (sandbox)", &tally.check_ms),
        ("  risk alone (probe: one forward pass; runs after pencil/run has answered)", &tally.risk_ms),
        ("  risk alone, trace read ahead (the new state only)", &tally.risk_ahead_ms),
    ] {
        if v.is_empty() {
            continue;
        }
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
    writeln!(
        out,
        "  not counted as errors: {} programs that failed only to load a resource offline (images, scripts, data from the web; errors under the paper's offline rule, reported to the student as unchecked)",
        tally.unchecked_loads
    )?;
    writeln!(
        out,
        "time to first verified fix (run + fix search): p50 {:.1} ms, p90 {:.1} ms",
        percentile(&tally.first_fix_ms, 50.0),
        percentile(&tally.first_fix_ms, 90.0)
    )?;
    let median = |v: &[usize]| v.get(v.len() / 2).map_or("-".to_string(), |m| m.to_string());
    writeln!(out, "lines touched by the best rule-based fix: median {}", median(&tally.lines_touched))?;
    let searched = tally.searched[0] + tally.searched[1];
    if searched > 0 {
        let sum = |a: [usize; 2]| a[0] + a[1];
        writeln!(
            out,
            "\"Fix in my style\" over {searched} error programs ({} samples a round, rounds until one runs): {} sampled ({} gave no program: cut off and never back on the student's), {} distinct new programs, {} ran",
            args.samples, tally.samples, tally.cut_off, tally.candidates, tally.running
        )?;
        for (problem, count) in &tally.search_problems {
            writeln!(out, "  {count} searches did not sample: {problem}")?;
        }
        writeln!(out, "  fixed by the model only in a second attempt (from a failed sample that got past the mistake): {}", tally.second_attempt_fixed)?;
        for (label, k) in [("all", None), ("mid-trace", Some(0)), ("last", Some(1))] {
            let pick = |a: [usize; 2]| k.map_or(sum(a), |k| a[k]);
            let total = pick(tally.searched);
            writeln!(
                out,
                "  {label}: >= 1 verified fix, rules only {}/{total} ({:.1}%), model only {}/{total} ({:.1}%), rules + model {}/{total} ({:.1}%)",
                pick(tally.searched_rule_fixed),
                share(pick(tally.searched_rule_fixed), total),
                pick(tally.searched_model_fixed),
                share(pick(tally.searched_model_fixed), total),
                pick(tally.searched_any_fixed),
                share(pick(tally.searched_any_fixed), total),
            )?;
        }
        writeln!(
            out,
            "time to first verified suggestion (rule-based or model; model search starts right after the run): p50 {:.1} ms, p90 {:.1} ms over {} fixed",
            percentile(&tally.first_any_ms, 50.0),
            percentile(&tally.first_any_ms, 90.0),
            tally.first_any_ms.len()
        )?;
        writeln!(
            out,
            "time to the model's verified suggestions (run + rules + sampling + checking): p50 {:.1} ms, p90 {:.1} ms over {} fixed; search alone p50 {:.1} ms, p90 {:.1} ms",
            percentile(&tally.first_model_ms, 50.0),
            percentile(&tally.first_model_ms, 90.0),
            tally.first_model_ms.len(),
            percentile(&tally.search_ms, 50.0),
            percentile(&tally.search_ms, 90.0)
        )?;
        writeln!(
            out,
            "lines touched by the best fix (rule-based first, else the model's): median {}; by the model's best: median {}",
            median(&tally.lines_touched_any),
            median(&tally.lines_touched_model)
        )?;
    }
    if tally.risk_problems > 0 {
        writeln!(out, "risk failed on {} programs", tally.risk_problems)?;
    }
    let mut kinds: Vec<(&String, &(usize, usize))> = tally.kinds.iter().collect();
    kinds.sort_by_key(|(_, (n, _))| std::cmp::Reverse(*n));
    for (shape, (count, fixed)) in kinds.into_iter().take(12) {
        writeln!(out, "  {count:>4} errors, {fixed:>4} with a rule-based fix: {shape}")?;
    }
    let memory = |key| resident_memory(key).unwrap_or_else(|| "unknown".into());
    writeln!(
        out,
        "bench process memory: VmRSS {}, peak VmHWM {} ({}; includes the whole corpus in memory)",
        memory("VmRSS:"),
        memory("VmHWM:"),
        if tally.model_loaded { "model loaded" } else { "no model loaded" }
    )?;
    let measured = std::env::current_exe().and_then(|exe| {
        let dir = tempfile::tempdir()?;
        crate::bench_server::measure(&exe, dir.path(), args.model.as_deref(), MEMORY_PROBE_PROGRAM)
    });
    match measured {
        Ok(m) => writeln!(
            out,
            "language server memory (pencil-lsp over stdio, {}, after a failing run and its code actions): VmRSS {:.0} MB, peak VmHWM {:.0} MB",
            if tally.model_loaded { "model loaded" } else { "no model" },
            m.rss_mb,
            m.hwm_mb
        )?,
        Err(e) => writeln!(out, "language server memory: not measured ({e})")?,
    }
    Ok(())
}

/// The failing program the memory measurement runs (a misspelled command).
const MEMORY_PROBE_PROGRAM: &str = "pen red\nfd 100\nrt 90\nfdd 50\n";

/// A memory line (`VmRSS:`, `VmHWM:`) of this process, from /proc (Linux).
fn resident_memory(key: &str) -> Option<String> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with(key))?;
    let kb: f64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(format!("{:.0} MB", kb / 1024.0))
}
