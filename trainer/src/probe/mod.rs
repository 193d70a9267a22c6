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
pub mod title_split;

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use anyhow::Context;
use pencil_core::corpus::{read_corpus, ReadOptions};
use pencil_core::inference::manifest::{FileEntry, Manifest};
use pencil_core::inference::{ModelDir, SessionOptions, PROBE_FILE};
use pencil_core::model::rng::SplitMix64;
use pencil_core::Trace;
use pencil_sandbox::{Sandbox, SandboxConfig};

use crate::dataset::{read_json, StudentIndex};
use examples::{label_prefixes, PrefixLabel};
use hand_features::{hand_features, FailureOracle, TraceFacts, HAND_FEATURE_NAMES};
use heads::{fit_heads, score_heads, Rows};
use model_features::ModelFeatures;
use report::{ProbeCounts, ProbeReport};
use title_split::{split_titles, DatasetTitles};

/// Fewest test prefixes the model's own unseen titles must give before other titles join them.
pub const MIN_TEST_EXAMPLES: usize = 300;
/// Default `--max-prefixes`: sized so the `small` model's run (two forward
/// passes per prefix plus the sandbox) stays near 8 minutes on a busy 2-core CPU.
pub const DEFAULT_MAX_PREFIXES: usize = 2500;

/// Most prefixes taken from one trace (a seeded random choice among its eligible ones).
pub const PREFIXES_PER_TRACE: usize = 3;

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
    /// Seed of the split, sampling and controls.
    pub seed: u64,
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

/// One selected prefix.
struct Example {
    candidate: usize,
    label: PrefixLabel,
    is_test: bool,
}

/// The dataset directory the model was trained from, as its manifest records it.
fn dataset_from_provenance(manifest: &Manifest) -> Option<PathBuf> {
    let d = manifest.provenance.data.get("training")?.get("data")?.as_str()?;
    Some(PathBuf::from(d))
}

