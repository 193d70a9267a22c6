//! `pencil-trainer eval-adapt`: the paper's Figure 6 on an exported model.
//! Students the model never trained on (not in its student table) get a
//! vector fitted on k of their traces, exactly as the server fits one
//! (`pencil_core::adapt`, fixed steps), and are scored on another of their
//! traces: per-token loss, and for traces sampled with the fitted vector, BLEU
//! of the sampled final program against the real one and the correlation,
//! across students, of the sampled and real goal-backtracking ratio and
//! number of attempts.
//!
//! Protocol, per seed: each student's traces are put in a seeded order; the
//! last one is the test trace (the same for every k) and the first k are the
//! adaptation traces, for every k in `ks` below the student's trace count.
//! k = 0 is the unseen-student vector (row 0), what the server starts from.
//! Loss differences against k = 0 are paired per student.
//!
//! The number of steps is chosen here, not assumed: every fit runs to the
//! largest candidate and is scored at each candidate; on the *tuning* half of
//! the students (a seeded half) the fewest steps whose mean test loss is
//! within one standard error of the lowest candidate's (paired per student)
//! is chosen, and every figure is reported on the other half. `--record`
//! writes the choice into the manifest's `adaptation` object, where the
//! server reads it.

pub mod chart;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::AtomicBool;
use std::time::Instant;

use anyhow::Context;
use indicatif::ProgressBar;
use pencil_core::adapt::{adapt_vector_observed, adaptation_texts, AdaptText, load_trace_model, mean_loss, AdaptOptions, AdaptationDefaults};
use pencil_core::inference::manifest::{Manifest, MANIFEST_FILE};
use pencil_core::inference::{GenerationRequest, ModelDir, SamplingParams, SessionOptions};
use pencil_core::metrics::bleu::quality_bleu;
use pencil_core::metrics::trace_metrics::trace_metrics;
use pencil_core::model::rng::SplitMix64;
use pencil_core::scrub::{ScrubCounts, Scrubber};
use pencil_core::text_format::{parse_trace, END_OF_TEXT};
use pencil_core::training_text::prepare_traces;
use pencil_core::{Provenance, Trace};
use serde::Serialize;

use crate::probe::stats::{paired_t_test, MeanSe};

/// The paper's k (Figure 6).
pub const DEFAULT_KS: [usize; 5] = [0, 1, 2, 4, 8];
/// Step counts a fit is scored at.
pub const DEFAULT_STEP_CANDIDATES: [usize; 4] = [5, 10, 20, 40];

/// What to evaluate and how.
#[derive(Debug, Clone)]
pub struct EvalAdaptOptions {
    /// Exported model directory.
    pub model: PathBuf,
    /// Corpus files (the paper's JSON Lines format).
    pub data: Vec<PathBuf>,
    /// Dataset directory whose `students.json` is the model's table (default: from the manifest).
    pub dataset: Option<PathBuf>,
    /// Adaptation sizes.
    pub ks: Vec<usize>,
    /// Step counts to choose from.
    pub step_candidates: Vec<usize>,
    /// Adam's learning rate (default: the manifest's, else the server's default).
    pub learning_rate: Option<f64>,
    /// Seeds (trace orders).
    pub seeds: usize,
    /// First seed.
    pub seed: u64,
    /// Most students evaluated (those with the most traces first).
    pub max_students: usize,
    /// Traces sampled per student, k and seed (0: no sampling, loss only).
    pub samples: usize,
    /// Most tokens of a sampled trace.
    pub max_new_tokens: usize,
    /// Threads of ONNX Runtime while sampling.
    pub threads: Option<usize>,
}

