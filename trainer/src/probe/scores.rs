//! How well a probe does: ROC AUC, F1 at a threshold, the F1-maximising
//! threshold, and R^2 / mean absolute error of the regressions.

/// Area under the ROC curve: the probability that a random positive scores
/// above a random negative, ties counting one half (average ranks).
/// `None` when one class is absent.
pub fn roc_auc(scores: &[f64], labels: &[bool]) -> Option<f64> {
    let n_pos = labels.iter().filter(|&&y| y).count();
    let n_neg = labels.len() - n_pos;
    if n_pos == 0 || n_neg == 0 {
        return None;
    }
    let mut order: Vec<usize> = (0..scores.len()).collect();
    order.sort_by(|&a, &b| scores[a].total_cmp(&scores[b]));
    let mut rank_sum_pos = 0.0;
    let mut i = 0;
    while i < order.len() {
        let mut j = i;
        while j + 1 < order.len() && scores[order[j + 1]] == scores[order[i]] {
            j += 1;
        }
        // Ranks i+1..=j+1 share their mean.
        let mean_rank = (i + j + 2) as f64 / 2.0;
        rank_sum_pos += mean_rank * order[i..=j].iter().filter(|&&k| labels[k]).count() as f64;
        i = j + 1;
    }
    let u = rank_sum_pos - (n_pos * (n_pos + 1)) as f64 / 2.0;
    Some(u / (n_pos as f64 * n_neg as f64))
}

/// F1 of "positive when score >= threshold" (0 when nothing is predicted or present).
pub fn f1_at(scores: &[f64], labels: &[bool], threshold: f64) -> f64 {
    let (mut tp, mut fp, mut fn_) = (0usize, 0usize, 0usize);
    for (&s, &y) in scores.iter().zip(labels) {
        match (s >= threshold, y) {
            (true, true) => tp += 1,
            (true, false) => fp += 1,
            (false, true) => fn_ += 1,
            (false, false) => {}
        }
    }
    if tp == 0 {
        0.0
    } else {
        2.0 * tp as f64 / (2 * tp + fp + fn_) as f64
    }
}

/// The threshold (one of the scores) whose F1 is highest, and that F1; ties
/// go to the higher threshold. `(0.5, 0.0)` when there is no positive.
pub fn best_f1_threshold(scores: &[f64], labels: &[bool]) -> (f64, f64) {
    let n_pos = labels.iter().filter(|&&y| y).count();
    if n_pos == 0 {
        return (0.5, 0.0);
    }
    let mut order: Vec<usize> = (0..scores.len()).collect();
    order.sort_by(|&a, &b| scores[b].total_cmp(&scores[a]));
    let (mut best_t, mut best_f1) = (f64::INFINITY, 0.0);
    let (mut tp, mut fp) = (0usize, 0usize);
    let mut i = 0;
    while i < order.len() {
        // Everything scoring >= this value is predicted positive, ties together.
        let t = scores[order[i]];
        while i < order.len() && scores[order[i]] == t {
            if labels[order[i]] {
                tp += 1;
            } else {
                fp += 1;
            }
            i += 1;
        }
        let f1 = 2.0 * tp as f64 / (tp + fp + n_pos) as f64;
        if f1 > best_f1 {
            (best_t, best_f1) = (t, f1);
        }
    }
    (best_t, best_f1)
}

/// Coefficient of determination of `predicted` against `actual`
/// (0 for the constant mean prediction, negative when worse than it).
pub fn r_squared(predicted: &[f64], actual: &[f64]) -> f64 {
    let n = actual.len().max(1) as f64;
    let mean = actual.iter().sum::<f64>() / n;
    let ss_tot: f64 = actual.iter().map(|y| (y - mean).powi(2)).sum();
    let ss_res: f64 = predicted.iter().zip(actual).map(|(p, y)| (p - y).powi(2)).sum();
    if ss_tot == 0.0 {
        0.0
    } else {
        1.0 - ss_res / ss_tot
    }
}

/// Mean absolute error.
pub fn mean_absolute_error(predicted: &[f64], actual: &[f64]) -> f64 {
    predicted.iter().zip(actual).map(|(p, y)| (p - y).abs()).sum::<f64>() / actual.len().max(1) as f64
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn auc_of_known_rankings() {
        let labels = [false, false, true, true];
        assert_eq!(roc_auc(&[0.1, 0.2, 0.3, 0.4], &labels), Some(1.0));
        assert_eq!(roc_auc(&[0.4, 0.3, 0.2, 0.1], &labels), Some(0.0));
        // One of the four positive-negative pairs is ordered wrongly.
        assert_eq!(roc_auc(&[0.1, 0.35, 0.3, 0.4], &labels), Some(0.75));
        // A tie between a positive and a negative counts one half.
        assert_eq!(roc_auc(&[0.1, 0.3, 0.3, 0.4], &labels), Some(0.875));
        assert_eq!(roc_auc(&[0.5; 4], &labels), Some(0.5));
        assert_eq!(roc_auc(&[0.1, 0.2], &[true, true]), None);
    }

    #[test]
    fn f1_and_its_best_threshold() {
        let labels = [false, true, false, true, true];
        let scores = [0.1, 0.2, 0.3, 0.8, 0.9];
        // >= 0.8: tp 2, fp 0, fn 1 -> 0.8; >= 0.2: tp 3, fp 1 -> 6/7.
        assert!((f1_at(&scores, &labels, 0.8) - 0.8).abs() < 1e-12);
        assert!((f1_at(&scores, &labels, 0.2) - 6.0 / 7.0).abs() < 1e-12);
        let (t, f1) = best_f1_threshold(&scores, &labels);
        assert_eq!(t, 0.2);
        assert!((f1 - 6.0 / 7.0).abs() < 1e-12);
        assert!((f1_at(&scores, &labels, t) - f1).abs() < 1e-12);
        assert_eq!(f1_at(&scores, &[false; 5], 0.0), 0.0);
    }

    #[test]
    fn r_squared_and_mae() {
        let y = [1.0, 2.0, 3.0];
        assert_eq!(r_squared(&y, &y), 1.0);
        assert_eq!(r_squared(&[2.0, 2.0, 2.0], &y), 0.0);
        assert!(r_squared(&[3.0, 2.0, 1.0], &y) < 0.0);
        assert!((mean_absolute_error(&[2.0, 2.0, 2.0], &y) - 2.0 / 3.0).abs() < 1e-12);
    }
}
