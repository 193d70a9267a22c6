//! The dataset builder: corpus files in, scrubbed, split, tokenized windows
//! out, for every variant, with a manifest of counts.
//!
//! Layout of a dataset directory:
//! ```text
//! manifest.json   configuration, scrub counts, per-variant per-split counts
//! splits.json     the (student, title) pairs of each split
//! students.json   student index: row i+1 of the student table = students[i]; row 0 = unseen
//! tokenizer.json  the tokenizer the windows were made with
//! <variant>/<split>.safetensors   windows (`ids`, `rows`)
//! ```

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::{Path, PathBuf};

use anyhow::Context;
use pencil_core::corpus::{read_corpus, ReadOptions};
use pencil_core::model::rng::SplitMix64;
use pencil_core::model::TraceTokenizer;
use pencil_core::training_text::prepare_traces;
use pencil_core::{ProgramState, Trace};
use serde::{Deserialize, Serialize};

use crate::scrub::{ScrubCounts, Scrubber};
use crate::splits::{make_splits, Split, SplitConfig, Splits};
use crate::synthetic::synthesize;
use crate::windows::{cut_windows, trace_ids, WindowConfig, WindowSet};

/// Dataset variants (the paper's trace, last and synthetic models, and
/// token-matched downsampled versions of trace and synthetic).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Variant {
    /// Full traces.
    Trace,
    /// The final program only.
    Last,
    /// One instruction per edit, built from the final program.
    Synthetic,
    /// Trace, training split cut to the token count of `last`'s.
    TraceDownsampled,
    /// Synthetic, training split cut to the token count of `last`'s.
    SyntheticDownsampled,
}

impl Variant {
    /// Every variant.
    pub const ALL: [Variant; 5] =
        [Variant::Trace, Variant::Last, Variant::Synthetic, Variant::TraceDownsampled, Variant::SyntheticDownsampled];

    /// Directory name.
    pub fn name(self) -> &'static str {
        match self {
            Variant::Trace => "trace",
            Variant::Last => "last",
            Variant::Synthetic => "synthetic",
            Variant::TraceDownsampled => "trace-downsampled",
            Variant::SyntheticDownsampled => "synthetic-downsampled",
        }
    }

    /// Parses a directory name.
    pub fn from_name(s: &str) -> Option<Variant> {
        Variant::ALL.into_iter().find(|v| v.name() == s)
    }
}

impl std::str::FromStr for Variant {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Variant::from_name(s).ok_or_else(|| {
            format!("unknown variant {s:?} ({})", Variant::ALL.map(Variant::name).join(", "))
        })
    }
}

/// Traces read from corpus files and scrubbed.
#[derive(Debug, Default)]
pub struct Prepared {
    /// Scrubbed, collapsed traces with at least one program.
    pub traces: Vec<Trace>,
    /// Replacements per scrub rule.
    pub scrub: ScrubCounts,
    /// Records skipped as malformed.
    pub skipped_records: usize,
}

/// Reads corpus files, collapses consecutive duplicates, drops empty traces, scrubs.
pub fn prepare(files: &[PathBuf], scrubber: &Scrubber) -> anyhow::Result<Prepared> {
    let mut out = Prepared::default();
    let mut traces = Vec::new();
    for f in files {
        let corpus = read_corpus(f, ReadOptions { skip_bad: true })?;
        out.skipped_records += corpus.skipped.len();
        traces.extend(corpus.traces);
    }
    out.traces = prepare_traces(traces, scrubber, &mut out.scrub);
    Ok(out)
}

/// The trace's final program alone (the `last` variant).
pub fn last_only(trace: &Trace) -> Trace {
    let mut t = trace.clone();
    if let Some(last) = trace.programs.last() {
        t.programs = vec![ProgramState { n: 1, ..last.clone() }];
    }
    t
}

/// The student index written to `students.json`.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct StudentIndex {
    /// `students[i]` has table row `i + 1`; row 0 is the unseen-student vector.
    pub students: Vec<String>,
}

impl StudentIndex {
    /// Table row of a student (0 when unseen).
    pub fn row(&self, student: &str) -> u32 {
        self.students
            .binary_search_by(|s| s.as_str().cmp(student))
            .map_or(0, |i| u32::try_from(i + 1).unwrap_or(0))
    }
}

/// Counts of one split of one variant.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct SplitCounts {
    /// Traces.
    pub traces: usize,
    /// Windows.
    pub windows: usize,
    /// Non-padding tokens.
    pub tokens: usize,
}

