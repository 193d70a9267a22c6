//! `initialized`: say once, clearly, what is missing (model, sandbox, store).

use crate::server::api::log;
use crate::server::PencilServer;
use std::sync::atomic::Ordering;
use tower_lsp_server::gen_lsp_types::MessageType;

pub(in crate::server) async fn handle(server: &PencilServer) {
    if server.told_missing.swap(true, Ordering::SeqCst) {
        return;
    }
    let messages = std::mem::take(&mut server.session().pending_messages);
    for message in messages {
        log(server, MessageType::Warning, message.clone()).await;
        server.client.show_message(MessageType::Warning, message).await;
    }
}
