//! `pencil-trainer eval-recovery`: the paper's §4.5 error recovery on an
//! exported model. From a failing program in the middle of a trace of a
//! student the model never trained on, the model writes the trace on (a
//! recovery trace: the next state's header with a chosen time gap, then
//! states until `<|endoftext|>` or the attempt budget); the sandbox (the
//! paper's rule, `paper_success`) decides when a sampled state runs.
//!
//! Per case, vector and time gap: success within `attempts` sampled states,
//! attempts to the first running state, and BLEU of that state against the
//! student's real final program. Vectors: the student's own (fitted on their
//! other traces as the server fits one, steps from the manifest) and the
//! model's strong student (§J). Time gaps: the header's seconds after the
//! failing state (the corpus keeps whole seconds, so the paper's 0.5 s is
//! written as 0 s).

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::atomic::AtomicBool;
use std::time::Instant;

use anyhow::Context;
use indicatif::ProgressBar;
use pencil_core::adapt::{adapt_vector, adaptation_texts, load_trace_model, AdaptOptions, AdaptationDefaults};
use pencil_core::inference::{next_state_prompt, EditSize, GenerationRequest, ModelDir, SamplingParams, SessionOptions, StopReason};
use pencil_core::metrics::bleu::quality_bleu;
use pencil_core::model::rng::SplitMix64;
use pencil_core::scrub::Scrubber;
use pencil_core::text_format::{parse, END_OF_TEXT};
use pencil_core::Trace;
use pencil_sandbox::{Sandbox, SandboxConfig};
use serde::Serialize;

use crate::probe::stats::MeanSe;

/// Time gaps of the paper's recovery figure, in seconds (0.5 s written as 0).
pub const DEFAULT_GAPS: [u32; 5] = [0, 1, 5, 60, 6400];
/// The paper's success rates for this task, for the report's comparison line.
pub const PAPER_SUCCESS: &str = "60-64%";

/// What to evaluate and how.
#[derive(Debug, Clone)]
pub struct EvalRecoveryOptions {
    /// Exported model directory.
    pub model: PathBuf,
    /// Corpus files.
    pub data: Vec<PathBuf>,
    /// Dataset directory whose `students.json` is the model's table (default: from the manifest).
    pub dataset: Option<PathBuf>,
    /// Header gaps in seconds.
    pub gaps: Vec<u32>,
    /// Sampled states a recovery trace may take.
    pub attempts: usize,
    /// Most failing programs (one per trace, the first failing state before the last).
    pub max_cases: usize,
    /// Seed of the case sample and the sampling.
    pub seed: u64,
    /// Most tokens of a recovery trace.
    pub max_new_tokens: usize,
    /// ONNX Runtime threads.
    pub threads: Option<usize>,
    /// The sandbox that judges programs.
    pub sandbox: SandboxConfig,
}

/// Figures of one (vector, gap).
#[derive(Debug, Clone, Serialize)]
pub struct RecoveryRow {
    /// `own` or `strong`.
    pub vector: String,
    /// Header gap in seconds.
    pub gap_seconds: u32,
    /// Cases.
    pub cases: usize,
    /// Share of cases with a running state within the attempts.
    pub success: f64,
    /// Mean attempts to the first running state, over successes.
    pub attempts_to_success: Option<f64>,
    /// BLEU of the first running state against the real final program (mean ± se over successes).
    pub bleu_to_final: Option<MeanSe>,
    /// Share whose very first sampled state runs.
    pub first_state_runs: f64,
}

/// The whole report.
#[derive(Debug, Clone, Serialize)]
pub struct EvalRecoveryReport {
    /// Model directory.
    pub model: String,
    /// Corpus files.
    pub data: Vec<String>,
    /// Students the cases come from.
    pub students: usize,
    /// Failing programs.
    pub cases: usize,
    /// Attempt budget.
    pub attempts: usize,
    /// Steps and learning rate of the own-vector fits.
    pub adaptation: (usize, f64),
    /// Rows, own then strong, by gap.
    pub rows: Vec<RecoveryRow>,
    /// Wall time.
    pub seconds: f64,
    /// The command's arguments.
    pub command: String,
}

/// One failing program and where it sits.
struct Case {
    student: usize,
    /// The trace up to and including the failing state.
    prefix: Trace,
    /// The student's real final program of that trace.
    target: String,
}

