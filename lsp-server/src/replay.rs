//! `pencil-lsp replay`: feed corpus traces through the same pipeline as the editor
//! (store, sandbox, quick fixes, the model's risk and "Fix in my style") and print
//! what the student would have seen.

use crate::checker::Checker;
use crate::coach::hints::hint_threshold;
use crate::coach::style_fix::{request_seed, HintSize};
use crate::coach::{Coach, ModelRequest, ModelStatus, StudentVector};
use crate::fixes::{Outcome, VerifiedFix};
use crate::pipeline::{self, RiskOutcome, RunInput, RunOutcome, Services, StyleFixParams, StyleSearch};
use crate::store::{StoreHandle, Trigger};
use pencil_core::corpus::{read_corpus, ReadOptions};
use pencil_core::Trace;
use similar::TextDiff;
use std::io::Write;
use std::path::PathBuf;

/// Options of `pencil-lsp replay`.
#[derive(Debug, Clone, clap::Args)]
pub struct ReplayArgs {
    /// Corpus file (JSON Lines, gzipped or not, or the paper's rollout JSON).
    pub file: PathBuf,
    /// Only traces of this student (hash).
    #[arg(long)]
    pub student: Option<String>,
    /// Only the N-th (0-based) of the selected traces.
    #[arg(long)]
    pub trace: Option<usize>,
    /// At most this many traces when --trace is not given.
    #[arg(long, default_value_t = 3)]
    pub limit: usize,
    /// Store directory (default: a temporary directory, removed afterwards).
    #[arg(long)]
    pub data_dir: Option<PathBuf>,
    /// Trace model directory (default: $PENCIL_MODEL_DIR, else models/default beside the executable).
    #[arg(long)]
    pub model: Option<PathBuf>,
    /// Continuations "Fix in my style" samples per failing state.
    #[arg(long, default_value_t = crate::session::DEFAULT_FIX_SAMPLES)]
    pub samples: usize,
    /// Size of change "Fix in my style" asks for: small, medium or large.
    #[arg(long, value_enum, default_value = "small")]
    pub hint_size: HintSizeArg,
    /// Whose style fixes imitate: mine (the unseen-student vector) or strong.
    #[arg(long, value_enum, default_value = "mine")]
    pub student_vector: StudentVectorArg,
}

/// `--hint-size` values.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum HintSizeArg {
    /// 1 s after the current state.
    Small,
    /// 20 s after.
    Medium,
    /// 60 s after.
    Large,
}

impl From<HintSizeArg> for HintSize {
    fn from(a: HintSizeArg) -> HintSize {
        match a {
            HintSizeArg::Small => HintSize::Small,
            HintSizeArg::Medium => HintSize::Medium,
            HintSizeArg::Large => HintSize::Large,
        }
    }
}

/// `--student-vector` values.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum StudentVectorArg {
    /// The unseen-student vector (row 0).
    Mine,
    /// The strong student's vector.
    Strong,
}

impl From<StudentVectorArg> for StudentVector {
    fn from(a: StudentVectorArg) -> StudentVector {
        match a {
            StudentVectorArg::Mine => StudentVector::Mine,
            StudentVectorArg::Strong => StudentVector::Strong,
        }
    }
}

