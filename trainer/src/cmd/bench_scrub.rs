//! `pencil-trainer bench-scrub`: recall and precision of the scrub on a labelled
//! set built from public programs (see `pencil_trainer::scrub_eval`).

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use pencil_core::corpus::{read_corpus, ReadOptions};
use pencil_core::model::rng::SplitMix64;
use pencil_core::scrub::{locate_names_dir, NameLists, Scrubber, DICTIONARY};
use pencil_trainer::scrub_eval::{evaluate, make_roster, paper_rules, NamePool};

/// Arguments.
#[derive(clap::Args)]
pub struct Args {
    /// Corpus files to draw programs from (their last programs).
    #[arg(long, num_args = 1.., default_values_t = [
        "../shared/data/public/trace-model.jsonl.gz".to_string(),
        "../shared/data/public/last-model.jsonl.gz".to_string()])]
    corpus: Vec<String>,
    /// Programs in the labelled set (each gets one planted identifier; kinds rotate).
    #[arg(long, default_value_t = 2100)]
    programs: usize,
    /// Popular names per Census list to draw planted names from.
    #[arg(long, default_value_t = 1000)]
    top_names: usize,
    /// Seed of the sample and the planting.
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// Folder with the Census name lists (default: $PENCIL_NAMES_DIR, else .deps/names).
    #[arg(long)]
    names: Option<PathBuf>,
    /// Where the Markdown table and JSON go.
    #[arg(long, default_value = "target/bench-scrub")]
    out: PathBuf,
}

/// Runs the subcommand.
pub fn run(a: Args) -> anyhow::Result<()> {
    let names_dir = locate_names_dir(a.names.as_deref());
    let lists = NameLists::load(&names_dir, Path::new(DICTIONARY))?;
    let pool = NamePool::load(&names_dir, a.top_names)?;
    let (people, roster) = make_roster(&pool, 30, a.seed);
    let full = Scrubber::new(lists).with_roster(roster);
    let paper = paper_rules(&full);
    let mut distinct = BTreeSet::new();
    for file in &a.corpus {
        for t in read_corpus(Path::new(file), ReadOptions::default())?.traces {
            if let Some(p) = t.programs.last() {
                if p.code.lines().filter(|l| !l.trim().is_empty()).count() >= 2 {
                    distinct.insert(p.code.clone());
                }
            }
        }
    }
    let mut programs: Vec<String> = distinct.into_iter().collect();
    SplitMix64::for_purpose(a.seed, "scrub-eval-sample").shuffle(&mut programs);
    programs.truncate(a.programs);
    let started = std::time::Instant::now();
    let eval = evaluate(&full, &paper, &pool, &people, &programs, a.seed);
    let secs = started.elapsed().as_secs_f64();

    let mut md = String::from("| kind | planted | removed | recall |\n|---|---|---|---|\n");
    for (kind, s) in eval.kinds.iter().chain(std::iter::once((&"overall".to_string(), &eval.overall))) {
        md.push_str(&format!("| {kind} | {} | {} | {:.4} |\n", s.planted, s.removed, s.recall()));
    }
    md.push_str(&format!(
        "\nClean programs changed by the rules beyond the paper's: {} of {} ({:.2}%); replacements there: {}\n",
        eval.clean_changed,
        eval.clean,
        100.0 * eval.clean_changed as f64 / eval.clean.max(1) as f64,
        serde_json::to_string(&eval.clean_counts)?
    ));
    md.push_str(&format!("\n{} programs, seed {}, {:.1} s\n", programs.len(), a.seed, secs));
    std::fs::create_dir_all(&a.out)?;
    std::fs::write(a.out.join("scrub.md"), &md)?;
    std::fs::write(a.out.join("scrub.json"), serde_json::to_string_pretty(&eval)?)?;
    println!("{md}");
    for (kind, secret, line) in &eval.misses {
        println!("missed {kind}: {secret:?} in {line:?}");
    }
    for (before, after) in &eval.false_positives {
        println!("clean line changed: {before:?} -> {after:?}");
    }
    Ok(())
}
