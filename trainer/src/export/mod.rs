//! `pencil-trainer export`: turns a training run directory into a model
//! directory the language server loads:
//!
//! ```text
//! OUT/model.onnx            the graph (see onnx_graph for its inputs and outputs)
//! OUT/features.onnx         the probe's feature graph: the first blocks, int8, no logits
//! OUT/tokenizer.json        copied from the run
//! OUT/students.safetensors  student.table, student.mlp.{0,2}.{weight,bias}, strong_student
//! OUT/manifest.json         pencil_core::inference::manifest::Manifest
//! ```
//!
//! - [`onnx_graph`]: the trace model as an ONNX graph, written from Rust.
//! - [`strong_student`]: the paper's §J choice of the "strong student" vector.
//! - [`parity`]: candle-vs-ort agreement of the written graph, recorded in the manifest.
//!
//! The manifest format lives in `pencil_core::inference::manifest` (the server reads it).

pub mod onnx_graph;
pub mod parity;
#[cfg(test)]
mod parity_tests;
pub mod strong_student;
pub mod training_record;

use std::collections::{BTreeMap, HashMap, HashSet};
use std::path::{Path, PathBuf};

use anyhow::Context;
use candle_core::{Device, Tensor};
use pencil_core::inference::manifest::{
    FeatureGraph, FileEntry, Manifest, ModelProvenance, Quantization, StrongStudent, FEATURES_FILE, FORMAT_VERSION, MODEL_FILE, STUDENTS_FILE,
    TOKENIZER_FILE,
};
use pencil_core::inference::model_dir::STRONG_STUDENT_TENSOR;
use pencil_core::model::{ModelConfig, Preset};
use prost::Message;

use crate::dataset::{read_json, StudentIndex};
use crate::windows::WindowSet;
use pencil_core::model::TraceTokenizer;

/// Writes `model.onnx` for `cfg` and `weights` to `path` (int8 weights when
/// `int8`); returns its size in bytes.
pub fn write_onnx(cfg: &ModelConfig, weights: &HashMap<String, Tensor>, int8: bool, path: &Path) -> anyhow::Result<u64> {
    write_graph(&onnx_graph::build_model(cfg, weights, int8)?, path)
}

/// Writes the probe's feature graph (see [`onnx_graph::build_features_model`]) to `path`; returns its size in bytes.
pub fn write_features_onnx(
    cfg: &ModelConfig,
    weights: &HashMap<String, Tensor>,
    layers: usize,
    int8: bool,
    path: &Path,
) -> anyhow::Result<u64> {
    write_graph(&onnx_graph::build_features_model(cfg, weights, layers, int8)?, path)
}

/// Writes an ONNX model to `path`; returns its size in bytes.
fn write_graph(model: &candle_onnx::onnx::ModelProto, path: &Path) -> anyhow::Result<u64> {
    let bytes = model.encode_to_vec();
    std::fs::write(path, &bytes).with_context(|| format!("writing {}", path.display()))?;
    Ok(bytes.len() as u64)
}

/// Blocks the probe's feature graph runs by default. On the shipped model the
/// probe scored as well on the first block's features (held-out AUC 0.596) as on
/// two (0.594) and better than on all four in full precision (0.582), and one
/// block reads a program fastest (figures in models/README.md).
pub const DEFAULT_FEATURE_LAYERS: usize = 1;

/// Options of [`export_run`].
#[derive(Debug, Clone, Default)]
pub struct ExportOptions {
    /// The training run directory.
    pub run_dir: PathBuf,
    /// The model directory to write.
    pub out: PathBuf,
    /// Corpus files for the strong student; default: the dataset's inputs.
    pub corpus: Vec<PathBuf>,
    /// The command line, recorded in the manifest.
    pub command: String,
    /// Measure candle-vs-ort parity (needs ONNX Runtime) and fail above [`PARITY_TOLERANCE`].
    pub check_parity: bool,
    /// Blocks of the probe's feature graph; 0 writes none (the probe then reads `model.onnx`).
    pub feature_layers: usize,
    /// Store the feature graph's weights as int8.
    pub feature_int8: bool,
    /// Store `model.onnx`'s weights as int8, when its validation loss stays within
    /// [`INT8_LOSS_TOLERANCE`] of full precision (checked with `check_parity`).
    pub model_int8: bool,
}

/// Largest increase of the validation loss (nats per token) that an int8
/// `model.onnx` may cost; above it the export keeps full precision. The
/// training runs' own evaluations move by more than this between checkpoints.
pub const INT8_LOSS_TOLERANCE: f64 = 0.01;

/// Validation windows the int8 check reads.
pub const INT8_CHECK_WINDOWS: usize = 200;

/// Lowest cosine between the int8 feature graph's `pooled` and full precision's an export accepts.
pub const FEATURE_COSINE_FLOOR: f32 = 0.98;

