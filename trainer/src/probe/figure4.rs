//! The paper's Figure 4: what a linear probe can read from the trace model's
//! representation of a trace prefix. Eight targets (title; is-last;
//! at-least-halfway; backtracks-later; future attempts; future seconds;
//! remaining edit distance; whether the final program is correct, as the
//! sandbox decides), each probed from the model read with the student's own
//! vector and with two controls (shuffled students: a random other student's
//! vector; shuffled embeddings: training features permuted across prefixes,
//! labels kept), mean and standard error over seeded splits.
//!
//! Protocol: complete traces only (`eos`, so "is last" and the future are
//! known); up to [`PREFIXES_PER_TRACE`] prefixes `k = 1..=T` of a trace, at
//! random; features are the full model's (`model.onnx`) mean-pooled final
//! state. The split is by student (a seeded fifth of the students test), not
//! by title, so that the title probe has its classes on both sides and no
//! student's traces are on both. Heads: logistic (binary; AUC), ridge on
//! `ln(1 + y)` (regression; R^2), one-vs-rest least squares (title;
//! accuracy), L2 strength by student-grouped cross-validation on the
//! training rows.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::Context;
use pencil_core::corpus::{read_corpus, ReadOptions};
use pencil_core::inference::{ModelDir, SessionOptions};
use pencil_core::metrics::edit_distance::distances_to;
use pencil_core::model::rng::SplitMix64;
use pencil_core::Trace;
use pencil_sandbox::{Sandbox, SandboxConfig};
use serde::Serialize;

use super::heads::{cv_l2, group_folds};
use super::linear::{fit_logistic, fit_ridge, fit_ridge_multi, Linear, Standardiser};
use super::model_features::ModelFeatures;
use super::scores::{r_squared, roc_auc};
use super::stats::MeanSe;
use super::student_index;
use super::title_split::DatasetTitles;

/// Prefixes taken from one trace.
pub const PREFIXES_PER_TRACE: usize = 3;
/// Default number of splits.
pub const DEFAULT_SPLITS: usize = 5;
/// Share of students whose prefixes test.
pub const TEST_STUDENT_FRACTION: f64 = 0.2;

/// The targets, in table order: key, what it is, metric.
pub const TARGETS: [(&str, &str, Metric); 8] = [
    ("title", "title (multiclass)", Metric::Accuracy),
    ("is_last", "is last state", Metric::Auc),
    ("at_least_halfway", "at least halfway", Metric::Auc),
    ("backtracks_later", "backtracks later", Metric::Auc),
    ("future_attempts", "future attempts", Metric::R2Log),
    ("future_seconds", "future seconds", Metric::R2Log),
    ("remaining_distance", "remaining edit distance", Metric::R2Log),
    ("final_correct", "final program correct", Metric::Auc),
];

/// How a target is scored.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum Metric {
    /// Share of test prefixes whose class is predicted (multiclass).
    Accuracy,
    /// ROC AUC (binary).
    Auc,
    /// R^2 of the prediction of `ln(1 + y)` (regression).
    R2Log,
}

impl Metric {
    /// The metric's name in the table.
    pub fn name(self) -> &'static str {
        match self {
            Metric::Accuracy => "accuracy",
            Metric::Auc => "AUC",
            Metric::R2Log => "R² of ln(1+y)",
        }
    }
}

/// Targets of one prefix `k` (`1..=T`) of a complete collapsed trace.
#[derive(Debug, Clone, PartialEq)]
pub struct Figure4Label {
    /// States in the prefix.
    pub k: usize,
    /// `k == T`.
    pub is_last: bool,
    /// `2k >= T`.
    pub at_least_halfway: bool,
    /// Some step from state `k-1` on moves away from the final program.
    pub backtracks_later: bool,
    /// `T - k`.
    pub future_attempts: usize,
    /// Seconds from state `k-1` to the last state (None when a timestamp does not parse).
    pub future_seconds: Option<f64>,
    /// Edit distance from state `k-1` to the final program.
    pub remaining_distance: usize,
}

