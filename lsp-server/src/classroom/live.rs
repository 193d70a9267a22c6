//! What the LSP handlers call: thin async hooks over the store and a background
//! task per store that fetches the policy and sends the outbox, off the executor.
//! Each hook returns the messages the handler should show (each one once).

use super::policy::{assignment_notice, clamp_hint_size, decide, Help, HintCounts};
use super::sync::{flush_outbox, refresh_policy, PolicyFetch};
use super::{new_event_id, read, rfc3339};
use crate::clock::now_unix;
use crate::coach::style_fix::HintSize;
use crate::store::StoreHandle;
use pencil_core::classroom::{Event, HintOutcome, Policy, RiskBucket, RunStatus};
use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex, MutexGuard, OnceLock};
use std::time::{Duration, Instant};
use tokio::sync::Notify;

/// How often the policy is fetched and a failed send retried at most
/// (`PENCIL_CLASS_SYNC_SECS`, default 180).
pub const SYNC_ENV: &str = "PENCIL_CLASS_SYNC_SECS";

fn sync_interval() -> Duration {
    let secs = std::env::var(SYNC_ENV).ok().and_then(|s| s.parse::<u64>().ok()).filter(|&s| s > 0).unwrap_or(180);
    Duration::from_secs(secs)
}

/// Per store: what was told already, messages waiting for a handler, the sender's wake-up.
#[derive(Default)]
pub struct Live {
    told: Mutex<HashSet<String>>,
    pending: Mutex<Vec<String>>,
    wake: Notify,
    last_event: Mutex<Option<Instant>>,
    /// Per title: the hint outcome since its last run, reported with its next run
    /// (an event is one run; a separate hint event would count as a run).
    hints: Mutex<HashMap<String, (HintOutcome, Option<RiskBucket>)>>,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

impl Live {
    /// `message` unless it was told before under `key`.
    fn once(&self, key: String, message: String) -> Option<String> {
        lock(&self.told).insert(key).then_some(message)
    }

