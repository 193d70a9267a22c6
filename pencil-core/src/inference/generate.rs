//! Sampling program states from an exported model: the prompt runs once,
//! its KV cache is copied to every sample, then all samples advance together
//! one token per step until each meets a stop rule.

use std::sync::OnceLock;

use regex::Regex;

use super::error::InferenceError;
use super::sampling::{sample, SamplingParams};
use super::session::OnnxModel;
use crate::model::rng::SplitMix64;
use crate::model::tokenizer::TraceTokenizer;

/// Why a sample ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StopReason {
    /// The model wrote `<|endoftext|>`: the trace is over.
    EndOfText,
    /// The model began the following state's `CODE n (` header.
    NextHeader,
    /// `max_new_tokens` were written.
    MaxTokens,
    /// The context window is full.
    Context,
}

/// One sampled continuation.
#[derive(Debug, Clone, PartialEq)]
pub struct Sample {
    /// Token ids written, the stop token and any following header excluded.
    pub ids: Vec<u32>,
    /// Their text: the program state the model proposes.
    pub text: String,
    /// What ended it.
    pub stop: StopReason,
}

/// A generation request.
#[derive(Debug, Clone)]
pub struct GenerationRequest<'a> {
    /// The trace so far as token ids, ending where the model should continue
    /// (usually after a header from [`super::time_header::next_state_header`]).
    pub prompt: &'a [u32],
    /// The student's soft token, `[n_embd]`.
    pub soft_token: &'a [f32],
    /// Continuations to sample (the batch size).
    pub n_samples: usize,
    /// Upper bound on tokens per continuation.
    pub max_new_tokens: usize,
    /// Temperature and nucleus.
    pub sampling: SamplingParams,
    /// Same seed, same request, same model: same samples.
    pub seed: u64,
}

/// Samples program states from a model and its tokenizer.
pub struct Generator {
    model: OnnxModel,
    tokenizer: TraceTokenizer,
    n_positions: usize,
}

impl Generator {
    /// A generator for `model`, whose position table holds `n_positions`
    /// positions (soft token plus the context; see the model's manifest).
    pub fn new(model: OnnxModel, tokenizer: TraceTokenizer, n_positions: usize) -> Self {
        Generator { model, tokenizer, n_positions }
    }

    /// The model.
    pub fn model(&mut self) -> &mut OnnxModel {
        &mut self.model
    }

    /// The tokenizer.
    pub fn tokenizer(&self) -> &TraceTokenizer {
        &self.tokenizer
    }

    /// Positions the model can see (soft token included).
    pub fn n_positions(&self) -> usize {
        self.n_positions
    }

    /// Samples `n_samples` continuations of the prompt, each one program state
    /// (it stops where the model begins the next state's header).
    pub fn generate(&mut self, req: &GenerationRequest<'_>) -> Result<Vec<Sample>, InferenceError> {
        self.sample_rows(req, true)
    }

    /// Samples `n_samples` continuations that run on through every header
    /// until `<|endoftext|>`, the token budget or the context: whole traces
    /// from a title region, for evaluations that compare sampled traces with
    /// real ones.
    pub fn generate_traces(&mut self, req: &GenerationRequest<'_>) -> Result<Vec<Sample>, InferenceError> {
        self.sample_rows(req, false)
    }

