//! Decides, like Pencil Code does, whether a student's program runs.
//!
//! The public surface is [`Sandbox`] (a pool of warm JavaScript runtimes),
//! [`Verdict`] (what a run says) and [`names`] (the globals the real runtime
//! defines, for rule-based fixes). Each runtime is a deno_core `JsRuntime` on
//! QuickJS holding Pencil Code's CoffeeScript compiler and a turtle runtime
//! that simulates time on a virtual clock.
//!
//! With [`Isolation::Process`] each runtime lives in a worker process
//! ([`serve_worker`], started as a subcommand of the embedding executable)
//! whose memory, CPU time and system calls the kernel bounds; the pool kills
//! and replaces a worker that passes its wall time or dies, and answers that run
//! with a `timeout` or an `out of memory` verdict.

mod containment;
pub mod drawing;
mod engine;
mod judge;
pub mod names;
mod pool;
mod process;
mod verdict;
mod watchdog;
mod wire;
mod worker;

pub use drawing::{DrawOp, Drawing, TurtleEnd};
pub use pool::{check_once, Sandbox};
pub use verdict::{Language, ProgramError, Status, Verdict};
pub use worker::serve_worker;

#[doc(hidden)]
pub use containment::lock_down_for_test;

use std::ffi::OsString;
use std::path::PathBuf;
use std::time::Duration;

/// How the sandbox bounds and sizes its runtimes.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct SandboxConfig {
    /// Real time one check may take (compiling the program, its CoffeeScript run and its
    /// JavaScript re-run together; one compile for [`Sandbox::prepare`]) before it counts as a hang.
    pub wall_time: Duration,
    /// Heap limit of one runtime, in bytes (the engine's own limit).
    pub memory_limit: usize,
    /// Where the runtimes live; only [`Isolation::Process`] puts them under kernel limits.
    #[serde(skip)]
    pub isolation: Isolation,
    /// Address space of one worker process (`RLIMIT_AS`), in bytes: what the kernel lets a
    /// runtime map in all, whatever the engine's heap accounting misses. Process isolation only.
    pub address_space_limit: usize,
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
            isolation: Isolation::InProcess,
            address_space_limit: DEFAULT_ADDRESS_SPACE_LIMIT,
            pool_size: 1,
            virtual_window: Duration::from_millis(5500),
            absolute_urls_fail: true,
            resource_loads: ResourceLoads::Fail,
            max_turtle_ops: 300_000,
            max_timer_callbacks: 100_000,
        }
    }
}

/// Default [`SandboxConfig::address_space_limit`]: 768 MiB. A `pencil-lsp` worker maps
/// about 110 MiB idle (166 MiB at its start-up peak; 26 MiB resident), which leaves the
/// 256 MiB heap and as much again for allocations the heap limit does not see; a program
/// that wants more ends with `out of memory`, or at its wall time, whichever comes first.
pub const DEFAULT_ADDRESS_SPACE_LIMIT: usize = 768 << 20;

/// Where a sandbox's runtimes run.
#[derive(Debug, Clone, Default)]
pub enum Isolation {
    /// On threads of this process. Only the engine bounds a program: its heap limit and
    /// wall-time interrupt, which an allocation or a loop inside one native call escapes.
    /// For trusted programs and the engine's own tests; never for what a student types.
    #[default]
    InProcess,
    /// In worker processes started from this command, which must call [`serve_worker`]
    /// (`pencil-lsp sandbox-worker` does). The kernel bounds each worker's address space
    /// and CPU time and, on Linux, denies it files, sockets and new processes; the pool kills
    /// and replaces a worker that passes its wall time.
    Process(WorkerCommand),
}

/// How to start a sandbox worker process.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WorkerCommand {
    /// The executable.
    pub program: PathBuf,
    /// Its arguments (the subcommand that calls [`serve_worker`]).
    pub args: Vec<OsString>,
}

impl WorkerCommand {
    /// The running executable with these arguments (`pencil-lsp sandbox-worker`).
    pub fn current_exe<I: IntoIterator<Item = S>, S: Into<OsString>>(args: I) -> WorkerCommand {
        // `/proc/self/exe` is what the kernel would give; it names this executable at spawn time.
        let program = std::env::current_exe().unwrap_or_else(|_| PathBuf::from("/proc/self/exe"));
        WorkerCommand { program, args: args.into_iter().map(Into::into).collect() }
    }
}

/// How a failed resource load (`wear`, `img`, `recolor`, `load`, ...) counts in the student's status.
///
/// The sandbox, like the paper's oracle, runs offline: every image, script or data file
/// a program loads from the web fails here, though it loads in Pencil Code, online. No
/// edit of the student's code fixes that, so an editor should not call it an error.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
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
    /// A worker process broke the protocol (not a program's failure: a defect or a broken worker).
    #[error("sandbox worker process: {0}")]
    Worker(String),
}