    /// Messages from the background task, each once.
    fn take_pending(&self) -> Vec<String> {
        std::mem::take(&mut *lock(&self.pending)).into_iter().filter_map(|m| self.once(m.clone(), m)).collect()
    }
}

/// The live state of `store`, starting its sync task on first use (needs a Tokio runtime).
fn live(store: &StoreHandle) -> Arc<Live> {
    static ALL: OnceLock<Mutex<HashMap<String, Arc<Live>>>> = OnceLock::new();
    let mut all = lock(ALL.get_or_init(Mutex::default));
    if let Some(l) = all.get(store.local_student()) {
        return l.clone();
    }
    let l = Arc::new(Live::default());
    all.insert(store.local_student().to_string(), l.clone());
    tokio::spawn(sync_task(store.clone(), l.clone()));
    l
}

/// Starts classroom sync for this store (fetch the policy now, send what is queued),
/// when a Tokio runtime is at hand (tools without one have nothing to sync).
pub fn start(store: Option<&StoreHandle>) {
    let Some(s) = store else { return };
    if let Ok(handle) = tokio::runtime::Handle::try_current() {
        let _entered = handle.enter();
        live(s).wake.notify_one();
    }
}

async fn sync_task(store: StoreHandle, live: Arc<Live>) {
    let interval = sync_interval();
    let mut backoff = Duration::from_secs(1);
    let mut last_policy: Option<Instant> = None;
    loop {
        let fetch_policy = last_policy.is_none_or(|t| t.elapsed() >= interval);
        let s = store.clone();
        let done = tokio::task::spawn_blocking(move || {
            let policy = fetch_policy.then(|| refresh_policy(&s));
            (policy, flush_outbox(&s))
        })
        .await;
        let mut failed = false;
        if let Ok((policy, sent)) = done {
            match policy {
                Some(PolicyFetch::Refused(message)) => lock(&live.pending).push(message),
                Some(PolicyFetch::Failed(e)) => {
                    tracing::info!("class policy not fetched: {e}");
                    failed = true;
                }
                Some(PolicyFetch::Accepted { .. } | PolicyFetch::NotJoined) | None => {}
            }
            if fetch_policy && !failed {
                last_policy = Some(Instant::now());
            }
            match sent {
                Ok(n) if n > 0 => tracing::debug!("sent {n} class events"),
                Ok(_) => {}
                Err(e) => {
                    tracing::info!("class events not sent yet: {e}");
                    failed = true;
                }
            }
        }
        // Retry sooner after a failure, doubling up to the interval; a run wakes it at once.
        let wait = if failed {
            let w = backoff;
            backoff = (backoff * 2).min(interval);
            w
        } else {
            backoff = Duration::from_secs(1);
            interval
        };
        tokio::select! {
            () = tokio::time::sleep(wait) => {}
            () = live.wake.notified() => {}
        }
    }
}

async fn membership_policy(store: &StoreHandle) -> Option<(String, Option<Policy>)> {
    match store.call(read).await {
        Ok(Some((m, p))) => Some((m.class_name, p)),
        Ok(None) => None,
        Err(e) => {
            tracing::warn!("class membership not readable: {e}");
            None
        }
    }
}

/// After a checked run: queue its event and wake the sender. Returns what to tell the student.
pub async fn after_run(store: Option<&StoreHandle>, title: &str, status: &str, error_class: Option<String>) -> Vec<String> {
    let Some(store) = store else { return Vec::new() };
    let live = live(store);
    let mut messages = live.take_pending();
    let Some((_, policy)) = membership_policy(store).await else { return messages };
    if let Some(notice) = assignment_notice(policy.as_ref(), title, now_unix()) {
        messages.extend(live.once(format!("assignment:{title}"), notice));
    }
    let Ok(status) = serde_json::from_value::<RunStatus>(serde_json::Value::String(status.to_string())) else {
        return messages;
    };
    let hint = lock(&live.hints).remove(title);
    queue(store, &live, title, status, error_class, hint.and_then(|h| h.1), hint.map(|h| h.0)).await;
    messages
}

/// A hint was shown or accepted for `title`: reported with the title's next run.
pub fn after_hint(store: Option<&StoreHandle>, title: &str, outcome: HintOutcome, risk: Option<f64>) {
    let Some(store) = store else { return };
    let bucket = risk.map(risk_bucket);
    lock(&live(store).hints).insert(title.to_string(), (outcome, bucket));
}

/// The backtracking risk in [0, 1] as the dashboard's three buckets.
pub fn risk_bucket(risk: f64) -> RiskBucket {
    if risk >= 2.0 / 3.0 {
        RiskBucket::High
    } else if risk >= 1.0 / 3.0 {
        RiskBucket::Medium
    } else {
        RiskBucket::Low
    }
}

async fn queue(
    store: &StoreHandle,
    live: &Live,
    title: &str,
    status: RunStatus,
    error_class: Option<String>,
    risk_bucket: Option<RiskBucket>,
    hint: Option<HintOutcome>,
) {
    let idle_seconds = {
        let mut last = lock(&live.last_event);
        let idle = last.map(|t| u32::try_from(t.elapsed().as_secs()).unwrap_or(u32::MAX));
        *last = Some(Instant::now());
        idle
    };
    let id = match new_event_id() {
        Ok(id) => id,
        Err(e) => {
            tracing::warn!("{e}");
            return;
        }
    };
    let title: String = title.chars().take(pencil_core::classroom::MAX_EVENT_TITLE).collect();
    let error_class = error_class.map(|c| c.chars().take(pencil_core::classroom::MAX_ERROR_CLASS).collect());
    let event = Event { id: id.clone(), time: rfc3339(now_unix()), title, status, error_class, risk_bucket, hint, idle_seconds, hint_kind: None };
    let Ok(json) = serde_json::to_string(&event) else { return };
    let now = crate::clock::now_timestamp();
    match store.call(move |db| db.queue_event(&id, &json, &now)).await {
        Ok(true) => live.wake.notify_one(),
        Ok(false) => {}
        Err(e) => tracing::warn!("class event not queued: {e}"),
    }
}

/// Whether the policy lets the coach give `help` for `title`; when not, the message
/// to show (once per reason and title; `None` after the first time).
pub async fn gate(store: Option<&StoreHandle>, student: &str, title: &str, help: Help) -> (bool, Vec<String>) {
    let Some(store) = store else { return (true, Vec::new()) };
    let live = live(store);
    let mut messages = live.take_pending();
    let Some((class_name, policy)) = membership_policy(store).await else { return (true, messages) };
    let counts = if help == Help::Hint && policy.is_some() {
        let (student, title) = (student.to_string(), title.to_string());
        let since = pencil_core::trace::format_timestamp(now_unix() - 3600);
        match store.call(move |db| db.hint_counts(&student, &title, &since)).await {
            Ok((per_title, last_hour)) => HintCounts { per_title, last_hour },
            // Unknown counts: stay within the quota rather than over it.
            Err(_) => HintCounts { per_title: u32::MAX, last_hour: u32::MAX },
        }
    } else {
        HintCounts::default()
    };
    match decide(policy.as_ref(), help, counts) {
        Ok(()) => (true, messages),
        Err(why) => {
            messages.extend(live.once(format!("{}:{title}", why.key()), why.message(&class_name)));
            (false, messages)
        }
    }
}

/// The hint size to use: the setting, clamped by the policy.
pub async fn hint_size(store: Option<&StoreHandle>, wanted: HintSize) -> HintSize {
    let Some(store) = store else { return wanted };
    match membership_policy(store).await {
        Some((_, policy)) => clamp_hint_size(policy.as_ref(), wanted),
        None => wanted,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn risk_buckets_split_the_range_in_thirds() {
        assert_eq!(risk_bucket(0.0), RiskBucket::Low);
        assert_eq!(risk_bucket(0.4), RiskBucket::Medium);
        assert_eq!(risk_bucket(0.9), RiskBucket::High);
    }
}
