//! The trace model, shared by training (`pencil-trainer`) and inference and
//! adaptation (`pencil-lsp`): configuration and presets, the candle model
//! with its student embedding module, and tokenizer loading.

pub mod adamw;
pub mod attention;
pub mod config;
pub mod cpu_pool;
pub mod cross_entropy;
pub mod fused;
mod gemm;
pub mod gpt;
pub mod head_loss;
pub mod linear;
#[cfg(test)]
mod op_tests;
pub mod rng;
pub mod student;
pub mod tokenizer;
pub mod vector_math;

pub use config::{ModelConfig, Preset};
pub use cross_entropy::masked_cross_entropy;
pub use gpt::{init_weights, Mode, TraceModel};
pub use student::{StudentEmbedding, UNSEEN_STUDENT_ROW};
pub use tokenizer::{SpecialIds, TraceTokenizer, SPECIAL_TOKENS};

/// Picks the compute device: the first CUDA GPU when built with the `cuda`
/// feature and one is present, else the CPU.
pub fn device(cpu_only: bool) -> candle_core::Result<candle_core::Device> {
    if cpu_only {
        return Ok(candle_core::Device::Cpu);
    }
    candle_core::Device::cuda_if_available(0)
}
