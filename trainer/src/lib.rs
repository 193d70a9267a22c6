//! The trainer's library: everything the `pencil-trainer` subcommands do,
//! as plain functions the integration tests call directly.
//!
//! - [`scrub`]: the training-data scrub (names, URLs, short strings, name titles).
//! - [`cpu`]: CPU thread count and allocator settings for training.
//! - [`bpe`]: byte-level BPE tokenizer training and coverage report.
//! - [`synthetic`]: synthetic traces built one instruction per edit.
//! - [`splits`]: the paper's student/title splits.
//! - [`windows`]: token windows and their safetensors files.
//! - [`dataset`]: the dataset builder (variants, downsampling, manifest).
//! - [`optim`]: AdamW with a savable state, learning-rate schedule.
//! - [`train`]: the training loop and the run directory.
//! - [`bench`]: training throughput and MFU.
//! - [`export`]: the ONNX graph, students file and manifest of a model directory.
//! - [`probe`]: the backtracking probe of a model directory, its controls and report.
//! - [`variants_eval`]: the paper's Figures 2-3, trace vs last vs synthetic models.

pub mod adapt_eval;
pub mod bench;
pub mod bpe;
pub mod cpu;
pub mod dataset;
pub mod export;
pub mod optim;
pub mod probe;
pub mod recovery_eval;
/// The scrub lives in `pencil-core` (the export on a student's machine uses it too).
pub use pencil_core::scrub;
pub mod scrub_eval;
pub mod splits;
pub mod synthetic;
pub mod train;
pub mod variants_eval;
pub mod windows;
