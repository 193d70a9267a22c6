//! "Fix in my style": the plain parts. Which edit size the hint-size setting asks
//! the model for, how sandbox-verified candidates are ranked (by the same score as
//! the rule-based fixes, [`crate::fixes::rank`], then BLEU), and the title that
//! says what a fix changes.

use pencil_core::inference::{EditSize, StopReason};
use pencil_core::trace::{format_timestamp, parse_timestamp};
use pencil_core::{ProgramState, Trace};
use crate::fixes::rank::{self, Score, TraceIndex};
use pencil_core::metrics::bleu::quality_bleu;
use serde::Deserialize;
use similar::{ChangeTag, TextDiff};

/// How large a change the student wants: the time header the model is prompted with.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum HintSize {
    /// 1 s after the current state: the smallest edits.
    #[default]
    Small,
    /// 20 s after.
    Medium,
    /// 60 s after: larger rewrites.
    Large,
}

impl HintSize {
    /// The time gap the prompt's next header carries.
    pub fn edit_size(self) -> EditSize {
        EditSize::Seconds(match self {
            HintSize::Small => 1,
            HintSize::Medium => 20,
            HintSize::Large => 60,
        })
    }
}

/// A sampled program that ran in the sandbox, ranked against the current program.
#[derive(Debug, Clone, PartialEq)]
pub struct StyleFix {
    /// The whole fixed program.
    pub new_code: String,
    /// What it changes, for the code action's title.
    pub title: String,
    /// Levenshtein distance from the current program (characters; the rule-based fixes' distance).
    pub distance: usize,
    /// How it ranks against the student's program and trace.
    pub score: Score,
    /// BLEU of the fix against the current program (the tie-breaker).
    pub bleu: f64,
    /// Store id of the hint row, once recorded.
    pub hint_id: Option<i64>,
}

/// Largest share of the current program (in characters, by
/// [`program_distance`]) a fix may rewrite: a recovery edit keeps most of the student's work,
/// and a running program that replaces it is not a fix of it.
pub const MAX_REWRITE_SHARE: f64 = 0.5;

/// Edit distance always allowed, so that short programs can still be fixed.
pub const MIN_REWRITE_CHARS: usize = 40;

/// Whether a candidate `distance` characters away is still an edit of `current`.
pub fn keeps_the_program(current: &str, distance: usize) -> bool {
    let limit = (current.chars().count() as f64 * MAX_REWRITE_SHARE) as usize;
    distance <= limit.max(MIN_REWRITE_CHARS)
}

/// Distinct running candidates ranked for the student by [`rank::order`] against
/// `current` and the student's earlier states, then highest BLEU, then text (so
/// ties are stable). Blank programs, the unchanged program and rewrites of most of
/// it ([`keeps_the_program`]) are not fixes; one that deletes a line the student
/// wrote is offered only if no other keeps every line, and says so. At most `limit`.
pub fn rank(current: &str, trace: &TraceIndex, running: impl IntoIterator<Item = String>, limit: usize) -> Vec<StyleFix> {
    let mut seen = std::collections::HashSet::new();
    let fixes: Vec<StyleFix> = running
        .into_iter()
        .filter(|c| !c.trim().is_empty() && c.trim_end() != current.trim_end())
        .filter(|c| seen.insert(c.clone()))
        .map(|new_code| (Score::new(current, trace, &new_code, true), new_code))
        .filter(|(score, _)| keeps_the_program(current, score.distance))
        .map(|(score, new_code)| StyleFix {
            distance: score.distance,
            bleu: quality_bleu(&[new_code.as_str()], &[current]),
            title: rank::label_deletions(&describe_change(current, &new_code), &score),
            score,
            new_code,
            hint_id: None,
        })
        .collect();
    let mut fixes = rank::keep_offerable(fixes, |f| &f.score);
    fixes.sort_by(|a, b| rank::order(&a.score, &b.score).then(b.bleu.total_cmp(&a.bleu)).then_with(|| a.new_code.cmp(&b.new_code)));
    fixes.truncate(limit);
    // A student choosing between fixes must see which is which.
    let mut titles = std::collections::HashMap::<String, usize>::new();
    for fix in &mut fixes {
        let n = titles.entry(fix.title.clone()).or_insert(0);
        *n += 1;
        if *n > 1 {
            fix.title = format!("{} (option {n})", fix.title);
        }
    }
    fixes
}

