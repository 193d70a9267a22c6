//! Wire types of the coach's custom LSP methods, shared by the server, its tests and
//! the editor extensions. Version [`PROTOCOL_VERSION`]; the server announces it in
//! `initialize` as `capabilities.experimental.pencil.protocolVersion`.
//!
//! * `pencil/run` (request, client -> server): the student pressed Run.
//!   Params [`RunParams`]; result [`RunResult`]. The server records the program state,
//!   checks it in the sandbox, publishes diagnostics for the document and answers
//!   with the verdict, and (since version 2, when asked with `"drawing": true`) what
//!   the turtles drew.
//! * `pencil/trace` (request, client -> server, version 2): this document's title's
//!   recorded program states, each with its diff to the one before ([`TraceParams`],
//!   [`TraceResult`]). Not over WebSocket: a page could read stored code with it.
//! * `pencil/hint` (notification, server -> client): a gentle hint to display
//!   ([`HintParams`]). Sent only by the model-backed coach, after a run whose
//!   backtracking risk is above the `hintThreshold` setting (default: the probe's
//!   threshold), at most once per title per `hintIntervalSeconds` of program time.
//! * `workspace/executeCommand` [`ACCEPT_FIX_COMMAND`] with `[hintId]`: attached to every
//!   quick fix so the store learns which hints the student accepted.
//! * `workspace/executeCommand` [`DISMISS_HINT_COMMAND`] with `[hintId]`: the student
//!   dismissed a `pencil/hint` (in a class, the next run event says so).
//! * `workspace/executeCommand` [`REFLECT_COMMAND`] with `[uri, text]`: under a
//!   reflect-first class policy, what the student thinks is wrong with the document's
//!   failing run (kept in the local store only); fixes are offered afterwards. The
//!   code action that stands in for the withheld fixes carries it with `[uri]` only:
//!   the client asks the student for the text and calls it again with both.
//!   Answers [`CommandMessage`].
//! * `workspace/executeCommand` [`ASK_TEACHER_COMMAND`] with `[AskTeacherArgs]`:
//!   "Ask my teacher" — the document's current text (and, with `shareTrace`, its
//!   title's recorded states) is queued for the class's hub. Answers [`CommandMessage`];
//!   the teacher's reply arrives later as `window/showMessage`. Over WebSocket,
//!   `shareTrace` is filed for the student's confirmation like the guarded methods
//!   (error -32010, then `pencil/confirmation`).

use serde::{Deserialize, Serialize};
use tower_lsp_server::gen_lsp_types::{Diagnostic, TextDocumentIdentifier};

/// Version of these wire types; bump on any incompatible change.
pub const PROTOCOL_VERSION: u32 = 2;

/// Method name of the trace request.
pub const TRACE_METHOD: &str = "pencil/trace";

/// Most states one `pencil/trace` answer holds.
pub const MAX_TRACE_STATES: usize = 500;

/// Method name of the run request.
pub const RUN_METHOD: &str = "pencil/run";

/// Method name of the hint notification.
pub const HINT_METHOD: &str = "pencil/hint";

/// Command the client runs after applying a quick fix; argument: the hint id.
pub const ACCEPT_FIX_COMMAND: &str = "pencil.acceptFix";

/// Command: the student dismissed a hint; argument: the hint id.
pub const DISMISS_HINT_COMMAND: &str = "pencil.dismissHint";

/// Command: the student's reflection before fixes are shown; arguments `[uri, text]`.
pub const REFLECT_COMMAND: &str = "pencil.reflect";

/// Command: "Ask my teacher"; argument: one [`AskTeacherArgs`].
pub const ASK_TEACHER_COMMAND: &str = "pencil.askTeacher";

/// The argument of [`ASK_TEACHER_COMMAND`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AskTeacherArgs {
    /// The open document to send (its current text).
    pub uri: String,
    /// What the student wants to say.
    #[serde(default)]
    pub message: Option<String>,
    /// The student agreed to send this title's recorded states too.
    #[serde(default)]
    pub share_trace: bool,
}

/// What [`REFLECT_COMMAND`] and [`ASK_TEACHER_COMMAND`] answer: a sentence to show.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CommandMessage {
    pub message: String,
}

/// Params of `pencil/run`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RunParams {
    /// The document the student ran.
    pub text_document: TextDocumentIdentifier,
    /// Version 2: answer with the drawing too (version 1 clients leave it out).
    #[serde(default)]
    pub drawing: bool,
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
    /// What the turtles drew, when asked for and the program ran (compile errors,
    /// timeouts and runs out of memory have none).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub drawing: Option<pencil_sandbox::Drawing>,
}

/// Params of `pencil/trace`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TraceParams {
    /// A document of the title whose trace to show.
    pub text_document: TextDocumentIdentifier,
    /// The last `limit` states (default and most: [`MAX_TRACE_STATES`]).
    #[serde(default)]
    pub limit: Option<usize>,
}

/// Result of `pencil/trace`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TraceResult {
    /// The title (assignment) the states belong to.
    pub title: String,
    /// Oldest first.
    pub states: Vec<TraceState>,
    /// Older states were left out (see `limit`).
    pub truncated: bool,
}

/// One recorded program state in a [`TraceResult`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TraceState {
    /// Store id.
    pub id: i64,
    /// 1-based position in the trace.
    pub n: i64,
    /// Latest run time, `YYYY-MM-DD HH:MM:SS`.
    pub time: String,
    /// How many runs collapsed into this state.
    pub runs: i64,
    /// `ok | error | timeout | waits_for_input`, or none when never checked.
    pub status: Option<String>,
    /// The program.
    pub code: String,
    /// Unified line diff from the state before ("" for the first).
    pub diff: String,
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
