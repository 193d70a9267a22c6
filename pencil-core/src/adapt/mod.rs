//! Adapting the trace model to one student: fit the student's vector (the input
//! of the student MLP) on the traces they wrote, with every other weight frozen,
//! as the paper's §4.4 does for students the model never saw. Candle on the CPU;
//! no threads of its own, so the caller decides where and how it runs.
//!
//! - [`weights`]: the transformer's weights read back from `model.onnx`'s
//!   initializers (int8 ones dequantized), so a model directory needs no second
//!   copy of them, plus the student module from `students.safetensors`.
//! - [`fit`]: the student's texts (scrubbed and written exactly as training
//!   texts, capped) and the fit itself: bounded, cancellable, early-stopped on a
//!   held-back trace when there are enough.

pub mod fit;
pub mod weights;

pub use fit::{adapt_vector, adapt_vector_observed, adaptation_texts, AdaptText, mean_loss, AdaptOptions, AdaptStop, Adapted, AdaptationDefaults};
pub use weights::{load_trace_model, transformer_weights};

use std::path::PathBuf;

use crate::model::tokenizer::TokenizerError;

/// Why an adaptation did not produce a vector.
#[derive(Debug, thiserror::Error)]
pub enum AdaptError {
    /// A model file could not be read or does not hold what the model needs.
    #[error("{path}: {reason}")]
    ModelFile {
        /// The file.
        path: PathBuf,
        /// What is wrong with it.
        reason: String,
    },
    /// The tokenizer failed on a trace.
    #[error(transparent)]
    Tokenizer(#[from] TokenizerError),
    /// A tensor operation failed.
    #[error("adaptation failed: {0}")]
    Tensor(#[from] candle_core::Error),
    /// No trace was left to learn from (none recorded, or all dropped by the scrub).
    #[error("no finished trace to learn from")]
    NoTraces,
    /// The caller asked it to stop.
    #[error("adaptation cancelled")]
    Cancelled,
}
