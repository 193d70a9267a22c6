//! The `data` tool: a student's own data, on request. `show` says what the store
//! holds, `export` writes all of it in the corpus JSON Lines format the trainer
//! reads, `delete` removes a title or everything (from the database and its WAL).

use crate::session::{ClientOptions, Settings, DATA_DIR_ENV};
use crate::store::{create_private_file, DataSummary, Database, DeleteScope};
use anyhow::{bail, Context};
use std::io::{IsTerminal, Write};
use std::path::{Path, PathBuf};

/// `pencil-lsp data ...`
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Store directory (default: $PENCIL_DATA_DIR, else the platform's user data directory).
    #[arg(long, global = true)]
    pub data_dir: Option<PathBuf>,
    /// What to do.
    #[command(subcommand)]
    pub action: Action,
}

/// The three things a student can ask of their data.
#[derive(Debug, clap::Subcommand)]
pub enum Action {
    /// What is stored: program states per title, first and last time, hints, sharing.
    Show {
        /// Print JSON instead of text.
        #[arg(long)]
        json: bool,
    },
    /// Everything, as corpus JSON Lines (`.gz` compresses), readable by pencil-trainer.
    Export {
        /// The file to write (created private to this user).
        #[arg(long)]
        out: PathBuf,
    },
    /// Delete one title's program states, or all of them, for good.
    Delete {
        /// Only this title.
        #[arg(long, conflicts_with = "all", required_unless_present = "all")]
        title: Option<String>,
        /// Every title.
        #[arg(long)]
        all: bool,
        /// Do not ask for confirmation.
        #[arg(long)]
        yes: bool,
    },
}

/// Runs the tool, writing its report to `out` (progress and questions go to stderr).
pub fn run(args: &Args, out: &mut dyn Write) -> anyhow::Result<()> {
    let dir = data_dir(args.data_dir.clone())?;
    match &args.action {
        Action::Show { json } => {
            let db = open(&dir)?;
            let summary = db.summary()?;
            if *json {
                writeln!(out, "{}", serde_json::to_string_pretty(&summary)?)?;
            } else {
                write_summary(out, &dir, &summary)?;
            }
        }
        Action::Export { out: path } => {
            let db = open(&dir)?;
            let traces = db.export_traces()?;
            write_export(path, &traces)?;
            let states: usize = traces.iter().map(|t| t.programs.len()).sum();
            writeln!(out, "wrote {} traces ({states} program states) to {}", traces.len(), path.display())?;
        }
        Action::Delete { title, all, yes } => {
            let scope = match (title, all) {
                (Some(t), false) => DeleteScope::Title(t.clone()),
                (None, true) => DeleteScope::All,
                _ => bail!("say what to delete: --title TITLE or --all"),
            };
            let mut db = open(&dir)?;
            let what = match &scope {
                DeleteScope::All => "every program state and hint".to_string(),
                DeleteScope::Title(t) => format!("every program state and hint of the title {t:?}"),
            };
            if !yes && !confirm(&what, &dir)? {
                writeln!(out, "nothing was deleted")?;
                return Ok(());
            }
            let report = db.delete_data(&scope, |r| {
                eprintln!("deleted {} program states and {} hints; compacting the store ...", r.states, r.hints);
            })?;
            writeln!(
                out,
                "deleted {} program states and {} hints from {}; the store was compacted, so no copy is left in its files",
                report.states,
                report.hints,
                dir.display()
            )?;
        }
    }
    Ok(())
}

/// The store directory, decided as the server decides it.
pub(crate) fn data_dir(cli: Option<PathBuf>) -> anyhow::Result<PathBuf> {
    let env = std::env::var_os(DATA_DIR_ENV).map(PathBuf::from);
    Settings::resolve(&ClientOptions::default(), cli, env)
        .data_dir
        .context("no user data directory was found; pass --data-dir or set PENCIL_DATA_DIR")
}

/// Opens the store for a command-line tool, printing its warnings on stderr.
pub(crate) fn open(dir: &Path) -> anyhow::Result<Database> {
    let (db, report) = Database::open_in(dir).with_context(|| format!("opening the store in {}", dir.display()))?;
    if let Some(w) = report.warning() {
        eprintln!("{w}");
    }
    if let Some(n) = report.tightened_notice() {
        eprintln!("{n}");
    }
    Ok(db)
}

fn write_summary(out: &mut dyn Write, dir: &Path, s: &DataSummary) -> anyhow::Result<()> {
    writeln!(out, "store: {}", dir.display())?;
    if s.titles.is_empty() {
        writeln!(out, "program states: none")?;
    } else {
        let states: i64 = s.titles.iter().map(|t| t.states).sum();
        let runs: i64 = s.titles.iter().map(|t| t.runs).sum();
        writeln!(out, "program states: {states} ({runs} runs) in {} titles", s.titles.len())?;
        for t in &s.titles {
            writeln!(out, "  {}: {} states, {} runs, {} .. {} (UTC)", t.title, t.states, t.runs, t.first, t.last)?;
        }
    }
    writeln!(out, "hints and fixes shown: {} ({} accepted)", s.hints_shown, s.hints_accepted)?;
    writeln!(out, "adapted student vector: none")?;
    writeln!(out, "consents: none; nothing has left this machine")?;
    Ok(())
}

fn write_export(path: &Path, traces: &[pencil_core::trace::Trace]) -> anyhow::Result<()> {
    let file = std::io::BufWriter::new(create_private_file(path)?);
    let context = || format!("writing {}", path.display());
    if path.extension().is_some_and(|e| e == "gz") {
        let mut gz = flate2::write::GzEncoder::new(file, flate2::Compression::default());
        pencil_core::corpus::write_jsonl(&mut gz, traces).with_context(context)?;
        gz.finish().with_context(context)?.flush().with_context(context)?;
    } else {
        let mut plain = file;
        pencil_core::corpus::write_jsonl(&mut plain, traces).with_context(context)?;
        plain.flush().with_context(context)?;
    }
    Ok(())
}

/// Asks on the terminal; without one, deleting needs `--yes`.
fn confirm(what: &str, dir: &Path) -> anyhow::Result<bool> {
    if !std::io::stdin().is_terminal() {
        bail!("this deletes {what} in {} for good; add --yes to confirm", dir.display());
    }
    eprint!("Delete {what} in {}? This cannot be undone. Type yes to confirm: ", dir.display());
    std::io::stderr().flush()?;
    let mut answer = String::new();
    std::io::stdin().read_line(&mut answer)?;
    Ok(answer.trim().eq_ignore_ascii_case("yes"))
}
