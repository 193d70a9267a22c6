//! Edit distances: between short names, and between a program and a changed copy of it.

use similar::{ChangeTag, TextDiff};

/// Levenshtein distance over chars (insert, delete, substitute each cost 1).
pub fn levenshtein(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    let mut cur = vec![0; b.len() + 1];
    for (i, ca) in a.chars().enumerate() {
        cur[0] = i + 1;
        for (j, &cb) in b.iter().enumerate() {
            let sub = prev[j] + usize::from(ca != cb);
            cur[j + 1] = sub.min(prev[j + 1] + 1).min(cur[j] + 1);
        }
        std::mem::swap(&mut prev, &mut cur);
    }
    prev[b.len()]
}

/// Levenshtein distance between two versions of a program, computed on what lies
/// between their common prefix and suffix (the same number, since a shared end never
/// needs an edit): a fix that changes one line of a long program costs the length of
/// the program once, not its square.
pub fn program_distance(a: &str, b: &str) -> usize {
    let (a, b) = differing_middle(a, b);
    levenshtein(a, b)
}

/// [`program_distance`] where swapping two adjacent characters costs 1, as in
/// [`typo_distance`]: how far a fix is from what the student typed (`df 100`
/// is one slip from `fd 100`, as from `pf 100`).
pub fn program_typo_distance(a: &str, b: &str) -> usize {
    let (a, b) = differing_middle(a, b);
    typo_distance(a, b)
}

/// `a` and `b` without their common prefix and suffix.
fn differing_middle<'a, 'b>(a: &'a str, b: &'b str) -> (&'a str, &'b str) {
    let prefix: usize = a.chars().zip(b.chars()).take_while(|(x, y)| x == y).map(|(x, _)| x.len_utf8()).sum();
    let (a, b) = (&a[prefix..], &b[prefix..]);
    let suffix: usize = a.chars().rev().zip(b.chars().rev()).take_while(|(x, y)| x == y).map(|(x, _)| x.len_utf8()).sum();
    (&a[..a.len() - suffix.min(a.len())], &b[..b.len() - suffix.min(b.len())])
}

/// Non-blank lines of `before` that `after` drops without writing anything in their
/// place (a changed or moved line is not dropped).
pub fn deleted_lines(before: &str, after: &str) -> Vec<usize> {
    let diff = TextDiff::from_lines(before, after);
    let mut dropped = Vec::new();
    let mut surplus = 0isize;
    for op in diff.ops() {
        let (mut removed, mut added) = (Vec::new(), 0usize);
        for change in diff.iter_changes(op) {
            match change.tag() {
                ChangeTag::Delete if !change.value().trim().is_empty() => removed.push(change.old_index().unwrap_or(0)),
                ChangeTag::Insert if !change.value().trim().is_empty() => added += 1,
                _ => {}
            }
        }
        surplus += removed.len() as isize - added as isize;
        // Lines replaced one for one are changes; what is left over was removed.
        dropped.extend(removed.into_iter().skip(added));
    }
    // The diff may align a changed line with an equal neighbour and report a
    // delete here and an insert there (`rt 12O` between two `rt 120`): only as
    // many lines as the program lost are deleted.
    dropped.truncate(usize::try_from(surplus).unwrap_or(0));
    // A line moved elsewhere (a definition put before its use) is kept: `after` has
    // as many copies of it as `before` (repeated lines, as in `fd 50` / `rt 90`
    // drawn four times, count one by one). A line that only closes a block the way
    // another language does holds nothing of the student's.
    let (had, has) = (line_copies(before), line_copies(after));
    let lines: Vec<&str> = before.lines().collect();
    dropped.retain(|&i| {
        lines.get(i).is_some_and(|l| has.get(l.trim()).copied().unwrap_or(0) < had.get(l.trim()).copied().unwrap_or(0) && !is_foreign_block_end(l))
    });
    dropped
}

/// How many times each line (trimmed) stands in `text`.
fn line_copies(text: &str) -> std::collections::HashMap<&str, usize> {
    let mut n = std::collections::HashMap::new();
    for l in text.lines() {
        *n.entry(l.trim()).or_default() += 1;
    }
    n
}

/// Lines that close a block the way Ruby, Lua, Basic, a shell or JavaScript do;
/// CoffeeScript closes blocks by indentation alone.
const FOREIGN_ENDS: [&str; 14] =
    ["end", "end if", "endif", "end for", "endfor", "end while", "endwhile", "end def", "end function", "done", "fi", "}", "};", "end;"];

/// Whether `line` (comments aside) only closes a block the way another language does.
pub fn is_foreign_block_end(line: &str) -> bool {
    let code = line.split('#').next().unwrap_or("").trim().to_lowercase();
    FOREIGN_ENDS.contains(&code.as_str())
}