/// One k's figures on the report half.
#[derive(Debug, Clone, Serialize, serde::Deserialize)]
pub struct KRow {
    /// Traces adapted on.
    pub k: usize,
    /// Report-half students with more than k traces.
    pub students: usize,
    /// Mean per-token loss of the test traces (mean ± se over seeds).
    pub loss: MeanSe,
    /// Paired difference against k = 0 over the same students (mean ± se over seeds).
    pub loss_change: MeanSe,
    /// Paired t-test of the per-seed loss against k = 0's on the same students.
    pub p_value: Option<f64>,
    /// Students whose test loss fell, share (mean over seeds).
    pub improved_share: f64,
    /// BLEU of sampled final programs against the real ones.
    pub bleu: Option<MeanSe>,
    /// Pearson r across students of sampled vs real goal-backtracking ratio.
    pub backtracking_r: Option<MeanSe>,
    /// Pearson r across students of sampled vs real number of attempts.
    pub attempts_r: Option<MeanSe>,
    /// Share of samples that reached `<|endoftext|>` with at least one program.
    pub samples_complete: Option<f64>,
}

/// The whole report.
#[derive(Debug, Clone, Serialize, serde::Deserialize)]
pub struct EvalAdaptReport {
    /// The model directory.
    pub model: String,
    /// Corpus files.
    pub data: Vec<String>,
    /// Students not in the model's table with at least two traces, evaluated.
    pub students: usize,
    /// Of them, the tuning half (steps chosen there) and the report half.
    pub tuning_students: usize,
    /// The report half.
    pub report_students: usize,
    /// Seeds.
    pub seeds: usize,
    /// Learning rate.
    pub learning_rate: f64,
    /// Tokens of an adaptation trace kept (the server's cap).
    pub max_tokens_per_trace: usize,
    /// Mean tuning-half test loss per step candidate (k > 0 pooled per student, then over students), in candidate order.
    pub tuning_curve: Vec<(usize, f64)>,
    /// Per step candidate: its loss minus the lowest candidate's, paired per tuning student, mean ± standard error.
    #[serde(default)]
    pub tuning_gap: Vec<(usize, MeanSe)>,
    /// The chosen step count.
    pub chosen_steps: usize,
    /// Per k, on the report half at the chosen steps.
    pub rows: Vec<KRow>,
    /// Mean fit wall time per k (seconds, single thread).
    pub fit_seconds: Vec<(usize, f64)>,
    /// Total wall time.
    pub seconds: f64,
    /// The command's arguments.
    pub command: String,
}

/// One student's traces (prepared exactly as training texts).
pub(crate) struct StudentTraces {
    pub(crate) id: String,
    pub(crate) traces: Vec<Trace>,
    pub(crate) tuning: bool,
}

/// What one (student, seed) produced.
#[derive(Default, Clone)]
struct Scored {
    /// Test loss per k (k = 0 included), at each step candidate for k > 0.
    loss: BTreeMap<usize, Vec<f32>>,
    /// The fitted vector per k at the chosen steps (filled after the choice).
    vectors: BTreeMap<usize, Vec<Vec<f32>>>,
}

