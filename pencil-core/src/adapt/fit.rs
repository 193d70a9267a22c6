//! Fitting one student's vector: the language-model loss of the trace model
//! over the student's own traces, minimised over the vector alone (the student
//! MLP and the transformer stay frozen), with Adam.
//!
//! Bounded: at most [`AdaptOptions::max_traces`] traces (the newest), each cut
//! to [`AdaptOptions::max_tokens_per_trace`] tokens before it is tokenized
//! whole, at most [`SEQUENCES_PER_BATCH`] sequences' graph in memory at a
//! time, at most [`AdaptOptions::max_steps`] steps and
//! [`AdaptOptions::time_budget`].
//!
//! Cheap per step: the transformer's weights are plain tensors, so the fused
//! kernels' backward computes no weight gradients, only the path back to the
//! vector; a step's sequences go through the model as one padded batch (one
//! set of larger matrix products instead of one per sequence) when their
//! lengths are close enough that padding costs less than it saves.
//! With [`AdaptOptions::min_traces_for_early_stop`] traces or more, the newest
//! is held back and the vector that reads it best is kept (early stopping);
//! with fewer, a fixed [`AdaptOptions::steps`].

use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use candle_core::{Device, Tensor, Var};
use serde::{Deserialize, Serialize};

use super::AdaptError;
use crate::inference::manifest::MANIFEST_FILE;
use crate::model::{Mode, TraceModel, TraceTokenizer};
use crate::scrub::{ScrubCounts, Scrubber};
use crate::training_text::{loss_weights, prepare_traces, trace_ids};
use crate::Trace;

/// Steps without a held-back trace when the manifest names none.
pub const DEFAULT_STEPS: usize = 20;
/// Adam's learning rate when the manifest names none: student vectors start
/// near unit scale (the table's initialisation), so 0.1 moves one a few
/// tenths per coordinate within the default steps.
pub const DEFAULT_LEARNING_RATE: f64 = 0.1;

/// How an adaptation runs.
#[derive(Debug, Clone, PartialEq)]
pub struct AdaptOptions {
    /// Newest traces used at most.
    pub max_traces: usize,
    /// Tokens kept of each trace (its beginning: title region and first states); at most the model's context.
    pub max_tokens_per_trace: usize,
    /// Steps when no trace is held back.
    pub steps: usize,
    /// Most steps with early stopping.
    pub max_steps: usize,
    /// Steps without a better held-back loss before stopping.
    pub patience: usize,
    /// Traces needed to hold the newest one back for early stopping.
    pub min_traces_for_early_stop: usize,
    /// Adam's learning rate.
    pub learning_rate: f64,
    /// Wall time after which the best vector so far is kept.
    pub time_budget: Option<Duration>,
}

impl Default for AdaptOptions {
    fn default() -> Self {
        AdaptOptions {
            max_traces: 10,
            max_tokens_per_trace: 256,
            steps: DEFAULT_STEPS,
            max_steps: 2 * DEFAULT_STEPS,
            patience: 3,
            min_traces_for_early_stop: 3,
            learning_rate: DEFAULT_LEARNING_RATE,
            time_budget: Some(Duration::from_secs(120)),
        }
    }
}

/// Adaptation settings `pencil-trainer` chose on held-out students, from the
/// manifest's optional `adaptation` object (`{"steps": N, "learning_rate": X}`).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct AdaptationDefaults {
    /// Steps without a held-back trace.
    pub steps: usize,
    /// Adam's learning rate.
    pub learning_rate: f64,
}

impl AdaptationDefaults {
    /// Reads `dir/manifest.json`'s `adaptation` object; `None` when absent or malformed.
    pub fn read(dir: &Path) -> Option<AdaptationDefaults> {
        let text = std::fs::read_to_string(dir.join(MANIFEST_FILE)).ok()?;
        let value: serde_json::Value = serde_json::from_str(&text).ok()?;
        serde_json::from_value(value.get("adaptation")?.clone()).ok()
    }

    /// Options with these steps and learning rate.
    pub fn apply(self, mut options: AdaptOptions) -> AdaptOptions {
        options.steps = self.steps;
        options.max_steps = options.max_steps.max(self.steps);
        options.learning_rate = self.learning_rate;
        options
    }
}

/// Why the fit stopped.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AdaptStop {
    /// The fixed number of steps (or the most steps) ran.
    Steps,
    /// The held-back trace stopped improving.
    EarlyStop,
    /// The time budget ran out.
    TimeBudget,
}

