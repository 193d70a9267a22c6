//! A calibrated risk: Platt scaling of the logistic head, a one-feature
//! logistic regression `sigmoid(a * logit + b)` on logits of training titles
//! the scoring head did not see (`heads::fit_heads_calibrated` cross-fits
//! them over the title-grouped folds), folded into the head as one linear
//! head (`a * w`, `a * bias + b`), so the shipped `probe.safetensors` keeps
//! its format and the server its reader.

use super::linear::{fit_logistic, Linear};

/// Smallest Platt slope kept. A slope at or below zero says the held-out
/// titles see no signal in the logit; flipping or flattening the head's
/// ranking on that evidence would make the risk worse than uncalibrated, so
/// the slope is clamped here and the risk keeps the head's order.
pub const MIN_SLOPE: f64 = 1e-3;

/// Platt's `(a, b)`: the logistic regression of `labels` on `logits` (almost
/// unpenalised: two parameters, hundreds of rows), `a` at least [`MIN_SLOPE`]
/// (`b` refitted for it). `None` when it cannot be fitted.
pub fn platt(logits: &[f64], labels: &[bool]) -> Option<(f64, f64)> {
    let rows: Vec<Vec<f64>> = logits.iter().map(|&l| vec![l]).collect();
    let m = fit_logistic(&rows, labels, 1e-6)?;
    if m.weight[0] >= MIN_SLOPE {
        return Some((m.weight[0], m.bias));
    }
    // The intercept that fits the labels with the slope fixed: a logistic
    // regression on the offset-free constant, found by Newton on one variable.
    let mut b = 0.0;
    for _ in 0..50 {
        let (mut g, mut h) = (0.0, 0.0);
        for (&l, &y) in logits.iter().zip(labels) {
            let p = super::linear::sigmoid(MIN_SLOPE * l + b);
            g += p - f64::from(u8::from(y));
            h += (p * (1.0 - p)).max(1e-12);
        }
        b -= g / h;
        if (g / h).abs() < 1e-10 {
            break;
        }
    }
    Some((MIN_SLOPE, b))
}

/// `head` followed by Platt's `(a, b)`, as one linear head.
pub fn fold(head: &Linear, (a, b): (f64, f64)) -> Linear {
    Linear { weight: head.weight.iter().map(|w| a * w).collect(), bias: a * head.bias + b }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::probe::linear::sigmoid;
    use pencil_core::model::rng::SplitMix64;

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
    fn a_slope_at_or_below_zero_is_clamped_and_the_intercept_gives_the_base_rate() {
        // Labels that go against the logits: the unconstrained slope is negative.
        let logits: Vec<f64> = (0..200).map(|i| f64::from(i) / 50.0 - 2.0).collect();
        let labels: Vec<bool> = (0..200).map(|i| (i < 120) == (i % 3 != 0)).collect();
        let (a, b) = platt(&logits, &labels).expect("fits");
        assert_eq!(a, MIN_SLOPE);
        let rate = labels.iter().filter(|&&y| y).count() as f64 / labels.len() as f64;
        let mean: f64 = logits.iter().map(|&l| sigmoid(a * l + b)).sum::<f64>() / logits.len() as f64;
        assert!((mean - rate).abs() < 1e-6, "{mean} vs {rate}");
    }
}
