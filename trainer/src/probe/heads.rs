//! Fitting the probe's three heads on one feature set and scoring them on
//! held-out titles: standardise, pick each head's L2 strength by
//! title-grouped cross-validation on the training titles only, fit on all
//! training rows, choose the F1-maximising threshold and the hint threshold
//! (flags `HINT_RATE` of the training rows) on the training rows, then score
//! the test rows.

use std::collections::BTreeMap;

use pencil_core::inference::probe::{LinearHead, Probe, HINT_RATE};
use pencil_core::model::rng::SplitMix64;
use serde::Serialize;

use super::calibration::{fold, platt};
use super::linear::{fit_logistic, fit_ridge, sigmoid, Linear, Standardiser};
use super::scores::{best_f1_threshold, f1_at, mean_absolute_error, r_squared, roc_auc};

/// L2 strengths tried (the losses are sums over rows, so these compare to the row count).
pub const L2_GRID: [f64; 5] = [1.0, 10.0, 100.0, 1000.0, 10000.0];
/// Folds of the title-grouped cross-validation.
const FOLDS: usize = 3;

/// Rows of one side of the split: features, the title of each row, and targets.
#[derive(Debug, Clone, Default)]
pub struct Rows {
    /// Features.
    pub x: Vec<Vec<f32>>,
    /// Title of each row (cross-validation folds group by it).
    pub titles: Vec<String>,
    /// Backtracks later.
    pub backtracks: Vec<bool>,
    /// Future attempts.
    pub attempts: Vec<f64>,
    /// Remaining edit distance.
    pub remaining: Vec<f64>,
}

impl Rows {
    /// Number of rows.
    pub fn len(&self) -> usize {
        self.x.len()
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.x.is_empty()
    }

    /// These rows followed by `other`'s.
    pub fn concat(&self, other: &Rows) -> Rows {
        let mut r = self.clone();
        r.x.extend(other.x.iter().cloned());
        r.titles.extend(other.titles.iter().cloned());
        r.backtracks.extend(&other.backtracks);
        r.attempts.extend(&other.attempts);
        r.remaining.extend(&other.remaining);
        r
    }

    /// The same rows with other features.
    pub fn with_features(&self, x: Vec<Vec<f32>>) -> Rows {
        Rows { x, ..self.clone() }
    }

    /// Share of rows that backtrack later.
    pub fn positive_rate(&self) -> f64 {
        self.backtracks.iter().filter(|&&b| b).count() as f64 / self.len().max(1) as f64
    }

    /// The rows at `keep`, in that order.
    pub fn subset(&self, keep: &[usize]) -> Rows {
        Rows {
            x: keep.iter().map(|&i| self.x[i].clone()).collect(),
            titles: keep.iter().map(|&i| self.titles[i].clone()).collect(),
            backtracks: keep.iter().map(|&i| self.backtracks[i]).collect(),
            attempts: keep.iter().map(|&i| self.attempts[i]).collect(),
            remaining: keep.iter().map(|&i| self.remaining[i]).collect(),
        }
    }
}

/// Scores of one regression head on the test rows.
#[derive(Debug, Clone, Serialize)]
pub struct RegressionScores {
    /// R^2 of the prediction of `ln(1 + target)` (the scale the head is fitted on).
    pub r2_log: f64,
    /// R^2 in the target's own units (prediction mapped back with `exp - 1`).
    pub r2: f64,
    /// Mean absolute error in the target's own units.
    pub mae: f64,
    /// The L2 strength cross-validation chose.
    pub l2: f64,
}

