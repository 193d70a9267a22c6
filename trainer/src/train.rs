//! The training loop: windows of one dataset variant in, a self-describing
//! run directory out.
//!
//! ```text
//! RUN_DIR/config.json        model architecture (pencil_core::model::ModelConfig)
//! RUN_DIR/train_config.json  the options of this run
//! RUN_DIR/model.safetensors  weights with the best validation loss
//! RUN_DIR/tokenizer.json, students.json, manifest.json   copied from the dataset
//! RUN_DIR/log.jsonl          one line per evaluation
//! RUN_DIR/checkpoint/        latest model + optimizer + state.json, for --resume
//! ```

use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::Context;
use candle_core::{DType, Device, Tensor};
use candle_nn::{VarBuilder, VarMap};
use pencil_core::model::rng::SplitMix64;
use pencil_core::model::{init_weights, Mode, ModelConfig, Preset, TraceModel, TraceTokenizer};
use serde::{Deserialize, Serialize};

use crate::dataset::{read_json, write_json, Manifest, Variant};
use crate::optim::{learning_rate, AdamW, AdamWParams};
use crate::splits::Split;
use crate::windows::WindowSet;

/// Options of a training run.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct TrainOptions {
    /// Model size.
    pub preset: Preset,
    /// Dataset directory (written by `pencil-trainer dataset`).
    pub data: PathBuf,
    /// Which variant to train on.
    pub variant: Variant,
    /// Windows per batch.
    pub batch_size: usize,
    /// Upper bound on optimizer steps.
    pub max_steps: usize,
    /// Peak learning rate.
    pub lr: f64,
    /// Warm-up steps.
    pub warmup: usize,
    /// Evaluate every this many steps.
    pub eval_every: usize,
    /// At most this many validation windows per evaluation (0 = all).
    pub eval_windows: usize,
    /// Stop after this many evaluations without improvement.
    pub patience: usize,
    /// Seed for initialisation and batch order.
    pub seed: u64,
    /// Optimizer hyper-parameters.
    pub adamw: AdamWParams,
    /// Compute in bf16 (GPU only), with f32 master weights.
    pub bf16: bool,
    /// Stay on the CPU even when a GPU is present.
    pub cpu: bool,
    /// End this invocation after this step with a checkpoint (continue with `--resume`).
    #[serde(default)]
    pub halt_at: Option<usize>,
}

/// One evaluation, as logged.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct EvalRecord {
    /// Optimizer steps done.
    pub step: usize,
    /// Training tokens seen.
    pub tokens: u64,
    /// Mean training loss since the previous evaluation.
    pub train_loss: f64,
    /// Validation loss (mean per token).
    pub val_loss: f64,
    /// Best validation loss so far.
    pub best_val_loss: f64,
    /// Learning rate at this step.
    pub lr: f64,
    /// Training throughput since the previous evaluation.
    pub tokens_per_s: f64,
    /// Seconds since the run (or its resumption) started.
    pub elapsed_s: f64,
}

/// Where a run stands; saved with each checkpoint.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct RunState {
    /// Optimizer steps done.
    pub step: usize,
    /// Training tokens seen.
    pub tokens: u64,
    /// Best validation loss.
    pub best_val_loss: Option<f64>,
    /// Evaluations since the best one.
    pub evals_without_improvement: usize,
    /// Whether early stopping ended the run.
    pub stopped_early: bool,
}

/// The outcome of a run.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct TrainReport {
    /// Every evaluation of this invocation.
    pub evals: Vec<EvalRecord>,
    /// Final state.
    pub state: RunState,
    /// Wall time of this invocation.
    pub wall_s: f64,
}

/// A batch as tensors: ids `[b, t]`, rows `[b]`, weights `[b, t]`, and the
/// count of counted tokens. `t` is the longest window of the batch without
/// its trailing padding: padding carries no loss and, the model being causal,
/// changes nothing before it, so cutting it changes no value and saves its work.
pub fn batch_tensors(set: &WindowSet, idx: &[usize], tok: &TraceTokenizer, dev: &Device) -> candle_core::Result<(Tensor, Tensor, Tensor, usize)> {
    let pad = tok.special.pad;
    let t = idx.iter().map(|&i| set.length(i, pad)).max().unwrap_or(0).clamp(2.min(set.context), set.context);
    let mut ids = Vec::with_capacity(idx.len() * t);
    let mut rows = Vec::with_capacity(idx.len());
    for &i in idx {
        ids.extend_from_slice(&set.window(i)[..t]);
        rows.push(set.rows[i]);
    }
    let w = pencil_core::training_text::loss_weights(&ids, tok.special.pad, tok.special.mask);
    let counted = w.iter().filter(|&&x| x > 0.0).count();
    let b = idx.len();
    Ok((
        Tensor::from_vec(ids, (b, t), dev)?,
        Tensor::from_vec(rows, b, dev)?,
        Tensor::from_vec(w, (b, t), dev)?,
        counted,
    ))
}