/// The program state a sample proposes, read the way the paper's parser reads a
/// trace: a state ends at the first `CODE <digit>` (the start of a following
/// header, even one the model wrote badly) or at `<|endoftext|>`; a sample cut off
/// by the token budget or the context before either is not a whole state.
pub fn sampled_state(text: &str, stop: StopReason) -> Option<&str> {
    let cut = text.match_indices("CODE ").find(|(i, _)| text[i + 5..].starts_with(|c: char| c.is_ascii_digit())).map(|(i, _)| i);
    match (cut, stop) {
        (Some(i), _) => Some(&text[..i]),
        (None, StopReason::EndOfText | StopReason::NextHeader) => Some(text),
        (None, StopReason::MaxTokens | StopReason::Context) => None,
    }
}

/// Lines above the error's line the model still writes (and may change): a
/// compiler often reports a mistake a line or two after it.
pub const EDIT_MARGIN: usize = 2;

/// How many of the current program's first lines a fix keeps as they are: those
/// more than [`EDIT_MARGIN`] lines above the error's (1-based) line. A student's
/// next state keeps the program above a mistake, and this small model copies long
/// programs badly, so the sample begins there ([`kept_start`]); no line, none kept.
pub fn kept_lines(current: &str, error_line: Option<u32>) -> usize {
    let Some(line) = error_line else { return 0 };
    (line as usize).saturating_sub(1 + EDIT_MARGIN).min(current.lines().count())
}

/// One round of a "Fix in my style" search: `samples` samples begun after `kept`
/// lines of the current program ([`kept_lines`]), the request's seed varied by `attempt`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SearchRound {
    /// Lines of the current program the samples begin with.
    pub kept: usize,
    /// 0 for the request's own seed; others draw other samples ([`SearchRound::seed`]).
    pub attempt: u64,
}

impl SearchRound {
    /// The sampling seed of this round for a request seeded `seed`.
    pub fn seed(self, seed: u64) -> u64 {
        seed ^ self.attempt.wrapping_mul(0x9e37_79b9_7f4a_7c15)
    }
}

/// The rounds "Fix in my style" tries in turn until one finds a fix (each round
/// the samples of the `fixSamples` setting): twice samples begun above the mistake
/// (most of a student's next state copies the program above it, which this small
/// model copies badly), then whole next states (the mistake may lie well above the
/// line the error names, and the two find different fixes). With nothing kept,
/// two rounds of whole states. When none finds a fix, the search adds one round
/// from a failed attempt that got past the mistake ([`second_attempt_base`]).
pub fn search_rounds(current: &str, error_line: Option<u32>) -> Vec<SearchRound> {
    match kept_lines(current, error_line) {
        0 => vec![SearchRound { kept: 0, attempt: 0 }, SearchRound { kept: 0, attempt: 1 }],
        kept => vec![SearchRound { kept, attempt: 0 }, SearchRound { kept, attempt: 1 }, SearchRound { kept: 0, attempt: 0 }],
    }
}

/// A sampled program that failed in the sandbox: where, and how far from the student's.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FailedAttempt {
    /// The whole sampled program.
    pub code: String,
    /// The (1-based) line of its error, when the runtime named one.
    pub error_line: Option<u32>,
    /// Levenshtein distance from the student's program.
    pub distance: usize,
}

