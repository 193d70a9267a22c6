//! The probe's features from the trace model: one forward pass over
//! "student soft token + title + programs so far" through the directory's
//! feature graph (`features.onnx`, else the model itself), mean-pooled hidden
//! state (`pencil_core::inference::probe::{prefix_prompt, pooled_features}`,
//! the same functions the language server calls).

use std::collections::HashMap;

use pencil_core::inference::{pooled_features, prefix_prompt, InferenceError, ModelDir};
use pencil_core::Trace;

/// Computes pooled features of trace prefixes with an opened model directory.
pub struct ModelFeatures<'a> {
    dir: &'a mut ModelDir,
    soft_by_row: HashMap<u32, Vec<f32>>,
    title_tokens: usize,
    max_len: usize,
}

impl<'a> ModelFeatures<'a> {
    /// Reads the title region and context length from the manifest's configuration.
    pub fn new(dir: &'a mut ModelDir) -> Self {
        let cfg = &dir.manifest.config;
        let (title_tokens, max_len) = (cfg.title_tokens, cfg.context);
        ModelFeatures { dir, soft_by_row: HashMap::new(), title_tokens, max_len }
    }

    /// Feature width (`n_embd`).
    pub fn width(&self) -> usize {
        self.dir.manifest.config.n_embd
    }

    /// The soft token of a student table row (cached: the MLP runs once per row).
    pub fn soft_token(&mut self, row: u32) -> Result<Vec<f32>, InferenceError> {
        if let Some(s) = self.soft_by_row.get(&row) {
            return Ok(s.clone());
        }
        let soft = self.dir.students.soft_token(&self.dir.students.row_vector(row)?)?;
        self.soft_by_row.insert(row, soft.clone());
        Ok(soft)
    }

    /// Features of the first `k` states of `trace`, read as student row `row`.
    pub fn features(&mut self, trace: &Trace, k: usize, row: u32) -> Result<Vec<f32>, InferenceError> {
        let (ids, soft) = self.prompt(trace, k, row)?;
        pooled_features(self.dir.probe_model(), &ids, &soft)
    }

    /// The full model's (`model.onnx`) mean-pooled final state of the same
    /// prompt: a second depth when the probe's graph is `features.onnx`.
    pub fn full_model_features(&mut self, trace: &Trace, k: usize, row: u32) -> Result<Vec<f32>, InferenceError> {
        let (ids, soft) = self.prompt(trace, k, row)?;
        pooled_features(self.dir.generator.model(), &ids, &soft)
    }

    fn prompt(&mut self, trace: &Trace, k: usize, row: u32) -> Result<(Vec<u32>, Vec<f32>), InferenceError> {
        let prefix = Trace {
            student: trace.student.clone(),
            title: trace.title.clone(),
            programs: trace.programs[..k.min(trace.programs.len())].to_vec(),
            eos: false,
            provenance: trace.provenance.clone(),
        };
        let ids = prefix_prompt(self.dir.generator.tokenizer(), &prefix, self.title_tokens, self.max_len)?;
        Ok((ids, self.soft_token(row)?))
    }
}
