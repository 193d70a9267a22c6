//! `pencil-trainer probe`: trains the backtracking probe of an exported model
//! directory on a corpus, scores it and its controls on held-out titles, and
//! writes `probe.safetensors` plus the report into the directory's manifest.

use std::path::PathBuf;

use pencil_core::inference::SessionOptions;
use pencil_sandbox::SandboxConfig;
use pencil_trainer::probe::{run_probe, ProbeOptions, DEFAULT_MAX_PREFIXES};

use super::progress::bar;

/// Arguments.
#[derive(clap::Args)]
pub struct Args {
    /// Model directory written by `pencil-trainer export` (gets probe.safetensors).
    model_dir: PathBuf,
    /// Corpus files whose traces give the prefixes.
    #[arg(long, num_args = 1.., required = true)]
    corpus: Vec<PathBuf>,
    /// Dataset directory (splits.json, students.json); default: the one the manifest's provenance names.
    #[arg(long)]
    dataset: Option<PathBuf>,
    /// Most prefixes used (traces sampled, seeded, until reached; at most 3 prefixes of a trace).
    #[arg(long, default_value_t = DEFAULT_MAX_PREFIXES)]
    max_prefixes: usize,
    /// Seed of the split, the sampling and the controls.
    #[arg(long, default_value_t = 0)]
    seed: u64,
}

/// Runs the subcommand.
pub fn run(a: Args) -> anyhow::Result<()> {
    let progress = bar(0, "probe");
    let opts = ProbeOptions {
        model_dir: a.model_dir,
        corpus: a.corpus,
        dataset: a.dataset,
        max_prefixes: a.max_prefixes,
        seed: a.seed,
        command: std::env::args().collect::<Vec<_>>().join(" "),
        session: SessionOptions::default(),
        sandbox: SandboxConfig::default(),
    };
    let report = run_probe(&opts, &progress)?;
    progress.finish_and_clear();
    print!("{}", report.table());
    eprintln!("probe: wrote {} and the manifest's probe field", opts.model_dir.join(pencil_core::inference::PROBE_FILE).display());
    Ok(())
}
