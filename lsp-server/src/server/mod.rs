//! The LSP server: state, the routing table, and the transports.
//!
//! Handlers may run concurrently and out of order (tower-lsp-server), so every state
//! change (`didOpen`, `didChange`, `didClose`) finishes under one short lock before
//! the handler's first `.await`, and no lock is held across an `.await`.

mod actions;
mod api;
mod backtracking;
mod ahead;
mod codec;
pub mod confirm;
mod confirm_page;
mod http;
mod listen;
mod model_switch;
mod retention;
mod transport;
pub mod trust;
mod wire_guard;

pub use listen::{run_listen, ListenArgs};
pub use transport::{run_stdio, run_websocket, ListenConfig, ListenError, MAX_SESSIONS};
use trust::Peer;

use crate::pipeline::Services;
use crate::protocol::{RUN_METHOD, TRACE_METHOD};
use crate::session::Session;
use std::path::PathBuf;
use crate::coach::hints::HintState;
use std::sync::atomic::{AtomicBool, AtomicI32};
use std::sync::{Arc, Mutex, MutexGuard, OnceLock};
use tower_lsp_server::gen_lsp_types::*;
use tower_lsp_server::jsonrpc::Result;
use tower_lsp_server::{Client, ClientSocket, LanguageServer, LspService};

/// Options from the command line that shape every session.
#[derive(Debug, Clone, Default)]
pub struct ServerOptions {
    /// `--data-dir`: where the store lives unless the client says otherwise.
    pub data_dir: Option<PathBuf>,
    /// `--model`: the model directory unless the client's `modelDir` says otherwise.
    pub model_dir: Option<PathBuf>,
}

/// One client's language server.
pub struct PencilServer {
    client: Client,
    session: Mutex<Session>,
    services: OnceLock<Services>,
    options: ServerOptions,
    /// Set once the "what is missing" message has been shown.
    told_missing: AtomicBool,
    /// Backtracking-hint bookkeeping, shared with background risk tasks.
    hints: Arc<Mutex<HintState>>,
    /// Numbers for server-created progress tokens.
    progress_tokens: AtomicI32,
    /// Checks the text the student is editing once it is still, and reads its trace (see `ahead`).
    ahead: Arc<ahead::WorkAhead>,
    /// Loads the model a changed `modelDir` names (see `model_switch`).
    model_switch: Arc<model_switch::ModelSwitch>,
    /// Removes program states older than `retentionDays` (see `retention`).
    retention: retention::Retention,
    /// Learns the student's own vector after finished traces (see `crate::adaptation`).
    adapter: OnceLock<crate::adaptation::Adapter>,
    /// Who the client is: over WebSocket, settings that name files are ignored (`trust`).
    peer: Peer,
    /// Over WebSocket: where guarded methods file their confirmations (`confirm`).
    link: Option<confirm_page::Link>,
}

impl PencilServer {
    fn new(client: Client, options: ServerOptions, peer: Peer, link: Option<confirm_page::Link>) -> PencilServer {
        PencilServer {
            client,
            peer,
            link,
            session: Mutex::new(Session::default()),
            services: OnceLock::new(),
            options,
            told_missing: AtomicBool::new(false),
            hints: Arc::default(),
            progress_tokens: AtomicI32::new(1),
            ahead: Arc::default(),
            model_switch: Arc::default(),
            retention: retention::Retention::default(),
            adapter: OnceLock::new(),
        }
    }

    /// The session, locked briefly; a panic elsewhere never wedges the server.
    fn session(&self) -> MutexGuard<'_, Session> {
        self.session.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// The hint bookkeeping, locked briefly.
    fn hints_state(&self) -> MutexGuard<'_, HintState> {
        self.hints.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// After an edit: check the document's text, and read its trace, once it has been still a moment.
    fn work_ahead_soon(&self, uri: &Uri) {
        let text = self.session().documents.text(uri).ok().map(|d| Arc::<str>::from(d.text()));
        if let Some(text) = text {
            let services = services(self);
            let risk = services.filter(|s| s.coach.engine().is_some()).map(|s| ahead::RiskAhead {
                services: s.clone(),
                student: s.local_student(),
                title: crate::session::title_of(uri),
            });
            self.ahead.edited(services.and_then(|s| s.checker.clone()), risk, uri, text);
        }
    }

    /// A fresh token for server-initiated `$/progress`.
    fn next_progress_token(&self) -> i32 {
        self.progress_tokens.fetch_add(1, std::sync::atomic::Ordering::Relaxed)
    }

    /// `pencil/run` (custom request).
    async fn run(&self, params: crate::protocol::RunParams) -> Result<crate::protocol::RunResult> {
        api::requests::run::handle(self, params).await
    }

