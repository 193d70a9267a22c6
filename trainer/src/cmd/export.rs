//! `pencil-trainer export`: a training run directory in, a model directory
//! (`model.onnx`, `features.onnx`, `tokenizer.json`, `students.safetensors`,
//! `manifest.json`) out.

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
    /// Blocks of the probe's feature graph (features.onnx); 0 writes none and the
    /// probe reads model.onnx.
    #[arg(long, default_value_t = pencil_trainer::export::DEFAULT_FEATURE_LAYERS)]
    feature_layers: usize,
    /// Keep the feature graph in full precision instead of int8.
    #[arg(long)]
    feature_f32: bool,
    /// Store model.onnx's weights as int8 (about a quarter of the size), if its loss on
    /// the run's validation windows stays within 0.01 nats per token of full precision;
    /// otherwise it keeps full precision and says so.
    #[arg(long)]
    model_int8: bool,
    /// Only (re)write the training record (validation curve, invocations, wall time,
    /// hardware) of the existing model directory --out from RUN_DIR's log; nothing
    /// else changes. For a directory exported before the record existed.
    #[arg(long)]
    training_record_only: bool,
}

/// Runs the subcommand.
pub fn run(a: Args) -> anyhow::Result<()> {
    if a.training_record_only {
        let record = pencil_trainer::export::training_record::training_record(&a.run_dir)?;
        let mut manifest = pencil_core::inference::Manifest::read(&a.out)?;
        let data = manifest.provenance.data.as_object_mut().ok_or_else(|| anyhow::anyhow!("{}: provenance.data is not an object", a.out.display()))?;
        data.insert("training_log".into(), serde_json::to_value(&record)?);
        manifest.write(&a.out)?;
        eprintln!(
            "export: training record of {}: {} evaluations, {} invocations, {:.0} s, {}",
            a.run_dir.display(),
            record.validation_curve.len(),
            record.invocations,
            record.wall_seconds,
            record.hardware
        );
        return Ok(());
    }
    let progress = bar(0, "exporting");
    let command = std::env::args().collect::<Vec<_>>().join(" ");
    let opts = ExportOptions {
        run_dir: a.run_dir,
        out: a.out.clone(),
        corpus: a.corpus,
        command,
        check_parity: !a.no_check,
        feature_layers: a.feature_layers,
        feature_int8: !a.feature_f32,
        model_int8: a.model_int8,
    };
    let manifest = export_run(&opts, &progress)?;
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
    if let Some(q) = &manifest.quantization {
        eprintln!(
            "export: model.onnx {}: validation loss {:.4} (f32) vs {:.4} (int8), {:+.4} nats per token over {} windows ({} tokens), tolerance {}",
            if q.int8 { "int8" } else { "kept in f32" },
            q.validation_loss_f32,
            q.validation_loss_int8,
            q.validation_loss_int8 - q.validation_loss_f32,
            q.windows,
            q.tokens,
            q.tolerance
        );
    }
    if let Some(f) = &manifest.features {
        let cosine = f.min_cosine_vs_f32.map_or_else(|| "not measured".to_string(), |c| format!("min cosine {c:.4} vs full precision"));
        eprintln!("export: features.onnx: {} blocks, {}; {cosine}", f.layers, if f.int8 { "int8" } else { "f32" });
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