/// A fitted vector and how it was fitted.
#[derive(Debug, Clone, PartialEq)]
pub struct Adapted {
    /// The student's vector `[student_dim]`.
    pub vector: Vec<f32>,
    /// Traces the loss was minimised over.
    pub train_traces: usize,
    /// Whether the newest trace was held back for early stopping.
    pub held_out: bool,
    /// Tokens the loss was computed over per step.
    pub tokens: usize,
    /// Steps taken.
    pub steps: usize,
    /// Mean loss per token over the training traces before the first step.
    pub train_loss_before: f32,
    /// Mean loss per token over the training traces at the last step.
    pub train_loss_last: f32,
    /// Held-back loss per token of the starting vector and of the kept one.
    pub held_out_loss: Option<(f32, f32)>,
    /// Why it stopped.
    pub stop: AdaptStop,
    /// Wall time of the fit.
    pub elapsed: Duration,
}

/// The student's adaptation texts: traces prepared exactly as training texts
/// ([`prepare_traces`], [`trace_ids`] without title masking), the newest
/// `max_traces` (by their last state's time; oldest first in the result), each
/// cut to `max_tokens_per_trace` tokens and never longer than `context`.
pub fn adaptation_texts(
    traces: Vec<Trace>,
    scrubber: &Scrubber,
    tok: &TraceTokenizer,
    title_tokens: usize,
    context: usize,
    options: &AdaptOptions,
) -> Result<Vec<AdaptText>, AdaptError> {
    let cap = options.max_tokens_per_trace.min(context);
    // Cut before scrubbing and tokenizing, so a huge trace costs no more than a
    // small one: a byte-level BPE token covers at least one byte, and rarely
    // more than a few dozen, so this many bytes give at least `cap` tokens.
    let byte_cap = cap.saturating_mul(BYTES_PER_TOKEN_BOUND);
    let mut traces: Vec<Trace> = traces.into_iter().map(|t| cut_trace(t, byte_cap)).collect();
    traces.sort_by(|a, b| last_time(a).cmp(last_time(b)));
    let first = traces.len().saturating_sub(options.max_traces);
    let traces = traces.split_off(first);
    let prepared = prepare_traces(traces, scrubber, &mut ScrubCounts::default());
    let mut texts = Vec::with_capacity(prepared.len());
    for t in &prepared {
        let mut ids = trace_ids(tok, t, title_tokens, false)?;
        ids.truncate(cap);
        let text = AdaptText::new(ids, tok);
        if text.ids.len() >= 2 && text.counted() > 0 {
            texts.push(text);
        }
    }
    Ok(texts)
}

/// One trace's token ids and which of them count in the loss.
#[derive(Debug, Clone, PartialEq)]
pub struct AdaptText {
    /// The trace written as a training text.
    pub ids: Vec<u32>,
    /// 1 for a token the loss counts, 0 for `<mask>` and `<pad>`: training
    /// never asked the model to predict those ([`loss_weights`]), so their loss
    /// is large, means nothing, and would pull the vector toward whatever
    /// predicts the title region's padding.
    pub weights: Vec<f32>,
}

impl AdaptText {
    /// Weighs `ids` as training does.
    pub fn new(ids: Vec<u32>, tok: &TraceTokenizer) -> Self {
        let weights = loss_weights(&ids, tok.special.pad, tok.special.mask);
        AdaptText { ids, weights }
    }

    /// Tokens the loss counts.
    pub fn counted(&self) -> usize {
        self.weights.iter().filter(|&&w| w > 0.0).count()
    }
}

/// Bytes of text kept per token wanted (see [`adaptation_texts`]).
const BYTES_PER_TOKEN_BOUND: usize = 64;

fn last_time(t: &Trace) -> &str {
    t.programs.last().map_or("", |p| p.time.as_str())
}

/// The trace's first states up to about `byte_cap` bytes of code (the last one
/// kept cut at a character boundary); a cut trace is not complete.
fn cut_trace(mut t: Trace, byte_cap: usize) -> Trace {
    let mut used = 0usize;
    let mut keep = 0;
    for p in &mut t.programs {
        keep += 1;
        let room = byte_cap.saturating_sub(used);
        if p.code.len() > room {
            let mut end = room;
            while !p.code.is_char_boundary(end) {
                end -= 1;
            }
            p.code.truncate(end);
            t.eos = false;
            break;
        }
        used += p.code.len();
    }
    if keep < t.programs.len() {
        t.programs.truncate(keep);
        t.eos = false;
    }
    t
}

