//! Train/test splits as in the paper: hold out a fraction of students and of
//! titles, train on 80% of the remaining (student, title) pairs, and test on
//! four splits (seen/unseen student x seen/unseen title). A validation split
//! for early stopping is carved, half and half, out of the seen/seen rest.

use std::collections::{BTreeMap, BTreeSet};

use pencil_core::model::rng::SplitMix64;
use serde::{Deserialize, Serialize};

/// Which split a (student, title) pair belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Split {
    /// Training pairs.
    Train,
    /// Early-stopping pairs (seen students, seen titles, not in training).
    Validation,
    /// Test: students and titles both seen in training.
    SeenStudentSeenTitle,
    /// Test: seen students, titles never trained on.
    SeenStudentUnseenTitle,
    /// Test: students never trained on, seen titles.
    UnseenStudentSeenTitle,
    /// Test: neither seen.
    UnseenStudentUnseenTitle,
}

impl Split {
    /// Every split.
    pub const ALL: [Split; 6] = [
        Split::Train,
        Split::Validation,
        Split::SeenStudentSeenTitle,
        Split::SeenStudentUnseenTitle,
        Split::UnseenStudentSeenTitle,
        Split::UnseenStudentUnseenTitle,
    ];

    /// File-name stem of the split.
    pub fn name(self) -> &'static str {
        match self {
            Split::Train => "train",
            Split::Validation => "validation",
            Split::SeenStudentSeenTitle => "seen_student_seen_title",
            Split::SeenStudentUnseenTitle => "seen_student_unseen_title",
            Split::UnseenStudentSeenTitle => "unseen_student_seen_title",
            Split::UnseenStudentUnseenTitle => "unseen_student_unseen_title",
        }
    }
}

/// Split fractions and seed.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SplitConfig {
    /// Fraction of students held out entirely (paper: 2%).
    pub holdout_students: f64,
    /// Fraction of titles held out entirely (paper: 2%).
    pub holdout_titles: f64,
    /// Fraction of the remaining pairs used for training (paper: 80%).
    pub train_fraction: f64,
    /// Seed.
    pub seed: u64,
}

impl Default for SplitConfig {
    fn default() -> Self {
        SplitConfig { holdout_students: 0.02, holdout_titles: 0.02, train_fraction: 0.8, seed: 0 }
    }
}

/// The assignment of every (student, title) pair.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Splits {
    /// Split of each (student, title).
    pub assignment: BTreeMap<(String, String), Split>,
    /// Students with at least one training pair.
    pub seen_students: BTreeSet<String>,
    /// Titles with at least one training pair.
    pub seen_titles: BTreeSet<String>,
}

impl Splits {
    /// Pairs of one split, sorted.
    pub fn pairs(&self, split: Split) -> Vec<&(String, String)> {
        self.assignment.iter().filter(|(_, s)| **s == split).map(|(k, _)| k).collect()
    }
}

/// Samples `floor(frac * n)` items (at least one when `frac > 0` and there are
/// two or more, so the unseen splits exist on small corpora).
fn sample(items: &BTreeSet<String>, frac: f64, rng: &mut SplitMix64) -> BTreeSet<String> {
    let mut v: Vec<&String> = items.iter().collect();
    rng.shuffle(&mut v);
    let mut k = (frac * v.len() as f64) as usize;
    if k == 0 && frac > 0.0 && v.len() >= 2 {
        k = 1;
    }
    v.into_iter().take(k).cloned().collect()
}

/// Assigns every pair to a split, deterministically from the seed.
pub fn make_splits(pairs: &BTreeSet<(String, String)>, cfg: &SplitConfig) -> Splits {
    let mut rng = SplitMix64::for_purpose(cfg.seed, "splits");
    let students: BTreeSet<String> = pairs.iter().map(|(s, _)| s.clone()).collect();
    let titles: BTreeSet<String> = pairs.iter().map(|(_, t)| t.clone()).collect();
    let held_students = sample(&students, cfg.holdout_students, &mut rng);
    let held_titles = sample(&titles, cfg.holdout_titles, &mut rng);
    let mut rest: Vec<&(String, String)> =
        pairs.iter().filter(|(s, t)| !held_students.contains(s) && !held_titles.contains(t)).collect();
    rng.shuffle(&mut rest);
    let n_train = (cfg.train_fraction * rest.len() as f64).round() as usize;
    let train: BTreeSet<&(String, String)> = rest.iter().take(n_train).copied().collect();
    let seen_students: BTreeSet<String> = train.iter().map(|(s, _)| s.clone()).collect();
    let seen_titles: BTreeSet<String> = train.iter().map(|(_, t)| t.clone()).collect();
    let mut assignment = BTreeMap::new();
    let mut seen_seen = Vec::new();
    for pair in pairs {
        let split = if train.contains(pair) {
            Split::Train
        } else {
            match (seen_students.contains(&pair.0), seen_titles.contains(&pair.1)) {
                (true, true) => {
                    seen_seen.push(pair.clone());
                    continue;
                }
                (true, false) => Split::SeenStudentUnseenTitle,
                (false, true) => Split::UnseenStudentSeenTitle,
                (false, false) => Split::UnseenStudentUnseenTitle,
            }
        };
        assignment.insert(pair.clone(), split);
    }
    rng.shuffle(&mut seen_seen);
    let n_val = seen_seen.len() / 2;
    for (i, pair) in seen_seen.into_iter().enumerate() {
        assignment.insert(pair, if i < n_val { Split::Validation } else { Split::SeenStudentSeenTitle });
    }
    Splits { assignment, seen_students, seen_titles }
}