/// Scores of one feature set on the test rows.
#[derive(Debug, Clone, Serialize)]
pub struct HeadScores {
    /// F1 at the threshold chosen on the training rows.
    pub f1: f64,
    /// Brier score of the risk (mean squared error against 0/1; lower is better calibrated).
    pub brier: f64,
    /// ROC AUC (None when the test rows hold one class only).
    pub auc: Option<f64>,
    /// The risk threshold (F1-maximising on the training rows).
    pub threshold: f64,
    /// F1 of that threshold on the training rows.
    pub train_f1: f64,
    /// Share of test rows predicted to backtrack.
    pub predicted_positive_rate: f64,
    /// Share of test rows that do backtrack.
    pub positive_rate: f64,
    /// The classifier's L2 strength chosen by cross-validation.
    pub l2: f64,
    /// The hint threshold (flags `HINT_RATE` of the training rows).
    pub hint_threshold: f64,
    /// Share of test rows at or above the hint threshold.
    pub hint_flag_rate: f64,
    /// Of those, the share that do backtrack (None when none is flagged).
    pub hint_precision: Option<f64>,
    /// Future attempts.
    pub attempts: RegressionScores,
    /// Remaining edit distance.
    pub remaining: RegressionScores,
}

/// The fitted heads of one feature set.
#[derive(Debug, Clone)]
pub struct FittedHeads {
    /// Standardisation of the training features.
    pub standardiser: Standardiser,
    /// Logistic head.
    pub risk: Linear,
    /// Ridge head on `ln(1 + attempts)`.
    pub attempts: Linear,
    /// Ridge head on `ln(1 + remaining distance)`.
    pub remaining: Linear,
    /// F1-maximising risk threshold on the training rows.
    pub threshold: f64,
    /// Risk quantile of the training rows that flags `HINT_RATE` of them.
    pub hint_threshold: f64,
    /// L2 strengths chosen for the risk, attempts and remaining heads.
    pub l2: [f64; 3],
}

impl FittedHeads {
    /// The heads as the runtime's `Probe` (f32).
    pub fn to_probe(&self) -> Probe {
        let f = |v: &[f64]| v.iter().map(|&x| x as f32).collect::<Vec<f32>>();
        let head = |l: &Linear| LinearHead { weight: f(&l.weight), bias: l.bias as f32 };
        Probe {
            mean: f(&self.standardiser.mean),
            scale: f(&self.standardiser.scale),
            risk: head(&self.risk),
            attempts: head(&self.attempts),
            remaining: head(&self.remaining),
            threshold: self.threshold as f32,
            hint_threshold: self.hint_threshold as f32,
        }
    }

    /// Risk of one raw feature row.
    pub fn risk_of(&self, x: &[f32]) -> f64 {
        sigmoid(self.risk.score(&self.standardiser.apply(x)))
    }
}

fn log1p_all(v: &[f64]) -> Vec<f64> {
    v.iter().map(|y| y.ln_1p()).collect()
}

/// Row indices of each fold, rows grouped by `groups` (title or student) so
/// that no group is on both sides of a fold (seeded); none below two groups.
pub fn group_folds(groups: &[String], seed: u64) -> Vec<Vec<usize>> {
    let mut distinct: Vec<&String> = groups.iter().collect::<std::collections::BTreeSet<_>>().into_iter().collect();
    SplitMix64::for_purpose(seed, "probe folds").shuffle(&mut distinct);
    let k = FOLDS.min(distinct.len());
    if k < 2 {
        return Vec::new();
    }
    let fold_of: BTreeMap<&String, usize> = distinct.iter().enumerate().map(|(i, t)| (*t, i % k)).collect();
    let mut folds = vec![Vec::new(); k];
    for (i, t) in groups.iter().enumerate() {
        folds[fold_of[t]].push(i);
    }
    folds
}

/// Fits a head on the first rows with an L2 strength and predicts the second rows.
type FitPredict<'a> = &'a dyn Fn(&Rows, &Rows, f64) -> Option<Vec<f64>>;

