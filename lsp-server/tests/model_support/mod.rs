//! A tiny model directory as `pencil-trainer export` writes it, whose weights are
//! scripted (after `trainer/tests/export_support`): the transformer blocks add
//! nothing and each position's embedding points at one chosen token, so from a
//! known prompt length on the model writes a known program. With a tokenizer that
//! never merges digits, every timestamp costs the same number of tokens, so the
//! prompt's length does not depend on the clock.

#![allow(dead_code)]

use candle_core::{DType, Device, Tensor};
use candle_nn::{VarBuilder, VarMap};
use pencil_core::inference::manifest::{FileEntry, Manifest};
use pencil_core::inference::probe::LinearHead;
use pencil_core::inference::{Probe, PROBE_FILE};
use pencil_core::model::rng::SplitMix64;
use pencil_core::model::{ModelConfig, Preset, TraceModel, TraceTokenizer};
use std::collections::HashMap;
use std::path::Path;

/// A byte-level BPE trained on digit-free turtle programs (digits stay one token each).
pub fn digitless_tokenizer() -> TraceTokenizer {
    let programs = ["pen red\nfd\nrt\n", "dot blue\nbk\nlt\n", "pen green\nfd\nspeed\n", "write 'hi'\nmoveto\n"];
    let texts: Vec<String> = (0..40)
        .map(|i| format!("snowman<mask><start>CODE (time):\n{}CODE (time):\n{}<|endoftext|>", programs[i % 4], programs[(i + 1) % 4]))
        .collect();
    let tok = pencil_trainer::bpe::train_bpe(&texts, 300).expect("BPE trains");
    TraceTokenizer::from_tokenizer(tok).expect("special tokens present")
}

/// Every weight random (normal; LayerNorm gains around 1).
fn random_weights(cfg: &ModelConfig, seed: u64) -> HashMap<String, Tensor> {
    let varmap = VarMap::new();
    TraceModel::load(VarBuilder::from_varmap(&varmap, DType::F32, &Device::Cpu), cfg).expect("model builds");
    let shapes: Vec<(String, Vec<usize>)> =
        varmap.data().lock().expect("lock").iter().map(|(k, v)| (k.clone(), v.dims().to_vec())).collect();
    let mut rng = SplitMix64::new(seed);
    let mut shapes = shapes;
    shapes.sort();
    shapes
        .into_iter()
        .map(|(name, dims)| {
            let n: usize = dims.iter().product();
            let base = if name.contains("ln_") && name.ends_with("weight") { 1.0 } else { 0.0 };
            let std = if name.starts_with("wte") || name.starts_with("wpe") { 0.5 } else { 0.1 };
            let v: Vec<f32> = (0..n).map(|_| (base + rng.normal() * std) as f32).collect();
            (name, Tensor::from_vec(v, dims, &Device::Cpu).expect("tensor"))
        })
        .collect()
}

/// Weights whose output at text position `start + k` is `script[k]`.
fn scripted_weights(cfg: &ModelConfig, start: usize, script: &[u32]) -> HashMap<String, Tensor> {
    let mut w = random_weights(cfg, 99);
    let d = cfg.n_embd;
    let wte = w["wte.weight"].flatten_all().and_then(|t| t.to_vec1::<f32>()).expect("wte");
    let mut wpe = w["wpe.weight"].flatten_all().and_then(|t| t.to_vec1::<f32>()).expect("wpe");
    for (k, &tok) in script.iter().enumerate() {
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

/// Exports a tiny model directory into `out` whose text from position `start`
/// on is `script`, through `pencil_trainer::export::export_run` (a run directory
/// written the way `pencil-trainer train` writes one). With `risk_bias`, a probe
/// whose risk is `sigmoid(risk_bias)` for every prefix is added and listed in the
/// manifest, as a real export with a probe is.
pub fn export_scripted_model(root: &Path, out: &Path, tok: &TraceTokenizer, start: usize, script: &[u32], risk_bias: Option<f32>) -> ModelConfig {
    let cfg = Preset::Tiny.config(tok.vocab_size(), 3);
    let run = root.join("run");
    std::fs::create_dir_all(&run).expect("mkdir");
    tok.inner().save(run.join("tokenizer.json"), false).expect("save tokenizer");
    std::fs::write(run.join("config.json"), serde_json::to_string(&cfg).expect("json")).expect("write");
    candle_core::safetensors::save(&scripted_weights(&cfg, start, script), run.join("model.safetensors")).expect("save weights");
    std::fs::write(run.join("students.json"), serde_json::json!({ "students": ["a", "b", "c"] }).to_string()).expect("write");
    let opts = pencil_trainer::export::ExportOptions {
        run_dir: run,
        out: out.to_path_buf(),
        command: "lsp-server test".into(),
        ..Default::default()
    };
    pencil_trainer::export::export_run(&opts, &indicatif::ProgressBar::hidden()).expect("export");
    if let Some(bias) = risk_bias {
        let d = cfg.n_embd;
        let head = |b: f32| LinearHead { weight: vec![0.0; d], bias: b };
        let probe = Probe {
            mean: vec![0.0; d],
            scale: vec![1.0; d],
            risk: head(bias),
            attempts: head(1.0),
            remaining: head(2.0),
            threshold: 0.5,
            hint_threshold: 0.5,
        };
        probe.save(&out.join(PROBE_FILE)).expect("save probe");
        let mut manifest = Manifest::read(out).expect("manifest");
        manifest.files.insert(PROBE_FILE.to_string(), FileEntry::of(&out.join(PROBE_FILE)).expect("hash"));
        manifest.write(out).expect("write manifest");
    }
    cfg
}
