//! The probe over several seeds of the title split: every variant of the
//! features and the fitting (the paper's probe and controls, plus what the
//! paper did not try: the probe trained as the editor reads it, more
//! prefixes per trace, two pooled depths, hand and model features in one
//! head, a calibrated risk), scored on held-out titles seed by seed, summed
//! up as mean and standard error, compared with paired t-tests, and the best
//! variant the language server can compute chosen for shipping.
//!
//! Every variant is tested on the same prefixes of a seed's test titles (the
//! "core" prefixes: at most `PREFIXES_PER_TRACE` of a trace); the extra
//! prefixes of `more_prefixes` only ever train.

use std::collections::{BTreeMap, HashMap};

use anyhow::Context;
use pencil_core::model::rng::SplitMix64;
use serde::Serialize;

use super::examples::PrefixLabel;
use super::heads::{fit_heads, fit_heads_calibrated, score_heads, FittedHeads, HeadScores, Rows};
use super::stats::{paired_t_test, MeanSe, PairedTest};
use super::title_split::TitleSplit;

/// Number of seeds of the title split the variants are scored on.
pub const DEFAULT_SEEDS: usize = 5;
/// AUC margin over the hand features the shipped risk is asked to reach.
pub const GOAL_MARGIN_OVER_HAND: f64 = 0.05;

/// One selected prefix with every reading of it the variants use.
#[derive(Debug, Clone)]
pub struct PrefixRow {
    /// Title of its trace.
    pub title: String,
    /// Its labels.
    pub label: PrefixLabel,
    /// Whether it is a core prefix (tested, and trained on by every variant);
    /// otherwise an extra prefix only `more_prefixes` trains on.
    pub core: bool,
    /// Pooled features of the probe's graph, read with the student's own vector.
    pub own: Vec<f32>,
    /// Same, read with a random other student's vector (core only).
    pub shuffled: Option<Vec<f32>>,
    /// Same, read with the unseen-student row 0 as the editor reads every student (core only).
    pub unseen: Option<Vec<f32>>,
    /// Pooled final state of the full model, own vector (core only; when the
    /// probe's graph is `features.onnx`, so this is a second depth).
    pub deep: Option<Vec<f32>>,
    /// Hand features (core only).
    pub hand: Option<Vec<f32>>,
}

/// Which features a variant reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum Reading {
    Own,
    Shuffled,
    Unseen,
    Hand,
    OwnAndDeep,
    OwnAndHand,
}

impl Reading {
    fn of(self, r: &PrefixRow) -> Option<Vec<f32>> {
        let cat = |a: &Vec<f32>, b: &Option<Vec<f32>>| b.as_ref().map(|b| a.iter().chain(b).copied().collect());
        match self {
            Reading::Own => Some(r.own.clone()),
            Reading::Shuffled => r.shuffled.clone(),
            Reading::Unseen => r.unseen.clone(),
            Reading::Hand => r.hand.clone(),
            Reading::OwnAndDeep => cat(&r.own, &r.deep),
            Reading::OwnAndHand => cat(&r.own, &r.hand),
        }
    }
}

/// How a variant's heads are fitted (variants with the same fitting share heads).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
struct Fitting {
    train: Reading,
    /// Training features permuted across training rows (labels kept): the shuffled-embeddings control.
    permuted: bool,
    /// Extra prefixes of the training traces join the training rows.
    extra_prefixes: bool,
    calibrated: bool,
}

/// A variant: a fitting and the features its test rows are read with.
#[derive(Debug, Clone, Copy)]
struct Variant {
    name: &'static str,
    description: &'static str,
    fitting: Fitting,
    test: Reading,
    /// Whether `pencil-lsp` computes exactly the test features (the probe's graph, row 0).
    server_reads: bool,
}

const fn fitting(train: Reading, permuted: bool, extra_prefixes: bool, calibrated: bool) -> Fitting {
    Fitting { train, permuted, extra_prefixes, calibrated }
}

