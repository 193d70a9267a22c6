//! The backtracking probe (the paper's §4.2/§I): small linear heads on the
//! trace model's mean-pooled hidden state of a trace prefix. One forward pass
//! over "student soft token + title + programs so far" gives the `pooled`
//! output; the probe turns it into a risk that the student will move away from
//! their eventual goal later in this trace, plus two regressions (attempts
//! still to come, edit distance still to cover).
//!
//! `probe.safetensors` holds, all f32: `mean` and `scale` `[n_embd]` (feature
//! standardisation: `z = (pooled - mean) / scale`), `risk.weight` `[n_embd]`
//! and `risk.bias` `[1]` (logistic regression), `attempts.*` and `remaining.*`
//! (ridge regressions on `ln(1 + target)`), and `threshold` `[1]` (the risk
//! that maximised F1 on the probe's training prefixes).

use std::path::Path;

use candle_core::{Device, Tensor};

use super::error::InferenceError;
use super::session::{KvCache, OnnxModel};
use crate::model::TraceTokenizer;
use crate::text_format::write_program;
use crate::trace::Trace;

/// The probe's file name inside a model directory.
pub const PROBE_FILE: &str = "probe.safetensors";

/// What the probe says about one trace prefix.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ProbeOutput {
    /// Probability in [0, 1] that the student backtracks later in this trace.
    pub risk: f32,
    /// Predicted program states still to come.
    pub future_attempts: f32,
    /// Predicted edit distance (characters) from the current program to the final one.
    pub remaining_distance: f32,
}

/// One linear head `w·z + b`.
#[derive(Debug, Clone, PartialEq)]
pub struct LinearHead {
    /// Weights over the standardised features.
    pub weight: Vec<f32>,
    /// Bias.
    pub bias: f32,
}

impl LinearHead {
    fn apply(&self, z: &[f32]) -> f32 {
        self.weight.iter().zip(z).map(|(w, x)| w * x).sum::<f32>() + self.bias
    }
}

/// The trained probe.
#[derive(Debug, Clone, PartialEq)]
pub struct Probe {
    /// Feature means.
    pub mean: Vec<f32>,
    /// Feature scales (standard deviations, never zero).
    pub scale: Vec<f32>,
    /// Logistic head for "will backtrack".
    pub risk: LinearHead,
    /// Ridge head for `ln(1 + future attempts)`.
    pub attempts: LinearHead,
    /// Ridge head for `ln(1 + remaining edit distance)`.
    pub remaining: LinearHead,
    /// The F1-optimal risk threshold on the training prefixes.
    pub threshold: f32,
    /// The risk above which an editor hints: it flags [`HINT_RATE`] of the training
    /// prefixes. Higher than `threshold` on a weak probe, because a hint interrupts a
    /// student and should be right more often than not. (`threshold` when the file has none.)
    pub hint_threshold: f32,
}

/// Share of training prefixes the hint threshold flags.
pub const HINT_RATE: f64 = 0.2;

impl Probe {
    /// Width of the features the probe reads (the model's `n_embd`).
    pub fn width(&self) -> usize {
        self.mean.len()
    }

    /// Standardised features.
    fn standardise(&self, pooled: &[f32]) -> Vec<f32> {
        pooled.iter().zip(&self.mean).zip(&self.scale).map(|((x, m), s)| (x - m) / s).collect()
    }

    /// The probe's reading of one pooled hidden state.
    pub fn predict(&self, pooled: &[f32]) -> Result<ProbeOutput, InferenceError> {
        if pooled.len() != self.width() {
            return Err(InferenceError::Request(format!(
                "the probe reads {} features, got {}",
                self.width(),
                pooled.len()
            )));
        }
        let z = self.standardise(pooled);
        let logit = self.risk.apply(&z);
        let back = |v: f32| v.clamp(0.0, 20.0).exp_m1();
        Ok(ProbeOutput {
            risk: 1.0 / (1.0 + (-logit).exp()),
            future_attempts: back(self.attempts.apply(&z)),
            remaining_distance: back(self.remaining.apply(&z)),
        })
    }

