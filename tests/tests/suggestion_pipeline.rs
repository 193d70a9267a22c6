//! The recovery-edit pipeline across crates, on a real corpus trace: a
//! tokenizer trained by the trainer, a tiny model exported to ONNX from Rust,
//! the next-state prompt and seeded sampling through ONNX Runtime, and every
//! candidate judged by the sandbox. The model is untrained (candle's initial
//! weights), so this checks the plumbing and its reproducibility, not quality.

use std::collections::HashMap;
use std::path::Path;

use candle_core::{DType, Device, Tensor};
use candle_nn::{VarBuilder, VarMap};
use pencil_core::corpus::{read_corpus, ReadOptions};
use pencil_core::inference::{next_state_prompt, EditSize, GenerationRequest, Generator, OnnxModel, SamplingParams, SessionOptions};
use pencil_core::model::{Preset, TraceModel, TraceTokenizer};
use pencil_core::text_format;
use pencil_sandbox::{Sandbox, SandboxConfig, Status};

fn corpus() -> Vec<pencil_core::Trace> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared/data/public/trace-model.jsonl.gz");
    read_corpus(&path, ReadOptions::default()).expect("public corpus").traces
}

#[test]
fn corpus_prompt_to_sandbox_verdicts_is_reproducible() {
    let traces = corpus();
    let texts: Vec<String> = traces.iter().take(300).filter_map(|t| text_format::write(t, 4).ok()).collect();
    let tok = TraceTokenizer::from_tokenizer(pencil_trainer::bpe::train_bpe(&texts, 600).expect("BPE trains")).expect("special tokens");

    let cfg = Preset::Tiny.config(tok.vocab_size(), 3);
    let varmap = VarMap::new();
    TraceModel::load(VarBuilder::from_varmap(&varmap, DType::F32, &Device::Cpu), &cfg).expect("model builds");
    let weights: HashMap<String, Tensor> =
        varmap.data().lock().expect("weights").iter().map(|(k, v)| (k.clone(), v.as_tensor().clone())).collect();
    let dir = tempfile::tempdir().expect("tempdir");
    let onnx = dir.path().join("model.onnx");
    pencil_trainer::export::write_onnx(&cfg, &weights, false, &onnx).expect("export");
    let model = OnnxModel::load(&onnx, &SessionOptions::default()).expect("ONNX Runtime loads the exported graph");
    let mut generator = Generator::new(model, tok, cfg.n_positions());

    // A real student's trace, prompted for its next state with a "small edit" time header.
    let trace = traces.iter().find(|t| t.programs.len() >= 3).expect("a multi-state trace");
    let prompt = next_state_prompt(generator.tokenizer(), trace, cfg.title_tokens, EditSize::Small, cfg.context / 2).expect("prompt");
    let soft = vec![0.0f32; cfg.n_embd];
    let request = GenerationRequest {
        prompt: &prompt,
        soft_token: &soft,
        n_samples: 4,
        max_new_tokens: 24,
        sampling: SamplingParams { temperature: 1.0, top_p: 0.9 },
        seed: 11,
    };

    let sandbox = Sandbox::new(SandboxConfig { pool_size: 1, ..SandboxConfig::default() }).expect("sandbox");
    let mut run = || -> Vec<(String, Status, bool)> {
        generator
            .generate(&request)
            .expect("generate")
            .into_iter()
            .map(|s| {
                let v = sandbox.check(&s.text).expect("the sandbox judges every candidate");
                if v.status == Status::Error {
                    assert!(v.error.is_some(), "an error verdict carries its error: {v:?}");
                }
                (s.text, v.status, v.paper_success)
            })
            .collect()
    };
    let first = run();
    assert_eq!(first.len(), 4);
    assert_eq!(first, run(), "same seed, same candidates, same verdicts");
}
