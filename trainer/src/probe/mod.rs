//! `pencil-trainer probe`: the backtracking probe (the paper's §4.2/§I) of
//! an exported model directory, trained and scored on held-out titles, then
//! written into the directory as `probe.safetensors` with its report in the
//! manifest's `probe` field.
//!
//! - [`examples`]: prefixes of a trace and their labels (backtracks later,
//!   future attempts, remaining distance).
//! - [`title_split`]: train/test by title (titles the model never saw first).
//! - [`model_features`]: the model's pooled hidden state of a prefix.
//! - [`hand_features`]: the baseline's features (sandbox failures, edits, time gaps).
//! - [`linear`], [`scores`], [`heads`]: the linear heads, their metrics, fitting and scoring.
//! - [`report`]: the report and its table.
//! - [`variants`], [`calibration`], [`stats`]: every variant over several seeds
//!   of the title split (more prefixes per trace, two pooled depths, hand and
//!   model features in one head, a Platt-calibrated risk), paired t-tests, and
//!   the variant shipped.
//! - [`figure4`], [`chart`]: the paper's Figure 4 (eight targets probed from the
//!   model's prefix representations, with both controls, over five splits) as
//!   Markdown, JSON and a PNG bar chart.
//!
//! The probe is also scored with the test prefixes read as the editor reads
//! them (the unseen-student row 0). Controls, same protocol as the probe:
//! *shuffled students* (every prefix read with a random other student's soft
//! token, train and test), *shuffled embeddings* (training features permuted
//! across training prefixes, labels kept; tested on real features), and the
//! *hand-feature* baseline.

pub mod examples;
pub mod hand_features;
pub mod heads;
pub mod linear;
pub mod model_features;
pub mod report;
pub mod scores;
pub mod stats;
pub mod title_split;
pub mod variants;
pub mod calibration;
pub mod chart;
pub mod figure4;

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use anyhow::Context;
use pencil_core::corpus::{read_corpus, ReadOptions};
use pencil_core::inference::manifest::{FileEntry, Manifest, MODEL_FILE};
use pencil_core::inference::{ModelDir, SessionOptions, PROBE_FILE};
use pencil_core::model::rng::SplitMix64;
use pencil_core::Trace;
use pencil_sandbox::{Sandbox, SandboxConfig};

use crate::dataset::{read_json, StudentIndex};
use examples::{label_prefixes, PrefixLabel};
use hand_features::{hand_features, FailureOracle, TraceFacts, HAND_FEATURE_NAMES};
use model_features::ModelFeatures;
use report::{ProbeCounts, ProbeReport};
use title_split::{split_titles, DatasetTitles};
use variants::{evaluate_seeds, PrefixRow};

/// Fewest test prefixes the model's own unseen titles must give before other titles join them.
pub const MIN_TEST_EXAMPLES: usize = 300;
/// Default `--max-prefixes`: sized so the `small` model's run (two forward
/// passes per prefix plus the sandbox) stays near 8 minutes on a busy 2-core CPU.
pub const DEFAULT_MAX_PREFIXES: usize = 2500;

/// Core prefixes taken from one trace (a seeded random choice among its eligible ones).
pub const PREFIXES_PER_TRACE: usize = 3;
/// Default `--more-prefixes-per-trace`: prefixes of a trace the `more_prefixes` variants train on.
pub const DEFAULT_MORE_PREFIXES_PER_TRACE: usize = 8;

/// Options of [`run_probe`].
#[derive(Debug, Clone)]
pub struct ProbeOptions {
    /// The exported model directory (read, then given the probe).
    pub model_dir: PathBuf,
    /// Corpus files.
    pub corpus: Vec<PathBuf>,
    /// Dataset directory (splits.json, students.json); default: the one in the manifest's provenance.
    pub dataset: Option<PathBuf>,
    /// Most prefixes used (traces sampled, seeded, until the cap is reached; at most
    /// [`PREFIXES_PER_TRACE`] of each).
    pub max_prefixes: usize,
    /// Seed of the split, sampling and controls (the first of the seeds).
    pub seed: u64,
    /// Seeds of the title split the variants are scored on (`seed`, `seed + 1`, ...).
    pub seeds: usize,
    /// Most prefixes of a trace the `more_prefixes` variants train on (at least [`PREFIXES_PER_TRACE`]).
    pub more_prefixes_per_trace: usize,
    /// The command line, recorded in the report.
    pub command: String,
    /// ONNX Runtime session options.
    pub session: SessionOptions,
    /// The sandbox that decides which programs fail.
    pub sandbox: SandboxConfig,
}

