//! `initialized`: say once, clearly, what is missing (model, sandbox, store), and
//! start showing the teacher's replies to raised hands.

use crate::server::api::log;
use crate::server::PencilServer;
use std::sync::atomic::Ordering;
use tower_lsp_server::gen_lsp_types::MessageType;

pub(in crate::server) async fn handle(server: &PencilServer) {
    if server.told_missing.swap(true, Ordering::SeqCst) {
        return;
    }
    let messages = std::mem::take(&mut server.session().pending_messages);
    if let Some(mut replies) = crate::server::services(server).and_then(|s| crate::classroom::live::subscribe(s.store.as_ref())) {
        let client = server.client.clone();
        tokio::spawn(async move {
            while let Some(reply) = replies.recv().await {
                client.show_message(MessageType::Info, reply).await;
            }
        });
    }
    for message in messages {
        log(server, MessageType::Warning, message.clone()).await;
        server.client.show_message(MessageType::Warning, message).await;
    }
}