/// Runs the evaluation.
pub fn run_eval_adapt(opts: &EvalAdaptOptions, scrubber: &Scrubber, progress: &ProgressBar) -> anyhow::Result<EvalAdaptReport> {
    let started = Instant::now();
    anyhow::ensure!(opts.ks.contains(&0), "--ks must include 0 (the unseen-student baseline every k is compared with)");
    anyhow::ensure!(!opts.step_candidates.is_empty(), "--steps needs at least one step count");
    anyhow::ensure!(opts.seeds >= 1, "--seeds must be at least 1");
    let session = SessionOptions { intra_threads: opts.threads, ..SessionOptions::default() };
    let mut dir = ModelDir::open_without_probe(&opts.model, &session).with_context(|| format!("opening {}", opts.model.display()))?;
    let manifest = dir.manifest.clone();
    let cfg = manifest.config.clone();
    let model = load_trace_model(&opts.model, &manifest)?;
    let unseen = dir.students.row_vector(0)?;
    let defaults = AdaptationDefaults::read(&opts.model);
    let learning_rate = opts.learning_rate.or(defaults.map(|d| d.learning_rate)).unwrap_or(AdaptOptions::default().learning_rate);
    let max_steps = opts.step_candidates.iter().copied().max().unwrap_or(0);
    // Fixed steps whatever k is: early stopping needs a held-back trace, which
    // would change what k means.
    let fit_options = AdaptOptions {
        steps: max_steps,
        max_steps,
        min_traces_for_early_stop: usize::MAX,
        learning_rate,
        time_budget: None,
        max_traces: usize::MAX,
        ..AdaptOptions::default()
    };

    let students = unseen_students(&manifest, opts.dataset.as_deref(), &opts.data, scrubber, opts.max_students, opts.seed)?;
    anyhow::ensure!(
        students.iter().any(|s| !s.tuning) && students.iter().any(|s| s.tuning),
        "fewer than two students outside the model's table have two or more traces in {:?}",
        opts.data
    );
    let ks: Vec<usize> = opts.ks.clone();
    let tok = pencil_core::model::TraceTokenizer::load(&opts.model.join(pencil_core::inference::manifest::TOKENIZER_FILE))?;

    // Fits: every (seed, student, k > 0) once, scored at each step candidate.
    let fits: usize = students.iter().map(|s| ks.iter().filter(|&&k| k > 0 && k < s.traces.len()).count()).sum::<usize>() * opts.seeds;
    progress.set_length(fits as u64);
    progress.set_message("fitting student vectors");
    let cancel = AtomicBool::new(false);
    let mut scored: Vec<Vec<Scored>> = Vec::with_capacity(opts.seeds);
    let mut fit_time: BTreeMap<usize, (f64, usize)> = BTreeMap::new();
    for s in 0..opts.seeds {
        let seed = opts.seed.wrapping_add(s as u64);
        let mut per_student = Vec::with_capacity(students.len());
        for st in &students {
            let order = seeded_order(&st.traces, seed, &st.id);
            let test = &order[order.len() - 1];
            let test_ids = texts_of(std::slice::from_ref(test), scrubber, &tok, &cfg, cfg.context)?;
            let mut out = Scored::default();
            out.loss.insert(0, vec![mean_loss(&model, &test_ids, &unseen)?]);
            out.vectors.insert(0, vec![unseen.clone()]);
            for &k in ks.iter().filter(|&&k| k > 0 && k < order.len()) {
                let train: Vec<Trace> = order[..k].iter().map(|t| (*t).clone()).collect();
                let texts = adaptation_texts(train, scrubber, &tok, cfg.title_tokens, cfg.context, &fit_options)?;
                let mut losses = Vec::new();
                let mut vectors = Vec::new();
                let fit_start = Instant::now();
                adapt_vector_observed(&model, &texts, &unseen, &fit_options, &cancel, &mut |step, v| {
                    if opts.step_candidates.contains(&step) {
                        losses.push(mean_loss(&model, &test_ids, v)?);
                        vectors.push(v.to_vec());
                    }
                    Ok(())
                })?;
                let t = fit_time.entry(k).or_default();
                t.0 += fit_start.elapsed().as_secs_f64();
                t.1 += 1;
                out.loss.insert(k, losses);
                out.vectors.insert(k, vectors);
                progress.inc(1);
            }
            per_student.push(out);
        }
        scored.push(per_student);
    }

    // The step count: the fewest steps whose tuning-half test loss is within
    // one standard error of the lowest (every k > 0 pooled per student).
    let mut candidates: Vec<usize> = opts.step_candidates.clone();
    candidates.sort_unstable();
    candidates.dedup();
    // Per tuning student (the unit the seeds and k repeat), mean loss at each candidate.
    let per_student: Vec<Vec<f64>> = (0..students.len())
        .filter(|&i| students[i].tuning)
        .filter_map(|i| {
            let at = |ci: usize| -> Vec<f64> {
                scored.iter().flat_map(|per| per[i].loss.iter().filter(|(&k, _)| k > 0).filter_map(move |(_, l)| l.get(ci))).map(|&l| f64::from(l)).collect()
            };
            let columns: Vec<Vec<f64>> = (0..candidates.len()).map(at).collect();
            let n = columns.first().map_or(0, Vec::len);
            (n > 0 && columns.iter().all(|c| c.len() == n)).then(|| columns.iter().map(|c| c.iter().sum::<f64>() / n as f64).collect())
        })
        .collect();
    let choice = choose_steps(&candidates, &per_student).context("no step candidate was scored on the tuning half")?;
    let (chosen_index, chosen_steps) = (choice.index, candidates[choice.index]);
    let tuning_curve: Vec<(usize, f64)> = candidates.iter().copied().zip(choice.curve.iter().copied()).collect();

    // Samples with the chosen vectors, report half only.
    let report: Vec<usize> = (0..students.len()).filter(|&i| !students[i].tuning).collect();
    let mut samples: BTreeMap<(usize, usize, usize), Vec<Trace>> = BTreeMap::new();
    if opts.samples > 0 {
        let total: usize = report.iter().map(|&i| ks.iter().filter(|&&k| k < students[i].traces.len()).count()).sum::<usize>() * opts.seeds;
        progress.set_position(0);
        progress.set_length(total as u64);
        progress.set_message("sampling traces");
        for (s, per) in scored.iter().enumerate() {
            let seed = opts.seed.wrapping_add(s as u64);
            for &i in &report {
                let st = &students[i];
                let order = seeded_order(&st.traces, seed, &st.id);
                let title = &order[order.len() - 1].title;
                for &k in ks.iter().filter(|&&k| k < st.traces.len()) {
                    let vector = match k {
                        0 => &per[i].vectors[&0][0],
                        _ => &per[i].vectors[&k][chosen_index],
                    };
                    let soft = dir.students.soft_token(vector)?;
                    let prompt = tok.title_region(title, cfg.title_tokens, false)?;
                    let room = cfg.n_positions().saturating_sub(prompt.len() + 1);
                    let req = GenerationRequest {
                        prompt: &prompt,
                        soft_token: &soft,
                        n_samples: opts.samples,
                        max_new_tokens: opts.max_new_tokens.min(room),
                        sampling: SamplingParams::default(),
                        seed: SplitMix64::for_purpose(seed, &format!("{}:{k}", st.id)).next_u64(),
                    };
                    let traces = dir
                        .generator
                        .generate_traces(&req)?
                        .iter()
                        .map(|sample| sampled_trace(&tok, &prompt, sample, &st.id, title, false))
                        .collect::<Result<Vec<_>, _>>()?;
                    samples.insert((s, i, k), traces);
                    progress.inc(1);
                }
            }
        }
    }

    // Figures per k on the report half.
    let mut rows = Vec::new();
    for &k in &ks {
        let mut loss_seeds = Vec::new();
        let mut base_seeds = Vec::new();
        let mut change_seeds = Vec::new();
        let mut improved = Vec::new();
        let (mut bleu_seeds, mut back_seeds, mut attempts_seeds, mut complete) = (Vec::new(), Vec::new(), Vec::new(), (0usize, 0usize));
        let mut n_students = 0;
        for (s, per) in scored.iter().enumerate() {
            let seed = opts.seed.wrapping_add(s as u64);
            let (mut l, mut b, mut up) = (Vec::new(), Vec::new(), 0usize);
            let (mut bleus, mut back_pairs, mut attempt_pairs) = (Vec::new(), Vec::new(), Vec::new());
            for &i in report.iter().filter(|&&i| k < students[i].traces.len()) {
                let base = f64::from(per[i].loss[&0][0]);
                let value = if k == 0 { base } else { f64::from(per[i].loss[&k][chosen_index]) };
                l.push(value);
                b.push(base);
                up += usize::from(value < base);
                let Some(sampled) = samples.get(&(s, i, k)) else { continue };
                let order = seeded_order(&students[i].traces, seed, &students[i].id);
                let real = order[order.len() - 1];
                let real_metrics = trace_metrics(real).ok();
                for t in sampled {
                    complete.1 += 1;
                    let Some(last) = t.programs.last() else { continue };
                    if t.eos {
                        complete.0 += 1;
                    }
                    if let Some(real_last) = real.programs.last() {
                        bleus.push(quality_bleu(&[last.code.as_str()], &[real_last.code.as_str()]));
                    }
                    if let (Ok(m), Some(r)) = (trace_metrics(t), real_metrics.as_ref()) {
                        back_pairs.push((m.metrics.backtracking_ratio_all, r.metrics.backtracking_ratio_all));
                        attempt_pairs.push((m.metrics.trace_length_all as f64, r.metrics.trace_length_all as f64));
                    }
                }
            }
            n_students = l.len();
            if l.is_empty() {
                continue;
            }
            let mean = |v: &[f64]| v.iter().sum::<f64>() / v.len() as f64;
            loss_seeds.push(mean(&l));
            base_seeds.push(mean(&b));
            change_seeds.push(mean(&l) - mean(&b));
            improved.push(up as f64 / l.len() as f64);
            if !bleus.is_empty() {
                bleu_seeds.push(mean(&bleus));
            }
            if let Some(r) = pearson(&back_pairs) {
                back_seeds.push(r);
            }
            if let Some(r) = pearson(&attempt_pairs) {
                attempts_seeds.push(r);
            }
        }
        if loss_seeds.is_empty() {
            continue;
        }
        let some = |v: &Vec<f64>| (!v.is_empty()).then(|| MeanSe::of(v));
        rows.push(KRow {
            k,
            students: n_students,
            loss: MeanSe::of(&loss_seeds),
            loss_change: MeanSe::of(&change_seeds),
            p_value: if k == 0 { None } else { paired_t_test(&loss_seeds, &base_seeds).map(|t| t.p_two_sided) },
            improved_share: improved.iter().sum::<f64>() / improved.len() as f64,
            bleu: some(&bleu_seeds),
            backtracking_r: some(&back_seeds),
            attempts_r: some(&attempts_seeds),
            samples_complete: (complete.1 > 0).then(|| complete.0 as f64 / complete.1 as f64),
        });
    }
    let tuning_students = students.iter().filter(|s| s.tuning).count();
    Ok(EvalAdaptReport {
        model: opts.model.display().to_string(),
        data: opts.data.iter().map(|p| p.display().to_string()).collect(),
        students: students.len(),
        tuning_students,
        report_students: students.len() - tuning_students,
        seeds: opts.seeds,
        learning_rate,
        max_tokens_per_trace: fit_options.max_tokens_per_trace,
        tuning_curve,
        tuning_gap: candidates.iter().copied().zip(choice.gap).collect(),
        chosen_steps,
        rows,
        fit_seconds: fit_time.into_iter().map(|(k, (sum, n))| (k, sum / n.max(1) as f64)).collect(),
        seconds: started.elapsed().as_secs_f64(),
        command: std::env::args().collect::<Vec<_>>().join(" "),
    })
}