/// Every variant, in report order.
const VARIANTS: [Variant; 12] = [
    Variant { name: "probe", description: "probe (own student vector), the paper's protocol", fitting: fitting(Reading::Own, false, false, false), test: Reading::Own, server_reads: false },
    Variant { name: "probe_read_as_unseen_student", description: "same heads, test read with row 0 as the editor reads it", fitting: fitting(Reading::Own, false, false, false), test: Reading::Unseen, server_reads: true },
    Variant { name: "shuffled_students", description: "control: every prefix read with a random other student", fitting: fitting(Reading::Shuffled, false, false, false), test: Reading::Shuffled, server_reads: false },
    Variant { name: "shuffled_embeddings", description: "control: training features permuted across prefixes", fitting: fitting(Reading::Own, true, false, false), test: Reading::Own, server_reads: false },
    Variant { name: "hand_features", description: "baseline: hand features (sandbox failures, edits, gaps)", fitting: fitting(Reading::Hand, false, false, false), test: Reading::Hand, server_reads: false },
    Variant { name: "trained_as_unseen_student", description: "trained and tested on row-0 readings", fitting: fitting(Reading::Unseen, false, false, false), test: Reading::Unseen, server_reads: true },
    Variant { name: "more_prefixes", description: "own vector, more prefixes per training trace; test row 0", fitting: fitting(Reading::Own, false, true, false), test: Reading::Unseen, server_reads: true },
    Variant { name: "two_depths", description: "probe graph's pooled state + full model's (own vector)", fitting: fitting(Reading::OwnAndDeep, false, false, false), test: Reading::OwnAndDeep, server_reads: false },
    Variant { name: "hand_plus_model", description: "model and hand features in one head (own vector)", fitting: fitting(Reading::OwnAndHand, false, false, false), test: Reading::OwnAndHand, server_reads: false },
    Variant { name: "probe_read_as_unseen_student_calibrated", description: "probe_read_as_unseen_student, Platt-calibrated", fitting: fitting(Reading::Own, false, false, true), test: Reading::Unseen, server_reads: true },
    Variant { name: "trained_as_unseen_student_calibrated", description: "trained_as_unseen_student, Platt-calibrated", fitting: fitting(Reading::Unseen, false, false, true), test: Reading::Unseen, server_reads: true },
    Variant { name: "more_prefixes_calibrated", description: "more_prefixes, Platt-calibrated", fitting: fitting(Reading::Own, false, true, true), test: Reading::Unseen, server_reads: true },
];

/// One variant over the seeds.
#[derive(Debug, Clone, Serialize)]
pub struct VariantSummary {
    /// What it is.
    pub description: String,
    /// Whether the language server computes its test features (it can be shipped).
    pub server_reads: bool,
    /// Test AUC of each seed (NaN-free: seeds whose test rows hold one class are left out of every variant).
    pub auc: Vec<f64>,
    /// Test F1 of each seed at the threshold chosen on its training rows.
    pub f1: Vec<f64>,
    /// Brier score of each seed.
    pub brier: Vec<f64>,
    /// Share of test rows at or above the hint threshold, per seed.
    pub hint_flag_rate: Vec<f64>,
    /// Of those, the share that backtrack (0 when none is flagged), per seed.
    pub hint_precision: Vec<f64>,
    /// Mean and standard error of the AUC.
    pub auc_summary: MeanSe,
    /// Of the F1.
    pub f1_summary: MeanSe,
    /// Of the Brier score.
    pub brier_summary: MeanSe,
    /// Paired t-test of this variant's AUC against the hand features', seed by seed.
    pub vs_hand_features: Option<PairedTest>,
}

