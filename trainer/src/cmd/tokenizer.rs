//! `pencil-trainer tokenizer`: trains the byte-level BPE on scrubbed corpora.

use std::path::PathBuf;

use pencil_core::model::TraceTokenizer;
use pencil_core::text_format::write;
use pencil_trainer::bpe::{measure, train_bpe};
use pencil_trainer::dataset::{prepare, write_json};
use pencil_trainer::scrub::{locate_names_dir, NameLists, Scrubber, DICTIONARY};

/// Arguments.
#[derive(clap::Args)]
pub struct Args {
    /// Corpus files (JSON Lines, optionally gzipped, or rollout lists).
    #[arg(long, num_args = 1.., required = true)]
    data: Vec<PathBuf>,
    /// Vocabulary size, special tokens included.
    #[arg(long, default_value_t = 8192)]
    vocab: usize,
    /// Output directory (gets tokenizer.json and tokenizer_report.json).
    #[arg(long)]
    out: PathBuf,
    /// Folder with the Census names lists (default: $PENCIL_NAMES_DIR or .deps/names).
    #[arg(long)]
    names_dir: Option<PathBuf>,
    /// Also write the scrubbed corpus here (JSON Lines), for auditing the scrub.
    #[arg(long)]
    scrubbed_out: Option<PathBuf>,
}

/// Runs the subcommand.
pub fn run(a: Args) -> anyhow::Result<()> {
    let lists = NameLists::load(&locate_names_dir(a.names_dir.as_deref()), DICTIONARY.as_ref())?;
    let prepared = prepare(&a.data, &Scrubber::new(lists))?;
    if let Some(path) = &a.scrubbed_out {
        let mut w = std::io::BufWriter::new(std::fs::File::create(path)?);
        pencil_core::corpus::write_jsonl(&mut w, &prepared.traces)?;
    }
    let texts: Vec<String> = prepared.traces.iter().filter_map(|t| write(t, 0).ok()).collect();
    eprintln!("training a {}-token BPE on {} scrubbed traces", a.vocab, texts.len());
    let tok = train_bpe(&texts, a.vocab)?;
    std::fs::create_dir_all(&a.out)?;
    let path = a.out.join("tokenizer.json");
    tok.save(&path, false).map_err(|e| anyhow::anyhow!("saving {}: {e}", path.display()))?;
    let tok = TraceTokenizer::load(&path)?;
    let programs: Vec<&str> = prepared.traces.iter().flat_map(|t| t.codes()).collect();
    let report = measure(&tok, &programs)?;
    let summary = serde_json::json!({ "tokenizer": report, "scrub": prepared.scrub });
    write_json(&a.out.join("tokenizer_report.json"), &summary)?;
    println!("{}", serde_json::to_string_pretty(&summary)?);
    Ok(())
}
