//! `pencil-lsp bench --recovery`: how well the quick fixes recover from errors the
//! rules were not written from. The public titles are split in two by a seeded hash
//! (a "tune" half to write rules on, a "held-out" half to report); on each half it
//! runs, through the same pipeline the editor's Run and code action use:
//! - failing programs of the public traces, with the student's final program (when
//!   it runs) as the target, and also the trace's next state that runs (the
//!   student's own recovery, often many fewer edits away than the final program);
//! - student-like mistakes planted in programs the real runtime ran
//!   (`shared/data/oracle`), each kept only if the sandbox fails it, with the
//!   original as the target.
//!
//! Per error kind and overall it reports the share with a fix that runs, the share
//! whose first fix restores the target exactly, the share whose first fix moves
//! toward it (edit distance decreases), the median lines the first fix touches, and
//! p50/p90 time to the first fix (run + fix search).

use super::mutants::{seeded_hash, MutantKind, SplitMix};
use super::{lines_touched, percentile, BenchArgs, BenchError};
use crate::checker::Checker;
use crate::coach::Coach;
use crate::fixes::{deleted_lines, program_distance, Outcome};
use crate::pipeline::{self, RunInput, Services};
use crate::store::{StoreHandle, Trigger};
use indicatif::{ProgressBar, ProgressStyle};
use pencil_core::corpus::{read_corpus, Corpus, ReadOptions};
use pencil_sandbox::Status;
use std::collections::{BTreeMap, BTreeSet};
use std::io::{BufRead, Write};
use std::path::Path;

/// Which half of the title split.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Half {
    /// Rules are written and tuned on these titles.
    Tune,
    /// Reported only.
    HeldOut,
}

impl Half {
    fn as_str(self) -> &'static str {
        match self {
            Half::Tune => "tune",
            Half::HeldOut => "held-out",
        }
    }
}

/// The seeded split of titles: each title's FNV-1a hash with the seed, sorted; the
/// first half (rounded up) is the tune half.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Split {
    /// The seed.
    pub seed: u64,
    /// Titles rules may be tuned on.
    pub tune: BTreeSet<String>,
    /// Titles reported only.
    pub held_out: BTreeSet<String>,
}

impl Split {
    /// Splits `titles` in two with `seed`.
    pub fn new<'a>(titles: impl IntoIterator<Item = &'a str>, seed: u64) -> Split {
        let distinct: BTreeSet<&str> = titles.into_iter().collect();
        let mut ordered: Vec<&str> = distinct.into_iter().collect();
        ordered.sort_by_key(|t| (seeded_hash(seed, t), *t));
        let cut = ordered.len().div_ceil(2);
        Split {
            seed,
            tune: ordered[..cut].iter().map(|t| t.to_string()).collect(),
            held_out: ordered[cut..].iter().map(|t| t.to_string()).collect(),
        }
    }

    /// The half a title belongs to; a title the corpus does not have goes by its hash.
    pub fn half(&self, title: &str) -> Half {
        if self.tune.contains(title) {
            Half::Tune
        } else if self.held_out.contains(title) {
            Half::HeldOut
        } else if seeded_hash(self.seed, title).is_multiple_of(2) {
            Half::Tune
        } else {
            Half::HeldOut
        }
    }
}

/// One failing program with where the student was going.
#[derive(Debug, Clone)]
struct Case {
    half: Half,
    /// Row label: the mutation, or the corpus error's kind.
    kind: String,
    student: String,
    title: String,
    /// The title's earlier states (oldest first), recorded before the failing one.
    history: Vec<String>,
    code: String,
    target: String,
    /// The student's own recovery: the trace's next state that runs (for a
    /// mutant, the original again). A nearer target than the final program,
    /// which can lie many edits past the failing state.
    next: String,
}

#[derive(Debug, Default, Clone)]
struct Row {
    n: usize,
    offered: usize,
    runs: usize,
    exact: usize,
    toward: usize,
    /// Against [`Case::next`].
    exact_next: usize,
    toward_next: usize,
    deletes: usize,
    lines: Vec<usize>,
    first_ms: Vec<f64>,
    /// Cases where the model put another fix first than the rules alone would.
    model_changed: usize,
    /// The same counts for the rules' own first fix (the model's ranking undone).
    rules_exact: usize,
    rules_toward: usize,
    rules_exact_next: usize,
}

