//! Choosing the "strong student" (the paper's §J): among training students
//! with more than 20 traces, the one with the lowest mean goal-backtracking
//! ratio. When no student has that many traces (a small corpus), the bar is
//! lowered to the most traces that at least `MIN_CANDIDATES` students reach,
//! and the manifest records the rule actually applied.

use std::collections::{BTreeMap, HashSet};
use std::path::PathBuf;

use pencil_core::corpus::{read_corpus, ReadOptions};
use pencil_core::inference::manifest::StrongStudent;
use pencil_core::metrics::edit_distance::distances_to;
use pencil_core::metrics::trace_metrics::backtracking_ratio;
use pencil_core::Trace;

/// The paper's bar: more than this many traces.
pub const PAPER_MIN_TRACES: usize = 20;
/// Students the lowered bar must leave, so the choice is still a choice.
const MIN_CANDIDATES: usize = 5;

/// Goal-backtracking ratio of one trace (consecutive duplicates collapsed).
pub fn trace_backtracking(trace: &Trace) -> f64 {
    let t = trace.collapsed();
    let programs: Vec<&str> = t.codes().collect();
    match programs.split_last() {
        Some((last, earlier)) if !earlier.is_empty() => backtracking_ratio(&distances_to(earlier, last)),
        _ => 0.0,
    }
}

/// Picks the strong student from per-student traces (`rows` maps a student
/// to its table row; only students with a row count).
pub fn choose<'a>(traces: impl IntoIterator<Item = &'a Trace>, rows: &dyn Fn(&str) -> u32) -> Option<StrongStudent> {
    let mut by_student: BTreeMap<&str, Vec<&Trace>> = BTreeMap::new();
    for t in traces {
        if rows(&t.student) > 0 {
            by_student.entry(t.student.as_str()).or_default().push(t);
        }
    }
    let mut counts: Vec<usize> = by_student.values().map(Vec::len).collect();
    counts.sort_unstable_by(|a, b| b.cmp(a));
    let bar = if counts.first().is_some_and(|&c| c > PAPER_MIN_TRACES) {
        PAPER_MIN_TRACES
    } else {
        // The count the MIN_CANDIDATES-th busiest student reaches, minus one (so "more than bar").
        counts.get(MIN_CANDIDATES.min(counts.len()).checked_sub(1)?).copied()?.saturating_sub(1)
    };
    let rule = if bar == PAPER_MIN_TRACES {
        format!("lowest mean goal backtracking among training students with more than {PAPER_MIN_TRACES} traces (paper §J)")
    } else {
        format!(
            "lowest mean goal backtracking among training students with more than {bar} traces (no student has more than {PAPER_MIN_TRACES}; bar lowered to keep at least {MIN_CANDIDATES} candidates)"
        )
    };
    by_student
        .into_iter()
        .filter(|(_, ts)| ts.len() > bar)
        .map(|(student, ts)| {
            let mean = ts.iter().map(|t| trace_backtracking(t)).sum::<f64>() / ts.len() as f64;
            (student, ts.len(), mean)
        })
        // Lowest mean; ties to more traces, then to the id.
        .min_by(|a, b| a.2.total_cmp(&b.2).then(b.1.cmp(&a.1)).then(a.0.cmp(b.0)))
        .map(|(student, n, mean)| StrongStudent {
            row: rows(student),
            student: student.to_string(),
            mean_goal_backtracking: mean,
            n_traces: n,
            rule: rule.clone(),
        })
}

/// Reads the corpus files and keeps the training traces: those of students
/// with a table row, and of training (student, title) pairs when known.
pub fn training_traces(
    files: &[PathBuf],
    rows: &dyn Fn(&str) -> u32,
    train_pairs: Option<&HashSet<(String, String)>>,
    progress: &indicatif::ProgressBar,
) -> anyhow::Result<Vec<Trace>> {
    let mut out = Vec::new();
    for f in files {
        progress.set_message(format!("reading {}", f.display()));
        let corpus = read_corpus(f, ReadOptions { skip_bad: true })?;
        for t in corpus.traces {
            let in_train = train_pairs.is_none_or(|p| p.contains(&(t.student.clone(), t.title.clone())));
            if in_train && rows(&t.student) > 0 && !t.programs.is_empty() {
                out.push(t);
            }
        }
        progress.inc(1);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use pencil_core::{ProgramState, Provenance};

    fn trace(student: &str, codes: &[&str]) -> Trace {
        Trace {
            student: student.into(),
            title: format!("t{}", codes.len()),
            programs: codes
                .iter()
                .enumerate()
                .map(|(i, c)| ProgramState { n: i as u32 + 1, time: "2019-05-09 16:18:59".into(), code: (*c).into() })
                .collect(),
            eos: true,
            provenance: Provenance::default(),
        }
    }

    #[test]
    fn backtracking_counts_steps_away_from_the_goal() {
        // Distances to "fd 100\n": a step towards, then away.
        let t = trace("s", &["fd 1\n", "fd 100\nrt 9\n", "xxxxxxxxxxxxxxxxxxxxxx\n", "fd 100\n"]);
        let r = trace_backtracking(&t);
        assert!(r > 0.0 && r < 1.0, "{r}");
        assert_eq!(trace_backtracking(&trace("s", &["fd 1\n"])), 0.0);
    }

    #[test]
    fn picks_the_lowest_mean_among_busy_students_and_lowers_the_bar_when_needed() {
        let steady = ["fd 1\n", "fd 10\n", "fd 100\n"];
        let wobbly = ["fd 100\n", "zzzzzzzzzzzzzzzzzzzzzzzzz\n", "fd 100\n"];
        let mut ts = Vec::new();
        for _ in 0..21 {
            ts.push(trace("busy_wobbly", &wobbly));
            ts.push(trace("busy_steady", &steady));
        }
        for _ in 0..3 {
            ts.push(trace("rare_steady", &steady));
        }
        let rows = |s: &str| match s {
            "busy_wobbly" => 1,
            "busy_steady" => 2,
            "rare_steady" => 3,
            _ => 0,
        };
        let s = choose(&ts, &rows).expect("a student");
        assert_eq!((s.student.as_str(), s.row, s.n_traces), ("busy_steady", 2, 21));
        assert!(s.rule.contains("more than 20"));

        // Nobody above 20: the bar drops to what the 5th busiest reaches.
        let few: Vec<Trace> = (0..6).flat_map(|i| (0..=i).map(move |_| trace(["a", "b", "c", "d", "e", "f"][i], &steady))).collect();
        let rows2 = |s: &str| if s.len() == 1 { 1 } else { 0 };
        let s = choose(&few, &rows2).expect("a student");
        assert!(s.n_traces >= 2 && s.rule.contains("bar lowered"), "{s:?}");
    }
}
