//! `pencil-trainer eval-adapt`: the paper's Figure 6 (adapting to a new
//! student from k of their traces) on an exported model; see
//! `pencil_trainer::adapt_eval`.

use std::path::PathBuf;

use anyhow::Context;
use pencil_trainer::adapt_eval::{chart, markdown, record, run_eval_adapt, EvalAdaptOptions, DEFAULT_KS, DEFAULT_STEP_CANDIDATES};
use pencil_trainer::probe::chart::DEFAULT_FONT;

use super::progress::bar;

/// Arguments.
#[derive(clap::Args)]
pub struct Args {
    /// Model directory written by `pencil-trainer export`.
    model_dir: PathBuf,
    // --data: students outside the model's table are evaluated; --out gets eval-adapt.md, .json and .png.
    #[command(flatten)]
    common: super::eval_args::EvalArgs,
    /// Traces adapted on (0 = the unseen-student vector).
    #[arg(long, value_delimiter = ',', default_values_t = DEFAULT_KS)]
    ks: Vec<usize>,
    /// Step counts to choose from (on the tuning half of the students).
    #[arg(long, value_delimiter = ',', default_values_t = DEFAULT_STEP_CANDIDATES)]
    steps: Vec<usize>,
    /// Adam's learning rate (default: the manifest's, else the server's).
    #[arg(long)]
    learning_rate: Option<f64>,
    /// Seeds (orders of each student's traces).
    #[arg(long, default_value_t = 3)]
    seeds: usize,
    /// First seed.
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// Most students (those with the most traces first).
    #[arg(long, default_value_t = 40)]
    max_students: usize,
    /// Traces sampled per student, k and seed for BLEU and the correlations (0: loss only).
    #[arg(long, default_value_t = 1)]
    samples: usize,
    /// Most tokens of a sampled trace.
    #[arg(long, default_value_t = 768)]
    max_new_tokens: usize,
    /// Only draw eval-adapt.png and eval-adapt.md again from --out's eval-adapt.json (no fitting).
    #[arg(long)]
    replot: bool,
    /// Also write the chosen steps and learning rate into the model's manifest (`adaptation`), where the server reads them.
    #[arg(long)]
    record: bool,
    /// TrueType font of the plot.
    #[arg(long, default_value = DEFAULT_FONT)]
    font: PathBuf,
}

/// Runs the subcommand.
pub fn run(a: Args) -> anyhow::Result<()> {
    // Fail on a missing font before minutes of fitting, not after.
    pencil_trainer::probe::chart::register_font(&a.font)?;
    let out = a.common.out.clone();
    if a.replot {
        let path = out.join("eval-adapt.json");
        let text = std::fs::read_to_string(&path).with_context(|| format!("reading {}", path.display()))?;
        let report: pencil_trainer::adapt_eval::EvalAdaptReport = serde_json::from_str(&text).with_context(|| format!("{} is not an eval-adapt report", path.display()))?;
        std::fs::write(out.join("eval-adapt.md"), markdown(&report))?;
        return chart::plot(&report, &out.join("eval-adapt.png"), &a.font);
    }
    let scrubber = a.common.scrubber()?;
    let opts = EvalAdaptOptions {
        model: a.model_dir.clone(),
        data: a.common.data,
        dataset: a.common.dataset,
        ks: a.ks,
        step_candidates: a.steps,
        learning_rate: a.learning_rate,
        seeds: a.seeds,
        seed: a.seed,
        max_students: a.max_students,
        samples: a.samples,
        max_new_tokens: a.max_new_tokens,
        threads: a.common.threads,
    };
    let progress = bar(0, "eval-adapt");
    let report = run_eval_adapt(&opts, &scrubber, &progress)?;
    progress.finish_and_clear();
    std::fs::create_dir_all(&out).with_context(|| format!("creating {}", out.display()))?;
    let md = markdown(&report);
    std::fs::write(out.join("eval-adapt.md"), &md)?;
    std::fs::write(out.join("eval-adapt.json"), serde_json::to_string_pretty(&report)?)?;
    chart::plot(&report, &out.join("eval-adapt.png"), &a.font)?;
    if a.record {
        record(&a.model_dir, &report)?;
        println!("recorded adaptation: {} steps, lr {} in {}", report.chosen_steps, report.learning_rate, a.model_dir.join("manifest.json").display());
    }
    print!("{md}");
    Ok(())
}
