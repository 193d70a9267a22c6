//! `initialize`: resolve settings, start the services (`Services::start`: store,
//! sandbox, model) and announce capabilities (including the custom protocol's version).

use crate::adaptation::{AdaptationConfig, Adapter};
use crate::coach::{Coach, ModelRequest};
use crate::pipeline::Services;
use crate::protocol::{HINT_METHOD, PROTOCOL_VERSION, RUN_METHOD, TRACE_METHOD};
use crate::server::trust::drop_path_settings;
use crate::server::PencilServer;
use crate::session::{ClientOptions, Settings, DATA_DIR_ENV};
use tower_lsp_server::gen_lsp_types::*;
use tower_lsp_server::jsonrpc::Result;

pub(in crate::server) async fn handle(server: &PencilServer, params: InitializeParams) -> Result<InitializeResult> {
    let mut messages = Vec::new();
    let mut options = ClientOptions::from_json(params.initialization_options.as_ref()).unwrap_or_else(|e| {
        messages.push(format!("Pencil coach: {e}"));
        ClientOptions::default()
    });
    messages.extend(drop_path_settings(server.peer, &mut options));
    let env_dir = std::env::var_os(DATA_DIR_ENV).map(Into::into);
    let settings = Settings::resolve(&options, server.options.data_dir.clone(), env_dir);
    let data_dir = settings.data_dir.clone();
    let model = ModelRequest { setting: settings.model_dir.clone(), cli: server.options.model_dir.clone() };
    let client_progress = params.capabilities.window.as_ref().and_then(|w| w.work_done_progress).unwrap_or(false);
    let (services, started) = tokio::task::spawn_blocking(move || Services::start(data_dir.as_deref(), &model))
        .await
        .unwrap_or_else(|e| {
            let coach = Coach::unavailable("start-up was interrupted");
            (Services { store: None, checker: None, coach }, vec![format!("Pencil coach: start-up was interrupted ({e}).")])
        });
    messages.extend(started);
    if let Some(store) = &services.store {
        server.retention.set(settings.retention_days);
        server.retention.start(store.clone());
        match Adapter::start(store.clone(), services.coach.clone(), AdaptationConfig::from(&settings)) {
            Ok(adapter) => {
                let _ = server.adapter.set(adapter);
            }
            Err(e) => messages.push(format!("Pencil coach: learning your style is off: its thread could not start ({e}).")),
        }
    }
    {
        let mut session = server.session();
        session.settings = settings;
        session.client_progress = client_progress;
        session.pending_messages.extend(messages);
    }
    let _ = server.services.set(services);
    Ok(InitializeResult {
        capabilities: capabilities(),
        server_info: Some(ServerInfo { name: "pencil-lsp".into(), version: Some(env!("CARGO_PKG_VERSION").into()) }),
    })
}

fn capabilities() -> ServerCapabilities {
    ServerCapabilities {
        position_encoding: Some(PositionEncodingKind::UTF16),
        text_document_sync: Some(TextDocumentSync::Options(TextDocumentSyncOptions {
            open_close: Some(true),
            change: Some(TextDocumentSyncKind::Incremental),
            will_save: None,
            will_save_wait_until: None,
            save: Some(Save::SaveOptions(SaveOptions { include_text: Some(false) })),
        })),
        code_action_provider: Some(CodeActionProvider::CodeActionOptions(CodeActionOptions {
            code_action_kinds: Some(vec![CodeActionKind::QuickFix]),
            ..Default::default()
        })),
        execute_command_provider: Some(ExecuteCommandOptions {
            commands: super::execute_command::COMMANDS.iter().map(|c| c.to_string()).collect(),
            ..Default::default()
        }),
        experimental: Some(serde_json::json!({
            "pencil": { "protocolVersion": PROTOCOL_VERSION, "requests": [RUN_METHOD, TRACE_METHOD], "notifications": [HINT_METHOD] }
        })),
        ..Default::default()
    }
}
