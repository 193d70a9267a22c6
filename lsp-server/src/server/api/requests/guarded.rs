//! The class and research methods of the page, and the one path every guarded method
//! (`trust::NEEDS_STUDENT_CONFIRMATION`) takes: over stdio the action is done at once;
//! over WebSocket it is only checked and filed, and the request answers the error
//! [`CONFIRMATION_NEEDED`] whose data names the confirmation page; the outcome comes
//! later as `pencil/confirmation`.

use crate::error::ServerError;
use crate::server::actions::{self, Action, Context};
use crate::server::confirm::CONFIRM_TTL;
use crate::server::confirm_page::{self, Pending};
use crate::server::trust::Peer;
use crate::server::{services, PencilServer};
use pencil_core::research::ConsentBy;
use serde::Deserialize;
use serde_json::{json, Value};
use tower_lsp_server::jsonrpc::{Error, ErrorCode, Result};

/// The JSON-RPC error code of a guarded request filed for confirmation (not done).
pub const CONFIRMATION_NEEDED: i64 = -32010;

/// Params of `pencil/class/join`.
#[derive(Debug, Deserialize)]
pub struct JoinParams {
    /// The hub's address.
    pub hub: String,
    /// The class code.
    pub code: String,
    /// The name the teacher sees.
    pub name: String,
}

/// Params naming one study.
#[derive(Debug, Deserialize)]
pub struct StudyParams {
    /// The study id.
    pub study: String,
}

/// Params of `pencil/research/consent`.
#[derive(Debug, Deserialize)]
pub struct ConsentParams {
    /// The study id.
    pub study: String,
    /// `student`, `parent` or `school`.
    pub by: String,
    /// The student's age, when the study's age rule needs it (not stored).
    #[serde(default)]
    pub age: Option<u32>,
}

/// Params of `pencil/research/send`.
#[derive(Debug, Deserialize)]
pub struct SendParams {
    /// The study id.
    pub study: String,
    /// Over stdio: send only bytes with this SHA-256 (over WebSocket the confirmation page shows them).
    #[serde(default)]
    pub sha256: Option<String>,
}

fn context(server: &PencilServer) -> Context {
    let data_dir = server.session().settings.data_dir.clone();
    Context { data_dir, store: services(server).and_then(|s| s.store.clone()) }
}

/// Runs a blocking read or action off the executor; its error in the student's words.
async fn blocking<R: Send + 'static>(f: impl FnOnce() -> std::result::Result<R, String> + Send + 'static) -> Result<R> {
    let answer = tokio::task::spawn_blocking(f).await.unwrap_or_else(|e| Err(format!("interrupted ({e})")));
    answer.map_err(|why| ServerError::Declined(why).into())
}

/// Does `action` (stdio) or files it for the student's confirmation (WebSocket).
pub(in crate::server) async fn guarded(server: &PencilServer, action: Action) -> Result<Value> {
    let ctx = context(server);
    let link = match (server.peer, &server.link) {
        (Peer::Stdio, _) => {
            let done = blocking(move || {
                let mut action = action;
                actions::prepare(&mut action, &ctx, "Your editor")?;
                actions::execute(action, &ctx)
            })
            .await?;
            return Ok(json!({ "message": done.message, "result": done.result }));
        }
        (Peer::WebSocket, Some(link)) => link,
        (Peer::WebSocket, None) => return Err(ServerError::Declined("this connection cannot ask for confirmations".into()).into()),
    };
    let requester = link.requester.clone();
    let prepared_ctx = ctx.clone();
    let (action, words) = blocking(move || {
        let mut action = action;
        let words = actions::prepare(&mut action, &prepared_ctx, &requester)?;
        Ok((action, words))
    })
    .await?;
    let pending = Pending { action, words, ctx, client: server.client.clone() };
    let id = confirm_page::file(link, pending).map_err(|e| ServerError::Declined(e.to_string()))?;
    tracing::info!("filed a confirmation for the student");
    Err(Error {
        code: ErrorCode::ServerError(CONFIRMATION_NEEDED),
        message: "waiting for the student to confirm in the coach's window (nothing was done yet)".into(),
        data: Some(json!({ "id": id, "url": link.url(&id), "expiresInSeconds": CONFIRM_TTL.as_secs() })),
    })
}

pub(in crate::server) async fn class_show(server: &PencilServer) -> Result<Value> {
    let ctx = context(server);
    blocking(move || actions::class_info(&ctx)).await
}

pub(in crate::server) async fn class_join(server: &PencilServer, p: JoinParams) -> Result<Value> {
    guarded(server, Action::JoinClass { hub: p.hub, code: p.code, name: p.name }).await
}

pub(in crate::server) async fn studies(server: &PencilServer) -> Result<Value> {
    let ctx = context(server);
    blocking(move || actions::studies(&ctx)).await
}

pub(in crate::server) async fn study(server: &PencilServer, p: StudyParams) -> Result<Value> {
    let ctx = context(server);
    blocking(move || actions::study_json(&ctx, &p.study)).await
}

pub(in crate::server) async fn receipts(server: &PencilServer) -> Result<Value> {
    let ctx = context(server);
    blocking(move || actions::receipts(&ctx)).await
}

pub(in crate::server) async fn consent(server: &PencilServer, p: ConsentParams) -> Result<Value> {
    let by = ConsentBy::parse(&p.by).ok_or_else(|| ServerError::InvalidParams("\"by\" is student, parent or school".into()))?;
    guarded(server, Action::Consent { study: p.study, by, age: p.age }).await
}

pub(in crate::server) async fn send(server: &PencilServer, p: SendParams) -> Result<Value> {
    guarded(server, Action::Send { study: p.study, sha256: p.sha256 }).await
}

pub(in crate::server) async fn withdraw(server: &PencilServer, p: StudyParams) -> Result<Value> {
    guarded(server, Action::Withdraw { study: p.study }).await
}
