//! `pencil-trainer dataset`: scrubbed, split, tokenized windows of every variant.

use std::path::PathBuf;

use pencil_core::model::Preset;
use pencil_trainer::dataset::{build, prepare, BuildOptions};
use pencil_trainer::scrub::{locate_names_dir, NameLists, Scrubber, DICTIONARY};
use pencil_trainer::splits::SplitConfig;
use pencil_trainer::windows::WindowConfig;

/// Arguments.
#[derive(clap::Args)]
pub struct Args {
    /// Corpus files.
    #[arg(long, num_args = 1.., required = true)]
    data: Vec<PathBuf>,
    /// tokenizer.json from `pencil-trainer tokenizer`.
    #[arg(long)]
    tokenizer: PathBuf,
    /// Preset whose context and title region the windows take.
    #[arg(long, default_value = "small")]
    preset: Preset,
    /// Tokens shared by consecutive windows of a trace.
    #[arg(long, default_value_t = 64)]
    overlap: usize,
    /// Seed of the splits and title masks.
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// Fraction of training titles masked.
    #[arg(long, default_value_t = 0.15)]
    title_mask: f64,
    /// Output directory.
    #[arg(long)]
    out: PathBuf,
    /// Folder with the Census names lists (default: $PENCIL_NAMES_DIR or .deps/names).
    #[arg(long)]
    names_dir: Option<PathBuf>,
}

/// Runs the subcommand.
pub fn run(a: Args) -> anyhow::Result<()> {
    let lists = NameLists::load(&locate_names_dir(a.names_dir.as_deref()), DICTIONARY.as_ref())?;
    let prepared = prepare(&a.data, &Scrubber::new(lists))?;
    let cfg = a.preset.config(a.preset.default_vocab(), 0);
    let opts = BuildOptions {
        windows: WindowConfig { context: cfg.context, title_tokens: cfg.title_tokens, overlap: a.overlap },
        splits: SplitConfig { seed: a.seed, ..SplitConfig::default() },
        title_mask_fraction: a.title_mask,
    };
    let bar = crate::cmd::progress::bar(0, "building");
    let manifest = build(&prepared, &a.data, &a.tokenizer, &opts, &a.out, &bar)?;
    bar.finish_and_clear();
    println!("{}", serde_json::to_string_pretty(&manifest)?);
    Ok(())
}
