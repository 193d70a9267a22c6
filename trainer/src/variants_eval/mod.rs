//! `pencil-trainer eval-variants`: the paper's Figures 2-3, the trace, last
//! and synthetic models compared on the same held-out traces.
//!
//! Each model is a training run (exported here into `--out`'s `models/`, the
//! graph the server would load) or an exported model directory. The held-out
//! traces are the corpus's traces of the dataset's four test splits (the
//! (student, title) pairs the dataset kept out of training), a seeded subset
//! the same for every model. For each, every model samples one trace per seed
//! conditioned as it was trained: the title region and the student's row of
//! the table (row 0, the unseen-student vector, for held-out students). The
//! `last` model writes a single program; the others write traces.
//!
//! Per model and seed: BLEU of each sampled final program against the real
//! trace's final program (mean over traces); the share of sampled final
//! programs that run (the sandbox, the paper's rule); Pearson's r across
//! titles of the mean sampled and mean real goal-backtracking ratio (`n/a`
//! for `last`, which writes no trace). Figures are means ± standard error
//! over seeds. A sample cut by the token budget (the context) keeps the state
//! the model was writing as its final program: a short context otherwise
//! leaves most samples with no program at all.

pub mod chart;

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::Context;
use candle_core::Device;
use indicatif::ProgressBar;
use pencil_core::inference::{GenerationRequest, ModelDir, SamplingParams, SessionOptions};
use pencil_core::metrics::bleu::quality_bleu;
use pencil_core::metrics::trace_metrics::trace_metrics;
use pencil_core::model::rng::SplitMix64;
use pencil_core::model::TraceTokenizer;
use pencil_core::scrub::Scrubber;
use pencil_core::Trace;
use pencil_sandbox::{Sandbox, SandboxConfig};
use serde::{Deserialize, Serialize};

use crate::adapt_eval::{pearson, sampled_trace};
use crate::dataset::{read_json, StudentIndex, Variant};
use crate::probe::stats::MeanSe;
use crate::splits::Split;
use crate::windows::WindowSet;

/// What to evaluate and how.
#[derive(Debug, Clone)]
pub struct EvalVariantsOptions {
    /// (name, run or model directory), in report order.
    pub runs: Vec<(String, PathBuf)>,
    /// Corpus files the dataset was built from (the held-out traces are read here).
    pub data: Vec<PathBuf>,
    /// Dataset directory (splits, student table); default: the first run's.
    pub dataset: Option<PathBuf>,
    /// Where runs are exported (`models/<name>`).
    pub out: PathBuf,
    /// Most held-out traces (a seeded subset, the same for every model).
    pub traces: usize,
    /// Seeds (samples per trace).
    pub seeds: usize,
    /// First seed.
    pub seed: u64,
    /// Most tokens of a sample (further cut to the model's context).
    pub max_new_tokens: usize,
    /// Test windows the loss reads (0: all).
    pub loss_windows: usize,
    /// ONNX Runtime threads.
    pub threads: Option<usize>,
    /// The sandbox that decides whether a program runs.
    pub sandbox: SandboxConfig,
}

/// One model's figures.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct VariantRow {
    /// The name given on the command line.
    pub name: String,
    /// The dataset variant it trained on (from the run's train_config.json).
    pub variant: Option<String>,
    /// Its run directory, when known.
    pub run: Option<String>,
    /// Tokens it trained on and optimizer steps (the run's last log line).
    pub training_tokens: Option<u64>,
    /// Optimizer steps.
    pub training_steps: Option<u64>,
    /// Per-token loss on its own variant's test windows (the four test splits).
    pub test_loss: Option<f64>,
    /// BLEU of sampled final programs against the real ones.
    pub bleu: MeanSe,
    /// Share of sampled final programs that run.
    pub runs: MeanSe,
    /// Pearson r across titles of mean sampled vs mean real goal-backtracking ratio; `None` for `last`.
    pub backtracking_r: Option<MeanSe>,
    /// Mean goal-backtracking ratio of the samples; `None` for `last`.
    pub mean_backtracking: Option<MeanSe>,
    /// Mean programs per sample.
    pub programs_per_sample: f64,
    /// Share of samples that reached `<|endoftext|>` within the budget.
    pub complete: f64,
}

