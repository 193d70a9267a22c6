//! BLEU and self-BLEU as the paper computes them (nltk `corpus_bleu`).
//!
//! Texts are tokenised with Python's `str.split()`. One corpus BLEU is computed
//! for each weight vector `(1)`, `(1/2, 1/2)`, `(1/3, 1/3, 1/3)`,
//! `(1/4, 1/4, 1/4, 1/4)`, and the result is their mean. nltk's rules, kept
//! exactly: clipped n-gram counts summed over all hypotheses (denominators at
//! least 1 per hypothesis); brevity penalty from the summed closest reference
//! lengths (ties go to the shorter reference): 1 if the hypotheses are longer,
//! 0 if they are empty, else `exp(1 - r/c)`; all four scores are 0 when no
//! unigram matches; with no smoothing ("method0") a zero n-gram precision is
//! replaced by the smallest normal double, so the score becomes tiny rather
//! than 0; the weighted logs are added with `math.fsum`.

use std::collections::HashMap;

use super::python_text::split_whitespace;

/// Python's `math.fsum` for finite values: the correctly rounded sum.
pub fn fsum(values: impl IntoIterator<Item = f64>) -> f64 {
    // Shewchuk's algorithm with non-overlapping partials, as CPython does it.
    let mut partials: Vec<f64> = Vec::new();
    for mut x in values {
        let mut i = 0;
        for k in 0..partials.len() {
            let mut y = partials[k];
            if x.abs() < y.abs() {
                std::mem::swap(&mut x, &mut y);
            }
            let hi = x + y;
            let lo = y - (hi - x);
            if lo != 0.0 {
                partials[i] = lo;
                i += 1;
            }
            x = hi;
        }
        partials.truncate(i);
        partials.push(x);
    }
    let mut n = partials.len();
    if n == 0 {
        return 0.0;
    }
    n -= 1;
    let mut hi = partials[n];
    let mut lo = 0.0;
    while n > 0 {
        let x = hi;
        n -= 1;
        let y = partials[n];
        hi = x + y;
        let yr = hi - x;
        lo = y - yr;
        if lo != 0.0 {
            break;
        }
    }
    // Round half-even across the partials that were not added in.
    if n > 0 && ((lo < 0.0 && partials[n - 1] < 0.0) || (lo > 0.0 && partials[n - 1] > 0.0)) {
        let y = lo * 2.0;
        let x = hi + y;
        let yr = x - hi;
        if y == yr {
            hi = x;
        }
    }
    hi
}