    /// Writes `probe.safetensors` to `path`.
    pub fn save(&self, path: &Path) -> Result<(), InferenceError> {
        let d = self.width();
        let err = |e: candle_core::Error| InferenceError::ModelFile { path: path.to_path_buf(), reason: e.to_string() };
        let vec = |v: &[f32]| Tensor::from_vec(v.to_vec(), v.len(), &Device::Cpu);
        let one = |v: f32| Tensor::from_vec(vec![v], 1, &Device::Cpu);
        let mut map = std::collections::HashMap::new();
        map.insert("mean".to_string(), vec(&self.mean).map_err(err)?);
        map.insert("scale".to_string(), vec(&self.scale).map_err(err)?);
        for (name, head) in [("risk", &self.risk), ("attempts", &self.attempts), ("remaining", &self.remaining)] {
            if head.weight.len() != d {
                return Err(InferenceError::Request(format!("probe head {name} has {} weights, not {d}", head.weight.len())));
            }
            map.insert(format!("{name}.weight"), vec(&head.weight).map_err(err)?);
            map.insert(format!("{name}.bias"), one(head.bias).map_err(err)?);
        }
        map.insert("threshold".to_string(), one(self.threshold).map_err(err)?);
        map.insert("hint_threshold".to_string(), one(self.hint_threshold).map_err(err)?);
        candle_core::safetensors::save(&map, path).map_err(err)
    }

    /// Reads `probe.safetensors`; errors name the file and the bad tensor.
    pub fn load(path: &Path, n_embd: usize) -> Result<Self, InferenceError> {
        let err = |reason: String| InferenceError::ModelFile { path: path.to_path_buf(), reason };
        let tensors = candle_core::safetensors::load(path, &Device::Cpu).map_err(|e| err(format!("cannot read: {e}")))?;
        let get = |name: &str, len: usize| -> Result<Vec<f32>, InferenceError> {
            let t = tensors.get(name).ok_or_else(|| err(format!("has no {name:?} tensor")))?;
            let v = t.flatten_all().and_then(|t| t.to_vec1::<f32>()).map_err(|e| err(format!("tensor {name:?}: {e}")))?;
            if v.len() != len {
                return Err(err(format!("tensor {name:?} has {} values, expected {len}", v.len())));
            }
            if v.iter().any(|x| !x.is_finite()) {
                return Err(err(format!("tensor {name:?} holds a non-finite value")));
            }
            Ok(v)
        };
        let head = |name: &str| -> Result<LinearHead, InferenceError> {
            Ok(LinearHead { weight: get(&format!("{name}.weight"), n_embd)?, bias: get(&format!("{name}.bias"), 1)?[0] })
        };
        let scale = get("scale", n_embd)?;
        if scale.iter().any(|s| *s <= 0.0) {
            return Err(err("tensor \"scale\" holds a value that is not positive".into()));
        }
        let threshold = get("threshold", 1)?[0];
        // Probes written before the hint threshold existed hint at the F1 threshold.
        let hint_threshold = if tensors.contains_key("hint_threshold") { get("hint_threshold", 1)?[0] } else { threshold };
        Ok(Probe {
            mean: get("mean", n_embd)?,
            scale,
            risk: head("risk")?,
            attempts: head("attempts")?,
            remaining: head("remaining")?,
            threshold,
            hint_threshold,
        })
    }
}

/// Token ids of a trace prefix as the probe reads it: the title region, then
/// every program state so far as a block, with no next header. A prefix longer
/// than `max_len` ids is cut at the front, at a multiple of half the window
/// ([`window_start`]).
pub fn prefix_prompt(tok: &TraceTokenizer, prefix: &Trace, title_tokens: usize, max_len: usize) -> Result<Vec<u32>, InferenceError> {
    let mut ids = full_prefix(tok, prefix, title_tokens)?;
    ids.drain(..window_start(ids.len(), max_len));
    Ok(ids)
}

