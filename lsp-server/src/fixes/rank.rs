//! One ranking for every verified fix, rule-based or sampled by the model: by what
//! it keeps of the student's program and by where the student's own trace was
//! going, not by the size of the edit alone. Each candidate's [`Score`] is computed
//! once (one edit distance, one line diff), then sorting only compares scores.
//!
//! The order: fixes that run before fixes that only get past this error; fixes that
//! keep every line the student wrote before fixes that delete one (and those are
//! not offered at all when a fix that keeps the lines runs); a program the student
//! already had; a fix that changes only letter case (the student typed every
//! letter, `RT 90` -> `rt 90`); then fixes whose new lines and words the student
//! wrote in earlier states; then, among the fixes those cannot tell apart, the one the model finds
//! likeliest for this student to write next ([`super::rank_by_model`], when a model is
//! loaded); then the smallest change.

use super::distance::{deleted_lines, program_typo_distance};
use similar::{ChangeTag, TextDiff};
use std::cmp::{Ordering, Reverse};
use std::collections::HashSet;

/// Earlier states of the title read back when ranking (the newest ones).
pub const TRACE_STATES: usize = 30;

/// What the student wrote before in this title: whole states, lines and words.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TraceIndex {
    states: HashSet<String>,
    lines: HashSet<String>,
    words: HashSet<String>,
}

impl TraceIndex {
    /// Indexes the earlier states (oldest first; the newest [`TRACE_STATES`] count),
    /// leaving out any equal to `current`.
    pub fn new<S: AsRef<str>>(earlier: &[S], current: &str) -> TraceIndex {
        let mut index = TraceIndex::default();
        let start = earlier.len().saturating_sub(TRACE_STATES);
        for state in &earlier[start..] {
            let state = state.as_ref();
            if state.trim_end() == current.trim_end() {
                continue;
            }
            index.states.insert(state.trim_end().to_string());
            for line in state.lines().map(str::trim).filter(|l| !l.is_empty()) {
                index.lines.insert(line.to_string());
                index.words.extend(words(line).map(str::to_string));
            }
        }
        index
    }

    /// Whether nothing was written before.
    pub fn is_empty(&self) -> bool {
        self.states.is_empty()
    }
}

fn words(line: &str) -> impl Iterator<Item = &str> {
    line.split(|c: char| !(c.is_alphanumeric() || c == '_' || c == '$')).filter(|w| !w.is_empty())
}

/// What the ranking knows of one candidate against the student's program.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Score {
    /// The candidate runs (rather than only getting past this error).
    pub runs: bool,
    /// Edit distance from the student's program, a swap of two adjacent
    /// characters counting one edit ([`program_typo_distance`]).
    pub distance: usize,
    /// 0-based lines of the student's program the candidate drops without a replacement.
    pub deleted: Vec<usize>,
    /// The candidate is a program the student already had in this title.
    pub earlier_state: bool,
    /// The candidate differs from the student's program only in letter case.
    pub case_only: bool,
    /// New lines of the candidate that the student wrote in earlier states (each
    /// counts 3) plus new words the student used before.
    pub from_trace: usize,
    /// Place among the fixes tied with it on everything above, by the model's
    /// likelihood that the student writes it next (0: likeliest); `None` when
    /// the model did not read it.
    pub model_rank: Option<u32>,
}

impl Score {
    /// Scores `candidate` against `current` and the student's earlier states.
    pub fn new(current: &str, trace: &TraceIndex, candidate: &str, runs: bool) -> Score {
        let distance = program_typo_distance(current, candidate);
        let deleted = deleted_lines(current, candidate);
        let earlier_state = trace.states.contains(candidate.trim_end());
        let case_only = distance > 0 && current.len() == candidate.len() && current.to_lowercase() == candidate.to_lowercase();
        let mut from_trace = 0;
        if !trace.is_empty() {
            let diff = TextDiff::from_lines(current, candidate);
            let mut removed_words: HashSet<&str> = HashSet::new();
            let mut added: Vec<&str> = Vec::new();
            for change in diff.iter_all_changes() {
                match change.tag() {
                    ChangeTag::Delete => removed_words.extend(words(change.value())),
                    ChangeTag::Insert => added.push(change.value()),
                    ChangeTag::Equal => {}
                }
            }
            for line in added {
                let trimmed = line.trim();
                if trimmed.is_empty() {
                    continue;
                }
                if trace.lines.contains(trimmed) {
                    from_trace += 3;
                }
                from_trace += words(trimmed).filter(|w| !removed_words.contains(w) && trace.words.contains(*w)).count();
            }
        }
        Score { runs, distance, deleted, earlier_state, case_only, from_trace, model_rank: None }
    }