/// Counts of the `n`-grams of `tokens`.
fn ngram_counts<'t>(tokens: &'t [&'t str], n: usize) -> HashMap<&'t [&'t str], usize> {
    let mut counts = HashMap::new();
    if tokens.len() >= n {
        for g in tokens.windows(n) {
            *counts.entry(g).or_insert(0) += 1;
        }
    }
    counts
}

/// nltk's `modified_precision` as (numerator, denominator).
fn modified_precision(references: &[Vec<&str>], hypothesis: &[&str], n: usize) -> (usize, usize) {
    let counts = ngram_counts(hypothesis, n);
    let mut max_counts: HashMap<&[&str], usize> = HashMap::with_capacity(counts.len());
    for reference in references {
        let ref_counts = ngram_counts(reference, n);
        for g in counts.keys() {
            let c = ref_counts.get(g).copied().unwrap_or(0);
            let m = max_counts.entry(g).or_insert(0);
            *m = (*m).max(c);
        }
    }
    let numerator = counts.iter().map(|(g, &c)| c.min(max_counts.get(g).copied().unwrap_or(0))).sum();
    let denominator = counts.values().sum::<usize>().max(1);
    (numerator, denominator)
}

/// nltk's `closest_ref_length`: the reference length nearest the hypothesis's, shorter on ties.
fn closest_ref_length(references: &[Vec<&str>], hyp_len: usize) -> usize {
    references.iter().map(Vec::len).min_by_key(|&r| (r.abs_diff(hyp_len), r)).unwrap_or(0)
}

/// The four BLEU scores (1- to 4-gram weights) of nltk's `corpus_bleu` with no smoothing.
pub fn corpus_bleu_scores(list_of_references: &[Vec<Vec<&str>>], hypotheses: &[Vec<&str>]) -> [f64; 4] {
    let mut num = [0usize; 5];
    let mut den = [0usize; 5];
    let (mut hyp_lengths, mut ref_lengths) = (0usize, 0usize);
    for (references, hypothesis) in list_of_references.iter().zip(hypotheses) {
        for n in 1..=4 {
            let (p, q) = modified_precision(references, hypothesis, n);
            num[n] += p;
            den[n] += q;
        }
        hyp_lengths += hypothesis.len();
        ref_lengths += closest_ref_length(references, hypothesis.len());
    }
    if num[1] == 0 {
        return [0.0; 4];
    }
    let bp = if hyp_lengths > ref_lengths {
        1.0
    } else if hyp_lengths == 0 {
        0.0
    } else {
        (1.0 - ref_lengths as f64 / hyp_lengths as f64).exp()
    };
    let p: Vec<f64> = (1..=4).map(|n| if num[n] != 0 { num[n] as f64 / den[n] as f64 } else { f64::MIN_POSITIVE }).collect();
    let mut scores = [0.0; 4];
    for (k, score) in scores.iter_mut().enumerate() {
        let order = k + 1;
        let w = 1.0 / order as f64;
        *score = bp * fsum(p[..order].iter().map(|&pi| w * pi.ln())).exp();
    }
    scores
}

/// numpy's mean of a short float list (sequential sum below 8 elements), as the paper takes it.
fn mean_of_scores(scores: &[f64]) -> f64 {
    scores.iter().fold(0.0, |acc, s| acc + s) / scores.len() as f64
}

/// The paper's `quality_bleu(texts, refs)`: every text is a hypothesis scored
/// against all of `refs`; the mean of the four corpus BLEU scores.
pub fn quality_bleu(texts: &[&str], refs: &[&str]) -> f64 {
    let ref_tokens: Vec<Vec<&str>> = refs.iter().map(|r| split_whitespace(r).collect()).collect();
    let hyps: Vec<Vec<&str>> = texts.iter().map(|t| split_whitespace(t).collect()).collect();
    let lists = vec![ref_tokens; hyps.len()];
    mean_of_scores(&corpus_bleu_scores(&lists, &hyps))
}

/// The paper's `self_bleu(texts)`: each text scored against all the others;
/// `None` for fewer than two texts (the paper raises an error).
pub fn self_bleu(texts: &[&str]) -> Option<f64> {
    if texts.len() < 2 {
        return None;
    }
    let tokens: Vec<Vec<&str>> = texts.iter().map(|t| split_whitespace(t).collect()).collect();
    let lists: Vec<Vec<Vec<&str>>> = (0..tokens.len())
        .map(|i| tokens.iter().enumerate().filter(|&(j, _)| j != i).map(|(_, t)| t.clone()).collect())
        .collect();
    Some(mean_of_scores(&corpus_bleu_scores(&lists, &tokens)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fsum_is_correctly_rounded() {
        assert_eq!(fsum([0.1; 10]), 1.0);
        assert_eq!(fsum([1e100, 1.0, -1e100, 1e-100, 1e50, -1.0, -1e50]), 1e-100);
        assert_eq!(fsum([]), 0.0);
        assert_eq!(fsum([1.0, 1e-16, 1e-16]), 1.0000000000000002);
    }

    /// Expected values: nltk 3.9.2 `corpus_bleu` (and the paper's mean of its four scores) under Python 3.11.
    fn check(text: &str, reference: &str, want_scores: [f64; 4], want_mean: f64) {
        let hyp: Vec<&str> = split_whitespace(text).collect();
        let refs: Vec<Vec<&str>> = vec![split_whitespace(reference).collect()];
        let scores = corpus_bleu_scores(&[refs], &[hyp]);
        for (got, want) in scores.iter().zip(want_scores) {
            assert!((got - want).abs() <= 1e-13 * want.abs(), "{text:?} vs {reference:?}: {scores:?} != {want_scores:?}");
        }
        assert_eq!(quality_bleu(&[text], &[reference]), want_mean, "{text:?} vs {reference:?}");
    }

    #[test]
    fn bleu_edge_cases() {
        check("fd 100 rt 90", "fd 100 rt 90", [1.0; 4], 1.0);
        // Empty hypothesis, or no unigram in common: all four scores are 0.
        check("", "fd 100", [0.0; 4], 0.0);
        check("a b c", "x y z", [0.0; 4], 0.0);
        // Zero higher-order precisions become the smallest normal double: tiny, not 0.
        check("fd 100", "fd 50", [0.5, 1.0547686614863434e-154, 6.278939363647093e-206, 1.5319719891192393e-231], 0.125);
        check(
            "fd 100 fd 100 fd 100",
            "fd 100",
            [0.3333333333333333, 0.25819888974716115, 1.140471378966823e-103, 7.57965434483665e-155],
            0.14788305577012362,
        );
        // Longer hypothesis: no brevity penalty.
        check(
            "pen red fd 100 rt 90 fd 100",
            "pen red fd 100 rt 45",
            [0.625, 0.5976143046671968, 0.563123940221803, 0.5169731539571706],
            0.5756778497115427,
        );
    }

    #[test]
    fn self_bleu_scores_each_text_against_the_others() {
        assert_eq!(self_bleu(&["fd 1"]), None);
        assert_eq!(self_bleu(&["fd 1 rt 2", "fd 1 rt 2"]), Some(1.0));
        let got = self_bleu(&["pen red\nfd 100\nrt 90", "pen blue\nfd 100\nrt 90\nfd 50", "speed 3\npen red\nfd 100"]);
        assert_eq!(got, Some(0.6655654392974225));
    }
}
