//! `workspace/didChangeConfiguration`: re-resolve settings (the store stays put);
//! a changed `modelDir` loads that model in the background (`server::model_switch`).

use crate::adaptation::AdaptationConfig;
use crate::coach::ModelRequest;
use crate::server::api::log;
use crate::server::trust::drop_path_settings;
use crate::server::{services, PencilServer};
use crate::session::ClientOptions;
use tower_lsp_server::gen_lsp_types::{DidChangeConfigurationParams, MessageType};

pub(in crate::server) async fn handle(server: &PencilServer, params: DidChangeConfigurationParams) {
    let mut options = match ClientOptions::from_json(Some(&params.settings)) {
        Ok(options) => options,
        Err(e) => return log(server, MessageType::Warning, e).await,
    };
    let refused = drop_path_settings(server.peer, &mut options);
    // The state change finishes before the first `.await` (handlers may interleave).
    let (before, after, retention_days, adaptation) = {
        let mut session = server.session();
        let before = session.settings.model_dir.clone();
        session.settings = session.settings.update(&options);
        let adaptation = AdaptationConfig::from(&session.settings);
        (before, session.settings.model_dir.clone(), session.settings.retention_days, adaptation)
    };
    server.retention.set(retention_days);
    if let Some(adapter) = server.adapter.get() {
        adapter.configure(adaptation);
    }
    if let Some(refused) = refused {
        log(server, MessageType::Warning, refused.clone()).await;
        server.client.show_message(MessageType::Warning, refused).await;
    }
    if before != after {
        if let Some(s) = services(server) {
            let request = ModelRequest { setting: after, cli: server.options.model_dir.clone() };
            server.model_switch.start(s.coach.clone(), request, server.client.clone(), server.adapter.get().cloned());
        }
    }
}
