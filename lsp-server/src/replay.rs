//! `pencil-lsp replay`: feed corpus traces through the same pipeline as the editor
//! (store, sandbox, quick fixes) and print what the student would have seen.

use crate::checker::Checker;
use crate::coach::Coach;
use crate::fixes::{Outcome, VerifiedFix};
use crate::pipeline::{self, RunInput, RunOutcome, Services};
use crate::store::{StoreHandle, Trigger};
use pencil_core::corpus::{read_corpus, ReadOptions};
use pencil_core::Trace;
use pencil_sandbox::SandboxConfig;
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
    /// Error states with at least one verified fix.
    pub errors_with_fix: usize,
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
    let checker = match Checker::start(SandboxConfig::default()) {
        Ok(c) => Some(c),
        Err(e) => {
            writeln!(out, "warning: the program checker could not start ({e}); states are recorded but not checked")?;
            None
        }
    };
    let coach = Coach::detect(None);
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
            summary.programs += 1;
            if outcome.verdict.as_ref().is_some_and(|v| v.status == pencil_sandbox::Status::Error) {
                summary.errors += 1;
                summary.errors_with_fix += usize::from(!outcome.fixes.is_empty());
            }
            write_state(out, program.n, &program.time, previous, &program.code, &outcome, &services.coach)?;
            previous = Some(&program.code);
        }
    }
    writeln!(
        out,
        "== {} traces, {} program states, {} with errors, {} of them with a verified fix",
        summary.traces, summary.programs, summary.errors, summary.errors_with_fix
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
    coach: &Coach,
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
    for d in &outcome.diagnostics {
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
    writeln!(out, "   risk: {}", coach.risk_label())?;
    for fix in &outcome.fixes {
        write_fix(out, code, fix)?;
    }
    Ok(())
}

fn write_fix(out: &mut dyn Write, code: &str, fix: &VerifiedFix) -> std::io::Result<()> {
    let verified = match fix.outcome {
        Outcome::Runs => "verified: runs",
        Outcome::Progress => "verified: this error is gone",
    };
    writeln!(out, "   fix: {} ({verified})", fix.fix.title)?;
    let diff = TextDiff::from_lines(code, &fix.fix.new_code);
    let text = diff.unified_diff().context_radius(1).header("program", "fixed").to_string();
    for line in text.lines() {
        writeln!(out, "      {line}")?;
    }
    Ok(())
}
