//! Edit types between consecutive programs (the paper's `get_clean_edit_dict`).
//!
//! Per pair of programs, from `Differ().compare(prev.splitlines(), next.splitlines())`:
//! a `-`/`+` line paired with the nearest opposite-sign line (searching
//! backwards for a `+`, forwards for a `-`) is *modified* when that line is
//! non-empty — then a *color change* if the two are equal once color words
//! are masked, else a *number change* if equal once digits are removed. A set
//! of already-paired line *texts* suppresses repeats (identical lines elsewhere
//! are skipped too, and an empty partner still enters the set). Remaining `+`
//! lines are *added* (plus *comment addition* if the stripped line starts with
//! `#`, *function addition* if it contains `->`), remaining `-` lines *deleted*.
//! Each pair then gets one category: large add (>= 5 added), else large delete
//! (>= 5 deleted), else small add, else small delete, else modify existing.

use rustc_hash::FxHashSet;

use serde::Serialize;

use super::differ::{compare, DiffLine, DiffTag};
use super::program_counts::is_color;
use super::python_text::{remove_digits, replace_whole_words, splitlines, strip};

/// Edit counts summed over the pairs of a trace.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct EditCounts {
    /// Lines added (not part of a modification).
    pub lines_added: usize,
    /// Lines deleted (not part of a modification).
    pub lines_deleted: usize,
    /// Lines modified (paired `-`/`+`).
    pub lines_modified: usize,
    /// Modifications that only change color words.
    pub color_changes: usize,
    /// Modifications that only change digits.
    pub number_changes: usize,
    /// Added lines that are comments.
    pub comment_additions: usize,
    /// Added lines containing `->`.
    pub function_additions: usize,
    /// Pairs that add 5 or more lines.
    pub num_large_add: usize,
    /// Pairs that delete 5 or more lines (and add fewer than 5).
    pub num_large_del: usize,
    /// Pairs that add 1-4 lines (and delete fewer than 5).
    pub num_small_add: usize,
    /// Pairs that delete 1-4 lines and add none.
    pub num_small_del: usize,
    /// Pairs that neither add nor delete lines.
    pub num_modify_existing: usize,
}

impl EditCounts {
    /// Adds another pair's (or trace's) counts.
    pub fn add(&mut self, o: &EditCounts) {
        self.lines_added += o.lines_added;
        self.lines_deleted += o.lines_deleted;
        self.lines_modified += o.lines_modified;
        self.color_changes += o.color_changes;
        self.number_changes += o.number_changes;
        self.comment_additions += o.comment_additions;
        self.function_additions += o.function_additions;
        self.num_large_add += o.num_large_add;
        self.num_large_del += o.num_large_del;
        self.num_small_add += o.num_small_add;
        self.num_small_del += o.num_small_del;
        self.num_modify_existing += o.num_modify_existing;
    }

