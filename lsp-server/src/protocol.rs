//! Wire types of the coach's custom LSP methods, shared by the server, its tests and
//! the editor extensions. Version [`PROTOCOL_VERSION`]; the server announces it in
//! `initialize` as `capabilities.experimental.pencil.protocolVersion`.
//!
//! * `pencil/run` (request, client -> server): the student pressed Run.
//!   Params [`RunParams`]; result [`RunResult`]. The server records the program state,
//!   checks it in the sandbox, publishes diagnostics for the document and answers
//!   with the verdict.
//! * `pencil/hint` (notification, server -> client): a gentle hint to display
//!   ([`HintParams`]). Sent only by the model-backed coach, after a run whose
//!   backtracking risk is above the `hintThreshold` setting (default: the probe's
//!   threshold), at most once per title per `hintIntervalSeconds` of program time.
//! * `workspace/executeCommand` [`ACCEPT_FIX_COMMAND`] with `[hintId]`: attached to every
//!   quick fix so the store learns which hints the student accepted.

use serde::{Deserialize, Serialize};
use tower_lsp_server::gen_lsp_types::{Diagnostic, TextDocumentIdentifier};

/// Version of these wire types; bump on any incompatible change.
pub const PROTOCOL_VERSION: u32 = 1;

/// Method name of the run request.
pub const RUN_METHOD: &str = "pencil/run";

/// Method name of the hint notification.
pub const HINT_METHOD: &str = "pencil/hint";

/// Command the client runs after applying a quick fix; argument: the hint id.
pub const ACCEPT_FIX_COMMAND: &str = "pencil.acceptFix";

/// Params of `pencil/run`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RunParams {
    /// The document the student ran.
    pub text_document: TextDocumentIdentifier,
}

/// Result of `pencil/run`: the sandbox verdict in the student's terms.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub struct RunResult {
    /// `"ok" | "error" | "timeout" | "waits_for_input"`.
    pub status: RunStatus,
    /// Whether the paper would count this program as a successful execution.
    pub paper_success: bool,
    /// The same diagnostics the server publishes for the document.
    pub diagnostics: Vec<Diagnostic>,
    /// The id of the recorded program state, when the store is available.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub state_id: Option<i64>,
    /// How many verified quick fixes the code action request will offer.
    #[serde(default)]
    pub fixes: usize,
}

/// Student-facing status of a run (mirrors the sandbox's `Status`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RunStatus {
    /// Ran to the end.
    Ok,
    /// Failed to compile or threw.
    Error,
    /// Ran past its time budget.
    Timeout,
    /// Stopped waiting for input.
    WaitsForInput,
}

impl From<pencil_sandbox::Status> for RunStatus {
    fn from(s: pencil_sandbox::Status) -> Self {
        match s {
            pencil_sandbox::Status::Ok => RunStatus::Ok,
            pencil_sandbox::Status::Error => RunStatus::Error,
            pencil_sandbox::Status::Timeout => RunStatus::Timeout,
            pencil_sandbox::Status::WaitsForInput => RunStatus::WaitsForInput,
        }
    }
}

/// Params of `pencil/hint`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct HintParams {
    /// The document the hint is about.
    pub text_document: TextDocumentIdentifier,
    /// The sentence to show the student.
    pub message: String,
    /// The model's backtracking risk in [0, 1] that triggered the hint.
    pub risk: f64,
    /// Store id of the hint, for acceptance tracking (-1 when the store is unavailable).
    pub hint_id: i64,
}

/// `pencil/hint` as a typed notification, for `Client::send_notification`.
#[derive(Debug)]
pub enum HintNotification {}

impl tower_lsp_server::gen_lsp_types::Notification for HintNotification {
    type Params = HintParams;
    const METHOD: tower_lsp_server::gen_lsp_types::LspNotificationMethod<'static> =
        tower_lsp_server::gen_lsp_types::LspNotificationMethod::Custom(HINT_METHOD);
    const MESSAGE_DIRECTION: tower_lsp_server::gen_lsp_types::MessageDirection =
        tower_lsp_server::gen_lsp_types::MessageDirection::ServerToClient;
}
