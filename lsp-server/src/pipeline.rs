//! One run of a program through the coach, shared by the server (`pencil/run`, save),
//! `pencil-lsp replay` and `bench`: record the state, check it in the sandbox, and find
//! verified quick fixes for a failing program; then the model-backed steps on the
//! recorded trace: backtracking risk and "Fix in my style". Plain data in and out: the
//! callers turn verdicts into LSP diagnostics (`diagnostics`).

use crate::checker::Checker;
use crate::coach::style_fix::{self, HintSize, SearchRound, StyleFix};
use crate::coach::engine::ModelEngine;
use crate::coach::{Coach, ModelRequest, ModelStatus, StudentVector};
use crate::fixes::{self, TraceIndex, VerifiedFix};
use crate::store::{HintRecord, RunResultRow, StateRecord, StoreHandle, Trigger};
use pencil_core::inference::ProbeOutput;
use pencil_core::{ProgramState, Trace};
use pencil_sandbox::{Status, Verdict};
use std::path::Path;
use std::sync::Arc;
use std::time::Instant;

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

impl Services {
    /// Opens the store in `data_dir`, starts the sandbox and loads the model `model`
    /// finds, each independently: what fails is left out, and the returned messages
    /// tell the student, once, what is missing. Blocking (SQLite, the compiler, the
    /// model): call it off the async executor.
    pub fn start(data_dir: Option<&Path>, model: &ModelRequest) -> (Services, Vec<String>) {
        let mut messages = Vec::new();
        let store = match data_dir {
            Some(dir) => match StoreHandle::open(dir) {
                Ok((store, report)) => {
                    tracing::info!("store: {}", report.path.display());
                    if let Some(notice) = report.tightened_notice() {
                        tracing::warn!("{notice}");
                    }
                    messages.extend(report.warning());
                    Some(store)
                }
                Err(e) => {
                    messages.push(format!(
                        "Pencil coach: the store in {} could not be opened: {e}. Your runs are not being recorded.",
                        dir.display()
                    ));
                    None
                }
            },
            None => {
                messages.push(
                    "Pencil coach: no user data directory was found; set PENCIL_DATA_DIR or the dataDir setting. \
                     Your runs are not being recorded."
                        .into(),
                );
                None
            }
        };
        let checker = match Checker::start(crate::checker::student_sandbox_config()) {
            Ok(c) => Some(c),
            Err(e) => {
                messages.push(format!(
                    "Pencil coach: the program checker could not start ({e}); runs are recorded but not checked."
                ));
                None
            }
        };
        let coach = Coach::load(model);
        match coach.status() {
            ModelStatus::Ready { dir, probe } => tracing::info!("trace model: {} (probe: {probe})", dir.display()),
            ModelStatus::Unavailable(reason) => tracing::info!("no trace model: {reason}"),
        }
        messages.extend(coach.missing_message());
        crate::classroom::live::start(store.as_ref());
        (Services { store, checker, coach }, messages)
    }

    /// The store's local student id ("local" when there is no store).
    pub fn local_student(&self) -> String {
        self.store.as_ref().map_or_else(|| "local".to_string(), |s| s.local_student().to_string())
    }
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
    /// Verified quick fixes, best first.
    pub fixes: Vec<VerifiedFix>,
    /// The program the rules alone put first, when the model put another first.
    pub rules_first: Option<String>,
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

    let fixes_started = Instant::now();
    let found = match (&verdict, &services.checker) {
        (Some(v), Some(checker)) if input.quick_fixes && v.status == Status::Error => {
            let trace = trace_so_far(services, &input.student, &input.title, &input.code, &input.time).await;
            let model = services.coach.engine().map(|engine| (engine, trace.clone()));
            find_fixes(checker, &input.code, &earlier_of(&trace), v, model).await
        }
        _ => FoundFixes::default(),
    };
    let FoundFixes { mut fixes, rules_first } = found;
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
    RunOutcome { state, verdict, problems, fixes, rules_first, timings: Timings { run_ms, record_ms, check_ms, fixes_ms } }
}