/// One of the paper's orderings and whether ours holds.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct OrderingCheck {
    /// What the paper reports (no numbers: our notes state the direction only).
    pub paper: String,
    /// What we measured.
    pub ours: String,
    /// Whether ours has the paper's direction; `None` when it cannot be judged.
    pub holds: Option<bool>,
}

/// The whole report.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct EvalVariantsReport {
    /// Dataset directory.
    pub dataset: String,
    /// Corpus files.
    pub data: Vec<String>,
    /// Held-out traces evaluated.
    pub traces: usize,
    /// Their titles and students.
    pub titles: usize,
    /// Distinct students.
    pub students: usize,
    /// Seeds.
    pub seeds: usize,
    /// Share of the real final programs that run.
    pub real_runs: f64,
    /// Mean goal-backtracking ratio of the real traces.
    pub real_mean_backtracking: f64,
    /// Per model.
    pub rows: Vec<VariantRow>,
    /// The paper's orderings.
    pub orderings: Vec<OrderingCheck>,
    /// Wall time.
    pub seconds: f64,
    /// The command's arguments.
    pub command: String,
}

/// A model to evaluate, resolved.
struct Resolved {
    name: String,
    model: PathBuf,
    run: Option<PathBuf>,
    variant: Option<Variant>,
    dataset: Option<PathBuf>,
}