/// One corpus trace with eligible prefixes.
struct Candidate {
    trace: Trace,
    row: u32,
    labels: Vec<PrefixLabel>,
}

/// The dataset directory the model was trained from, as its manifest records it.
pub(crate) fn dataset_from_provenance(manifest: &Manifest) -> Option<PathBuf> {
    let d = manifest.provenance.data.get("training")?.get("data")?.as_str()?;
    Some(PathBuf::from(d))
}

/// The student index (row i+1 = students[i]) of the model's training run.
pub(crate) fn student_index(manifest: &Manifest, dataset: Option<&Path>) -> anyhow::Result<(StudentIndex, PathBuf)> {
    let mut tried = Vec::new();
    let run = PathBuf::from(&manifest.provenance.run_dir);
    for dir in std::iter::once(run.as_path()).chain(dataset) {
        let path = dir.join("students.json");
        if path.is_file() {
            let index: StudentIndex = read_json(&path)?;
            anyhow::ensure!(
                index.students.len() == manifest.config.n_students,
                "{} lists {} students, the model's table has {}",
                path.display(),
                index.students.len(),
                manifest.config.n_students
            );
            return Ok((index, path));
        }
        tried.push(path.display().to_string());
    }
    anyhow::bail!("no students.json for the model's student table (looked at {}); pass --dataset", tried.join(", "))
}

/// Every trace's eligible prefixes, the traces with none left out.
fn read_candidates(
    opts: &ProbeOptions,
    dataset_titles: Option<&DatasetTitles>,
    students: &StudentIndex,
    counts: &mut ProbeCounts,
    progress: &indicatif::ProgressBar,
) -> anyhow::Result<Vec<Candidate>> {
    let mut candidates = Vec::new();
    for f in &opts.corpus {
        progress.set_message(format!("reading and labelling {}", f.display()));
        let corpus = read_corpus(f, ReadOptions { skip_bad: true })?;
        for t in corpus.traces {
            counts.traces_read += 1;
            if dataset_titles.is_some_and(|d| !d.known.contains(&t.title)) {
                counts.traces_title_not_in_dataset += 1;
                continue;
            }
            let trace = t.collapsed();
            let labels = label_prefixes(&trace);
            counts.prefixes_excluded_at_goal += labels.excluded_at_goal;
            if labels.prefixes.is_empty() {
                continue;
            }
            counts.eligible_prefixes += labels.prefixes.len();
            let row = students.row(&trace.student);
            candidates.push(Candidate { trace, row, labels: labels.prefixes });
        }
    }
    counts.traces_with_prefixes = candidates.len();
    Ok(candidates)
}

/// A random other student row of a table of `n_students` (any known one for an unseen student).
fn other_student(rng: &mut SplitMix64, n_students: usize, row: u32) -> u32 {
    match n_students {
        0 => 0,
        1 => 1,
        _ => loop {
            let r = 1 + rng.below(n_students) as u32;
            if r != row {
                break r;
            }
        },
    }
}