/// Mean per-token loss of `model` on (the first `max_windows` of) `set`.
pub fn evaluate(model: &TraceModel, set: &WindowSet, tok: &TraceTokenizer, batch: usize, max_windows: usize, dev: &Device) -> anyhow::Result<f64> {
    let n = if max_windows == 0 { set.len() } else { set.len().min(max_windows) };
    let (mut sum, mut count) = (0.0f64, 0usize);
    let idx: Vec<usize> = (0..n).collect();
    for chunk in idx.chunks(batch.max(1)) {
        let (ids, rows, w, counted) = batch_tensors(set, chunk, tok, dev)?;
        if counted == 0 {
            continue;
        }
        let loss = model.loss(&ids, &rows, &w, Mode::Infer)?.to_scalar::<f32>()?;
        sum += f64::from(loss) * counted as f64;
        count += counted;
    }
    anyhow::ensure!(count > 0, "no validation tokens");
    Ok(sum / count as f64)
}

/// Windows per sorting group of [`batch_indices`], in batches.
const BATCHES_PER_GROUP: usize = 32;

/// Window indices of step `step`, from the windows' unpadded `lengths`.
///
/// Each epoch is a fresh seeded permutation cut into groups of 32 batches;
/// within a group windows are sorted by length before they are cut into
/// batches, and the epoch's batches are then shuffled. Batches thus hold
/// windows of similar length (most windows are one short trace, so a batch of
/// random windows was two-thirds padding) while every window is still seen
/// once per epoch in a random order. The order depends only on the seed and
/// the step, so a resumed run sees exactly the batches the uninterrupted one would.
pub fn batch_indices(lengths: &[usize], batch: usize, step: usize, seed: u64) -> Vec<usize> {
    let (n, batch) = (lengths.len(), batch.max(1));
    if n == 0 {
        return Vec::new();
    }
    let per_epoch = (n / batch).max(1);
    let epoch = step / per_epoch;
    let mut perm: Vec<usize> = (0..n).collect();
    SplitMix64::for_purpose(seed, &format!("epoch {epoch}")).shuffle(&mut perm);
    for group in perm.chunks_mut(batch * BATCHES_PER_GROUP) {
        group.sort_by_key(|&i| lengths[i]);
    }
    let mut order: Vec<usize> = (0..per_epoch).collect();
    SplitMix64::for_purpose(seed, &format!("epoch {epoch} batches")).shuffle(&mut order);
    let offset = order[step % per_epoch] * batch;
    (0..batch).map(|k| perm[(offset + k) % n]).collect()
}

/// A model, its variables and its device.
pub struct Built {
    /// The model.
    pub model: TraceModel,
    /// Its trainable variables.
    pub varmap: VarMap,
    /// Where it lives.
    pub device: Device,
}

/// Builds a freshly initialised model for training.
pub fn build_model(cfg: &ModelConfig, seed: u64, device: &Device, bf16: bool) -> anyhow::Result<Built> {
    let varmap = VarMap::new();
    let dtype = if bf16 && device.is_cuda() { DType::BF16 } else { DType::F32 };
    let vb = VarBuilder::from_varmap(&varmap, dtype, device);
    let model = TraceModel::load(vb, cfg)?;
    init_weights(&varmap, cfg, seed)?;
    Ok(Built { model, varmap, device: device.clone() })
}

fn named_vars(varmap: &VarMap) -> anyhow::Result<Vec<(String, candle_core::Var)>> {
    let data = varmap.data().lock().map_err(|_| anyhow::anyhow!("variable map lock poisoned"))?;
    Ok(data.iter().map(|(k, v)| (k.clone(), v.clone())).collect())
}