/// Why a replay could not run.
#[derive(Debug, thiserror::Error)]
pub enum ReplayError {
    /// The corpus could not be read.
    #[error(transparent)]
    Corpus(#[from] pencil_core::corpus::CorpusError),
    /// The store could not be opened.
    #[error(transparent)]
    Store(#[from] crate::store::StoreError),
    /// Writing the report or making a temporary directory failed.
    #[error("{0}")]
    Io(#[from] std::io::Error),
    /// No trace matched the selection.
    #[error("no trace matches the selection ({0})")]
    NoTrace(String),
}

/// Totals over a replay.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ReplaySummary {
    /// Traces replayed.
    pub traces: usize,
    /// Program states replayed.
    pub programs: usize,
    /// States whose verdict was `error`.
    pub errors: usize,
    /// Error states with at least one verified fix (rule-based or model).
    pub errors_with_fix: usize,
    /// Error states with at least one running "Fix in my style".
    pub errors_with_style_fix: usize,
}

/// Runs the replay, writing the report to `out`.
pub fn replay(args: &ReplayArgs, out: &mut dyn Write) -> Result<ReplaySummary, ReplayError> {
    let corpus = read_corpus(&args.file, ReadOptions { skip_bad: true })?;
    let selected: Vec<&Trace> =
        corpus.traces.iter().filter(|t| args.student.as_ref().is_none_or(|s| &t.student == s)).collect();
    let chosen: Vec<&Trace> = match args.trace {
        Some(n) => selected.get(n).copied().into_iter().collect(),
        None => selected.into_iter().take(args.limit).collect(),
    };
    if chosen.is_empty() {
        return Err(ReplayError::NoTrace(format!("student {:?}, trace {:?}", args.student, args.trace)));
    }
    let temp;
    let dir = match &args.data_dir {
        Some(d) => d.clone(),
        None => {
            temp = tempfile::tempdir()?;
            temp.path().to_path_buf()
        }
    };
    let (store, report) = StoreHandle::open(&dir)?;
    if let Some(w) = report.warning() {
        writeln!(out, "warning: {w}")?;
    }
    let checker = match Checker::start(crate::checker::student_sandbox_config()) {
        Ok(c) => Some(c),
        Err(e) => {
            writeln!(out, "warning: the program checker could not start ({e}); states are recorded but not checked")?;
            None
        }
    };
    let coach = Coach::load(&ModelRequest { setting: None, cli: args.model.clone() });
    match (coach.status(), coach.missing_message()) {
        (ModelStatus::Ready { dir, .. }, None) => writeln!(out, "model: {}", dir.display())?,
        (ModelStatus::Ready { dir, .. }, Some(m)) => writeln!(out, "model: {} · {m}", dir.display())?,
        (ModelStatus::Unavailable(_), Some(m)) => writeln!(out, "{m}")?,
        (ModelStatus::Unavailable(r), None) => writeln!(out, "no model: {r}")?,
    }
    let threshold = hint_threshold(None, coach.engine().and_then(|e| e.probe_threshold()));
    let services = Services { store: Some(store), checker, coach };
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
    let mut summary = ReplaySummary::default();
    for trace in chosen {
        summary.traces += 1;
        let index = trace.provenance.index.map_or_else(|| "?".to_string(), |i| i.to_string());
        writeln!(out, "== trace {index} · student {} · title {} · {} programs", trace.student, trace.title, trace.programs.len())?;
        let mut previous: Option<&str> = None;
        for program in &trace.programs {
            let input = RunInput {
                student: trace.student.clone(),
                title: trace.title.clone(),
                code: program.code.clone(),
                time: program.time.clone(),
                trigger: Trigger::Replay,
                quick_fixes: true,
            };
            let outcome = runtime.block_on(pipeline::run(&services, input));
            let failed = outcome.verdict.as_ref().is_some_and(|v| v.status == pencil_sandbox::Status::Error);
            let (risk, style) = runtime.block_on(async {
                let so_far = pipeline::trace_so_far(&services, &trace.student, &trace.title, &program.code, &program.time).await;
                let risk = pipeline::assess_risk(&services, so_far.clone()).await;
                let style = match failed && services.coach.engine().is_some() {
                    true => {
                        let params = StyleFixParams {
                            samples: args.samples,
                            size: args.hint_size.into(),
                            vector: args.student_vector.into(),
                            seed: request_seed(&trace.student, &trace.title, &program.code),
                        };
                        Some(pipeline::find_style_fixes(&services, so_far, params, None).await)
                    }
                    false => None,
                };
                (risk, style)
            });
            summary.programs += 1;
            if failed {
                summary.errors += 1;
                let styled = style.as_ref().is_some_and(|s| !s.fixes.is_empty());
                summary.errors_with_fix += usize::from(!outcome.fixes.is_empty() || styled);
                summary.errors_with_style_fix += usize::from(styled);
            }
            write_state(out, program.n, &program.time, previous, &program.code, &outcome)?;
            write_risk(out, &risk, threshold, &services.coach)?;
            for fix in &outcome.fixes {
                write_fix(out, &program.code, fix)?;
            }
            if let Some(search) = &style {
                write_style(out, &program.code, search)?;
            }
            previous = Some(&program.code);
        }
    }
    writeln!(
        out,
        "== {} traces, {} program states, {} with errors, {} of them with a verified fix ({} with a running \"Fix in my style\")",
        summary.traces, summary.programs, summary.errors, summary.errors_with_fix, summary.errors_with_style_fix
    )?;
    Ok(summary)
}

fn write_state(
    out: &mut dyn Write,
    n: u32,
    time: &str,
    previous: Option<&str>,
    code: &str,
    outcome: &RunOutcome,
) -> std::io::Result<()> {
    let state = outcome.state.map_or_else(
        || "not recorded".to_string(),
        |s| if s.collapsed { format!("state #{} (unchanged, collapsed)", s.n) } else { format!("state #{}", s.n) },
    );
    let verdict = outcome.verdict.as_ref().map_or_else(
        || "not checked".to_string(),
        |v| {
            let status = serde_json::to_value(v.status).ok().and_then(|s| s.as_str().map(str::to_string)).unwrap_or_default();
            format!("{status} · paper_success {} · {:.1} ms", v.paper_success, outcome.timings.run_ms)
        },
    );
    let changed = previous.map_or(String::new(), |p| {
        let d = TextDiff::from_lines(p, code);
        let (del, ins) = d.iter_all_changes().fold((0, 0), |(d, i), c| match c.tag() {
            similar::ChangeTag::Delete => (d + 1, i),
            similar::ChangeTag::Insert => (d, i + 1),
            similar::ChangeTag::Equal => (d, i),
        });
        format!(" · edit -{del}/+{ins} lines")
    });
    writeln!(out, "-- CODE {n} ({time}) · {state} · {verdict}{changed}")?;
    let diagnostics = outcome.verdict.as_ref().map(|v| crate::diagnostics::from_verdict(code, v)).unwrap_or_default();
    for d in &diagnostics {
        let msg = match &d.message {
            tower_lsp_server::gen_lsp_types::Message::String(s) => s.clone(),
            tower_lsp_server::gen_lsp_types::Message::MarkupContent(m) => m.value.clone(),
        };
        let severity = match d.severity {
            Some(tower_lsp_server::gen_lsp_types::DiagnosticSeverity::Warning) => "warning",
            Some(tower_lsp_server::gen_lsp_types::DiagnosticSeverity::Error) | None => "error",
            Some(_) => "info",
        };
        writeln!(out, "   {}:{} {severity} {msg}", d.range.start.line + 1, d.range.start.character + 1)?;
    }
    for p in &outcome.problems {
        writeln!(out, "   problem: {p}")?;
    }
    Ok(())
}

fn write_risk(out: &mut dyn Write, risk: &RiskOutcome, threshold: f64, coach: &Coach) -> std::io::Result<()> {
    match risk {
        RiskOutcome::Risk(r) => {
            let verdict = if f64::from(r.risk) >= threshold { "above" } else { "below" };
            writeln!(
                out,
                "   risk: {:.2} ({verdict} threshold {threshold:.2}) · ~{:.0} more attempts, ~{:.0} characters from the final program",
                r.risk, r.future_attempts, r.remaining_distance
            )
        }
        RiskOutcome::Failed(e) => writeln!(out, "   risk: failed ({e})"),
        RiskOutcome::NoModel | RiskOutcome::NoProbe => writeln!(out, "   risk: {}", coach.risk_unavailable_label()),
    }
}

fn write_style(out: &mut dyn Write, code: &str, search: &StyleSearch) -> std::io::Result<()> {
    if let Some(problem) = &search.problem {
        return writeln!(out, "   fix in my style: {problem}");
    }
    writeln!(
        out,
        "   fix in my style: {} sampled ({} cut off), {} distinct new programs, {} run · {:.0} ms sampling + {:.0} ms checking",
        search.sampled, search.cut_off, search.candidates, search.running, search.sample_ms, search.check_ms
    )?;
    for fix in &search.fixes {
        writeln!(out, "   fix: {} (verified: runs; edit distance {}, BLEU {:.2})", fix.title, fix.distance, fix.bleu)?;
        write_diff(out, code, &fix.new_code)?;
    }
    Ok(())
}

fn write_diff(out: &mut dyn Write, code: &str, new_code: &str) -> std::io::Result<()> {
    let diff = TextDiff::from_lines(code, new_code);
    let text = diff.unified_diff().context_radius(1).header("program", "fixed").to_string();
    for line in text.lines() {
        writeln!(out, "      {line}")?;
    }
    Ok(())
}

fn write_fix(out: &mut dyn Write, code: &str, fix: &VerifiedFix) -> std::io::Result<()> {
    let verified = match fix.outcome {
        Outcome::Runs => "verified: runs",
        Outcome::Progress => "verified: this error is gone",
    };
    writeln!(out, "   fix: {} ({verified})", fix.fix.title)?;
    write_diff(out, code, &fix.fix.new_code)
}