/// Out-of-fold predictions of a head for every L2 strength; the best by `score`
/// (of the out-of-fold predictions of all rows).
fn choose_l2(rows: &Rows, folds: &[Vec<usize>], fit_predict: FitPredict<'_>, score: &dyn Fn(&[f64]) -> f64) -> f64 {
    if folds.is_empty() {
        return L2_GRID[2];
    }
    let mut best = (L2_GRID[2], f64::NEG_INFINITY);
    for &l2 in &L2_GRID {
        let mut oof = vec![0.0; rows.len()];
        let mut ok = true;
        for held in folds {
            let held_set: std::collections::HashSet<usize> = held.iter().copied().collect();
            let keep: Vec<usize> = (0..rows.len()).filter(|i| !held_set.contains(i)).collect();
            match fit_predict(&rows.subset(&keep), &rows.subset(held), l2) {
                Some(p) => held.iter().zip(p).for_each(|(&i, v)| oof[i] = v),
                None => ok = false,
            }
        }
        let s = if ok { score(&oof) } else { f64::NEG_INFINITY };
        if s > best.1 {
            best = (l2, s);
        }
    }
    best.0
}

/// Fits the three heads on `train` (L2 strengths by title-grouped cross-validation).
pub fn fit_heads(train: &Rows, seed: u64) -> anyhow::Result<FittedHeads> {
    anyhow::ensure!(!train.is_empty(), "no training rows");
    let folds = group_folds(&train.titles, seed);
    let logistic = |tr: &Rows, te: &Rows, l2: f64| -> Option<Vec<f64>> {
        let s = Standardiser::fit(&tr.x);
        let m = fit_logistic(&s.apply_all(&tr.x), &tr.backtracks, l2)?;
        Some(m.scores(&s.apply_all(&te.x)))
    };
    let auc = |p: &[f64]| roc_auc(p, &train.backtracks).unwrap_or(0.5);
    let l2_risk = choose_l2(train, &folds, &logistic, &auc);
    let ridge = |target: fn(&Rows) -> &Vec<f64>| {
        move |tr: &Rows, te: &Rows, l2: f64| -> Option<Vec<f64>> {
            let s = Standardiser::fit(&tr.x);
            let m = fit_ridge(&s.apply_all(&tr.x), &log1p_all(target(tr)), l2)?;
            Some(m.scores(&s.apply_all(&te.x)))
        }
    };
    let attempts_of: fn(&Rows) -> &Vec<f64> = |r| &r.attempts;
    let remaining_of: fn(&Rows) -> &Vec<f64> = |r| &r.remaining;
    let (log_attempts, log_remaining) = (log1p_all(&train.attempts), log1p_all(&train.remaining));
    let r2_attempts = |p: &[f64]| r_squared(p, &log_attempts);
    let r2_remaining = |p: &[f64]| r_squared(p, &log_remaining);
    let l2_attempts = choose_l2(train, &folds, &ridge(attempts_of), &r2_attempts);
    let l2_remaining = choose_l2(train, &folds, &ridge(remaining_of), &r2_remaining);

    let standardiser = Standardiser::fit(&train.x);
    let z = standardiser.apply_all(&train.x);
    let fail = |what: &str| anyhow::anyhow!("the {what} head could not be fitted (singular system)");
    let risk = fit_logistic(&z, &train.backtracks, l2_risk).ok_or_else(|| fail("risk"))?;
    let attempts = fit_ridge(&z, &log_attempts, l2_attempts).ok_or_else(|| fail("attempts"))?;
    let remaining = fit_ridge(&z, &log_remaining, l2_remaining).ok_or_else(|| fail("remaining"))?;
    let train_risk: Vec<f64> = risk.scores(&z).into_iter().map(sigmoid).collect();
    let (threshold, _) = best_f1_threshold(&train_risk, &train.backtracks);
    let hint_threshold = flagging_threshold(&train_risk, HINT_RATE);
    Ok(FittedHeads { standardiser, risk, attempts, remaining, threshold, hint_threshold, l2: [l2_risk, l2_attempts, l2_remaining] })
}

