//! Parity: the exported graph under ONNX Runtime computes what the candle
//! model computes, with and without a KV cache.

use std::collections::HashMap;

use candle_core::{DType, Device, Tensor};
use candle_nn::{VarBuilder, VarMap};
use pencil_core::inference::{OnnxModel, SessionOptions};
use pencil_core::model::rng::SplitMix64;
use pencil_core::model::{init_weights, Mode, ModelConfig, Preset, TraceModel};

const TOLERANCE: f32 = 1e-3;

/// A tiny model whose every weight is random (biases and LayerNorm gains
/// too, so that no term of the graph can hide behind a zero or a one).
pub(crate) fn random_tiny(seed: u64, vocab: usize) -> (ModelConfig, TraceModel, HashMap<String, Tensor>) {
    let cfg = Preset::Tiny.config(vocab, 3);
    let varmap = VarMap::new();
    let vb = VarBuilder::from_varmap(&varmap, DType::F32, &Device::Cpu);
    let model = TraceModel::load(vb, &cfg).expect("tiny model builds");
    init_weights(&varmap, &cfg, seed).expect("init");
    let mut rng = SplitMix64::for_purpose(seed, "parity");
    let mut weights = HashMap::new();
    {
        let data = varmap.data().lock().expect("varmap lock");
        let mut names: Vec<&String> = data.keys().collect();
        names.sort();
        for name in names {
            let var = &data[name];
            let n = var.elem_count();
            let base = if name.contains("ln_") && name.ends_with("weight") { 1.0 } else { 0.0 };
            let std = if name.starts_with("wte") || name.starts_with("wpe") { 0.5 } else { 0.1 };
            let values: Vec<f32> = (0..n).map(|_| (base + rng.normal() * std) as f32).collect();
            let t = Tensor::from_vec(values, var.shape(), &Device::Cpu).expect("tensor");
            var.set(&t).expect("set");
            weights.insert(name.clone(), t);
        }
    }
    (cfg, model, weights)
}

fn random_ids(rng: &mut SplitMix64, b: usize, t: usize, vocab: usize) -> Vec<u32> {
    (0..b * t).map(|_| rng.below(vocab) as u32).collect()
}

fn max_abs_diff(a: &[f32], b: &[f32]) -> f32 {
    assert_eq!(a.len(), b.len());
    a.iter().zip(b).map(|(x, y)| (x - y).abs()).fold(0.0, f32::max)
}

/// candle's logits `[b, t+1, vocab]` and hidden states for ids `[b, t]`.
fn candle_forward(model: &TraceModel, ids: &[u32], b: usize, soft: &[f32]) -> (Vec<f32>, Vec<f32>) {
    let d = model.config().n_embd;
    let ids = Tensor::from_vec(ids.to_vec(), (b, ids.len() / b), &Device::Cpu).expect("ids");
    let soft = Tensor::from_vec(soft.to_vec(), (b, d), &Device::Cpu).expect("soft");
    let h = model.hidden(&ids, &soft, Mode::Infer).expect("hidden");
    let logits = model.logits_of_hidden(&h).expect("logits");
    let flat = |t: Tensor| t.flatten_all().and_then(|t| t.to_vec1::<f32>()).expect("to vec");
    (flat(logits), flat(h))
}

/// Rows `from..to` of every batch entry of a `[b, t, w]` tensor.
fn positions(x: &[f32], b: usize, t: usize, w: usize, from: usize, to: usize) -> Vec<f32> {
    (0..b).flat_map(|r| x[(r * t + from) * w..(r * t + to) * w].iter().copied()).collect()
}

