//! Decides in-process, like Pencil Code does, whether a student's program runs.
//!
//! The public surface is [`Sandbox`] (a pool of warm JavaScript runtimes),
//! [`Verdict`] (what a run says) and [`names`] (the globals the real runtime
//! defines, for rule-based fixes). Each runtime is a deno_core `JsRuntime` on
//! QuickJS holding Pencil Code's CoffeeScript compiler and a turtle runtime
//! that simulates time on a virtual clock.

mod engine;
mod judge;
pub mod names;
mod pool;
mod verdict;
mod watchdog;

pub use pool::{check_once, Sandbox};
pub use verdict::{Language, ProgramError, Status, Verdict};

use std::time::Duration;

/// How the sandbox bounds and sizes its runtimes.
#[derive(Debug, Clone)]
pub struct SandboxConfig {
    /// Real time one call into a runtime (compile, or one run) may take before it counts as a hang.
    pub wall_time: Duration,
    /// Heap limit of one runtime, in bytes.
    pub memory_limit: usize,
    /// Number of warm runtimes (threads) in the pool.
    pub pool_size: usize,
    /// Virtual time after load during which the paper's harness collected errors and END.
    pub virtual_window: Duration,
    /// Whether absolute `http(s)` resources fail to load (the offline oracle says they do).
    pub absolute_urls_fail: bool,
    /// Whether a resource the sandbox cannot load makes the student's `status` an error
    /// (the paper's verdict, `paper_success`, always counts it).
    pub resource_loads: ResourceLoads,
    /// Turtle commands one run may issue before the page counts as hung.
    pub max_turtle_ops: u64,
    /// Timer callbacks (`forever`, `tick`, `setTimeout`...) one run may fire in the window.
    pub max_timer_callbacks: u64,
}

impl Default for SandboxConfig {
    fn default() -> Self {
        SandboxConfig {
            wall_time: Duration::from_secs(2),
            memory_limit: 256 * 1024 * 1024,
            pool_size: 1,
            virtual_window: Duration::from_millis(5500),
            absolute_urls_fail: true,
            resource_loads: ResourceLoads::Fail,
            max_turtle_ops: 300_000,
            max_timer_callbacks: 100_000,
        }
    }
}

/// How a failed resource load (`wear`, `img`, `recolor`, `load`, ...) counts in the student's status.
///
/// The sandbox, like the paper's oracle, runs offline: every image, script or data file
/// a program loads from the web fails here, though it loads in Pencil Code, online. No
/// edit of the student's code fixes that, so an editor should not call it an error.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ResourceLoads {
    /// A failed load is an error, as in the offline oracle.
    #[default]
    Fail,
    /// A failed load is left unchecked: the status comes from the program's other errors,
    /// and the first such load is reported in [`Verdict::unchecked_load`].
    Unchecked,
}

/// What can stop the sandbox itself from giving a verdict (not a program's failure).
#[derive(Debug, thiserror::Error)]
pub enum SandboxError {
    /// A runtime could not be started or the embedded compiler failed to load.
    #[error("could not start a JavaScript runtime: {0}")]
    Startup(String),
    /// The sandbox's own JavaScript failed (a defect in the sandbox, not in the program).
    #[error("sandbox host error: {0}")]
    Host(String),
    /// The runtime's worker thread died or went away.
    #[error("the sandbox's worker thread is gone")]
    WorkerGone,
}