/// The step count chosen on the tuning half, and what it was chosen from.
#[derive(Debug, Clone, PartialEq)]
struct StepChoice {
    /// Index of the chosen candidate.
    index: usize,
    /// Mean loss per candidate over the students.
    curve: Vec<f64>,
    /// Per candidate: loss minus the lowest candidate's, paired per student.
    gap: Vec<MeanSe>,
}

/// The fewest steps whose mean loss is within one standard error (of the
/// paired per-student difference) of the lowest: the one-standard-error rule.
/// More steps that the tuning students cannot tell apart from fewer cost every
/// student's machine CPU time for nothing. `per_student[s][c]` is student
/// `s`'s mean test loss at `candidates[c]` (ascending); None without students.
fn choose_steps(candidates: &[usize], per_student: &[Vec<f64>]) -> Option<StepChoice> {
    if candidates.is_empty() || per_student.is_empty() || per_student.iter().any(|row| row.len() != candidates.len()) {
        return None;
    }
    let n = per_student.len() as f64;
    let curve: Vec<f64> = (0..candidates.len()).map(|c| per_student.iter().map(|row| row[c]).sum::<f64>() / n).collect();
    let best = (0..curve.len()).min_by(|&a, &b| curve[a].total_cmp(&curve[b]))?;
    let gap: Vec<MeanSe> = (0..candidates.len()).map(|c| MeanSe::of(&per_student.iter().map(|row| row[c] - row[best]).collect::<Vec<_>>())).collect();
    // With one student there is no standard error: the lowest stands.
    let index = (0..=best).find(|&c| per_student.len() > 1 && gap[c].mean <= gap[c].se).unwrap_or(best);
    Some(StepChoice { index, curve, gap })
}

