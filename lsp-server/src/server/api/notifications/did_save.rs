//! `textDocument/didSave`: record and check, when `recordOnSave` is on.

use crate::server::api::log;
use crate::server::api::requests::run::run_document;
use crate::server::PencilServer;
use crate::store::Trigger;
use tower_lsp_server::gen_lsp_types::{DidSaveTextDocumentParams, MessageType};

pub(in crate::server) async fn handle(server: &PencilServer, params: DidSaveTextDocumentParams) {
    let record = server.session().settings.record_on_save;
    if !record {
        return;
    }
    let uri = params.text_document.uri;
    if let Err(e) = run_document(server, uri, Trigger::Save).await {
        log(server, MessageType::Warning, format!("on save: {e}")).await;
    }
}