/// Labels every prefix `k = 1..=T` of a collapsed trace.
pub fn label_all_prefixes(trace: &Trace) -> Vec<Figure4Label> {
    let codes: Vec<&str> = trace.codes().collect();
    let Some((&goal, _)) = codes.split_last() else { return Vec::new() };
    let t = codes.len();
    let dists = distances_to(&codes, goal);
    let mut rises_from = vec![false; t];
    for j in (0..t.saturating_sub(1)).rev() {
        rises_from[j] = dists[j + 1] > dists[j] || rises_from[j + 1];
    }
    let end = trace.programs[t - 1].unix_seconds();
    (1..=t)
        .map(|k| Figure4Label {
            k,
            is_last: k == t,
            at_least_halfway: 2 * k >= t,
            backtracks_later: rises_from[k - 1],
            future_attempts: t - k,
            future_seconds: match (trace.programs[k - 1].unix_seconds(), end) {
                (Some(a), Some(b)) => Some((b - a).max(0) as f64),
                _ => None,
            },
            remaining_distance: dists[k - 1],
        })
        .collect()
}

/// Options of [`run_figure4`].
#[derive(Debug, Clone)]
pub struct Figure4Options {
    /// The exported model directory (read only).
    pub model_dir: PathBuf,
    /// Corpus files.
    pub corpus: Vec<PathBuf>,
    /// Dataset directory (students.json), as for the probe.
    pub dataset: Option<PathBuf>,
    /// Most prefixes used.
    pub max_prefixes: usize,
    /// Seed of the sampling and the first split.
    pub seed: u64,
    /// Number of splits (seeds `seed..seed + splits`).
    pub splits: usize,
    /// The command line, recorded.
    pub command: String,
    /// ONNX Runtime session options.
    pub session: SessionOptions,
    /// The sandbox that judges final programs.
    pub sandbox: SandboxConfig,
}

/// One target's row of the table.
#[derive(Debug, Clone, Serialize)]
pub struct Figure4Row {
    /// Target key.
    pub target: String,
    /// What it is.
    pub description: String,
    /// How it is scored.
    pub metric: Metric,
    /// What guessing scores (accuracy of the training majority title; 0.5 AUC; 0 R^2).
    pub chance: MeanSe,
    /// Model features, own student vector.
    pub model: MeanSe,
    /// Control: shuffled students.
    pub shuffled_students: MeanSe,
    /// Control: shuffled embeddings.
    pub shuffled_embeddings: MeanSe,
    /// Per-split scores: model, shuffled_students, shuffled_embeddings, chance.
    pub per_split: BTreeMap<String, Vec<f64>>,
    /// Test prefixes scored per split (fewer for future seconds when times do not parse).
    pub test_examples: Vec<usize>,
}

/// The Figure 4 table.
#[derive(Debug, Clone, Serialize)]
pub struct Figure4Report {
    /// The command line.
    pub command: String,
    /// Model directory.
    pub model_dir: String,
    /// The graph whose pooled state was probed.
    pub graph: String,
    /// Corpus files.
    pub corpus: Vec<String>,
    /// Seeds of the splits.
    pub seeds: Vec<u64>,
    /// How the splits are made.
    pub split_rule: String,
    /// Complete traces used.
    pub traces: usize,
    /// Prefixes used.
    pub prefixes: usize,
    /// Distinct students and titles among them.
    pub students: usize,
    /// Distinct titles.
    pub titles: usize,
    /// Wall seconds.
    pub seconds: f64,
    /// One row per target, in [`TARGETS`] order.
    pub rows: Vec<Figure4Row>,
}

/// One prefix with its readings.
struct Example {
    student: String,
    title: String,
    label: Figure4Label,
    final_correct: bool,
    own: Vec<f32>,
    shuffled: Vec<f32>,
}

