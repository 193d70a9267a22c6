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
    Metrics(cmd::metrics::Args),
}

fn main() -> anyhow::Result<()> {
    match Cli::parse().command {
        Command::Metrics(args) => cmd::metrics::run(args),
    }
}
