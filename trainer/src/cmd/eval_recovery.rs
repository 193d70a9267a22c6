//! `pencil-trainer eval-recovery`: the paper's §4.5 error recovery on an
//! exported model; see `pencil_trainer::recovery_eval`.

use std::path::PathBuf;

use anyhow::Context;
use pencil_sandbox::SandboxConfig;
use pencil_trainer::recovery_eval::{markdown, run_eval_recovery, EvalRecoveryOptions, DEFAULT_GAPS};

use super::progress::bar;

/// Arguments.
#[derive(clap::Args)]
pub struct Args {
    /// Model directory written by `pencil-trainer export`.
    model_dir: PathBuf,
    // --data: students outside the model's table give the cases; --out gets eval-recovery.md and .json.
    #[command(flatten)]
    common: super::eval_args::EvalArgs,
    /// Time gaps of the first recovery header, in seconds.
    #[arg(long, value_delimiter = ',', default_values_t = DEFAULT_GAPS)]
    gaps: Vec<u32>,
    /// Sampled states a recovery trace may take to run.
    #[arg(long, default_value_t = 5)]
    attempts: usize,
    /// Most failing programs.
    #[arg(long, default_value_t = 60)]
    max_cases: usize,
    /// Seed.
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// Most tokens of a recovery trace.
    #[arg(long, default_value_t = 512)]
    max_new_tokens: usize,
}

/// Runs the subcommand.
pub fn run(a: Args) -> anyhow::Result<()> {
    let scrubber = a.common.scrubber()?;
    let out = a.common.out.clone();
    let opts = EvalRecoveryOptions {
        model: a.model_dir,
        data: a.common.data,
        dataset: a.common.dataset,
        gaps: a.gaps,
        attempts: a.attempts,
        max_cases: a.max_cases,
        seed: a.seed,
        max_new_tokens: a.max_new_tokens,
        threads: a.common.threads,
        sandbox: SandboxConfig::default(),
    };
    let progress = bar(0, "eval-recovery");
    let report = run_eval_recovery(&opts, &scrubber, &progress)?;
    progress.finish_and_clear();
    std::fs::create_dir_all(&out).with_context(|| format!("creating {}", out.display()))?;
    let md = markdown(&report);
    std::fs::write(out.join("eval-recovery.md"), &md)?;
    std::fs::write(out.join("eval-recovery.json"), serde_json::to_string_pretty(&report)?)?;
    print!("{md}");
    Ok(())
}
