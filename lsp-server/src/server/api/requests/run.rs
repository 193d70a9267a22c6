//! `pencil/run`: record the state, check it, publish diagnostics, answer the verdict.

use crate::clock::now_timestamp;
use crate::diagnostics;
use crate::error::ServerError;
use crate::pipeline::{self, RunInput};
use crate::protocol::{RunParams, RunResult};
use crate::server::api::log;
use crate::server::{services, PencilServer};
use crate::server::backtracking::RiskJob;
use crate::session::{title_of, RunSnapshot, StyleFixSlot};
use pencil_sandbox::Status;
use crate::store::Trigger;
use std::sync::Arc;
use tower_lsp_server::gen_lsp_types::{MessageType, Uri};
use tower_lsp_server::jsonrpc::Result;

pub(in crate::server) async fn handle(server: &PencilServer, params: RunParams) -> Result<RunResult> {
    let mut result = run_document(server, params.text_document.uri, Trigger::Run).await?;
    if !params.drawing {
        result.drawing = None;
    }
    Ok(result)
}

/// Runs the document's current text through the pipeline (shared with save).
pub(in crate::server) async fn run_document(server: &PencilServer, uri: Uri, trigger: Trigger) -> std::result::Result<RunResult, ServerError> {
    let (doc, settings) = {
        let session = server.session();
        (session.documents.text(&uri)?, session.settings.clone())
    };
    let Some(services) = services(server) else {
        return Err(ServerError::Unchecked("the server is not initialized".into()));
    };
    let input = RunInput {
        student: services.local_student(),
        title: title_of(&uri),
        code: doc.text().to_string(),
        time: now_timestamp(),
        trigger,
        quick_fixes: settings.quick_fixes,
    };
    // A newer run of this document makes the older one's risk work stale.
    let generation = server.hints_state().runs.begin(uri.as_ref().to_string());
    let outcome = pipeline::run(services, input.clone()).await;
    if let (Some(adapter), Some(_)) = (server.adapter.get(), outcome.state) {
        adapter.ran(&input.title);
    }
    for problem in &outcome.problems {
        log(server, MessageType::Warning, format!("{}: {problem}", uri.as_ref())).await;
    }
    let Some(verdict) = &outcome.verdict else {
        return Err(ServerError::Unchecked(outcome.problems.join("; ")));
    };
    let diagnostics = diagnostics::from_verdict(doc.text(), verdict);
    let state_id = outcome.state.map(|s| s.id);
    let style = (verdict.status == Status::Error && services.coach.engine().is_some()).then(|| StyleFixSlot {
        student: input.student.clone(),
        title: input.title.clone(),
        state_id,
        time: input.time.clone(),
        fixes: Arc::default(),
    });
    let error_key = verdict.error.as_ref().map(|e| crate::classroom::reflect::error_key(&e.kind, &e.message));
    let snapshot =
        RunSnapshot { text: input.code.clone(), diagnostics: diagnostics.clone(), fixes: outcome.fixes.clone(), style, error_key };
    server.session().documents.set_last_run(&uri, Arc::new(snapshot));
    server.client.publish_diagnostics(uri.clone(), diagnostics.clone(), Some(doc.version())).await;
    RiskJob::spawn_after_run(server, services, &input, (&uri, generation, state_id), &settings);
    // Classroom event: queued (a synced commit) after the answer, not before it.
    let row = crate::store::RunResultRow::from_verdict(verdict);
    let (client, store, title) = (server.client.clone(), services.store.clone(), input.title.clone());
    tokio::spawn(async move {
        for message in crate::classroom::live::after_run(store.as_ref(), &title, &row.status, row.error_kind).await {
            client.show_message(MessageType::Info, message).await;
        }
    });
    Ok(RunResult {
        status: verdict.status.into(),
        paper_success: verdict.paper_success,
        diagnostics,
        state_id,
        fixes: outcome.fixes.len(),
        drawing: verdict.drawing.clone(),
    })
}