    /// The twelve counts in the paper's order, with its names.
    pub fn named(&self) -> [(&'static str, usize); 12] {
        [
            ("lines_added", self.lines_added),
            ("lines_deleted", self.lines_deleted),
            ("lines_modified", self.lines_modified),
            ("color_changes", self.color_changes),
            ("number_changes", self.number_changes),
            ("comment_additions", self.comment_additions),
            ("function_additions", self.function_additions),
            ("num_large_add", self.num_large_add),
            ("num_large_del", self.num_large_del),
            ("num_small_add", self.num_small_add),
            ("num_small_del", self.num_small_del),
            ("num_modify_existing", self.num_modify_existing),
        ]
    }
}

fn differs_only_by_color(a: &str, b: &str) -> bool {
    replace_whole_words(a, is_color, "<COLOR>") == replace_whole_words(b, is_color, "<COLOR>")
}

fn differs_only_by_number(a: &str, b: &str) -> bool {
    remove_digits(a) == remove_digits(b)
}

fn is_change(d: &DiffLine<'_>) -> bool {
    matches!(d.tag, DiffTag::Insert | DiffTag::Delete)
}

/// Edit counts of one pair of consecutive programs.
pub fn edit_counts(prev: &str, next: &str) -> EditCounts {
    let (a, b) = (splitlines(prev), splitlines(next));
    let diffs = compare(&a, &b, false);
    let mut c = EditCounts::default();
    let mut processed: FxHashSet<&str> = FxHashSet::default();
    for (i, d) in diffs.iter().enumerate() {
        if !is_change(d) || processed.contains(d.text.as_ref()) {
            continue;
        }
        let line: &str = d.text.as_ref();
        let partner = if d.tag == DiffTag::Insert {
            diffs[..i].iter().rev().find(|x| x.tag == DiffTag::Delete)
        } else {
            diffs[i + 1..].iter().find(|x| x.tag == DiffTag::Insert)
        };
        let Some(partner) = partner else { continue };
        let other: &str = partner.text.as_ref();
        processed.insert(other);
        processed.insert(line);
        if other.is_empty() {
            continue;
        }
        c.lines_modified += 1;
        if differs_only_by_color(line, other) {
            c.color_changes += 1;
        } else if differs_only_by_number(line, other) {
            c.number_changes += 1;
        }
    }
    for d in &diffs {
        if !is_change(d) || processed.contains(d.text.as_ref()) {
            continue;
        }
        if d.tag == DiffTag::Insert {
            c.lines_added += 1;
            let s = strip(d.text.as_ref());
            if s.starts_with('#') {
                c.comment_additions += 1;
            }
            if s.contains("->") {
                c.function_additions += 1;
            }
        } else {
            c.lines_deleted += 1;
        }
    }
    if c.lines_added >= 5 {
        c.num_large_add = 1;
    } else if c.lines_deleted >= 5 {
        c.num_large_del = 1;
    } else if c.lines_added > 0 {
        c.num_small_add = 1;
    } else if c.lines_deleted > 0 {
        c.num_small_del = 1;
    } else {
        c.num_modify_existing = 1;
    }
    c
}

/// Edit counts summed over all consecutive pairs of `programs`.
pub fn trace_edit_counts<'p>(programs: impl IntoIterator<Item = &'p str>) -> EditCounts {
    let mut total = EditCounts::default();
    let mut prev: Option<&str> = None;
    for p in programs {
        if let Some(q) = prev {
            total.add(&edit_counts(q, p));
        }
        prev = Some(p);
    }
    total
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Nonzero counts of one pair, by the paper's names.
    fn check(prev: &str, next: &str, want: &[(&str, usize)]) {
        let got: Vec<(&str, usize)> = edit_counts(prev, next).named().into_iter().filter(|(_, n)| *n > 0).collect();
        assert_eq!(got, want, "{prev:?} -> {next:?}");
    }

    // Expected values are the paper's `get_clean_edit_dict` run under Python 3.11.
    #[test]
    fn categories() {
        check("fd 100\n", "fd 100\n", &[("num_modify_existing", 1)]);
        check("pen red\nfd 100\n", "pen blue\nfd 100\n", &[("lines_modified", 1), ("color_changes", 1), ("num_modify_existing", 1)]);
        check("fd 100\n", "fd 50\n", &[("lines_modified", 1), ("number_changes", 1), ("num_modify_existing", 1)]);
        check("fd 100\n", "rt 100\n", &[("lines_modified", 1), ("num_modify_existing", 1)]);
        check("fd 1\n", "fd 1\n# hi\nf = ->\n", &[("lines_added", 2), ("comment_additions", 1), ("function_additions", 1), ("num_small_add", 1)]);
        check("a\nb\nc\nd\ne\nf\n", "", &[("lines_deleted", 6), ("num_large_del", 1)]);
        check("", "a\nb\nc\nd\ne\n", &[("lines_added", 5), ("num_large_add", 1)]);
        check("x\ny\n", "x\n", &[("lines_deleted", 1), ("num_small_del", 1)]);
    }

    #[test]
    fn quirks_of_pairing() {
        // Insertions with no deleted line before them stay plain additions.
        check("speed 5\n", "speed 5\ndot red\nbk 50\n", &[("lines_added", 2), ("num_small_add", 1)]);
        // A `+` emitted before every `-` (plain replace, `b` shorter) finds no partner.
        check("abc\nzzz\n", "qqq\n", &[("lines_added", 1), ("lines_deleted", 2), ("num_small_add", 1)]);
        // An empty partner line is marked processed but not counted as modified...
        check("fd 1\nX\n", "fd 1\n\n", &[("num_modify_existing", 1)]);
        // ...while an empty line whose partner is not empty is.
        check("fd 1\n\n", "fd 1\nrt 2\n", &[("lines_modified", 1), ("num_modify_existing", 1)]);
        check("fd 10\nfd 10\nrt 5\n", "fd 20\nrt 5\nfd 10\n", &[("lines_added", 2), ("lines_deleted", 2), ("num_small_add", 1)]);
    }
}
