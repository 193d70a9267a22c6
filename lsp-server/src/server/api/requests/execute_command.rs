//! `workspace/executeCommand`: `pencil.acceptFix [hintId]` marks a hint accepted.

use crate::clock::now_timestamp;
use crate::error::ServerError;
use crate::protocol::ACCEPT_FIX_COMMAND;
use crate::server::{services, PencilServer};
use tower_lsp_server::gen_lsp_types::{ExecuteCommandParams, LspAny};
use tower_lsp_server::jsonrpc::Result;

pub(in crate::server) async fn handle(server: &PencilServer, params: ExecuteCommandParams) -> Result<Option<LspAny>> {
    if params.command != ACCEPT_FIX_COMMAND {
        return Err(ServerError::InvalidParams(format!("unknown command {}", params.command)).into());
    }
    let hint_id = params
        .arguments
        .as_deref()
        .and_then(|a| a.first())
        .and_then(serde_json::Value::as_i64)
        .ok_or_else(|| ServerError::InvalidParams(format!("{ACCEPT_FIX_COMMAND} takes one hint id")))?;
    let Some(store) = services(server).and_then(|s| s.store.clone()) else { return Ok(None) };
    let at = now_timestamp();
    let (found, title) = store
        .call(move |db| Ok((db.accept_hint(hint_id, &at)?, db.hint_title(hint_id)?)))
        .await
        .map_err(|e| ServerError::Unchecked(e.to_string()))?;
    if !found {
        return Err(ServerError::InvalidParams(format!("no hint {hint_id}")).into());
    }
    // In a class, the title's next run event says a hint was taken (no code goes with it).
    if let Some(title) = title {
        crate::classroom::live::after_hint(Some(&store), &title, pencil_core::classroom::HintOutcome::Accepted, None);
    }
    Ok(Some(serde_json::json!(true)))
}