impl Row {
    fn add(&mut self, other: &Row) {
        self.n += other.n;
        self.offered += other.offered;
        self.runs += other.runs;
        self.exact += other.exact;
        self.toward += other.toward;
        self.exact_next += other.exact_next;
        self.toward_next += other.toward_next;
        self.deletes += other.deletes;
        self.lines.extend(&other.lines);
        self.first_ms.extend(&other.first_ms);
        self.model_changed += other.model_changed;
        self.rules_exact += other.rules_exact;
        self.rules_toward += other.rules_toward;
        self.rules_exact_next += other.rules_exact_next;
    }
}

/// One oracle label (only the fields the benchmark reads).
#[derive(serde::Deserialize)]
struct Label {
    id: String,
    code: String,
    title: String,
    success: bool,
}

fn read_labels(path: &Path) -> Result<Vec<Label>, BenchError> {
    let file = std::fs::File::open(path)?;
    let reader = std::io::BufReader::new(flate2::read::GzDecoder::new(file));
    let mut out = Vec::new();
    for line in reader.lines() {
        let line = line?;
        if line.trim().is_empty() {
            continue;
        }
        let label: Label = serde_json::from_str(&line).map_err(|e| std::io::Error::new(std::io::ErrorKind::InvalidData, e))?;
        out.push(label);
    }
    Ok(out)
}

fn fails(checker: &Checker, code: &str) -> bool {
    // A trailing newline keeps this check out of the compile cache of the timed run.
    checker.check_blocking(&format!("{code}\n")).is_ok_and(|v| v.status == Status::Error)
}

fn runs(checker: &Checker, code: &str) -> bool {
    checker.check_blocking(&format!("{code}\n")).is_ok_and(|v| v.status != Status::Error)
}

/// Failing states of corpus traces (not their last), one per trace, with the final
/// program as the target when it runs: at most `limit` per half.
fn corpus_cases(args: &BenchArgs, corpus: &Corpus, split: &Split, checker: &Checker) -> Vec<Case> {
    let mut order: Vec<usize> = (0..corpus.traces.len()).collect();
    order.sort_by_key(|&i| seeded_hash(split.seed, &format!("trace {i}")));
    let mut out = Vec::new();
    let mut taken: BTreeMap<Half, usize> = BTreeMap::new();
    let mut rng = SplitMix(split.seed);
    for i in order {
        let trace = &corpus.traces[i];
        let half = split.half(&trace.title);
        if taken.get(&half).copied().unwrap_or(0) >= args.limit || trace.programs.len() < 2 {
            if taken.values().all(|&n| n >= args.limit) && taken.len() == 2 {
                break;
            }
            continue;
        }
        let target = &trace.programs[trace.programs.len() - 1].code;
        if !runs(checker, target) {
            continue;
        }
        let failing: Vec<usize> = (0..trace.programs.len() - 1)
            .filter(|&k| !same_program(&trace.programs[k].code, target) && fails(checker, &trace.programs[k].code))
            .collect();
        let Some(k) = rng.pick(&failing) else { continue };
        let code = trace.programs[k].code.clone();
        // The final program runs, so some later state does.
        let next = trace.programs[k + 1..].iter().map(|p| &p.code).find(|c| runs(checker, c)).unwrap_or(target).clone();
        let kind = checker
            .check_blocking(&format!("{code}\n"))
            .ok()
            .and_then(|v| v.error)
            .map_or_else(|| "Error".to_string(), |e| e.kind);
        *taken.entry(half).or_default() += 1;
        out.push(Case {
            half,
            kind: format!("corpus {kind}"),
            student: format!("{}#{i}", trace.student),
            title: trace.title.clone(),
            history: trace.programs[..k].iter().map(|p| p.code.clone()).collect(),
            code,
            target: target.clone(),
            next,
        });
    }
    out
}

