//! `pencil-trainer probe`: trains the backtracking probe of an exported model
//! directory on a corpus, scores it and its controls on held-out titles, and
//! writes `probe.safetensors` plus the report into the directory's manifest.

use std::path::PathBuf;

use anyhow::Context;

use pencil_core::inference::SessionOptions;
use pencil_sandbox::SandboxConfig;
use pencil_trainer::probe::chart::{register_font, DEFAULT_FONT};
use pencil_trainer::probe::figure4::{run_figure4, Figure4Options, DEFAULT_SPLITS};
use pencil_trainer::probe::variants::DEFAULT_SEEDS;
use pencil_trainer::probe::{run_probe, ProbeOptions, DEFAULT_MAX_PREFIXES, DEFAULT_MORE_PREFIXES_PER_TRACE};

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
    /// Most core prefixes used (traces sampled, seeded, until reached; at most 3 core prefixes of a trace).
    #[arg(long, default_value_t = DEFAULT_MAX_PREFIXES)]
    max_prefixes: usize,
    /// Seed of the sampling and the first split (the others are seed+1, seed+2, ...).
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// Seeds of the title split every variant is scored on (mean, standard error, paired t-tests).
    #[arg(long, default_value_t = DEFAULT_SEEDS)]
    seeds: usize,
    /// Prefixes of a trace (core ones included) the `more_prefixes` variants train on.
    #[arg(long, default_value_t = DEFAULT_MORE_PREFIXES_PER_TRACE)]
    more_prefixes_per_trace: usize,
    /// Also write the report as Markdown and JSON here (probe.md, probe.json).
    #[arg(long)]
    out: Option<PathBuf>,
    /// Also write the paper's Figure 4 table into --out (figure4.md, figure4.json, figure4.png).
    #[arg(long, requires = "out")]
    figure4: bool,
    /// Most prefixes of the Figure 4 probes.
    #[arg(long, default_value_t = DEFAULT_MAX_PREFIXES)]
    figure4_max_prefixes: usize,
    /// Splits (seeds) of the Figure 4 probes.
    #[arg(long, default_value_t = DEFAULT_SPLITS)]
    figure4_splits: usize,
    /// TrueType font of the Figure 4 chart.
    #[arg(long, default_value = DEFAULT_FONT)]
    font: PathBuf,
}

/// Runs the subcommand.
pub fn run(a: Args) -> anyhow::Result<()> {
    if a.figure4 {
        // Before the long run: a missing font should fail now, not after it.
        register_font(&a.font)?;
    }
    let progress = bar(0, "probe");
    let opts = ProbeOptions {
        model_dir: a.model_dir.clone(),
        corpus: a.corpus.clone(),
        dataset: a.dataset.clone(),
        max_prefixes: a.max_prefixes,
        seed: a.seed,
        seeds: a.seeds,
        more_prefixes_per_trace: a.more_prefixes_per_trace,
        command: std::env::args().collect::<Vec<_>>().join(" "),
        session: SessionOptions::default(),
        sandbox: SandboxConfig::default(),
    };
    let report = run_probe(&opts, &progress)?;
    progress.finish_and_clear();
    print!("{}", report.table());
    if let Some(out) = &a.out {
        std::fs::create_dir_all(out).with_context(|| format!("creating {}", out.display()))?;
        std::fs::write(out.join("probe.md"), report.markdown()).with_context(|| format!("writing {}", out.join("probe.md").display()))?;
        std::fs::write(out.join("probe.json"), serde_json::to_string_pretty(&report)?)
            .with_context(|| format!("writing {}", out.join("probe.json").display()))?;
        eprintln!("probe: wrote {} and probe.json", out.join("probe.md").display());
    }
    eprintln!("probe: wrote {} and the manifest's probe field", opts.model_dir.join(pencil_core::inference::PROBE_FILE).display());
    if let (true, Some(out)) = (a.figure4, &a.out) {
        let progress = bar(0, "figure 4");
        let f = Figure4Options {
            model_dir: a.model_dir.clone(),
            corpus: a.corpus.clone(),
            dataset: a.dataset.clone(),
            max_prefixes: a.figure4_max_prefixes,
            seed: a.seed,
            splits: a.figure4_splits,
            command: opts.command.clone(),
            session: SessionOptions::default(),
            sandbox: SandboxConfig::default(),
        };
        let report = run_figure4(&f, &progress)?;
        progress.finish_and_clear();
        report.write(out, &a.font)?;
        print!("{}", report.markdown());
        eprintln!("probe: wrote {} (and .json, .png)", out.join("figure4.md").display());
    }
    Ok(())
}
