//! `textDocument/codeAction`: the last run's verified quick fixes and, for a failing
//! run with a model loaded, "Fix in my style" (searched once per run, started by the
//! first request, with `$/progress`; a request waits for it at most
//! [`STYLE_FIX_WAIT`] and later requests reuse it), in one ranking, as minimal edits.
//! In a class, the policy may withhold them (quiz mode), or ask the student to
//! reflect first: then one action without edits asks for the reflection instead.

use crate::classroom::{live, policy::Help, reflect};
use pencil_core::classroom::{HintKind, HintOutcome};
use crate::edit::minimal_edits;
use crate::error::ServerError;
use crate::protocol::{ACCEPT_FIX_COMMAND, REFLECT_COMMAND};
use crate::coach::style_fix::{request_seed, StyleFix};
use crate::pipeline::{self, Services, StyleFixParams};
use crate::server::{services, PencilServer};
use crate::session::{Settings, StyleFixSlot};
use std::collections::HashMap;
use tower_lsp_server::gen_lsp_types::*;
use tower_lsp_server::jsonrpc::Result;
use tower_lsp_server::Client;

pub(in crate::server) async fn handle(server: &PencilServer, params: CodeActionParams) -> Result<Option<Vec<CodeActionResponse>>> {
    let uri = params.text_document.uri;
    let (doc, last_run, settings, client_progress) = {
        let session = server.session();
        let doc = session.documents.text(&uri)?;
        let last_run = session.documents.get(&uri).and_then(|e| e.last_run.clone());
        (doc, last_run, session.settings.clone(), session.client_progress)
    };
    doc.index().byte_range(doc.text(), params.range).map_err(ServerError::from)?;
    if params.context.only.as_ref().is_some_and(|only| !only.contains(&CodeActionKind::QuickFix)) {
        return Ok(None);
    }
    let Some(run) = last_run.filter(|r| r.text == doc.text()) else { return Ok(None) };
    if let Some(services) = services(server) {
        let help = if run.style.is_some() { Help::StyleFix } else { Help::QuickFix };
        let (allowed, messages) =
            live::gate(services.store.as_ref(), &services.local_student(), &crate::session::title_of(&uri), help).await;
        for message in messages {
            server.client.show_message(MessageType::Info, message).await;
        }
        if !allowed {
            return Ok(None);
        }
        let (fixes, messages) = live::reflect_gate(
            services.store.as_ref(),
            &services.local_student(),
            &crate::session::title_of(&uri),
            run.error_key.as_deref(),
        )
        .await;
        for message in messages {
            server.client.show_message(MessageType::Info, message).await;
        }
        if fixes == reflect::FixGate::NeedsReflection {
            return Ok(Some(vec![reflect_action(&uri, &run.diagnostics)]));
        }
    }
    let style: Vec<StyleFix> = match (&run.style, services(server)) {
        (Some(slot), Some(services)) => match slot.fixes.get() {
            Some(done) => done.clone(),
            None => {
                let search = StyleSearch {
                    client: server.client.clone(),
                    services: services.clone(),
                    text: run.text.clone(),
                    slot: slot.clone(),
                    settings: settings.clone(),
                    client_token: params.work_done_progress_params.work_done_token.clone(),
                    server_token: client_progress.then(|| server.next_progress_token()),
                };
                let cell = slot.fixes.clone();
                // The search runs on its own task so that a request which stops waiting
                // does not cancel it; a later request shares the same search.
                let task = tokio::spawn(async move {
                    cell.get_or_init(|| search.run()).await;
                });
                let _ = tokio::time::timeout(STYLE_FIX_WAIT, task).await;
                slot.fixes.get().cloned().unwrap_or_default()
            }
        },
        _ => Vec::new(),
    };
    // Rule-based and model fixes in one ranking; the first is the preferred one.
    let offers = pipeline::offers(&run.fixes, &style);
    let actions: Vec<CodeActionResponse> = offers
        .iter()
        .enumerate()
        .map(|(i, offer)| fix_action(&uri, doc.text(), &run.diagnostics, offer.title(), offer.new_code(), offer.hint_id(), i == 0))
        .collect();
    // In a class, a list of fixes shown and then passed over by the next run counts as dismissed.
    if let (Some(first), Some(services)) = (offers.first(), services(server)) {
        let kind = match first {
            pipeline::Offer::Rule(_) => HintKind::RuleFix,
            pipeline::Offer::Model(_) => HintKind::StyleFix,
        };
        live::after_hint(services.store.as_ref(), &crate::session::title_of(&uri), HintOutcome::Shown, kind, None);
    }
    Ok((!actions.is_empty()).then_some(actions))
}

