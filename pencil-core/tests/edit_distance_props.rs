//! Properties of the difflib ports that hold for all inputs.
//!
//! `SequenceMatcher.ratio()` is *not* symmetric in general: tie-breaking picks
//! the earliest block in `a`, so swapping the arguments can change which
//! blocks the recursion finds (`tide`/`diet` gives 0.25 one way, 0.5 the
//! other), and autojunk looks only at `b`. What is symmetric is checked:
//! the quick upper bounds and the size of the longest matching block (for
//! sequences under 200 elements); the ratio itself is checked against a
//! brute-force Ratcliff/Obershelp oracle written from the definition.

use pencil_core::metrics::differ::{compare, DiffTag};
use pencil_core::metrics::edit_distance::{edit_distance, ratio};
use pencil_core::metrics::python_text::splitlines;
use pencil_core::metrics::sequence_matcher::SequenceMatcher;
use proptest::prelude::*;

fn chars(s: &str) -> Vec<char> {
    s.chars().collect()
}

/// Longest common block by brute force: longest, then earliest in `a`, then in `b`.
fn oracle_longest(a: &[char], b: &[char], alo: usize, ahi: usize, blo: usize, bhi: usize) -> (usize, usize, usize) {
    let mut best = (alo, blo, 0);
    for i in alo..ahi {
        for j in blo..bhi {
            let mut k = 0;
            while i + k < ahi && j + k < bhi && a[i + k] == b[j + k] {
                k += 1;
            }
            if k > best.2 {
                best = (i, j, k);
            }
        }
    }
    best
}

/// Matched elements by the Ratcliff/Obershelp recursion, without junk heuristics.
fn oracle_matches(a: &[char], b: &[char], alo: usize, ahi: usize, blo: usize, bhi: usize) -> usize {
    let (i, j, k) = oracle_longest(a, b, alo, ahi, blo, bhi);
    if k == 0 {
        return 0;
    }
    k + oracle_matches(a, b, alo, i, blo, j) + oracle_matches(a, b, i + k, ahi, j + k, bhi)
}

fn small_text(max: usize) -> impl Strategy<Value = String> {
    proptest::collection::vec(prop::sample::select(vec!['a', 'b', 'c', ' ', '\n', 'é']), 0..max).prop_map(|v| v.into_iter().collect())
}

#[test]
fn ratio_is_not_symmetric_in_general() {
    assert_eq!((ratio("tide", "diet"), ratio("diet", "tide")), (0.25, 0.5));
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(400))]

    #[test]
    fn identical_strings_have_distance_zero(a in small_text(300)) {
        prop_assert_eq!(edit_distance(&a, &a), 0);
        prop_assert_eq!(ratio(&a, &a), 1.0);
    }

    #[test]
    fn ratio_and_distance_are_bounded(a in small_text(300), b in small_text(300)) {
        let r = ratio(&a, &b);
        prop_assert!((0.0..=1.0).contains(&r));
        let (la, lb) = (a.chars().count(), b.chars().count());
        prop_assert!(edit_distance(&a, &b) <= la.max(lb));
    }

    #[test]
    fn ratio_matches_the_brute_force_oracle_below_200(a in small_text(60), b in small_text(60)) {
        let (ac, bc) = (chars(&a), chars(&b));
        let mut m = SequenceMatcher::new(None, &ac, &bc);
        prop_assert_eq!(m.matches(), oracle_matches(&ac, &bc, 0, ac.len(), 0, bc.len()));
    }

    #[test]
    fn symmetric_parts_are_symmetric(a in small_text(120), b in small_text(120)) {
        let (ac, bc) = (chars(&a), chars(&b));
        let mut ab = SequenceMatcher::new(None, &ac, &bc);
        let mut ba = SequenceMatcher::new(None, &bc, &ac);
        prop_assert_eq!(ab.quick_ratio(), ba.quick_ratio());
        prop_assert_eq!(ab.real_quick_ratio(), ba.real_quick_ratio());
        prop_assert_eq!(ab.find_longest_match(0, ac.len(), 0, bc.len()).size, ba.find_longest_match(0, bc.len(), 0, ac.len()).size);
        let r = ab.ratio();
        prop_assert!(r <= ab.quick_ratio() && ab.quick_ratio() <= ab.real_quick_ratio());
    }

    #[test]
    fn matching_blocks_are_valid_with_autojunk(a in small_text(400), b in small_text(400)) {
        let (ac, bc) = (chars(&a), chars(&b));
        let mut m = SequenceMatcher::new(None, &ac, &bc);
        let blocks = m.matching_blocks().to_vec();
        let last = blocks.last().copied().expect("dummy block");
        prop_assert_eq!((last.a, last.b, last.size), (ac.len(), bc.len(), 0));
        for w in blocks.windows(2) {
            prop_assert_eq!(&ac[w[0].a..w[0].a + w[0].size], &bc[w[0].b..w[0].b + w[0].size]);
            prop_assert!(w[0].a + w[0].size <= w[1].a && w[0].b + w[0].size <= w[1].b);
            // Adjacent blocks are merged.
            prop_assert!(w[1].size == 0 || w[0].a + w[0].size != w[1].a || w[0].b + w[0].size != w[1].b);
        }
    }

    #[test]
    fn differ_output_restores_both_sides(a in small_text(200), b in small_text(200)) {
        let (al, bl) = (splitlines(&a), splitlines(&b));
        let diff = compare(&al, &bl, true);
        let side = |keep: DiffTag| -> Vec<String> {
            diff.iter().filter(|d| d.tag == DiffTag::Equal || d.tag == keep).map(|d| d.text.to_string()).collect()
        };
        prop_assert_eq!(side(DiffTag::Delete), al.iter().map(|s| s.to_string()).collect::<Vec<_>>());
        prop_assert_eq!(side(DiffTag::Insert), bl.iter().map(|s| s.to_string()).collect::<Vec<_>>());
    }
}
