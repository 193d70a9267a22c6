//! Python `str` semantics that the paper's metrics depend on.
//!
//! The paper's code splits, strips and matches text with Python's built-ins,
//! whose notions of whitespace, line boundary and word character are not
//! Rust's. Parity needs them exactly: Python's whitespace adds `\x1c`-`\x1f`
//! to Unicode's `White_Space`; `splitlines` breaks on `\v`, `\f`, `\x1c`-`\x1e`,
//! `\x85`, `\u{2028}`, `\u{2029}` as well as `\n`, `\r` and `\r\n`; a regex word
//! character (`\w`, and so `\b`) is a letter, a number or `_`.

use std::sync::LazyLock;

/// Python's `str.isspace()` for one character (also what `\s` matches in `re`).
pub fn is_space(c: char) -> bool {
    c.is_whitespace() || ('\x1c'..='\x1f').contains(&c)
}

/// Python's `str.split()` with no argument: runs of whitespace separate tokens.
pub fn split_whitespace(s: &str) -> impl Iterator<Item = &str> {
    s.split(is_space).filter(|t| !t.is_empty())
}

/// Python's `str.strip()` with no argument.
pub fn strip(s: &str) -> &str {
    s.trim_matches(is_space)
}

/// Whether `c` ends a line for Python's `str.splitlines()` (`\r\n` is one boundary).
fn is_line_boundary(c: char) -> bool {
    matches!(c, '\n' | '\r' | '\x0b' | '\x0c' | '\x1c' | '\x1d' | '\x1e' | '\u{85}' | '\u{2028}' | '\u{2029}')
}

/// Python's `str.splitlines()` (without `keepends`).
pub fn splitlines(s: &str) -> Vec<&str> {
    let mut lines = Vec::new();
    let mut start = 0;
    let mut chars = s.char_indices().peekable();
    while let Some((i, c)) = chars.next() {
        if !is_line_boundary(c) {
            continue;
        }
        lines.push(&s[start..i]);
        start = i + c.len_utf8();
        if c == '\r' {
            if let Some(&(j, '\n')) = chars.peek() {
                start = j + 1;
                chars.next();
            }
        }
    }
    if start < s.len() {
        lines.push(&s[start..]);
    }
    lines
}

static NON_ASCII_WORD: LazyLock<regex::Regex> =
    LazyLock::new(|| regex::Regex::new(r"^[\p{L}\p{N}_]$").unwrap_or_else(|e| unreachable!("{e}")));
static NON_ASCII_DECIMAL: LazyLock<regex::Regex> =
    LazyLock::new(|| regex::Regex::new(r"^\p{Nd}$").unwrap_or_else(|e| unreachable!("{e}")));

fn matches_char(re: &regex::Regex, c: char) -> bool {
    let mut buf = [0u8; 4];
    re.is_match(c.encode_utf8(&mut buf))
}

/// A word character for Python's `re` on `str` (`\w`): `str.isalnum()` or `_`,
/// that is general category L* or N*, or `_`.
pub fn is_word_char(c: char) -> bool {
    if c.is_ascii() {
        c.is_ascii_alphanumeric() || c == '_'
    } else {
        matches_char(&NON_ASCII_WORD, c)
    }
}

/// A digit for Python's `re` on `str` (`\d`): general category Nd.
pub fn is_decimal(c: char) -> bool {
    if c.is_ascii() {
        c.is_ascii_digit()
    } else {
        matches_char(&NON_ASCII_DECIMAL, c)
    }
}

/// Number of non-overlapping matches of `\bWORD\b` (Python `re.findall`), for a
/// `word` made of word characters.
pub fn count_whole_word(text: &str, word: &str) -> usize {
    // Two bounded matches of a word of word characters can never overlap, so
    // the non-overlapping substring scan finds every candidate.
    text.match_indices(word)
        .filter(|&(i, w)| {
            let before = text[..i].chars().next_back();
            let after = text[i + w.len()..].chars().next();
            !before.is_some_and(is_word_char) && !after.is_some_and(is_word_char)
        })
        .count()
}

/// Python `re.sub(r"\d+", "", s)`.
pub fn remove_digits(s: &str) -> String {
    s.chars().filter(|&c| !is_decimal(c)).collect()
}

/// Python `re.sub(r"\b(w1|w2|...)\b", placeholder, s)` for words made of word
/// characters: every maximal run of word characters found in `words` is replaced.
pub fn replace_whole_words(s: &str, is_listed: impl Fn(&str) -> bool, placeholder: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut run_start: Option<usize> = None;
    let flush = |out: &mut String, run: &str| {
        if is_listed(run) {
            out.push_str(placeholder);
        } else {
            out.push_str(run);
        }
    };
    for (i, c) in s.char_indices() {
        match (is_word_char(c), run_start) {
            (true, None) => run_start = Some(i),
            (false, Some(st)) => {
                flush(&mut out, &s[st..i]);
                run_start = None;
                out.push(c);
            }
            (false, None) => out.push(c),
            (true, Some(_)) => {}
        }
    }
    if let Some(st) = run_start {
        flush(&mut out, &s[st..]);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splitlines_matches_python() {
        let check = |s: &str, want: &[&str]| assert_eq!(splitlines(s), want, "{s:?}");
        check("", &[]);
        check("\n", &[""]);
        check("a\nb\n", &["a", "b"]);
        check("a\r\nb\rc\n\nd", &["a", "b", "c", "", "d"]);
        check("a\x0bb\x0cc\x1cd\x1de\x1ef\x1fg", &["a", "b", "c", "d", "e", "f\x1fg"]);
        check("a\u{85}b\u{2028}c\u{2029}", &["a", "b", "c"]);
        check("x\r", &["x"]);
        check("\r\n\r\n", &["", ""]);
    }

    #[test]
    fn whitespace_matches_python() {
        assert_eq!(split_whitespace(" a\x1fb\u{a0}c\u{3000} #d \x1c").collect::<Vec<_>>(), ["a", "b", "c", "#d"]);
        assert_eq!(split_whitespace("a\u{200b}b").collect::<Vec<_>>(), ["a\u{200b}b"]);
        assert_eq!(strip("\x1e\t x \u{2029}"), "x");
    }

    #[test]
    fn word_characters_match_python_re() {
        for c in ['a', 'Z', '0', '_', 'é', 'ß', 'Ж', '中', '٣', '½', 'Ⅻ'] {
            assert!(is_word_char(c), "{c:?}");
        }
        for c in [' ', '-', '#', '\u{301}', '\u{200d}', '€', 'Ⓐ'] {
            assert!(!is_word_char(c), "{c:?}");
        }
        assert!(is_decimal('٣') && is_decimal('7') && !is_decimal('½') && !is_decimal('²'));
    }

    #[test]
    fn whole_words_counted_like_regex_word_boundaries() {
        assert_eq!(count_whole_word("box boxes box_1 (box) abox box", "box"), 3);
        assert_eq!(count_whole_word("éboxé box", "box"), 1);
        assert_eq!(count_whole_word("", "box"), 0);
    }

    #[test]
    fn listed_words_replaced_only_whole() {
        let listed = |w: &str| w == "red" || w == "blue";
        assert_eq!(replace_whole_words("pen red, darkred red2 blue", listed, "<C>"), "pen <C>, darkred red2 <C>");
        assert_eq!(remove_digits("fd 100; rt ٣5"), "fd ; rt ");
    }
}
