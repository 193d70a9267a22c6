//! One run of a program through the coach, shared by the server (`pencil/run`, save)
//! and `pencil-lsp replay`: record the state, check it in the sandbox, turn the
//! verdict into diagnostics, and find verified quick fixes for a failing program.

use crate::checker::Checker;
use crate::coach::Coach;
use crate::diagnostics;
use crate::fixes::{self, VerifiedFix};
use crate::store::{HintRecord, RunResultRow, StateRecord, StoreHandle, Trigger};
use pencil_sandbox::{Status, Verdict};
use std::time::Instant;
use tower_lsp_server::gen_lsp_types::Diagnostic;

/// How many verified quick fixes a run offers at most.
pub const MAX_FIXES: usize = 3;

/// The engines a run uses; any of them may be missing, and the run degrades.
#[derive(Debug, Clone)]
pub struct Services {
    /// The recording store, unless it could not be opened.
    pub store: Option<StoreHandle>,
    /// The sandbox, unless it could not start.
    pub checker: Option<Checker>,
    /// The model-backed coach (its status says what it can do).
    pub coach: Coach,
}

/// One program to run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RunInput {
    /// Whose trace it belongs to (the store's local student in the editor).
    pub student: String,
    /// The title (file stem).
    pub title: String,
    /// The program.
    pub code: String,
    /// When it ran (`YYYY-MM-DD HH:MM:SS`).
    pub time: String,
    /// What started it.
    pub trigger: Trigger,
    /// Look for quick fixes when it fails.
    pub quick_fixes: bool,
}

/// Milliseconds spent in each phase.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Timings {
    /// Recording and checking, which run concurrently, plus storing the result.
    pub run_ms: f64,
    /// Recording alone (one SQLite transaction on the store's thread).
    pub record_ms: f64,
    /// Checking alone (the sandbox).
    pub check_ms: f64,
    /// Finding and verifying quick fixes.
    pub fixes_ms: f64,
}

/// What a run produced.
#[derive(Debug, Clone, PartialEq)]
pub struct RunOutcome {
    /// Where the state was recorded.
    pub state: Option<StateRecord>,
    /// The sandbox's verdict.
    pub verdict: Option<Verdict>,
    /// Problems that degraded this run (store or sandbox failures), for the log.
    pub problems: Vec<String>,
    /// Diagnostics for the program.
    pub diagnostics: Vec<Diagnostic>,
    /// Verified quick fixes, best first.
    pub fixes: Vec<VerifiedFix>,
    /// Phase timings.
    pub timings: Timings,
}

/// Runs one program through the coach.
pub async fn run(services: &Services, input: RunInput) -> RunOutcome {
    let started = Instant::now();
    let mut problems = Vec::new();
    let record = async {
        let store = services.store.as_ref()?;
        let (student, title, code, time, trigger) =
            (input.student.clone(), input.title.clone(), input.code.clone(), input.time.clone(), input.trigger);
        let t = Instant::now();
        let r = store.call(move |db| db.record_state(&student, &title, &code, &time, trigger)).await;
        Some((r, t.elapsed().as_secs_f64() * 1e3))
    };
    let check = async {
        let checker = services.checker.as_ref()?;
        let t = Instant::now();
        let r = checker.check(input.code.clone()).await;
        Some((r, t.elapsed().as_secs_f64() * 1e3))
    };
    let (recorded, checked) = tokio::join!(record, check);
    let record_ms = recorded.as_ref().map_or(0.0, |(_, ms)| *ms);
    let check_ms = checked.as_ref().map_or(0.0, |(_, ms)| *ms);
    let (recorded, checked) = (recorded.map(|(r, _)| r), checked.map(|(r, _)| r));
    let state = match recorded {
        Some(Ok(state)) => Some(state),
        Some(Err(e)) => {
            problems.push(format!("not recorded: {e}"));
            None
        }
        None => None,
    };
    let verdict = match checked {
        Some(Ok(v)) => Some(v),
        Some(Err(e)) => {
            problems.push(format!("not checked: {e}"));
            None
        }
        None => None,
    };
    if let (Some(store), Some(state), Some(v)) = (&services.store, state, &verdict) {
        let row = RunResultRow::from_verdict(v);
        if let Err(e) = store.call(move |db| db.set_result(state.id, &row)).await {
            problems.push(format!("result not stored: {e}"));
        }
    }
    let run_ms = started.elapsed().as_secs_f64() * 1e3;
    let diagnostics = verdict.as_ref().map(|v| diagnostics::from_verdict(&input.code, v)).unwrap_or_default();

    let fixes_started = Instant::now();
    let mut fixes = match (&verdict, &services.checker) {
        (Some(v), Some(checker)) if input.quick_fixes && v.status == Status::Error => {
            find_fixes(checker, &input.code, v).await
        }
        _ => Vec::new(),
    };
    if let (Some(store), Some(state)) = (&services.store, state) {
        for fix in &mut fixes {
            let hint = HintRecord {
                state_id: state.id,
                kind: "quick_fix".into(),
                rule: fix.fix.rule.as_str().into(),
                title: fix.title(),
                replacement: fix.fix.new_code.clone(),
                shown_at: input.time.clone(),
            };
            match store.call(move |db| db.record_hint(&hint)).await {
                Ok(id) => fix.hint_id = Some(id),
                Err(e) => problems.push(format!("hint not recorded: {e}")),
            }
        }
    }
    let fixes_ms = fixes_started.elapsed().as_secs_f64() * 1e3;
    RunOutcome { state, verdict, problems, diagnostics, fixes, timings: Timings { run_ms, record_ms, check_ms, fixes_ms } }
}

/// Candidate fixes for a failing verdict, verified in the sandbox off the executor.
pub async fn find_fixes(checker: &Checker, code: &str, verdict: &Verdict) -> Vec<VerifiedFix> {
    let Some(error) = verdict.error.clone() else { return Vec::new() };
    let candidates = fixes::candidates(code, &error);
    if candidates.is_empty() {
        return Vec::new();
    }
    let checker = checker.clone();
    let code = code.to_string();
    tokio::task::spawn_blocking(move || {
        fixes::verify(&code, &error, candidates, MAX_FIXES, |c| checker.check_blocking(c))
    })
    .await
    .unwrap_or_default()
}
