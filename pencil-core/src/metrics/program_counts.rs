//! Counts on one program: comments, function definitions, keywords, colors.

use std::sync::LazyLock;

use serde::ser::{Serialize, SerializeMap, Serializer};

use super::python_text::{count_whole_word, is_space, split_whitespace};

/// The paper's color list (`assets/colors.txt`: 140 CSS color names, lower case).
pub const COLORS_TXT: &str = include_str!("../../data/colors.txt");

/// Color names in file order (Python's `[line.strip().lower() for line in file]`;
/// blank lines, of which the file has none, are left out).
pub static COLORS: LazyLock<Vec<String>> = LazyLock::new(|| {
    COLORS_TXT.lines().map(|l| super::python_text::strip(l).to_lowercase()).filter(|l| !l.is_empty()).collect()
});

/// Whether `word` is one of [`COLORS`].
pub fn is_color(word: &str) -> bool {
    COLORS.iter().any(|c| c == word)
}

/// Number of comments: whitespace-separated tokens starting with `#` (not lines).
pub fn num_comments(program: &str) -> usize {
    split_whitespace(program).filter(|t| t.starts_with('#')).count()
}

/// Number of function definitions: non-overlapping matches of the regex `=\s*->`.
pub fn num_functions(program: &str) -> usize {
    program
        .match_indices('=')
        .filter(|&(i, _)| program[i + 1..].trim_start_matches(is_space).starts_with("->"))
        .count()
}

/// Occurrences of `keyword` as a whole word (regex `\bKEYWORD\b`).
pub fn num_occurrences(program: &str, keyword: &str) -> usize {
    count_whole_word(program, keyword)
}

/// Non-zero color counts of a program, in [`COLORS`] order.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ColorCounts(pub Vec<(String, usize)>);

impl Serialize for ColorCounts {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut map = s.serialize_map(Some(self.0.len()))?;
        for (name, n) in &self.0 {
            map.serialize_entry(name, n)?;
        }
        map.end()
    }
}

/// Indices into [`COLORS`] by the color's first byte (all are ASCII letters).
static COLORS_BY_FIRST_BYTE: LazyLock<Vec<Vec<usize>>> = LazyLock::new(|| {
    let mut buckets = vec![Vec::new(); 256];
    for (i, c) in COLORS.iter().enumerate() {
        if let Some(&b) = c.as_bytes().first() {
            buckets[usize::from(b)].push(i);
        }
    }
    buckets
});

/// Color counts: `program.lower().count(color)` for each color, so substrings
/// count too (`red` inside `darkred`); zero counts are left out.
pub fn color_counts(program: &str) -> ColorCounts {
    let lower = program.to_lowercase();
    let hay = lower.as_bytes();
    // One pass for all colors; per color, Python's `str.count` semantics:
    // non-overlapping, left to right, so a color counts again only after the
    // end of its previous match. Bytes suffice: the colors are ASCII, and an
    // ASCII byte never occurs inside a multi-byte UTF-8 sequence.
    let mut counts = vec![0usize; COLORS.len()];
    let mut next_allowed = vec![0usize; COLORS.len()];
    for (i, &b) in hay.iter().enumerate() {
        for &c in &COLORS_BY_FIRST_BYTE[usize::from(b)] {
            let color = COLORS[c].as_bytes();
            if i >= next_allowed[c] && hay[i..].starts_with(color) {
                counts[c] += 1;
                next_allowed[c] = i + color.len();
            }
        }
    }
    ColorCounts(COLORS.iter().zip(counts).filter(|&(_, n)| n > 0).map(|(c, n)| (c.clone(), n)).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn comments_are_tokens_starting_with_hash() {
        let check = |p: &str, want: usize| assert_eq!(num_comments(p), want, "{p:?}");
        check("", 0);
        check("# a comment\nfd 100 # two #words", 3);
        check("pen red#not\n  #x", 1);
        check("\x1f#y", 1);
    }

    #[test]
    fn functions_match_equals_arrow() {
        let check = |p: &str, want: usize| assert_eq!(num_functions(p), want, "{p:?}");
        check("f = ->\n  fd 10\ng =-> rt 9\nh = (x) ->", 2);
        check("a ==-> b", 1);
        check("x = \n  -> y", 1);
        check("->", 0);
    }

    #[test]
    fn keywords_are_whole_words() {
        assert_eq!(num_occurrences("box 10\nmybox\nbox_a\nturtle.box()", "box"), 2);
        assert_eq!(num_occurrences("await done defer()\nawaited", "await"), 1);
    }

    #[test]
    fn colors_count_substrings_case_insensitively() {
        let got = color_counts("pen DarkRed\nfill red\nwhite");
        assert_eq!(got.0, [("white".to_string(), 1), ("red".to_string(), 2), ("darkred".to_string(), 1)]);
        assert_eq!(COLORS.len(), 140);
        assert_eq!(serde_json::to_string(&color_counts("blue skyblue")).ok(), Some(r#"{"skyblue":1,"blue":2}"#.into()));
        // The Kelvin sign lower-cases to `k`; Cyrillic `т` is not `t`.
        assert_eq!(color_counts("blac\u{212a} tanтan").0, [("black".to_string(), 1), ("tan".to_string(), 1)]);
    }
}
