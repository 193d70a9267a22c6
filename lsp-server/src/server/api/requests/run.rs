//! `pencil/run`: record the state, check it, publish diagnostics, answer the verdict.

use crate::clock::now_timestamp;
use crate::error::ServerError;
use crate::pipeline::{self, RunInput};
use crate::protocol::{RunParams, RunResult};
use crate::server::api::log;
use crate::server::{services, PencilServer};
use crate::session::{title_of, RunSnapshot};
use crate::store::Trigger;
use std::sync::Arc;
use tower_lsp_server::gen_lsp_types::{MessageType, Uri};
use tower_lsp_server::jsonrpc::Result;

pub(in crate::server) async fn handle(server: &PencilServer, params: RunParams) -> Result<RunResult> {
    Ok(run_document(server, params.text_document.uri, Trigger::Run).await?)
}

/// Runs the document's current text through the pipeline (shared with save).
pub(in crate::server) async fn run_document(server: &PencilServer, uri: Uri, trigger: Trigger) -> std::result::Result<RunResult, ServerError> {
    let (doc, quick_fixes) = {
        let session = server.session();
        let entry = session.documents.get(&uri).ok_or_else(|| ServerError::NotOpen(uri.to_string()))?;
        let doc = match (&entry.document, &entry.refused) {
            (Some(doc), _) => doc.clone(),
            (None, reason) => {
                return Err(ServerError::Refused {
                    uri: uri.to_string(),
                    reason: reason.clone().unwrap_or(crate::edit::DocumentError::TooLarge { bytes: 0 }),
                })
            }
        };
        (doc, session.settings.quick_fixes)
    };
    let Some(services) = services(server) else {
        return Err(ServerError::Unchecked("the server is not initialized".into()));
    };
    let student = services.store.as_ref().map_or_else(|| "local".to_string(), |s| s.local_student().to_string());
    let input = RunInput {
        student,
        title: title_of(&uri),
        code: doc.text().to_string(),
        time: now_timestamp(),
        trigger,
        quick_fixes,
    };
    let outcome = pipeline::run(services, input).await;
    for problem in &outcome.problems {
        log(server, MessageType::Warning, format!("{}: {problem}", uri.as_ref())).await;
    }
    let Some(verdict) = outcome.verdict else {
        return Err(ServerError::Unchecked(outcome.problems.join("; ")));
    };
    let snapshot = RunSnapshot { text: doc.text().to_string(), diagnostics: outcome.diagnostics.clone(), fixes: outcome.fixes.clone() };
    server.session().documents.set_last_run(&uri, Arc::new(snapshot));
    server.client.publish_diagnostics(uri, outcome.diagnostics.clone(), Some(doc.version())).await;
    Ok(RunResult {
        status: verdict.status.into(),
        paper_success: verdict.paper_success,
        diagnostics: outcome.diagnostics,
        state_id: outcome.state.map(|s| s.id),
        fixes: outcome.fixes.len(),
    })
}