/// Runs the evaluation.
pub fn run_eval_variants(opts: &EvalVariantsOptions, scrubber: &Scrubber, progress: &ProgressBar) -> anyhow::Result<EvalVariantsReport> {
    let started = Instant::now();
    anyhow::ensure!(!opts.runs.is_empty(), "no runs to evaluate (--runs trace=RUN,last=RUN,synthetic=RUN)");
    anyhow::ensure!(opts.seeds >= 1, "--seeds must be at least 1");
    progress.set_message("exporting runs");
    let models: Vec<Resolved> = opts.runs.iter().map(|(name, dir)| resolve(name, dir, &opts.out)).collect::<anyhow::Result<_>>()?;
    let dataset = opts
        .dataset
        .clone()
        .or_else(|| models.iter().find_map(|m| m.dataset.clone()))
        .context("no --dataset, and no run's train_config.json names its dataset")?;

    // The held-out traces: the corpus's traces of the test splits' pairs.
    let splits: BTreeMap<String, Vec<(String, String)>> = read_json(&dataset.join("splits.json"))?;
    let test_pairs: BTreeSet<(String, String)> = test_splits().flat_map(|s| splits.get(s.name()).cloned().unwrap_or_default()).collect();
    let index: StudentIndex = read_json(&dataset.join("students.json"))?;
    progress.set_message("reading held-out traces");
    let prepared = crate::dataset::prepare(&opts.data, scrubber)?;
    let mut held_out: Vec<Trace> =
        prepared.traces.into_iter().filter(|t| !t.programs.is_empty() && test_pairs.contains(&(t.student.clone(), t.title.clone()))).collect();
    anyhow::ensure!(!held_out.is_empty(), "none of {:?} holds a trace of the test splits of {}", opts.data, dataset.display());
    SplitMix64::for_purpose(opts.seed, "eval-variants traces").shuffle(&mut held_out);
    held_out.truncate(opts.traces.max(1));

    let sandbox = Sandbox::new(opts.sandbox.clone()).context("starting the sandbox")?;
    let mut verdicts: BTreeMap<String, bool> = BTreeMap::new();
    let mut runs = |code: &str| -> anyhow::Result<bool> {
        if let Some(&v) = verdicts.get(code) {
            return Ok(v);
        }
        let v = sandbox.check(code)?.paper_success;
        verdicts.insert(code.to_string(), v);
        Ok(v)
    };
    let real_final: Vec<&str> = held_out.iter().map(|t| t.programs.last().map_or("", |p| p.code.as_str())).collect();
    let real_backtracking: Vec<f64> = held_out.iter().map(|t| trace_metrics(t).map_or(0.0, |m| m.metrics.backtracking_ratio_all)).collect();
    let mut real_ok = 0usize;
    for code in &real_final {
        real_ok += usize::from(runs(code)?);
    }

    progress.set_position(0);
    progress.set_length((models.len() * held_out.len()) as u64);
    let mut rows = Vec::with_capacity(models.len());
    for m in &models {
        progress.set_message(format!("sampling from {}", m.name));
        let session = SessionOptions { intra_threads: opts.threads, ..SessionOptions::default() };
        let mut dir = ModelDir::open_without_probe(&m.model, &session).with_context(|| format!("opening {}", m.model.display()))?;
        let cfg = dir.manifest.config.clone();
        let tok = TraceTokenizer::load(&m.model.join(pencil_core::inference::manifest::TOKENIZER_FILE))?;
        // samples[seed][trace]
        let mut samples: Vec<Vec<Trace>> = vec![Vec::with_capacity(held_out.len()); opts.seeds];
        for (i, real) in held_out.iter().enumerate() {
            let soft = dir.students.soft_token(&dir.students.row_vector(index.row(&real.student))?)?;
            let prompt = tok.title_region(&real.title, cfg.title_tokens, false)?;
            let room = cfg.n_positions().saturating_sub(prompt.len() + 1);
            // The seeds are the rows of one batch: independent draws, one request.
            let req = GenerationRequest {
                prompt: &prompt,
                soft_token: &soft,
                n_samples: opts.seeds,
                max_new_tokens: opts.max_new_tokens.min(room),
                sampling: SamplingParams::default(),
                seed: SplitMix64::for_purpose(opts.seed, &format!("eval-variants:{}:{i}", m.name)).next_u64(),
            };
            for (s, sample) in dir.generator.generate_traces(&req)?.iter().enumerate().take(opts.seeds) {
                samples[s].push(sampled_trace(&tok, &prompt, sample, &real.student, &real.title, true)?);
            }
            progress.inc(1);
        }
        drop(dir);

        let is_last = m.variant == Some(Variant::Last);
        let (mut bleu_seeds, mut run_seeds, mut r_seeds, mut back_seeds) = (Vec::new(), Vec::new(), Vec::new(), Vec::new());
        let (mut programs, mut complete, mut n) = (0usize, 0usize, 0usize);
        for per_seed in &samples {
            let (mut bleus, mut ok) = (Vec::with_capacity(per_seed.len()), 0usize);
            let mut by_title: BTreeMap<&str, (Vec<f64>, Vec<f64>)> = BTreeMap::new();
            for (i, t) in per_seed.iter().enumerate() {
                n += 1;
                programs += t.programs.len();
                complete += usize::from(t.eos);
                // A sample with no program scores as an empty one: BLEU 0, does not run.
                let code = t.programs.last().map_or("", |p| p.code.as_str());
                bleus.push(if code.trim().is_empty() { 0.0 } else { quality_bleu(&[code], &[real_final[i]]) });
                ok += usize::from(!code.trim().is_empty() && runs(code)?);
                let ratio = trace_metrics(t).map_or(0.0, |m| m.metrics.backtracking_ratio_all);
                let entry = by_title.entry(held_out[i].title.as_str()).or_default();
                entry.0.push(ratio);
                entry.1.push(real_backtracking[i]);
            }
            bleu_seeds.push(mean(&bleus));
            run_seeds.push(ok as f64 / per_seed.len().max(1) as f64);
            let pairs: Vec<(f64, f64)> = by_title.values().map(|(g, r)| (mean(g), mean(r))).collect();
            if let Some(r) = pearson(&pairs) {
                r_seeds.push(r);
            }
            back_seeds.push(mean(&by_title.values().flat_map(|(g, _)| g.iter().copied()).collect::<Vec<_>>()));
        }
        progress.set_message(format!("test loss of {}", m.name));
        let (training_tokens, training_steps) = m.run.as_deref().map(training_budget).unwrap_or((None, None));
        rows.push(VariantRow {
            name: m.name.clone(),
            variant: m.variant.map(|v| v.name().to_string()),
            run: m.run.as_ref().map(|r| r.display().to_string()),
            training_tokens,
            training_steps,
            test_loss: match (&m.run, m.variant) {
                (Some(run), Some(variant)) => Some(test_loss(run, &dataset, variant, opts.loss_windows)?),
                _ => None,
            },
            bleu: MeanSe::of(&bleu_seeds),
            runs: MeanSe::of(&run_seeds),
            backtracking_r: (!is_last && !r_seeds.is_empty()).then(|| MeanSe::of(&r_seeds)),
            mean_backtracking: (!is_last).then(|| MeanSe::of(&back_seeds)),
            programs_per_sample: programs as f64 / n.max(1) as f64,
            complete: complete as f64 / n.max(1) as f64,
        });
    }

    let real_mean_backtracking = mean(&real_backtracking);
    let titles: BTreeSet<&str> = held_out.iter().map(|t| t.title.as_str()).collect();
    let students: BTreeSet<&str> = held_out.iter().map(|t| t.student.as_str()).collect();
    Ok(EvalVariantsReport {
        dataset: dataset.display().to_string(),
        data: opts.data.iter().map(|p| p.display().to_string()).collect(),
        traces: held_out.len(),
        titles: titles.len(),
        students: students.len(),
        seeds: opts.seeds,
        real_runs: real_ok as f64 / held_out.len() as f64,
        real_mean_backtracking,
        orderings: orderings(&rows, real_mean_backtracking),
        rows,
        seconds: started.elapsed().as_secs_f64(),
        command: std::env::args().collect::<Vec<_>>().join(" "),
    })
}

