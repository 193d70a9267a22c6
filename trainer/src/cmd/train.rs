//! `pencil-trainer train`: trains a trace model on one dataset variant.

use std::path::PathBuf;

use pencil_core::model::Preset;
use pencil_trainer::dataset::Variant;
use pencil_trainer::optim::AdamWParams;
use pencil_trainer::train::{train, TrainOptions};

/// Arguments.
#[derive(clap::Args)]
pub struct Args {
    /// Model size: tiny, small, base.
    #[arg(long, default_value = "small")]
    preset: Preset,
    /// Dataset directory from `pencil-trainer dataset`.
    #[arg(long)]
    data: PathBuf,
    /// trace, last, synthetic, trace-downsampled, synthetic-downsampled.
    #[arg(long, default_value = "trace")]
    variant: Variant,
    /// Run directory.
    #[arg(long)]
    out: PathBuf,
    /// Continue the run in --out from its checkpoint.
    #[arg(long)]
    resume: bool,
    /// Windows per batch.
    #[arg(long, default_value_t = 8)]
    batch_size: usize,
    /// Maximum optimizer steps.
    #[arg(long, default_value_t = 2000)]
    max_steps: usize,
    /// Peak learning rate.
    #[arg(long, default_value_t = 1e-3)]
    lr: f64,
    /// Warm-up steps.
    #[arg(long, default_value_t = 100)]
    warmup: usize,
    /// Evaluate (and checkpoint) every N steps.
    #[arg(long, default_value_t = 100)]
    eval_every: usize,
    /// Validation windows per evaluation (0 = all).
    #[arg(long, default_value_t = 256)]
    eval_windows: usize,
    /// Evaluations without improvement before stopping.
    #[arg(long, default_value_t = 5)]
    patience: usize,
    /// Weight decay.
    #[arg(long, default_value_t = 0.1)]
    weight_decay: f64,
    /// Gradient clipping norm.
    #[arg(long, default_value_t = 1.0)]
    clip: f64,
    /// Seed.
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// Compute in bf16 on a GPU (f32 master weights).
    #[arg(long)]
    bf16: bool,
    /// Stop this invocation after step N with a checkpoint (continue with --resume).
    #[arg(long)]
    halt_at: Option<usize>,
    #[command(flatten)]
    compute: super::compute::ComputeArgs,
}

/// Runs the subcommand.
pub fn run(a: Args) -> anyhow::Result<()> {
    a.compute.apply();
    let opts = TrainOptions {
        preset: a.preset,
        data: a.data,
        variant: a.variant,
        batch_size: a.batch_size,
        max_steps: a.max_steps,
        lr: a.lr,
        warmup: a.warmup,
        eval_every: a.eval_every,
        eval_windows: a.eval_windows,
        patience: a.patience,
        seed: a.seed,
        adamw: AdamWParams { weight_decay: a.weight_decay, clip_norm: a.clip, ..AdamWParams::default() },
        bf16: a.bf16,
        cpu: a.compute.cpu,
        halt_at: a.halt_at,
    };
    let bar = crate::cmd::progress::bar(opts.max_steps as u64, "starting");
    let report = train(&opts, &a.out, a.resume, &bar)?;
    println!(
        "{}",
        serde_json::to_string_pretty(&serde_json::json!({
            "run": a.out, "variant": opts.variant.name(), "preset": opts.preset.name(),
            "state": report.state, "wall_s": report.wall_s, "evals": report.evals.len(),
        }))?
    );
    Ok(())
}