/// Students outside the model's table (its `students.json`: from `dataset`,
/// else the dataset the manifest's provenance names) with two or more traces
/// in `files`, prepared as training texts are; those with the most traces
/// first (so the large k have students), at most `max`, each assigned to the
/// tuning or the report half by a seeded coin that alternates down that order.
pub(crate) fn unseen_students(
    manifest: &Manifest,
    dataset: Option<&Path>,
    files: &[PathBuf],
    scrubber: &Scrubber,
    max: usize,
    seed: u64,
) -> anyhow::Result<Vec<StudentTraces>> {
    let dataset = dataset.map(Path::to_path_buf).or_else(|| crate::probe::dataset_from_provenance(manifest));
    let (index, _) = crate::probe::student_index(manifest, dataset.as_deref())?;
    let known: std::collections::HashSet<&str> = index.students.iter().map(String::as_str).collect();
    let mut traces = Vec::new();
    for f in files {
        let corpus = pencil_core::corpus::read_corpus(f, pencil_core::corpus::ReadOptions { skip_bad: true })?;
        traces.extend(corpus.traces.into_iter().filter(|t| !known.contains(t.student.as_str())));
    }
    let prepared = prepare_traces(traces, scrubber, &mut ScrubCounts::default());
    let mut by_student: BTreeMap<String, Vec<Trace>> = BTreeMap::new();
    for t in prepared.into_iter().filter(|t| !t.programs.is_empty()) {
        by_student.entry(t.student.clone()).or_default().push(t);
    }
    let mut list: Vec<(String, Vec<Trace>)> = by_student.into_iter().filter(|(_, ts)| ts.len() >= 2).collect();
    let key = |id: &str| SplitMix64::for_purpose(seed, &format!("eval-adapt-student:{id}")).next_u64();
    list.sort_by(|a, b| b.1.len().cmp(&a.1.len()).then_with(|| key(&a.0).cmp(&key(&b.0))));
    list.truncate(max);
    // Pairs down the list: one of each pair tunes, the other reports, so both
    // halves get students with many traces.
    Ok(list
        .into_iter()
        .enumerate()
        .map(|(i, (id, traces))| {
            let flip = key(&format!("half:{}", i / 2)) % 2 == 1;
            StudentTraces { tuning: (i % 2 == 0) != flip, id, traces }
        })
        .collect())
}

