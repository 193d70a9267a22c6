//! `pencil-trainer export`: turns a training run into a model directory the
//! language server loads (`model.onnx`, `tokenizer.json`,
//! `students.safetensors`, `manifest.json`).
//!
//! - [`onnx_graph`]: the trace model as an ONNX graph, written from Rust.
//! The manifest format lives in `pencil_core::inference::manifest` (the server reads it).

pub mod onnx_graph;
#[cfg(test)]
mod parity_tests;

use std::collections::HashMap;
use std::path::Path;

use anyhow::Context;
use candle_core::Tensor;
use pencil_core::model::ModelConfig;
use prost::Message;

/// Writes `model.onnx` for `cfg` and `weights` to `path`; returns its size in bytes.
pub fn write_onnx(cfg: &ModelConfig, weights: &HashMap<String, Tensor>, path: &Path) -> anyhow::Result<u64> {
    let model = onnx_graph::build_model(cfg, weights)?;
    let bytes = model.encode_to_vec();
    std::fs::write(path, &bytes).with_context(|| format!("writing {}", path.display()))?;
    Ok(bytes.len() as u64)
}
