//! The hand-feature baseline: what a rule-based coach could see in a prefix
//! without a model (failed runs, how many states, edit sizes, time gaps,
//! program length). Failures come from running every program in the sandbox.

use std::collections::HashMap;

use pencil_core::metrics::edit_distance::sequential_distances_chars;
use pencil_core::Trace;
use pencil_sandbox::{Sandbox, SandboxError};

/// Names of the hand features, in the order [`hand_features`] writes them.
pub const HAND_FEATURE_NAMES: [&str; 8] = [
    "failures_so_far",
    "current_program_fails",
    "states_so_far",
    "ln1p_last_edit_size",
    "ln1p_mean_edit_size",
    "ln1p_last_time_gap_s",
    "ln1p_mean_time_gap_s",
    "ln1p_program_length",
];

/// Per-state facts of one trace that the hand features of its prefixes read.
#[derive(Debug, Clone, PartialEq)]
pub struct TraceFacts {
    /// Whether state i fails by the paper's rule (`!paper_success`).
    pub fails: Vec<bool>,
    /// Edit distance between states i and i+1.
    pub edit_sizes: Vec<usize>,
    /// Seconds between states i and i+1 (0 when a timestamp does not parse or goes back).
    pub time_gaps: Vec<f64>,
    /// Length of state i in characters.
    pub lengths: Vec<usize>,
}

impl TraceFacts {
    /// Facts of the first `upto` states of `trace`, `fails` given.
    pub fn new(trace: &Trace, upto: usize, fails: Vec<bool>) -> Self {
        let programs = &trace.programs[..upto.min(trace.programs.len())];
        let chars: Vec<Vec<char>> = programs.iter().map(|p| p.code.chars().collect()).collect();
        let time_gaps = programs
            .windows(2)
            .map(|w| match (w[0].unix_seconds(), w[1].unix_seconds()) {
                (Some(a), Some(b)) if b > a => (b - a) as f64,
                _ => 0.0,
            })
            .collect();
        TraceFacts { fails, edit_sizes: sequential_distances_chars(&chars), time_gaps, lengths: chars.iter().map(Vec::len).collect() }
    }
}

fn mean(v: &[f64]) -> f64 {
    if v.is_empty() {
        0.0
    } else {
        v.iter().sum::<f64>() / v.len() as f64
    }
}

/// The hand features of prefix `k` (states `0..k`), named by [`HAND_FEATURE_NAMES`].
pub fn hand_features(facts: &TraceFacts, k: usize) -> Vec<f32> {
    let fails = &facts.fails[..k];
    let edits: Vec<f64> = facts.edit_sizes[..k - 1].iter().map(|&e| e as f64).collect();
    let gaps = &facts.time_gaps[..k - 1];
    let values = [
        fails.iter().filter(|&&f| f).count() as f64,
        if fails[k - 1] { 1.0 } else { 0.0 },
        k as f64,
        edits.last().copied().unwrap_or(0.0).ln_1p(),
        mean(&edits).ln_1p(),
        gaps.last().copied().unwrap_or(0.0).ln_1p(),
        mean(gaps).ln_1p(),
        (facts.lengths[k - 1] as f64).ln_1p(),
    ];
    values.iter().map(|&v| v as f32).collect()
}

/// Sandbox verdicts ("fails") of programs, each distinct program run once.
pub struct FailureOracle {
    sandbox: Sandbox,
    seen: HashMap<String, bool>,
}

impl FailureOracle {
    /// Wraps a sandbox.
    pub fn new(sandbox: Sandbox) -> Self {
        FailureOracle { sandbox, seen: HashMap::new() }
    }

    /// Whether `code` fails by the paper's rule.
    pub fn fails(&mut self, code: &str) -> Result<bool, SandboxError> {
        if let Some(&f) = self.seen.get(code) {
            return Ok(f);
        }
        let f = !self.sandbox.check(code)?.paper_success;
        self.seen.insert(code.to_string(), f);
        Ok(f)
    }

    /// Distinct programs checked so far.
    pub fn checked(&self) -> usize {
        self.seen.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use pencil_core::{ProgramState, Provenance};

    fn trace(states: &[(&str, &str)]) -> Trace {
        Trace {
            student: "s".into(),
            title: "t".into(),
            programs: states
                .iter()
                .enumerate()
                .map(|(i, (time, code))| ProgramState { n: i as u32 + 1, time: (*time).into(), code: (*code).into() })
                .collect(),
            eos: true,
            provenance: Provenance::default(),
        }
    }

    #[test]
    fn features_of_a_hand_made_prefix() {
        let t = trace(&[
            ("2019-05-09 16:00:00", "pen red\n"),
            ("2019-05-09 16:00:09", "pen red\nfd 50\n"),
            ("2019-05-09 16:01:09", "pen blue\nfd 100\n"),
            ("2019-05-09 16:02:00", "pen red\nfd 100\nrt 90\n"),
        ]);
        let facts = TraceFacts::new(&t, 3, vec![false, true, false]);
        assert_eq!(facts.time_gaps, vec![9.0, 60.0]);
        assert_eq!(facts.lengths, vec![8, 14, 16]);
        let f = hand_features(&facts, 3);
        assert_eq!(f.len(), HAND_FEATURE_NAMES.len());
        assert_eq!(&f[..3], &[1.0, 0.0, 3.0]);
        let (e0, e1) = (facts.edit_sizes[0] as f64, facts.edit_sizes[1] as f64);
        assert!(e0 > 0.0 && e1 > 0.0);
        assert!((f64::from(f[3]) - e1.ln_1p()).abs() < 1e-6);
        assert!((f64::from(f[4]) - ((e0 + e1) / 2.0).ln_1p()).abs() < 1e-6);
        assert!((f64::from(f[5]) - 60f64.ln_1p()).abs() < 1e-5);
        assert!((f64::from(f[6]) - 34.5f64.ln_1p()).abs() < 1e-5);
        // The first prefix has no edit and no gap yet.
        let f1 = hand_features(&facts, 1);
        assert_eq!(&f1[..6], &[0.0, 0.0, 1.0, 0.0, 0.0, 0.0]);
    }
}