/// Verified quick fixes, best first, and what the model changed in their order.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct FoundFixes {
    /// At most [`MAX_FIXES`], best first.
    pub fixes: Vec<VerifiedFix>,
    /// The program the rules alone put first, when the model put another first.
    pub rules_first: Option<String>,
}

/// Candidate fixes for a failing verdict, verified in the sandbox off the executor
/// and ranked against `code` and the title's `earlier` states (oldest first). With
/// `model` (the engine and the title's trace, ending with `code`), the model orders
/// the best fixes the rules cannot tell apart ([`fixes::rank_by_model`]).
pub async fn find_fixes(
    checker: &Checker,
    code: &str,
    earlier: &[String],
    verdict: &Verdict,
    model: Option<(Arc<ModelEngine>, Trace)>,
) -> FoundFixes {
    let Some(error) = verdict.error.clone() else { return FoundFixes::default() };
    let candidates = fixes::candidates(code, &error, earlier);
    if candidates.is_empty() {
        return FoundFixes::default();
    }
    let checker = checker.clone();
    let code = code.to_string();
    let earlier = earlier.to_vec();
    tokio::task::spawn_blocking(move || {
        let pool = if model.is_some() { MAX_FIXES.max(fixes::MODEL_RANKED) } else { MAX_FIXES };
        let mut fixes = fixes::verify(&code, &earlier, &error, candidates, pool, |c| checker.check_blocking(c));
        let first = fixes.first().map(|f| f.fix.new_code.clone());
        let changed = match &model {
            Some((engine, trace)) => fixes::rank_by_model(&mut fixes, |programs| {
                engine.next_state_log_probs(trace, programs).inspect_err(|e| tracing::debug!("fixes not ranked by the model: {e}")).ok()
            }),
            None => false,
        };
        fixes.truncate(MAX_FIXES);
        FoundFixes { fixes, rules_first: if changed { first } else { None } }
    })
    .await
    .unwrap_or_default()
}

/// The title's states before the newest (oldest first, the newest
/// [`fixes::rank::TRACE_STATES`]), for ranking fixes by where the student was going.
fn earlier_of(trace: &Trace) -> Vec<String> {
    let before = trace.programs.len().saturating_sub(1);
    let start = before.saturating_sub(fixes::rank::TRACE_STATES);
    trace.programs[start..before].iter().map(|p| p.code.clone()).collect()
}

/// A title's trace as recorded for `student`, ending with `code`: the store's
/// states, plus `code` at `time` when it is not already the newest state (or when
/// there is no store).
pub async fn trace_so_far(services: &Services, student: &str, title: &str, code: &str, time: &str) -> Trace {
    let stored = match &services.store {
        Some(store) => {
            let (s, t) = (student.to_string(), title.to_string());
            store.call(move |db| db.states(&s, &t)).await.unwrap_or_default()
        }
        None => Vec::new(),
    };
    let mut programs: Vec<ProgramState> = stored
        .into_iter()
        .map(|s| ProgramState { n: u32::try_from(s.n).unwrap_or(u32::MAX), time: s.time, code: s.code })
        .collect();
    if programs.last().is_none_or(|p| p.code != code) {
        let n = programs.last().map_or(1, |p| p.n.saturating_add(1));
        programs.push(ProgramState { n, time: time.to_string(), code: code.to_string() });
    }
    Trace { student: student.to_string(), title: title.to_string(), programs, eos: false, provenance: Default::default() }
}

/// The model's reading of a trace prefix.
#[derive(Debug, Clone, PartialEq)]
pub enum RiskOutcome {
    /// No model is loaded.
    NoModel,
    /// The model has no backtracking probe.
    NoProbe,
    /// The probe's output.
    Risk(ProbeOutput),
    /// Inference failed (the message says why).
    Failed(String),
}