/// The failed attempt a second attempt continues from when no round found a fix,
/// as the paper's recovery traces go on after a failing state (§4.5): one that got
/// past the student's mistake (its error lies below the student's error line) and
/// is still an edit of the student's program ([`keeps_the_program`]); the one that
/// got furthest, then the closest. `None` when the student's error has no line or
/// no attempt got past it.
pub fn second_attempt_base<'a>(current: &str, error_line: Option<u32>, failed: &'a [FailedAttempt]) -> Option<&'a FailedAttempt> {
    let line = error_line?;
    failed
        .iter()
        .filter(|f| f.error_line.is_some_and(|l| l > line) && keeps_the_program(current, f.distance))
        .max_by(|a, b| a.error_line.cmp(&b.error_line).then(b.distance.cmp(&a.distance)).then_with(|| b.code.cmp(&a.code)))
}

/// `trace` with `code` as a further state, `size` after its last one: the prompt of
/// a second attempt reads the failed attempt as the student's newest state. `None`
/// when the trace has no state or its last time does not parse.
pub fn with_attempt(trace: &Trace, code: &str, size: EditSize) -> Option<Trace> {
    let last = trace.programs.last()?;
    let time = format_timestamp(parse_timestamp(&last.time)? + size.seconds());
    let mut next = trace.clone();
    next.programs.push(ProgramState { n: last.n.saturating_add(1), time, code: code.to_string() });
    next.eos = false;
    Some(next)
}

/// The text of the first `kept` lines of `current`, without the last newline: how
/// the sampled next state begins. The model writes that newline itself, so the
/// next line's indentation is tokenized as in training (a byte-level BPE merges a
/// newline with the spaces after it), and it may also go on with the last kept line.
pub fn kept_start(current: &str, kept: usize) -> String {
    current.lines().take(kept).collect::<Vec<_>>().join("\n")
}

/// The whole program a sample proposes after `kept` lines of `current` were given
/// to it. The sample's lines that copy the current program are followed until the
/// first that differs; the edit ends where the sample is back on the student's
/// program (a non-blank line equal to a later current line, the next line agreeing
/// too where both have one), and the rest of the student's program follows from
/// there as they wrote it. A whole state (`complete`) that never comes back is the
/// model's own ending; a cut-off one gives nothing, and neither does one that only copied.
pub fn splice(current: &str, kept: usize, generated: &str, complete: bool) -> Option<String> {
    let cur: Vec<&str> = current.lines().collect();
    let rest = &cur[kept.min(cur.len())..];
    let mut gen: Vec<&str> = generated.lines().collect();
    if !complete && !generated.ends_with('\n') {
        gen.pop(); // a line cut off mid-way
    }
    let (mut i, mut j) = (0, 0);
    while i < gen.len() && j < rest.len() && gen[i] == rest[j] {
        i += 1;
        j += 1;
    }
    let join = |lines: Vec<&str>| {
        let mut text = lines.join("\n");
        if current.ends_with('\n') || !current.contains('\n') {
            text.push('\n');
        }
        Some(text)
    };
    if i == gen.len() {
        // Only copied: a whole state that stops early deletes the rest.
        return if complete && j < rest.len() { join(cur[..kept].iter().chain(&gen).copied().collect()) } else { None };
    }
    let agrees = |k: usize, m: usize| k + 1 >= gen.len() || m + 1 >= rest.len() || gen[k + 1] == rest[m + 1];
    for k in i + 1..gen.len() {
        if gen[k].trim().is_empty() {
            continue;
        }
        if let Some(m) = (j..rest.len()).find(|&m| rest[m] == gen[k] && agrees(k, m)) {
            return join(cur[..kept].iter().chain(&rest[..j]).chain(&gen[i..k]).chain(&rest[m..]).copied().collect());
        }
    }
    if complete {
        join(cur[..kept].iter().chain(&gen).copied().collect())
    } else {
        None
    }
}