/// What a dataset holds and how it was made.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Manifest {
    /// Format version of this directory.
    pub format: u32,
    /// Corpus files read.
    pub inputs: Vec<String>,
    /// Window shape.
    pub windows: WindowConfig,
    /// Split fractions and seed.
    pub splits: SplitConfig,
    /// Fraction of training titles replaced by masks.
    pub title_mask_fraction: f64,
    /// Replacements per scrub rule.
    pub scrub: ScrubCounts,
    /// Pairs, students and titles per split.
    pub split_sizes: BTreeMap<String, SplitSize>,
    /// Counts per variant, then per split.
    pub variants: BTreeMap<String, BTreeMap<String, SplitCounts>>,
    /// Known students (rows 1..=n of the student table).
    pub n_students: usize,
    /// Tokenizer vocabulary size.
    pub vocab_size: usize,
}

/// Size of one split.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct SplitSize {
    /// (student, title) pairs.
    pub pairs: usize,
    /// Distinct students.
    pub students: usize,
    /// Distinct titles.
    pub titles: usize,
}

/// Options of [`build`].
#[derive(Debug, Clone)]
pub struct BuildOptions {
    /// Window shape.
    pub windows: WindowConfig,
    /// Splits.
    pub splits: SplitConfig,
    /// Fraction of training titles masked (paper: 15%).
    pub title_mask_fraction: f64,
}

/// Builds every variant of the dataset into `out`.
pub fn build(
    prepared: &Prepared,
    inputs: &[PathBuf],
    tokenizer_json: &Path,
    opts: &BuildOptions,
    out: &Path,
    progress: &indicatif::ProgressBar,
) -> anyhow::Result<Manifest> {
    let tok = TraceTokenizer::load(tokenizer_json)?;
    std::fs::create_dir_all(out).with_context(|| format!("creating {}", out.display()))?;
    std::fs::copy(tokenizer_json, out.join("tokenizer.json"))?;
    let pairs: BTreeSet<(String, String)> =
        prepared.traces.iter().map(|t| (t.student.clone(), t.title.clone())).collect();
    let splits = make_splits(&pairs, &opts.splits);
    let index = StudentIndex { students: splits.seen_students.iter().cloned().collect() };
    write_json(&out.join("students.json"), &index)?;
    write_json(&out.join("splits.json"), &splits_listing(&splits))?;

    let mut by_split: HashMap<Split, Vec<&Trace>> = HashMap::new();
    for t in &prepared.traces {
        let split = splits.assignment.get(&(t.student.clone(), t.title.clone())).copied().unwrap_or(Split::Train);
        by_split.entry(split).or_default().push(t);
    }
    let synthetic: Vec<Trace> = prepared.traces.iter().filter_map(synthesize).collect();
    let mut synth_by_split: HashMap<Split, Vec<&Trace>> = HashMap::new();
    for t in &synthetic {
        let split = splits.assignment.get(&(t.student.clone(), t.title.clone())).copied().unwrap_or(Split::Train);
        synth_by_split.entry(split).or_default().push(t);
    }
    let last: Vec<Trace> = prepared.traces.iter().map(last_only).collect();
    let mut last_by_split: HashMap<Split, Vec<&Trace>> = HashMap::new();
    for t in &last {
        let split = splits.assignment.get(&(t.student.clone(), t.title.clone())).copied().unwrap_or(Split::Train);
        last_by_split.entry(split).or_default().push(t);
    }

    progress.set_length((3 * Split::ALL.len() + 2) as u64);
    let mut variants = BTreeMap::new();
    let mut train_windows: HashMap<Variant, Vec<(usize, WindowSet)>> = HashMap::new();
    for (variant, groups) in [(Variant::Trace, &by_split), (Variant::Last, &last_by_split), (Variant::Synthetic, &synth_by_split)] {
        let dir = out.join(variant.name());
        std::fs::create_dir_all(&dir)?;
        let mut counts = BTreeMap::new();
        for split in Split::ALL {
            progress.set_message(format!("{} / {}", variant.name(), split.name()));
            let traces = groups.get(&split).map(Vec::as_slice).unwrap_or(&[]);
            // The mask draw depends only on the trace, so every variant masks the same titles.
            let per_trace = windows_per_trace(&tok, traces, &index, opts, split == Split::Train)?;
            let mut set = WindowSet::new(opts.windows.context);
            for (_, w) in &per_trace {
                set.extend(w);
            }
            set.save(&dir.join(format!("{}.safetensors", split.name())))?;
            counts.insert(
                split.name().to_string(),
                SplitCounts { traces: traces.len(), windows: set.len(), tokens: set.real_tokens(tok.special.pad) },
            );
            if split == Split::Train {
                train_windows.insert(variant, per_trace);
            }
            progress.inc(1);
        }
        variants.insert(variant.name().to_string(), counts);
    }

    let target = variants.get(Variant::Last.name()).and_then(|c| c.get(Split::Train.name())).map_or(0, |c| c.tokens);
    for (source, variant) in [(Variant::Trace, Variant::TraceDownsampled), (Variant::Synthetic, Variant::SyntheticDownsampled)] {
        progress.set_message(format!("{} (to {target} tokens)", variant.name()));
        let dir = out.join(variant.name());
        std::fs::create_dir_all(&dir)?;
        let mut per_trace = train_windows.remove(&source).unwrap_or_default();
        SplitMix64::for_purpose(opts.splits.seed, variant.name()).shuffle(&mut per_trace);
        let mut set = WindowSet::new(opts.windows.context);
        let (mut tokens, mut n_traces) = (0, 0);
        for (t, w) in &per_trace {
            if tokens >= target {
                break;
            }
            set.extend(w);
            tokens += t;
            n_traces += 1;
        }
        set.save(&dir.join(format!("{}.safetensors", Split::Train.name())))?;
        let mut counts = variants.get(source.name()).cloned().unwrap_or_default();
        counts.insert(
            Split::Train.name().to_string(),
            SplitCounts { traces: n_traces, windows: set.len(), tokens: set.real_tokens(tok.special.pad) },
        );
        for split in Split::ALL.into_iter().filter(|s| *s != Split::Train) {
            let name = format!("{}.safetensors", split.name());
            std::fs::copy(out.join(source.name()).join(&name), dir.join(&name))?;
        }
        variants.insert(variant.name().to_string(), counts);
        progress.inc(1);
    }

    let manifest = Manifest {
        format: 1,
        inputs: inputs.iter().map(|p| p.display().to_string()).collect(),
        windows: opts.windows,
        splits: opts.splits.clone(),
        title_mask_fraction: opts.title_mask_fraction,
        scrub: prepared.scrub,
        split_sizes: split_sizes(&splits),
        variants,
        n_students: index.students.len(),
        vocab_size: tok.vocab_size(),
    };
    write_json(&out.join("manifest.json"), &manifest)?;
    Ok(manifest)
}