/// Sequences padded into one batch of a step: bounds the graph a step keeps
/// alive (4 x 256 tokens by default) while giving the matrix products rows.
pub const SEQUENCES_PER_BATCH: usize = 4;

/// Most padded positions per real one in a batch: padding costs as much as
/// text, and a short trace padded to a long one's length made a batch slower
/// than the sequences one by one.
const MAX_PADDING: f64 = 0.25;

/// The training texts in batches of similar lengths (longest first).
fn batches_by_length(texts: &[AdaptText]) -> Vec<Vec<&AdaptText>> {
    let mut sorted: Vec<&AdaptText> = texts.iter().collect();
    sorted.sort_by_key(|t| std::cmp::Reverse(t.ids.len()));
    let mut out: Vec<Vec<&AdaptText>> = Vec::new();
    for t in sorted {
        let fits = out.last().is_some_and(|b| {
            let longest = b[0].ids.len();
            let real: usize = b.iter().map(|t| t.ids.len()).sum::<usize>() + t.ids.len();
            b.len() < SEQUENCES_PER_BATCH && (longest * (b.len() + 1)) as f64 <= (1.0 + MAX_PADDING) * real as f64
        });
        match out.last_mut() {
            Some(b) if fits => b.push(t),
            _ => out.push(vec![t]),
        }
    }
    out
}

/// Fits a student's vector, starting from `init` (the unseen-student vector),
/// on `texts` (from [`adaptation_texts`], oldest first). Checks `cancel`
/// between batches. Single-threaded only if the caller's rayon pool is.
pub fn adapt_vector(
    model: &TraceModel,
    texts: &[AdaptText],
    init: &[f32],
    options: &AdaptOptions,
    cancel: &AtomicBool,
) -> Result<Adapted, AdaptError> {
    adapt_vector_observed(model, texts, init, options, cancel, &mut |_, _| Ok(()))
}

/// Called after every step with the step's number (from 1) and the vector it produced.
pub type StepObserver<'a> = dyn FnMut(usize, &[f32]) -> Result<(), AdaptError> + 'a;

/// [`adapt_vector`], calling `observe(step, vector)` after every step with
/// the vector that step produced: how `pencil-trainer eval-adapt` scores
/// every step count from one fit.
pub fn adapt_vector_observed(
    model: &TraceModel,
    texts: &[AdaptText],
    init: &[f32],
    options: &AdaptOptions,
    cancel: &AtomicBool,
    observe: &mut StepObserver<'_>,
) -> Result<Adapted, AdaptError> {
    let started = Instant::now();
    if texts.is_empty() {
        return Err(AdaptError::NoTraces);
    }
    let held = texts.len() >= options.min_traces_for_early_stop.max(2);
    let (train, held_back) = if held { (&texts[..texts.len() - 1], texts.last()) } else { (texts, None) };
    let tokens: usize = train.iter().map(AdaptText::counted).sum();
    let dim = init.len();
    let device = Device::Cpu;
    let var = Var::from_tensor(&Tensor::from_vec(init.to_vec(), (1, dim), &device)?)?;
    let mut adam = Adam::new(dim, options.learning_rate);
    let mut current = init.to_vec();

    let batches = batches_by_length(train).iter().map(|b| Batch::new(b, &device)).collect::<Result<Vec<_>, _>>()?;
    let held_loss = |v: &[f32]| -> Result<f32, AdaptError> {
        let Some(text) = held_back else { return Ok(f32::NAN) };
        let soft = model.student.soft_token(&Tensor::from_vec(v.to_vec(), (1, dim), &device)?)?;
        // The fused kernels (Mode::Train) forward only: nothing here is a variable.
        Ok(sequence_loss(model, text, &soft, Mode::Train)?.to_scalar::<f32>()?)
    };
    let initial_held = held_loss(init)?;
    let mut best = (initial_held, init.to_vec());
    let mut since_best = 0;
    let max_steps = if held { options.max_steps } else { options.steps };
    let (mut steps, mut stop) = (0, AdaptStop::Steps);
    let (mut loss_before, mut loss_last) = (f32::NAN, f32::NAN);

    while steps < max_steps {
        if options.time_budget.is_some_and(|b| started.elapsed() >= b) {
            stop = AdaptStop::TimeBudget;
            break;
        }
        let mut grad = vec![0f32; dim];
        let mut loss_sum = 0f32;
        for batch in &batches {
            if cancel.load(Ordering::Relaxed) {
                return Err(AdaptError::Cancelled);
            }
            let soft = model.student.soft_token(var.as_tensor())?.broadcast_as((batch.rows, model.config().n_embd))?;
            // Each batch's mean loss weighted by its share of the tokens: the
            // sum is the mean over every token, one batch's graph at a time.
            let loss = (model.loss_with_soft(&batch.ids, &soft, &batch.weights, Mode::Train)? * (batch.counted as f64 / tokens as f64))?;
            let grads = loss.backward()?;
            let g = grads.get(var.as_tensor()).ok_or_else(|| candle_core::Error::msg("no gradient reached the student vector"))?;
            for (acc, x) in grad.iter_mut().zip(g.flatten_all()?.to_vec1::<f32>()?) {
                *acc += x;
            }
            loss_sum += loss.to_scalar::<f32>()?;
        }
        if steps == 0 {
            loss_before = loss_sum;
        }
        loss_last = loss_sum;
        adam.step(&mut current, &grad);
        var.set(&Tensor::from_vec(current.clone(), (1, dim), &device)?)?;
        steps += 1;
        observe(steps, &current)?;
        if held {
            let l = held_loss(&current)?;
            if l < best.0 {
                best = (l, current.clone());
                since_best = 0;
            } else {
                since_best += 1;
                if since_best >= options.patience {
                    stop = AdaptStop::EarlyStop;
                    break;
                }
            }
        }
    }
    let vector = if held { best.1 } else { current };
    Ok(Adapted {
        vector,
        train_traces: train.len(),
        held_out: held,
        tokens,
        steps,
        train_loss_before: loss_before,
        train_loss_last: loss_last,
        held_out_loss: held.then_some((initial_held, best.0)),
        stop,
        elapsed: started.elapsed(),
    })
}

