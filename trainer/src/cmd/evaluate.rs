//! `pencil-trainer evaluate`: per-token loss of a trained run on dataset splits.

use std::path::PathBuf;

use pencil_trainer::dataset::Variant;
use pencil_trainer::splits::Split;
use pencil_trainer::train::{evaluate, load_run};
use pencil_trainer::windows::WindowSet;

/// Arguments.
#[derive(clap::Args)]
pub struct Args {
    /// Run directory from `pencil-trainer train`.
    #[arg(long)]
    run: PathBuf,
    /// Dataset directory (its students.json must be the run's).
    #[arg(long)]
    data: PathBuf,
    /// Variant whose windows to score.
    #[arg(long, default_value = "trace")]
    variant: Variant,
    /// At most this many windows per split (0 = all).
    #[arg(long, default_value_t = 0)]
    max_windows: usize,
    /// Windows per batch.
    #[arg(long, default_value_t = 8)]
    batch_size: usize,
    #[command(flatten)]
    compute: super::compute::ComputeArgs,
}

/// Runs the subcommand.
pub fn run(a: Args) -> anyhow::Result<()> {
    a.compute.apply();
    let device = pencil_core::model::device(a.compute.cpu)?;
    let (model, tok) = load_run(&a.run, &device)?;
    let mut out = serde_json::Map::new();
    for split in Split::ALL.into_iter().filter(|s| *s != Split::Train) {
        let path = a.data.join(a.variant.name()).join(format!("{}.safetensors", split.name()));
        let set = WindowSet::load(&path)?;
        if set.is_empty() {
            continue;
        }
        let loss = evaluate(&model, &set, &tok, a.batch_size, a.max_windows, &device)?;
        eprintln!("{:<28} {loss:.4}", split.name());
        out.insert(split.name().to_string(), serde_json::json!(loss));
    }
    println!("{}", serde_json::to_string_pretty(&out)?);
    Ok(())
}
