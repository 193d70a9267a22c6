//! Rule-based quick fixes for the commonest failures, each verified in the sandbox
//! before it is offered: unknown color -> nearest real color, misspelled or truncated
//! turtle command -> nearest command or a name the program defines, missing comma
//! between arguments, syntax slips (over-indented lines, unclosed brackets and strings,
//! stray punctuation), and the program's shape (a function called before its definition,
//! a stray `break`, an unfinished last line), slips any error can come from (a letter
//! O for a zero, a broken `->`, an `end` from another language), and the student's
//! own trace (a broken line as the student had it before).
//!
//! The rule modules (`rules.rs`, `syntax.rs`, `structure.rs`, `slips.rs`,
//! `trace.rs`) read only [`Fix`], [`Rule`] and the shared text helpers
//! (`rebuild`, `parameter_list`) from here, and never each other; [`candidates`] gathers them, and
//! [`rank`] orders verified fixes, rule-based or sampled by the model, by one score
//! computed once per candidate.

mod distance;
pub mod rank;
mod rules;
mod slips;
mod structure;
mod syntax;
mod trace;

pub use distance::{compound_colors, deleted_lines, levenshtein, nearest, program_distance};
pub use rank::{Score, TraceIndex, MODEL_RANKED};
pub use syntax::syntax_fixes;

use crate::diagnostics::undefined_name;
use pencil_sandbox::{ProgramError, Status, Verdict};

/// Which rule produced a fix.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Rule {
    /// Unknown name -> nearest real color.
    NearestColor,
    /// Unknown name -> nearest turtle command.
    NearestCommand,
    /// Two arguments with no comma between them.
    MissingComma,
    /// A global name written in the wrong case (`infinity` -> `Infinity`).
    NameCase,
    /// A syntax slip: indentation, brackets, quotes, stray punctuation.
    Syntax,
    /// Unknown name -> a name this program defines (`jelyfish` -> `jellyfish`).
    OwnName,
    /// A function called before the line that defines it: move the definition up.
    DefineBeforeUse,
    /// A syntax error on the last line, still being typed: leave that line out.
    UnfinishedLine,
    /// A line that broke, as the student had it in an earlier state.
    EarlierLine,
}

impl Rule {
    /// Stable name, as stored with hints.
    pub fn as_str(self) -> &'static str {
        match self {
            Rule::NearestColor => "nearest_color",
            Rule::NearestCommand => "nearest_command",
            Rule::MissingComma => "missing_comma",
            Rule::NameCase => "name_case",
            Rule::Syntax => "syntax",
            Rule::OwnName => "own_name",
            Rule::DefineBeforeUse => "define_before_use",
            Rule::UnfinishedLine => "unfinished_line",
            Rule::EarlierLine => "earlier_line",
        }
    }
}

/// A candidate fix: the whole fixed program and what it changes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fix {
    /// The rule behind it.
    pub rule: Rule,
    /// What it changes, in the student's words.
    pub title: String,
    /// The fixed program.
    pub new_code: String,
}

/// The program's `lines` (each with its line end) with the lines at the given
/// indices replaced by new text (which carries its own line end).
fn rebuild(lines: &[&str], replaced: &[(usize, String)]) -> String {
    let mut out = String::new();
    for (i, line) in lines.iter().enumerate() {
        match replaced.iter().find(|(j, _)| *j == i) {
            Some((_, new)) => out.push_str(new),
            None => out.push_str(line),
        }
    }
    out
}

/// The code part of a line (before a `#` comment), with strings blanked out so that
/// a pattern never matches inside one; byte offsets are kept.
fn code_only(line: &str) -> String {
    split_comment(line).0
}

/// Byte offset of the `#` that starts `line`'s comment (outside strings).
fn comment_start(line: &str) -> Option<usize> {
    split_comment(line).1
}

/// [`code_only`] and [`comment_start`] in one pass.
fn split_comment(line: &str) -> (String, Option<usize>) {
    let mut out = String::with_capacity(line.len());
    let mut quote: Option<char> = None;
    let mut comment = None;
    for (i, c) in line.char_indices() {
        let keep = match quote {
            _ if comment.is_some() => false,
            Some(q) => {
                if c == q {
                    quote = None;
                }
                false
            }
            None if c == '"' || c == '\'' => {
                quote = Some(c);
                false
            }
            None if c == '#' => {
                comment = Some(i);
                false
            }
            None => true,
        };
        if keep {
            out.push(c);
        } else {
            out.extend(std::iter::repeat_n(' ', c.len_utf8()));
        }
    }
    (out, comment)
}

