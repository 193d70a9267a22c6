//! Running an exported trace model (`model.onnx` from `pencil-trainer
//! export`) with ONNX Runtime: session loading, KV cache, batched nucleus
//! sampling with the paper's stop rules, and the time-header knob.
//!
//! The ONNX Runtime library is loaded at run time ([`runtime`]); when it is
//! missing, loading a model fails with an error that says where it looked.

pub mod error;
pub mod generate;
pub mod likelihood;
pub mod manifest;
pub mod model_dir;
pub mod probe;
pub mod prompt;
pub mod runtime;
pub mod sampling;
pub mod session;
pub mod time_header;

pub use error::InferenceError;
pub use manifest::Manifest;
pub use model_dir::{ModelDir, StudentVectors};
pub use generate::{GenerationRequest, Generator, Sample, StopReason};
pub use likelihood::continuation_log_probs;
pub use probe::{pooled_features, prefix_before_last, prefix_prompt, window_start, PrefixMemos, Probe, ProbeOutput, HINT_RATE, PROBE_FILE};
pub use prompt::{next_state_prompt, next_state_prompt_from};
pub use sampling::SamplingParams;
pub use session::{GraphDims, KvCache, OnnxModel, SessionOptions, StepOutput};
pub use time_header::{next_state_header, EditSize};
