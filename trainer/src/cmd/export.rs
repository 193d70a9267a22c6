//! `pencil-trainer export`: a training run directory in, a model directory
//! (`model.onnx`, `tokenizer.json`, `students.safetensors`, `manifest.json`) out.

use std::path::PathBuf;

use pencil_core::inference::{ModelDir, SessionOptions};
use pencil_trainer::export::{export_run, ExportOptions};

use super::progress::bar;

/// Arguments.
#[derive(clap::Args)]
pub struct Args {
    /// Run directory written by `pencil-trainer train`.
    run_dir: PathBuf,
    /// Model directory to write, e.g. models/default.
    #[arg(long)]
    out: PathBuf,
    /// Corpus files for choosing the strong student (default: the dataset's inputs).
    #[arg(long)]
    corpus: Vec<PathBuf>,
    /// Skip the checks that need ONNX Runtime (candle-vs-ort parity, loading the result).
    #[arg(long)]
    no_check: bool,
}

/// Runs the subcommand.
pub fn run(a: Args) -> anyhow::Result<()> {
    let progress = bar(0, "exporting");
    let command = std::env::args().collect::<Vec<_>>().join(" ");
    let manifest = export_run(&ExportOptions { run_dir: a.run_dir, out: a.out.clone(), corpus: a.corpus, command, check_parity: !a.no_check }, &progress)?;
    progress.finish_with_message("exported");
    if !a.no_check {
        // Opening validates the manifest and runs ort's own graph checks.
        ModelDir::open(&a.out, &SessionOptions::default())?;
    }
    let bytes: u64 = manifest.files.values().map(|f| f.bytes).sum();
    if let Some(p) = &manifest.parity {
        eprintln!(
            "export: candle vs ort max |logit diff| {:.2e} (whole sequences), {:.2e} (through the KV cache)",
            p.max_abs_logit_diff, p.max_abs_logit_diff_kv_cache
        );
    }
    eprintln!(
        "export: {} ({} preset, {} bytes in {} files); strong student: {}",
        a.out.display(),
        manifest.preset,
        bytes,
        manifest.files.len(),
        manifest.strong_student.as_ref().map_or("none (unseen-student vector)".to_string(), |s| format!(
            "{} (row {}, {} traces, mean goal backtracking {:.3})",
            s.student, s.row, s.n_traces, s.mean_goal_backtracking
        ))
    );
    Ok(())
}