/// The ids [`prefix_prompt`] gives for `prefix`, cut before its last program
/// state: what the model can read ahead of a run whose program is known but
/// whose time is not yet. `None` when the window starts inside the last state or
/// the cut does not fall between two tokens.
pub fn prefix_before_last(
    tok: &TraceTokenizer,
    prefix: &Trace,
    title_tokens: usize,
    max_len: usize,
) -> Result<Option<Vec<u32>>, InferenceError> {
    let full = full_prefix(tok, prefix, title_tokens)?;
    let start = window_start(full.len(), max_len);
    let earlier = &prefix.programs[..prefix.programs.len() - 1];
    let mut before = tok.title_region(&prefix.title, title_tokens, false)?;
    if !earlier.is_empty() {
        before.extend(tok.encode(&earlier.iter().map(write_program).collect::<String>())?);
    }
    Ok((before.len() > start && full.starts_with(&before)).then(|| before[start..].to_vec()))
}

fn full_prefix(tok: &TraceTokenizer, prefix: &Trace, title_tokens: usize) -> Result<Vec<u32>, InferenceError> {
    if prefix.programs.is_empty() {
        return Err(InferenceError::Request("the trace prefix has no program state".into()));
    }
    let body: String = prefix.programs.iter().map(write_program).collect();
    let mut ids = tok.title_region(&prefix.title, title_tokens, false)?;
    ids.extend(tok.encode(&body)?);
    Ok(ids)
}

/// Where the probe's window starts in a prefix of `len` ids: 0 while it fits,
/// then the smallest multiple of `max_len / 2` that leaves at most `max_len`.
/// The window moves in half-window hops rather than with every token, so the
/// prefixes between two hops extend each other and their model state can be
/// reused ([`PrefixMemos`]); the window always holds at least half the context.
pub fn window_start(len: usize, max_len: usize) -> usize {
    if len <= max_len {
        return 0;
    }
    let hop = (max_len / 2).max(1);
    (len - max_len).div_ceil(hop) * hop
}

/// The model's mean-pooled final hidden state over soft token + `ids` (one
/// forward pass, batch 1, no cache): the probe's features.
pub fn pooled_features(model: &mut OnnxModel, ids: &[u32], soft: &[f32]) -> Result<Vec<f32>, InferenceError> {
    let ids: Vec<i64> = ids.iter().map(|&i| i64::from(i)).collect();
    let cache = model.empty_cache(1)?;
    Ok(model.forward(&ids, soft, &cache)?.pooled)
}

/// One prefix the model has read: its ids, the soft token it was read with, the
/// KV cache, and the sum of its final hidden states (so a longer prefix's mean
/// needs only its new positions).
struct PrefixMemo {
    ids: Vec<u32>,
    soft: Vec<f32>,
    cache: KvCache,
    sum: Vec<f32>,
    positions: usize,
}

/// The last few prefixes the model read, newest first. A student's next run
/// usually adds one program state to the prefix read at their last run, so its
/// features cost a forward pass over that state alone.
pub struct PrefixMemos {
    memos: Vec<PrefixMemo>,
    capacity: usize,
}

impl PrefixMemos {
    /// Keeps at most `capacity` prefixes (each holds a KV cache: for the default
    /// model 4 MB at a full window).
    pub fn new(capacity: usize) -> Self {
        PrefixMemos { memos: Vec::new(), capacity }
    }

    /// Forgets every prefix.
    pub fn clear(&mut self) {
        self.memos.clear();
    }