/// The names in the parameter list that ends `head`, the text before a
/// function's arrow (`f = (x, @shape)` -> `x`, `shape`); None without one.
fn parameter_list(head: &str) -> Option<Vec<&str>> {
    let inside = head.trim_end().strip_suffix(')')?;
    let open = inside.rfind('(')?;
    Some(inside[open + 1..].split(',').map(|p| p.trim().trim_start_matches('@')).filter(|p| !p.is_empty()).collect())
}

/// Candidate fixes for `error` in `code`, most likely first (unverified); `earlier`
/// holds the title's earlier states, oldest first.
pub fn candidates(code: &str, error: &ProgramError, earlier: &[String]) -> Vec<Fix> {
    let mut out = trace::trace_fixes(code, error, earlier);
    if let Some(name) = undefined_name(error) {
        out.extend(rules::rename_fixes(code, error, name));
    }
    if matches!(error.kind.as_str(), "SyntaxError" | "TypeError") {
        out.extend(rules::missing_comma_fix(code, error));
    }
    out.extend(syntax::syntax_fixes(code, error));
    out.extend(rules::minus_spacing_fix(code, error));
    out.extend(structure::structure_fixes(code, error));
    out.extend(slips::slip_fixes(code, error));
    let mut seen = std::collections::HashSet::new();
    out.retain(|f| f.new_code != code && seen.insert(f.new_code.clone()));
    out
}

/// How far a fix got when it ran in the sandbox.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// The fixed program runs (ok, waits for input, or runs until the time limit).
    Runs,
    /// This error is gone; another one, further on, remains.
    Progress,
}

/// A fix that passed the sandbox, with its score and its store id once shown.
#[derive(Debug, Clone, PartialEq)]
pub struct VerifiedFix {
    /// The fix.
    pub fix: Fix,
    /// What the sandbox said about the fixed program.
    pub outcome: Outcome,
    /// How it ranks against the student's program and trace.
    pub score: Score,
    /// Store id of the hint row, when recorded.
    pub hint_id: Option<i64>,
}

impl VerifiedFix {
    /// The title shown in the editor; a fix that deletes lines the student wrote says so.
    pub fn title(&self) -> String {
        let title = rank::label_deletions(&self.fix.title, &self.score);
        match self.outcome {
            Outcome::Runs => title,
            Outcome::Progress => format!("{title} (fixes this error; another remains)"),
        }
    }
}

/// Judges a candidate's verdict against the original error.
pub fn judge(original: &ProgramError, after: &Verdict) -> Option<Outcome> {
    match (after.status, &after.error) {
        (Status::Ok | Status::WaitsForInput | Status::Timeout, _) => Some(Outcome::Runs),
        (Status::Error, Some(e)) => {
            let moved_on = match (e.line, original.line) {
                (Some(now), Some(before)) => now > before || (now == before && e.message != original.message),
                _ => e.message != original.message,
            };
            moved_on.then_some(Outcome::Progress)
        }
        (Status::Error, None) => None,
    }
}

/// How many fixes that only got past the first error get a second step (see [`verify`]).
const CHAINED_FIRST_STEPS: usize = 2;

/// How many candidates a second step tries for each first step.
const CHAINED_SECOND_CANDIDATES: usize = 12;