/// The options this invocation trains with: a resumed run keeps the learning-rate
/// schedule recorded when it started (peak rate, warm-up, length), whatever this
/// invocation's flags say, so the rate never jumps at a resume; `--halt-at`
/// ends an invocation early without changing the schedule.
fn run_schedule(opts: &TrainOptions, out: &Path, resume: bool, progress: &indicatif::ProgressBar) -> anyhow::Result<TrainOptions> {
    if !resume {
        return Ok(opts.clone());
    }
    let saved: TrainOptions = read_json(&out.join("train_config.json"))
        .context("a resumed run needs the train_config.json its first invocation wrote")?;
    let fixed = TrainOptions { max_steps: saved.max_steps, warmup: saved.warmup, lr: saved.lr, ..opts.clone() };
    if (opts.max_steps, opts.warmup) != (fixed.max_steps, fixed.warmup) || opts.lr != fixed.lr {
        progress.println(format!(
            "resuming with the run's own schedule: {} steps, warm-up {}, peak rate {} (train_config.json); \
             --max-steps {}, --warmup {}, --lr {} are ignored (use --halt-at to stop earlier)",
            fixed.max_steps, fixed.warmup, fixed.lr, opts.max_steps, opts.warmup, opts.lr
        ));
    }
    Ok(fixed)
}

/// Trains a model; `resume` continues from `out/checkpoint`.
pub fn train(opts: &TrainOptions, out: &Path, resume: bool, progress: &indicatif::ProgressBar) -> anyhow::Result<TrainReport> {
    let started = Instant::now();
    let opts = &run_schedule(opts, out, resume, progress)?;
    let manifest: Manifest = read_json(&opts.data.join("manifest.json"))?;
    let tok = TraceTokenizer::load(&opts.data.join("tokenizer.json"))?;
    let vdir = opts.data.join(opts.variant.name());
    let train_set = WindowSet::load(&vdir.join(format!("{}.safetensors", Split::Train.name())))?;
    let val_set = WindowSet::load(&vdir.join(format!("{}.safetensors", Split::Validation.name())))?;
    anyhow::ensure!(!train_set.is_empty(), "{}: no training windows", vdir.display());
    anyhow::ensure!(!val_set.is_empty(), "{}: no validation windows", vdir.display());
    let mut cfg = opts.preset.config(tok.vocab_size(), manifest.n_students);
    anyhow::ensure!(
        train_set.context <= cfg.context,
        "dataset windows have {} tokens, preset {} takes at most {}",
        train_set.context,
        opts.preset.name(),
        cfg.context
    );
    cfg.context = train_set.context;
    cfg.title_tokens = manifest.windows.title_tokens;

    std::fs::create_dir_all(out.join("checkpoint")).with_context(|| format!("creating {}", out.display()))?;
    let device = pencil_core::model::device(opts.cpu)?;
    let built = build_model(&cfg, opts.seed, &device, opts.bf16)?;
    let mut opt = AdamW::new(named_vars(&built.varmap)?, opts.adamw)?;
    let mut state = RunState::default();
    let ckpt = out.join("checkpoint");
    if resume {
        let mut varmap = built.varmap.clone();
        varmap.load(ckpt.join("model.safetensors")).context("loading checkpoint/model.safetensors")?;
        let opt_state = candle_core::safetensors::load(ckpt.join("optimizer.safetensors"), &device)?;
        opt.load_state(&opt_state)?;
        state = read_json(&ckpt.join("state.json"))?;
        let saved: ModelConfig = read_json(&out.join("config.json"))?;
        anyhow::ensure!(saved == cfg, "the run's config.json does not match this preset and dataset");
    } else {
        write_json(&out.join("config.json"), &cfg)?;
        write_json(&out.join("train_config.json"), opts)?;
        for f in ["tokenizer.json", "students.json", "manifest.json"] {
            std::fs::copy(opts.data.join(f), out.join(f)).with_context(|| format!("copying {f}"))?;
        }
        std::fs::write(out.join("log.jsonl"), "")?;
    }
    let model = &built.model;
    let mut log = std::fs::OpenOptions::new().append(true).create(true).open(out.join("log.jsonl"))?;

    let total = opts.max_steps;
    progress.set_length(total as u64);
    progress.set_position(state.step as u64);
    let mut evals = Vec::new();
    let (mut window_loss, mut window_steps, mut window_tokens) = (0.0f64, 0usize, 0u64);
    let mut window_start = Instant::now();
    let halt = opts.halt_at.unwrap_or(total).min(total);
    let lengths: Vec<usize> = (0..train_set.len()).map(|i| train_set.length(i, tok.special.pad)).collect();
    while state.step < halt && !state.stopped_early {
        let idx = batch_indices(&lengths, opts.batch_size, state.step, opts.seed);
        let (ids, rows, w, counted) = batch_tensors(&train_set, &idx, &tok, &device)?;
        let loss = model.loss(&ids, &rows, &w, Mode::Train)?;
        let grads = loss.backward()?;
        let lr = learning_rate(state.step, opts.warmup, total, opts.lr, 0.1);
        opt.step(&grads, lr)?;
        let l = f64::from(loss.to_scalar::<f32>()?);
        anyhow::ensure!(l.is_finite(), "training loss became {l} at step {}", state.step);
        state.step += 1;
        state.tokens += counted as u64;
        window_loss += l;
        window_steps += 1;
        window_tokens += counted as u64;
        let tps = window_tokens as f64 / window_start.elapsed().as_secs_f64().max(1e-9);
        progress.set_position(state.step as u64);
        progress.set_message(format!("loss {l:.3} | {tps:.0} tok/s | best val {}", fmt_opt(state.best_val_loss)));

        if state.step % opts.eval_every.max(1) == 0 || state.step == total {
            let val = evaluate(model, &val_set, &tok, opts.batch_size, opts.eval_windows, &device)?;
            let improved = state.best_val_loss.is_none_or(|b| val < b - 1e-4);
            if improved {
                state.best_val_loss = Some(val);
                state.evals_without_improvement = 0;
                built.varmap.save(out.join("model.safetensors"))?;
            } else {
                state.evals_without_improvement += 1;
                state.stopped_early = state.evals_without_improvement >= opts.patience.max(1);
            }
            let rec = EvalRecord {
                step: state.step,
                tokens: state.tokens,
                train_loss: window_loss / window_steps.max(1) as f64,
                val_loss: val,
                best_val_loss: state.best_val_loss.unwrap_or(val),
                lr,
                tokens_per_s: tps,
                elapsed_s: started.elapsed().as_secs_f64(),
            };
            writeln!(log, "{}", serde_json::to_string(&rec)?)?;
            progress.println(format!(
                "step {:>6}  train {:.4}  val {:.4}  best {:.4}  {:.0} tok/s",
                rec.step, rec.train_loss, rec.val_loss, rec.best_val_loss, rec.tokens_per_s
            ));
            evals.push(rec);
            save_checkpoint(&ckpt, &built.varmap, &opt, &state)?;
            (window_loss, window_steps, window_tokens) = (0.0, 0, 0);
            window_start = Instant::now();
        } else if state.step == halt {
            save_checkpoint(&ckpt, &built.varmap, &opt, &state)?;
        }
    }
    progress.finish_with_message(format!("done: best val {}", fmt_opt(state.best_val_loss)));
    Ok(TrainReport { evals, state, wall_s: started.elapsed().as_secs_f64() })
}