/// Runs the evaluation.
pub fn run_eval_recovery(opts: &EvalRecoveryOptions, scrubber: &Scrubber, progress: &ProgressBar) -> anyhow::Result<EvalRecoveryReport> {
    let started = Instant::now();
    anyhow::ensure!(opts.attempts >= 1, "--attempts must be at least 1");
    let session = SessionOptions { intra_threads: opts.threads, ..SessionOptions::default() };
    let mut dir = ModelDir::open_without_probe(&opts.model, &session).with_context(|| format!("opening {}", opts.model.display()))?;
    let manifest = dir.manifest.clone();
    let cfg = manifest.config.clone();
    let tok = pencil_core::model::TraceTokenizer::load(&opts.model.join(pencil_core::inference::manifest::TOKENIZER_FILE))?;
    let students = crate::adapt_eval::unseen_students(&manifest, opts.dataset.as_deref(), &opts.data, scrubber, usize::MAX, opts.seed)?;
    anyhow::ensure!(!students.is_empty(), "no student outside the model's table has two or more traces in {:?}", opts.data);

    // Cases: the first failing state before the last of each trace, traces in seeded order.
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
    let mut order: Vec<(usize, usize)> = students.iter().enumerate().flat_map(|(s, st)| (0..st.traces.len()).map(move |t| (s, t))).collect();
    let mut rng = SplitMix64::for_purpose(opts.seed, "eval-recovery cases");
    for i in (1..order.len()).rev() {
        let j = (rng.next_u64() % (i as u64 + 1)) as usize;
        order.swap(i, j);
    }
    progress.set_message("finding failing programs");
    let mut cases = Vec::new();
    for (s, t) in order {
        if cases.len() >= opts.max_cases {
            break;
        }
        let trace = &students[s].traces[t];
        let n = trace.programs.len();
        if n < 2 {
            continue;
        }
        for j in 0..n - 1 {
            if !runs(&trace.programs[j].code)? {
                let mut prefix = trace.clone();
                prefix.programs.truncate(j + 1);
                prefix.eos = false;
                cases.push(Case { student: s, prefix, target: trace.programs[n - 1].code.clone() });
                break;
            }
        }
    }
    anyhow::ensure!(!cases.is_empty(), "no failing mid-trace program among the held-out students' traces");

    // Own vectors: fitted on the student's other traces (not the case's).
    let model = load_trace_model(&opts.model, &manifest)?;
    let unseen = dir.students.row_vector(0)?;
    let strong = dir.students.strong_vector()?;
    let fit_options = AdaptationDefaults::read(&opts.model).map_or_else(AdaptOptions::default, |d| d.apply(AdaptOptions::default()));
    let cancel = AtomicBool::new(false);
    progress.set_length(cases.len() as u64 * (1 + 2 * opts.gaps.len() as u64));
    progress.set_message("fitting own vectors, sampling recovery traces");
    let mut own_vectors = Vec::with_capacity(cases.len());
    for case in &cases {
        let others: Vec<Trace> =
            students[case.student].traces.iter().filter(|t| !(t.title == case.prefix.title && t.programs.first() == case.prefix.programs.first())).cloned().collect();
        let texts = adaptation_texts(others, scrubber, &tok, cfg.title_tokens, cfg.context, &fit_options)?;
        let v = if texts.is_empty() { unseen.clone() } else { adapt_vector(&model, &texts, &unseen, &fit_options, &cancel)?.vector };
        own_vectors.push(v);
        progress.inc(1);
    }
    drop(model);

    let mut rows = Vec::new();
    for (name, vector_of) in [("own", 0usize), ("strong", 1)] {
        for &gap in &opts.gaps {
            let (mut ok, mut first, mut attempts_sum, mut bleus) = (0usize, 0usize, 0usize, Vec::new());
            for (c, case) in cases.iter().enumerate() {
                let vector = if vector_of == 0 { &own_vectors[c] } else { &strong };
                let soft = dir.students.soft_token(vector)?;
                let max_len = cfg.n_positions().saturating_sub(opts.max_new_tokens.min(cfg.context / 2) + 1);
                let prompt = next_state_prompt(&tok, &case.prefix, cfg.title_tokens, EditSize::Seconds(gap), max_len)?;
                let room = cfg.n_positions().saturating_sub(prompt.len() + 1);
                let req = GenerationRequest {
                    prompt: &prompt,
                    soft_token: &soft,
                    n_samples: 1,
                    max_new_tokens: opts.max_new_tokens.min(room),
                    sampling: SamplingParams::default(),
                    seed: SplitMix64::for_purpose(opts.seed, &format!("recovery:{c}:{gap}:{name}")).next_u64(),
                };
                let sample = dir.generator.generate_traces(&req)?.into_iter().next().context("no sample")?;
                let states = sampled_states(&sample.text, sample.stop == StopReason::EndOfText, case.prefix.programs.last().map_or(0, |p| p.n) + 1);
                for (a, code) in states.iter().take(opts.attempts).enumerate() {
                    if runs(code)? {
                        ok += 1;
                        attempts_sum += a + 1;
                        first += usize::from(a == 0);
                        bleus.push(quality_bleu(&[code.as_str()], &[case.target.as_str()]));
                        break;
                    }
                }
                progress.inc(1);
            }
            rows.push(RecoveryRow {
                vector: name.to_string(),
                gap_seconds: gap,
                cases: cases.len(),
                success: ok as f64 / cases.len() as f64,
                attempts_to_success: (ok > 0).then(|| attempts_sum as f64 / ok as f64),
                bleu_to_final: (!bleus.is_empty()).then(|| MeanSe::of(&bleus)),
                first_state_runs: first as f64 / cases.len() as f64,
            });
        }
    }
    let used: std::collections::BTreeSet<usize> = cases.iter().map(|c| c.student).collect();
    Ok(EvalRecoveryReport {
        model: opts.model.display().to_string(),
        data: opts.data.iter().map(|p| p.display().to_string()).collect(),
        students: used.len(),
        cases: cases.len(),
        attempts: opts.attempts,
        adaptation: (fit_options.steps, fit_options.learning_rate),
        rows,
        seconds: started.elapsed().as_secs_f64(),
        command: std::env::args().collect::<Vec<_>>().join(" "),
    })
}

