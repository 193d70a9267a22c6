//! Minimal text edits between two versions of a program, computed with `similar`.

use super::position::LineIndex;
use similar::{ChangeTag, TextDiff};
use tower_lsp_server::gen_lsp_types::{Range, TextEdit};

/// The smallest word-level edits that turn `old` into `new`, with positions in `old`.
pub fn minimal_edits(old: &str, new: &str) -> Vec<TextEdit> {
    let index = LineIndex::new(old);
    let diff = TextDiff::from_words(old, new);
    let mut edits = Vec::new();
    let mut offset = 0usize;
    // The pending edit: byte range in `old` and replacement text.
    let mut pending: Option<(usize, usize, String)> = None;
    let flush = |pending: &mut Option<(usize, usize, String)>, edits: &mut Vec<TextEdit>| {
        if let Some((start, end, text)) = pending.take() {
            edits.push(TextEdit {
                range: Range { start: index.position(old, start), end: index.position(old, end) },
                new_text: text,
            });
        }
    };
    for op in diff.ops() {
        for change in diff.iter_changes(op) {
            let value = change.value();
            match change.tag() {
                ChangeTag::Equal => {
                    flush(&mut pending, &mut edits);
                    offset += value.len();
                }
                ChangeTag::Delete => {
                    let p = pending.get_or_insert((offset, offset, String::new()));
                    p.1 += value.len();
                    offset += value.len();
                }
                ChangeTag::Insert => {
                    pending.get_or_insert((offset, offset, String::new())).2.push_str(value);
                }
            }
        }
    }
    flush(&mut pending, &mut edits);
    edits
}

/// Applies non-overlapping edits (positions in `text`) and returns the new text, or
/// `None` when an edit does not name a place in `text`.
pub fn apply_edits(text: &str, edits: &[TextEdit]) -> Option<String> {
    let index = LineIndex::new(text);
    let mut spans = edits
        .iter()
        .map(|e| index.byte_range(text, e.range).ok().map(|(s, t)| (s, t, e.new_text.as_str())))
        .collect::<Option<Vec<_>>>()?;
    spans.sort_by_key(|&(s, t, _)| (s, t));
    let mut out = String::with_capacity(text.len());
    let mut at = 0;
    for (start, end, new_text) in spans {
        if start < at {
            return None;
        }
        out.push_str(&text[at..start]);
        out.push_str(new_text);
        at = end;
    }
    out.push_str(&text[at..]);
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(old: &str, new: &str, expected_edits: usize) {
        let edits = minimal_edits(old, new);
        assert_eq!(apply_edits(old, &edits).as_deref(), Some(new), "{old:?} -> {new:?}: {edits:?}");
        assert_eq!(edits.len(), expected_edits, "{edits:?}");
    }

    #[test]
    fn edits_reproduce_the_new_text() {
        check("pen babyblue\nfd 100\n", "pen lightblue\nfd 100\n", 1);
        check("moveto 100 100\n", "moveto 100, 100\n", 1);
        check("fd 10\n", "fd 10\n", 0);
        check("", "fd 10\n", 1);
        check("fd 10\nrt 90\nfd 10\n", "fd 10\nfd 10\n", 1);
        check("label '😀 hi'\r\nfd 1\r\n", "label '😀 ho'\r\nfd 2\r\n", 2);
    }

    #[test]
    fn overlapping_edits_are_refused() {
        let mut edits = minimal_edits("a b c", "x y z");
        edits.extend(edits.clone());
        assert_eq!(apply_edits("a b c", &edits), None);
    }
}
