//! Candle-vs-ort parity of an exported graph on its own weights, measured at
//! export time and recorded in the manifest: random token sequences, several
//! batch sizes and lengths, whole-sequence and through the KV cache.

use std::collections::HashMap;
use std::path::Path;

use candle_core::{DType, Device, Tensor};
use candle_nn::VarBuilder;
use pencil_core::inference::manifest::ParityReport;
use pencil_core::inference::{OnnxModel, SessionOptions};
use pencil_core::model::rng::SplitMix64;
use pencil_core::model::{Mode, ModelConfig, TraceModel};

/// Compares the graph at `onnx` with the candle model of `weights`.
pub fn measure(cfg: &ModelConfig, weights: &HashMap<String, Tensor>, onnx: &Path) -> anyhow::Result<ParityReport> {
    let vb = VarBuilder::from_tensors(weights.clone(), DType::F32, &Device::Cpu);
    let model = TraceModel::load(vb, cfg)?;
    let mut session = OnnxModel::load(onnx, &SessionOptions::default())?;
    let mut rng = SplitMix64::for_purpose(0, "parity");
    let (d, vocab) = (cfg.n_embd, cfg.vocab_size);
    let lengths: Vec<usize> = [1, 17, cfg.context / 2].into_iter().filter(|&t| t <= cfg.context).collect();
    let batches = [1usize, 4];
    let (mut full_worst, mut cached_worst) = (0.0f32, 0.0f32);
    for &b in &batches {
        for &t in &lengths {
            let ids: Vec<u32> = (0..b * t).map(|_| rng.below(vocab) as u32).collect();
            let soft: Vec<f32> = (0..b * d).map(|_| rng.normal() as f32).collect();
            let want = {
                let ids_t = Tensor::from_vec(ids.clone(), (b, t), &Device::Cpu)?;
                let soft_t = Tensor::from_vec(soft.clone(), (b, d), &Device::Cpu)?;
                model.logits(&ids_t, &soft_t, Mode::Infer)?.flatten_all()?.to_vec1::<f32>()?
            };
            let ids64: Vec<i64> = ids.iter().map(|&x| i64::from(x)).collect();
            let full = session.forward(&ids64, &soft, &session.empty_cache(b)?)?;
            full_worst = full_worst.max(max_abs_diff(&full.logits, &want));
            // The last token through the cache after the rest as a prefix.
            if t >= 2 {
                let take = |from: usize, to: usize| -> Vec<i64> { (0..b).flat_map(|r| ids64[r * t + from..r * t + to].to_vec()).collect() };
                let prefix = session.forward(&take(0, t - 1), &soft, &session.empty_cache(b)?)?;
                let step = session.forward(&take(t - 1, t), &soft, &prefix.cache)?;
                let last: Vec<f32> = (0..b).flat_map(|r| want[(r * (t + 1) + t) * vocab..(r * (t + 1) + t + 1) * vocab].to_vec()).collect();
                cached_worst = cached_worst.max(max_abs_diff(&step.logits, &last));
            }
        }
    }
    Ok(ParityReport {
        max_abs_logit_diff: full_worst,
        max_abs_logit_diff_kv_cache: cached_worst,
        batch_sizes: batches.to_vec(),
        sequence_lengths: lengths,
    })
}

/// Lowest cosine similarity between the `pooled` output of the feature graph
/// at `path` and that of the same `layers` blocks in full precision (written
/// beside it for the comparison), over random sequences, whole and through the
/// KV cache.
pub fn feature_agreement(cfg: &ModelConfig, weights: &HashMap<String, Tensor>, layers: usize, path: &Path) -> anyhow::Result<f32> {
    let scratch = tempfile::tempdir()?;
    let reference_path = scratch.path().join("features-f32.onnx");
    super::write_features_onnx(cfg, weights, layers, false, &reference_path)?;
    let mut graph = OnnxModel::load(path, &SessionOptions::default())?;
    let mut reference = OnnxModel::load(&reference_path, &SessionOptions::default())?;
    let mut rng = SplitMix64::for_purpose(0, "feature agreement");
    let mut worst = 1.0f32;
    for t in [1usize, 17, cfg.context / 2].into_iter().filter(|&t| t >= 1 && t < cfg.context) {
        let ids: Vec<i64> = (0..t).map(|_| rng.below(cfg.vocab_size) as i64).collect();
        let soft: Vec<f32> = (0..cfg.n_embd).map(|_| rng.normal() as f32).collect();
        let a = graph.forward(&ids, &soft, &graph.empty_cache(1)?)?;
        let b = reference.forward(&ids, &soft, &reference.empty_cache(1)?)?;
        worst = worst.min(cosine(&a.pooled, &b.pooled));
        // One more token through each graph's own cache.
        let next = [rng.below(cfg.vocab_size) as i64];
        let a = graph.forward(&next, &soft, &a.cache)?;
        let b = reference.forward(&next, &soft, &b.cache)?;
        worst = worst.min(cosine(&a.pooled, &b.pooled));
    }
    Ok(worst)
}