/// The probe over the seeds of the split.
#[derive(Debug, Clone, Serialize)]
pub struct SeedsReport {
    /// Seeds of the title split (each also seeds the folds and the permutation).
    pub seeds: Vec<u64>,
    /// Test positive rate (the base rate of backtracking) per seed.
    pub test_positive_rate: Vec<f64>,
    /// Test prefixes per seed.
    pub test_examples: Vec<usize>,
    /// Test titles per seed.
    pub test_titles: Vec<Vec<String>>,
    /// Extra training prefixes the `more_prefixes` variants add (all seeds; those of test titles are never used).
    pub extra_prefixes: usize,
    /// Every variant, by name.
    pub variants: BTreeMap<String, VariantSummary>,
    /// The test the paper's §4.2 makes: own student vectors (`probe`) against
    /// `shuffled_students`, paired t-test on per-seed AUC.
    pub own_vs_shuffled_students: Option<PairedTest>,
    /// The variant shipped: best mean AUC among those the server reads.
    pub shipped: String,
    /// The shipped variant against the hand features, paired t-test on per-seed AUC.
    pub shipped_vs_hand_features: Option<PairedTest>,
    /// Whether the shipped variant's mean AUC beats the hand features' by [`GOAL_MARGIN_OVER_HAND`].
    pub goal_met: bool,
}

/// What [`evaluate_seeds`] gives: the report, the shipped heads (fitted on
/// the first seed's training titles), and every variant's scores on that seed.
pub struct SeedsOutcome {
    /// The report.
    pub report: SeedsReport,
    /// The heads of the shipped variant on the first seed.
    pub shipped_heads: FittedHeads,
    /// Test scores of each variant on the first seed.
    pub first_seed: BTreeMap<String, HeadScores>,
    /// The first seed's split.
    pub first_split: TitleSplit,
}

/// Rows of `rows` at `idx` read by `reading`; `None` when some row lacks it.
fn gather(rows: &[PrefixRow], idx: &[usize], reading: Reading) -> Option<Rows> {
    let mut out = Rows::default();
    for &i in idx {
        let r = &rows[i];
        out.x.push(reading.of(r)?);
        out.titles.push(r.title.clone());
        out.backtracks.push(r.label.backtracks_later);
        out.attempts.push(r.label.future_attempts as f64);
        out.remaining.push(r.label.remaining_distance as f64);
    }
    Some(out)
}

