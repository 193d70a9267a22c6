//! Decides in-process, like Pencil Code does, whether a student's program runs.
//!
//! The public surface is [`Sandbox`] (a pool of warm JavaScript runtimes),
//! [`Verdict`] (what a run says) and [`names`] (the globals the real runtime
//! defines, for rule-based fixes).

pub mod names;
mod verdict;

pub use verdict::{Language, ProgramError, Status, Verdict};

use std::time::Duration;

/// How the sandbox bounds and sizes its runtimes.
#[derive(Debug, Clone)]
pub struct SandboxConfig {
    /// Real time one program may take before it counts as a hang.
    pub wall_time: Duration,
    /// Heap limit of one runtime, in bytes.
    pub memory_limit: usize,
    /// Number of warm runtimes (threads) in the pool.
    pub pool_size: usize,
}

impl Default for SandboxConfig {
    fn default() -> Self {
        SandboxConfig {
            wall_time: Duration::from_secs(2),
            memory_limit: 256 * 1024 * 1024,
            pool_size: 1,
        }
    }
}

/// What can stop the sandbox itself from giving a verdict (not a program's failure).
#[derive(Debug, thiserror::Error)]
pub enum SandboxError {
    /// A runtime could not be started or the embedded compiler failed to load.
    #[error("could not start a JavaScript runtime: {0}")]
    Startup(String),
    /// The runtime's worker thread died or went away.
    #[error("the sandbox's worker thread is gone")]
    WorkerGone,
}

/// Clone + Send + Sync handle to a pool of warm runtimes, each living on its own thread.
#[derive(Clone)]
pub struct Sandbox {
    config: SandboxConfig,
}

impl Sandbox {
    /// Starts `config.pool_size` runtimes, each with the compiler loaded.
    pub fn new(config: SandboxConfig) -> Result<Sandbox, SandboxError> {
        Ok(Sandbox { config })
    }

    /// Blocking: async callers use tokio::task::spawn_blocking.
    pub fn check(&self, source: &str) -> Result<Verdict, SandboxError> {
        let _ = (source, &self.config);
        Err(SandboxError::Startup("engine not built yet".into()))
    }
}
