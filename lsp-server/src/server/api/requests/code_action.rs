//! `textDocument/codeAction`: the last run's verified quick fixes as minimal edits.

use crate::edit::minimal_edits;
use crate::error::ServerError;
use crate::protocol::ACCEPT_FIX_COMMAND;
use crate::server::PencilServer;
use std::collections::HashMap;
use tower_lsp_server::gen_lsp_types::*;
use tower_lsp_server::jsonrpc::Result;

pub(in crate::server) async fn handle(server: &PencilServer, params: CodeActionParams) -> Result<Option<Vec<CodeActionResponse>>> {
    let uri = params.text_document.uri;
    let (doc, last_run) = {
        let session = server.session();
        let entry = session.documents.get(&uri).ok_or_else(|| ServerError::NotOpen(uri.to_string()))?;
        let Some(doc) = entry.document.clone() else {
            return Err(ServerError::Refused {
                uri: uri.to_string(),
                reason: entry.refused.clone().unwrap_or(crate::edit::DocumentError::TooLarge { bytes: 0 }),
            }
            .into());
        };
        (doc, entry.last_run.clone())
    };
    doc.index().byte_range(doc.text(), params.range).map_err(ServerError::from)?;
    if params.context.only.as_ref().is_some_and(|only| !only.contains(&CodeActionKind::QuickFix)) {
        return Ok(None);
    }
    let Some(run) = last_run.filter(|r| r.text == doc.text()) else { return Ok(None) };
    let actions = run
        .fixes
        .iter()
        .enumerate()
        .map(|(i, fix)| {
            let edits = minimal_edits(doc.text(), &fix.fix.new_code);
            CodeActionResponse::CodeAction(CodeAction {
                title: fix.title(),
                kind: Some(CodeActionKind::QuickFix),
                diagnostics: Some(run.diagnostics.clone()),
                is_preferred: Some(i == 0),
                disabled: None,
                edit: Some(WorkspaceEdit { changes: Some(HashMap::from([(uri.clone(), edits)])), ..Default::default() }),
                command: fix.hint_id.map(|id| Command {
                    title: "Remember that this fix was used".into(),
                    tooltip: None,
                    command: ACCEPT_FIX_COMMAND.into(),
                    arguments: Some(vec![serde_json::json!(id)]),
                }),
                data: None,
                tags: None,
            })
        })
        .collect::<Vec<_>>();
    Ok((!actions.is_empty()).then_some(actions))
}
