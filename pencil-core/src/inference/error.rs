//! Everything that can go wrong loading or running an exported model.

use std::path::PathBuf;

/// An exported model could not be loaded or run.
#[derive(Debug, thiserror::Error)]
pub enum InferenceError {
    /// No ONNX Runtime library was found.
    #[error(
        "ONNX Runtime library not found (set ORT_DYLIB_PATH or run scripts/setup.sh); looked at: {}",
        looked.iter().map(|p| p.display().to_string()).collect::<Vec<_>>().join(", ")
    )]
    RuntimeNotFound {
        /// Every path tried, in order.
        looked: Vec<PathBuf>,
    },
    /// The ONNX Runtime library exists but could not be loaded.
    #[error("cannot load ONNX Runtime from {path}: {reason}")]
    RuntimeLoad {
        /// The library file.
        path: PathBuf,
        /// What went wrong.
        reason: String,
    },
    /// A model file is missing, unreadable or not what it should be.
    #[error("{path}: {reason}")]
    ModelFile {
        /// The offending file.
        path: PathBuf,
        /// What went wrong.
        reason: String,
    },
    /// The graph does not have the inputs and outputs an exported trace model has.
    #[error("{path}: not an exported trace model: {reason}")]
    Interface {
        /// The model file.
        path: PathBuf,
        /// The missing or malformed input or output.
        reason: String,
    },
    /// ONNX Runtime failed while running the graph.
    #[error("running the model failed: {0}")]
    Run(String),
    /// The caller's arguments do not fit the model.
    #[error("invalid request: {0}")]
    Request(String),
    /// The tokenizer failed.
    #[error(transparent)]
    Tokenizer(#[from] crate::model::tokenizer::TokenizerError),
}

impl InferenceError {
    pub(crate) fn run(e: impl std::fmt::Display) -> Self {
        InferenceError::Run(e.to_string())
    }
}
