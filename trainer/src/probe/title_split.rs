//! The probe's train/test split: by title, never by trace, so the test set
//! asks whether the probe generalises to assignments it has not seen.
//!
//! Test titles are first the ones the trace model never trained on (the
//! dataset's unseen-title splits in `splits.json`); when those give too few
//! test examples, a seeded random 20% of the other titles joins them.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use anyhow::Context;
use pencil_core::model::rng::SplitMix64;
use serde::Serialize;

use crate::dataset::read_json;
use crate::splits::Split;

/// Share of the other titles added to the test set when it is too small.
pub const ADDED_TITLE_FRACTION: f64 = 0.2;

/// Titles a dataset knows, from its `splits.json`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DatasetTitles {
    /// Every title of every split.
    pub known: BTreeSet<String>,
    /// Titles of the unseen-title test splits (never in training).
    pub unseen: BTreeSet<String>,
}

impl DatasetTitles {
    /// Reads `DATASET/splits.json`.
    pub fn read(dataset: &Path) -> anyhow::Result<Self> {
        let path = dataset.join("splits.json");
        let splits: BTreeMap<String, Vec<(String, String)>> =
            read_json(&path).with_context(|| format!("reading the dataset's splits {}", path.display()))?;
        Ok(Self::from_listing(&splits))
    }

    /// From a split name -> (student, title) pairs listing.
    pub fn from_listing(splits: &BTreeMap<String, Vec<(String, String)>>) -> Self {
        let unseen_splits = [Split::SeenStudentUnseenTitle.name(), Split::UnseenStudentUnseenTitle.name()];
        let mut out = DatasetTitles::default();
        for (split, pairs) in splits {
            for (_, title) in pairs {
                out.known.insert(title.clone());
                if unseen_splits.contains(&split.as_str()) {
                    out.unseen.insert(title.clone());
                }
            }
        }
        out
    }
}

/// Which titles test the probe, and why.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TitleSplit {
    /// Titles whose prefixes train the probe.
    pub train: BTreeSet<String>,
    /// Titles whose prefixes test it.
    pub test: BTreeSet<String>,
    /// The test titles the trace model never trained on.
    pub unseen_by_model: BTreeSet<String>,
    /// The rule applied, in words.
    pub rule: String,
}

impl TitleSplit {
    /// Whether a title is in the test set.
    pub fn is_test(&self, title: &str) -> bool {
        self.test.contains(title)
    }
}

/// Splits `titles` (title -> examples it would contribute, after any cap):
/// the dataset's unseen titles test; when they contribute fewer than
/// `min_test` examples (always, when it is infinite: the seeds of the
/// probe's split; or when there is no dataset), a seeded random
/// [`ADDED_TITLE_FRACTION`] of the other titles (at least one) joins them.
pub fn split_titles(
    titles: &BTreeMap<String, f64>,
    dataset: Option<&DatasetTitles>,
    min_test: f64,
    seed: u64,
) -> TitleSplit {
    let unseen: BTreeSet<String> =
        dataset.map(|d| titles.keys().filter(|t| d.unseen.contains(*t)).cloned().collect()).unwrap_or_default();
    let unseen_examples: f64 = unseen.iter().map(|t| titles[t]).sum();
    let mut test = unseen.clone();
    let rule = if dataset.is_some() && unseen_examples >= min_test {
        format!("test = the {} title(s) the trace model never trained on (dataset splits.json)", unseen.len())
    } else {
        let mut others: Vec<&String> = titles.keys().filter(|t| !unseen.contains(*t)).collect();
        SplitMix64::for_purpose(seed, "probe titles").shuffle(&mut others);
        let n = ((ADDED_TITLE_FRACTION * others.len() as f64).round() as usize).max(1).min(others.len().saturating_sub(1));
        test.extend(others.into_iter().take(n).cloned());
        match dataset {
            Some(_) if min_test.is_infinite() => format!(
                "test = the {} title(s) the trace model never trained on plus a seeded random {:.0}% ({n}) of the other titles (a different fifth for every seed of the split)",
                unseen.len(),
                100.0 * ADDED_TITLE_FRACTION
            ),
            Some(_) => format!(
                "test = the {} title(s) the trace model never trained on ({unseen_examples:.0} examples < {min_test:.0}) plus a seeded random {:.0}% ({n}) of the other titles",
                unseen.len(),
                100.0 * ADDED_TITLE_FRACTION
            ),
            None => format!("no dataset splits.json: test = a seeded random {:.0}% ({n}) of the titles", 100.0 * ADDED_TITLE_FRACTION),
        }
    };
    let train = titles.keys().filter(|t| !test.contains(*t)).cloned().collect();
    TitleSplit { train, test, unseen_by_model: unseen, rule }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn titles(n: usize, each: f64) -> BTreeMap<String, f64> {
        (0..n).map(|i| (format!("t{i:02}"), each)).collect()
    }

    #[test]
    fn unseen_titles_test_when_they_are_enough() {
        let listing: BTreeMap<String, Vec<(String, String)>> = [
            ("train".to_string(), vec![("a".into(), "t00".into()), ("b".into(), "t01".into())]),
            ("unseen_student_unseen_title".to_string(), vec![("c".into(), "t02".into())]),
            ("seen_student_unseen_title".to_string(), vec![("a".into(), "t03".into())]),
        ]
        .into_iter()
        .collect();
        let d = DatasetTitles::from_listing(&listing);
        assert_eq!(d.unseen, ["t02", "t03"].iter().map(|s| s.to_string()).collect());
        assert_eq!(d.known.len(), 4);
        let s = split_titles(&titles(4, 200.0), Some(&d), 300.0, 0);
        assert_eq!(s.test, d.unseen);
        assert_eq!(s.train.len(), 2);
        assert!(s.train.is_disjoint(&s.test));
    }

    #[test]
    fn too_few_test_examples_add_a_seeded_fifth_of_the_other_titles() {
        let d = DatasetTitles { known: titles(21, 0.0).into_keys().collect(), unseen: ["t00".to_string()].into() };
        let s = split_titles(&titles(21, 100.0), Some(&d), 300.0, 7);
        // t00 plus round(0.2 * 20) = 4 others.
        assert_eq!(s.test.len(), 5);
        assert!(s.test.contains("t00") && s.unseen_by_model.len() == 1);
        assert_eq!(s.train.len() + s.test.len(), 21);
        assert_eq!(s, split_titles(&titles(21, 100.0), Some(&d), 300.0, 7), "same seed, same split");
        assert_ne!(s.test, split_titles(&titles(21, 100.0), Some(&d), 300.0, 8).test, "the seed matters");
        // Without a dataset, the random fifth is the whole test set.
        let s = split_titles(&titles(10, 100.0), None, 300.0, 0);
        assert_eq!((s.test.len(), s.train.len()), (2, 8));
    }

    #[test]
    fn an_infinite_minimum_always_adds_a_seeded_fifth() {
        // The probe's seeds: unseen titles with plenty of examples still get a fifth of the others.
        let d = DatasetTitles { known: titles(11, 0.0).into_keys().collect(), unseen: ["t00".to_string()].into() };
        let s = split_titles(&titles(11, 1000.0), Some(&d), f64::INFINITY, 1);
        assert_eq!(s.test.len(), 3, "t00 plus 2 of 10");
        assert!(s.rule.contains("different fifth for every seed"), "{}", s.rule);
        let tests: std::collections::BTreeSet<_> = (0..5).map(|seed| split_titles(&titles(11, 1000.0), Some(&d), f64::INFINITY, seed).test).collect();
        assert!(tests.len() > 1, "the seeds give different splits");
    }
}
