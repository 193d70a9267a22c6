//! `textDocument/didClose`: forget the document and clear its diagnostics.

use crate::server::PencilServer;
use tower_lsp_server::gen_lsp_types::DidCloseTextDocumentParams;

pub(in crate::server) async fn handle(server: &PencilServer, params: DidCloseTextDocumentParams) {
    let uri = params.text_document.uri;
    server.session().documents.close(&uri);
    server.hints_state().runs.forget(&uri.as_ref().to_string());
    server.client.publish_diagnostics(uri, Vec::new(), None).await;
}