/// Runs the Figure 4 probes.
pub fn run_figure4(opts: &Figure4Options, progress: &indicatif::ProgressBar) -> anyhow::Result<Figure4Report> {
    anyhow::ensure!(opts.splits >= 1, "at least one split");
    let started = Instant::now();
    progress.set_message("figure 4: opening the model");
    let mut dir = ModelDir::open_without_probe(&opts.model_dir, &opts.session)?;
    let manifest = dir.manifest.clone();
    let dataset = opts.dataset.clone().or_else(|| super::dataset_from_provenance(&manifest).filter(|d| d.join("splits.json").is_file()));
    let known = dataset.as_deref().map(DatasetTitles::read).transpose()?.map(|d| d.known);
    let (students, _) = student_index(&manifest, dataset.as_deref())?;

    let mut traces = Vec::new();
    for f in &opts.corpus {
        progress.set_message(format!("figure 4: reading {}", f.display()));
        for t in read_corpus(f, ReadOptions { skip_bad: true })?.traces {
            if t.eos && known.as_ref().is_none_or(|k| k.contains(&t.title)) {
                let t = t.collapsed();
                if !t.programs.is_empty() {
                    traces.push(t);
                }
            }
        }
    }
    anyhow::ensure!(!traces.is_empty(), "figure 4: no complete trace in the corpus");
    let mut rng = SplitMix64::for_purpose(opts.seed, "figure 4 sample");
    let mut order: Vec<usize> = (0..traces.len()).collect();
    rng.shuffle(&mut order);
    let mut chosen: Vec<(usize, Vec<Figure4Label>)> = Vec::new();
    let mut n = 0;
    for i in order {
        if n >= opts.max_prefixes {
            break;
        }
        let mut labels = label_all_prefixes(&traces[i]);
        rng.shuffle(&mut labels);
        labels.truncate(PREFIXES_PER_TRACE);
        n += labels.len();
        chosen.push((i, labels));
    }

    let n_traces = chosen.len();
    // The final programs' verdicts, then two readings of every prefix.
    progress.set_length((chosen.len() + 2 * n) as u64);
    progress.set_position(0);
    progress.set_message("figure 4: judging final programs");
    let sandbox = Sandbox::new(opts.sandbox.clone()).context("starting the sandbox")?;
    let mut verdicts: BTreeMap<String, bool> = BTreeMap::new();
    for (i, _) in &chosen {
        let code = &traces[*i].programs[traces[*i].programs.len() - 1].code;
        if !verdicts.contains_key(code) {
            verdicts.insert(code.clone(), sandbox.check(code)?.paper_success);
        }
        progress.inc(1);
    }
    drop(sandbox);
    progress.set_message("figure 4: features (own and shuffled-student readings)");
    let n_students = manifest.config.n_students;
    let mut other = SplitMix64::for_purpose(opts.seed, "figure 4 shuffled students");
    let mut model = ModelFeatures::new(&mut dir);
    let mut examples = Vec::with_capacity(n);
    for (i, labels) in chosen {
        let t = &traces[i];
        let row = students.row(&t.student);
        let final_correct = verdicts[&t.programs[t.programs.len() - 1].code];
        for label in labels {
            let own = model.full_model_features(t, label.k, row)?;
            let shuffled = model.full_model_features(t, label.k, super::other_student(&mut other, n_students, row))?;
            progress.inc(2);
            examples.push(Example { student: t.student.clone(), title: t.title.clone(), label, final_correct, own, shuffled });
        }
    }
    drop(model);

    progress.set_message("figure 4: fitting the probes");
    let seeds: Vec<u64> = (0..opts.splits as u64).map(|s| opts.seed + s).collect();
    let rows = score_splits(&examples, &seeds, progress)?;
    let distinct = |f: &dyn Fn(&Example) -> &String| examples.iter().map(f).collect::<BTreeSet<_>>().len();
    Ok(Figure4Report {
        command: opts.command.clone(),
        model_dir: opts.model_dir.display().to_string(),
        graph: pencil_core::inference::manifest::MODEL_FILE.to_string(),
        corpus: opts.corpus.iter().map(|p| p.display().to_string()).collect(),
        seeds,
        split_rule: format!("by student: a seeded {:.0}% of the students test, the rest train", 100.0 * TEST_STUDENT_FRACTION),
        traces: n_traces,
        prefixes: examples.len(),
        students: distinct(&|e| &e.student),
        titles: distinct(&|e| &e.title),
        seconds: started.elapsed().as_secs_f64(),
        rows,
    })
}

/// A target's values over a set of examples.
enum Target {
    Class(Vec<usize>),
    Binary(Vec<bool>),
    Value(Vec<f64>),
}