/// Verifies candidates with `check` and keeps those that help, ranked by
/// [`rank::order`] against `code` and the student's `earlier` states (oldest first).
/// At most `limit`.
///
/// Students often run a program with two slips in it (`read 'family's name'` and a
/// string left open further down). When no candidate runs, the rules run again on
/// the best fixes that got past the first error, for the error each ran into, and a
/// pair that runs is offered as one fix.
pub fn verify<E>(
    code: &str,
    earlier: &[String],
    error: &ProgramError,
    fixes: Vec<Fix>,
    limit: usize,
    mut check: impl FnMut(&str) -> Result<Verdict, E>,
) -> Vec<VerifiedFix> {
    let trace = TraceIndex::new(earlier, code);
    let mut kept = Vec::new();
    let mut first_steps = Vec::new();
    for fix in fixes {
        let Ok(verdict) = check(&fix.new_code) else { continue };
        let Some(outcome) = judge(error, &verdict) else { continue };
        if let (Outcome::Progress, Some(next_error)) = (outcome, &verdict.error) {
            if first_steps.len() < CHAINED_FIRST_STEPS {
                first_steps.push((fix.clone(), next_error.clone()));
            }
        }
        let score = Score::new(code, &trace, &fix.new_code, outcome == Outcome::Runs);
        kept.push(VerifiedFix { fix, outcome, score, hint_id: None });
    }
    if !kept.iter().any(|v| v.outcome == Outcome::Runs) {
        for (first, next_error) in first_steps {
            let seconds = candidates(&first.new_code, &next_error, earlier);
            for second in seconds.into_iter().take(CHAINED_SECOND_CANDIDATES) {
                let Ok(verdict) = check(&second.new_code) else { continue };
                if judge(&next_error, &verdict) != Some(Outcome::Runs) {
                    continue;
                }
                let fix = Fix { rule: first.rule, title: chained_title(&first.title, &second.title), new_code: second.new_code };
                let score = Score::new(code, &trace, &fix.new_code, true);
                kept.push(VerifiedFix { fix, outcome: Outcome::Runs, score, hint_id: None });
                break;
            }
        }
    }
    let mut kept = rank::keep_offerable(kept, |v| &v.score);
    kept.sort_by(|a, b| rank::order(&a.score, &b.score));
    kept.truncate(limit);
    kept
}

/// Lets the model choose among the best fixes (sorted by [`rank::order`]) that the
/// rules and the trace cannot tell apart ([`rank::tied_with_first`]): `log_probs`
/// gets their programs and gives the model's log-probability of each as the
/// student's next state, or `None` (no model, or it failed), which leaves the order
/// as it was. Returns whether the first fix changed.
pub fn rank_by_model(fixes: &mut [VerifiedFix], log_probs: impl FnOnce(&[String]) -> Option<Vec<f64>>) -> bool {
    let tied = rank::tied_with_first(fixes.iter().map(|f| &f.score));
    if tied < 2 {
        return false;
    }
    let programs: Vec<String> = fixes[..tied].iter().map(|f| f.fix.new_code.clone()).collect();
    let Some(places) = log_probs(&programs).filter(|lp| lp.len() == tied).and_then(|lp| rank::places_by_likelihood(&lp)) else {
        return false;
    };
    for (fix, place) in fixes.iter_mut().zip(places) {
        fix.score.model_rank = Some(place);
    }
    fixes.sort_by(|a, b| rank::order(&a.score, &b.score));
    fixes.first().is_some_and(|f| f.fix.new_code != programs[0])
}

