//! The backtracking hint after a recorded run: a background task (so `pencil/run`
//! answers without waiting for the model) that computes the probe's risk on the
//! title's trace and, above the threshold and within the rate limit, sends a gentle
//! `pencil/hint`. A newer run of the same document makes it stale: it checks before
//! the model runs and again before it publishes.

use crate::classroom::policy::Help;
use pencil_core::classroom::{HintKind, HintOutcome};
use crate::coach::hints::{hint_message, hint_threshold, HintState};
use crate::pipeline::{self, RiskOutcome, RunInput, Services};
use crate::session::Settings;
use crate::protocol::{HintNotification, HintParams};
use crate::store::HintRecord;
use std::sync::{Arc, Mutex, MutexGuard};
use tower_lsp_server::gen_lsp_types::{MessageType, TextDocumentIdentifier, Uri};
use tower_lsp_server::Client;

/// Everything the background task needs, owned.
pub(super) struct RiskJob {
    pub client: Client,
    pub services: Services,
    pub hints: Arc<Mutex<HintState>>,
    pub generation: u64,
    pub uri: Uri,
    pub student: String,
    pub title: String,
    pub code: String,
    pub time: String,
    pub state_id: Option<i64>,
    pub threshold_setting: Option<f64>,
    pub interval_s: i64,
}

fn lock(hints: &Mutex<HintState>) -> MutexGuard<'_, HintState> {
    hints.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

impl RiskJob {
    /// Starts the risk task for a run just recorded (run `generation` of `uri`, stored
    /// as `state_id`), when the model has a probe.
    pub(super) fn spawn_after_run(
        server: &super::PencilServer,
        services: &Services,
        run: &RunInput,
        (uri, generation, state_id): (&Uri, u64, Option<i64>),
        settings: &Settings,
    ) {
        if !services.coach.engine().is_some_and(|e| e.has_probe()) {
            return;
        }
        let job = RiskJob {
            client: server.client.clone(),
            services: services.clone(),
            hints: server.hints.clone(),
            generation,
            uri: uri.clone(),
            student: run.student.clone(),
            title: run.title.clone(),
            code: run.code.clone(),
            time: run.time.clone(),
            state_id,
            threshold_setting: settings.hint_threshold,
            interval_s: settings.hint_interval_s,
        };
        tokio::spawn(job.run());
    }

    fn is_latest(&self) -> bool {
        lock(&self.hints).runs.is_latest(&self.uri.as_ref().to_string(), self.generation)
    }

    /// Runs the job to its end (a hint sent, or nothing to say).
    pub(super) async fn run(self) {
        let Some(engine) = self.services.coach.engine() else { return };
        if !engine.has_probe() || !self.is_latest() {
            return;
        }
        let threshold = hint_threshold(self.threshold_setting, engine.probe_threshold());
        let prefix = pipeline::trace_so_far(&self.services, &self.student, &self.title, &self.code, &self.time).await;
        if !self.is_latest() {
            return;
        }
        let risk = match pipeline::assess_risk(&self.services, prefix).await {
            RiskOutcome::Risk(out) => f64::from(out.risk),
            RiskOutcome::Failed(e) => {
                tracing::warn!("{}: backtracking risk failed: {e}", self.uri.as_ref());
                return;
            }
            RiskOutcome::NoModel | RiskOutcome::NoProbe => return,
        };
        tracing::debug!("{}: backtracking risk {risk:.3} (threshold {threshold:.3})", self.uri.as_ref());
        if risk < threshold {
            return;
        }
        // Check staleness and take the rate limit in one step, so two runs can't both pass.
        let allowed = {
            let mut state = lock(&self.hints);
            state.runs.is_latest(&self.uri.as_ref().to_string(), self.generation)
                && state.limit.try_take(&self.title, &self.time, self.interval_s)
        };
        if !allowed {
            return;
        }
        let (allowed, withheld) =
            crate::classroom::live::gate(self.services.store.as_ref(), &self.student, &self.title, Help::Hint).await;
        for message in withheld {
            self.client.show_message(MessageType::Info, message).await;
        }
        if !allowed {
            return;
        }
        let message = hint_message();
        let hint_id = match (&self.services.store, self.state_id) {
            (Some(store), Some(state_id)) => {
                let hint = HintRecord {
                    state_id,
                    kind: "backtrack".into(),
                    rule: "probe".into(),
                    title: message.clone(),
                    replacement: String::new(),
                    shown_at: self.time.clone(),
                };
                match store.call(move |db| db.record_hint(&hint)).await {
                    Ok(id) => Some(id),
                    Err(e) => {
                        self.client.log_message(MessageType::Warning, format!("hint not recorded: {e}")).await;
                        None
                    }
                }
            }
            _ => None,
        };
        let params = HintParams {
            text_document: TextDocumentIdentifier { uri: self.uri.clone() },
            message,
            risk,
            hint_id: hint_id.unwrap_or(-1),
        };
        self.client.send_notification::<HintNotification>(params).await;
        crate::classroom::live::after_hint(self.services.store.as_ref(), &self.title, HintOutcome::Shown, HintKind::RiskFlag, Some(risk));
    }
}