/// The program states of a sampled continuation that began right after a
/// `CODE n (time):\n` header the prompt wrote: the first state is the text up
/// to the model's own next header, the rest parse as a trace text. A state
/// the model did not finish (no following header, no `<|endoftext|>`) is
/// dropped, as the paper's parser drops an unterminated last block.
pub fn sampled_states(text: &str, ended: bool, first_n: u32) -> Vec<String> {
    let mut full = format!("CODE {first_n} (2000-01-01 00:00:00):\n{text}");
    if ended {
        full.push_str(END_OF_TEXT);
    }
    parse(&full).programs.into_iter().map(|p| p.code).collect()
}

/// The report as Markdown.
pub fn markdown(r: &EvalRecoveryReport) -> String {
    let mut s = format!(
        "# Error recovery (paper §4.5)\n\nModel `{}`; data {}; {} failing mid-trace programs of {} students outside the model's table \
         (the first failing state before the last of a trace). A recovery trace is sampled from the failing state with the next header's \
         time gap set; it succeeds when one of its first {} states runs (sandbox, the paper's rule). Own vector: fitted on the student's \
         other traces ({} steps, lr {}). The paper reports {} success. {:.0} s.\n\n",
        r.model,
        r.data.join(", "),
        r.cases,
        r.students,
        r.attempts,
        r.adaptation.0,
        r.adaptation.1,
        PAPER_SUCCESS,
        r.seconds
    );
    s.push_str("| vector | gap (s) | cases | success | first state runs | attempts to success | BLEU to the real final program |\n|---|---|---|---|---|---|---|\n");
    for row in &r.rows {
        s.push_str(&format!(
            "| {} | {} | {} | {:.1}% | {:.1}% | {} | {} |\n",
            row.vector,
            row.gap_seconds,
            row.cases,
            100.0 * row.success,
            100.0 * row.first_state_runs,
            row.attempts_to_success.map_or("-".into(), |a| format!("{a:.2}")),
            row.bleu_to_final.map_or("-".into(), |b| format!("{:.3} ± {:.3}", b.mean, b.se)),
        ));
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sampled_states_split_at_the_models_headers_and_drop_an_unfinished_one() {
        let text = "fd 100\nCODE 5 (2020-01-01 00:00:09):\nfd 100\nrt 90\nCODE 6 (2020-01-01 00:00:19):\nfd 1";
        assert_eq!(sampled_states(text, false, 4), vec!["fd 100\n".to_string(), "fd 100\nrt 90\n".to_string()]);
        assert_eq!(sampled_states(text, true, 4).len(), 3, "an ended trace keeps its last state");
        assert!(sampled_states("fd 1", false, 2).is_empty(), "nothing finished");
    }
}
