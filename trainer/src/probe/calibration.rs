//! A calibrated risk: Platt scaling of the logistic head on training titles
//! the head was not fitted on. The head is fitted on most training titles, a
//! one-feature logistic regression `sigmoid(a * logit + b)` on the rest, and
//! the two fold into one linear head (`a * w`, `a * bias + b`), so the
//! shipped `probe.safetensors` keeps its format and the server its reader.

use pencil_core::model::rng::SplitMix64;

use super::linear::{fit_logistic, Linear};

/// Share of the training titles kept aside to fit the calibration.
pub const CALIBRATION_TITLE_FRACTION: f64 = 0.2;

/// Platt's `(a, b)`: the logistic regression of `labels` on `logits` (almost
/// unpenalised: two parameters, hundreds of rows). `None` when it cannot be fitted.
pub fn platt(logits: &[f64], labels: &[bool]) -> Option<(f64, f64)> {
    let rows: Vec<Vec<f64>> = logits.iter().map(|&l| vec![l]).collect();
    let m = fit_logistic(&rows, labels, 1e-6)?;
    Some((m.weight[0], m.bias))
}

/// `head` followed by Platt's `(a, b)`, as one linear head.
pub fn fold(head: &Linear, (a, b): (f64, f64)) -> Linear {
    Linear { weight: head.weight.iter().map(|w| a * w).collect(), bias: a * head.bias + b }
}

/// Indices of the rows whose titles fit the head and of those that calibrate
/// it: a seeded [`CALIBRATION_TITLE_FRACTION`] of the distinct titles (at
/// least one, never all) calibrates. `None` below two titles.
pub fn calibration_split(titles: &[String], seed: u64) -> Option<(Vec<usize>, Vec<usize>)> {
    let mut distinct: Vec<&String> = titles.iter().collect::<std::collections::BTreeSet<_>>().into_iter().collect();
    if distinct.len() < 2 {
        return None;
    }
    SplitMix64::for_purpose(seed, "probe calibration titles").shuffle(&mut distinct);
    let n = ((CALIBRATION_TITLE_FRACTION * distinct.len() as f64).round() as usize).clamp(1, distinct.len() - 1);
    let held: std::collections::BTreeSet<&String> = distinct.into_iter().take(n).collect();
    let (mut fit, mut calibrate) = (Vec::new(), Vec::new());
    for (i, t) in titles.iter().enumerate() {
        if held.contains(t) {
            calibrate.push(i);
        } else {
            fit.push(i);
        }
    }
    Some((fit, calibrate))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::probe::linear::sigmoid;

    #[test]
    fn platt_undoes_an_overconfident_head_and_folds_into_it() {
        // True probabilities sigmoid(s); a head that reports 3s + 1 is overconfident and biased.
        let mut rng = SplitMix64::new(4);
        let (mut logits, mut labels) = (Vec::new(), Vec::new());
        for _ in 0..20000 {
            let s = rng.normal();
            labels.push(rng.next_f64() < sigmoid(s));
            logits.push(3.0 * s + 1.0);
        }
        let (a, b) = platt(&logits, &labels).expect("fits");
        // sigmoid(a (3s + 1) + b) = sigmoid(s) needs a = 1/3, b = -1/3.
        assert!((a - 1.0 / 3.0).abs() < 0.03 && (b + 1.0 / 3.0).abs() < 0.05, "a {a} b {b}");
        let head = Linear { weight: vec![3.0, -1.5], bias: 1.0 };
        let folded = fold(&head, (a, b));
        let z = [0.4, -0.2];
        assert!((folded.score(&z) - (a * head.score(&z) + b)).abs() < 1e-12);
    }

    #[test]
    fn calibration_titles_are_a_seeded_fifth_and_disjoint_from_fitting() {
        let titles: Vec<String> = (0..100).map(|i| format!("t{}", i % 10)).collect();
        let (fit, cal) = calibration_split(&titles, 1).expect("ten titles");
        assert_eq!(fit.len() + cal.len(), 100);
        let cal_titles: std::collections::BTreeSet<&String> = cal.iter().map(|&i| &titles[i]).collect();
        assert_eq!(cal_titles.len(), 2);
        assert!(fit.iter().all(|&i| !cal_titles.contains(&titles[i])));
        assert_eq!(calibration_split(&titles, 1), Some((fit, cal)));
        assert!(calibration_split(&["a".to_string(), "a".to_string()], 1).is_none());
    }
}
