//! `pencil-lsp`: the coach's language server, plus `check` and `replay` tools.
//! This file is only the routing table; each tool lives in its own module.

use clap::{Parser, Subcommand};

#[derive(Parser)]
#[command(name = "pencil-lsp", version, about = "Pencil Code coach: language server and tools")]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Subcommand)]
enum Command {}

fn main() -> anyhow::Result<()> {
    match Cli::parse().command {
        None => anyhow::bail!("pencil-lsp: the server is not built yet"),
        Some(c) => match c {},
    }
}
