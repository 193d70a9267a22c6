//! The paper's edit distance: `int(max(len(a), len(b)) * (1 - ratio))`, where
//! `ratio` is `difflib.SequenceMatcher(None, a, b).ratio()` over code points.

use super::sequence_matcher::SequenceMatcher;

/// Python's `SequenceMatcher(None, a, b).ratio()` on two strings.
pub fn ratio(a: &str, b: &str) -> f64 {
    let (a, b): (Vec<char>, Vec<char>) = (a.chars().collect(), b.chars().collect());
    SequenceMatcher::new(None, &a, &b).ratio()
}

/// The edit distance for a given ratio and the two lengths in code points.
pub fn distance_from_ratio(len_a: usize, len_b: usize, ratio: f64) -> usize {
    // Float arithmetic in Python's order; the product is never negative, so the
    // cast truncates exactly as `int()` does.
    (len_a.max(len_b) as f64 * (1.0 - ratio)) as usize
}

/// The paper's `_get_edit_distance(a, b)`.
pub fn edit_distance(a: &str, b: &str) -> usize {
    let (a, b): (Vec<char>, Vec<char>) = (a.chars().collect(), b.chars().collect());
    let r = SequenceMatcher::new(None, &a, &b).ratio();
    distance_from_ratio(a.len(), b.len(), r)
}

/// `[edit_distance(p, goal) for p in programs]`, indexing `goal` once (Python
/// rebuilds the index every time; the results are the same).
pub fn distances_to(programs: &[&str], goal: &str) -> Vec<usize> {
    let goal: Vec<char> = goal.chars().collect();
    let programs: Vec<Vec<char>> = programs.iter().map(|p| p.chars().collect()).collect();
    distances_to_chars(&programs, &goal)
}

/// [`distances_to`] over programs already split into code points.
pub fn distances_to_chars(programs: &[Vec<char>], goal: &[char]) -> Vec<usize> {
    let mut matcher = SequenceMatcher::new(None, &[], goal);
    programs
        .iter()
        .map(|a| {
            matcher.set_seq1(a);
            distance_from_ratio(a.len(), goal.len(), matcher.ratio())
        })
        .collect()
}

/// `[edit_distance(p[i], p[i + 1]) for i in ...]` over programs split into
/// code points, reusing one matcher's buffers.
pub fn sequential_distances_chars(programs: &[Vec<char>]) -> Vec<usize> {
    let mut matcher = SequenceMatcher::new(None, &[], &[]);
    programs
        .windows(2)
        .map(|w| {
            matcher.set_seq2(&w[1]);
            matcher.set_seq1(&w[0]);
            distance_from_ratio(w[0].len(), w[1].len(), matcher.ratio())
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn distances() {
        let check = |a: &str, b: &str, want: usize| {
            assert_eq!(edit_distance(a, b), want, "{a:?} {b:?}");
            assert_eq!(distances_to(&[a, a], b), [want, want], "{a:?} {b:?}");
            let chars = [a.chars().collect::<Vec<_>>(), b.chars().collect()];
            assert_eq!(sequential_distances_chars(&chars), [want], "{a:?} {b:?}");
        };
        check("", "", 0);
        check("fd 100", "fd 100", 0);
        check("", "abc", 3);
        // ratio 0.75 over 4 characters: int(4 * 0.25) = 1
        check("abcd", "bcde", 1);
        // code points, not bytes: "é" is one element
        check("é", "e", 1);
        assert_eq!(ratio("abcd", "bcde"), 0.75);
    }
}
