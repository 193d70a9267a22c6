//! Generation in Rust from an exported model (ort): deterministic under a
//! seed, batched, and stopping where the paper's stop rules say.

mod export_support;

use export_support::{random_weights, scripted_weights, tiny_config, tiny_tokenizer};
use pencil_core::inference::{
    continuation_log_probs, next_state_header, EditSize, GenerationRequest, Generator, OnnxModel, SamplingParams, SessionOptions, StopReason,
};
use pencil_core::model::TraceTokenizer;
use pencil_trainer::export::write_onnx;

fn generator(weights_for: impl FnOnce(&pencil_core::model::ModelConfig) -> std::collections::HashMap<String, candle_core::Tensor>) -> (Generator, tempfile::TempDir) {
    let tok = tiny_tokenizer();
    let cfg = tiny_config(tok.vocab_size());
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("model.onnx");
    write_onnx(&cfg, &weights_for(&cfg), false, &path).expect("export");
    let model = OnnxModel::load(&path, &SessionOptions::default()).expect("load");
    (Generator::new(model, tok, cfg.n_positions()), dir)
}

fn prompt(tok: &TraceTokenizer) -> Vec<u32> {
    let mut ids = tok.title_region("snowman", 16, false).expect("title");
    let header = next_state_header(1, "2019-05-09 16:18:58", EditSize::Small).expect("header");
    ids.extend(tok.encode(&header).expect("encode"));
    ids
}

fn request<'a>(prompt: &'a [u32], soft: &'a [f32], n: usize, seed: u64) -> GenerationRequest<'a> {
    GenerationRequest {
        prompt,
        soft_token: soft,
        n_samples: n,
        max_new_tokens: 24,
        sampling: SamplingParams { temperature: 1.0, top_p: 0.9 },
        seed,
    }
}

#[test]
fn same_seed_same_samples_and_text_matches_ids() {
    let (mut g, _dir) = generator(|cfg| random_weights(cfg, 7));
    let p = prompt(g.tokenizer());
    let soft = vec![0.25f32; g.model().dims().n_embd];
    let a = g.generate(&request(&p, &soft, 4, 42)).expect("generate");
    let b = g.generate(&request(&p, &soft, 4, 42)).expect("generate");
    let c = g.generate(&request(&p, &soft, 4, 43)).expect("generate");
    assert_eq!(a, b, "same seed must give the same samples");
    assert_ne!(a, c, "another seed should give other samples");
    assert_eq!(a.len(), 4);
    assert!(a.iter().any(|s| s.ids != a[0].ids), "rows of one batch should differ");
    for s in &a {
        assert_eq!(g.tokenizer().decode(&s.ids).expect("decode"), s.text);
        assert!(s.ids.len() <= 24);
    }
    // Batch 1 with the same seed reproduces itself too.
    let one = g.generate(&request(&p, &soft, 1, 5)).expect("generate");
    assert_eq!(one, g.generate(&request(&p, &soft, 1, 5)).expect("generate"));
}

#[test]
fn stops_at_the_next_header_and_at_end_of_text() {
    let tok = tiny_tokenizer();
    let p = prompt(&tok);
    // The scripted model writes a program, then the next state's header.
    let body = tok.encode("pen red\nfd 100\n").expect("encode");
    let header = tok.encode("CODE 2 (2019-05-09").expect("encode");
    let script: Vec<u32> = body.iter().chain(&header).copied().collect();
    let (mut g, _dir) = generator(|cfg| scripted_weights(cfg, p.len(), &script));
    let soft = vec![0.0f32; g.model().dims().n_embd];
    let greedy = |n| GenerationRequest { sampling: SamplingParams { temperature: 0.0, top_p: 0.9 }, max_new_tokens: 40, ..request(&p, &soft, n, 1) };
    let out = g.generate(&greedy(3)).expect("generate");
    for s in &out {
        assert_eq!(s.stop, StopReason::NextHeader);
        assert_eq!(s.text, "pen red\nfd 100\n");
        assert_eq!(s.ids, body);
    }

    // Program then <|endoftext|>.
    let eot = tok.special.end_of_text;
    let script: Vec<u32> = body.iter().copied().chain([eot]).collect();
    let (mut g, _dir) = generator(|cfg| scripted_weights(cfg, p.len(), &script));
    let out = g.generate(&greedy(2)).expect("generate");
    for s in &out {
        assert_eq!(s.stop, StopReason::EndOfText);
        assert_eq!(s.text, "pen red\nfd 100\n");
    }

    // Token budget, then the context window.
    let short = GenerationRequest { max_new_tokens: 3, ..greedy(1) };
    let out = g.generate(&short).expect("generate");
    assert_eq!((out[0].stop, out[0].ids.len()), (StopReason::MaxTokens, 3));
}