fn target_of(key: &str, examples: &[&Example], classes: &BTreeMap<&str, usize>) -> Target {
    let b = |f: &dyn Fn(&Example) -> bool| Target::Binary(examples.iter().map(|e| f(e)).collect());
    let v = |f: &dyn Fn(&Example) -> f64| Target::Value(examples.iter().map(|e| f(e).ln_1p()).collect());
    match key {
        "title" => Target::Class(examples.iter().map(|e| classes[e.title.as_str()]).collect()),
        "is_last" => b(&|e| e.label.is_last),
        "at_least_halfway" => b(&|e| e.label.at_least_halfway),
        "backtracks_later" => b(&|e| e.label.backtracks_later),
        "final_correct" => b(&|e| e.final_correct),
        "future_attempts" => v(&|e| e.label.future_attempts as f64),
        "future_seconds" => v(&|e| e.label.future_seconds.unwrap_or(0.0)),
        _ => v(&|e| e.label.remaining_distance as f64),
    }
}

/// Fits a probe of `target` on standardised `train` rows (L2 by grouped CV) and scores `test`.
fn fit_and_score(train: &[Vec<f64>], groups: &[String], y: &Target, test: &[Vec<f64>], y_test: &Target, seed: u64) -> Option<f64> {
    let folds = group_folds(groups, seed);
    let pick = |idx: &[usize], rows: &[Vec<f64>]| -> Vec<Vec<f64>> { idx.iter().map(|&i| rows[i].clone()).collect() };
    match (y, y_test) {
        (Target::Binary(y), Target::Binary(yt)) => {
            let sub = |idx: &[usize]| -> Vec<bool> { idx.iter().map(|&i| y[i]).collect() };
            let eval = |keep: &[usize], held: &[usize], l2: f64| {
                let m = fit_logistic(&pick(keep, train), &sub(keep), l2)?;
                Some(roc_auc(&m.scores(&pick(held, train)), &sub(held)).unwrap_or(0.5))
            };
            let l2 = cv_l2(train.len(), &folds, &eval);
            let m = fit_logistic(train, y, l2)?;
            roc_auc(&m.scores(test), yt)
        }
        (Target::Value(y), Target::Value(yt)) => {
            let sub = |idx: &[usize]| -> Vec<f64> { idx.iter().map(|&i| y[i]).collect() };
            let eval = |keep: &[usize], held: &[usize], l2: f64| {
                let m = fit_ridge(&pick(keep, train), &sub(keep), l2)?;
                Some(r_squared(&m.scores(&pick(held, train)), &sub(held)))
            };
            let l2 = cv_l2(train.len(), &folds, &eval);
            let m = fit_ridge(train, y, l2)?;
            Some(r_squared(&m.scores(test), yt))
        }
        (Target::Class(y), Target::Class(yt)) => {
            let n_classes = y.iter().chain(yt).max().map_or(1, |m| m + 1);
            let one_hot = |idx: &[usize]| -> Vec<Vec<f64>> {
                idx.iter().map(|&i| (0..n_classes).map(|c| f64::from(u8::from(y[i] == c))).collect()).collect()
            };
            let accuracy = |heads: &[Linear], rows: &[Vec<f64>], truth: &[usize]| -> f64 {
                let hits = rows.iter().zip(truth).filter(|(z, &t)| argmax(heads, z) == t).count();
                hits as f64 / truth.len().max(1) as f64
            };
            let eval = |keep: &[usize], held: &[usize], l2: f64| {
                let heads = fit_ridge_multi(&pick(keep, train), &one_hot(keep), l2)?;
                let truth: Vec<usize> = held.iter().map(|&i| y[i]).collect();
                Some(accuracy(&heads, &pick(held, train), &truth))
            };
            let l2 = cv_l2(train.len(), &folds, &eval);
            let all: Vec<usize> = (0..train.len()).collect();
            let heads = fit_ridge_multi(train, &one_hot(&all), l2)?;
            Some(accuracy(&heads, test, yt))
        }
        _ => None,
    }
}

/// The class whose head scores highest (the first on ties).
fn argmax(heads: &[Linear], z: &[f64]) -> usize {
    let mut best = (0, f64::NEG_INFINITY);
    for (c, h) in heads.iter().enumerate() {
        let s = h.score(z);
        if s > best.1 {
            best = (c, s);
        }
    }
    best.0
}

