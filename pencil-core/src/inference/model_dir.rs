//! An exported model directory, opened and checked: the manifest validated
//! against the files, the graph in an ort session, the tokenizer, and the
//! student module that turns student vectors into soft tokens.

use std::path::{Path, PathBuf};

use candle_core::{DType, Device, Tensor};
use candle_nn::VarBuilder;

use super::error::InferenceError;
use super::generate::Generator;
use super::manifest::{Manifest, FEATURES_FILE, MODEL_FILE, STUDENTS_FILE, TOKENIZER_FILE};
use super::probe::{Probe, PROBE_FILE};
use super::session::{OnnxModel, SessionOptions};
use crate::model::{StudentEmbedding, TraceTokenizer};

/// Name of the strong student's vector in `students.safetensors`.
pub const STRONG_STUDENT_TENSOR: &str = "strong_student";

/// The student table, MLP and strong-student vector of a model.
pub struct StudentVectors {
    embedding: StudentEmbedding,
    strong: Tensor,
}

impl StudentVectors {
    /// Loads `students.safetensors`.
    pub fn load(path: &Path, manifest: &Manifest) -> Result<Self, InferenceError> {
        let err = |reason: String| InferenceError::ModelFile { path: path.to_path_buf(), reason };
        let tensors = candle_core::safetensors::load(path, &Device::Cpu).map_err(|e| err(format!("cannot read: {e}")))?;
        let strong = tensors.get(STRONG_STUDENT_TENSOR).cloned().ok_or_else(|| err(format!("has no {STRONG_STUDENT_TENSOR:?} tensor")))?;
        let vb = VarBuilder::from_tensors(tensors, DType::F32, &Device::Cpu);
        let embedding = StudentEmbedding::load(vb.pp("student"), &manifest.config).map_err(|e| err(e.to_string()))?;
        Ok(StudentVectors { embedding, strong })
    }

    /// The soft token `[n_embd]` of a student vector `[student_dim]`.
    pub fn soft_token(&self, vector: &[f32]) -> Result<Vec<f32>, InferenceError> {
        let v = Tensor::from_vec(vector.to_vec(), (1, vector.len()), &Device::Cpu).map_err(InferenceError::run)?;
        let soft = self.embedding.soft_token(&v).and_then(|t| t.flatten_all()).and_then(|t| t.to_vec1::<f32>());
        soft.map_err(InferenceError::run)
    }

    /// The vector of table row `row` (0: the unseen-student vector).
    pub fn row_vector(&self, row: u32) -> Result<Vec<f32>, InferenceError> {
        let rows = Tensor::new(&[row], &Device::Cpu).map_err(InferenceError::run)?;
        let v = self.embedding.vectors(&rows).and_then(|t| t.flatten_all()).and_then(|t| t.to_vec1::<f32>());
        v.map_err(|e| InferenceError::Request(format!("student row {row}: {e}")))
    }

    /// The strong student's vector.
    pub fn strong_vector(&self) -> Result<Vec<f32>, InferenceError> {
        self.strong.flatten_all().and_then(|t| t.to_vec1::<f32>()).map_err(InferenceError::run)
    }
}

/// An opened model directory.
pub struct ModelDir {
    /// The directory.
    pub dir: PathBuf,
    /// Its manifest (validated against the files).
    pub manifest: Manifest,
    /// Graph and tokenizer, ready to sample.
    pub generator: Generator,
    /// Student vectors and the soft-token MLP.
    pub students: StudentVectors,
    /// The backtracking probe, when the manifest lists one.
    pub probe: Option<Probe>,
    /// The probe's feature graph (`features.onnx`), when the manifest lists one.
    features: Option<OnnxModel>,
}

impl ModelDir {
    /// Opens `dir`: every file must match the manifest; errors name the file.
    pub fn open(dir: &Path, options: &SessionOptions) -> Result<Self, InferenceError> {
        Self::open_with(dir, options, true)
    }

    /// Opens `dir` without its probe: for training a new one, whatever the
    /// old one was fitted on.
    pub fn open_without_probe(dir: &Path, options: &SessionOptions) -> Result<Self, InferenceError> {
        Self::open_with(dir, options, false)
    }