#[test]
fn context_limit_and_bad_requests() {
    let (mut g, _dir) = generator(|cfg| random_weights(cfg, 1));
    let n_pos = g.n_positions();
    let soft = vec![0.0f32; g.model().dims().n_embd];
    let long: Vec<u32> = (0..n_pos as u32 - 4).map(|i| 10 + i % 50).collect();
    let req = GenerationRequest { max_new_tokens: 100, sampling: SamplingParams { temperature: 0.0, top_p: 1.0 }, ..request(&long, &soft, 2, 0) };
    let out = g.generate(&req).expect("generate");
    for s in &out {
        // Stop rules may end a row early; otherwise the window ends it.
        assert!(s.stop != StopReason::MaxTokens, "{:?}", s.stop);
        assert!(long.len() + s.ids.len() < n_pos + 1);
    }
    let too_long: Vec<u32> = vec![10; n_pos];
    assert!(g.generate(&request(&too_long, &soft, 1, 0)).is_err());
    assert!(g.generate(&request(&long, &soft[1..], 1, 0)).is_err());
}

#[test]
fn next_state_prompt_matches_the_training_text_and_keeps_the_tail() {
    use pencil_core::inference::next_state_prompt;
    use pencil_core::{ProgramState, Provenance, Trace};
    let tok = tiny_tokenizer();
    let trace = Trace {
        student: "s".into(),
        title: "snowman".into(),
        programs: vec![
            ProgramState { n: 1, time: "2019-05-09 16:18:50".into(), code: "pen red\n".into() },
            ProgramState { n: 2, time: "2019-05-09 16:18:59".into(), code: "pen red\nfd 100\n".into() },
        ],
        eos: false,
        provenance: Provenance::default(),
    };
    let ids = next_state_prompt(&tok, &trace, 16, EditSize::Large, 1000).expect("prompt");
    let text = tok.decode(&ids).expect("decode");
    assert!(text.starts_with("snowman<mask>"), "{text}");
    assert!(
        text.ends_with("<start>CODE 1 (2019-05-09 16:18:50):\npen red\nCODE 2 (2019-05-09 16:18:59):\npen red\nfd 100\nCODE 3 (2019-05-09 16:19:59):\n"),
        "{text}"
    );
    let short = next_state_prompt(&tok, &trace, 16, EditSize::Large, 10).expect("prompt");
    assert_eq!(short, ids[ids.len() - 10..]);
    let empty = Trace { programs: Vec::new(), ..trace };
    assert!(next_state_prompt(&tok, &empty, 16, EditSize::Small, 100).is_err());
}

/// The log-probability of a token sequence computed the plain way: the whole
/// sequence in one forward from an empty cache (position k predicts token k).
fn plain_log_prob(model: &mut OnnxModel, ids: &[u32], soft: &[f32], from: usize) -> f64 {
    let vocab = model.dims().vocab_size;
    let fed: Vec<i64> = ids[..ids.len() - 1].iter().map(|&t| i64::from(t)).collect();
    let out = model.forward(&fed, soft, &model.empty_cache(1).expect("cache")).expect("forward");
    (from..ids.len())
        .map(|k| {
            let logits = &out.logits[k * vocab..(k + 1) * vocab];
            let max = logits.iter().copied().fold(f32::NEG_INFINITY, f32::max);
            let lse = f64::from(max) + logits.iter().map(|&x| f64::from(x - max).exp()).sum::<f64>().ln();
            f64::from(logits[ids[k] as usize]) - lse
        })
        .sum()
}

#[test]
fn continuation_log_probs_match_each_text_read_whole() {
    let (mut g, _dir) = generator(|cfg| random_weights(cfg, 11));
    let p = prompt(g.tokenizer());
    let soft = vec![0.1f32; g.model().dims().n_embd];
    let texts = ["pen red\nfd 100\n", "pen red\nfd 10\n", "pen blue\nrt 90\nfd 50\n", "pen red\n"];
    let sequences: Vec<Vec<u32>> =
        texts.iter().map(|t| p.iter().copied().chain(g.tokenizer().encode(t).expect("encode")).collect()).collect();
    let n_positions = g.n_positions();
    let scores = continuation_log_probs(g.model(), n_positions, &sequences, &soft).expect("scores");
    let shared = sequences.iter().map(|s| s.iter().zip(&sequences[0]).take_while(|(a, b)| a == b).count()).min().expect("texts");
    assert!(shared >= p.len() && shared < sequences[3].len(), "{shared}");
    for (s, score) in sequences.iter().zip(&scores) {
        let plain = plain_log_prob(g.model(), s, &soft, shared);
        assert!((plain - score).abs() < 1e-3, "{plain} vs {score}");
        assert!(*score < 0.0);
    }
    // One text alone: its beginning is all shared, so nothing is left to score.
    assert_eq!(continuation_log_probs(g.model(), n_positions, &sequences[..1], &soft).expect("one"), vec![0.0]);
    // A text longer than the context is refused, not cut.
    let long: Vec<u32> = std::iter::repeat_n(sequences[0][0], n_positions).collect();
    assert!(continuation_log_probs(g.model(), n_positions, &[long], &soft).is_err());
}