/// Mutants of oracle programs that ran: for each half and kind at most `per_kind`,
/// each from a different program where possible, failing in the sandbox.
fn mutant_cases(args: &BenchArgs, split: &Split, checker: &Checker) -> Result<(Vec<Case>, usize), BenchError> {
    let mut labels: Vec<Label> = read_labels(&args.oracle)?.into_iter().filter(|l| l.success).collect();
    let ran = labels.len();
    labels.sort_by_key(|l| (seeded_hash(split.seed, &l.id), l.id.clone()));
    let mut out = Vec::new();
    for half in [Half::Tune, Half::HeldOut] {
        let programs: Vec<&Label> = labels.iter().filter(|l| split.half(&l.title) == half).collect();
        for kind in MutantKind::ALL {
            let mut kept = 0;
            let mut seen = BTreeSet::new();
            for label in &programs {
                if kept >= args.mutants_per_kind {
                    break;
                }
                let seed = seeded_hash(split.seed, &format!("{} {}", label.id, kind.as_str()));
                let Some(mutant) = kind.apply(&label.code, seed) else { continue };
                if !seen.insert(mutant.clone()) || !fails(checker, &mutant) {
                    continue;
                }
                kept += 1;
                out.push(Case {
                    half,
                    kind: kind.as_str().to_string(),
                    student: format!("mutant {} {}", label.id, kind.as_str()),
                    title: label.title.clone(),
                    history: Vec::new(),
                    code: mutant,
                    target: label.code.clone(),
                    next: label.code.clone(),
                });
            }
        }
    }
    Ok((out, ran))
}