/// Levenshtein distance where swapping two adjacent chars also costs 1 (optimal
/// string alignment): `tr` is one slip from `rt`.
pub fn typo_distance(a: &str, b: &str) -> usize {
    let (a, b): (Vec<char>, Vec<char>) = (a.chars().collect(), b.chars().collect());
    // Three rows of the table (i - 2, i - 1, i): a program's changed middle can be long.
    let mut before: Vec<usize> = vec![0; b.len() + 1];
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    let mut cur = vec![0usize; b.len() + 1];
    for i in 1..=a.len() {
        cur[0] = i;
        for j in 1..=b.len() {
            let cost = usize::from(a[i - 1] != b[j - 1]);
            let mut best = (prev[j] + 1).min(cur[j - 1] + 1).min(prev[j - 1] + cost);
            if i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] {
                best = best.min(before[j - 2] + 1);
            }
            cur[j] = best;
        }
        std::mem::swap(&mut before, &mut prev);
        std::mem::swap(&mut prev, &mut cur);
    }
    prev[b.len()]
}

/// Names in `candidates` close to `name` (case-insensitive distance within a budget
/// that grows with the name's length), closest first, at most `limit`.
pub fn nearest<'a>(name: &str, candidates: &[&'a str], limit: usize) -> Vec<(&'a str, usize)> {
    nearest_preferring(name, candidates, limit, &[])
}