    fn open_with(dir: &Path, options: &SessionOptions, with_probe: bool) -> Result<Self, InferenceError> {
        let manifest = Manifest::read(dir)?;
        manifest.validate(dir)?;
        let model_path = dir.join(MODEL_FILE);
        let model = OnnxModel::load(&model_path, options)?;
        let cfg = &manifest.config;
        let d = model.dims();
        if (d.n_layer, d.n_head, d.n_embd, d.vocab_size) != (cfg.n_layer, cfg.n_head, cfg.n_embd, cfg.vocab_size) {
            return Err(InferenceError::Interface {
                path: model_path,
                reason: format!("graph sizes {d:?} differ from the manifest's configuration"),
            });
        }
        let tok_path = dir.join(TOKENIZER_FILE);
        let tokenizer = TraceTokenizer::load(&tok_path)
            .map_err(|e| InferenceError::ModelFile { path: tok_path.clone(), reason: e.to_string() })?;
        if tokenizer.vocab_size() != cfg.vocab_size {
            return Err(InferenceError::ModelFile {
                path: tok_path,
                reason: format!("vocabulary of {} tokens, the model has {}", tokenizer.vocab_size(), cfg.vocab_size),
            });
        }
        let students = StudentVectors::load(&dir.join(STUDENTS_FILE), &manifest)?;
        let probe = match with_probe && manifest.files.contains_key(PROBE_FILE) {
            true => Some(Probe::load(&dir.join(PROBE_FILE), cfg.n_embd)?),
            false => None,
        };
        let features = match manifest.files.contains_key(FEATURES_FILE) {
            true => Some(open_features(dir, &manifest, options)?),
            false => None,
        };
        let generator = Generator::new(model, tokenizer, cfg.n_positions());
        let opened = ModelDir { dir: dir.to_path_buf(), manifest, generator, students, probe, features };
        // A probe is only right on the features it was fitted on.
        if let Some(report) = opened.manifest.probe.as_ref().filter(|_| opened.probe.is_some()) {
            let fitted_on = report.get(PROBE_GRAPH_KEY).and_then(|v| v.as_str()).unwrap_or(MODEL_FILE);
            let reads = opened.probe_graph_file();
            if fitted_on != reads {
                return Err(InferenceError::Interface {
                    path: dir.join(PROBE_FILE),
                    reason: format!("the probe was fitted on {fitted_on}'s features but would read {reads}'s; train it again (pencil-trainer probe)"),
                });
            }
        }
        Ok(opened)
    }

    /// The graph the probe reads its features from: `features.onnx` when the
    /// directory has one, else the trace model itself.
    pub fn probe_model(&mut self) -> &mut OnnxModel {
        match self.features.as_mut() {
            Some(f) => f,
            None => self.generator.model(),
        }
    }

    /// The file [`Self::probe_model`] was loaded from.
    pub fn probe_graph_file(&self) -> &'static str {
        if self.features.is_some() {
            FEATURES_FILE
        } else {
            MODEL_FILE
        }
    }
}

/// Key of the probe report (the manifest's `probe` field) naming the graph whose features it was fitted on.
pub const PROBE_GRAPH_KEY: &str = "feature_graph";

/// Opens `features.onnx` and checks it against the manifest.
fn open_features(dir: &Path, manifest: &Manifest, options: &SessionOptions) -> Result<OnnxModel, InferenceError> {
    let path = dir.join(FEATURES_FILE);
    let graph = OnnxModel::load(&path, options)?;
    let cfg = &manifest.config;
    let d = graph.dims();
    let layers = manifest.features.as_ref().map_or(cfg.n_layer, |f| f.layers);
    if (d.n_layer, d.n_head, d.head_dim, d.n_embd) != (layers, cfg.n_head, cfg.head_dim(), cfg.n_embd) {
        return Err(InferenceError::Interface {
            path,
            reason: format!("feature graph sizes {d:?} differ from the manifest's ({layers} blocks of the model's configuration)"),
        });
    }
    Ok(graph)
}