/// The candidate program of one sample that went on from `start` ([`kept_start`]):
/// the sample's text read by [`sampled_state`] after `start`, then [`splice`]d into
/// the current program.
pub fn candidate(current: &str, start: &str, text: &str, stop: StopReason) -> Option<String> {
    match sampled_state(text, stop) {
        Some(state) => splice(current, 0, &format!("{start}{state}"), true),
        None => splice(current, 0, &format!("{start}{text}"), false),
    }
}

/// Longest line text shown in a title.
const TITLE_SNIPPET: usize = 40;

fn snippet(line: &str) -> String {
    let line = line.trim();
    match line.char_indices().nth(TITLE_SNIPPET) {
        Some((i, _)) => format!("{}…", &line[..i]),
        None => line.to_string(),
    }
}

/// The code action title: "Fix in my style: change line 3 (`fd 100` → `fd 50`)",
/// "add line 4 (`rt 90`)", "remove line 2 (`zz`)", or "change lines 2–5".
pub fn describe_change(old: &str, new: &str) -> String {
    let diff = TextDiff::from_lines(old, new);
    let (mut removed, mut added) = (Vec::new(), Vec::new());
    for change in diff.iter_all_changes() {
        match change.tag() {
            ChangeTag::Delete => removed.push((change.old_index().unwrap_or(0), change.value())),
            ChangeTag::Insert => added.push((change.new_index().unwrap_or(0), change.value())),
            ChangeTag::Equal => {}
        }
    }
    let what = match (removed.as_slice(), added.as_slice()) {
        ([(i, before)], [(_, after)]) => format!("change line {} (`{}` → `{}`)", i + 1, snippet(before), snippet(after)),
        ([], [(i, after)]) => format!("add line {} (`{}`)", i + 1, snippet(after)),
        ([(i, before)], []) => format!("remove line {} (`{}`)", i + 1, snippet(before)),
        ([], []) => "change whitespace".to_string(),
        _ => {
            let lines: Vec<usize> = removed.iter().map(|(i, _)| i + 1).chain(added.iter().map(|(i, _)| i + 1)).collect();
            let (lo, hi) = (lines.iter().min().copied().unwrap_or(1), lines.iter().max().copied().unwrap_or(1));
            let span = if lo == hi { format!("change line {lo}") } else { format!("change lines {lo}–{hi}") };
            // Two fixes over the same lines must still read differently: name the first new line.
            match added.iter().map(|(_, l)| l.trim()).find(|l| !l.is_empty()) {
                Some(first) => format!("{span} (`{}` …)", snippet(first)),
                None => span,
            }
        }
    };
    format!("Fix in my style: {what}")
}