/// The student's traces in the seed's order (seed-stable per student).
fn seeded_order<'t>(traces: &'t [Trace], seed: u64, student: &str) -> Vec<&'t Trace> {
    let mut order: Vec<&Trace> = traces.iter().collect();
    order.sort_by(|a, b| a.programs.first().map(|p| &p.time).cmp(&b.programs.first().map(|p| &p.time)));
    let mut rng = SplitMix64::for_purpose(seed, &format!("eval-adapt-order:{student}"));
    for i in (1..order.len()).rev() {
        let j = (rng.next_u64() % (i as u64 + 1)) as usize;
        order.swap(i, j);
    }
    order
}

/// Token ids of whole traces (cut at `cap` tokens), written as training texts are.
fn texts_of(
    traces: &[&Trace],
    scrubber: &Scrubber,
    tok: &pencil_core::model::TraceTokenizer,
    cfg: &pencil_core::model::ModelConfig,
    cap: usize,
) -> anyhow::Result<Vec<AdaptText>> {
    let options = AdaptOptions { max_traces: usize::MAX, max_tokens_per_trace: cap, ..AdaptOptions::default() };
    let owned: Vec<Trace> = traces.iter().map(|t| (*t).clone()).collect();
    Ok(adaptation_texts(owned, scrubber, tok, cfg.title_tokens, cfg.context, &options)?)
}

/// A sampled continuation of `prompt` read back as a trace. A sample cut by
/// the token budget loses its unfinished last state (the paper's parser drops
/// an unterminated block) unless `keep_unfinished`: an evaluation of final
/// programs from a short context keeps what the model was writing.
pub(crate) fn sampled_trace(
    tok: &pencil_core::model::TraceTokenizer,
    prompt: &[u32],
    sample: &pencil_core::inference::Sample,
    student: &str,
    title: &str,
    keep_unfinished: bool,
) -> Result<Trace, pencil_core::model::tokenizer::TokenizerError> {
    let mut text = tok.decode(prompt)?;
    text.push_str(&sample.text);
    if keep_unfinished || sample.stop == pencil_core::inference::StopReason::EndOfText {
        text.push_str(END_OF_TEXT);
    }
    let mut trace = parse_trace(&text, student, Some(title), Provenance::default());
    trace.eos = sample.stop == pencil_core::inference::StopReason::EndOfText;
    Ok(trace)
}