    /// Whether the candidate deletes a line the student wrote.
    pub fn deletes(&self) -> bool {
        !self.deleted.is_empty()
    }
}

/// Best first: see the module docs.
pub fn order(a: &Score, b: &Score) -> Ordering {
    let key = |s: &Score| (rule_key(s), s.model_rank.unwrap_or(u32::MAX), s.distance);
    key(a).cmp(&key(b))
}

/// What the rules and the trace say of a fix, before the model and edit size.
fn rule_key(s: &Score) -> (Reverse<bool>, bool, Reverse<bool>, Reverse<bool>, Reverse<usize>) {
    (Reverse(s.runs), s.deletes(), Reverse(s.earlier_state), Reverse(s.case_only), Reverse(s.from_trace))
}

/// Most fixes the model reads in one ranking: one batch, a fraction of a second.
pub const MODEL_RANKED: usize = 6;

/// How many of the leading `scores` (sorted by [`order`]) the rules and the trace
/// cannot tell apart from the first: tied with it on everything but the model and
/// edit size. At most [`MODEL_RANKED`].
pub fn tied_with_first<'a>(scores: impl IntoIterator<Item = &'a Score>) -> usize {
    let mut scores = scores.into_iter().take(MODEL_RANKED);
    let Some(first) = scores.next().map(rule_key) else { return 0 };
    1 + scores.take_while(|s| rule_key(s) == first).count()
}

/// Each candidate's place by the model's log-probability (0: likeliest); equal
/// likelihoods keep the given order (the smaller edit first). `None` for all
/// when a value is not finite.
pub fn places_by_likelihood(log_probs: &[f64]) -> Option<Vec<u32>> {
    if log_probs.iter().any(|x| !x.is_finite()) {
        return None;
    }
    let mut by_likelihood: Vec<usize> = (0..log_probs.len()).collect();
    by_likelihood.sort_by(|&a, &b| log_probs[b].total_cmp(&log_probs[a]));
    let mut places = vec![0u32; log_probs.len()];
    for (place, &i) in by_likelihood.iter().enumerate() {
        places[i] = u32::try_from(place).unwrap_or(u32::MAX);
    }
    Some(places)
}

/// Drops the candidates that delete a line the student wrote when another candidate
/// that keeps every line runs.
pub fn keep_offerable<T>(items: Vec<T>, score: impl Fn(&T) -> &Score) -> Vec<T> {
    if items.iter().any(|i| score(i).runs && !score(i).deletes()) {
        items.into_iter().filter(|i| !score(i).deletes()).collect()
    } else {
        items
    }
}