/// The four test splits (neither training nor validation).
fn test_splits() -> impl Iterator<Item = Split> {
    Split::ALL.into_iter().filter(|s| !matches!(s, Split::Train | Split::Validation))
}

fn mean(v: &[f64]) -> f64 {
    if v.is_empty() {
        0.0
    } else {
        v.iter().sum::<f64>() / v.len() as f64
    }
}

/// A run directory is exported into `out/models/<name>` (the graph the server
/// loads, so samples come from what would ship); a model directory is used
/// as it is, its run found through the manifest's provenance.
fn resolve(name: &str, dir: &Path, out: &Path) -> anyhow::Result<Resolved> {
    let (model, run) = if dir.join("train_config.json").is_file() {
        let model = out.join("models").join(name);
        let opts = crate::export::ExportOptions {
            run_dir: dir.to_path_buf(),
            out: model.clone(),
            corpus: Vec::new(),
            command: format!("pencil-trainer eval-variants (export of {})", dir.display()),
            // Parity is the export command's business; these graphs are only sampled here.
            check_parity: false,
            feature_layers: 0,
            feature_int8: false,
            model_int8: false,
        };
        crate::export::export_run(&opts, &ProgressBar::hidden()).with_context(|| format!("exporting {}", dir.display()))?;
        (model, Some(dir.to_path_buf()))
    } else if dir.join(pencil_core::inference::manifest::MANIFEST_FILE).is_file() {
        let manifest = pencil_core::inference::Manifest::read(dir)?;
        let run = PathBuf::from(&manifest.provenance.run_dir);
        (dir.to_path_buf(), run.join("train_config.json").is_file().then_some(run))
    } else {
        anyhow::bail!("{}: neither a training run (train_config.json) nor a model directory (manifest.json)", dir.display());
    };
    let train_config: Option<serde_json::Value> = run.as_ref().and_then(|r| read_json(&r.join("train_config.json")).ok());
    let field = |k: &str| train_config.as_ref().and_then(|t| t.get(k)).and_then(|v| v.as_str()).map(str::to_string);
    Ok(Resolved {
        name: name.to_string(),
        model,
        run,
        variant: field("variant").and_then(|v| Variant::from_name(&v)),
        dataset: field("data").map(PathBuf::from),
    })
}