    /// [`pooled_features`] of `ids`, reusing the longest remembered prefix of
    /// `ids` read with the same soft token; remembers `ids`. Also returns how
    /// many ids the model had to read.
    pub fn pooled_features(&mut self, model: &mut OnnxModel, ids: &[u32], soft: &[f32]) -> Result<(Vec<f32>, usize), InferenceError> {
        let best = self
            .memos
            .iter()
            .enumerate()
            .filter(|(_, m)| m.soft == soft && m.ids.len() <= ids.len() && ids.starts_with(&m.ids))
            .max_by_key(|(_, m)| m.ids.len())
            .map(|(i, _)| i);
        let (memo, read) = match best {
            Some(i) if self.memos[i].ids.len() == ids.len() => (self.memos.remove(i), 0),
            Some(i) => {
                let old = self.memos.remove(i);
                let new_ids: Vec<i64> = ids[old.ids.len()..].iter().map(|&x| i64::from(x)).collect();
                let step = model.forward(&new_ids, soft, &old.cache)?;
                let sum = old.sum.iter().zip(&step.pooled).map(|(s, p)| s + p * step.positions as f32).collect();
                let memo = PrefixMemo { ids: ids.to_vec(), soft: old.soft, cache: step.cache, sum, positions: old.positions + step.positions };
                (memo, new_ids.len())
            }
            None => {
                let all: Vec<i64> = ids.iter().map(|&x| i64::from(x)).collect();
                let step = model.forward(&all, soft, &model.empty_cache(1)?)?;
                let sum = step.pooled.iter().map(|p| p * step.positions as f32).collect();
                (PrefixMemo { ids: ids.to_vec(), soft: soft.to_vec(), cache: step.cache, sum, positions: step.positions }, ids.len())
            }
        };
        let pooled = memo.sum.iter().map(|s| s / memo.positions as f32).collect();
        self.memos.insert(0, memo);
        self.memos.truncate(self.capacity);
        Ok((pooled, read))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn probe(d: usize) -> Probe {
        let head = |w: f32, b: f32| LinearHead { weight: vec![w; d], bias: b };
        Probe {
            mean: vec![0.5; d],
            scale: vec![2.0; d],
            risk: head(0.25, -0.1),
            attempts: head(0.1, 1.0),
            remaining: head(-0.1, 3.0),
            threshold: 0.4,
            hint_threshold: 0.6,
        }
    }

    #[test]
    fn the_window_moves_in_half_window_hops() {
        assert_eq!(window_start(0, 512), 0);
        assert_eq!(window_start(512, 512), 0);
        assert_eq!(window_start(513, 512), 256);
        assert_eq!(window_start(768, 512), 256);
        assert_eq!(window_start(769, 512), 512);
        for len in 0..3000 {
            let start = window_start(len, 512);
            let kept = len - start;
            assert!(kept <= 512 && (len <= 512 || kept > 256), "len {len}: keeps {kept}");
            assert_eq!(start % 256, 0);
            // Between hops one prefix extends the previous one.
            if len > 0 && start != window_start(len - 1, 512) {
                assert!(start > window_start(len - 1, 512));
            }
        }
        assert_eq!(window_start(5, 1), 4);
    }

    #[test]
    fn save_then_load_gives_the_same_predictions() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join(PROBE_FILE);
        let p = probe(8);
        p.save(&path).expect("save");
        let q = Probe::load(&path, 8).expect("load");
        assert_eq!(p, q);
        let x: Vec<f32> = (0..8).map(|i| i as f32 * 0.3).collect();
        let out = q.predict(&x).expect("predict");
        assert!((0.0..=1.0).contains(&out.risk));
        assert!(out.future_attempts >= 0.0 && out.remaining_distance >= 0.0);
        // z = (x - 0.5) / 2; risk logit = 0.25 * sum(z) - 0.1
        let z: f32 = x.iter().map(|v| (v - 0.5) / 2.0).sum();
        assert!((out.risk - 1.0 / (1.0 + (-(0.25 * z - 0.1)).exp())).abs() < 1e-6);
    }

    #[test]
    fn wrong_width_and_bad_files_name_the_problem() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join(PROBE_FILE);
        probe(8).save(&path).expect("save");
        let e = Probe::load(&path, 16).expect_err("width").to_string();
        assert!(e.contains("probe.safetensors") && e.contains("expected 16"), "{e}");
        assert!(probe(8).predict(&[0.0; 3]).is_err());
        std::fs::write(&path, b"not safetensors").expect("write");
        let e = Probe::load(&path, 8).expect_err("garbage").to_string();
        assert!(e.contains("probe.safetensors"), "{e}");
    }
}
