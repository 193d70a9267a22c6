//! The sandbox as the server uses it: started once, called off the async executor.
//! A program can be checked ahead, while the student pauses before pressing Run: the
//! sandbox's verdicts repeat (seeded randomness, a virtual clock for animation; only a
//! program reading the wall clock through `Date` may differ, as it would a moment
//! later anyway), so the run of the same text takes that verdict instead of running
//! the program again.

use pencil_sandbox::{Isolation, ResourceLoads, Sandbox, SandboxConfig, SandboxError, Verdict, WorkerCommand};
use std::sync::{Arc, Mutex, PoisonError};
use tokio::sync::OnceCell;

/// The hidden subcommand of `pencil-lsp` that serves as a sandbox worker process.
pub const WORKER_SUBCOMMAND: &str = "sandbox-worker";

/// Runtimes in worker processes of this executable (`pencil-lsp sandbox-worker`), under
/// the kernel's limits: how every sandbox that runs what a student typed is started.
pub fn contained() -> Isolation {
    Isolation::Process(WorkerCommand::current_exe([WORKER_SUBCOMMAND]))
}

/// The sandbox as students meet it: contained in worker processes, two of them (so that
/// one program that runs away does not hold up the others), and a resource that fails
/// to load only because the sandbox is offline is reported, not counted as an error
/// (`ResourceLoads::Unchecked`).
pub fn student_sandbox_config() -> SandboxConfig {
    SandboxConfig {
        resource_loads: ResourceLoads::Unchecked,
        isolation: contained(),
        pool_size: 2,
        ..SandboxConfig::default()
    }
}

/// Why a check gave no verdict.
#[derive(Debug, thiserror::Error)]
pub enum CheckError {
    /// The sandbox itself failed (not the student's program).
    #[error(transparent)]
    Sandbox(#[from] SandboxError),
    /// The blocking task was cancelled or panicked.
    #[error("the check was interrupted: {0}")]
    Interrupted(String),
}

/// The text last checked ahead and its verdict (set once the check ends; a run of
/// the same text that comes before then waits for it rather than checking twice).
type Ahead = Option<(Arc<str>, Arc<OnceCell<Verdict>>)>;

/// Cloneable handle to the sandbox's pool of warm runtimes.
#[derive(Clone)]
pub struct Checker {
    sandbox: Sandbox,
    ahead: Arc<Mutex<Ahead>>,
}

impl std::fmt::Debug for Checker {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Checker")
    }
}

impl Checker {
    /// Starts the sandbox (blocking: loads the compiler into each warm runtime).
    pub fn start(config: SandboxConfig) -> Result<Checker, SandboxError> {
        Ok(Checker { sandbox: Sandbox::new(config)?, ahead: Arc::default() })
    }

    /// Checks one program, blocking the calling thread.
    pub fn check_blocking(&self, source: &str) -> Result<Verdict, SandboxError> {
        self.sandbox.check(source)
    }

    /// Whether the program is compiled and cached.
    pub fn is_prepared(&self, source: &str) -> bool {
        self.sandbox.is_prepared(source)
    }

    /// Compiles one program ahead of its check, blocking the calling thread (the
    /// benchmark's baseline for checking ahead: compiled, not yet run).
    pub fn prepare_blocking(&self, source: &str) -> Result<bool, SandboxError> {
        self.sandbox.prepare(source)
    }

    /// Checks one program on the blocking pool, never on the async executor; a
    /// verdict checked ahead for exactly this text is taken (once) instead.
    pub async fn check(&self, source: String) -> Result<Verdict, CheckError> {
        let ahead = {
            let mut slot = self.ahead.lock().unwrap_or_else(PoisonError::into_inner);
            if slot.as_ref().is_some_and(|(text, _)| **text == *source) { slot.take() } else { None }
        };
        match ahead {
            Some((_, verdict)) => verdict.get_or_try_init(|| self.check_now(source)).await.cloned(),
            None => self.check_now(source).await,
        }
    }

    /// Checks `source` now and keeps the verdict for the next [`Checker::check`] of
    /// the same text (replacing any earlier one).
    pub async fn check_ahead(&self, source: Arc<str>) -> Result<(), CheckError> {
        let verdict = Arc::new(OnceCell::new());
        *self.ahead.lock().unwrap_or_else(PoisonError::into_inner) = Some((Arc::clone(&source), Arc::clone(&verdict)));
        verdict.get_or_try_init(|| self.check_now(source.to_string())).await.map(|_| ())
    }

    /// Whether a verdict for exactly `source` was checked ahead and is ready.
    pub fn is_checked_ahead(&self, source: &str) -> bool {
        let slot = self.ahead.lock().unwrap_or_else(PoisonError::into_inner);
        slot.as_ref().is_some_and(|(text, verdict)| **text == *source && verdict.initialized())
    }

    async fn check_now(&self, source: String) -> Result<Verdict, CheckError> {
        let sandbox = self.sandbox.clone();
        tokio::task::spawn_blocking(move || sandbox.check(&source))
            .await
            .map_err(|e| CheckError::Interrupted(e.to_string()))?
            .map_err(CheckError::from)
    }
}