/// Tokens and steps of the run's last logged evaluation.
fn training_budget(run: &Path) -> (Option<u64>, Option<u64>) {
    let Ok(log) = std::fs::read_to_string(run.join("log.jsonl")) else { return (None, None) };
    let last = log.lines().rev().find_map(|l| serde_json::from_str::<serde_json::Value>(l).ok().filter(|v| v.get("tokens").is_some()));
    let get = |k: &str| last.as_ref().and_then(|v| v.get(k)).and_then(serde_json::Value::as_u64);
    (get("tokens"), get("step"))
}

/// Per-token loss of the run's best weights on its variant's four test splits.
fn test_loss(run: &Path, dataset: &Path, variant: Variant, max_windows: usize) -> anyhow::Result<f64> {
    let (model, tok) = crate::train::load_run(run, &Device::Cpu)?;
    let mut set: Option<WindowSet> = None;
    for split in test_splits() {
        let path = dataset.join(variant.name()).join(format!("{}.safetensors", split.name()));
        let part = WindowSet::load(&path)?;
        match &mut set {
            Some(s) => s.extend(&part),
            None => set = Some(part),
        }
    }
    let set = set.context("no test split")?;
    crate::train::evaluate(&model, &set, &tok, 8, max_windows, &Device::Cpu)
}

/// The paper's orderings (Figures 2-3) checked on our rows, found by variant.
fn orderings(rows: &[VariantRow], real_mean_backtracking: f64) -> Vec<OrderingCheck> {
    let kind = |r: &VariantRow| r.variant.as_deref().map(|v| v.trim_end_matches("-downsampled").to_string()).unwrap_or_else(|| r.name.clone());
    let find = |k: &str| rows.iter().find(|r| kind(r) == k);
    let (trace, last, synthetic) = (find("trace"), find("last"), find("synthetic"));
    let f = |m: &MeanSe| format!("{:.3} ± {:.3}", m.mean, m.se);
    let mut out = Vec::new();
    if let Some(t) = trace {
        let others: Vec<&VariantRow> = [last, synthetic].into_iter().flatten().collect();
        out.push(OrderingCheck {
            paper: "the trace model's sampled final programs are closest to the real ones (BLEU)".into(),
            ours: std::iter::once(format!("trace {}", f(&t.bleu))).chain(others.iter().map(|o| format!("{} {}", kind(o), f(&o.bleu)))).collect::<Vec<_>>().join(", "),
            holds: (!others.is_empty()).then(|| others.iter().all(|o| t.bleu.mean > o.bleu.mean)),
        });
        out.push(OrderingCheck {
            paper: "the trace model captures students' goal backtracking: positive correlation of generated and real ratio".into(),
            ours: format!("trace r {}", t.backtracking_r.as_ref().map_or("n/a".to_string(), f)),
            holds: t.backtracking_r.map(|r| r.mean > 0.0),
        });
    }
    if let Some(s) = synthetic {
        let gap = |r: &VariantRow| r.mean_backtracking.map(|m| (m.mean - real_mean_backtracking).abs());
        out.push(OrderingCheck {
            paper: "the synthetic model backtracks unlike students (further from the real goal-backtracking than the trace model)".into(),
            ours: format!(
                "mean ratio: real {real_mean_backtracking:.3}, synthetic {}, trace {}; r synthetic {}",
                s.mean_backtracking.as_ref().map_or("n/a".to_string(), f),
                trace.and_then(|t| t.mean_backtracking.as_ref()).map_or("n/a".to_string(), f),
                s.backtracking_r.as_ref().map_or("n/a".to_string(), f),
            ),
            holds: match (gap(s), trace.and_then(gap)) {
                (Some(gs), Some(gt)) => Some(gs > gt),
                _ => None,
            },
        });
    }
    if last.is_some() {
        out.push(OrderingCheck {
            paper: "the last model writes final programs only: it has no trace to backtrack".into(),
            ours: "last: goal backtracking n/a (one program per sample)".into(),
            holds: None,
        });
    }
    out
}

