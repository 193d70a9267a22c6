//! Shared helpers for the sandbox's integration tests.
#![allow(dead_code)]

use pencil_sandbox::{Isolation, Sandbox, SandboxConfig, Verdict, WorkerCommand};
use std::path::PathBuf;
use std::sync::OnceLock;

/// The default settings, with runtimes in worker processes (this crate's
/// `pencil-sandbox-worker`), as `pencil-lsp` runs them.
pub fn contained() -> SandboxConfig {
    SandboxConfig { isolation: Isolation::Process(worker_command()), ..SandboxConfig::default() }
}

/// The sandbox worker executable built with these tests.
pub fn worker_command() -> WorkerCommand {
    WorkerCommand { program: PathBuf::from(env!("CARGO_BIN_EXE_pencil-sandbox-worker")), args: Vec::new() }
}

/// One warm pool per test binary (runtimes cost ~0.3 s to start).
pub fn sandbox() -> &'static Sandbox {
    static SANDBOX: OnceLock<Sandbox> = OnceLock::new();
    SANDBOX.get_or_init(|| Sandbox::new(SandboxConfig { pool_size: 2, ..contained() }).expect("sandbox starts"))
}

/// Checks one program on the shared pool.
pub fn verdict(src: &str) -> Verdict {
    sandbox().check(src).expect("the sandbox answers")
}

/// One labelled program of the Chromium oracle.
#[derive(serde::Deserialize)]
pub struct Label {
    pub id: String,
    pub code: String,
    pub success: bool,
    pub class: String,
}

/// The oracle's labels (`shared/data/oracle/labels.jsonl.gz`, or `$PENCIL_ORACLE_LABELS`).
pub fn oracle_labels() -> Vec<Label> {
    use std::io::BufRead;
    let path = std::env::var_os("PENCIL_ORACLE_LABELS").map(PathBuf::from).unwrap_or_else(|| {
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../shared/data/oracle/labels.jsonl.gz")
    });
    let file = std::fs::File::open(&path).unwrap_or_else(|e| panic!("opening {}: {e}", path.display()));
    std::io::BufReader::new(flate2::read::GzDecoder::new(file))
        .lines()
        .map(|l| serde_json::from_str(&l.expect("a line")).expect("a label"))
        .collect()
}
