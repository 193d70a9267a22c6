//! Nucleus (top-p) sampling with temperature, deterministic under a seed.

use crate::model::rng::SplitMix64;

/// How next tokens are drawn.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SamplingParams {
    /// Logits are divided by this; 0 means greedy (always the most likely token).
    pub temperature: f32,
    /// Smallest set of most likely tokens whose probability reaches `top_p` (the paper's 0.9).
    pub top_p: f32,
}

impl Default for SamplingParams {
    fn default() -> Self {
        SamplingParams { temperature: 1.0, top_p: 0.9 }
    }
}

/// Draws one token id from `logits` (one row of the vocabulary).
///
/// Ties in probability are broken by lower id, so the same logits and the same
/// random stream always give the same token.
pub fn sample(logits: &[f32], params: SamplingParams, rng: &mut SplitMix64) -> u32 {
    if logits.is_empty() {
        return 0;
    }
    if params.temperature <= 0.0 || !params.temperature.is_finite() {
        return argmax(logits);
    }
    let inv_t = 1.0 / f64::from(params.temperature);
    let max = logits.iter().copied().filter(|x| x.is_finite()).fold(f32::NEG_INFINITY, f32::max);
    let mut probs: Vec<(u32, f64)> = logits
        .iter()
        .enumerate()
        .map(|(i, &l)| {
            let p = if l.is_finite() { ((f64::from(l) - f64::from(max)) * inv_t).exp() } else { 0.0 };
            (i as u32, p)
        })
        .collect();
    let total: f64 = probs.iter().map(|p| p.1).sum();
    if total <= 0.0 || !total.is_finite() {
        return argmax(logits);
    }
    let top_p = f64::from(params.top_p.clamp(0.0, 1.0)) * total;
    // Most of the mass usually sits in a few tokens: order only the best k,
    // growing k fourfold until they hold the nucleus (the order is total, so this
    // equals sorting everything).
    let order = |a: &(u32, f64), b: &(u32, f64)| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0));
    let mut k = 64.min(probs.len());
    let (kept, mass) = loop {
        if k < probs.len() {
            probs.select_nth_unstable_by(k - 1, order);
        }
        probs[..k].sort_unstable_by(order);
        let mut mass = 0.0;
        let found = probs[..k].iter().position(|&(_, p)| {
            mass += p;
            mass >= top_p
        });
        match found {
            Some(i) => break (i + 1, mass),
            None if k == probs.len() => break (k, mass),
            None => k = (4 * k).min(probs.len()),
        }
    };
    let target = rng.next_f64() * mass;
    let mut acc = 0.0;
    for &(id, p) in &probs[..kept] {
        acc += p;
        if target < acc {
            return id;
        }
    }
    probs[kept - 1].0
}

/// Index of the largest logit (the lowest one on ties).
pub fn argmax(logits: &[f32]) -> u32 {
    let mut best = 0usize;
    for (i, &l) in logits.iter().enumerate() {
        if l > logits[best] {
            best = i;
        }
    }
    best as u32
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nucleus_keeps_only_the_top_mass() {
        // Probabilities ~ [0.64, 0.24, 0.09, 0.03]: p = 0.8 keeps ids 0 and 1 only.
        let logits = [3.0f32, 2.0, 1.0, 0.0];
        let params = SamplingParams { temperature: 1.0, top_p: 0.8 };
        let mut rng = SplitMix64::new(3);
        let mut seen = [0usize; 4];
        for _ in 0..2000 {
            seen[sample(&logits, params, &mut rng) as usize] += 1;
        }
        assert_eq!(seen[2] + seen[3], 0, "{seen:?}");
        assert!(seen[0] > seen[1] && seen[1] > 300, "{seen:?}");
    }

    #[test]
    fn zero_temperature_is_greedy_and_seeds_repeat() {
        let logits = [0.1f32, 5.0, 5.0, -1.0];
        let mut rng = SplitMix64::new(1);
        assert_eq!(sample(&logits, SamplingParams { temperature: 0.0, top_p: 0.9 }, &mut rng), 1);
        let draw = |seed| {
            let mut r = SplitMix64::new(seed);
            (0..50).map(|_| sample(&[1.0, 1.1, 0.9, 1.0], SamplingParams::default(), &mut r)).collect::<Vec<_>>()
        };
        assert_eq!(draw(9), draw(9));
        assert_ne!(draw(9), draw(10));
    }

    #[test]
    fn partial_ordering_gives_what_a_full_sort_gives() {
        // A flat distribution needs the whole vocabulary in the nucleus; a
        // peaked one only a few tokens. Both must match the plain definition.
        let mut gen = SplitMix64::new(2);
        for spread in [0.01f64, 1.0, 8.0] {
            let logits: Vec<f32> = (0..3000).map(|_| (gen.normal() * spread) as f32).collect();
            for top_p in [0.5f32, 0.9, 1.0] {
                let params = SamplingParams { temperature: 0.7, top_p };
                let (mut a, mut b) = (SplitMix64::new(4), SplitMix64::new(4));
                for _ in 0..20 {
                    assert_eq!(sample(&logits, params, &mut a), reference_sample(&logits, params, &mut b));
                }
            }
        }
    }

    /// Nucleus sampling as defined: sort everything, keep the top mass.
    fn reference_sample(logits: &[f32], params: SamplingParams, rng: &mut SplitMix64) -> u32 {
        let inv_t = 1.0 / f64::from(params.temperature);
        let max = logits.iter().copied().fold(f32::NEG_INFINITY, f32::max);
        let mut probs: Vec<(u32, f64)> =
            logits.iter().enumerate().map(|(i, &l)| (i as u32, ((f64::from(l) - f64::from(max)) * inv_t).exp())).collect();
        let total: f64 = probs.iter().map(|p| p.1).sum();
        probs.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
        let top_p = f64::from(params.top_p) * total;
        let (mut kept, mut mass) = (0, 0.0);
        for &(_, p) in &probs {
            kept += 1;
            mass += p;
            if mass >= top_p {
                break;
            }
        }
        let target = rng.next_f64() * mass;
        let mut acc = 0.0;
        for &(id, p) in &probs[..kept] {
            acc += p;
            if target < acc {
                return id;
            }
        }
        probs[kept - 1].0
    }

    #[test]
    fn low_temperature_sharpens() {
        let logits = [1.0f32, 0.5];
        let params = SamplingParams { temperature: 0.02, top_p: 1.0 };
        let mut rng = SplitMix64::new(5);
        assert!((0..500).all(|_| sample(&logits, params, &mut rng) == 0));
    }
}