/// `title`, saying plainly which lines the fix deletes when its own words do not.
pub fn label_deletions(title: &str, score: &Score) -> String {
    if !score.deletes() || title.starts_with("Remove") || title.starts_with("Leave out") || title.starts_with("Delete") {
        return title.to_string();
    }
    let lines: Vec<String> = score.deleted.iter().map(|i| (i + 1).to_string()).collect();
    let what = if lines.len() == 1 { format!("line {}", lines[0]) } else { format!("lines {}", lines.join(", ")) };
    format!("{title} (deletes {what}, which you wrote)")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ranked(current: &str, earlier: &[&str], candidates: &[(&str, bool)]) -> Vec<String> {
        let trace = TraceIndex::new(earlier, current);
        let scored: Vec<(String, Score)> =
            candidates.iter().map(|(c, runs)| (c.to_string(), Score::new(current, &trace, c, *runs))).collect();
        let mut kept = keep_offerable(scored, |(_, s)| s);
        kept.sort_by(|a, b| order(&a.1, &b.1));
        kept.into_iter().map(|(c, _)| c).collect()
    }

    #[test]
    fn a_fix_that_deletes_a_line_loses_to_one_that_keeps_it() {
        let current = "pen red\nfd 100\nfor\n";
        // Deleting is the smaller edit, but a fix that keeps the line runs: it is not offered.
        assert_eq!(ranked(current, &[], &[("pen red\nfd 100\n", true), ("pen red\nfd 100\nfor [1..2]\n  fd 1\n", true)]), ["pen red\nfd 100\nfor [1..2]\n  fd 1\n"]);
        // When nothing else runs, it is offered, after nothing.
        assert_eq!(ranked(current, &[], &[("pen red\nfd 100\n", true), ("pen red\nfd 10\nfor\n", false)]), ["pen red\nfd 100\n", "pen red\nfd 10\nfor\n"]);
    }

    #[test]
    fn a_candidate_matching_the_students_earlier_state_wins() {
        let current = "pen red\nfd 1O0\nrt 90\n";
        let earlier = ["pen red\nfd 100\n", "pen red\nfd 100\nrt 90\n"];
        let candidates = [("pen red\nfd 10\nrt 90\n", true), ("pen red\nfd 100\nrt 90\n", true), ("pen red\nfd 1\nrt 90\n", true)];
        assert_eq!(ranked(current, &earlier, &candidates)[0], "pen red\nfd 100\nrt 90\n");
        // Without a trace, the smallest change wins.
        assert_eq!(ranked(current, &[], &candidates)[0], "pen red\nfd 10\nrt 90\n");
    }

    #[test]
    fn lines_and_words_the_student_wrote_before_count() {
        let current = "speed 5\nfowrard 50\n";
        let earlier = ["speed 5\nforward 10\n"];
        let trace = TraceIndex::new(&earlier, current);
        let fd = Score::new(current, &trace, "speed 5\nfd 50\n", true);
        let forward = Score::new(current, &trace, "speed 5\nforward 50\n", true);
        assert!(forward.from_trace > fd.from_trace, "{forward:?} {fd:?}");
        assert_eq!(order(&forward, &fd), Ordering::Less);
        // The current program is not an earlier state of itself.
        assert!(TraceIndex::new(&[current], current).is_empty());
    }

    #[test]
    fn running_beats_progress_and_titles_say_what_is_deleted() {
        let current = "fd 1\nzz\nrt 90\n";
        let trace = TraceIndex::default();
        let progress = Score::new(current, &trace, "fd 1\nzz \nrt 90\n", false);
        let deleting = Score::new(current, &trace, "fd 1\nrt 90\n", true);
        assert_eq!(order(&deleting, &progress), Ordering::Less);
        assert_eq!(label_deletions("Fix in my style: change lines 2–3", &deleting), "Fix in my style: change lines 2–3 (deletes line 2, which you wrote)");
        assert_eq!(label_deletions("Leave out the unfinished last line 2", &deleting), "Leave out the unfinished last line 2");
        assert_eq!(label_deletions("Add a comma", &progress), "Add a comma");
    }

    #[test]
    fn a_fix_that_changes_only_letter_case_comes_before_the_model_and_edit_size() {
        let current = "pen red\nRT 90\n";
        let trace = TraceIndex::default();
        let case = Score::new(current, &trace, "pen red\nrt 90\n", true);
        let mut other = Score::new(current, &trace, "pen red\nlt 90\n", true);
        assert!(case.case_only && !other.case_only && case.distance == other.distance);
        // Even when the model would put the other first.
        other.model_rank = Some(0);
        assert_eq!(order(&case, &other), Ordering::Less);
        assert_eq!(tied_with_first([&case, &other]), 1, "the model is not asked to choose");
        assert!(!Score::new(current, &trace, current, true).case_only, "no change is not a case change");
    }
}