/// Backtracking risk of `prefix` (every state so far, newest last), computed on a
/// blocking thread.
pub async fn assess_risk(services: &Services, prefix: Trace) -> RiskOutcome {
    let Some(engine) = services.coach.engine() else { return RiskOutcome::NoModel };
    if !engine.has_probe() {
        return RiskOutcome::NoProbe;
    }
    match tokio::task::spawn_blocking(move || engine.risk(&prefix)).await {
        Ok(Ok(Some(out))) => RiskOutcome::Risk(out),
        Ok(Ok(None)) => RiskOutcome::NoProbe,
        Ok(Err(e)) => RiskOutcome::Failed(e.to_string()),
        Err(e) => RiskOutcome::Failed(format!("the risk task was interrupted: {e}")),
    }
}

/// How "Fix in my style" samples.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StyleFixParams {
    /// Continuations to sample.
    pub samples: usize,
    /// The size of change asked for.
    pub size: HintSize,
    /// Whose style.
    pub vector: StudentVector,
    /// Sampling seed.
    pub seed: u64,
}

/// What a "Fix in my style" search did.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct StyleSearch {
    /// The best running fixes, at most [`MAX_FIXES`], best first.
    pub fixes: Vec<StyleFix>,
    /// Continuations sampled.
    pub sampled: usize,
    /// Samples that gave no program: cut off by the token budget or the context
    /// before the state ended and never back on the student's program.
    pub cut_off: usize,
    /// Distinct complete candidates that differ from the current program.
    pub candidates: usize,
    /// Candidates that ran in the sandbox.
    pub running: usize,
    /// Milliseconds spent sampling.
    pub sample_ms: f64,
    /// Milliseconds spent checking candidates.
    pub check_ms: f64,
    /// Why the search could not run, if it could not.
    pub problem: Option<String>,
    /// Whether the fixes came from a second attempt (`style_fix::second_attempt_base`).
    pub from_second_attempt: bool,
}

