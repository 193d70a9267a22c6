//! `manifest.json` of an exported model directory: what the model is, how it
//! was made, and the sha256 of every file, so a loader can tell a complete,
//! untouched model from a broken one and say which file is wrong.
//!
//! Format version 1. Files listed: `model.onnx`, `tokenizer.json`,
//! `students.safetensors`, `features.onnx` (the probe's feature graph) when the
//! export wrote one, and `probe.safetensors` once a probe is trained.

use std::collections::BTreeMap;
use std::io::Read;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::error::InferenceError;
use crate::model::ModelConfig;

/// The manifest's file name inside a model directory.
pub const MANIFEST_FILE: &str = "manifest.json";
/// The graph's file name.
pub const MODEL_FILE: &str = "model.onnx";
/// The tokenizer's file name.
pub const TOKENIZER_FILE: &str = "tokenizer.json";
/// The student table, MLP and strong-student vector.
pub const STUDENTS_FILE: &str = "students.safetensors";
/// The probe's feature graph: the model's first blocks, int8, no logits.
pub const FEATURES_FILE: &str = "features.onnx";
/// Version of the manifest format this code writes and reads.
pub const FORMAT_VERSION: u32 = 1;

/// One file of the model directory.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FileEntry {
    /// Lower-case hex sha256 of the contents.
    pub sha256: String,
    /// Size in bytes.
    pub bytes: u64,
}

/// Where the model came from.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ModelProvenance {
    /// The training run directory the export read.
    pub run_dir: String,
    /// Training data as the run recorded it (corpus files, counts), verbatim.
    #[serde(default)]
    pub data: serde_json::Value,
    /// The export command line.
    pub export_command: String,
    /// Seconds since the Unix epoch when the export ran.
    pub exported_unix: u64,
    /// Version of the exporting `pencil-trainer`.
    pub exporter_version: String,
}

/// The student whose vector the editor uses as the "strong student" (the
/// paper's §J: lowest mean goal backtracking among students with many traces).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StrongStudent {
    /// Row in the student table.
    pub row: u32,
    /// The student's id in the corpus.
    pub student: String,
    /// Their mean goal-backtracking ratio.
    pub mean_goal_backtracking: f64,
    /// Traces the mean is over.
    pub n_traces: usize,
    /// How the student was chosen (the rule actually applied).
    pub rule: String,
}

/// Candle-vs-ort agreement of the exported graph, measured at export time.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ParityReport {
    /// Worst |logit difference| over whole sequences (no past).
    pub max_abs_logit_diff: f32,
    /// Worst |logit difference| of a token run through the KV cache.
    pub max_abs_logit_diff_kv_cache: f32,
    /// Batch sizes compared.
    pub batch_sizes: Vec<usize>,
    /// Sequence lengths compared.
    pub sequence_lengths: Vec<usize>,
}

/// How `features.onnx` was cut from the trace model, and how close its
/// features come to the same blocks in full precision.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FeatureGraph {
    /// Transformer blocks it runs (the first `layers` of the model's).
    pub layers: usize,
    /// Whether its weight matrices and token embedding are int8.
    pub int8: bool,
    /// Lowest cosine similarity between its `pooled` and the full-precision
    /// graph's over the same blocks, on random token sequences at export.
    pub min_cosine_vs_f32: Option<f32>,
}

/// How `model.onnx`'s precision was chosen: its validation loss in full
/// precision and in int8, through ONNX Runtime on the run's validation windows.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Quantization {
    /// Whether the shipped `model.onnx` stores its weights as int8.
    pub int8: bool,
    /// Mean per-token loss of the full-precision graph.
    pub validation_loss_f32: f64,
    /// Mean per-token loss of the int8 graph.
    pub validation_loss_int8: f64,
    /// Largest loss increase int8 was allowed.
    pub tolerance: f64,
    /// Validation windows measured.
    pub windows: usize,
    /// Tokens counted in the loss.
    pub tokens: usize,
}

