//! `pencil-trainer eval-variants`: the paper's Figures 2-3 (trace, last and
//! synthetic models on the same held-out traces); see
//! `pencil_trainer::variants_eval`.

use std::path::PathBuf;

use anyhow::Context;
use pencil_sandbox::SandboxConfig;
use pencil_trainer::probe::chart::DEFAULT_FONT;
use pencil_trainer::variants_eval::{chart, markdown, run_eval_variants, EvalVariantsOptions, EvalVariantsReport};

use super::progress::bar;

/// Arguments.
#[derive(clap::Args)]
pub struct Args {
    /// Models as NAME=DIR, comma-separated (a training run, exported into --out/models/NAME, or a model directory).
    #[arg(long, value_delimiter = ',', value_parser = parse_run)]
    runs: Vec<(String, PathBuf)>,
    /// One more model as NAME=DIR (repeatable; after --runs in the report).
    #[arg(long = "run", value_parser = parse_run)]
    run: Vec<(String, PathBuf)>,
    // --data: the corpus the dataset was built from (its test-split traces are evaluated);
    // --dataset: default the runs' own; --out gets variants.md, .json and .png.
    #[command(flatten)]
    common: super::eval_args::EvalArgs,
    /// Most held-out traces (a seeded subset, the same for every model).
    #[arg(long, default_value_t = 200)]
    traces: usize,
    /// Seeds (one sample per trace each).
    #[arg(long, default_value_t = 3)]
    seeds: usize,
    /// First seed.
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// Most tokens of a sample (further cut to the model's context).
    #[arg(long, default_value_t = 1024)]
    max_new_tokens: usize,
    /// Test windows each model's loss reads (0: all).
    #[arg(long, default_value_t = 512)]
    loss_windows: usize,
    /// Only draw variants.png and variants.md again from --out's variants.json (no sampling).
    #[arg(long)]
    replot: bool,
    /// TrueType font of the plot.
    #[arg(long, default_value = DEFAULT_FONT)]
    font: PathBuf,
}

/// `NAME=DIR`.
fn parse_run(s: &str) -> Result<(String, PathBuf), String> {
    let (name, dir) = s.split_once('=').ok_or_else(|| format!("{s:?} is not NAME=DIR"))?;
    if name.is_empty() || dir.is_empty() || name.contains(['/', '\\']) {
        return Err(format!("{s:?} is not NAME=DIR (a name without slashes)"));
    }
    Ok((name.to_string(), PathBuf::from(dir)))
}

/// Runs the subcommand.
pub fn run(a: Args) -> anyhow::Result<()> {
    // Fail on a missing font before minutes of sampling, not after.
    pencil_trainer::probe::chart::register_font(&a.font)?;
    let out = a.common.out.clone();
    if a.replot {
        let path = out.join("variants.json");
        let text = std::fs::read_to_string(&path).with_context(|| format!("reading {}", path.display()))?;
        let report: EvalVariantsReport = serde_json::from_str(&text).with_context(|| format!("{} is not an eval-variants report", path.display()))?;
        std::fs::write(out.join("variants.md"), markdown(&report))?;
        return chart::plot(&report, &out.join("variants.png"), &a.font);
    }
    let scrubber = a.common.scrubber()?;
    let runs: Vec<(String, PathBuf)> = a.runs.into_iter().chain(a.run).collect();
    let mut names = std::collections::BTreeSet::new();
    for (name, _) in &runs {
        anyhow::ensure!(names.insert(name.as_str()), "the name {name:?} is given twice");
    }
    std::fs::create_dir_all(&out).with_context(|| format!("creating {}", out.display()))?;
    let opts = EvalVariantsOptions {
        runs,
        data: a.common.data,
        dataset: a.common.dataset,
        out: out.clone(),
        traces: a.traces,
        seeds: a.seeds,
        seed: a.seed,
        max_new_tokens: a.max_new_tokens,
        loss_windows: a.loss_windows,
        threads: a.common.threads,
        sandbox: SandboxConfig::default(),
    };
    let progress = bar(0, "eval-variants");
    let report = run_eval_variants(&opts, &scrubber, &progress)?;
    progress.finish_and_clear();
    let md = markdown(&report);
    std::fs::write(out.join("variants.md"), &md)?;
    std::fs::write(out.join("variants.json"), serde_json::to_string_pretty(&report)?)?;
    chart::plot(&report, &out.join("variants.png"), &a.font)?;
    print!("{md}");
    Ok(())
}
