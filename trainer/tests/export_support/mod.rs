//! Shared by the export tests: a small real tokenizer and tiny models with
//! random or scripted weights (no training needed).

#![allow(dead_code)]

use std::collections::HashMap;

use candle_core::{DType, Device, Tensor};
use candle_nn::{VarBuilder, VarMap};
use pencil_core::model::rng::SplitMix64;
use pencil_core::model::{ModelConfig, Preset, TraceModel, TraceTokenizer};

/// A byte-level BPE trained on a few turtle programs and headers.
pub fn tiny_tokenizer() -> TraceTokenizer {
    let mut texts = Vec::new();
    for i in 0..40 {
        texts.push(format!(
            "snowman<mask><mask><start>CODE {i} (2019-05-09 16:18:{:02}):\npen red\nfd {}\nrt 90\ndot blue, 30\n<|endoftext|>",
            i % 60,
            10 * i
        ));
    }
    let tok = pencil_trainer::bpe::train_bpe(&texts, 400).expect("BPE trains");
    TraceTokenizer::from_tokenizer(tok).expect("special tokens present")
}

/// Names and shapes of every weight of a model of `cfg`, as candle builds it.
fn weight_shapes(cfg: &ModelConfig) -> Vec<(String, Vec<usize>)> {
    let varmap = VarMap::new();
    let vb = VarBuilder::from_varmap(&varmap, DType::F32, &Device::Cpu);
    TraceModel::load(vb, cfg).expect("model builds");
    let data = varmap.data().lock().expect("lock");
    let mut out: Vec<(String, Vec<usize>)> = data.iter().map(|(k, v)| (k.clone(), v.dims().to_vec())).collect();
    out.sort();
    out
}

/// The tiny preset for a vocabulary and 3 students.
pub fn tiny_config(vocab: usize) -> ModelConfig {
    Preset::Tiny.config(vocab, 3)
}

/// Every weight random (normal; LayerNorm gains around 1).
pub fn random_weights(cfg: &ModelConfig, seed: u64) -> HashMap<String, Tensor> {
    let mut rng = SplitMix64::new(seed);
    weight_shapes(cfg)
        .into_iter()
        .map(|(name, dims)| {
            let n: usize = dims.iter().product();
            let base = if name.contains("ln_") && name.ends_with("weight") { 1.0 } else { 0.0 };
            let std = if name.starts_with("wte") || name.starts_with("wpe") { 0.5 } else { 0.1 };
            let v: Vec<f32> = (0..n).map(|_| (base + rng.normal() * std) as f32).collect();
            let t = Tensor::from_vec(v, dims, &Device::Cpu).expect("tensor");
            (name, t)
        })
        .collect()
}

/// Weights whose greedy output is `script[k]` at text position `start + k`:
/// the blocks add nothing (zero output projections) and each position's
/// embedding is a large multiple of the scripted token's embedding, so the
/// final LayerNorm sees (almost) only that token's direction.
pub fn scripted_weights(cfg: &ModelConfig, start: usize, script: &[u32]) -> HashMap<String, Tensor> {
    let mut w = random_weights(cfg, 99);
    let d = cfg.n_embd;
    let wte = w["wte.weight"].flatten_all().and_then(|t| t.to_vec1::<f32>()).expect("wte");
    let mut wpe = w["wpe.weight"].flatten_all().and_then(|t| t.to_vec1::<f32>()).expect("wpe");
    for (k, &tok) in script.iter().enumerate() {
        // Hidden position p predicts text token p, and position start + k predicts script[k].
        let p = start + k;
        for c in 0..d {
            wpe[p * d + c] = 100.0 * wte[tok as usize * d + c];
        }
    }
    w.insert("wpe.weight".into(), Tensor::from_vec(wpe, (cfg.n_positions(), d), &Device::Cpu).expect("wpe"));
    for (name, t) in w.iter_mut() {
        if name.ends_with("c_proj.weight") || name.ends_with("c_proj.bias") {
            *t = t.zeros_like().expect("zeros");
        }
        if name == "ln_f.weight" {
            *t = t.ones_like().expect("ones");
        }
        if name == "ln_f.bias" {
            *t = t.zeros_like().expect("zeros");
        }
    }
    w
}