/// The student index (row i+1 = students[i]) of the model's training run.
fn student_index(manifest: &Manifest, dataset: Option<&Path>) -> anyhow::Result<(StudentIndex, PathBuf)> {
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

/// Trains, scores and writes the probe of `opts.model_dir`; returns the report.
pub fn run_probe(opts: &ProbeOptions, progress: &indicatif::ProgressBar) -> anyhow::Result<ProbeReport> {
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

    // Every trace's eligible prefixes.
    let mut counts = ProbeCounts::default();
    let mut candidates = Vec::new();
    for f in &opts.corpus {
        progress.set_message(format!("reading and labelling {}", f.display()));
        let corpus = read_corpus(f, ReadOptions { skip_bad: true })?;
        for t in corpus.traces {
            counts.traces_read += 1;
            if dataset_titles.as_ref().is_some_and(|d| !d.known.contains(&t.title)) {
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
    anyhow::ensure!(!candidates.is_empty(), "no trace of the corpus has a prefix to probe");

    // A few prefixes of many traces rather than every prefix of a few: the
    // prefixes of one trace share most of their future, so their labels repeat.
    let mut pick = SplitMix64::for_purpose(opts.seed, "probe prefixes per trace");
    for c in &mut candidates {
        if c.labels.len() > PREFIXES_PER_TRACE {
            pick.shuffle(&mut c.labels);
            c.labels.truncate(PREFIXES_PER_TRACE);
            c.labels.sort_by_key(|l| l.k);
        }
    }
    counts.prefixes_after_per_trace_cap = candidates.iter().map(|c| c.labels.len()).sum();

    // The split, by title, judged on the examples the cap will leave.
    let rate = (opts.max_prefixes as f64 / counts.prefixes_after_per_trace_cap as f64).min(1.0);
    let mut per_title: BTreeMap<String, f64> = BTreeMap::new();
    for c in &candidates {
        *per_title.entry(c.trace.title.clone()).or_default() += rate * c.labels.len() as f64;
    }
    let split = split_titles(&per_title, dataset_titles.as_ref(), MIN_TEST_EXAMPLES as f64, opts.seed);
    anyhow::ensure!(!split.train.is_empty() && !split.test.is_empty(), "the corpus has too few titles to split ({})", per_title.len());

    // Traces (with their kept prefixes) in a seeded order, until each side reaches its share of the cap.
    let mut examples = Vec::new();
    for is_test in [false, true] {
        let mut idx: Vec<usize> = (0..candidates.len()).filter(|&i| split.is_test(&candidates[i].trace.title) == is_test).collect();
        let total: usize = idx.iter().map(|&i| candidates[i].labels.len()).sum();
        let budget = (rate * total as f64).ceil() as usize;
        SplitMix64::for_purpose(opts.seed, if is_test { "probe sample test" } else { "probe sample train" }).shuffle(&mut idx);
        let mut taken = 0;
        for i in idx {
            if taken >= budget {
                break;
            }
            taken += candidates[i].labels.len();
            examples.extend(candidates[i].labels.iter().map(|&label| Example { candidate: i, label, is_test }));
        }
    }
    let mut upto: BTreeMap<usize, usize> = BTreeMap::new();
    for e in &examples {
        let u = upto.entry(e.candidate).or_default();
        *u = (*u).max(e.label.k);
    }
    counts.traces_used = upto.len();

    // Sandbox verdicts on one thread while the model computes features on this one.
    let n_test_read_as_unseen = examples.iter().filter(|e| e.is_test && candidates[e.candidate].row != 0).count();
    let n_features = 2 * examples.len() + n_test_read_as_unseen;
    progress.set_length(n_features as u64);
    progress.set_position(0);
    progress.set_message("features (real and shuffled-student)");
    let sandbox_done = AtomicUsize::new(0);
    let n_students = manifest.config.n_students;
    let (features, forward_seconds, facts, sandbox) = std::thread::scope(|scope| -> anyhow::Result<_> {
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
        let mut features = Vec::with_capacity(examples.len());
        let t0 = Instant::now();
        for (n, e) in examples.iter().enumerate() {
            let c = &candidates[e.candidate];
            let real = model.features(&c.trace, e.label.k, c.row)?;
            // A random other student of the table (any known one for an unseen student).
            let other = match n_students {
                0 => 0,
                1 => 1,
                _ => loop {
                    let r = 1 + rng.below(n_students) as u32;
                    if r != c.row {
                        break r;
                    }
                },
            };
            let shuffled = model.features(&c.trace, e.label.k, other)?;
            // The editor reads every student with the unseen-student row 0: test prefixes are scored that way too.
            let unseen = match (e.is_test, c.row) {
                (false, _) => None,
                (true, 0) => Some(real.clone()),
                (true, _) => Some(model.features(&c.trace, e.label.k, 0)?),
            };
            features.push((real, shuffled, unseen));
            progress.inc(if e.is_test && c.row != 0 { 3 } else { 2 });
            if n % 16 == 0 {
                progress.set_message(format!("features; sandbox {}/{} traces", sandbox_done.load(Ordering::Relaxed), upto.len()));
            }
        }
        let forward_seconds = t0.elapsed().as_secs_f64();
        while !sandbox_job.is_finished() {
            progress.set_message(format!("waiting for the sandbox: {}/{} traces", sandbox_done.load(Ordering::Relaxed), upto.len()));
            std::thread::sleep(Duration::from_millis(200));
        }
        let (facts, checked, sandbox_seconds) = sandbox_job.join().map_err(|_| anyhow::anyhow!("the sandbox thread panicked"))??;
        Ok((features, forward_seconds, facts, (checked, sandbox_seconds)))
    })?;
    let (sandbox_programs, sandbox_seconds) = sandbox;
    counts.sandbox_programs = sandbox_programs;

    // Rows of every feature set.
    progress.set_message("fitting the heads and the controls");
    let mut real = [Rows::default(), Rows::default()];
    let mut shuffled_students = [Vec::new(), Vec::new()];
    let mut hand = [Vec::new(), Vec::new()];
    let mut test_read_as_unseen = Vec::new();
    for (e, (x, xs, x0)) in examples.iter().zip(&features) {
        let side = usize::from(e.is_test);
        let c = &candidates[e.candidate];
        let r = &mut real[side];
        r.x.push(x.clone());
        r.titles.push(c.trace.title.clone());
        r.backtracks.push(e.label.backtracks_later);
        r.attempts.push(e.label.future_attempts as f64);
        r.remaining.push(e.label.remaining_distance as f64);
        shuffled_students[side].push(xs.clone());
        if let Some(x0) = x0 {
            test_read_as_unseen.push(x0.clone());
        }
        let f = facts.get(&e.candidate).context("sandbox facts of a selected trace")?;
        hand[side].push(hand_features(f, e.label.k));
    }
    let [train, test] = real;
    let [ss_train, ss_test] = shuffled_students;
    let [hand_train, hand_test] = hand;
    let mut permuted = train.x.clone();
    SplitMix64::for_purpose(opts.seed, "probe shuffled embeddings").shuffle(&mut permuted);

    counts.train_examples = train.len();
    counts.test_examples = test.len();
    counts.train_positive_rate = train.positive_rate();
    counts.test_positive_rate = test.positive_rate();
    counts.train_titles = train.titles.iter().collect::<std::collections::BTreeSet<_>>().len();
    counts.test_titles = test.titles.iter().collect::<std::collections::BTreeSet<_>>().len();

    let probe_heads = fit_heads(&train, opts.seed)?;
    let mut results = BTreeMap::new();
    results.insert("probe".to_string(), score_heads(&probe_heads, &train, &test));
    results.insert("probe_read_as_unseen_student".to_string(), score_heads(&probe_heads, &train, &test.with_features(test_read_as_unseen)));
    let variants = [
        ("shuffled_students", train.with_features(ss_train), test.with_features(ss_test)),
        ("shuffled_embeddings", train.with_features(permuted), test.clone()),
        ("hand_features", train.with_features(hand_train), test.with_features(hand_test)),
    ];
    for (name, tr, te) in variants {
        let heads = fit_heads(&tr, opts.seed)?;
        // Shuffled embeddings: the threshold's training F1 is on the permuted rows it was fitted on.
        results.insert(name.to_string(), score_heads(&heads, &tr, &te));
    }

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
        ms_per_forward: 1000.0 * forward_seconds / n_features.max(1) as f64,
        sandbox_seconds,
        features: manifest.config.n_embd,
        feature_graph: dir.probe_graph_file().to_string(),
        hand_features: HAND_FEATURE_NAMES.iter().map(|s| s.to_string()).collect(),
        results,
    };

    // The probe file, then the manifest that lists it.
    drop(dir);
    let probe = probe_heads.to_probe();
    probe.save(&opts.model_dir.join(PROBE_FILE))?;
    let mut written = Manifest::read(&opts.model_dir)?;
    written.files.insert(PROBE_FILE.to_string(), FileEntry::of(&opts.model_dir.join(PROBE_FILE))?);
    written.probe = Some(serde_json::to_value(&report)?);
    written.write(&opts.model_dir)?;

    // What the server will load must say what was scored.
    let reopened = ModelDir::open(&opts.model_dir, &opts.session)?;
    let loaded = reopened.probe.as_ref().context("the model directory did not load the probe it now lists")?;
    if let Some(x) = test.x.first() {
        let (want, got) = (probe_heads.risk_of(x), f64::from(loaded.predict(x)?.risk));
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
            probe: None,
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