/// Largest |logit difference| between candle and ort an export accepts.
pub const PARITY_TOLERANCE: f32 = 1e-3;

/// Exports a run directory; returns the manifest written.
pub fn export_run(opts: &ExportOptions, progress: &indicatif::ProgressBar) -> anyhow::Result<Manifest> {
    let run = &opts.run_dir;
    let cfg: ModelConfig = read_json(&run.join("config.json"))?;
    let weights_path = run.join("model.safetensors");
    let weights = candle_core::safetensors::load(&weights_path, &Device::Cpu)
        .with_context(|| format!("reading the weights {}", weights_path.display()))?;
    let train_config: Option<serde_json::Value> = read_json(&run.join("train_config.json")).ok();
    let dataset: Option<serde_json::Value> = read_json(&run.join("manifest.json")).ok();
    let students: StudentIndex = read_json(&run.join("students.json"))?;
    std::fs::create_dir_all(&opts.out).with_context(|| format!("creating {}", opts.out.display()))?;

    progress.set_message("writing model.onnx");
    let model_path = opts.out.join(MODEL_FILE);
    // The full-precision graph is the one checked against candle; an int8 one is
    // then checked against it.
    let scratch = tempfile::tempdir()?;
    let f32_path = if opts.model_int8 { scratch.path().join("model-f32.onnx") } else { model_path.clone() };
    write_onnx(&cfg, &weights, false, &f32_path)?;
    std::fs::copy(run.join("tokenizer.json"), opts.out.join(TOKENIZER_FILE))
        .with_context(|| format!("copying {}", run.join("tokenizer.json").display()))?;

    let strong = choose_strong_student(opts, &students, train_config.as_ref(), dataset.as_ref(), progress)?;
    write_students(&cfg, &weights, strong.as_ref(), &opts.out.join(STUDENTS_FILE))?;

    let parity = if opts.check_parity {
        progress.set_message("candle vs ort parity");
        let p = parity::measure(&cfg, &weights, &f32_path)?;
        anyhow::ensure!(
            p.max_abs_logit_diff < PARITY_TOLERANCE && p.max_abs_logit_diff_kv_cache < PARITY_TOLERANCE,
            "the exported graph disagrees with the candle model: {p:?}"
        );
        Some(p)
    } else {
        None
    };
    let quantization = if opts.model_int8 {
        write_onnx(&cfg, &weights, true, &model_path)?;
        if opts.check_parity {
            progress.set_message("int8 vs full precision on validation windows");
            let q = int8_check(&cfg, &weights, &f32_path, &model_path, train_config.as_ref())?;
            if !q.int8 {
                progress.println(format!(
                    "export: int8 costs {:.4} nats per token (> {INT8_LOSS_TOLERANCE}); model.onnx keeps full precision",
                    q.validation_loss_int8 - q.validation_loss_f32
                ));
                std::fs::copy(&f32_path, &model_path).with_context(|| format!("writing {}", model_path.display()))?;
            }
            Some(q)
        } else {
            None
        }
    } else {
        None
    };

    let features = if opts.feature_layers > 0 {
        progress.set_message("writing features.onnx");
        let path = opts.out.join(FEATURES_FILE);
        write_features_onnx(&cfg, &weights, opts.feature_layers, opts.feature_int8, &path)?;
        let min_cosine_vs_f32 = if opts.check_parity {
            progress.set_message("feature graph vs full precision");
            let c = parity::feature_agreement(&cfg, &weights, opts.feature_layers, &path)?;
            anyhow::ensure!(c >= FEATURE_COSINE_FLOOR, "the feature graph's pooled output strays from full precision: cosine {c}");
            Some(c)
        } else {
            None
        };
        Some(FeatureGraph { layers: opts.feature_layers, int8: opts.feature_int8, min_cosine_vs_f32 })
    } else {
        // A stale one from an earlier export would not be listed, but would mislead a reader.
        let _ = std::fs::remove_file(opts.out.join(FEATURES_FILE));
        None
    };

    let mut files = BTreeMap::new();
    let listed = [MODEL_FILE, TOKENIZER_FILE, STUDENTS_FILE].into_iter().chain(features.as_ref().map(|_| FEATURES_FILE));
    for name in listed {
        files.insert(name.to_string(), FileEntry::of(&opts.out.join(name))?);
    }
    let preset = Preset::ALL
        .into_iter()
        .find(|p| p.config(cfg.vocab_size, cfg.n_students) == cfg)
        .map_or_else(|| "custom".to_string(), |p| p.name().to_string());
    let manifest = Manifest {
        format_version: FORMAT_VERSION,
        preset,
        config: cfg,
        onnx_opset: onnx_graph::OPSET,
        validation_loss: best_validation_loss(&run.join("log.jsonl")),
        strong_student: strong,
        parity,
        features,
        quantization,
        probe: None,
        adaptation: None,
        provenance: ModelProvenance {
            run_dir: run.display().to_string(),
            data: serde_json::json!({ "dataset": dataset, "training": train_config, "training_log": training_record::training_record(run).ok() }),
            export_command: opts.command.clone(),
            exported_unix: std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_secs()),
            exporter_version: env!("CARGO_PKG_VERSION").to_string(),
        },
        files,
    };
    manifest.write(&opts.out)?;
    Ok(manifest)
}