/// "Close the string on line 27", "Close the string on line 38" -> "Close the string
/// on line 27, then close the string on line 38".
fn chained_title(first: &str, second: &str) -> String {
    let mut chars = second.chars();
    let second = match chars.next() {
        Some(c) => c.to_lowercase().chain(chars).collect(),
        None => String::new(),
    };
    format!("{first}, then {second}")
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The rule modules read `Fix` and `Rule` from this module and never each other,
    /// so there is no import cycle among them.
    #[test]
    fn rule_modules_do_not_import_each_other() {
        let modules = [
            ("rules", include_str!("rules.rs")),
            ("syntax", include_str!("syntax.rs")),
            ("structure", include_str!("structure.rs")),
            ("slips", include_str!("slips.rs")),
            ("trace", include_str!("trace.rs")),
            ("rank", include_str!("rank.rs")),
            ("distance", include_str!("distance.rs")),
        ];
        let rules = ["rules", "syntax", "structure", "slips", "trace"];
        for (name, text) in modules {
            for other in rules.iter().filter(|o| **o != name) {
                for pattern in [format!("super::{other}::"), format!("super::{other}}}"), format!("fixes::{other}::")] {
                    assert!(!text.contains(&pattern), "{name}.rs refers to {other}.rs ({pattern})");
                }
            }
        }
    }

    #[test]
    fn candidates_are_distinct_and_change_the_program() {
        let error = ProgramError { kind: "SyntaxError".into(), message: "unexpected O0".into(), line: Some(2), column: Some(5) };
        let code = "pen red\nfd 1O0\n";
        let fixes = candidates(code, &error, &["pen red\nfd 100\n".to_string()]);
        let mut codes: Vec<&str> = fixes.iter().map(|f| f.new_code.as_str()).collect();
        assert!(codes.contains(&"pen red\nfd 100\n"), "{codes:?}");
        let n = codes.len();
        codes.sort_unstable();
        codes.dedup();
        assert_eq!(codes.len(), n);
        assert!(!codes.contains(&code));
    }

    fn verified(code: &str, candidates: &[(&str, bool)]) -> Vec<VerifiedFix> {
        let trace = TraceIndex::default();
        let mut fixes: Vec<VerifiedFix> = candidates
            .iter()
            .map(|(c, runs)| VerifiedFix {
                fix: Fix { rule: Rule::Syntax, title: String::new(), new_code: c.to_string() },
                outcome: if *runs { Outcome::Runs } else { Outcome::Progress },
                score: Score::new(code, &trace, c, *runs),
                hint_id: None,
            })
            .collect();
        fixes.sort_by(|a, b| rank::order(&a.score, &b.score));
        fixes
    }

    fn programs(fixes: &[VerifiedFix]) -> Vec<&str> {
        fixes.iter().map(|f| f.fix.new_code.as_str()).collect()
    }

    #[test]
    fn the_model_chooses_among_fixes_the_rules_cannot_tell_apart() {
        let code = "pen red\nfd 1O0\n";
        // Both edits are one character; only the one that only gets past the error is not tied.
        let mut fixes = verified(code, &[("pen red\nfd 10\n", true), ("pen red\nfd 100\n", true), ("pen red\nfd 1O0)\n", false)]);
        assert_eq!(programs(&fixes)[0], "pen red\nfd 10\n", "by edit size alone, the shorter");
        let mut asked = Vec::new();
        let changed = rank_by_model(&mut fixes, |p| {
            asked = p.to_vec();
            Some(p.iter().map(|c| if c.contains("100") { -2.0 } else { -5.0 }).collect())
        });
        assert!(changed);
        assert_eq!(asked.len(), 2, "the fix that does not run is not tied with the first: {asked:?}");
        assert_eq!(programs(&fixes), ["pen red\nfd 100\n", "pen red\nfd 10\n", "pen red\nfd 1O0)\n"]);
        // The same order comes back when sorted again (the model's place is in the score).
        let again = fixes.clone();
        fixes.sort_by(|a, b| rank::order(&a.score, &b.score));
        assert_eq!(fixes, again);
    }

    #[test]
    fn without_a_tie_or_an_answer_the_rules_order_stands() {
        let code = "pen red\nfd 1O0\n";
        // The first runs and the other does not: nothing for the model to decide.
        let mut fixes = verified(code, &[("pen red\nfd 100\n", true), ("pen red\nfd 1O0)\n", false)]);
        assert!(!rank_by_model(&mut fixes, |_| panic!("the model is not asked without a tie")));
        let mut tied = verified(code, &[("pen red\nfd 10\n", true), ("pen red\nfd 100\n", true)]);
        let before = tied.clone();
        assert!(!rank_by_model(&mut tied, |_| None), "no model");
        assert!(!rank_by_model(&mut tied, |_| Some(vec![f64::NAN, -1.0])), "a value that is not finite");
        assert!(!rank_by_model(&mut tied, |_| Some(vec![-1.0])), "too few values");
        assert_eq!(tied, before);
        // Equal likelihoods keep the smaller edit first.
        assert!(!rank_by_model(&mut tied, |_| Some(vec![-3.0, -3.0])));
        assert_eq!(programs(&tied)[0], "pen red\nfd 10\n");
    }

    #[test]
    fn two_slips_get_one_fix_in_two_steps() {
        let checker = crate::checker::Checker::start(pencil_sandbox::SandboxConfig::default()).expect("sandbox starts");
        let code = "fd 1O0\nsq = (s) - >\n  fd s\nsq 10\n";
        let verdict = checker.check_blocking(code).expect("checked");
        let error = verdict.error.expect("the program fails");
        let found = verify(code, &[], &error, candidates(code, &error, &[]), 3, |c| checker.check_blocking(c));
        let runs: Vec<&VerifiedFix> = found.iter().filter(|f| f.outcome == Outcome::Runs).collect();
        assert!(runs.iter().any(|f| f.fix.new_code == "fd 100\nsq = (s) ->\n  fd s\nsq 10\n"), "{found:#?}");
    }
}