/// Trains and scores the probe of `opts.model_dir` over the seeds of the
/// title split, writes the shipped variant's heads (fitted on the first
/// seed's training titles) into the directory; returns the report.
pub fn run_probe(opts: &ProbeOptions, progress: &indicatif::ProgressBar) -> anyhow::Result<ProbeReport> {
    anyhow::ensure!(opts.seeds >= 1, "--seeds must be at least 1");
    anyhow::ensure!(opts.more_prefixes_per_trace >= PREFIXES_PER_TRACE, "--more-prefixes-per-trace must be at least {PREFIXES_PER_TRACE}");
    let started = Instant::now();
    progress.set_message("opening the model");
    let mut dir = ModelDir::open_without_probe(&opts.model_dir, &opts.session)?;
    let manifest = dir.manifest.clone();

    let dataset = match &opts.dataset {
        Some(d) => Some(d.clone()),
        None => dataset_from_provenance(&manifest).filter(|d| d.join("splits.json").is_file()),
    };
    let dataset_titles = dataset.as_deref().map(DatasetTitles::read).transpose()?;
    if dataset.is_none() {
        progress.println("probe: no dataset splits.json (manifest provenance or --dataset); test titles are a random 20%");
    }
    let (students, _) = student_index(&manifest, dataset.as_deref())?;

    let mut counts = ProbeCounts::default();
    let mut candidates = read_candidates(opts, dataset_titles.as_ref(), &students, &mut counts, progress)?;
    anyhow::ensure!(!candidates.is_empty(), "no trace of the corpus has a prefix to probe");

    // A few prefixes of many traces rather than every prefix of a few: the
    // prefixes of one trace share most of their future, so their labels repeat.
    // The first PREFIXES_PER_TRACE of a trace's seeded order are its core
    // prefixes (trained and tested on by every variant); up to
    // more_prefixes_per_trace in all train the `more_prefixes` variants.
    let mut pick = SplitMix64::for_purpose(opts.seed, "probe prefixes per trace");
    let mut kept: Vec<Vec<(PrefixLabel, bool)>> = Vec::with_capacity(candidates.len());
    for c in &mut candidates {
        pick.shuffle(&mut c.labels);
        let mut chosen: Vec<(PrefixLabel, bool)> =
            c.labels.iter().take(opts.more_prefixes_per_trace).enumerate().map(|(i, &l)| (l, i < PREFIXES_PER_TRACE)).collect();
        chosen.sort_by_key(|(l, _)| l.k);
        kept.push(chosen);
    }
    counts.prefixes_after_per_trace_cap = kept.iter().map(|k| k.iter().filter(|(_, core)| *core).count()).sum();

    // Traces in a seeded order until their core prefixes reach the cap: one
    // sample for every seed of the split, so the seeds differ only in the split.
    let mut order: Vec<usize> = (0..candidates.len()).collect();
    SplitMix64::for_purpose(opts.seed, "probe sample").shuffle(&mut order);
    let mut selected = Vec::new();
    let mut core_taken = 0;
    for i in order {
        if core_taken >= opts.max_prefixes {
            break;
        }
        core_taken += kept[i].iter().filter(|(_, core)| *core).count();
        selected.push(i);
    }
    selected.sort_unstable();
    counts.traces_used = selected.len();
    // The hand features read the sandbox's verdicts up to the last core prefix.
    let upto: BTreeMap<usize, usize> =
        selected.iter().map(|&i| (i, kept[i].iter().filter(|(_, core)| *core).map(|(l, _)| l.k).max().unwrap_or(0))).collect();

    let two_graphs = dir.probe_graph_file() != MODEL_FILE;
    let per_core = 2 + usize::from(two_graphs);
    let n_forwards: usize = selected
        .iter()
        .flat_map(|&i| kept[i].iter().map(move |(_, core)| (i, *core)))
        .map(|(i, core)| if core { per_core + usize::from(candidates[i].row != 0) } else { 1 })
        .sum();
    progress.set_length(n_forwards as u64);
    progress.set_position(0);
    progress.set_message("features (own, shuffled-student, row-0 readings)");
    let sandbox_done = AtomicUsize::new(0);
    let n_students = manifest.config.n_students;
    let (rows, forward_seconds, sandbox) = std::thread::scope(|scope| -> anyhow::Result<_> {
        let sandbox_job = scope.spawn(|| -> anyhow::Result<(HashMap<usize, TraceFacts>, usize, f64)> {
            let t0 = Instant::now();
            let mut oracle = FailureOracle::new(Sandbox::new(opts.sandbox.clone()).context("starting the sandbox")?);
            let mut facts = HashMap::new();
            for (&i, &k) in &upto {
                let trace = &candidates[i].trace;
                let fails = trace.programs[..k].iter().map(|p| oracle.fails(&p.code)).collect::<Result<Vec<bool>, _>>()?;
                facts.insert(i, TraceFacts::new(trace, k, fails));
                sandbox_done.fetch_add(1, Ordering::Relaxed);
            }
            Ok((facts, oracle.checked(), t0.elapsed().as_secs_f64()))
        });

        let mut model = ModelFeatures::new(&mut dir);
        let mut rng = SplitMix64::for_purpose(opts.seed, "probe shuffled students");
        let mut rows = Vec::new();
        let t0 = Instant::now();
        for &i in &selected {
            let c = &candidates[i];
            for &(label, core) in &kept[i] {
                let own = model.features(&c.trace, label.k, c.row)?;
                let mut row = PrefixRow { title: c.trace.title.clone(), label, core, own, shuffled: None, unseen: None, deep: None, hand: None };
                if core {
                    row.shuffled = Some(model.features(&c.trace, label.k, other_student(&mut rng, n_students, c.row))?);
                    // The editor reads every student with the unseen-student row 0.
                    row.unseen = Some(if c.row == 0 { row.own.clone() } else { model.features(&c.trace, label.k, 0)? });
                    if two_graphs {
                        row.deep = Some(model.full_model_features(&c.trace, label.k, c.row)?);
                    }
                }
                rows.push((i, row));
                progress.inc(if core { (per_core + usize::from(c.row != 0)) as u64 } else { 1 });
            }
            progress.set_message(format!("features; sandbox {}/{} traces", sandbox_done.load(Ordering::Relaxed), upto.len()));
        }
        let forward_seconds = t0.elapsed().as_secs_f64();
        while !sandbox_job.is_finished() {
            progress.set_message(format!("waiting for the sandbox: {}/{} traces", sandbox_done.load(Ordering::Relaxed), upto.len()));
            std::thread::sleep(Duration::from_millis(200));
        }
        let (facts, checked, sandbox_seconds) = sandbox_job.join().map_err(|_| anyhow::anyhow!("the sandbox thread panicked"))??;
        let mut out = Vec::with_capacity(rows.len());
        for (i, mut row) in rows {
            if row.core {
                let f = facts.get(&i).context("sandbox facts of a selected trace")?;
                row.hand = Some(hand_features(f, row.label.k));
            }
            out.push(row);
        }
        Ok((out, forward_seconds, (checked, sandbox_seconds)))
    })?;
    let (sandbox_programs, sandbox_seconds) = sandbox;
    counts.sandbox_programs = sandbox_programs;

    // The seeds of the split; every one adds a seeded fifth of the titles the
    // model trained on to its unseen ones, so that the seeds' test sets differ.
    let mut per_title: BTreeMap<String, f64> = BTreeMap::new();
    for r in rows.iter().filter(|r| r.core) {
        *per_title.entry(r.title.clone()).or_default() += 1.0;
    }
    anyhow::ensure!(per_title.len() >= 2, "the corpus has too few titles to split ({})", per_title.len());
    let min_test = if opts.seeds > 1 { f64::INFINITY } else { MIN_TEST_EXAMPLES as f64 };
    let split_of = |seed: u64| split_titles(&per_title, dataset_titles.as_ref(), min_test, seed);
    let seeds: Vec<u64> = (0..opts.seeds as u64).map(|s| opts.seed + s).collect();
    progress.set_message("fitting the variants over the seeds");
    let outcome = evaluate_seeds(&rows, &seeds, &split_of, progress)?;
    let split = &outcome.first_split;

    let core_side = |test: bool| rows.iter().filter(move |r| r.core && split.is_test(&r.title) == test);
    let rate = |test: bool| {
        let n = core_side(test).count().max(1) as f64;
        core_side(test).filter(|r| r.label.backtracks_later).count() as f64 / n
    };
    counts.train_examples = core_side(false).count();
    counts.test_examples = core_side(true).count();
    counts.train_positive_rate = rate(false);
    counts.test_positive_rate = rate(true);
    counts.train_titles = split.train.len();
    counts.test_titles = split.test.len();

    let n_forwards_done = n_forwards.max(1) as f64;
    let report = ProbeReport {
        command: opts.command.clone(),
        seconds: started.elapsed().as_secs_f64(),
        seed: opts.seed,
        corpus: opts.corpus.iter().map(|p| p.display().to_string()).collect(),
        dataset: dataset.as_ref().map(|d| d.display().to_string()),
        max_prefixes: opts.max_prefixes,
        split_rule: split.rule.clone(),
        test_titles: split.test.iter().cloned().collect(),
        test_titles_unseen_by_model: split.unseen_by_model.iter().cloned().collect(),
        counts,
        ms_per_forward: 1000.0 * forward_seconds / n_forwards_done,
        sandbox_seconds,
        features: manifest.config.n_embd,
        feature_graph: dir.probe_graph_file().to_string(),
        hand_features: HAND_FEATURE_NAMES.iter().map(|s| s.to_string()).collect(),
        shipped: outcome.report.shipped.clone(),
        results: outcome.first_seed.clone(),
        seeds: outcome.report.clone(),
    };

    // The probe file, then the manifest that lists it.
    drop(dir);
    let probe = outcome.shipped_heads.to_probe();
    probe.save(&opts.model_dir.join(PROBE_FILE))?;
    let mut written = Manifest::read(&opts.model_dir)?;
    written.files.insert(PROBE_FILE.to_string(), FileEntry::of(&opts.model_dir.join(PROBE_FILE))?);
    written.probe = Some(serde_json::to_value(&report)?);
    written.write(&opts.model_dir)?;

    // What the server will load must say what was scored.
    let reopened = ModelDir::open(&opts.model_dir, &opts.session)?;
    let loaded = reopened.probe.as_ref().context("the model directory did not load the probe it now lists")?;
    if let Some(r) = rows.iter().find(|r| r.core) {
        let x = r.unseen.as_ref().unwrap_or(&r.own);
        let (want, got) = (outcome.shipped_heads.risk_of(x), f64::from(loaded.predict(x)?.risk));
        anyhow::ensure!((want - got).abs() < 1e-4, "the saved probe gives risk {got}, the fitted one {want}");
    }
    Ok(report)
}