/// Mean per-token loss of two graphs of the same model through ONNX Runtime, on
/// the first `max_windows` windows of `set` (each window's own student vector as
/// the soft token, padding not counted): `(loss of a, loss of b, windows, tokens)`.
pub fn validation_losses(
    cfg: &ModelConfig,
    weights: &HashMap<String, Tensor>,
    a: &Path,
    b: &Path,
    set: &crate::windows::WindowSet,
    special: (u32, u32),
    max_windows: usize,
) -> anyhow::Result<(f64, f64, usize, usize)> {
    let (pad, mask) = special;
    let vb = VarBuilder::from_tensors(weights.clone(), DType::F32, &Device::Cpu);
    let model = TraceModel::load(vb, cfg)?;
    let mut graphs = [OnnxModel::load(a, &SessionOptions::default())?, OnnxModel::load(b, &SessionOptions::default())?];
    let vocab = cfg.vocab_size;
    let (mut sums, mut tokens, mut windows) = ([0.0f64; 2], 0usize, 0usize);
    for i in 0..set.len().min(max_windows) {
        let t = set.length(i, pad);
        if t < 2 {
            continue;
        }
        let ids = &set.window(i)[..t];
        let rows = Tensor::from_vec(vec![set.rows[i]], 1, &Device::Cpu)?;
        let soft = model.student.soft_token_for_rows(&rows)?.flatten_all()?.to_vec1::<f32>()?;
        // The soft token and the first t-1 tokens predict all t tokens, as in training.
        let inputs: Vec<i64> = ids[..t - 1].iter().map(|&x| i64::from(x)).collect();
        for (g, sum) in graphs.iter_mut().zip(sums.iter_mut()) {
            let out = g.forward(&inputs, &soft, &g.empty_cache(1)?)?;
            anyhow::ensure!(out.logits.len() == t * vocab, "graph returned {} logits for {t} positions", out.logits.len());
            for (pos, &target) in ids.iter().enumerate() {
                if target == pad || target == mask {
                    continue;
                }
                let row = &out.logits[pos * vocab..(pos + 1) * vocab];
                let max = row.iter().copied().fold(f32::NEG_INFINITY, f32::max);
                let log_sum = row.iter().map(|&v| f64::from(v - max).exp()).sum::<f64>().ln() + f64::from(max);
                *sum += log_sum - f64::from(row[target as usize]);
            }
        }
        tokens += ids.iter().filter(|&&x| x != pad && x != mask).count();
        windows += 1;
    }
    anyhow::ensure!(tokens > 0, "no validation tokens to compare the graphs on");
    Ok((sums[0] / tokens as f64, sums[1] / tokens as f64, windows, tokens))
}

/// Cosine similarity of two vectors; negative infinity when their lengths differ.
pub(super) fn cosine(a: &[f32], b: &[f32]) -> f32 {
    if a.len() != b.len() {
        return f32::NEG_INFINITY;
    }
    let dot: f32 = a.iter().zip(b).map(|(x, y)| x * y).sum();
    let norm = |v: &[f32]| v.iter().map(|x| x * x).sum::<f32>().sqrt();
    dot / (norm(a) * norm(b)).max(f32::MIN_POSITIVE)
}

fn max_abs_diff(a: &[f32], b: &[f32]) -> f32 {
    if a.len() != b.len() {
        return f32::INFINITY;
    }
    a.iter().zip(b).map(|(x, y)| (x - y).abs()).fold(0.0, f32::max)
}
