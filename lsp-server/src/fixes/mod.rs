//! Rule-based quick fixes for the commonest failures, each verified in the sandbox
//! before it is offered: unknown color -> nearest real color, misspelled or truncated
//! turtle command -> nearest command or a name the program defines, missing comma
//! between arguments, syntax slips (over-indented lines, unclosed brackets and strings,
//! stray punctuation), and the program's shape (a function called before its definition,
//! a stray `break`, an unfinished last line).

mod distance;
mod rules;
mod structure;
mod syntax;

pub use distance::{compound_colors, deleted_lines, levenshtein, nearest, program_distance};
pub use rules::{candidates, Fix, Rule};
pub use syntax::syntax_fixes;

use pencil_sandbox::{ProgramError, Status, Verdict};

/// How far a fix got when it ran in the sandbox.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// The fixed program runs (ok, waits for input, or runs until the time limit).
    Runs,
    /// This error is gone; another one, further on, remains.
    Progress,
}

/// A fix that passed the sandbox, with its store id once shown.
#[derive(Debug, Clone, PartialEq)]
pub struct VerifiedFix {
    /// The fix.
    pub fix: Fix,
    /// What the sandbox said about the fixed program.
    pub outcome: Outcome,
    /// Store id of the hint row, when recorded.
    pub hint_id: Option<i64>,
}

impl VerifiedFix {
    /// The title shown in the editor.
    pub fn title(&self) -> String {
        match self.outcome {
            Outcome::Runs => self.fix.title.clone(),
            Outcome::Progress => format!("{} (fixes this error; another remains)", self.fix.title),
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

/// Verifies candidates with `check` and keeps those that help, best first: programs
/// that run before mere progress, then the smallest change. At most `limit`.
pub fn verify<E>(
    code: &str,
    error: &ProgramError,
    fixes: Vec<Fix>,
    limit: usize,
    mut check: impl FnMut(&str) -> Result<Verdict, E>,
) -> Vec<VerifiedFix> {
    let mut kept: Vec<VerifiedFix> = fixes
        .into_iter()
        .filter_map(|fix| {
            let verdict = check(&fix.new_code).ok()?;
            let outcome = judge(error, &verdict)?;
            Some(VerifiedFix { fix, outcome, hint_id: None })
        })
        .collect();
    kept.sort_by_key(|v| (v.outcome != Outcome::Runs, levenshtein(code, &v.fix.new_code)));
    kept.truncate(limit);
    kept
}