/// Windows of each trace with its non-padding token count.
fn windows_per_trace(
    tok: &TraceTokenizer,
    traces: &[&Trace],
    index: &StudentIndex,
    opts: &BuildOptions,
    is_train: bool,
) -> anyhow::Result<Vec<(usize, WindowSet)>> {
    let w = opts.windows;
    traces
        .iter()
        .map(|t| {
            let mask = is_train && title_masked(t, opts);
            let ids = trace_ids(tok, t, w.title_tokens, mask)?;
            let mut set = WindowSet::new(w.context);
            let row = index.row(&t.student);
            for win in cut_windows(&ids, w.context, w.overlap, tok.special.pad) {
                set.push(&win, row);
            }
            Ok((set.real_tokens(tok.special.pad), set))
        })
        .collect()
}

/// Whether a training trace's title is masked: a seeded draw keyed by the trace
/// (student, title, first timestamp), the same in every variant.
fn title_masked(t: &Trace, opts: &BuildOptions) -> bool {
    let first = t.programs.first().map_or("", |p| p.time.as_str());
    let key = format!("{}\u{1f}{}\u{1f}{}", t.student, t.title, first);
    SplitMix64::for_purpose(opts.splits.seed, &key).next_f64() < opts.title_mask_fraction
}

fn splits_listing(splits: &Splits) -> BTreeMap<&'static str, Vec<(String, String)>> {
    Split::ALL.into_iter().map(|s| (s.name(), splits.pairs(s).into_iter().cloned().collect())).collect()
}

fn split_sizes(splits: &Splits) -> BTreeMap<String, SplitSize> {
    Split::ALL
        .into_iter()
        .map(|s| {
            let pairs = splits.pairs(s);
            let students: BTreeSet<_> = pairs.iter().map(|p| &p.0).collect();
            let titles: BTreeSet<_> = pairs.iter().map(|p| &p.1).collect();
            (s.name().to_string(), SplitSize { pairs: pairs.len(), students: students.len(), titles: titles.len() })
        })
        .collect()
}

/// Writes pretty JSON.
pub fn write_json<T: Serialize>(path: &Path, value: &T) -> anyhow::Result<()> {
    let text = serde_json::to_string_pretty(value)?;
    std::fs::write(path, text + "\n").with_context(|| format!("writing {}", path.display()))
}

/// Reads JSON.
pub fn read_json<T: for<'de> Deserialize<'de>>(path: &Path) -> anyhow::Result<T> {
    let text = std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    serde_json::from_str(&text).with_context(|| format!("parsing {}", path.display()))
}