#[cfg(test)]
mod tests {
    use super::*;
    use pencil_core::inference::manifest::{ModelProvenance, FORMAT_VERSION};
    use pencil_core::model::Preset;

    fn manifest(run_dir: &Path, data: serde_json::Value, n_students: usize) -> Manifest {
        Manifest {
            format_version: FORMAT_VERSION,
            preset: "tiny".into(),
            config: Preset::Tiny.config(300, n_students),
            onnx_opset: 17,
            validation_loss: None,
            strong_student: None,
            parity: None,
            features: None,
            quantization: None,
            probe: None,
            adaptation: None,
            provenance: ModelProvenance { run_dir: run_dir.display().to_string(), data, ..ModelProvenance::default() },
            files: BTreeMap::new(),
        }
    }

    #[test]
    fn dataset_and_students_come_from_the_provenance_and_must_match_the_table() {
        let tmp = tempfile::tempdir().expect("tempdir");
        let (run, data) = (tmp.path().join("run"), tmp.path().join("data"));
        std::fs::create_dir_all(&run).expect("mkdir");
        std::fs::create_dir_all(&data).expect("mkdir");
        let m = manifest(&run, serde_json::json!({ "training": { "data": data.display().to_string() } }), 2);
        assert_eq!(dataset_from_provenance(&m), Some(data.clone()));
        assert_eq!(dataset_from_provenance(&manifest(&run, serde_json::Value::Null, 2)), None);

        // Nowhere to be found: the error says where it looked.
        let e = student_index(&m, Some(&data)).expect_err("no students.json").to_string();
        assert!(e.contains("students.json") && e.contains("--dataset"), "{e}");
        // The dataset's copy is used when the run has none, and its size must match the table.
        std::fs::write(data.join("students.json"), r#"{"students": ["a", "b"]}"#).expect("write");
        let (index, path) = student_index(&m, Some(&data)).expect("found");
        assert_eq!((index.row("b"), index.row("zed")), (2, 0));
        assert_eq!(path, data.join("students.json"));
        std::fs::write(run.join("students.json"), r#"{"students": ["a", "b", "c"]}"#).expect("write");
        let e = student_index(&m, Some(&data)).expect_err("3 students for a 2-row table").to_string();
        assert!(e.contains("lists 3 students") && e.contains("has 2"), "{e}");
    }
}
