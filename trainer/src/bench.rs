//! Training throughput of a preset on random tokens: tokens/s, model FLOPs
//! utilisation, and where a step's time goes (forward, backward, optimizer).

use std::time::Instant;

use candle_core::{Device, Tensor};
use pencil_core::model::rng::SplitMix64;
use pencil_core::model::{Mode, Preset};
use serde::Serialize;

use crate::optim::{AdamW, AdamWParams};
use crate::train::build_model;

/// What to measure.
#[derive(Debug, Clone)]
pub struct BenchOptions {
    /// Model size.
    pub preset: Preset,
    /// Windows per batch.
    pub batch_size: usize,
    /// Tokens per window (defaults to the preset's context).
    pub context: Option<usize>,
    /// Vocabulary (defaults to the preset's tokenizer size).
    pub vocab: Option<usize>,
    /// Untimed steps first.
    pub warmup_steps: usize,
    /// Timed steps.
    pub steps: usize,
    /// bf16 compute (GPU only).
    pub bf16: bool,
    /// Force the CPU.
    pub cpu: bool,
    /// Peak FLOP/s of the device for MFU (defaults: estimated from the device).
    pub peak_flops: Option<f64>,
}

/// The measurement.
#[derive(Debug, Clone, Serialize)]
pub struct BenchReport {
    /// Preset name.
    pub preset: String,
    /// `cpu` or `cuda`.
    pub device: String,
    /// Compute dtype.
    pub dtype: String,
    /// Parameters.
    pub params: usize,
    /// Batch x context.
    pub batch_size: usize,
    /// Tokens per window.
    pub context: usize,
    /// Vocabulary size.
    pub vocab: usize,
    /// Training tokens per second.
    pub tokens_per_s: f64,
    /// Model FLOPs per second achieved.
    pub model_flops_per_s: f64,
    /// Peak used for MFU.
    pub peak_flops: f64,
    /// Model FLOPs utilisation.
    pub mfu: f64,
    /// Share of step time in the forward pass.
    pub forward_share: f64,
    /// Share of step time in the backward pass.
    pub backward_share: f64,
    /// Share of step time in the optimizer.
    pub optimizer_share: f64,
    /// Mean step time in milliseconds.
    pub step_ms: f64,
}

/// Runs the benchmark.
pub fn bench_train(o: &BenchOptions) -> anyhow::Result<BenchReport> {
    let device = pencil_core::model::device(o.cpu)?;
    let vocab = o.vocab.unwrap_or(o.preset.default_vocab());
    let mut cfg = o.preset.config(vocab, 1000);
    if let Some(c) = o.context {
        cfg.context = c;
    }
    let built = build_model(&cfg, 0, &device, o.bf16)?;
    let vars: Vec<(String, candle_core::Var)> = {
        let data = built.varmap.data().lock().map_err(|_| anyhow::anyhow!("variable map lock poisoned"))?;
        data.iter().map(|(k, v)| (k.clone(), v.clone())).collect()
    };
    let mut opt = AdamW::new(vars, AdamWParams::default())?;
    let (b, t) = (o.batch_size, cfg.context);
    let mut rng = SplitMix64::new(1);
    let ids: Vec<u32> = (0..b * t).map(|_| rng.below(vocab) as u32).collect();
    let rows: Vec<u32> = (0..b).map(|_| rng.below(cfg.n_students + 1) as u32).collect();
    let ids = Tensor::from_vec(ids, (b, t), &device)?;
    let rows = Tensor::from_vec(rows, b, &device)?;
    let w = Tensor::ones((b, t), candle_core::DType::F32, &device)?;
    let (mut fwd, mut bwd, mut upd) = (0.0f64, 0.0f64, 0.0f64);
    for step in 0..o.warmup_steps + o.steps {
        let t0 = Instant::now();
        let loss = built.model.loss(&ids, &rows, &w, Mode::Train)?;
        loss.to_scalar::<f32>()?;
        let t1 = Instant::now();
        let grads = loss.backward()?;
        device.synchronize()?;
        let t2 = Instant::now();
        opt.step(&grads, 1e-4)?;
        device.synchronize()?;
        let t3 = Instant::now();
        if step >= o.warmup_steps {
            fwd += (t1 - t0).as_secs_f64();
            bwd += (t2 - t1).as_secs_f64();
            upd += (t3 - t2).as_secs_f64();
        }
    }
    let total = fwd + bwd + upd;
    let tokens_per_s = (o.steps * b * t) as f64 / total.max(1e-9);
    let model_flops_per_s = tokens_per_s * cfg.train_flops_per_token();
    let peak = o.peak_flops.unwrap_or_else(|| default_peak_flops(&device, o.bf16));
    Ok(BenchReport {
        preset: o.preset.name().to_string(),
        device: if device.is_cuda() { "cuda".into() } else { "cpu".into() },
        dtype: if o.bf16 && device.is_cuda() { "bf16".into() } else { "f32".into() },
        params: cfg.n_params(),
        batch_size: b,
        context: t,
        vocab,
        tokens_per_s,
        model_flops_per_s,
        peak_flops: peak,
        mfu: model_flops_per_s / peak,
        forward_share: fwd / total,
        backward_share: bwd / total,
        optimizer_share: upd / total,
        step_ms: 1000.0 * total / o.steps.max(1) as f64,
    })
}

/// Peak FLOP/s: H100 SXM dense bf16 989 T (f32 via TF32 495 T) on CUDA; on a
/// CPU, cores x 3 GHz x 32 f32 FLOPs per cycle (two AVX2 FMA units).
fn default_peak_flops(device: &Device, bf16: bool) -> f64 {
    if device.is_cuda() {
        return if bf16 { 989e12 } else { 495e12 };
    }
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    cores as f64 * 3.0e9 * 32.0
}