    fn sample_rows(&mut self, req: &GenerationRequest<'_>, stop_at_header: bool) -> Result<Vec<Sample>, InferenceError> {
        let dims = self.model.dims();
        let n = req.n_samples;
        if n == 0 {
            return Ok(Vec::new());
        }
        if req.prompt.is_empty() {
            return Err(InferenceError::Request("the prompt is empty".into()));
        }
        if req.prompt.len() + 1 > self.n_positions {
            return Err(InferenceError::Request(format!(
                "a prompt of {} tokens does not fit the context of {} positions",
                req.prompt.len(),
                self.n_positions
            )));
        }
        if req.soft_token.len() != dims.n_embd {
            return Err(InferenceError::Request(format!("soft token has {} values, the model needs {}", req.soft_token.len(), dims.n_embd)));
        }
        let eot = self.tokenizer.special.end_of_text;
        let prompt: Vec<i64> = req.prompt.iter().map(|&t| i64::from(t)).collect();
        let first = self.model.forward(&prompt, req.soft_token, &self.model.empty_cache(1)?)?;
        let vocab = dims.vocab_size;
        // Every sample starts from the prompt's last logits.
        let mut logits: Vec<f32> = (0..n).flat_map(|_| first.last_logits(0, vocab).iter().copied()).collect();
        let mut cache = if n == 1 { first.cache } else { self.model.repeat_cache(&first.cache, n)? };
        let soft: Vec<f32> = (0..n).flat_map(|_| req.soft_token.iter().copied()).collect();

        let mut rng = SplitMix64::for_purpose(req.seed, "generate");
        let mut rows: Vec<Row> = (0..n).map(|_| Row::default()).collect();
        for _ in 0..req.max_new_tokens {
            let mut next = Vec::with_capacity(n);
            for (r, row) in rows.iter_mut().enumerate() {
                if row.stop.is_some() {
                    next.push(i64::from(eot));
                    continue;
                }
                let token = sample(&logits[r * vocab..(r + 1) * vocab], req.sampling, &mut rng);
                next.push(i64::from(token));
                if token == eot {
                    row.stop = Some(StopReason::EndOfText);
                    continue;
                }
                row.ids.push(token);
                if !stop_at_header {
                    continue;
                }
                let text = self.tokenizer.decode(&row.ids)?;
                if let Some(cut) = next_header_start(&text) {
                    row.stop = Some(StopReason::NextHeader);
                    row.text = text[..cut].to_string();
                    row.ids = self.ids_before(&row.ids, cut)?;
                } else {
                    row.text = text;
                }
            }
            if rows.iter().all(|r| r.stop.is_some()) {
                break;
            }
            if cache.len() + 1 > self.n_positions {
                for row in rows.iter_mut().filter(|r| r.stop.is_none()) {
                    row.stop = Some(StopReason::Context);
                }
                break;
            }
            let step = self.model.forward(&next, &soft, &cache)?;
            logits = step.logits;
            cache = step.cache;
        }
        rows.into_iter()
            .map(|r| {
                // Whole traces are decoded once, at the end.
                let text = if stop_at_header { r.text } else { self.tokenizer.decode(&r.ids)? };
                Ok(Sample { ids: r.ids, text, stop: r.stop.unwrap_or(StopReason::MaxTokens) })
            })
            .collect()
    }

    /// The longest prefix of `ids` whose text ends at or before byte `cut`
    /// (a header's tokens may have merged with the program's last characters).
    fn ids_before(&self, ids: &[u32], cut: usize) -> Result<Vec<u32>, InferenceError> {
        for k in (0..=ids.len()).rev() {
            if self.tokenizer.decode(&ids[..k])?.len() <= cut {
                return Ok(ids[..k].to_vec());
            }
        }
        Ok(Vec::new())
    }
}

#[derive(Default)]
struct Row {
    ids: Vec<u32>,
    text: String,
    stop: Option<StopReason>,
}

/// Byte offset where a following state's `CODE n (` header begins in
/// generated text: at its very start (an empty program) or after a newline.
pub fn next_header_start(text: &str) -> Option<usize> {
    static HEADER: OnceLock<Option<Regex>> = OnceLock::new();
    let re = HEADER.get_or_init(|| Regex::new(r"(?:^|\n)CODE \d+ \(").ok()).as_ref()?;
    let m = re.find(text)?;
    Some(if text[m.start()..].starts_with('\n') { m.start() + 1 } else { m.start() })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn header_stop_rule() {
        let check = |text: &str, want: Option<&str>| {
            assert_eq!(next_header_start(text).map(|i| &text[..i]), want, "{text:?}");
        };
        check("pen red\nfd 100\nCODE 3 (", Some("pen red\nfd 100\n"));
        check("CODE 12 (2019", Some(""));
        check("pen red\nfd 100\nCODE 3", None);
        check("# CODE 3 (not a header)\nfd 10\n", None);
        check("pen red\nCODE x (", None);
    }
}