/// Runs the recovery benchmark and writes its report.
pub fn bench_recovery(args: &BenchArgs, out: &mut dyn Write) -> Result<(), BenchError> {
    let checker = Checker::start(crate::checker::student_sandbox_config())?;
    let corpus = read_corpus(&args.corpus, ReadOptions { skip_bad: true })?;
    let split = Split::new(corpus.traces.iter().map(|t| t.title.as_str()), args.seed);
    writeln!(out, "recovery bench: split seed {} over the titles of {}", split.seed, args.corpus.display())?;
    writeln!(out, "  tune ({}): {}", split.tune.len(), split.tune.iter().cloned().collect::<Vec<_>>().join(" "))?;
    writeln!(out, "  held-out ({}): {}", split.held_out.len(), split.held_out.iter().cloned().collect::<Vec<_>>().join(" "))?;
    let mut cases = corpus_cases(args, &corpus, &split, &checker);
    drop(corpus);
    let (mutants, ran) = mutant_cases(args, &split, &checker)?;
    writeln!(
        out,
        "  cases: {} corpus failing programs (<= {} per half; target: the trace's final program, which runs), {} failing mutants (<= {} per kind and half) of the {ran} oracle programs that ran",
        cases.len(),
        args.limit,
        mutants.len(),
        args.mutants_per_kind
    )?;
    cases.extend(mutants);

    let dir = tempfile::tempdir()?;
    let (store, _) = StoreHandle::open(dir.path())?;
    // The quick fixes of a run are rule-based; with a model, it orders the ones the
    // rules cannot tell apart (the model's own "Fix in my style" comes on request).
    let coach = match &args.model {
        Some(dir) => {
            let coach = Coach::open(dir);
            if let Some(problem) = coach.missing_message() {
                return Err(BenchError::Model(problem));
            }
            writeln!(out, "  model: {} orders the fixes the rules cannot tell apart", dir.display())?;
            coach
        }
        None => {
            writeln!(out, "  model: none (rules and trace only; --model DIR adds the model's ranking)")?;
            Coach::unavailable("the recovery bench was given no model")
        }
    };
    let services = Services { store: Some(store), checker: Some(checker), coach };
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
    // Warm the store and the sandbox so the first case is not an outlier of start-up.
    for case in cases.iter().take(3) {
        runtime.block_on(pipeline::run(&services, input("warmup", &case.title, &case.code, 0)));
    }
    let bar = ProgressBar::new(cases.len() as u64);
    bar.set_style(ProgressStyle::with_template("{bar:40} {pos}/{len} cases {elapsed}").unwrap_or_else(|_| ProgressStyle::default_bar()));
    // (half, source: 0 corpus / 1 mutants, kind) -> row
    let mut rows: BTreeMap<(Half, u8, String), Row> = BTreeMap::new();
    let mut unfixed = match &args.unfixed {
        Some(path) => Some(std::io::BufWriter::new(std::fs::File::create(path)?)),
        None => None,
    };
    for case in &cases {
        bar.inc(1);
        if let Some(store) = &services.store {
            for (n, code) in case.history.iter().enumerate() {
                let (s, t, c) = (case.student.clone(), case.title.clone(), code.clone());
                let time = replay_time(n);
                let _ = runtime.block_on(store.call(move |db| db.record_state(&s, &t, &c, &time, Trigger::Replay)));
            }
        }
        let outcome = runtime.block_on(pipeline::run(&services, input(&case.student, &case.title, &case.code, case.history.len())));
        let source = u8::from(!case.kind.starts_with("corpus"));
        let row = rows.entry((case.half, source, case.kind.clone())).or_default();
        row.n += 1;
        let any_runs = outcome.fixes.iter().any(|f| f.outcome == Outcome::Runs);
        let away = outcome.fixes.first().is_some_and(|f| !case.toward(&f.fix.new_code, &case.target));
        let deletes = outcome.fixes.first().is_some_and(|f| !deleted_lines(&case.code, &f.fix.new_code).is_empty());
        let not_next = outcome.fixes.first().is_some_and(|f| !same_program(&f.fix.new_code, &case.next));
        if let Some(file) = unfixed.as_mut().filter(|_| !any_runs || away || deletes || not_next) {
            let error = outcome.verdict.as_ref().and_then(|v| v.error.clone());
            let first = outcome.fixes.first().map(|f| f.fix.new_code.clone());
            let why = if !any_runs {
                "no running fix"
            } else if away {
                "first fix does not move toward the target"
            } else if deletes {
                "first fix deletes a line"
            } else {
                "first fix is not the student's next state that runs"
            };
            let next_rank = outcome.fixes.iter().position(|f| same_program(&f.fix.new_code, &case.next));
            let others: Vec<&str> = outcome.fixes.iter().skip(1).map(|f| f.fix.title.as_str()).collect();
            let record = serde_json::json!({ "half": case.half.as_str(), "kind": case.kind, "why": why, "error": error, "code": case.code, "target": case.target, "next": case.next, "first_fix": first, "first_title": outcome.fixes.first().map(|f| f.fix.title.clone()), "other_fixes": others, "history": case.history.iter().rev().take(3).collect::<Vec<_>>(), "next_rank": next_rank });
            writeln!(file, "{record}")?;
        }
        let Some(first) = outcome.fixes.first() else { continue };
        row.offered += 1;
        row.runs += usize::from(outcome.fixes.iter().any(|f| f.outcome == Outcome::Runs));
        row.exact += usize::from(same_program(&first.fix.new_code, &case.target));
        row.toward += usize::from(case.toward(&first.fix.new_code, &case.target));
        row.exact_next += usize::from(same_program(&first.fix.new_code, &case.next));
        row.toward_next += usize::from(case.toward(&first.fix.new_code, &case.next));
        row.deletes += usize::from(!deleted_lines(&case.code, &first.fix.new_code).is_empty());
        row.lines.push(lines_touched(&case.code, &first.fix.new_code));
        let rules_first = outcome.rules_first.as_deref().unwrap_or(&first.fix.new_code);
        row.model_changed += usize::from(outcome.rules_first.is_some());
        row.rules_exact += usize::from(same_program(rules_first, &case.target));
        row.rules_toward += usize::from(case.toward(rules_first, &case.target));
        row.rules_exact_next += usize::from(same_program(rules_first, &case.next));
        row.first_ms.push(outcome.timings.run_ms + outcome.timings.fixes_ms);
    }
    bar.finish_and_clear();
    report(out, &rows)
}

/// Two programs the same but for trailing whitespace.
fn same_program(a: &str, b: &str) -> bool {
    a.trim_end() == b.trim_end()
}