/// "Fix in my style" for the newest state of `trace`: sample continuations with the
/// model (blocking thread), keep complete, distinct candidates, check each in the
/// sandbox, keep those that do not fail, and rank them against the current program.
/// `progress` receives one line per stage (for `$/progress`).
pub async fn find_style_fixes(
    services: &Services,
    trace: Trace,
    params: StyleFixParams,
    progress: Option<tokio::sync::mpsc::UnboundedSender<String>>,
) -> StyleSearch {
    let say = |m: String| {
        if let Some(p) = &progress {
            let _ = p.send(m);
        }
    };
    let mut search = StyleSearch::default();
    let (Some(engine), Some(checker)) = (services.coach.engine(), services.checker.clone()) else {
        search.problem = Some("no model or no sandbox".into());
        return search;
    };
    let current = trace.programs.last().map(|p| p.code.clone()).unwrap_or_default();
    let trace_index = {
        let earlier: Vec<&str> = trace.programs.iter().rev().skip(1).take(fixes::rank::TRACE_STATES).rev().map(|p| p.code.as_str()).collect();
        TraceIndex::new(&earlier, &current)
    };
    // Rounds of samples until one runs ([`style_fix::search_rounds`]): first they
    // begin with the lines above the mistake as the student wrote them, then they
    // are whole next states.
    // The verdict is usually the run's, checked already.
    let error_line = checker.check(current.clone()).await.ok().and_then(|v| v.error).and_then(|e| e.line);
    // The rounds' samples edit the student's program; when none finds a fix, one
    // more round continues from the failed attempt that got furthest past the
    // mistake (`style_fix::second_attempt_base`), as a recovery trace goes on.
    let mut rounds: std::collections::VecDeque<(SearchRound, std::sync::Arc<Trace>, String)> = {
        let trace = std::sync::Arc::new(trace);
        style_fix::search_rounds(&current, error_line).into_iter().map(|r| (r, std::sync::Arc::clone(&trace), current.clone())).collect()
    };
    let mut second_attempt = false;
    let mut seen = std::collections::HashSet::new();
    let mut running = Vec::new();
    let mut failed = Vec::new();
    while let Some((round, trace, base)) = rounds.pop_front() {
        let start = style_fix::kept_start(&base, round.kept);
        let seed = round.seed(params.seed);
        say(format!("sampling {} programs in your style", params.samples));
        let t = Instant::now();
        let (engine, prompt_trace, prompt_start) = (std::sync::Arc::clone(&engine), std::sync::Arc::clone(&trace), start.clone());
        let sampled = tokio::task::spawn_blocking(move || {
            let sampling = crate::coach::engine::FIX_SAMPLING;
            engine.sample_next_states_with(&prompt_trace, params.size.edit_size(), params.vector, params.samples, seed, sampling, &prompt_start)
        })
        .await;
        search.sample_ms += t.elapsed().as_secs_f64() * 1e3;
        let samples = match sampled {
            Ok(Ok(s)) => s,
            // A program too long to be written whole is still sampled from near its
            // mistake; the whole-state round it cannot have ends the search quietly.
            Ok(Err(_)) if search.sampled > 0 => break,
            Ok(Err(e)) => {
                search.problem = Some(format!("sampling failed: {e}"));
                return search;
            }
            Err(e) => {
                search.problem = Some(format!("sampling was interrupted: {e}"));
                return search;
            }
        };
        search.sampled += samples.len();
        let states: Vec<Option<String>> = samples.iter().map(|s| style_fix::candidate(&base, &start, &s.text, s.stop)).collect();
        search.cut_off += states.iter().filter(|s| s.is_none()).count();
        let candidates: Vec<String> = states
            .into_iter()
            .flatten()
            .filter(|c| !c.trim().is_empty() && c.trim_end() != current.trim_end() && seen.insert(c.clone()))
            .collect();
        let first = search.candidates;
        search.candidates += candidates.len();
        let t = Instant::now();
        for (i, candidate) in candidates.into_iter().enumerate() {
            say(format!("checking candidate {} of {}", first + i + 1, search.candidates));
            if let Ok(v) = checker.check(candidate.clone()).await {
                // Status and error class only: logs never carry the student's code (nor messages quoting it).
                tracing::debug!(
                    "style fix candidate {}: {} lines, {:?} {:?}",
                    first + i + 1,
                    candidate.lines().count(),
                    v.status,
                    v.error.as_ref().map(|e| &e.kind)
                );
                if v.status != Status::Error {
                    running.push(candidate);
                } else if !second_attempt {
                    let distance = fixes::program_distance(&current, &candidate);
                    failed.push(style_fix::FailedAttempt { error_line: v.error.and_then(|e| e.line), distance, code: candidate });
                }
            }
        }
        search.check_ms += t.elapsed().as_secs_f64() * 1e3;
        search.running = running.len();
        search.fixes = style_fix::rank(&current, &trace_index, running.iter().cloned(), MAX_FIXES);
        if !search.fixes.is_empty() {
            search.from_second_attempt = second_attempt;
            break;
        }
        if rounds.is_empty() && !second_attempt {
            second_attempt = true;
            let next = style_fix::second_attempt_base(&current, error_line, &failed)
                .and_then(|f| Some((f, style_fix::with_attempt(&trace, &f.code, params.size.edit_size())?)));
            if let Some((attempt, trace)) = next {
                let kept = style_fix::kept_lines(&attempt.code, attempt.error_line);
                rounds.push_back((SearchRound { kept, attempt: 2 }, std::sync::Arc::new(trace), attempt.code.clone()));
            }
        }
    }
    search
}