/// The report as Markdown.
pub fn markdown(r: &EvalVariantsReport) -> String {
    let f = |m: &MeanSe| format!("{:.3} ± {:.3}", m.mean, m.se);
    let na = |m: &Option<MeanSe>| m.as_ref().map_or("n/a".to_string(), f);
    let mut s = format!(
        "# Trace, last and synthetic models (paper Figures 2-3)\n\nDataset `{}`; data {}; {} held-out traces (the dataset's four test splits) of {} titles \
         and {} students; one sample per trace and seed, {} seed(s), conditioned on title and student row as in training. \
         Real final programs that run: {:.1}%; real mean goal-backtracking ratio {:.3}. {:.0} s.\n\n",
        r.dataset,
        r.data.join(", "),
        r.traces,
        r.titles,
        r.students,
        r.seeds,
        100.0 * r.real_runs,
        r.real_mean_backtracking,
        r.seconds
    );
    s.push_str("| model | variant | training tokens (steps) | test loss / token | BLEU final program | final program runs | r goal backtracking (per title) | mean goal backtracking | programs / sample | samples complete |\n");
    s.push_str("|---|---|---|---|---|---|---|---|---|---|\n");
    for row in &r.rows {
        s.push_str(&format!(
            "| {} | {} | {} | {} | {} | {:.1}% ± {:.1} | {} | {} | {:.2} | {:.0}% |\n",
            row.name,
            row.variant.as_deref().unwrap_or("-"),
            match (row.training_tokens, row.training_steps) {
                (Some(t), Some(st)) => format!("{t} ({st})"),
                _ => "-".into(),
            },
            row.test_loss.map_or("-".to_string(), |l| format!("{l:.4}")),
            f(&row.bleu),
            100.0 * row.runs.mean,
            100.0 * row.runs.se,
            na(&row.backtracking_r),
            na(&row.mean_backtracking),
            row.programs_per_sample,
            100.0 * row.complete,
        ));
    }
    s.push_str("\nMean ± standard error over seeds. Test loss is on each model's own variant's test texts, so it compares a model with itself, not across variants. ");
    s.push_str("A sample cut by the context keeps the state it was writing as its final program; an empty sample scores BLEU 0 and does not run.\n\n");
    s.push_str("## The paper's orderings\n\n");
    for o in &r.orderings {
        let verdict = match o.holds {
            Some(true) => "holds",
            Some(false) => "does not hold",
            None => "not a comparison",
        };
        s.push_str(&format!("- paper: {}; ours: {} ({verdict})\n", o.paper, o.ours));
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(name: &str, variant: &str, bleu: f64, r: Option<f64>, back: Option<f64>) -> VariantRow {
        let m = |v: f64| MeanSe { mean: v, se: 0.01, n: 3 };
        VariantRow {
            name: name.into(),
            variant: Some(variant.into()),
            run: None,
            training_tokens: None,
            training_steps: None,
            test_loss: None,
            bleu: m(bleu),
            runs: m(0.5),
            backtracking_r: r.map(m),
            mean_backtracking: back.map(m),
            programs_per_sample: 1.0,
            complete: 1.0,
        }
    }

    #[test]
    fn orderings_are_judged_by_variant_and_last_has_no_backtracking_verdict() {
        let rows = vec![
            row("trace", "trace-downsampled", 0.3, Some(0.4), Some(0.1)),
            row("last", "last", 0.2, None, None),
            row("synthetic", "synthetic-downsampled", 0.25, Some(-0.1), Some(0.0)),
        ];
        let o = orderings(&rows, 0.12);
        assert_eq!(o.len(), 4);
        assert_eq!(o[0].holds, Some(true), "BLEU: trace above both");
        assert_eq!(o[1].holds, Some(true), "r > 0");
        assert_eq!(o[2].holds, Some(true), "synthetic further from the real ratio");
        assert_eq!(o[3].holds, None);
        let worse = vec![row("trace", "trace", 0.1, Some(-0.2), Some(0.5)), row("last", "last", 0.2, None, None)];
        let o = orderings(&worse, 0.12);
        assert_eq!((o[0].holds, o[1].holds), (Some(false), Some(false)));
    }
}