#[test]
fn ort_matches_candle_with_and_without_kv_cache() {
    let vocab = 300;
    let (cfg, model, weights) = random_tiny(11, vocab);
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("model.onnx");
    super::write_onnx(&cfg, &weights, false, &path).expect("export");
    let mut onnx = OnnxModel::load(&path, &SessionOptions::default()).expect("ort loads the export");
    let dims = onnx.dims();
    assert_eq!((dims.n_layer, dims.n_head, dims.n_embd, dims.vocab_size), (cfg.n_layer, cfg.n_head, cfg.n_embd, vocab));

    let d = cfg.n_embd;
    let mut rng = SplitMix64::new(5);
    let mut worst = 0.0f32;
    for &b in &[1usize, 3, 8] {
        for &t in &[1usize, 7, 40, cfg.context] {
            let ids = random_ids(&mut rng, b, t, vocab);
            let soft: Vec<f32> = (0..b * d).map(|_| rng.normal() as f32).collect();
            let (want, hidden) = candle_forward(&model, &ids, b, &soft);
            let ids64: Vec<i64> = ids.iter().map(|&x| i64::from(x)).collect();

            // Whole sequence, no past.
            let full = onnx.forward(&ids64, &soft, &onnx.empty_cache(b).expect("cache")).expect("ort forward");
            assert_eq!(full.positions, t + 1);
            let diff = max_abs_diff(&full.logits, &want);
            assert!(diff < TOLERANCE, "b={b} t={t}: full-sequence logits differ by {diff}");
            worst = worst.max(diff);
            let mean: Vec<f32> = (0..b)
                .flat_map(|r| {
                    let h = &hidden;
                    (0..d).map(move |c| (0..=t).map(|p| h[(r * (t + 1) + p) * d + c]).sum::<f32>() / (t + 1) as f32)
                })
                .collect();
            let pooled_diff = max_abs_diff(&full.pooled, &mean);
            assert!(pooled_diff < TOLERANCE, "b={b} t={t}: pooled differs by {pooled_diff}");

            // A prefix, then the rest in steps of 1 and 3 tokens through the KV cache.
            if t >= 4 {
                let split = t / 2;
                let take = |from: usize, to: usize| -> Vec<i64> {
                    (0..b).flat_map(|r| ids64[r * t + from..r * t + to].iter().copied()).collect()
                };
                let mut step = onnx.forward(&take(0, split), &soft, &onnx.empty_cache(b).expect("cache")).expect("prefix");
                let mut done = split;
                let mut checked = positions(&want, b, t + 1, vocab, 0, split + 1);
                let diff = max_abs_diff(&step.logits, &checked);
                assert!(diff < TOLERANCE, "b={b} t={t}: prefix logits differ by {diff}");
                let mut chunk = 1;
                while done < t {
                    let end = (done + chunk).min(t);
                    step = onnx.forward(&take(done, end), &soft, &step.cache).expect("cached step");
                    assert_eq!(step.cache.len(), end + 1);
                    // Step logits at text positions done+1..=end (position 0 is the soft token).
                    checked = positions(&want, b, t + 1, vocab, done + 1, end + 1);
                    let diff = max_abs_diff(&step.logits, &checked);
                    assert!(diff < TOLERANCE, "b={b} t={t}: cached logits {done}..{end} differ by {diff}");
                    worst = worst.max(diff);
                    done = end;
                    chunk = if chunk == 1 { 3 } else { 1 };
                }
            }
        }
    }
    eprintln!("parity: worst |logit difference| candle vs ort = {worst:e}");
}

#[test]
fn repeated_cache_continues_each_row_like_the_original() {
    let vocab = 200;
    let (cfg, model, weights) = random_tiny(3, vocab);
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("model.onnx");
    super::write_onnx(&cfg, &weights, false, &path).expect("export");
    let mut onnx = OnnxModel::load(&path, &SessionOptions::default()).expect("load");
    let mut rng = SplitMix64::new(8);
    let prompt = random_ids(&mut rng, 1, 12, vocab);
    let soft: Vec<f32> = (0..cfg.n_embd).map(|_| rng.normal() as f32).collect();
    let p64: Vec<i64> = prompt.iter().map(|&x| i64::from(x)).collect();
    let first = onnx.forward(&p64, &soft, &onnx.empty_cache(1).expect("cache")).expect("prompt");
    let cache = onnx.repeat_cache(&first.cache, 4).expect("repeat");
    let next: Vec<i64> = vec![5, 6, 7, 8];
    let soft4: Vec<f32> = (0..4).flat_map(|_| soft.iter().copied()).collect();
    let step = onnx.forward(&next, &soft4, &cache).expect("step");
    for (r, &tok) in next.iter().enumerate() {
        let mut ids = prompt.clone();
        ids.push(tok as u32);
        let (want, _) = candle_forward(&model, &ids, 1, &soft);
        let last = &want[(ids.len()) * vocab..];
        let diff = max_abs_diff(step.last_logits(r, vocab), last);
        assert!(diff < TOLERANCE, "row {r}: {diff}");
    }
}