/// Compares the int8 graph at `int8` with the full-precision one at `f32` on the
/// run's validation windows; `int8` in the result says whether int8 is within
/// [`INT8_LOSS_TOLERANCE`].
fn int8_check(
    cfg: &ModelConfig,
    weights: &HashMap<String, Tensor>,
    f32: &Path,
    int8: &Path,
    train_config: Option<&serde_json::Value>,
) -> anyhow::Result<Quantization> {
    let field = |k: &str| train_config.and_then(|t| t.get(k)).and_then(|v| v.as_str());
    let data = field("data").context("the run's train_config.json names no dataset, needed to check int8 against full precision")?;
    let variant = field("variant").unwrap_or("trace");
    let set = WindowSet::load(&Path::new(data).join(variant).join("validation.safetensors"))?;
    let tok = TraceTokenizer::load(&Path::new(data).join("tokenizer.json"))?;
    let special = (tok.special.pad, tok.special.mask);
    let (loss_f32, loss_int8, windows, tokens) = parity::validation_losses(cfg, weights, f32, int8, &set, special, INT8_CHECK_WINDOWS)?;
    Ok(Quantization {
        int8: loss_int8 - loss_f32 <= INT8_LOSS_TOLERANCE,
        validation_loss_f32: loss_f32,
        validation_loss_int8: loss_int8,
        tolerance: INT8_LOSS_TOLERANCE,
        windows,
        tokens,
    })
}

fn choose_strong_student(
    opts: &ExportOptions,
    students: &StudentIndex,
    train_config: Option<&serde_json::Value>,
    dataset: Option<&serde_json::Value>,
    progress: &indicatif::ProgressBar,
) -> anyhow::Result<Option<StrongStudent>> {
    let corpus: Vec<PathBuf> = if opts.corpus.is_empty() {
        dataset
            .and_then(|d| d.get("inputs"))
            .and_then(|v| v.as_array())
            .map(|a| a.iter().filter_map(|s| s.as_str()).map(PathBuf::from).collect())
            .unwrap_or_default()
    } else {
        opts.corpus.clone()
    };
    let corpus: Vec<PathBuf> = corpus.into_iter().filter(|p| p.is_file()).collect();
    if corpus.is_empty() {
        progress.println("export: no corpus file found; the strong student is the unseen-student vector");
        return Ok(None);
    }
    // The training pairs, from the dataset's splits.json when it is there.
    let train_pairs: Option<HashSet<(String, String)>> = train_config
        .and_then(|t| t.get("data"))
        .and_then(|d| d.as_str())
        .and_then(|d| read_json::<HashMap<String, Vec<(String, String)>>>(&Path::new(d).join("splits.json")).ok())
        .and_then(|mut s| s.remove("train"))
        .map(|v| v.into_iter().collect());
    progress.set_length(corpus.len() as u64);
    progress.set_position(0);
    let rows = |s: &str| students.row(s);
    let traces = strong_student::training_traces(&corpus, &rows, train_pairs.as_ref(), progress)?;
    progress.set_message(format!("goal backtracking of {} training traces", traces.len()));
    Ok(strong_student::choose(&traces, &rows))
}

/// Writes the student module and the strong student's vector (the
/// unseen-student row when none was chosen).
fn write_students(
    cfg: &ModelConfig,
    weights: &HashMap<String, Tensor>,
    strong: Option<&StrongStudent>,
    path: &Path,
) -> anyhow::Result<()> {
    let mut out: HashMap<String, Tensor> =
        weights.iter().filter(|(k, _)| k.starts_with("student.")).map(|(k, v)| (k.clone(), v.clone())).collect();
    let table = out.get("student.table").context("the checkpoint has no student.table")?;
    anyhow::ensure!(
        table.dims() == [cfg.n_students + 1, cfg.student_dim],
        "student.table has shape {:?}, the configuration needs [{}, {}]",
        table.dims(),
        cfg.n_students + 1,
        cfg.student_dim
    );
    let row = strong.map_or(0, |s| s.row as usize);
    let vector = table.get(row)?;
    out.insert(STRONG_STUDENT_TENSOR.to_string(), vector);
    candle_core::safetensors::save(&out, path).with_context(|| format!("writing {}", path.display()))
}

/// The best validation loss in the run's `log.jsonl`.
fn best_validation_loss(log: &Path) -> Option<f64> {
    let text = std::fs::read_to_string(log).ok()?;
    text.lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .filter_map(|v| v.get("val_loss").and_then(serde_json::Value::as_f64))
        .min_by(f64::total_cmp)
}