/// Scores every variant over `seeds`, each seed's split given by `split_of`.
pub fn evaluate_seeds(
    rows: &[PrefixRow],
    seeds: &[u64],
    split_of: &dyn Fn(u64) -> TitleSplit,
    progress: &indicatif::ProgressBar,
) -> anyhow::Result<SeedsOutcome> {
    anyhow::ensure!(!seeds.is_empty(), "no seed to evaluate");
    let has_deep = rows.iter().any(|r| r.deep.is_some());
    let variants: Vec<Variant> = VARIANTS.iter().copied().filter(|v| has_deep || v.fitting.train != Reading::OwnAndDeep).collect();
    let mut per_seed: BTreeMap<&str, Vec<HeadScores>> = BTreeMap::new();
    let mut report_seeds = Vec::new();
    let (mut positive, mut n_test, mut test_titles) = (Vec::new(), Vec::new(), Vec::new());
    let mut first: Option<(HashMap<Fitting, FittedHeads>, TitleSplit)> = None;
    progress.set_length((seeds.len() * variants.len()) as u64);
    progress.set_position(0);
    for &seed in seeds {
        let split = split_of(seed);
        let core_of = |test: bool| -> Vec<usize> { (0..rows.len()).filter(|&i| rows[i].core && split.is_test(&rows[i].title) == test).collect() };
        let (train_idx, test_idx) = (core_of(false), core_of(true));
        let extra_idx: Vec<usize> = (0..rows.len()).filter(|&i| !rows[i].core && !split.is_test(&rows[i].title)).collect();
        let labels: Vec<bool> = test_idx.iter().map(|&i| rows[i].label.backtracks_later).collect();
        if train_idx.is_empty() || labels.iter().all(|&y| y) || labels.iter().all(|&y| !y) {
            progress.println(format!("probe: seed {seed}: the test titles hold one class only (or no training rows); seed left out"));
            progress.inc(variants.len() as u64);
            continue;
        }
        let mut fitted: HashMap<Fitting, FittedHeads> = HashMap::new();
        let mut scores = Vec::new();
        for v in &variants {
            progress.set_message(format!("seed {seed}: {}", v.name));
            let f = v.fitting;
            let mut train = gather(rows, &train_idx, f.train).with_context(|| format!("training features of {}", v.name))?;
            if f.extra_prefixes {
                train = train.concat(&gather(rows, &extra_idx, f.train).with_context(|| format!("extra prefixes of {}", v.name))?);
            }
            if f.permuted {
                SplitMix64::for_purpose(seed, "probe shuffled embeddings").shuffle(&mut train.x);
            }
            let test = gather(rows, &test_idx, v.test).with_context(|| format!("test features of {}", v.name))?;
            if let std::collections::hash_map::Entry::Vacant(slot) = fitted.entry(f) {
                let heads = if f.calibrated {
                    fit_heads_calibrated(&train, seed)?.with_context(|| format!("{}: too few training titles to calibrate", v.name))?
                } else {
                    fit_heads(&train, seed)?
                };
                slot.insert(heads);
            }
            // Shuffled embeddings: the threshold's training F1 is on the permuted rows it was fitted on.
            scores.push((v.name, score_heads(&fitted[&f], &train, &test)));
            progress.inc(1);
        }
        for (name, s) in scores {
            per_seed.entry(name).or_default().push(s);
        }
        positive.push(labels.iter().filter(|&&y| y).count() as f64 / labels.len() as f64);
        n_test.push(labels.len());
        test_titles.push(split.test.iter().cloned().collect());
        report_seeds.push(seed);
        if first.is_none() {
            first = Some((fitted, split));
        }
    }
    let (first_heads, first_split) = first.context("no seed of the split had both classes in its test titles")?;

    let auc_of = |name: &str| -> Vec<f64> { per_seed.get(name).map(|v| v.iter().map(|s| s.auc.unwrap_or(0.5)).collect()).unwrap_or_default() };
    let hand_auc = auc_of("hand_features");
    let mut summaries = BTreeMap::new();
    for v in &variants {
        let s = &per_seed[v.name];
        let col = |f: &dyn Fn(&HeadScores) -> f64| -> Vec<f64> { s.iter().map(f).collect() };
        let (auc, f1, brier) = (auc_of(v.name), col(&|h| h.f1), col(&|h| h.brier));
        summaries.insert(
            v.name.to_string(),
            VariantSummary {
                description: v.description.to_string(),
                server_reads: v.server_reads,
                auc_summary: MeanSe::of(&auc),
                f1_summary: MeanSe::of(&f1),
                brier_summary: MeanSe::of(&brier),
                vs_hand_features: (v.name != "hand_features").then(|| paired_t_test(&auc, &hand_auc)).flatten(),
                hint_flag_rate: col(&|h| h.hint_flag_rate),
                hint_precision: col(&|h| h.hint_precision.unwrap_or(0.0)),
                auc,
                f1,
                brier,
            },
        );
    }
    let shipped = choose_shipped(&summaries).context("no variant the server reads")?;
    let shipped_variant = variants.iter().find(|v| v.name == shipped).context("the shipped variant")?;
    let shipped_heads = first_heads.get(&shipped_variant.fitting).context("the shipped heads of the first seed")?.clone();
    let shipped_auc = &summaries[&shipped].auc_summary;
    let report = SeedsReport {
        seeds: report_seeds,
        test_positive_rate: positive,
        test_examples: n_test,
        test_titles,
        extra_prefixes: rows.iter().filter(|r| !r.core).count(),
        own_vs_shuffled_students: paired_t_test(&auc_of("probe"), &auc_of("shuffled_students")),
        shipped_vs_hand_features: paired_t_test(&auc_of(&shipped), &hand_auc),
        goal_met: shipped_auc.mean >= MeanSe::of(&hand_auc).mean + GOAL_MARGIN_OVER_HAND,
        shipped,
        variants: summaries,
    };
    let first_seed = per_seed.into_iter().filter_map(|(k, v)| v.into_iter().next().map(|s| (k.to_string(), s))).collect();
    Ok(SeedsOutcome { report, shipped_heads, first_seed, first_split })
}