/// Sequences padded to the longest: padding comes after each sequence's end,
/// where the causal model cannot read it, and weighs 0 in the loss.
struct Batch {
    ids: Tensor,
    weights: Tensor,
    rows: usize,
    counted: usize,
}

impl Batch {
    fn new(texts: &[&AdaptText], device: &Device) -> Result<Batch, candle_core::Error> {
        let len = texts.iter().map(|t| t.ids.len()).max().unwrap_or(0);
        let (mut ids, mut weights) = (Vec::with_capacity(texts.len() * len), Vec::with_capacity(texts.len() * len));
        for t in texts {
            ids.extend(t.ids.iter().copied().chain(std::iter::repeat_n(0, len - t.ids.len())));
            weights.extend(t.weights.iter().copied().chain(std::iter::repeat_n(0.0, len - t.weights.len())));
        }
        Ok(Batch {
            ids: Tensor::from_vec(ids, (texts.len(), len), device)?,
            weights: Tensor::from_vec(weights, (texts.len(), len), device)?,
            rows: texts.len(),
            counted: texts.iter().map(|t| t.counted()).sum(),
        })
    }
}

/// Mean loss per counted token of one sequence read after `soft` `[1, n_embd]`.
fn sequence_loss(model: &TraceModel, text: &AdaptText, soft: &Tensor, mode: Mode) -> Result<Tensor, candle_core::Error> {
    let device = Device::Cpu;
    let ids_t = Tensor::new(text.ids.as_slice(), &device)?.unsqueeze(0)?;
    let weights = Tensor::from_vec(text.weights.clone(), (1, text.weights.len()), &device)?;
    model.loss_with_soft(&ids_t, soft, &weights, mode)
}

/// Mean loss per token of `texts` read with `vector` (forward only): what an
/// adapted vector is judged by.
pub fn mean_loss(model: &TraceModel, texts: &[AdaptText], vector: &[f32]) -> Result<f32, AdaptError> {
    let soft = model.student.soft_token(&Tensor::from_vec(vector.to_vec(), (1, vector.len()), &Device::Cpu)?)?;
    let (mut sum, mut n) = (0f64, 0usize);
    for text in texts {
        sum += f64::from(sequence_loss(model, text, &soft, Mode::Train)?.to_scalar::<f32>()?) * text.counted() as f64;
        n += text.counted();
    }
    Ok(if n == 0 { f32::NAN } else { (sum / n as f64) as f32 })
}

