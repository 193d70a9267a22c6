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
    /// Force the CPU.
    #[arg(long)]
    cpu: bool,
    /// CPU threads (default: half the logical cores; see pencil_trainer::cpu).
    #[arg(long)]
    threads: Option<usize>,
    /// Peak TFLOP/s for MFU (default: estimated for the device).
    #[arg(long)]
    peak_tflops: Option<f64>,
}

/// Runs the subcommand.
pub fn run(a: Args) -> anyhow::Result<()> {
    pencil_trainer::cpu::configure_threads(a.threads);
    pencil_trainer::cpu::tune_allocator();
    let report = bench_train(&BenchOptions {
        preset: a.preset,
        batch_size: a.batch_size,
        context: a.context,
        vocab: a.vocab,
        warmup_steps: a.warmup_steps,
        steps: a.steps,
        bf16: a.bf16,
        cpu: a.cpu,
        peak_flops: a.peak_tflops.map(|t| t * 1e12),
    })?;
    println!("{}", serde_json::to_string_pretty(&report)?);
    Ok(())
}
