//! `textDocument/didChange`: apply the batch atomically; a bad batch drops the text
//! until the client resynchronises, and requests on it then fail with the reason.

use crate::server::api::log;
use crate::server::PencilServer;
use tower_lsp_server::gen_lsp_types::{DidChangeTextDocumentParams, MessageType};

pub(in crate::server) async fn handle(server: &PencilServer, params: DidChangeTextDocumentParams) {
    let id = params.text_document;
    let uri = id.text_document_identifier.uri;
    let result = server.session().documents.change(&uri, &params.content_changes, id.version);
    if result.is_ok() {
        server.work_ahead_soon(&uri);
    }
    if let Err(e) = result {
        log(server, MessageType::Error, format!("{}: change refused: {e}", uri.as_ref())).await;
    }
}