/// Pearson's r of paired values; `None` for fewer than three pairs or no spread.
pub fn pearson(pairs: &[(f64, f64)]) -> Option<f64> {
    if pairs.len() < 3 {
        return None;
    }
    let n = pairs.len() as f64;
    let (mx, my) = (pairs.iter().map(|p| p.0).sum::<f64>() / n, pairs.iter().map(|p| p.1).sum::<f64>() / n);
    let (mut sxy, mut sxx, mut syy) = (0.0, 0.0, 0.0);
    for &(x, y) in pairs {
        sxy += (x - mx) * (y - my);
        sxx += (x - mx) * (x - mx);
        syy += (y - my) * (y - my);
    }
    (sxx > 0.0 && syy > 0.0).then(|| sxy / (sxx * syy).sqrt())
}

/// The report as a Markdown table.
pub fn markdown(r: &EvalAdaptReport) -> String {
    let f = |m: &Option<MeanSe>| m.map_or("-".to_string(), |m| format!("{:.3} ± {:.3}", m.mean, m.se));
    let mut s = format!(
        "# Adapting to a new student (paper Figure 6)\n\nModel `{}`; data {}; {} students outside the model's table with two or more traces \
         ({} tune the step count, {} report); {} seed(s) of trace order; Adam lr {}, adaptation traces cut to {} tokens, \
         fixed steps. Tuning-half mean test loss by steps (minus the lowest, paired per student): {}; chosen (the fewest steps within \
         one standard error of the lowest): **{} steps**. {:.0} s.\n\n",
        r.model,
        r.data.join(", "),
        r.students,
        r.tuning_students,
        r.report_students,
        r.seeds,
        r.learning_rate,
        r.max_tokens_per_trace,
        r.tuning_curve
            .iter()
            .map(|(s, l)| match r.tuning_gap.iter().find(|(g, _)| g == s) {
                Some((_, gap)) => format!("{s}: {l:.4} ({:+.4} ± {:.4})", gap.mean, gap.se),
                None => format!("{s}: {l:.4}"),
            })
            .collect::<Vec<_>>()
            .join(", "),
        r.chosen_steps,
        r.seconds
    );
    s.push_str("| k | students | test loss / token | change vs k = 0 (paired) | p | students improved | BLEU final program | r goal backtracking | r attempts | samples complete |\n");
    s.push_str("|---|---|---|---|---|---|---|---|---|---|\n");
    for row in &r.rows {
        s.push_str(&format!(
            "| {} | {} | {:.4} ± {:.4} | {:+.4} ± {:.4} | {} | {:.0}% | {} | {} | {} | {} |\n",
            row.k,
            row.students,
            row.loss.mean,
            row.loss.se,
            row.loss_change.mean,
            row.loss_change.se,
            row.p_value.map_or("-".to_string(), |p| format!("{p:.3}")),
            100.0 * row.improved_share,
            f(&row.bleu),
            f(&row.backtracking_r),
            f(&row.attempts_r),
            row.samples_complete.map_or("-".to_string(), |c| format!("{:.0}%", 100.0 * c)),
        ));
    }
    s.push_str("\nMean ± standard error over seeds (each seed a different order of every student's traces; the last trace in that order is the test trace for every k). ");
    s.push_str("Fit wall time per k (on the process's thread pool: every core unless RAYON_NUM_THREADS says otherwise): ");
    s.push_str(&r.fit_seconds.iter().map(|(k, t)| format!("k={k}: {t:.2} s")).collect::<Vec<_>>().join(", "));
    s.push_str(".\n");
    s
}

