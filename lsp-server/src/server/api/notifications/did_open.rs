//! `textDocument/didOpen`: start tracking the document (checked on Run or save;
//! compiled ahead once still).

use crate::server::api::log;
use crate::server::PencilServer;
use tower_lsp_server::gen_lsp_types::{DidOpenTextDocumentParams, MessageType};

pub(in crate::server) async fn handle(server: &PencilServer, params: DidOpenTextDocumentParams) {
    let doc = params.text_document;
    let uri = doc.uri.clone();
    let result = server.session().documents.open(doc.uri, doc.text, doc.version);
    if result.is_ok() {
        server.work_ahead_soon(&uri);
    }
    if let Err(e) = result {
        log(server, MessageType::Warning, format!("{}: {e}", uri.as_ref())).await;
        server.client.show_message(MessageType::Warning, format!("Pencil coach: {e}")).await;
    }
}