/// Chance level of a target on a split: the training majority's accuracy, 0.5 AUC, 0 R^2.
fn chance(metric: Metric, y_train: &Target, y_test: &Target) -> f64 {
    match (metric, y_train, y_test) {
        (Metric::Accuracy, Target::Class(tr), Target::Class(te)) => {
            let mut counts: BTreeMap<usize, usize> = BTreeMap::new();
            for &c in tr {
                *counts.entry(c).or_default() += 1;
            }
            let majority = counts.iter().max_by_key(|(c, n)| (**n, std::cmp::Reverse(**c))).map_or(0, |(c, _)| *c);
            te.iter().filter(|&&c| c == majority).count() as f64 / te.len().max(1) as f64
        }
        (Metric::Auc, _, _) => 0.5,
        _ => 0.0,
    }
}

/// Every target's probe and controls over the splits.
fn score_splits(examples: &[Example], seeds: &[u64], progress: &indicatif::ProgressBar) -> anyhow::Result<Vec<Figure4Row>> {
    let classes: BTreeMap<&str, usize> =
        examples.iter().map(|e| e.title.as_str()).collect::<BTreeSet<_>>().into_iter().enumerate().map(|(i, t)| (t, i)).collect();
    let students: Vec<&String> = examples.iter().map(|e| &e.student).collect::<BTreeSet<_>>().into_iter().collect();
    anyhow::ensure!(students.len() >= 2, "figure 4: fewer than two students; no split by student");
    let mut per: BTreeMap<(&str, &str), Vec<f64>> = BTreeMap::new();
    let mut n_test: BTreeMap<&str, Vec<usize>> = BTreeMap::new();
    progress.set_length((seeds.len() * TARGETS.len()) as u64);
    progress.set_position(0);
    for &seed in seeds {
        let mut shuffled_students = students.clone();
        SplitMix64::for_purpose(seed, "figure 4 split").shuffle(&mut shuffled_students);
        let n = ((TEST_STUDENT_FRACTION * students.len() as f64).round() as usize).clamp(1, students.len() - 1);
        let test_students: BTreeSet<&String> = shuffled_students.into_iter().take(n).collect();
        let (train, test): (Vec<&Example>, Vec<&Example>) = examples.iter().partition(|e| !test_students.contains(&e.student));
        for (key, _, metric) in TARGETS {
            progress.set_message(format!("figure 4: split {seed}, {key}"));
            // Future seconds: only the prefixes whose timestamps parse.
            let keep = |e: &&&Example| key != "future_seconds" || e.label.future_seconds.is_some();
            let tr: Vec<&Example> = train.iter().filter(keep).copied().collect();
            let te: Vec<&Example> = test.iter().filter(keep).copied().collect();
            let tr_groups: Vec<String> = tr.iter().map(|e| e.student.clone()).collect();
            let (y_tr, y_te) = (target_of(key, &tr, &classes), target_of(key, &te, &classes));
            let own_tr: Vec<Vec<f32>> = tr.iter().map(|e| e.own.clone()).collect();
            let mut permuted = own_tr.clone();
            SplitMix64::for_purpose(seed, "figure 4 shuffled embeddings").shuffle(&mut permuted);
            let shuf_tr: Vec<Vec<f32>> = tr.iter().map(|e| e.shuffled.clone()).collect();
            let own_te: Vec<Vec<f32>> = te.iter().map(|e| e.own.clone()).collect();
            let shuf_te: Vec<Vec<f32>> = te.iter().map(|e| e.shuffled.clone()).collect();
            for (condition, x_tr, x_te) in [("model", &own_tr, &own_te), ("shuffled_students", &shuf_tr, &shuf_te), ("shuffled_embeddings", &permuted, &own_te)] {
                let s = Standardiser::fit(x_tr);
                let score = fit_and_score(&s.apply_all(x_tr), &tr_groups, &y_tr, &s.apply_all(x_te), &y_te, seed);
                // A target with one class in a split's test rows has no AUC; it counts as chance.
                per.entry((key, condition)).or_default().push(score.unwrap_or(chance(metric, &y_tr, &y_te)));
            }
            per.entry((key, "chance")).or_default().push(chance(metric, &y_tr, &y_te));
            n_test.entry(key).or_default().push(te.len());
            progress.inc(1);
        }
    }
    Ok(TARGETS
        .iter()
        .map(|&(key, description, metric)| {
            let get = |c: &str| per.get(&(key, c)).cloned().unwrap_or_default();
            Figure4Row {
                target: key.to_string(),
                description: description.to_string(),
                metric,
                chance: MeanSe::of(&get("chance")),
                model: MeanSe::of(&get("model")),
                shuffled_students: MeanSe::of(&get("shuffled_students")),
                shuffled_embeddings: MeanSe::of(&get("shuffled_embeddings")),
                per_split: ["model", "shuffled_students", "shuffled_embeddings", "chance"].iter().map(|c| (c.to_string(), get(c))).collect(),
                test_examples: n_test.get(key).cloned().unwrap_or_default(),
            }
        })
        .collect())
}