/// [`fit_heads`] with a calibrated risk: Platt scaling fitted on held-out
/// logits of the training titles (cross-fitted: each title-grouped fold's
/// rows scored by a head fitted without that fold's titles, at the chosen L2
/// strength), then folded into the head fitted on every training row; the
/// thresholds are chosen again on the calibrated risks. Every training row
/// thus both fits the head and, held out, calibrates it. `None` below two
/// training titles.
pub fn fit_heads_calibrated(train: &Rows, seed: u64) -> anyhow::Result<Option<FittedHeads>> {
    let folds = group_folds(&train.titles, seed);
    if folds.is_empty() {
        return Ok(None);
    }
    let mut heads = fit_heads(train, seed)?;
    let mut held_logits = vec![0.0; train.len()];
    for held in &folds {
        let held_set: std::collections::HashSet<usize> = held.iter().copied().collect();
        let keep: Vec<usize> = (0..train.len()).filter(|i| !held_set.contains(i)).collect();
        let tr = train.subset(&keep);
        let s = Standardiser::fit(&tr.x);
        let Some(m) = fit_logistic(&s.apply_all(&tr.x), &tr.backtracks, heads.l2[0]) else { return Ok(None) };
        for &i in held {
            held_logits[i] = m.score(&s.apply(&train.x[i]));
        }
    }
    let Some(ab) = platt(&held_logits, &train.backtracks) else { return Ok(None) };
    heads.risk = fold(&heads.risk, ab);
    let train_risk: Vec<f64> = train.x.iter().map(|x| heads.risk_of(x)).collect();
    heads.threshold = best_f1_threshold(&train_risk, &train.backtracks).0;
    heads.hint_threshold = flagging_threshold(&train_risk, HINT_RATE);
    Ok(Some(heads))
}

/// Fits on the first rows with an L2 strength and scores the second rows.
pub type FoldScore<'a> = &'a dyn Fn(&[usize], &[usize], f64) -> Option<f64>;

/// The L2 strength of [`L2_GRID`] whose mean held-out score over `folds` is
/// highest; `eval(fit_rows, held_rows, l2)` fits on the first and scores the
/// second (`None`: could not fit). The grid's middle without folds.
pub fn cv_l2(n: usize, folds: &[Vec<usize>], eval: FoldScore<'_>) -> f64 {
    if folds.is_empty() {
        return L2_GRID[2];
    }
    let mut best = (L2_GRID[2], f64::NEG_INFINITY);
    for &l2 in &L2_GRID {
        let mut total = 0.0;
        let mut ok = true;
        for held in folds {
            let held_set: std::collections::HashSet<usize> = held.iter().copied().collect();
            let keep: Vec<usize> = (0..n).filter(|i| !held_set.contains(i)).collect();
            match eval(&keep, held, l2) {
                Some(v) if v.is_finite() => total += v,
                _ => ok = false,
            }
        }
        let s = if ok { total / folds.len() as f64 } else { f64::NEG_INFINITY };
        if s > best.1 {
            best = (l2, s);
        }
    }
    best.0
}

/// The smallest risk that flags at most `rate` of `risks` (those at or above it).
pub fn flagging_threshold(risks: &[f64], rate: f64) -> f64 {
    let mut sorted = risks.to_vec();
    sorted.sort_by(|a, b| b.total_cmp(a));
    let k = ((sorted.len() as f64 * rate).floor() as usize).max(1);
    let Some(&cut) = sorted.get(k) else { return sorted.last().copied().unwrap_or(1.0) };
    // Halfway between the first risk left out and the lowest risk above it, so that
    // ties at the cut stay unflagged rather than flag more than asked.
    match sorted[..k].iter().rev().find(|&&r| r > cut) {
        Some(&above) => (above + cut) / 2.0,
        None => 1.0,
    }
}