/// The variant the server reads with the best mean AUC; on a tie (a
/// calibrated risk ranks exactly as its uncalibrated head) the lower mean
/// Brier score, then the one listed first.
fn choose_shipped(summaries: &BTreeMap<String, VariantSummary>) -> Option<String> {
    let mut best: Option<(&str, f64, f64)> = None;
    for v in VARIANTS.iter().filter(|v| v.server_reads) {
        let Some(s) = summaries.get(v.name) else { continue };
        let (auc, brier) = (s.auc_summary.mean, s.brier_summary.mean);
        let better = match best {
            None => true,
            Some((_, b_auc, b_brier)) => auc > b_auc + 1e-12 || ((auc - b_auc).abs() <= 1e-12 && brier < b_brier),
        };
        if better {
            best = Some((v.name, auc, brier));
        }
    }
    best.map(|(n, _, _)| n.to_string())
}

/// Names and descriptions of the variants, in report order.
pub fn variant_names() -> impl Iterator<Item = (&'static str, &'static str)> {
    VARIANTS.iter().map(|v| (v.name, v.description))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeSet;

    const WIDTH: usize = 24;

    /// Rows whose first feature carries the label (plus noise) in the own and
    /// row-0 readings, and nothing in the shuffled and hand readings.
    fn rows(n: usize, seed: u64) -> Vec<PrefixRow> {
        let mut rng = SplitMix64::new(seed);
        (0..n)
            .map(|i| {
                let y = rng.below(3) == 0;
                let signal = if y { 1.0 } else { -1.0 };
                // 24 features, the first carrying the label: a head fitted on permuted
                // rows then points in a random direction, nearly orthogonal to it.
                let informative = |rng: &mut SplitMix64| {
                    (0..WIDTH).map(|j| (if j == 0 { signal } else { 0.0 } + rng.normal()) as f32).collect::<Vec<f32>>()
                };
                let noise = |rng: &mut SplitMix64| (0..WIDTH).map(|_| rng.normal() as f32).collect::<Vec<f32>>();
                let own = informative(&mut rng);
                PrefixRow {
                    title: format!("t{}", i % 12),
                    label: PrefixLabel { k: 1, backtracks_later: y, future_attempts: 1 + rng.below(5), remaining_distance: rng.below(50) },
                    core: i % 4 != 3,
                    unseen: Some(own.iter().map(|x| x + 0.1 * rng.normal() as f32).collect()),
                    deep: Some(noise(&mut rng)),
                    shuffled: Some(noise(&mut rng)),
                    hand: Some(noise(&mut rng)),
                    own,
                }
            })
            .map(|mut r| {
                if !r.core {
                    (r.shuffled, r.unseen, r.deep, r.hand) = (None, None, None, None);
                }
                r
            })
            .collect()
    }

    fn split(seed: u64) -> TitleSplit {
        let all: Vec<String> = (0..12).map(|i| format!("t{i}")).collect();
        let mut shuffled = all.clone();
        SplitMix64::new(seed).shuffle(&mut shuffled);
        let test: BTreeSet<String> = shuffled.into_iter().take(3).collect();
        TitleSplit { train: all.iter().filter(|t| !test.contains(*t)).cloned().collect(), test, unseen_by_model: BTreeSet::new(), rule: "test".into() }
    }

    #[test]
    fn every_variant_is_scored_on_every_seed_and_the_signal_wins() {
        let rows = rows(1200, 5);
        let out = evaluate_seeds(&rows, &[0, 1, 2, 3, 4], &split, &indicatif::ProgressBar::hidden()).expect("evaluates");
        let r = &out.report;
        assert_eq!(r.seeds.len(), 5);
        assert_eq!(r.variants.len(), VARIANTS.len());
        assert_eq!(r.extra_prefixes, 300);
        let auc = |n: &str| r.variants[n].auc_summary.mean;
        // The own reading carries the label; the shuffled controls and the hand features do not.
        assert!(auc("probe") > 0.8 && auc("shuffled_students") < 0.65 && auc("hand_features") < 0.65, "{r:#?}");
        assert!(auc("shuffled_embeddings") < 0.7, "{}", auc("shuffled_embeddings"));
        let t = r.own_vs_shuffled_students.expect("five seeds");
        assert!(t.mean_difference > 0.15 && t.p_two_sided < 0.01, "{t:?}");
        // Shipped: a variant the server reads, and it beats the hand features by the goal's margin.
        assert!(r.variants[&r.shipped].server_reads, "{}", r.shipped);
        assert!(r.goal_met && r.shipped_vs_hand_features.expect("test").p_one_sided < 0.01);
        // The same test rows for every variant: the base rate is per seed, not per variant.
        assert_eq!(r.test_positive_rate.len(), 5);
        // The shipped heads read the probe's width, not a concatenation.
        assert_eq!(out.shipped_heads.standardiser.mean.len(), WIDTH);
        assert_eq!(out.first_seed.len(), VARIANTS.len());
        assert_eq!(out.first_split.test, split(0).test);
        // Calibration keeps the head's ranking (same AUC on every seed) and changes its probabilities.
        let (raw, cal) = (&r.variants["trained_as_unseen_student"], &r.variants["trained_as_unseen_student_calibrated"]);
        for (a, b) in raw.auc.iter().zip(&cal.auc) {
            assert!((a - b).abs() < 1e-12, "{a} vs {b}");
        }
        assert_ne!(raw.brier, cal.brier);
    }

    #[test]
    fn the_shipped_variant_is_the_best_one_the_server_reads() {
        let summary_with_brier = |auc: f64, brier: f64, server_reads: bool| VariantSummary {
            description: String::new(),
            server_reads,
            auc: vec![auc],
            f1: vec![],
            brier: vec![],
            hint_flag_rate: vec![],
            hint_precision: vec![],
            auc_summary: MeanSe::of(&[auc]),
            f1_summary: MeanSe::of(&[]),
            brier_summary: MeanSe::of(&[brier]),
            vs_hand_features: None,
        };
        let summary = |auc: f64, server_reads: bool| summary_with_brier(auc, 0.2, server_reads);
        let mut s = BTreeMap::new();
        s.insert("probe".to_string(), summary(0.9, false));
        s.insert("hand_plus_model".to_string(), summary(0.95, false));
        s.insert("probe_read_as_unseen_student".to_string(), summary(0.7, true));
        s.insert("more_prefixes".to_string(), summary(0.72, true));
        s.insert("trained_as_unseen_student".to_string(), summary(0.72, true));
        // A tie goes to the variant listed first (trained_as_unseen_student comes before more_prefixes).
        assert_eq!(choose_shipped(&s).as_deref(), Some("trained_as_unseen_student"));
        s.insert("more_prefixes_calibrated".to_string(), summary(0.8, true));
        assert_eq!(choose_shipped(&s).as_deref(), Some("more_prefixes_calibrated"));
        // The same AUC (calibration keeps the ranking): the better calibrated risk ships.
        s.insert("more_prefixes".to_string(), summary_with_brier(0.8, 0.25, true));
        s.insert("more_prefixes_calibrated".to_string(), summary_with_brier(0.8, 0.18, true));
        assert_eq!(choose_shipped(&s).as_deref(), Some("more_prefixes_calibrated"));
        assert_eq!(choose_shipped(&BTreeMap::new()), None);
    }
}