/// Stands in for fixes withheld until the student reflects: no edit, only the command
/// the client answers by asking the student what they think is wrong.
fn reflect_action(uri: &Uri, diagnostics: &[Diagnostic]) -> CodeActionResponse {
    CodeActionResponse::CodeAction(CodeAction {
        title: reflect::ACTION_TITLE.into(),
        kind: Some(CodeActionKind::QuickFix),
        diagnostics: Some(diagnostics.to_vec()),
        is_preferred: Some(true),
        command: Some(Command {
            title: reflect::ACTION_TITLE.into(),
            tooltip: None,
            command: REFLECT_COMMAND.into(),
            arguments: Some(vec![serde_json::json!(uri.as_ref())]),
        }),
        ..Default::default()
    })
}

/// How long a quick-fix request waits for "Fix in my style" before it answers with
/// the rule-based fixes alone. Sampling on a slow or busy machine can take tens of
/// seconds, and the light bulb must not hang that long; the search goes on, its
/// progress stays in the status bar, and the next request shows its fixes.
const STYLE_FIX_WAIT: std::time::Duration = std::time::Duration::from_secs(4);

/// One failing run's "Fix in my style" search, owning what it needs to outlive the
/// request that started it.
struct StyleSearch {
    client: Client,
    services: Services,
    text: String,
    slot: StyleFixSlot,
    settings: Settings,
    /// The token the client sent with the request, if any.
    client_token: Option<ProgressToken>,
    /// Otherwise a token number the server may create, when the client accepts server-created progress.
    server_token: Option<i32>,
}

impl StyleSearch {
    /// Samples, verifies and records the style fixes of the run, showing progress.
    async fn run(self) -> Vec<StyleFix> {
        let StyleSearch { client, services, text, slot, settings, client_token, server_token } = self;
        let token = match (client_token, server_token) {
            (Some(t), _) => Some(t),
            (None, Some(n)) => {
                let token = ProgressToken::Int(n);
                let created =
                    client.send_request::<WorkDoneProgressCreateRequest>(WorkDoneProgressCreateParams { token: token.clone() }).await;
                created.is_ok().then_some(token)
            }
            (None, None) => None,
        };
        let progress = match token {
            Some(t) => Some(client.progress(t, "Fix in my style").with_message("reading your trace").begin().await),
            None => None,
        };
        let trace = pipeline::trace_so_far(&services, &slot.student, &slot.title, &text, &slot.time).await;
        let params = StyleFixParams {
            samples: settings.fix_samples,
            size: live::hint_size(services.store.as_ref(), settings.hint_size).await,
            vector: settings.student_vector,
            seed: request_seed(&slot.student, &slot.title, &text),
        };
        let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
        let forward = async {
            while let Some(message) = rx.recv().await {
                if let Some(p) = &progress {
                    p.report(message).await;
                }
            }
        };
        let (mut search, ()) = tokio::join!(pipeline::find_style_fixes(&services, trace, params, Some(tx)), forward);
        if let Some(problem) = &search.problem {
            warn(&client, format!("Fix in my style: {problem}")).await;
        }
        if let Some(state_id) = slot.state_id {
            for problem in pipeline::record_style_fixes(&services, state_id, &mut search.fixes, &slot.time).await {
                warn(&client, problem).await;
            }
        }
        if let Some(p) = progress {
            let found = match search.fixes.len() {
                0 => format!("no running fix among {} samples", search.sampled),
                n => format!("{n} running fix{} from {} samples (Ctrl+. shows them)", if n == 1 { "" } else { "es" }, search.sampled),
            };
            p.finish_with_message(found).await;
        }
        search.fixes
    }
}

/// A warning in the server's log and the client's output channel.
async fn warn(client: &Client, message: String) {
    tracing::warn!("{message}");
    client.log_message(MessageType::Warning, message).await;
}

/// One fix as a quick-fix code action: minimal edits from `text` to `new_code`, and
/// the command that tells the store the student used it.
fn fix_action(
    uri: &Uri,
    text: &str,
    diagnostics: &[Diagnostic],
    title: String,
    new_code: &str,
    hint_id: Option<i64>,
    preferred: bool,
) -> CodeActionResponse {
    CodeActionResponse::CodeAction(CodeAction {
        title,
        kind: Some(CodeActionKind::QuickFix),
        diagnostics: Some(diagnostics.to_vec()),
        is_preferred: Some(preferred),
        disabled: None,
        edit: Some(WorkspaceEdit {
            changes: Some(HashMap::from([(uri.clone(), minimal_edits(text, new_code))])),
            ..Default::default()
        }),
        command: hint_id.map(|id| Command {
            title: "Remember that this fix was used".into(),
            tooltip: None,
            command: ACCEPT_FIX_COMMAND.into(),
            arguments: Some(vec![serde_json::json!(id)]),
        }),
        data: None,
        tags: None,
    })
}
