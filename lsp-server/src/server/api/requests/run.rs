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
    Ok(run_document(server, params.text_document.uri, Trigger::Run).await?)
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
    let student = services.local_student();
    let input = RunInput {
        student: student.clone(),
        title: title_of(&uri),
        code: doc.text().to_string(),
        time: now_timestamp(),
        trigger,
        quick_fixes: settings.quick_fixes,
    };
    // A newer run of this document makes the older one's risk work stale.
    let generation = server.hints_state().runs.begin(uri.as_ref().to_string());
    let (title, time) = (input.title.clone(), input.time.clone());
    let outcome = pipeline::run(services, input).await;
    for problem in &outcome.problems {
        log(server, MessageType::Warning, format!("{}: {problem}", uri.as_ref())).await;
    }
    let Some(verdict) = outcome.verdict else {
        return Err(ServerError::Unchecked(outcome.problems.join("; ")));
    };
    let diagnostics = diagnostics::from_verdict(doc.text(), &verdict);
    let style = (verdict.status == Status::Error && services.coach.engine().is_some()).then(|| StyleFixSlot {
        student: student.clone(),
        title: title.clone(),
        state_id: outcome.state.map(|s| s.id),
        time: time.clone(),
        fixes: Arc::default(),
    });
    let snapshot = RunSnapshot { text: doc.text().to_string(), diagnostics: diagnostics.clone(), fixes: outcome.fixes.clone(), style };
    server.session().documents.set_last_run(&uri, Arc::new(snapshot));
    server.client.publish_diagnostics(uri.clone(), diagnostics.clone(), Some(doc.version())).await;
    if services.coach.engine().is_some_and(|e| e.has_probe()) {
        let job = RiskJob {
            client: server.client.clone(),
            services: services.clone(),
            hints: server.hints.clone(),
            generation,
            uri,
            student,
            title,
            code: doc.text().to_string(),
            time,
            state_id: outcome.state.map(|s| s.id),
            threshold_setting: settings.hint_threshold,
            interval_s: settings.hint_interval_s,
        };
        tokio::spawn(job.run());
    }
    Ok(RunResult {
        status: verdict.status.into(),
        paper_success: verdict.paper_success,
        diagnostics,
        state_id: outcome.state.map(|s| s.id),
        fixes: outcome.fixes.len(),
    })
}
