//! A changed `modelDir` setting takes effect without a restart: the new model
//! loads off the executor while the old one keeps serving, then replaces it in
//! the coach every holder shares. When the setting changes again before a load
//! finishes, only the newest load is kept.

use crate::adaptation::Adapter;
use crate::coach::{Coach, ModelRequest, ModelStatus};
use std::sync::{Arc, Mutex};
use tower_lsp_server::gen_lsp_types::MessageType;
use tower_lsp_server::Client;

/// The number of the newest requested switch.
#[derive(Debug, Default)]
pub(super) struct ModelSwitch {
    latest: Mutex<u64>,
}

impl ModelSwitch {
    fn latest(&self) -> std::sync::MutexGuard<'_, u64> {
        self.latest.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Starts loading the model `request` finds into `coach`, in the background.
    /// The adapter, when there is one, then gives the new model the vector stored for it.
    pub(super) fn start(self: &Arc<Self>, coach: Coach, request: ModelRequest, client: Client, adapter: Option<Adapter>) {
        let number = {
            let mut latest = self.latest();
            *latest += 1;
            *latest
        };
        let switch = Arc::clone(self);
        tokio::spawn(async move {
            let loaded = match tokio::task::spawn_blocking(move || Coach::load(&request)).await {
                Ok(c) => c,
                Err(e) => Coach::unavailable(format!("loading the new model was interrupted ({e})")),
            };
            {
                // Check and replace in one step, so an older load never lands after a newer one.
                let latest = switch.latest();
                if *latest != number {
                    return;
                }
                coach.replace(&loaded);
            }
            if let Some(adapter) = &adapter {
                adapter.model_changed();
            }
            let (kind, message) = announcement(&loaded);
            client.show_message(kind, message).await;
        });
    }
}

/// What the student is told once a new model is in place (or could not be).
fn announcement(coach: &Coach) -> (MessageType, String) {
    match (coach.status(), coach.missing_message()) {
        (ModelStatus::Ready { dir, .. }, None) => {
            (MessageType::Info, format!("Pencil coach: now using the trace model in {}.", dir.display()))
        }
        (ModelStatus::Ready { .. }, Some(missing)) => (MessageType::Info, missing),
        (ModelStatus::Unavailable(_), missing) => (MessageType::Warning, missing.unwrap_or_default()),
    }
}