/// [`nearest`], where among names equally close the earlier in `preferred` wins
/// (`en` -> `pen` before `ln`, `et` -> `rt` before `ht`).
pub fn nearest_preferring<'a>(name: &str, candidates: &[&'a str], limit: usize, preferred: &[&str]) -> Vec<(&'a str, usize)> {
    let lower = name.to_lowercase();
    let budget = match name.chars().count() {
        0..=2 => 1,
        3..=5 => 2,
        _ => 3,
    };
    // Symbol-named globals (`$`, `_`) are never what a student meant to type.
    let mut found: Vec<(&'a str, usize)> = candidates
        .iter()
        .filter(|&&c| c != name && c.starts_with(|ch: char| ch.is_alphabetic()))
        .map(|&c| (c, typo_distance(&lower, &c.to_lowercase())))
        .filter(|&(_, d)| d <= budget)
        .collect();
    // A name cut short (`f`, `mov`) is most likely the start of the command it became;
    // a letter swapped for the key beside it (`kt` -> `lt`, not `rt`) is a slip of the finger.
    let rank = |c: &str| preferred.iter().position(|p| *p == c).unwrap_or(preferred.len());
    found.sort_by_key(|&(c, d)| (d, !c.to_lowercase().starts_with(&lower), !neighbour_key_slip(&lower, &c.to_lowercase()), rank(c), c.len().abs_diff(name.len()), c));
    found.truncate(limit);
    found
}

/// Whether `typed` is `meant` with one letter replaced by a key next to it on a
/// QWERTY keyboard (`kt` for `lt`, `fs` for `fd`).
fn neighbour_key_slip(typed: &str, meant: &str) -> bool {
    const ROWS: [&str; 3] = ["qwertyuiop", "asdfghjkl", "zxcvbnm"];
    let place = |c: char| ROWS.iter().enumerate().find_map(|(r, row)| row.find(c).map(|k| (r as i32, k as i32)));
    let (t, m): (Vec<char>, Vec<char>) = (typed.chars().collect(), meant.chars().collect());
    if t.len() != m.len() {
        return false;
    }
    let mut differing = t.iter().zip(&m).filter(|(a, b)| a != b);
    match (differing.next(), differing.next()) {
        (Some((&a, &b)), None) => match (place(a), place(b)) {
            // Same row, one key apart; or the row above or below, where the keys overlap.
            (Some((ra, ka)), Some((rb, kb))) => (ra == rb && (ka - kb).abs() == 1) || ((ra - rb).abs() == 1 && (0..=1).contains(&(ka - kb + i32::from(ra > rb)))),
            _ => false,
        },
        _ => false,
    }
}

/// Real colors for a made-up compound color (`babyblue` -> `blue`, `lightblue`): the
/// longest color the name ends or starts with, then colors sharing that part, closest
/// first. At most `limit`.
pub fn compound_colors<'a>(name: &str, colors: &[&'a str], limit: usize) -> Vec<&'a str> {
    let lower = name.to_lowercase();
    let Some(&part) = colors
        .iter()
        .filter(|c| c.len() >= 3 && c.len() < lower.len() && (lower.ends_with(*c) || lower.starts_with(*c)))
        .max_by_key(|c| c.len())
    else {
        return Vec::new();
    };
    let mut relatives: Vec<&'a str> = colors
        .iter()
        .copied()
        .filter(|c| *c != part && c.len() > part.len() && (c.ends_with(part) || c.starts_with(part)))
        .collect();
    relatives.sort_by_key(|c| (levenshtein(&lower, c), *c));
    let mut out = vec![part];
    out.extend(relatives);
    out.truncate(limit);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn distances() {
        for (a, b, d) in [("", "", 0), ("fd", "fd", 0), ("kitten", "sitting", 3), ("babyblue", "lightblue", 5), ("fowrard", "forward", 2), ("é", "e", 1)] {
            assert_eq!(levenshtein(a, b), d, "{a} {b}");
            assert_eq!(levenshtein(b, a), d, "{b} {a}");
        }
    }

    #[test]
    fn program_distance_is_levenshtein_on_the_changed_middle() {
        for (a, b) in [("", ""), ("fd 100\nrt 90\n", "fd 100\nrt 9O\n"), ("pen red\nfd 1\n", "fd 1\n"), ("aé\nb", "aè\nb"), ("abcabc", "abc"), ("x", "")] {
            assert_eq!(program_distance(a, b), levenshtein(a, b), "{a:?} {b:?}");
            assert_eq!(program_distance(b, a), levenshtein(b, a), "{b:?} {a:?}");
        }
    }

    #[test]
    fn deleted_lines_are_those_dropped_without_a_replacement() {
        assert_eq!(deleted_lines("fd 1\nfor\n", "fd 1\n"), vec![1]);
        assert!(deleted_lines("fd 1)\nrt 90\n", "fd 1\nrt 90\n").is_empty());
        // Moved, not deleted.
        assert!(deleted_lines("f()\nf = -> fd 1\n", "f = -> fd 1\nf()\n").is_empty());
        // A copy of a line written twice is still deleted.
        assert_eq!(deleted_lines("fd 50\nrt 90\nfd 50\n  rt 90\n", "fd 50\nrt 90\nfd 50\n"), vec![3]);
        // A line changed into a copy of its neighbour is not deleted, however the diff aligns it.
        assert!(deleted_lines("fd 10; rt 120\nfd 80; rt 12O\nfd 80; rt 120\nfd 1\n", "fd 10; rt 120\nfd 80; rt 120\nfd 80; rt 120\nfd 1\n").is_empty());
        // Blank lines do not count.
        assert!(deleted_lines("fd 1\n\nrt 90\n", "fd 1\nrt 90\n").is_empty());
        assert_eq!(deleted_lines("a\nb\nc\n", "a\nx\n"), vec![2]);
        // `end` from another language is not the student's idea.
        assert!(deleted_lines("for [1..2]\n  fd 1\nend\n", "for [1..2]\n  fd 1\n").is_empty());
    }

    #[test]
    fn compound_colors_fall_back_to_their_known_part() {
        let colors = ["blue", "lightblue", "skyblue", "red", "darkred"];
        assert_eq!(compound_colors("babyblue", &colors, 2), vec!["blue", "skyblue"]);
        assert_eq!(compound_colors("redish", &colors, 3), vec!["red", "darkred"]);
        assert!(compound_colors("blue", &colors, 2).is_empty());
        assert!(compound_colors("fd", &colors, 2).is_empty());
    }

    #[test]
    fn nearest_prefers_closest_then_similar_length() {
        let names = ["red", "green", "greenyellow", "gray", "grey"];
        assert_eq!(nearest("gren", &names, 2), vec![("grey", 1), ("green", 1)]);
        assert_eq!(nearest("Red", &names, 1), vec![("red", 0)]);
        assert!(nearest("zzzzzz", &names, 3).is_empty());
        let commands = ["$", "_", "fd", "bk", "pen", "pe"];
        assert_eq!(nearest("f", &commands, 3), vec![("fd", 1)]);
        // Two letters swapped are one slip.
        assert_eq!(nearest("tr", &["rt", "lt", "fd"], 1), vec![("rt", 1)]);
        assert_eq!(nearest_preferring("en", &["ln", "pen"], 1, &["fd", "pen"]), vec![("pen", 1)]);
        assert_eq!(nearest_preferring("et", &["ht", "rt", "lt"], 2, &["rt", "lt"]), vec![("rt", 1), ("lt", 1)]);
        // A key beside the meant one beats a commoner command as far away.
        assert_eq!(nearest_preferring("kt", &["rt", "lt"], 2, &["rt", "lt"]), vec![("lt", 1), ("rt", 1)]);
        assert!(neighbour_key_slip("fs", "fd") && neighbour_key_slip("xot", "dot") && neighbour_key_slip("oen", "pen"));
        assert!(!neighbour_key_slip("pf", "fd") && !neighbour_key_slip("kt", "rt") && !neighbour_key_slip("zot", "dot") && !neighbour_key_slip("fd", "fd"));
        assert_eq!(typo_distance("fowrard", "forward"), 1);
        assert_eq!(typo_distance("kitten", "sitting"), 3);
        assert_eq!(typo_distance("abcd", "badc"), 2);
        assert_eq!(typo_distance("", "fd"), 2);
        assert_eq!(program_typo_distance("pen red\ndf 100\n", "pen red\nfd 100\n"), 1);
        assert_eq!(program_distance("pen red\ndf 100\n", "pen red\nfd 100\n"), 2);
    }
}