/// Writes `adaptation` into the model directory's manifest: the chosen steps,
/// the learning rate, and the evaluation that chose them.
pub fn record(model: &Path, r: &EvalAdaptReport) -> anyhow::Result<()> {
    let mut manifest = Manifest::read(model)?;
    manifest.adaptation = Some(serde_json::json!({
        "steps": r.chosen_steps,
        "learning_rate": r.learning_rate,
        "chosen_by": "pencil-trainer eval-adapt: the fewest steps whose mean test loss on the tuning half of held-out students is within one standard error (paired per student) of the lowest",
        "tuning_curve": r.tuning_curve,
        "tuning_gap": r.tuning_gap,
        "rows": r.rows,
        "students": r.students,
        "seeds": r.seeds,
    }));
    manifest.write(model).with_context(|| format!("writing {}", model.join(MANIFEST_FILE).display()))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pearson_of_a_line_and_of_noise() {
        let line: Vec<(f64, f64)> = (0..5).map(|i| (i as f64, 2.0 * i as f64 + 1.0)).collect();
        assert!((pearson(&line).expect("r") - 1.0).abs() < 1e-12);
        let anti: Vec<(f64, f64)> = (0..5).map(|i| (i as f64, -(i as f64))).collect();
        assert!((pearson(&anti).expect("r") + 1.0).abs() < 1e-12);
        assert_eq!(pearson(&[(1.0, 2.0), (1.0, 3.0), (1.0, 4.0)]), None, "no spread in x");
        assert_eq!(pearson(&[(1.0, 2.0), (2.0, 3.0)]), None, "two pairs");
    }

    #[test]
    fn seeded_order_is_a_permutation_that_depends_on_the_seed() {
        let traces: Vec<Trace> = (0..8)
            .map(|i| Trace {
                student: "s".into(),
                title: format!("t{i}"),
                programs: vec![pencil_core::ProgramState { n: 1, time: format!("2020-01-0{} 00:00:00", i + 1), code: "fd 1\n".into() }],
                eos: true,
                provenance: Provenance::default(),
            })
            .collect();
        let a: Vec<&str> = seeded_order(&traces, 1, "s").iter().map(|t| t.title.as_str()).collect();
        let b: Vec<&str> = seeded_order(&traces, 2, "s").iter().map(|t| t.title.as_str()).collect();
        let mut sorted = a.clone();
        sorted.sort_unstable();
        assert_eq!(sorted, (0..8).map(|i| format!("t{i}")).collect::<Vec<_>>());
        assert_ne!(a, b, "two seeds, two orders");
        assert_eq!(a, seeded_order(&traces, 1, "s").iter().map(|t| t.title.as_str()).collect::<Vec<_>>());
    }

    #[test]
    fn the_fewest_steps_within_one_standard_error_of_the_lowest_are_chosen() {
        let candidates = [5, 10, 20];
        // Every student a little better at 20, by less than the spread between them: 5 steps.
        let close = [vec![1.00, 0.99, 0.98], vec![1.02, 1.03, 1.01], vec![0.90, 0.91, 0.91], vec![1.10, 1.09, 1.10]];
        let choice = choose_steps(&candidates, &close).expect("a choice");
        assert_eq!(choice.index, 0);
        assert!((choice.curve[2] - 1.0).abs() < 1e-9, "20 steps are the lowest");
        assert_eq!(choice.gap[2].mean, 0.0);
        assert!((choice.gap[0].mean - 0.005).abs() < 1e-9 && choice.gap[0].mean <= choice.gap[0].se);
        // Every student clearly better with more steps: the lowest stands.
        let far = [vec![1.10, 1.05, 1.00], vec![1.21, 1.15, 1.10], vec![0.99, 0.95, 0.90]];
        assert_eq!(choose_steps(&candidates, &far).expect("a choice").index, 2);
        // The lowest at 10 and 20 close to it: never more steps than the lowest.
        let dip = [vec![1.2, 1.0, 1.001], vec![1.3, 1.1, 1.102], vec![1.25, 1.05, 1.049]];
        assert_eq!(choose_steps(&candidates, &dip).expect("a choice").index, 1);
        // One student has no standard error: the lowest.
        assert_eq!(choose_steps(&candidates, &[vec![1.0, 0.99, 0.98]]).expect("a choice").index, 2);
        assert_eq!(choose_steps(&candidates, &[]), None);
        assert_eq!(choose_steps(&candidates, &[vec![1.0]]), None, "a row short of the candidates");
    }
}
