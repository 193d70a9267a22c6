//! `pencil-trainer synthesize`: writes synthetic traces (one instruction per
//! edit, ending at each real trace's final program) as a JSON Lines corpus.

use std::io::Write;
use std::path::PathBuf;

use pencil_core::corpus::{read_corpus, write_jsonl, ReadOptions};
use pencil_trainer::synthetic::synthesize;

/// Arguments.
#[derive(clap::Args)]
pub struct Args {
    /// Corpus files with real traces.
    #[arg(long, num_args = 1.., required = true)]
    data: Vec<PathBuf>,
    /// Output JSON Lines file (gzipped when it ends in .gz).
    #[arg(long)]
    out: PathBuf,
}

/// Runs the subcommand.
pub fn run(a: Args) -> anyhow::Result<()> {
    let mut traces = Vec::new();
    for f in &a.data {
        traces.extend(read_corpus(f, ReadOptions { skip_bad: true })?.traces);
    }
    let synthetic: Vec<_> = traces.iter().map(|t| t.collapsed()).filter_map(|t| synthesize(&t)).collect();
    let file = std::fs::File::create(&a.out)?;
    if a.out.extension().is_some_and(|e| e == "gz") {
        let mut gz = flate2::write::GzEncoder::new(file, flate2::Compression::default());
        write_jsonl(&mut gz, &synthetic)?;
        gz.finish()?.flush()?;
    } else {
        let mut w = std::io::BufWriter::new(file);
        write_jsonl(&mut w, &synthetic)?;
        w.flush()?;
    }
    let programs: usize = synthetic.iter().map(|t| t.programs.len()).sum();
    eprintln!("wrote {} synthetic traces ({programs} programs) to {}", synthetic.len(), a.out.display());
    Ok(())
}
