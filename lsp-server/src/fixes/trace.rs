//! Fixes from the student's own trace: a line that broke goes back to how the
//! student had it in an earlier state of the title, either the lines changed since
//! the last state or a close line the student wrote before.

use super::distance::levenshtein;
use super::{Fix, Rule};
use pencil_sandbox::ProgramError;
use similar::{DiffOp, TextDiff};

/// Changed stretches of at most this many lines are restored whole.
const MAX_HUNK_LINES: usize = 3;

/// Candidate fixes for `error` in `code` from the title's `earlier` states (oldest first).
pub fn trace_fixes(code: &str, error: &ProgramError, earlier: &[String]) -> Vec<Fix> {
    let Some(last) = earlier.iter().rev().find(|e| e.trim_end() != code.trim_end()) else { return Vec::new() };
    let lines: Vec<&str> = code.split_inclusive('\n').collect();
    if lines.is_empty() {
        return Vec::new();
    }
    let at = error.line.map_or(0, |l| l.saturating_sub(1) as usize).min(lines.len() - 1);
    let mut out = Vec::new();
    out.extend(restore_changed(&lines, last, at));
    out.extend(closest_earlier_line(&lines, at, earlier));
    out
}

/// Lines changed since the last state (one for one, not added), nearest the error
/// first: each stretch put back as it was.
fn restore_changed(lines: &[&str], last: &str, at: usize) -> Vec<Fix> {
    let old: Vec<&str> = last.split_inclusive('\n').collect();
    let diff = TextDiff::from_slices(&old, lines);
    let mut hunks: Vec<(usize, std::ops::Range<usize>, std::ops::Range<usize>)> = diff
        .ops()
        .iter()
        .filter_map(|op| match *op {
            // Only lines the student edited, not ones they rewrote: putting back `ht()`
            // where the student now writes `fill, blue` undoes their new idea.
            DiffOp::Replace { old_index, old_len, new_index, new_len }
                if new_len <= MAX_HUNK_LINES
                    && old_len == new_len
                    && (0..new_len).all(|k| is_edit_of(old[old_index + k], lines[new_index + k])) =>
            {
                let distance = if (new_index..new_index + new_len).contains(&at) { 0 } else { new_index.abs_diff(at).min((new_index + new_len).abs_diff(at + 1)) };
                Some((distance, old_index..old_index + old_len, new_index..new_index + new_len))
            }
            _ => None,
        })
        .collect();
    hunks.sort_by_key(|(d, _, _)| *d);
    hunks
        .into_iter()
        .take(2)
        .map(|(_, was, now)| {
            let mut new_code: String = lines[..now.start].concat();
            for line in &old[was.clone()] {
                new_code.push_str(line);
            }
            if !new_code.ends_with('\n') && now.end < lines.len() {
                new_code.push('\n');
            }
            new_code.push_str(&lines[now.end..].concat());
            let what = if now.len() == 1 { format!("line {}", now.start + 1) } else { format!("lines {}-{}", now.start + 1, now.end) };
            let shown: String = old[was.start].trim().chars().take(30).collect();
            Fix { rule: Rule::EarlierLine, title: format!("Write {what} as you had it before (`{shown}`)"), new_code }
        })
        .collect()
}

/// Whether `now` is `before` edited rather than rewritten: at most half of it
/// changed, and not only by typing on in its last word.
fn is_edit_of(before: &str, now: &str) -> bool {
    let (before, now) = (before.trim(), now.trim());
    levenshtein(before, now) * 2 <= before.chars().count().max(now.chars().count()) && !typed_on(before, now)
}

/// Whether `now` is `before` with more letters or digits typed onto its last word
/// (`fd 1` -> `fd 1oo`): the earlier line is a word the student had not finished,
/// and putting it back would undo their typing, not their mistake.
fn typed_on(before: &str, now: &str) -> bool {
    let word_char = |c: char| c.is_alphanumeric() || c == '_';
    now.len() > before.len()
        && now.starts_with(before)
        && before.chars().next_back().is_some_and(word_char)
        && now[before.len()..].chars().next().is_some_and(word_char)
}

/// The error line, replaced by the closest line the student wrote in an earlier
/// state (a few characters away), keeping its indentation.
fn closest_earlier_line(lines: &[&str], at: usize, earlier: &[String]) -> Option<Fix> {
    let line = lines[at];
    let text = line.trim();
    if text.is_empty() {
        return None;
    }
    let budget = (text.chars().count() / 4).clamp(1, 4);
    let mut best: Option<(usize, &str)> = None;
    for state in earlier.iter().rev() {
        for candidate in state.lines().map(str::trim) {
            if candidate == text || candidate.is_empty() || candidate.len().abs_diff(text.len()) > budget || typed_on(candidate, text) {
                continue;
            }
            let d = levenshtein(text, candidate);
            if d <= budget && best.is_none_or(|(bd, _)| d < bd) {
                best = Some((d, candidate));
            }
        }
    }
    let (_, candidate) = best?;
    let indent = &line[..line.len() - line.trim_start().len()];
    let ending = &line[line.trim_end().len()..];
    let mut new_code: String = lines[..at].concat();
    new_code.push_str(&format!("{indent}{candidate}{ending}"));
    new_code.push_str(&lines[at + 1..].concat());
    let shown: String = candidate.chars().take(30).collect();
    Some(Fix { rule: Rule::EarlierLine, title: format!("Write line {} the way you wrote it before (`{shown}`)", at + 1), new_code })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[track_caller]
    fn check(code: &str, line: u32, earlier: &[&str], expected: &[&str]) {
        let e = ProgramError { kind: "SyntaxError".into(), message: "unexpected".into(), line: Some(line), column: None };
        let earlier: Vec<String> = earlier.iter().map(|s| s.to_string()).collect();
        let got: Vec<String> = trace_fixes(code, &e, &earlier).into_iter().map(|f| f.new_code).collect();
        assert_eq!(got, expected, "{code:?}");
    }

    #[test]
    fn changed_lines_go_back_nearest_the_error_first() {
        check("pen red\nfd 1O0\nrt 90\n", 2, &["pen red\nfd 100\nrt 90\n"], &["pen red\nfd 100\nrt 90\n", "pen red\nfd 100\nrt 90\n"]);
        // Lines added since are not removed by this rule.
        check("pen red\nfd 100\nfowrard 5\n", 3, &["pen red\nfd 100\n"], &[]);
        // A line rewritten, not edited, stays the student's.
        check("pen red\nfill, blue\n", 2, &["pen red\nht()\n"], &[]);
    }

    #[test]
    fn a_word_still_being_typed_is_not_undone() {
        // `fd 1` ran while the student was typing `100`: putting it back undoes the typing.
        check("pen red\nfd 1oo\n", 2, &["pen red\nfd 1\n"], &[]);
        // A stray bracket after a finished line is not typing on: the line goes back.
        check("pen red\nfd 100)\n", 2, &["pen red\nfd 100\n"], &["pen red\nfd 100\n", "pen red\nfd 100\n"]);
        assert!(typed_on("fd 1", "fd 1oo") && !typed_on("fd 100", "fd 100)") && !typed_on("fd 1", "fd 1 "));
    }

    #[test]
    fn a_close_line_written_before_replaces_the_error_line() {
        check("pen red\n  fowrard 50\n", 2, &["speed 2\nforward 50\n", "speed 2\n"], &["pen red\n  forward 50\n"]);
        // Too far: nothing.
        check("pen red\nzzz\n", 2, &["dot blue, 50\n"], &[]);
        // No earlier state: nothing.
        check("fd 1O0\n", 1, &[], &[]);
    }
}
