//! `workspace/didChangeConfiguration`: re-resolve settings (the store stays put).

use crate::server::api::log;
use crate::server::PencilServer;
use crate::session::ClientOptions;
use tower_lsp_server::gen_lsp_types::{DidChangeConfigurationParams, MessageType};

pub(in crate::server) async fn handle(server: &PencilServer, params: DidChangeConfigurationParams) {
    match ClientOptions::from_json(Some(&params.settings)) {
        Ok(options) => {
            let mut session = server.session();
            session.settings = session.settings.update(&options);
        }
        Err(e) => log(server, MessageType::Warning, e).await,
    }
}