/// Scores fitted heads on `test` (and the threshold's F1 on `train`).
pub fn score_heads(heads: &FittedHeads, train: &Rows, test: &Rows) -> HeadScores {
    let l2 = heads.l2;
    let risks = |rows: &Rows| -> Vec<f64> { rows.x.iter().map(|x| heads.risk_of(x)).collect() };
    let (train_risk, test_risk) = (risks(train), risks(test));
    // Share of test rows at or above a threshold.
    let flag_rate = |t: f64| test_risk.iter().filter(|&&r| r >= t).count() as f64 / test.len().max(1) as f64;
    let z = heads.standardiser.apply_all(&test.x);
    let regression = |head: &Linear, actual: &[f64], l2: f64| {
        let log_pred = head.scores(&z);
        // Back to the target's units as the runtime does (Probe::predict clamps the log to [0, 20]).
        let pred: Vec<f64> = log_pred.iter().map(|v| v.clamp(0.0, 20.0).exp_m1()).collect();
        RegressionScores {
            r2_log: r_squared(&log_pred, &log1p_all(actual)),
            r2: r_squared(&pred, actual),
            mae: mean_absolute_error(&pred, actual),
            l2,
        }
    };
    HeadScores {
        f1: f1_at(&test_risk, &test.backtracks, heads.threshold),
        brier: test_risk.iter().zip(&test.backtracks).map(|(r, &y)| (r - f64::from(u8::from(y))).powi(2)).sum::<f64>()
            / test.len().max(1) as f64,
        auc: roc_auc(&test_risk, &test.backtracks),
        threshold: heads.threshold,
        train_f1: f1_at(&train_risk, &train.backtracks, heads.threshold),
        predicted_positive_rate: flag_rate(heads.threshold),
        positive_rate: test.positive_rate(),
        l2: l2[0],
        hint_threshold: heads.hint_threshold,
        hint_flag_rate: flag_rate(heads.hint_threshold),
        hint_precision: {
            let flagged: Vec<bool> = test_risk.iter().zip(&test.backtracks).filter(|(r, _)| **r >= heads.hint_threshold).map(|(_, y)| *y).collect();
            (!flagged.is_empty()).then(|| flagged.iter().filter(|y| **y).count() as f64 / flagged.len() as f64)
        },
        attempts: regression(&heads.attempts, &test.attempts, l2[1]),
        remaining: regression(&heads.remaining, &test.remaining, l2[2]),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_hint_threshold_flags_the_riskiest_fifth() {
        let risks: Vec<f64> = (0..100).map(|i| f64::from(i) / 100.0).collect();
        let t = flagging_threshold(&risks, 0.2);
        assert_eq!(risks.iter().filter(|&&r| r >= t).count(), 20);
        // Ties at the cut stay unflagged rather than flag more than asked.
        let t = flagging_threshold(&[0.9, 0.5, 0.5, 0.5, 0.1], 0.4);
        assert_eq!(t, 0.7);
        assert_eq!(flagging_threshold(&[0.3], 0.2), 0.3);
    }

    #[test]
    fn a_calibrated_probe_is_saved_in_the_format_the_server_reads() {
        // Rows whose first feature carries the label; 10 titles so a fifth can calibrate.
        let mut rng = SplitMix64::new(12);
        let mut rows = Rows::default();
        for i in 0..600 {
            let y = rng.below(4) == 0;
            rows.x.push(vec![(if y { 1.5 } else { 0.0 } + rng.normal()) as f32, rng.normal() as f32]);
            rows.titles.push(format!("t{}", i % 10));
            rows.backtracks.push(y);
            rows.attempts.push(rng.below(6) as f64);
            rows.remaining.push(rng.below(90) as f64);
        }
        let heads = fit_heads_calibrated(&rows, 1).expect("fits").expect("ten titles calibrate");
        let raw = fit_heads(&rows, 1).expect("fits");
        assert_ne!(heads.risk, raw.risk, "Platt scaling changed the risk head");
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join(pencil_core::inference::PROBE_FILE);
        heads.to_probe().save(&path).expect("save");
        let loaded = Probe::load(&path, 2).expect("the server's reader loads it");
        for x in rows.x.iter().take(20) {
            let (want, got) = (heads.risk_of(x), f64::from(loaded.predict(x).expect("predict").risk));
            assert!((want - got).abs() < 1e-5, "{want} vs {got}");
        }
        assert!((f64::from(loaded.hint_threshold) - heads.hint_threshold).abs() < 1e-6);
        // Calibrated on held-out titles, the mean risk is near the base rate.
        let mean_risk = rows.x.iter().map(|x| heads.risk_of(x)).sum::<f64>() / rows.len() as f64;
        assert!((mean_risk - rows.positive_rate()).abs() < 0.05, "{mean_risk} vs {}", rows.positive_rate());
    }
}
