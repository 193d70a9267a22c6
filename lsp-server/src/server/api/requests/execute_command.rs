//! `workspace/executeCommand`: `pencil.acceptFix [hintId]` and `pencil.dismissHint
//! [hintId]` record what the student did with a hint; `pencil.reflect [uri, text]`
//! records the student's reflection under a reflect-first policy; `pencil.askTeacher
//! [{uri, message, shareTrace}]` raises a hand in the class joined.

use crate::classroom::{hands::Ask, live, reflect};
use crate::clock::now_timestamp;
use crate::error::ServerError;
use crate::protocol::{AskTeacherArgs, CommandMessage, ACCEPT_FIX_COMMAND, ASK_TEACHER_COMMAND, DISMISS_HINT_COMMAND, REFLECT_COMMAND};
use super::guarded::guarded;
use crate::server::actions::Action;
use crate::server::trust::Peer;
use crate::server::{services, PencilServer};
use crate::session::title_of;
use pencil_core::classroom::{HintKind, HintOutcome};
use serde_json::Value;
use tower_lsp_server::gen_lsp_types::{ExecuteCommandParams, LspAny, Uri};
use tower_lsp_server::jsonrpc::Result;

/// Every command the server runs (announced in `initialize`).
pub const COMMANDS: &[&str] = &[ACCEPT_FIX_COMMAND, DISMISS_HINT_COMMAND, REFLECT_COMMAND, ASK_TEACHER_COMMAND];

pub(in crate::server) async fn handle(server: &PencilServer, params: ExecuteCommandParams) -> Result<Option<LspAny>> {
    let args = params.arguments.unwrap_or_default();
    let answer = match params.command.as_str() {
        ACCEPT_FIX_COMMAND => hint_outcome(server, &args, HintOutcome::Accepted).await,
        DISMISS_HINT_COMMAND => hint_outcome(server, &args, HintOutcome::Dismissed).await,
        REFLECT_COMMAND => reflection(server, &args).await,
        ASK_TEACHER_COMMAND => return ask_teacher(server, &args).await.map(Some),
        other => Err(ServerError::InvalidParams(format!("unknown command {other}"))),
    };
    Ok(Some(answer?))
}

/// The hint's kind as the classroom events name it.
fn hint_kind(stored: &str) -> HintKind {
    match stored {
        "style_fix" => HintKind::StyleFix,
        "backtrack" => HintKind::RiskFlag,
        _ => HintKind::RuleFix,
    }
}

/// Accepted (remembered in the store) or dismissed: in a class, the title's next
/// run event says so (no code goes with it).
async fn hint_outcome(server: &PencilServer, args: &[Value], outcome: HintOutcome) -> std::result::Result<Value, ServerError> {
    let hint_id = args
        .first()
        .and_then(Value::as_i64)
        .ok_or_else(|| ServerError::InvalidParams("this command takes one hint id".into()))?;
    let Some(store) = services(server).and_then(|s| s.store.clone()) else { return Ok(Value::Null) };
    let at = now_timestamp();
    let accept = outcome == HintOutcome::Accepted;
    let (kind, title) = store
        .call(move |db| {
            if accept {
                db.accept_hint(hint_id, &at)?;
            }
            Ok((db.hint_kind(hint_id)?, db.hint_title(hint_id)?))
        })
        .await
        .map_err(|e| ServerError::Unchecked(e.to_string()))?;
    let (Some(kind), Some(title)) = (kind, title) else {
        return Err(ServerError::InvalidParams(format!("no hint {hint_id}")));
    };
    live::after_hint(Some(&store), &title, outcome, hint_kind(&kind), None);
    Ok(Value::Bool(true))
}

/// `[uri, text]`: what the student thinks is wrong with the document's failing run.
async fn reflection(server: &PencilServer, args: &[Value]) -> std::result::Result<Value, ServerError> {
    let uri = Uri::from(args.first().and_then(Value::as_str).ok_or_else(|| ServerError::InvalidParams("pencil.reflect takes [uri, text]".into()))?);
    let Some(text) = args.get(1).and_then(Value::as_str) else {
        return Err(ServerError::InvalidParams(
            "pencil.reflect needs the student's words: the editor asks what they think is wrong, then sends [uri, text]".into(),
        ));
    };
    let text = reflect::check_text(text).map_err(ServerError::Declined)?;
    let error_key = {
        let session = server.session();
        let doc = session.documents.text(&uri)?;
        session.documents.get(&uri).and_then(|e| e.last_run.clone()).filter(|r| r.text == doc.text()).and_then(|r| r.error_key.clone())
    };
    let Some(error_key) = error_key else {
        return Err(ServerError::Declined("run the program first: there is no error in its last run to reflect on".into()));
    };
    let Some(services) = services(server) else { return Err(ServerError::Unchecked("the server is not initialized".into())) };
    let Some(store) = services.store.clone() else {
        return Err(ServerError::Declined("the coach's store is not available, so your words cannot be kept".into()));
    };
    let (student, title, now) = (services.local_student(), title_of(&uri), now_timestamp());
    store
        .call(move |db| db.record_reflection(&student, &title, &error_key, &text, &now))
        .await
        .map_err(|e| ServerError::Unchecked(e.to_string()))?;
    let message = "Thank you. Your words stay on this computer; the fixes for this error are offered now (the light bulb or Ctrl+.).";
    Ok(serde_json::to_value(CommandMessage { message: message.into() }).unwrap_or(Value::Null))
}

/// "Ask my teacher": the document's current text, and its title's states only when the
/// student agreed. From a page, the states go only after the student confirms in the
/// coach's own window (`guarded`), as every read of the stored trace does.
async fn ask_teacher(server: &PencilServer, args: &[Value]) -> Result<Value> {
    let a: AskTeacherArgs = args
        .first()
        .cloned()
        .and_then(|v| serde_json::from_value(v).ok())
        .ok_or_else(|| ServerError::InvalidParams("pencil.askTeacher takes [{uri, message?, shareTrace}]".into()))?;
    let uri = Uri::from(a.uri.as_str());
    let program = server.session().documents.text(&uri)?.text().to_string();
    if a.share_trace && server.peer == Peer::WebSocket {
        return guarded(server, Action::AskTeacher { title: title_of(&uri), program, message: a.message }).await;
    }
    let Some(services) = services(server) else { return Err(ServerError::Unchecked("the server is not initialized".into()).into()) };
    let ask = Ask { title: title_of(&uri), program, message: a.message, share_trace: a.share_trace };
    let message = live::ask(services.store.as_ref(), &services.local_student(), ask).await.map_err(ServerError::Declined)?;
    Ok(serde_json::to_value(CommandMessage { message }).unwrap_or(Value::Null))
}