/// A seed for one request, stable for the same student, title and program, so the
/// same failing program gets the same suggestions (FNV-1a).
pub fn request_seed(student: &str, title: &str, code: &str) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for part in [student, title, code] {
        for b in part.bytes().chain([0xff]) {
            h ^= u64::from(b);
            h = h.wrapping_mul(0x0100_0000_01b3);
        }
    }
    h
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fixes::program_distance;

    #[test]
    fn a_second_attempt_continues_from_the_attempt_that_got_furthest_past_the_mistake() {
        let current = "pen red\nfd 1O0\nrt 90\nfd 5O\nrt 90\n";
        let attempt = |code: &str, line: Option<u32>| FailedAttempt { code: code.into(), error_line: line, distance: program_distance(current, code) };
        let failed = [
            attempt("pen red\nfd 100\nrt 90\nfd 5O\nrt 90\n", Some(4)),
            attempt("pen red\nfd 1O0\nrt 90\nfd 5O\nrt 90\n ", Some(2)),
            attempt("pen red\nfd 1\nrt 90\nfd 5O\nrt 90\n", Some(4)),
            attempt("pen red\nfd 100\nrt 9\nfd 5O\nrt 90\n", Some(1)),
        ];
        // Past line 2, the furthest; of two at line 4, the closer to the student's program.
        assert_eq!(second_attempt_base(current, Some(2), &failed).map(|f| f.code.as_str()), Some("pen red\nfd 100\nrt 90\nfd 5O\nrt 90\n"));
        // Nothing got past line 4; an error without a line gives no direction.
        assert_eq!(second_attempt_base(current, Some(4), &failed), None);
        assert_eq!(second_attempt_base(current, None, &failed), None);
        // A rewrite of most of the program is no base for an edit of it.
        let rewrite = [attempt("speed 10\nhome()\nlabel 'hi there'\ndot blue, 30\nfd 1 + 'x'.y()\nwhat\n", Some(5))];
        assert_eq!(second_attempt_base(current, Some(2), &rewrite), None);
    }

    #[test]
    fn a_second_attempt_reads_the_failed_attempt_as_the_newest_state() {
        let trace = Trace {
            student: "s".into(),
            title: "t".into(),
            programs: vec![ProgramState { n: 3, time: "2020-01-01 23:59:59".into(), code: "fd 1O0\n".into() }],
            eos: true,
            provenance: Default::default(),
        };
        let next = with_attempt(&trace, "fd 10O\n", EditSize::Seconds(1)).expect("a parsable time");
        assert_eq!(next.programs.len(), 2);
        assert_eq!(next.programs[1], ProgramState { n: 4, time: "2020-01-02 00:00:00".into(), code: "fd 10O\n".into() });
        assert!(!next.eos);
        let mut bad = trace.clone();
        bad.programs[0].time = "yesterday".into();
        assert_eq!(with_attempt(&bad, "fd 1\n", EditSize::Seconds(1)), None);
    }

    #[test]
    fn closest_running_candidate_comes_first_and_duplicates_go() {
        let current = "pen red\nfd 100\nrt 9O\n";
        let candidates = vec![
            "pen red\nfd 100\nrt 90\nfd 50\n".to_string(),
            "pen red\nfd 100\nrt 90\n".to_string(),
            "pen red\nfd 100\nrt 90\n".to_string(),
            "  \n".to_string(),
            current.to_string(),
            "dot blue\n".to_string(),
        ];
        let ranked = rank(current, &TraceIndex::default(), candidates, 3);
        let codes: Vec<&str> = ranked.iter().map(|f| f.new_code.as_str()).collect();
        // `dot blue` deletes the student's lines while other fixes keep them: not offered.
        assert_eq!(codes, ["pen red\nfd 100\nrt 90\n", "pen red\nfd 100\nrt 90\nfd 50\n"]);
        assert!(ranked[0].distance < ranked[1].distance);
        assert_eq!(ranked[0].title, "Fix in my style: change line 3 (`rt 9O` → `rt 90`)");
        assert_eq!(rank(current, &TraceIndex::default(), vec!["a\n".into(), "b\n".into()], 1).len(), 1);
    }

    #[test]
    fn rewrites_of_most_of_the_program_are_not_fixes() {
        let current: String = (0..20).map(|i| format!("fd {i}\nrt 90\n")).collect();
        let rewrite = "rt 120\nfd 300\n".to_string();
        let local = current.replacen("fd 3\n", "fd 30\n", 1);
        assert!(!keeps_the_program(&current, program_distance(&current, &rewrite)));
        let ranked = rank(&current, &TraceIndex::default(), vec![rewrite, local.clone()], 3);
        assert_eq!(ranked.iter().map(|f| f.new_code.as_str()).collect::<Vec<_>>(), [local.as_str()]);
        // Short programs may change completely within the floor.
        assert!(keeps_the_program("fdd\n", program_distance("fdd\n", "pen red\nfd 100\n")));
    }

    #[test]
    fn bleu_breaks_ties_in_edit_distance() {
        // Same edit distance from the current program; the one that keeps more of
        // its word sequence (higher BLEU) wins.
        let current = "pen red\nfd 100\nrt 90\nfd 100\nrt 90\n";
        let a = "pen red\nfd 100\nrt 90\nfd 100\nrt 45\n".to_string();
        let b = "pen red\nfd 100\nrt 45\nfd 100\nrt 90\n".to_string();
        let (da, db) = (program_distance(current, &a), program_distance(current, &b));
        assert_eq!(da, db);
        let (ba, bb) = (quality_bleu(&[a.as_str()], &[current]), quality_bleu(&[b.as_str()], &[current]));
        assert_ne!(ba, bb);
        let ranked = rank(current, &TraceIndex::default(), vec![a.clone(), b.clone()], 2);
        let want = if ba > bb { &a } else { &b };
        assert_eq!(&ranked[0].new_code, want);
    }

    #[test]
    fn two_fixes_never_share_a_title() {
        let current = "pen red\nfd 100\nrt 9O\nfd 100\n";
        let candidates = vec!["pen red\nfd 100\nrt 90\nfd 50\n".to_string(), "pen red\nfd 100\nrt 90\nfd 60\n".to_string()];
        let ranked = rank(current, &TraceIndex::default(), candidates, 3);
        assert_eq!(ranked.len(), 2);
        assert_ne!(ranked[0].title, ranked[1].title, "{ranked:?}");
    }

    #[test]
    fn titles_say_what_changes() {
        assert_eq!(describe_change("fd 100\nrt 90\n", "fd 100\nrt 90\nfd 50\n"), "Fix in my style: add line 3 (`fd 50`)");
        assert_eq!(describe_change("fd 100\nzz\nrt 90\n", "fd 100\nrt 90\n"), "Fix in my style: remove line 2 (`zz`)");
        assert_eq!(describe_change("a\nb\nc\n", "x\nb\ny\n"), "Fix in my style: change lines 1–3 (`x` …)");
        assert_eq!(describe_change("a\nb\nc\n", "b\n"), "Fix in my style: change lines 1–3");
        let long = format!("write '{}'\n", "x".repeat(80));
        assert!(describe_change("fd 1\n", &long).contains('…'));
    }

    #[test]
    fn sampled_states_end_where_the_papers_parser_ends_them() {
        assert_eq!(sampled_state("fd 1\n", StopReason::EndOfText), Some("fd 1\n"));
        assert_eq!(sampled_state("fd 1\n", StopReason::NextHeader), Some("fd 1\n"));
        assert_eq!(sampled_state("fd 1\nCODE 7\nrt 9", StopReason::MaxTokens), Some("fd 1\n"), "a malformed header still ends it");
        assert_eq!(sampled_state("fd 1\nrt 9", StopReason::MaxTokens), None);
        assert_eq!(sampled_state("write 'CODE x'\nfd 1", StopReason::Context), None);
        assert_eq!(sampled_state("write 'CODE x'\n", StopReason::EndOfText), Some("write 'CODE x'\n"));
    }

    #[test]
    fn kept_lines_stop_a_margin_above_the_error() {
        let code = "a\nb\nc\nd\ne\n";
        assert_eq!(kept_lines(code, Some(5)), 2);
        assert_eq!(kept_lines(code, Some(2)), 0);
        assert_eq!(kept_lines(code, None), 0);
        assert_eq!(kept_lines(code, Some(99)), 5);
        assert_eq!(kept_start(code, 2), "a\nb");
        assert_eq!(kept_start(code, 0), "");
    }

    #[test]
    fn whole_states_follow_a_search_from_above_the_mistake() {
        let code = "a\nb\nc\nd\ne\n";
        let kept: Vec<(usize, u64)> = search_rounds(code, Some(5)).iter().map(|r| (r.kept, r.attempt)).collect();
        assert_eq!(kept, [(2, 0), (2, 1), (0, 0)]);
        let whole: Vec<(usize, u64)> = search_rounds(code, None).iter().map(|r| (r.kept, r.attempt)).collect();
        assert_eq!(whole, [(0, 0), (0, 1)]);
        assert_eq!(search_rounds(code, Some(1)), search_rounds(code, None));
        let r = search_rounds(code, Some(5));
        assert_eq!(r[0].seed(7), 7, "the first round samples as before");
        assert_ne!(r[1].seed(7), 7);
    }

    #[test]
    fn an_edit_is_spliced_back_into_the_rest_of_the_program() {
        let current = "pen red\nfd 100\nrt 9O\nfd 100\nrt 90\ndot blue\n";
        // Kept 1 line; the sample copies `fd 100`, fixes line 3, comes back at `fd 100`, then wanders off and is cut.
        let got = splice(current, 1, "fd 100\nrt 90\nfd 100\nrt 90\nzzz q\nfd", false);
        assert_eq!(got.as_deref(), Some("pen red\nfd 100\nrt 90\nfd 100\nrt 90\ndot blue\n"));
        // An inserted line, back at the next line.
        let got = splice(current, 2, "pen blue\nrt 9O\nfd 100\n", false);
        assert_eq!(got.as_deref(), Some("pen red\nfd 100\npen blue\nrt 9O\nfd 100\nrt 90\ndot blue\n"));
        // Only copying, cut off: nothing; a whole state that stops early deletes the rest.
        assert_eq!(splice(current, 2, "rt 9O\nfd 100\n", false), None);
        assert_eq!(splice(current, 4, "rt 90\n", true).as_deref(), Some("pen red\nfd 100\nrt 9O\nfd 100\nrt 90\n"));
        // Never back, whole: the model's ending; cut off: nothing.
        assert_eq!(splice(current, 2, "lt 45\nbk 5\n", true).as_deref(), Some("pen red\nfd 100\nlt 45\nbk 5\n"));
        assert_eq!(splice(current, 2, "lt 45\nbk 5\n", false), None);
        // A lone common line is no way back when the next disagrees.
        let got = splice("fd 1\nx y\nfd 1\nrt 5\n", 0, "fd 1\nxy\nfd 1\nlt 9\n", true);
        assert_eq!(got.as_deref(), Some("fd 1\nxy\nfd 1\nlt 9\n"));
    }

    #[test]
    fn candidates_read_whole_and_cut_samples() {
        let current = "fd 1\nrt 9O\nfd 2\nfd 3\n";
        let start = kept_start(current, 1);
        assert_eq!(candidate(current, &start, "\nrt 90\nfd 2\nCODE 5 (x", StopReason::MaxTokens).as_deref(), Some("fd 1\nrt 90\nfd 2\nfd 3\n"));
        assert_eq!(candidate(current, &start, "\nrt 90\nfd 2\nqq", StopReason::MaxTokens).as_deref(), Some("fd 1\nrt 90\nfd 2\nfd 3\n"));
        assert_eq!(candidate(current, &start, "\nrt 90\n", StopReason::EndOfText).as_deref(), Some("fd 1\nrt 90\n"));
        // The model may go on with the last kept line.
        assert_eq!(candidate(current, &start, "0\nrt 9O\nfd 2\n", StopReason::MaxTokens).as_deref(), Some("fd 10\nrt 9O\nfd 2\nfd 3\n"));
        assert_eq!(candidate(current, "", "fd 1\nrt 90\nfd 2\n", StopReason::MaxTokens).as_deref(), Some("fd 1\nrt 90\nfd 2\nfd 3\n"));
    }

    #[test]
    fn hint_sizes_are_one_twenty_and_sixty_seconds() {
        let secs: Vec<i64> = [HintSize::Small, HintSize::Medium, HintSize::Large].iter().map(|s| s.edit_size().seconds()).collect();
        assert_eq!(secs, [1, 20, 60]);
    }

    #[test]
    fn seeds_are_stable_and_depend_on_every_part() {
        assert_eq!(request_seed("s", "t", "fd 1\n"), request_seed("s", "t", "fd 1\n"));
        assert_ne!(request_seed("s", "t", "fd 1\n"), request_seed("s", "t", "fd 2\n"));
        assert_ne!(request_seed("st", "", "x"), request_seed("s", "t", "x"));
    }
}