/// The manifest.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Manifest {
    /// [`FORMAT_VERSION`].
    pub format_version: u32,
    /// The preset name (`tiny`, `small`, `base`) or `custom`.
    pub preset: String,
    /// The architecture.
    pub config: ModelConfig,
    /// ONNX opset of `model.onnx`.
    pub onnx_opset: i64,
    /// Mean validation cross-entropy per token, when the run recorded one.
    pub validation_loss: Option<f64>,
    /// The strong student, when one could be chosen.
    pub strong_student: Option<StrongStudent>,
    /// Candle-vs-ort parity, when measured.
    #[serde(default)]
    pub parity: Option<ParityReport>,
    /// The probe's feature graph, when the export wrote one.
    #[serde(default)]
    pub features: Option<FeatureGraph>,
    /// How `model.onnx`'s precision was chosen (absent: full precision, not measured).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub quantization: Option<Quantization>,
    /// Probe scores (filled once the backtracking probe exists).
    #[serde(default)]
    pub probe: Option<serde_json::Value>,
    /// Adaptation settings chosen on held-out students and the evaluation
    /// that chose them (`pencil-trainer eval-adapt --record`); its `steps` and
    /// `learning_rate` are read by [`crate::adapt::AdaptationDefaults`].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub adaptation: Option<serde_json::Value>,
    /// Where the model came from.
    pub provenance: ModelProvenance,
    /// Every file of the directory but the manifest, by name.
    pub files: BTreeMap<String, FileEntry>,
}

impl Manifest {
    /// Reads `dir/manifest.json`.
    pub fn read(dir: &Path) -> Result<Self, InferenceError> {
        let path = dir.join(MANIFEST_FILE);
        let text = std::fs::read_to_string(&path).map_err(|e| file_error(&path, format!("cannot read the manifest: {e}")))?;
        let m: Manifest = serde_json::from_str(&text).map_err(|e| file_error(&path, format!("malformed manifest: {e}")))?;
        if m.format_version != FORMAT_VERSION {
            return Err(file_error(&path, format!("manifest format {} is not the supported {FORMAT_VERSION}", m.format_version)));
        }
        Ok(m)
    }

    /// Writes `dir/manifest.json`.
    pub fn write(&self, dir: &Path) -> Result<(), InferenceError> {
        let path = dir.join(MANIFEST_FILE);
        let text = serde_json::to_string_pretty(self).map_err(|e| file_error(&path, e.to_string()))?;
        std::fs::write(&path, text + "\n").map_err(|e| file_error(&path, e.to_string()))
    }

    /// Checks that every listed file (and at least the model, tokenizer and
    /// students files) exists with the recorded size and sha256; the error
    /// names the first file that does not.
    pub fn validate(&self, dir: &Path) -> Result<(), InferenceError> {
        for required in [MODEL_FILE, TOKENIZER_FILE, STUDENTS_FILE] {
            if !self.files.contains_key(required) {
                return Err(file_error(&dir.join(MANIFEST_FILE), format!("lists no {required}")));
            }
        }
        for (name, want) in &self.files {
            let path = dir.join(name);
            if !path.is_file() {
                return Err(file_error(&path, "model file is missing".into()));
            }
            let got = FileEntry::of(&path)?;
            if got.bytes != want.bytes {
                return Err(file_error(&path, format!("is {} bytes, the manifest says {} (corrupt or replaced)", got.bytes, want.bytes)));
            }
            if got.sha256 != want.sha256 {
                return Err(file_error(&path, format!("sha256 {} does not match the manifest's {} (corrupt or replaced)", got.sha256, want.sha256)));
            }
        }
        Ok(())
    }
}

impl FileEntry {
    /// Hashes a file.
    pub fn of(path: &Path) -> Result<Self, InferenceError> {
        let mut f = std::fs::File::open(path).map_err(|e| file_error(path, format!("cannot open: {e}")))?;
        let mut hasher = Sha256::new();
        let mut buf = vec![0u8; 1 << 16];
        let mut bytes = 0u64;
        loop {
            let n = f.read(&mut buf).map_err(|e| file_error(path, format!("cannot read: {e}")))?;
            if n == 0 {
                break;
            }
            hasher.update(&buf[..n]);
            bytes += n as u64;
        }
        let sha256 = hasher.finalize().iter().map(|b| format!("{b:02x}")).collect();
        Ok(FileEntry { sha256, bytes })
    }
}

fn file_error(path: &Path, reason: String) -> InferenceError {
    InferenceError::ModelFile { path: PathBuf::from(path), reason }
}