impl Figure4Report {
    /// The table as Markdown.
    pub fn markdown(&self) -> String {
        use std::fmt::Write as _;
        let mut s = String::new();
        let _ = writeln!(s, "# Figure 4: probes of the trace model's prefix representations\n");
        let _ = writeln!(
            s,
            "Model `{}` ({}), {} prefixes of {} complete traces ({} students, {} titles); split {} over {} seeds {:?}; mean ± standard error.\n",
            self.model_dir, self.graph, self.prefixes, self.traces, self.students, self.titles, self.split_rule, self.seeds.len(), self.seeds
        );
        let _ = writeln!(s, "| target | metric | model | shuffled students | shuffled embeddings | chance |");
        let _ = writeln!(s, "|---|---|---|---|---|---|");
        let f = |m: &MeanSe| format!("{:.3} ± {:.3}", m.mean, m.se);
        for r in &self.rows {
            let _ = writeln!(
                s,
                "| {} | {} | {} | {} | {} | {:.3} |",
                r.description,
                r.metric.name(),
                f(&r.model),
                f(&r.shuffled_students),
                f(&r.shuffled_embeddings),
                r.chance.mean
            );
        }
        let _ = writeln!(s, "\n`{}` ({:.0} s)", self.command, self.seconds);
        s
    }

