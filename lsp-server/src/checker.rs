//! The sandbox as the server uses it: started once, called off the async executor.

use pencil_sandbox::{ResourceLoads, Sandbox, SandboxConfig, SandboxError, Verdict};

/// The sandbox as students meet it: a resource that fails to load only because the
/// sandbox is offline is reported, not counted as an error (`ResourceLoads::Unchecked`).
pub fn student_sandbox_config() -> SandboxConfig {
    SandboxConfig { resource_loads: ResourceLoads::Unchecked, ..SandboxConfig::default() }
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

/// Cloneable handle to the sandbox's pool of warm runtimes.
#[derive(Clone)]
pub struct Checker {
    sandbox: Sandbox,
}

impl std::fmt::Debug for Checker {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Checker")
    }
}

impl Checker {
    /// Starts the sandbox (blocking: loads the compiler into each warm runtime).
    pub fn start(config: SandboxConfig) -> Result<Checker, SandboxError> {
        Ok(Checker { sandbox: Sandbox::new(config)? })
    }

    /// Checks one program, blocking the calling thread.
    pub fn check_blocking(&self, source: &str) -> Result<Verdict, SandboxError> {
        self.sandbox.check(source)
    }

    /// Compiles one program ahead of its check, on the blocking pool (true: compiled now).
    pub async fn prepare(&self, source: String) -> Result<bool, CheckError> {
        let sandbox = self.sandbox.clone();
        tokio::task::spawn_blocking(move || sandbox.prepare(&source))
            .await
            .map_err(|e| CheckError::Interrupted(e.to_string()))?
            .map_err(CheckError::from)
    }

    /// Whether the program is compiled and cached.
    pub fn is_prepared(&self, source: &str) -> bool {
        self.sandbox.is_prepared(source)
    }

    /// Compiles one program ahead of its check, blocking the calling thread.
    pub fn prepare_blocking(&self, source: &str) -> Result<bool, SandboxError> {
        self.sandbox.prepare(source)
    }

    /// Checks one program on the blocking pool, never on the async executor.
    pub async fn check(&self, source: String) -> Result<Verdict, CheckError> {
        let sandbox = self.sandbox.clone();
        tokio::task::spawn_blocking(move || sandbox.check(&source))
            .await
            .map_err(|e| CheckError::Interrupted(e.to_string()))?
            .map_err(CheckError::from)
    }
}
