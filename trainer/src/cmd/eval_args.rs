//! Arguments every model evaluation shares (`eval-adapt`, `eval-recovery`,
//! `eval-variants`), flattened into each: the corpus, the model's dataset,
//! the scrub's names lists, threads and the report's folder.

use std::path::PathBuf;

use pencil_trainer::scrub::{locate_names_dir, NameLists, Scrubber, DICTIONARY};

/// Shared evaluation arguments.
#[derive(clap::Args)]
pub struct EvalArgs {
    /// Corpus files (the paper's JSON Lines; any corpus of that format).
    #[arg(long, num_args = 1.., required = true)]
    pub data: Vec<PathBuf>,
    /// Dataset directory of the model(s): its students.json is the model's table (default: the model's provenance).
    #[arg(long)]
    pub dataset: Option<PathBuf>,
    /// ONNX Runtime threads while sampling.
    #[arg(long)]
    pub threads: Option<usize>,
    /// Folder the report (Markdown, JSON and, where there is one, the PNG) is written to.
    #[arg(long)]
    pub out: PathBuf,
    /// Folder with the Census names lists (default: $PENCIL_NAMES_DIR or .deps/names).
    #[arg(long)]
    pub names_dir: Option<PathBuf>,
}

impl EvalArgs {
    /// The scrub every text goes through, as in training.
    pub fn scrubber(&self) -> anyhow::Result<Scrubber> {
        let lists = NameLists::load(&locate_names_dir(self.names_dir.as_deref()), DICTIONARY.as_ref())?;
        Ok(Scrubber::new(lists))
    }
}
