//! `pencil-trainer metrics` (being built).

/// Arguments of `pencil-trainer metrics`.
#[derive(clap::Args)]
pub struct Args {
    /// Corpus (JSON Lines, gzipped or not) or rollout file.
    pub file: std::path::PathBuf,
}

/// Runs the subcommand.
pub fn run(_args: Args) -> anyhow::Result<()> {
    anyhow::bail!("metrics: not built yet")
}