impl Case {
    /// Whether `fixed` is closer to `target` than the case's failing program (edit distance).
    fn toward(&self, fixed: &str, target: &str) -> bool {
        program_distance(fixed, target) < program_distance(&self.code, target)
    }
}

/// The replayed `n`-th state's time (from 0): a second after the one before, as
/// a student fixing slips runs again, so the model reads a plausible trace.
fn replay_time(n: usize) -> String {
    format!("2020-01-01 {:02}:{:02}:{:02}", (n / 3600) % 24, (n / 60) % 60, n % 60)
}

fn input(student: &str, title: &str, code: &str, n: usize) -> RunInput {
    RunInput {
        student: student.to_string(),
        title: title.to_string(),
        code: code.to_string(),
        time: replay_time(n),
        trigger: Trigger::Replay,
        quick_fixes: true,
    }
}

fn report(out: &mut dyn Write, rows: &BTreeMap<(Half, u8, String), Row>) -> Result<(), BenchError> {
    writeln!(
        out,
        "columns: n | offered a fix | a fix runs | first fix restores the target exactly | first fix moves toward the target (edit distance) | the same two against the trace's next state that runs (the student's own recovery; for mutants the original) | first fix deletes a line | median lines touched | time to first fix p50 / p90 (run + fix search)"
    )?;
    for half in [Half::Tune, Half::HeldOut] {
        writeln!(out, "== {} half", half.as_str())?;
        for (source, name) in [(0u8, "corpus failing programs -> the student's final program"), (1, "mutants of programs that ran -> the original")] {
            writeln!(out, "  {name}")?;
            let mut all = Row::default();
            for ((h, s, kind), row) in rows {
                if *h != half || *s != source {
                    continue;
                }
                all.add(row);
                line(out, kind, row)?;
            }
            line(out, "ALL", &all)?;
        }
    }
    Ok(())
}

fn line(out: &mut dyn Write, label: &str, row: &Row) -> std::io::Result<()> {
    let pct = |k: usize| if row.n == 0 { 0.0 } else { 100.0 * k as f64 / row.n as f64 };
    let mut lines = row.lines.clone();
    lines.sort_unstable();
    let mut ms = row.first_ms.clone();
    ms.sort_by(f64::total_cmp);
    let median = lines.get(lines.len() / 2).map_or("-".to_string(), |m| m.to_string());
    writeln!(
        out,
        "    {label:<28} n {:>4} | offered {:>5.1}% | runs {:>5.1}% | exact {:>5.1}% | toward {:>5.1}% | next state: exact {:>5.1}%, toward {:>5.1}% | deletes {:>5.1}% | lines {median:>2} | first fix p50 {:>6.1} ms, p90 {:>6.1} ms",
        row.n,
        pct(row.offered),
        pct(row.runs),
        pct(row.exact),
        pct(row.toward),
        pct(row.exact_next),
        pct(row.toward_next),
        pct(row.deletes),
        percentile(&ms, 50.0),
        percentile(&ms, 90.0),
    )?;
    if row.model_changed > 0 {
        writeln!(
            out,
            "    {:<28} the model changed the first fix in {} | by the rules alone: exact {:>5.1}% | toward {:>5.1}% | next state exact {:>5.1}%",
            "",
            row.model_changed,
            pct(row.rules_exact),
            pct(row.rules_toward),
            pct(row.rules_exact_next),
        )?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_split_is_seeded_balanced_and_total() {
        let titles = ["car", "boat", "name", "house", "flower"];
        let a = Split::new(titles, 21);
        assert_eq!(a, Split::new(titles.iter().rev().copied(), 21));
        assert_eq!((a.tune.len(), a.held_out.len()), (3, 2));
        assert!(a.tune.is_disjoint(&a.held_out));
        assert!(titles.iter().all(|t| a.tune.contains(*t) || a.held_out.contains(*t)));
        let other = (0..50).map(|s| Split::new(titles, s)).filter(|s| s.tune != a.tune).count();
        assert!(other > 0, "the seed changes the split");
        assert_eq!(a.half("car"), if a.tune.contains("car") { Half::Tune } else { Half::HeldOut });
    }
}