    /// Writes `figure4.md`, `figure4.json` and `figure4.png` into `out`.
    pub fn write(&self, out: &Path, font: &Path) -> anyhow::Result<()> {
        std::fs::create_dir_all(out).with_context(|| format!("creating {}", out.display()))?;
        let md = out.join("figure4.md");
        std::fs::write(&md, self.markdown()).with_context(|| format!("writing {}", md.display()))?;
        let json = out.join("figure4.json");
        std::fs::write(&json, serde_json::to_string_pretty(self)?).with_context(|| format!("writing {}", json.display()))?;
        super::chart::bar_chart(self, &out.join("figure4.png"), font)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use pencil_core::{ProgramState, Provenance};

    fn trace(states: &[(&str, &str)]) -> Trace {
        Trace {
            student: "s".into(),
            title: "t".into(),
            programs: states.iter().enumerate().map(|(i, (time, code))| ProgramState { n: i as u32 + 1, time: (*time).into(), code: (*code).into() }).collect(),
            eos: true,
            provenance: Provenance::default(),
        }
    }

    #[test]
    fn labels_of_every_prefix_of_a_hand_made_trace() {
        let goal = "pen red\nfd 100\nrt 90\n";
        let t = trace(&[
            ("2019-05-09 16:00:00", "pen red\nfd 100\n"),
            ("2019-05-09 16:00:30", "zzzzzzzzzzzzzzzzzzzzzzzzzzzzzz\n"),
            ("2019-05-09 16:01:00", "pen red\nfd 100\nrt 9\n"),
            ("2019-05-09 16:02:40", goal),
        ]);
        let l = label_all_prefixes(&t);
        assert_eq!(l.iter().map(|x| x.k).collect::<Vec<_>>(), vec![1, 2, 3, 4]);
        assert_eq!(l.iter().map(|x| x.is_last).collect::<Vec<_>>(), vec![false, false, false, true]);
        assert_eq!(l.iter().map(|x| x.at_least_halfway).collect::<Vec<_>>(), vec![false, true, true, true]);
        // The step into the junk program moves away from the goal: only prefix 1 sees it ahead.
        assert_eq!(l.iter().map(|x| x.backtracks_later).collect::<Vec<_>>(), vec![true, false, false, false]);
        assert_eq!(l.iter().map(|x| x.future_attempts).collect::<Vec<_>>(), vec![3, 2, 1, 0]);
        assert_eq!(l.iter().map(|x| x.future_seconds).collect::<Vec<_>>(), vec![Some(160.0), Some(130.0), Some(100.0), Some(0.0)]);
        assert_eq!(l[3].remaining_distance, 0);
        assert!(l[1].remaining_distance > l[0].remaining_distance);
        // Unparsable times give no future seconds; an empty trace no prefix.
        let t = trace(&[("yesterday", "fd 1\n"), ("2019-05-09 16:00:00", "fd 2\n")]);
        assert_eq!(label_all_prefixes(&t)[0].future_seconds, None);
        assert!(label_all_prefixes(&trace(&[])).is_empty());
    }

    /// Examples whose own reading carries the title, is-last and the
    /// remaining distance; the shuffled reading carries nothing.
    fn examples(n: usize) -> Vec<Example> {
        let mut rng = SplitMix64::new(2);
        (0..n)
            .map(|i| {
                let title = i % 3;
                let t = 1 + rng.below(6);
                let k = 1 + rng.below(t);
                let dist = rng.below(200);
                let own = vec![
                    (title as f64 + 0.2 * rng.normal()) as f32,
                    (if title == 2 { 1.0 } else { 0.0 } + 0.2 * rng.normal()) as f32,
                    (if k == t { 1.0 } else { 0.0 } + 0.3 * rng.normal()) as f32,
                    ((dist as f64).ln_1p() + 0.3 * rng.normal()) as f32,
                ];
                let shuffled = (0..4).map(|_| rng.normal() as f32).collect();
                Example {
                    student: format!("s{}", i % 40),
                    title: format!("title{title}"),
                    label: Figure4Label {
                        k,
                        is_last: k == t,
                        at_least_halfway: 2 * k >= t,
                        backtracks_later: rng.below(2) == 0,
                        future_attempts: t - k,
                        future_seconds: if i % 7 == 0 { None } else { Some(rng.below(600) as f64) },
                        remaining_distance: dist,
                    },
                    final_correct: rng.below(2) == 0,
                    own,
                    shuffled,
                }
            })
            .collect()
    }

    #[test]
    fn probes_read_what_the_features_carry_and_the_controls_do_not() {
        let rows = score_splits(&examples(900), &[0, 1, 2], &indicatif::ProgressBar::hidden()).expect("scores");
        assert_eq!(rows.len(), TARGETS.len());
        let row = |k: &str| rows.iter().find(|r| r.target == k).expect("row");
        let title = row("title");
        assert!(title.model.mean > 0.9, "{title:?}");
        assert!(title.shuffled_students.mean < 0.5 && title.shuffled_embeddings.mean < 0.5, "{title:?}");
        assert!((title.chance.mean - 1.0 / 3.0).abs() < 0.1, "{title:?}");
        assert!(row("is_last").model.mean > 0.9 && row("is_last").shuffled_students.mean < 0.65);
        assert!(row("remaining_distance").model.mean > 0.8 && row("remaining_distance").shuffled_embeddings.mean < 0.05);
        // Nothing carries the coin flips.
        assert!((row("final_correct").model.mean - 0.5).abs() < 0.1, "{:?}", row("final_correct"));
        assert_eq!(row("is_last").per_split["model"].len(), 3);
        assert!(row("is_last").model.se >= 0.0);
        // Future seconds leaves out the prefixes without times (a seventh of them, spread over the students).
        let (secs, attempts) = (row("future_seconds").test_examples.clone(), row("future_attempts").test_examples.clone());
        assert!(secs.iter().zip(&attempts).all(|(s, a)| s < a), "{secs:?} {attempts:?}");
    }

    #[test]
    fn markdown_lists_every_target_with_both_controls() {
        let rows = score_splits(&examples(300), &[0, 1], &indicatif::ProgressBar::hidden()).expect("scores");
        let report = Figure4Report {
            command: "test".into(),
            model_dir: "m".into(),
            graph: "model.onnx".into(),
            corpus: vec![],
            seeds: vec![0, 1],
            split_rule: "by student".into(),
            traces: 1,
            prefixes: 300,
            students: 40,
            titles: 3,
            seconds: 0.0,
            rows,
        };
        let md = report.markdown();
        for (_, description, _) in TARGETS {
            assert!(md.contains(&format!("| {description} |")), "{md}");
        }
        assert!(md.contains("shuffled students") && md.contains("shuffled embeddings") && md.contains(" ± "));
        let json: serde_json::Value = serde_json::to_value(&report).expect("json");
        assert_eq!(json["rows"].as_array().map(Vec::len), Some(8));
    }
}