    /// `pencil/trace` (custom request; guarded over WebSocket).
    async fn trace(&self, params: crate::protocol::TraceParams) -> Result<serde_json::Value> {
        api::requests::trace::handle(self, params).await
    }

    /// `pencil/class/show`.
    async fn class_show(&self) -> Result<serde_json::Value> {
        api::requests::guarded::class_show(self).await
    }

    /// `pencil/class/join` (guarded).
    async fn class_join(&self, params: api::requests::guarded::JoinParams) -> Result<serde_json::Value> {
        api::requests::guarded::class_join(self, params).await
    }

    /// `pencil/research/studies`.
    async fn studies(&self) -> Result<serde_json::Value> {
        api::requests::guarded::studies(self).await
    }

    /// `pencil/research/study`.
    async fn study(&self, params: api::requests::guarded::StudyParams) -> Result<serde_json::Value> {
        api::requests::guarded::study(self, params).await
    }

    /// `pencil/research/receipts`.
    async fn receipts(&self) -> Result<serde_json::Value> {
        api::requests::guarded::receipts(self).await
    }

    /// `pencil/research/consent` (guarded).
    async fn consent(&self, params: api::requests::guarded::ConsentParams) -> Result<serde_json::Value> {
        api::requests::guarded::consent(self, params).await
    }

    /// `pencil/research/send` (guarded).
    async fn send(&self, params: api::requests::guarded::SendParams) -> Result<serde_json::Value> {
        api::requests::guarded::send(self, params).await
    }

    /// `pencil/research/withdraw` (guarded).
    async fn withdraw(&self, params: api::requests::guarded::StudyParams) -> Result<serde_json::Value> {
        api::requests::guarded::withdraw(self, params).await
    }
}

/// Builds the service for one client connection, with the custom methods registered.
/// `link` is where a WebSocket session files the confirmations its guarded methods need.
pub fn service(options: ServerOptions, peer: Peer, link: Option<confirm_page::Link>) -> (LspService<PencilServer>, ClientSocket) {
    use trust::*;
    LspService::build(|client| PencilServer::new(client, options, peer, link))
        .custom_method(RUN_METHOD, PencilServer::run)
        .custom_method(TRACE_METHOD, PencilServer::trace)
        .custom_method(CLASS_SHOW_METHOD, PencilServer::class_show)
        .custom_method(CLASS_JOIN_METHOD, PencilServer::class_join)
        .custom_method(STUDIES_METHOD, PencilServer::studies)
        .custom_method(STUDY_METHOD, PencilServer::study)
        .custom_method(RECEIPTS_METHOD, PencilServer::receipts)
        .custom_method(CONSENT_METHOD, PencilServer::consent)
        .custom_method(SEND_METHOD, PencilServer::send)
        .custom_method(WITHDRAW_METHOD, PencilServer::withdraw)
        .finish()
}

/// The routing table: one line per LSP method, each handled in its own file under `api/`.
/// Notifications that change documents do so before their first `.await`.
impl LanguageServer for PencilServer {
    async fn initialize(&self, params: InitializeParams) -> Result<InitializeResult> {
        api::requests::initialize::handle(self, params).await
    }
    async fn initialized(&self, _: InitializedParams) {
        api::notifications::initialized::handle(self).await;
    }
    async fn shutdown(&self) -> Result<()> {
        Ok(())
    }
    async fn did_open(&self, params: DidOpenTextDocumentParams) {
        api::notifications::did_open::handle(self, params).await;
    }
    async fn did_change(&self, params: DidChangeTextDocumentParams) {
        api::notifications::did_change::handle(self, params).await;
    }
    async fn did_save(&self, params: DidSaveTextDocumentParams) {
        api::notifications::did_save::handle(self, params).await;
    }
    async fn did_close(&self, params: DidCloseTextDocumentParams) {
        api::notifications::did_close::handle(self, params).await;
    }
    async fn did_change_configuration(&self, params: DidChangeConfigurationParams) {
        api::notifications::did_change_configuration::handle(self, params).await;
    }
    async fn code_action(&self, params: CodeActionParams) -> Result<Option<Vec<CodeActionResponse>>> {
        api::requests::code_action::handle(self, params).await
    }
    async fn execute_command(&self, params: ExecuteCommandParams) -> Result<Option<LspAny>> {
        api::requests::execute_command::handle(self, params).await
    }
}

/// Sends logs to stderr (stdout is the protocol); `RUST_LOG` filters them.
pub fn init_logging() {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let _ = tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr).with_ansi(false).try_init();
}

/// Shared access for the handlers in `api/`.
pub(crate) fn services(server: &PencilServer) -> Option<&Services> {
    server.services.get()
}