/// A verified fix as the student is offered it: rule-based, or sampled by the model.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Offer<'a> {
    /// A rule's quick fix.
    Rule(&'a VerifiedFix),
    /// A "Fix in my style".
    Model(&'a StyleFix),
}

impl<'a> Offer<'a> {
    /// The fixed program.
    pub fn new_code(&self) -> &'a str {
        match self {
            Offer::Rule(f) => &f.fix.new_code,
            Offer::Model(f) => &f.new_code,
        }
    }

    /// The title shown in the editor.
    pub fn title(&self) -> String {
        match self {
            Offer::Rule(f) => f.title(),
            Offer::Model(f) => f.title.clone(),
        }
    }

    /// The hint id it was recorded under, if it was.
    pub fn hint_id(&self) -> Option<i64> {
        match self {
            Offer::Rule(f) => f.hint_id,
            Offer::Model(f) => f.hint_id,
        }
    }

    /// Its score in the one ranking.
    pub fn score(&self) -> &'a fixes::Score {
        match self {
            Offer::Rule(f) => &f.score,
            Offer::Model(f) => &f.score,
        }
    }
}

/// Rule-based and model fixes of one run in one ranking ([`fixes::rank::order`],
/// the same score for both): a program both propose is offered once, and a fix that
/// deletes a line the student wrote is left out when another fix that keeps them runs.
pub fn offers<'a>(rules: &'a [VerifiedFix], model: &'a [StyleFix]) -> Vec<Offer<'a>> {
    let mut seen = std::collections::HashSet::new();
    let all: Vec<Offer<'a>> = rules
        .iter()
        .map(Offer::Rule)
        .chain(model.iter().map(Offer::Model))
        .filter(|o| seen.insert(o.new_code().to_string()))
        .collect();
    let mut all = fixes::rank::keep_offerable(all, |o| o.score());
    all.sort_by(|a, b| fixes::rank::order(a.score(), b.score()));
    all
}

/// Records shown style fixes as hints (`kind = style_fix`) on state `state_id`, filling their ids.
pub async fn record_style_fixes(services: &Services, state_id: i64, fixes: &mut [StyleFix], shown_at: &str) -> Vec<String> {
    let mut problems = Vec::new();
    let Some(store) = &services.store else { return problems };
    for fix in fixes {
        let hint = HintRecord {
            state_id,
            kind: "style_fix".into(),
            rule: "trace_model".into(),
            title: fix.title.clone(),
            replacement: fix.new_code.clone(),
            shown_at: shown_at.to_string(),
        };
        match store.call(move |db| db.record_hint(&hint)).await {
            Ok(id) => fix.hint_id = Some(id),
            Err(e) => problems.push(format!("hint not recorded: {e}")),
        }
    }
    problems
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fixes::{Fix, Outcome, Rule, Score};

    #[test]
    fn rule_and_model_fixes_share_one_ranking() {
        let current = "pen red\nfd 1O0\nzz\n";
        let trace = TraceIndex::new(&["pen red\nfd 100\n"], current);
        let rule = |code: &str| VerifiedFix {
            fix: Fix { rule: Rule::Syntax, title: "rule".into(), new_code: code.into() },
            outcome: Outcome::Runs,
            score: Score::new(current, &trace, code, true),
            hint_id: None,
        };
        let rules = [rule("pen red\nfd 10\nzz\n"), rule("pen red\nfd 100\n")];
        let model = style_fix::rank(current, &trace, ["pen red\nfd 100\nzz\n".to_string(), "pen red\nfd 10\nzz\n".to_string()], 3);
        let offered: Vec<(&str, bool)> = offers(&rules, &model).into_iter().map(|o| (o.new_code(), matches!(o, Offer::Model(_)))).collect();
        // The model's `fd 100` uses the student's earlier line and beats the rule's `fd 10`;
        // the same program is offered once; the rule fix that deletes `zz` is left out.
        assert_eq!(offered, [("pen red\nfd 100\nzz\n", true), ("pen red\nfd 10\nzz\n", false)]);
    }
}