fn save_checkpoint(dir: &Path, varmap: &VarMap, opt: &AdamW, state: &RunState) -> anyhow::Result<()> {
    varmap.save(dir.join("model.safetensors"))?;
    candle_core::safetensors::save(&opt.state()?, dir.join("optimizer.safetensors"))?;
    write_json(&dir.join("state.json"), state)
}

fn fmt_opt(x: Option<f64>) -> String {
    x.map_or_else(|| "-".to_string(), |v| format!("{v:.4}"))
}

/// Loads a trained model from a run directory for inference.
pub fn load_run(run: &Path, device: &Device) -> anyhow::Result<(TraceModel, TraceTokenizer)> {
    let cfg: ModelConfig = read_json(&run.join("config.json"))?;
    let weights = run.join("model.safetensors");
    // SAFETY: the file is not modified while mapped (it belongs to a finished run).
    let vb = unsafe { VarBuilder::from_mmaped_safetensors(&[weights], DType::F32, device)? };
    let model = TraceModel::load(vb, &cfg)?;
    Ok((model, TraceTokenizer::load(&run.join("tokenizer.json"))?))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_epoch_sees_every_window_once_in_batches_of_similar_length() {
        let lengths: Vec<usize> = (0..640).map(|i| (i * 7919) % 1000 + 1).collect();
        let batch = 8;
        let mut seen = vec![0usize; lengths.len()];
        let mut spread = 0usize;
        for step in 0..lengths.len() / batch {
            let idx = batch_indices(&lengths, batch, step, 3);
            let l: Vec<usize> = idx.iter().map(|&i| lengths[i]).collect();
            spread += l.iter().max().unwrap_or(&0) - l.iter().min().unwrap_or(&0);
            for i in idx {
                seen[i] += 1;
            }
        }
        assert!(seen.iter().all(|&c| c == 1), "every window once per epoch");
        // Random batches of 8 from 1..1000 spread ~780; sorted groups of 256 spread ~30.
        assert!(spread / (lengths.len() / batch) < 100, "mean spread {}", spread / (lengths.len() / batch));
        // The same step gives the same batch (a resumed run), the next epoch another order.
        assert_eq!(batch_indices(&lengths, batch, 5, 3), batch_indices(&lengths, batch, 5, 3));
        assert_ne!(batch_indices(&lengths, batch, 5, 3), batch_indices(&lengths, batch, 5 + 80, 3));
    }
}