/// candle's mean hidden state over the first `layers` blocks: the model of the
/// same weights configured with fewer blocks (later blocks' weights unused).
fn candle_pooled(cfg: &ModelConfig, weights: &HashMap<String, Tensor>, layers: usize, ids: &[u32], soft: &[f32]) -> Vec<f32> {
    let cut = ModelConfig { n_layer: layers, ..cfg.clone() };
    let vb = VarBuilder::from_tensors(weights.clone(), DType::F32, &Device::Cpu);
    let model = TraceModel::load(vb, &cut).expect("cut model builds");
    let (_, hidden) = candle_forward(&model, ids, 1, soft);
    let (d, n) = (cfg.n_embd, ids.len() + 1);
    (0..d).map(|c| (0..n).map(|p| hidden[p * d + c]).sum::<f32>() / n as f32).collect()
}

#[test]
fn feature_graph_pools_the_first_blocks_and_int8_stays_close() {
    let vocab = 300;
    let (cfg, _, weights) = random_tiny(13, vocab);
    assert!(cfg.n_layer >= 2, "the tiny preset must have blocks to cut");
    let dir = tempfile::tempdir().expect("tempdir");
    let mut rng = SplitMix64::new(21);
    let d = cfg.n_embd;
    for layers in [1, cfg.n_layer] {
        let f32_path = dir.path().join(format!("f32-{layers}.onnx"));
        let int8_path = dir.path().join(format!("int8-{layers}.onnx"));
        super::write_features_onnx(&cfg, &weights, layers, false, &f32_path).expect("export f32");
        super::write_features_onnx(&cfg, &weights, layers, true, &int8_path).expect("export int8");
        let mut exact = OnnxModel::load(&f32_path, &SessionOptions::default()).expect("ort loads the f32 feature graph");
        let mut int8 = OnnxModel::load(&int8_path, &SessionOptions::default()).expect("ort loads the int8 feature graph");
        assert_eq!((exact.dims().n_layer, exact.dims().vocab_size), (layers, 0), "a feature graph has its blocks and no logits");
        for t in [1usize, 9, 60] {
            let ids = random_ids(&mut rng, 1, t, vocab);
            let soft: Vec<f32> = (0..d).map(|_| rng.normal() as f32).collect();
            let want = candle_pooled(&cfg, &weights, layers, &ids, &soft);
            let ids64: Vec<i64> = ids.iter().map(|&x| i64::from(x)).collect();
            let got = exact.forward(&ids64, &soft, &exact.empty_cache(1).expect("cache")).expect("forward");
            assert!(got.logits.is_empty());
            let diff = max_abs_diff(&got.pooled, &want);
            assert!(diff < TOLERANCE, "{layers} blocks, t={t}: f32 pooled differs from candle by {diff}");
            let q = int8.forward(&ids64, &soft, &int8.empty_cache(1).expect("cache")).expect("int8 forward");
            let cos = super::parity::cosine(&q.pooled, &want);
            assert!(cos > 0.99, "{layers} blocks, t={t}: int8 cosine {cos}");
            assert!(max_abs_diff(&q.pooled, &want) > 0.0, "int8 should not be bit-identical to f32");

            // Through the cache the int8 graph gives the same features as one
            // pass: activations are quantized per position.
            if t >= 4 {
                let split = t / 2;
                let first = int8.forward(&ids64[..split], &soft, &int8.empty_cache(1).expect("cache")).expect("prefix");
                let rest = int8.forward(&ids64[split..], &soft, &first.cache).expect("rest");
                let (n1, n2) = (first.positions as f32, rest.positions as f32);
                let mean: Vec<f32> = first.pooled.iter().zip(&rest.pooled).map(|(a, b)| (a * n1 + b * n2) / (n1 + n2)).collect();
                let diff = max_abs_diff(&mean, &q.pooled);
                assert!(diff < 1e-4, "{layers} blocks, t={t}: cached int8 features differ from one pass by {diff}");
            }
        }
    }
    let path = dir.path().join(format!("int8-{}.onnx", cfg.n_layer));
    let agreement = super::parity::feature_agreement(&cfg, &weights, cfg.n_layer, &path).expect("agreement");
    assert!(agreement > 0.99 && agreement <= 1.0 + 1e-6, "{agreement}");
    assert!(super::onnx_graph::build_features_model(&cfg, &weights, 0, true).is_err());
    assert!(super::onnx_graph::build_features_model(&cfg, &weights, cfg.n_layer + 1, true).is_err());
}
