//! The `student` tool: the vector the coach learned from the student's own traces
//! (`crate::adaptation`). `show` says whether there is one, how many traces it was
//! learned from and when, and whether it belongs to the model in use; `reset`
//! forgets it (the coach goes back to the unseen-student vector).

use crate::coach::{locate, ModelLocation, MODEL_DIR_ENV};
use crate::data::{data_dir, open};
use crate::store::StudentVectorRow;
use pencil_core::inference::manifest::{Manifest, MODEL_FILE};
use std::io::Write;
use std::path::PathBuf;

/// `pencil-lsp student ...`
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Store directory (default: $PENCIL_DATA_DIR, else the platform's user data directory).
    #[arg(long, global = true)]
    pub data_dir: Option<PathBuf>,
    /// Trace model directory the vector is compared with (default: as the server finds it).
    #[arg(long, global = true)]
    pub model: Option<PathBuf>,
    /// What to do.
    #[command(subcommand)]
    pub action: Action,
}

/// What a student can ask about their learned vector.
#[derive(Debug, clap::Subcommand)]
pub enum Action {
    /// Whether a vector was learned, from how many traces, when, and for which model.
    Show {
        /// Print JSON instead of text.
        #[arg(long)]
        json: bool,
    },
    /// Forget the learned vector.
    Reset,
}

/// What `show` reports.
#[derive(Debug, serde::Serialize)]
struct Report {
    /// The stored vector, if any (its numbers left out).
    learned: Option<Learned>,
    /// The model directory compared with, and whether the vector was learned for it.
    model: Option<String>,
    for_this_model: Option<bool>,
}

#[derive(Debug, serde::Serialize)]
struct Learned {
    traces: i64,
    tokens: i64,
    steps: i64,
    learned_at: String,
    model_sha256: String,
    held_out_loss_before: Option<f64>,
    held_out_loss_after: Option<f64>,
}

impl From<StudentVectorRow> for Learned {
    fn from(r: StudentVectorRow) -> Self {
        Learned {
            traces: r.traces,
            tokens: r.tokens,
            steps: r.steps,
            learned_at: r.learned_at,
            model_sha256: r.model_sha256,
            held_out_loss_before: r.held_out_before,
            held_out_loss_after: r.held_out_after,
        }
    }
}

/// Runs the tool, writing its report to `out`.
pub fn run(args: &Args, out: &mut dyn Write) -> anyhow::Result<()> {
    let dir = data_dir(args.data_dir.clone())?;
    let mut db = open(&dir)?;
    let student = db.local_student()?;
    match args.action {
        Action::Reset => {
            let forgot = db.forget_student_vector(&student)?;
            match forgot {
                true => writeln!(out, "forgot the vector learned from your traces; the coach reads you as a new student again")?,
                false => writeln!(out, "no learned vector was stored")?,
            }
        }
        Action::Show { json } => {
            let row = db.student_vector(&student)?;
            let model_sha = model_sha256(args.model.as_deref());
            let for_this_model = match (&row, &model_sha) {
                (Some(r), Some((_, sha))) => Some(&r.model_sha256 == sha),
                _ => None,
            };
            let report = Report {
                learned: row.map(Learned::from),
                model: model_sha.map(|(d, _)| d.display().to_string()),
                for_this_model,
            };
            if json {
                writeln!(out, "{}", serde_json::to_string_pretty(&report)?)?;
            } else {
                write_report(out, &report)?;
            }
        }
    }
    Ok(())
}

/// The model directory the server would load and its `model.onnx` sha256 (from
/// the manifest; nothing is hashed or loaded).
fn model_sha256(cli: Option<&std::path::Path>) -> Option<(PathBuf, String)> {
    let env = std::env::var_os(MODEL_DIR_ENV);
    let exe = std::env::current_exe().ok();
    let ModelLocation::Found(dir, _) = locate(None, cli, env.as_deref(), exe.as_deref()) else { return None };
    let sha = Manifest::read(&dir).ok()?.files.get(MODEL_FILE)?.sha256.clone();
    Some((dir, sha))
}

fn write_report(out: &mut dyn Write, r: &Report) -> anyhow::Result<()> {
    let Some(l) = &r.learned else {
        writeln!(out, "no vector learned yet: the coach reads you as a new student (it learns after you finish a program)")?;
        return Ok(());
    };
    writeln!(out, "learned from {} of your traces ({} tokens, {} steps) at {} UTC", l.traces, l.tokens, l.steps, l.learned_at)?;
    if let (Some(b), Some(a)) = (l.held_out_loss_before, l.held_out_loss_after) {
        writeln!(out, "on your newest trace, held back: loss per token {b:.3} as a new student, {a:.3} with your vector")?;
    }
    match (r.for_this_model, &r.model) {
        (Some(true), Some(m)) => writeln!(out, "in use with the model in {m}")?,
        (Some(false), Some(m)) => {
            writeln!(out, "learned for another model than the one in {m}: not in use; the coach learns again after your next finished program")?
        }
        _ => writeln!(out, "for the model with model.onnx sha256 {}", l.model_sha256)?,
    }
    Ok(())
}
