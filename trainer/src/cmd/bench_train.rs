//! `pencil-trainer bench-train`: training tokens/s and MFU of a preset.

use pencil_core::model::Preset;
use pencil_trainer::bench::{bench_train, BenchOptions};

/// Arguments.
#[derive(clap::Args)]
pub struct Args {
    /// Model size.
    #[arg(long, default_value = "small")]
    preset: Preset,
    /// Windows per batch.
    #[arg(long, default_value_t = 8)]
    batch_size: usize,
    /// Tokens per window (default: the preset's context).
    #[arg(long)]
    context: Option<usize>,
    /// Vocabulary size (default: the preset's).
    #[arg(long)]
    vocab: Option<usize>,
    /// Untimed steps.
    #[arg(long, default_value_t = 2)]
    warmup_steps: usize,
    /// Timed steps.
    #[arg(long, default_value_t = 10)]
    steps: usize,
    /// bf16 on a GPU.
    #[arg(long)]
    bf16: bool,
    /// Peak TFLOP/s for MFU (default: estimated for the device).
    #[arg(long)]
    peak_tflops: Option<f64>,
    #[command(flatten)]
    compute: super::compute::ComputeArgs,
}

/// Runs the subcommand.
pub fn run(a: Args) -> anyhow::Result<()> {
    a.compute.apply();
    let report = bench_train(&BenchOptions {
        preset: a.preset,
        batch_size: a.batch_size,
        context: a.context,
        vocab: a.vocab,
        warmup_steps: a.warmup_steps,
        steps: a.steps,
        bf16: a.bf16,
        cpu: a.compute.cpu,
        peak_flops: a.peak_tflops.map(|t| t * 1e12),
    })?;
    println!("{}", serde_json::to_string_pretty(&report)?);
    Ok(())
}
