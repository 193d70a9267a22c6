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

use rustc_hash::FxHashMap;

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

/// A text's length and n-gram counts (1- to 4-grams) over interned token ids.
struct NgramStats<'i> {
    len: usize,
    counts: [FxHashMap<&'i [u32], usize>; 4],
}

impl<'i> NgramStats<'i> {
    fn new(ids: &'i [u32]) -> Self {
        let counts = std::array::from_fn(|k| {
            let mut c: FxHashMap<&[u32], usize> = FxHashMap::default();
            for g in ids.windows(k + 1) {
                *c.entry(g).or_insert(0) += 1;
            }
            c
        });
        NgramStats { len: ids.len(), counts }
    }
}

/// Token ids of each text, equal tokens getting equal ids.
fn intern(texts: &[&[&str]]) -> Vec<Vec<u32>> {
    let mut ids: FxHashMap<&str, u32> = FxHashMap::default();
    texts
        .iter()
        .map(|t| {
            t.iter()
                .map(|tok| {
                    let next = ids.len() as u32;
                    *ids.entry(tok).or_insert(next)
                })
                .collect()
        })
        .collect()
}

/// nltk's `corpus_bleu` for the four weight vectors over texts given once:
/// each `(hypothesis, references)` pair names texts by index.
fn corpus_bleu_indexed(stats: &[NgramStats<'_>], pairs: &[(usize, Vec<usize>)]) -> [f64; 4] {
    let mut num = [0usize; 5];
    let mut den = [0usize; 5];
    let (mut hyp_lengths, mut ref_lengths) = (0usize, 0usize);
    for (h, refs) in pairs {
        let hyp = &stats[*h];
        for n in 1..=4 {
            // nltk's `modified_precision`: counts clipped by the most any one reference has.
            let counts = &hyp.counts[n - 1];
            num[n] += counts
                .iter()
                .map(|(g, &c)| c.min(refs.iter().map(|&r| stats[r].counts[n - 1].get(g).copied().unwrap_or(0)).max().unwrap_or(0)))
                .sum::<usize>();
            den[n] += counts.values().sum::<usize>().max(1);
        }
        hyp_lengths += hyp.len;
        // nltk's `closest_ref_length`: nearest length, the shorter one on ties.
        ref_lengths += refs.iter().map(|&r| stats[r].len).min_by_key(|&r| (r.abs_diff(hyp.len), r)).unwrap_or(0);
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

/// The four BLEU scores (1- to 4-gram weights) of nltk's `corpus_bleu` with no smoothing.
pub fn corpus_bleu_scores(list_of_references: &[Vec<Vec<&str>>], hypotheses: &[Vec<&str>]) -> [f64; 4] {
    let mut texts: Vec<&[&str]> = Vec::new();
    let mut pairs = Vec::with_capacity(hypotheses.len());
    for (references, hypothesis) in list_of_references.iter().zip(hypotheses) {
        let h = texts.len();
        texts.push(hypothesis);
        let refs = references.iter().map(|r| {
            texts.push(r);
            texts.len() - 1
        });
        pairs.push((h, refs.collect()));
    }
    let ids = intern(&texts);
    let stats: Vec<NgramStats<'_>> = ids.iter().map(|t| NgramStats::new(t)).collect();
    corpus_bleu_indexed(&stats, &pairs)
}

/// numpy's mean of a short float list (sequential sum below 8 elements), as the paper takes it.
fn mean_of_scores(scores: &[f64]) -> f64 {
    scores.iter().fold(0.0, |acc, s| acc + s) / scores.len() as f64
}

/// The paper's `quality_bleu(texts, refs)`: every text is a hypothesis scored
/// against all of `refs`; the mean of the four corpus BLEU scores.
pub fn quality_bleu(texts: &[&str], refs: &[&str]) -> f64 {
    let tokens: Vec<Vec<&str>> = texts.iter().chain(refs).map(|t| split_whitespace(t).collect()).collect();
    let slices: Vec<&[&str]> = tokens.iter().map(Vec::as_slice).collect();
    let ids = intern(&slices);
    let stats: Vec<NgramStats<'_>> = ids.iter().map(|t| NgramStats::new(t)).collect();
    let ref_indices: Vec<usize> = (texts.len()..tokens.len()).collect();
    let pairs: Vec<(usize, Vec<usize>)> = (0..texts.len()).map(|h| (h, ref_indices.clone())).collect();
    mean_of_scores(&corpus_bleu_indexed(&stats, &pairs))
}

/// The paper's `self_bleu(texts)`: each text scored against all the others;
/// `None` for fewer than two texts (the paper raises an error).
pub fn self_bleu(texts: &[&str]) -> Option<f64> {
    if texts.len() < 2 {
        return None;
    }
    let tokens: Vec<Vec<&str>> = texts.iter().map(|t| split_whitespace(t).collect()).collect();
    let slices: Vec<&[&str]> = tokens.iter().map(Vec::as_slice).collect();
    let ids = intern(&slices);
    let stats: Vec<NgramStats<'_>> = ids.iter().map(|t| NgramStats::new(t)).collect();
    let pairs: Vec<(usize, Vec<usize>)> = (0..texts.len()).map(|i| (i, (0..texts.len()).filter(|&j| j != i).collect())).collect();
    Some(mean_of_scores(&corpus_bleu_indexed(&stats, &pairs)))
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
