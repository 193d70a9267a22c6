//! One file per LSP method. Handlers convert from the protocol, read the settings,
//! call plain functions (`pipeline`, `fixes`, `edit`) and convert back.

pub(super) mod notifications;
pub(super) mod requests;

use super::PencilServer;
use tower_lsp_server::gen_lsp_types::MessageType;

/// Logs to stderr and to the client's log.
pub(super) async fn log(server: &PencilServer, kind: MessageType, message: String) {
    match kind {
        MessageType::Error => tracing::error!("{message}"),
        MessageType::Warning => tracing::warn!("{message}"),
        _ => tracing::info!("{message}"),
    }
    server.client.log_message(kind, message).await;
}