/// Adam on one small vector (no weight decay: the vector has no prior to decay to
/// but the unseen student's, and early stopping already keeps it near).
struct Adam {
    m: Vec<f32>,
    v: Vec<f32>,
    t: i32,
    lr: f32,
}

impl Adam {
    const BETA1: f32 = 0.9;
    const BETA2: f32 = 0.999;
    const EPS: f32 = 1e-8;

    fn new(dim: usize, lr: f64) -> Self {
        Adam { m: vec![0.0; dim], v: vec![0.0; dim], t: 0, lr: lr as f32 }
    }

    fn step(&mut self, x: &mut [f32], g: &[f32]) {
        self.t += 1;
        let (c1, c2) = (1.0 - Self::BETA1.powi(self.t), 1.0 - Self::BETA2.powi(self.t));
        for i in 0..x.len() {
            self.m[i] = Self::BETA1 * self.m[i] + (1.0 - Self::BETA1) * g[i];
            self.v[i] = Self::BETA2 * self.v[i] + (1.0 - Self::BETA2) * g[i] * g[i];
            x[i] -= self.lr * (self.m[i] / c1) / ((self.v[i] / c2).sqrt() + Self::EPS);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ProgramState;

    fn trace(code_len: usize, states: usize) -> Trace {
        Trace {
            student: "s".into(),
            title: "t".into(),
            programs: (0..states)
                .map(|i| ProgramState { n: i as u32 + 1, time: format!("2020-01-01 00:00:{:02}", i % 60), code: "é".repeat(code_len) })
                .collect(),
            eos: true,
            provenance: Default::default(),
        }
    }

    #[test]
    fn a_huge_trace_is_cut_before_it_is_read() {
        let t = cut_trace(trace(100_000, 200), 1000);
        assert_eq!(t.programs.len(), 1);
        assert!(t.programs[0].code.len() <= 1000 && !t.eos);
        let small = cut_trace(trace(3, 2), 1000);
        assert_eq!(small.programs.len(), 2);
        assert!(small.eos);
    }

    #[test]
    fn the_title_regions_padding_is_not_learned_from() {
        // The shipped tokenizer: the test needs real special-token ids.
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../models/default/tokenizer.json");
        let tok = TraceTokenizer::load(&path).expect("the shipped tokenizer");
        let scrubber = Scrubber::new(Default::default());
        let options = AdaptOptions { max_tokens_per_trace: 200, ..AdaptOptions::default() };
        let mut t = trace(0, 2);
        t.programs.iter_mut().for_each(|p| p.code = "pen red\nfd 100\n".into());
        let texts = adaptation_texts(vec![t], &scrubber, &tok, 32, 512, &options).expect("texts");
        let text = &texts[0];
        let masks = text.ids.iter().filter(|&&id| id == tok.special.mask).count();
        assert!(masks > 20, "a one-word title leaves most of the 32-token region as <mask>");
        for (id, w) in text.ids.iter().zip(&text.weights) {
            assert_eq!(*w == 0.0, *id == tok.special.mask || *id == tok.special.pad, "token {id}");
        }
        assert_eq!(text.counted(), text.ids.len() - masks);
    }

    #[test]
    fn batches_group_similar_lengths_only() {
        let text = |n: usize| AdaptText { ids: vec![1; n], weights: vec![1.0; n] };
        let texts = vec![text(100), text(225), text(220), text(90), text(210), text(200), text(95)];
        let lens: Vec<Vec<usize>> = batches_by_length(&texts).iter().map(|b| b.iter().map(|t| t.ids.len()).collect()).collect();
        assert_eq!(lens, vec![vec![225, 220, 210, 200], vec![100, 95, 90]]);
        let lens: Vec<Vec<usize>> = batches_by_length(&texts[..2]).iter().map(|b| b.iter().map(|t| t.ids.len()).collect()).collect();
        assert_eq!(lens, vec![vec![225], vec![100]], "a short trace is not padded to a long one");
    }

    #[test]
    fn adam_moves_against_the_gradient() {
        let mut adam = Adam::new(2, 0.1);
        let mut x = vec![0.0, 0.0];
        adam.step(&mut x, &[1.0, -2.0]);
        assert!((x[0] + 0.1).abs() < 1e-4 && (x[1] - 0.1).abs() < 1e-4, "{x:?}");
    }
}
