//! `pencil-trainer bench-generate`: generation throughput of an exported
//! model under ONNX Runtime on this machine, with the KV cache, at several
//! batch sizes; also the model directory's size and load time.

use std::path::PathBuf;
use std::time::Instant;

use pencil_core::inference::sampling::sample;
use pencil_core::inference::{next_state_header, EditSize, GenerationRequest, ModelDir, SamplingParams, SessionOptions};
use pencil_core::model::rng::SplitMix64;
use serde::Serialize;

use super::progress::bar;

/// Arguments.
#[derive(clap::Args)]
pub struct Args {
    /// Model directory (from `pencil-trainer export`).
    #[arg(long)]
    model: PathBuf,
    /// Batch sizes to measure.
    #[arg(long, value_delimiter = ',', default_value = "1,8")]
    batch: Vec<usize>,
    /// Tokens generated per row in each timed run.
    #[arg(long, default_value_t = 128)]
    tokens: usize,
    /// Timed runs per batch size (the median is reported).
    #[arg(long, default_value_t = 3)]
    runs: usize,
    /// ONNX Runtime intra-op threads (default: its own choice).
    #[arg(long)]
    threads: Option<usize>,
    /// Let ONNX Runtime's idle workers spin-wait.
    #[arg(long)]
    spin: bool,
    /// Also print this many sampled next states of the benchmark prompt (stderr), as a sanity check.
    #[arg(long, default_value_t = 0)]
    show: usize,
}

#[derive(Serialize)]
struct BatchReport {
    batch: usize,
    prompt_tokens: usize,
    prefill_ms: f64,
    new_tokens_per_row: usize,
    decode_tokens_per_s: f64,
    ms_per_step: f64,
    /// Of which nucleus sampling (all rows), the rest being ort.
    sampling_ms_per_step: f64,
}

#[derive(Serialize)]
struct Report {
    model: String,
    preset: String,
    files_bytes: u64,
    load_ms: f64,
    threads: Option<usize>,
    spin: bool,
    cpus: usize,
    results: Vec<BatchReport>,
}

/// Runs the subcommand.
pub fn run(a: Args) -> anyhow::Result<()> {
    let options = SessionOptions { intra_threads: a.threads, spin: a.spin, ..Default::default() };
    let t0 = Instant::now();
    let mut dir = ModelDir::open(&a.model, &options)?;
    let load_ms = t0.elapsed().as_secs_f64() * 1e3;
    let soft = dir.students.soft_token(&dir.students.strong_vector()?)?;
    let tok = dir.generator.tokenizer();
    let mut prompt = tok.title_region("snowman", dir.manifest.config.title_tokens, false)?;
    let header = next_state_header(1, "2019-05-09 16:18:59", EditSize::Small).unwrap_or_default();
    prompt.extend(tok.encode(&format!("{header}pen red\nfd 100\nrt 90\n"))?);
    let n_positions = dir.manifest.config.n_positions();
    let steps = a.tokens.min(n_positions.saturating_sub(prompt.len() + 1));
    anyhow::ensure!(steps > 0, "the context is too short for a benchmark");
    let vocab = dir.generator.model().dims().vocab_size;
    let params = SamplingParams::default();
    let prompt64: Vec<i64> = prompt.iter().map(|&t| i64::from(t)).collect();

    let pb = bar((a.batch.len() * (a.runs + 1)) as u64, "bench-generate");
    let mut results = Vec::new();
    for &b in &a.batch {
        let mut prefill = Vec::new();
        let mut decode = Vec::new();
        let mut sampling = Vec::new();
        // One untimed run first (allocations, ort's first-run work).
        for run in 0..=a.runs {
            let model = dir.generator.model();
            let soft_b: Vec<f32> = (0..b).flat_map(|_| soft.iter().copied()).collect();
            let rows: Vec<i64> = (0..b).flat_map(|_| prompt64.iter().copied()).collect();
            let mut rng = SplitMix64::new(run as u64);
            let t = Instant::now();
            let mut step = model.forward(&rows, &soft_b, &model.empty_cache(b)?)?;
            let t_prefill = t.elapsed().as_secs_f64();
            let t = Instant::now();
            let mut t_sampling = 0.0;
            for _ in 0..steps {
                let ts = Instant::now();
                let next: Vec<i64> = (0..b).map(|r| i64::from(sample(step.last_logits(r, vocab), params, &mut rng))).collect();
                t_sampling += ts.elapsed().as_secs_f64();
                step = model.forward(&next, &soft_b, &step.cache)?;
            }
            let t_decode = t.elapsed().as_secs_f64();
            if run > 0 {
                prefill.push(t_prefill);
                decode.push(t_decode);
                sampling.push(t_sampling);
            }
            pb.inc(1);
        }
        let (p, d) = (median(&mut prefill), median(&mut decode));
        results.push(BatchReport {
            batch: b,
            prompt_tokens: prompt.len(),
            prefill_ms: p * 1e3,
            new_tokens_per_row: steps,
            decode_tokens_per_s: (b * steps) as f64 / d,
            ms_per_step: d * 1e3 / steps as f64,
            sampling_ms_per_step: median(&mut sampling) * 1e3 / steps as f64,
        });
    }
    pb.finish_and_clear();
    if a.show > 0 {
        let req = GenerationRequest {
            prompt: &prompt,
            soft_token: &soft,
            n_samples: a.show,
            max_new_tokens: steps,
            sampling: params,
            seed: 0,
        };
        eprintln!("prompt: {:?}", dir.generator.tokenizer().decode(&prompt)?);
        for (i, s) in dir.generator.generate(&req)?.iter().enumerate() {
            eprintln!("sample {i} ({:?}, {} tokens):\n{}", s.stop, s.ids.len(), s.text);
        }
    }
    let report = Report {
        model: a.model.display().to_string(),
        preset: dir.manifest.preset.clone(),
        files_bytes: dir.manifest.files.values().map(|f| f.bytes).sum(),
        load_ms,
        threads: a.threads,
        spin: a.spin,
        cpus: std::thread::available_parallelism().map_or(1, |n| n.get()),
        results,
    };
    println!("{}", serde_json::to_string_pretty(&report)?);
    Ok(())
}

fn median(xs: &mut [f64]) -> f64 {
    xs.sort_by(f64::total_cmp);
    xs.get(xs.len() / 2).copied().unwrap_or(f64::NAN)
}
