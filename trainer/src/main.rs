//! `pencil-trainer`: corpora in, metrics, tokenizers, datasets and trained trace models out.
//!
//! Each subcommand lives in its own module under `cmd/`; this file is only the
//! routing table.

use clap::{Parser, Subcommand};

mod cmd;

#[derive(Parser)]
#[command(name = "pencil-trainer", version, about = "Train and evaluate the Pencil Code trace model")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Compute the paper's per-trace metrics over a corpus or rollout file.
    #[command(long_about = cmd::metrics::LONG_ABOUT)]
    Metrics(cmd::metrics::Args),
    /// Train the byte-level BPE tokenizer on scrubbed corpora.
    Tokenizer(cmd::tokenizer::Args),
    /// Build scrubbed, split, tokenized datasets of every variant.
    Dataset(cmd::dataset::Args),
    /// Write synthetic traces (one instruction per edit) from real ones.
    Synthesize(cmd::synthesize::Args),
    /// Train a trace model on one dataset variant.
    Train(cmd::train::Args),
    /// Measure training throughput (tokens/s, MFU) of a preset.
    BenchTrain(cmd::bench_train::Args),
    /// Per-token loss of a trained run on a dataset's validation and test splits.
    Evaluate(cmd::evaluate::Args),
    /// Export a run directory as an ONNX model directory (model.onnx, manifest, ...).
    Export(cmd::export::Args),
    /// Measure generation tokens/s of an exported model (ort, KV cache).
    BenchGenerate(cmd::bench_generate::Args),
    /// Scrub recall and precision on a labelled set planted into public programs.
    BenchScrub(cmd::bench_scrub::Args),
    /// Train and score the backtracking probe of a model directory (writes probe.safetensors).
    Probe(cmd::probe::Args),
    /// The paper's Figure 6: adapt to students the model never saw from k of their traces; loss, BLEU, correlations.
    EvalAdapt(cmd::eval_adapt::Args),
    /// The paper's §4.5 error recovery: recovery traces from failing programs, own vs strong vector, by time gap.
    EvalRecovery(cmd::eval_recovery::Args),
    /// The paper's Figures 2-3: trace, last and synthetic models on the same held-out traces; BLEU, runs, goal backtracking.
    EvalVariants(cmd::eval_variants::Args),
}

fn main() -> anyhow::Result<()> {
    // Before any thread starts (`cpu::configure_threads` sets it too, for tests).
    pencil_core::model::cpu_pool::limit_idle_spinning();
    match Cli::parse().command {
        Command::Metrics(args) => cmd::metrics::run(args),
        Command::Tokenizer(args) => cmd::tokenizer::run(args),
        Command::Dataset(args) => cmd::dataset::run(args),
        Command::Synthesize(args) => cmd::synthesize::run(args),
        Command::Train(args) => cmd::train::run(args),
        Command::BenchTrain(args) => cmd::bench_train::run(args),
        Command::Evaluate(args) => cmd::evaluate::run(args),
        Command::Export(args) => cmd::export::run(args),
        Command::BenchGenerate(args) => cmd::bench_generate::run(args),
        Command::BenchScrub(args) => cmd::bench_scrub::run(args),
        Command::Probe(args) => cmd::probe::run(args),
        Command::EvalAdapt(args) => cmd::eval_adapt::run(args),
        Command::EvalRecovery(args) => cmd::eval_recovery::run(args),
        Command::EvalVariants(args) => cmd::eval_variants::run(args),
    }
}
