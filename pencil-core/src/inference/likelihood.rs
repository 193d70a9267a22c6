//! How likely the model finds each of several texts that begin alike: the
//! shared beginning (the student's trace) runs once, its KV cache is copied
//! to every text, and the rest of all texts runs as one batch. This is how
//! the coach asks the model which of several candidate next states the
//! student would write.

use super::error::InferenceError;
use super::session::OnnxModel;

/// Log-probability (natural log, summed over tokens) the model gives each of
/// `sequences` after the longest beginning they all share, read after the
/// soft token `soft` (`[n_embd]`). Texts that differ only after that
/// beginning compare as whole texts do, since the beginning's probability is
/// the same for all of them.
///
/// Every sequence must fit the model's `n_positions` (soft token included).
pub fn continuation_log_probs(
    model: &mut OnnxModel,
    n_positions: usize,
    sequences: &[Vec<u32>],
    soft: &[f32],
) -> Result<Vec<f64>, InferenceError> {
    let Some(first_seq) = sequences.first() else { return Ok(Vec::new()) };
    let dims = model.dims();
    if soft.len() != dims.n_embd {
        return Err(InferenceError::Request(format!("soft token has {} values, the model needs {}", soft.len(), dims.n_embd)));
    }
    if dims.vocab_size == 0 {
        return Err(InferenceError::Request("a feature graph has no logits to score texts with".into()));
    }
    if let Some(long) = sequences.iter().find(|s| s.len() + 1 > n_positions) {
        return Err(InferenceError::Request(format!("a text of {} tokens does not fit the context of {n_positions} positions", long.len())));
    }
    let shared = sequences.iter().skip(1).fold(first_seq.len(), |n, s| n.min(common_prefix(first_seq, s)));
    let vocab = dims.vocab_size;
    let prefix: Vec<i64> = first_seq[..shared].iter().map(|&t| i64::from(t)).collect();
    let first = model.forward(&prefix, soft, &model.empty_cache(1)?)?;
    let after_prefix = first.last_logits(0, vocab);

    let suffixes: Vec<&[u32]> = sequences.iter().map(|s| &s[shared..]).collect();
    let mut scores = Vec::with_capacity(suffixes.len());
    for s in &suffixes {
        scores.push(match s.first() {
            Some(&t) => token_log_prob(after_prefix, t)?,
            None => 0.0,
        });
    }
    // Each row's token j >= 1 is predicted at its position j - 1: feed every
    // suffix but its last token, padded to the longest (the padding comes
    // after a row's own tokens, so the causal model never reads it for them).
    let longest = suffixes.iter().map(|s| s.len()).max().unwrap_or(0);
    if longest < 2 {
        return Ok(scores);
    }
    let width = longest - 1;
    let rows = suffixes.len();
    let mut ids = Vec::with_capacity(rows * width);
    for s in &suffixes {
        let fed = s.len().saturating_sub(1);
        ids.extend(s[..fed].iter().map(|&t| i64::from(t)));
        ids.extend(std::iter::repeat_n(0i64, width - fed));
    }
    let cache = model.repeat_cache(&first.cache, rows)?;
    let batch_soft: Vec<f32> = (0..rows).flat_map(|_| soft.iter().copied()).collect();
    let step = model.forward(&ids, &batch_soft, &cache)?;
    for (r, s) in suffixes.iter().enumerate() {
        for (j, &token) in s.iter().enumerate().skip(1) {
            let at = (r * step.positions + j - 1) * vocab;
            let logits = step
                .logits
                .get(at..at + vocab)
                .ok_or_else(|| InferenceError::Run("the model gave fewer logits than tokens fed".into()))?;
            scores[r] += token_log_prob(logits, token)?;
        }
    }
    Ok(scores)
}

/// log softmax(logits)[token].
fn token_log_prob(logits: &[f32], token: u32) -> Result<f64, InferenceError> {
    let x = logits.get(token as usize).ok_or_else(|| InferenceError::Request(format!("token {token} is outside the model's vocabulary")))?;
    Ok(f64::from(*x) - log_sum_exp(logits))
}

fn common_prefix(a: &[u32], b: &[u32]) -> usize {
    a.iter().zip(b).take_while(|(x, y)| x == y).count()
}

fn log_sum_exp(logits: &[f32]) -> f64 {
    let max = logits.iter().copied().fold(f32::NEG_INFINITY, f32::max);
    let sum: f64 = logits.iter().map(|&x| f64::from(x - max).exp()).sum();
    f64::from(max) + sum.ln()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn token_log_probs_sum_to_one_and_keep_order() {
        let logits = [1.0, 2.0, 3.0, 1000.0];
        let lp: Vec<f64> = (0..4).map(|t| token_log_prob(&logits, t).expect("in vocabulary")).collect();
        let total: f64 = lp.iter().map(|x| x.exp()).sum();
        assert!((total - 1.0).abs() < 1e-9, "{total}");
        assert!(lp[3] > lp[2] && lp[2] > lp[1] && lp[1] > lp[0]);
        assert!(token_log_prob(&logits, 4).is_err());
        assert_eq!(common_prefix(&[1, 2, 3], &[1, 2, 4, 5]), 2);
    }
}
