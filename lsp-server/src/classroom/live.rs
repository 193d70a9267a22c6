//! What the LSP handlers call: thin async hooks over the store and a background
//! task per store that fetches the policy, sends the outbox and the raised hands
//! and reads the teacher's replies, off the executor. Each hook returns the
//! messages the handler should show (each one once); replies reach the editors
//! that [`subscribe`]d.
//!
//! A hint's outcome rides on the title's next run event: `shown` (the risk flag
//! was sent, or the editor was answered a list of fixes), `accepted` (a fix was
//! applied), `dismissed` (the student dismissed the risk flag, or ran again after
//! a list of fixes was shown without applying any of them).

use super::hands::{raise_hand, raised_message, reply_message, Ask};
use super::policy::{assignment_notice, clamp_hint_size, decide, Help, HintCounts};
use super::reflect::{fix_gate, withheld_message, FixGate};
use super::sync::{flush_outbox, refresh_policy, sync_hands, PolicyFetch};
use super::{new_event_id, read, rfc3339};
use crate::clock::now_unix;
use crate::coach::style_fix::HintSize;
use crate::store::StoreHandle;
use pencil_core::classroom::{Event, HintKind, HintOutcome, Policy, RiskBucket, RunStatus};
use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex, MutexGuard, OnceLock};
use std::time::{Duration, Instant};
use tokio::sync::{mpsc, Notify};

/// How often the policy is fetched and a failed send retried at most
/// (`PENCIL_CLASS_SYNC_SECS`, default 180).
pub const SYNC_ENV: &str = "PENCIL_CLASS_SYNC_SECS";

/// How often the hub is asked for replies at most while a hand waits for one.
const HAND_POLL: Duration = Duration::from_secs(20);

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
    hints: Mutex<HashMap<String, PendingHint>>,
    /// Editors to show teachers' replies in.
    editors: Mutex<Vec<mpsc::UnboundedSender<String>>>,
}

/// A title's hint since its last run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PendingHint {
    pub outcome: HintOutcome,
    pub kind: HintKind,
    pub risk: Option<RiskBucket>,
}

/// Keeps the more telling of two hints for one event: accepted over dismissed over
/// shown; between equals, the first (the risk bucket is kept from either).
pub fn merge_hint(old: Option<PendingHint>, new: PendingHint) -> PendingHint {
    let rank = |o: HintOutcome| match o {
        HintOutcome::Shown => 0,
        HintOutcome::Dismissed => 1,
        HintOutcome::Accepted => 2,
    };
    let Some(old) = old else { return new };
    let mut kept = if rank(new.outcome) > rank(old.outcome) { new } else { old };
    kept.risk = kept.risk.or(old.risk).or(new.risk);
    kept
}

/// The hint as the run event reports it: a list of fixes still only shown when the
/// student runs again was passed over, so it is `dismissed`. A risk flag only shown
/// stays `shown` (it asks for no action).
pub fn at_run(h: PendingHint) -> PendingHint {
    match (h.outcome, h.kind) {
        (HintOutcome::Shown, HintKind::RuleFix | HintKind::StyleFix) => PendingHint { outcome: HintOutcome::Dismissed, ..h },
        _ => h,
    }
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

impl Live {
    /// Shows `message` in every editor still listening; whether any got it.
    fn tell_editors(&self, message: &str) -> bool {
        let mut editors = lock(&self.editors);
        editors.retain(|e| !e.is_closed());
        editors.iter().filter(|e| e.send(message.to_string()).is_ok()).count() > 0
    }

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
            (policy, flush_outbox(&s), sync_hands(&s))
        })
        .await;
        let mut failed = false;
        let mut waiting = false;
        if let Ok((policy, sent, hands)) = done {
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
            match hands {
                Ok(h) => {
                    lock(&live.pending).extend(h.refused);
                    waiting = h.waiting;
                    for r in h.replies {
                        if live.tell_editors(&reply_message(&r.title, &r.reply)) {
                            let id = r.hand_id.clone();
                            if let Err(e) = store.call(move |db| db.mark_reply_shown(&id)).await {
                                tracing::warn!("a teacher's reply could not be marked shown: {e}");
                            }
                        }
                    }
                }
                Err(e) => {
                    tracing::info!("hands not synced yet: {e}");
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
            if waiting { interval.min(HAND_POLL) } else { interval }
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
    let hint = lock(&live.hints).remove(title).map(at_run);
    queue(store, &live, title, status, error_class, hint).await;
    messages
}

/// A hint was shown, accepted or dismissed for `title`: reported with the title's next run.
pub fn after_hint(store: Option<&StoreHandle>, title: &str, outcome: HintOutcome, kind: HintKind, risk: Option<f64>) {
    let Some(store) = store else { return };
    let new = PendingHint { outcome, kind, risk: risk.map(risk_bucket) };
    let live = live(store);
    let mut hints = lock(&live.hints);
    let old = hints.get(title).copied();
    hints.insert(title.to_string(), merge_hint(old, new));
}

/// The teachers' replies for this store, as messages to show; the sender ends with the process.
pub fn subscribe(store: Option<&StoreHandle>) -> Option<mpsc::UnboundedReceiver<String>> {
    let store = store?;
    let (tx, rx) = mpsc::unbounded_channel();
    let live = live(store);
    lock(&live.editors).push(tx);
    // Replies that arrived while no editor listened are shown now.
    live.wake.notify_one();
    Some(rx)
}

/// "Ask my teacher": queues the hand and wakes the sender. Returns what to tell the
/// student, or why nothing was queued.
pub async fn ask(store: Option<&StoreHandle>, student: &str, ask: Ask) -> Result<String, String> {
    let Some(store) = store else { return Err("the coach's store is not available, so nothing can be sent".into()) };
    let student = student.to_string();
    let raised = store
        .call(move |db| Ok(raise_hand(db, &student, &ask, now_unix())))
        .await
        .map_err(|e| e.to_string())?
        .map_err(|e| e.to_string())?;
    live(store).wake.notify_one();
    Ok(raised_message(&raised))
}

/// [`ask`] from blocking code (an action the student confirmed in the coach's window):
/// queues the hand, and wakes the sender when a Tokio runtime is at hand.
pub fn ask_blocking(store: &StoreHandle, student: &str, ask: Ask) -> Result<String, String> {
    let student = student.to_string();
    let raised = store
        .call_blocking(move |db| Ok(raise_hand(db, &student, &ask, now_unix())))
        .map_err(|e| e.to_string())?
        .map_err(|e| e.to_string())?;
    if let Ok(handle) = tokio::runtime::Handle::try_current() {
        let _entered = handle.enter();
        live(store).wake.notify_one();
    }
    Ok(raised_message(&raised))
}

/// Under a reflect-first policy, whether the fixes for this failing run must wait
/// for the student's reflection on `error_key`; the message says why (once per title and error).
pub async fn reflect_gate(store: Option<&StoreHandle>, student: &str, title: &str, error_key: Option<&str>) -> (FixGate, Vec<String>) {
    let Some(store) = store else { return (FixGate::Show, Vec::new()) };
    let Some((class_name, policy)) = membership_policy(store).await else { return (FixGate::Show, Vec::new()) };
    if fix_gate(policy.as_ref(), error_key, false) == FixGate::Show {
        return (FixGate::Show, Vec::new());
    }
    let Some(key) = error_key else { return (FixGate::Show, Vec::new()) };
    let (s, t, k) = (student.to_string(), title.to_string(), key.to_string());
    // Unreadable: withhold (the policy asks for it) rather than show.
    let reflected = store.call(move |db| db.reflection(&s, &t, &k)).await.map(|r| r.is_some()).unwrap_or(false);
    match fix_gate(policy.as_ref(), error_key, reflected) {
        FixGate::Show => (FixGate::Show, Vec::new()),
        FixGate::NeedsReflection => {
            let told = live(store).once(format!("reflect:{title}:{key}"), withheld_message(&class_name));
            (FixGate::NeedsReflection, told.into_iter().collect())
        }
    }
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
    hint: Option<PendingHint>,
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
    let event = Event {
        id: id.clone(),
        time: rfc3339(now_unix()),
        title,
        status,
        error_class,
        risk_bucket: hint.and_then(|h| h.risk),
        hint: hint.map(|h| h.outcome),
        idle_seconds,
        hint_kind: hint.map(|h| h.kind),
    };
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

    fn hint(outcome: HintOutcome, kind: HintKind) -> PendingHint {
        PendingHint { outcome, kind, risk: None }
    }

    #[test]
    fn a_fix_list_passed_over_is_dismissed_and_accepted_wins() {
        use HintKind::{RiskFlag, RuleFix, StyleFix};
        use HintOutcome::{Accepted, Dismissed, Shown};
        // (hints since the last run, in order) -> what the next run's event says.
        type Case<'a> = (&'a [PendingHint], Option<(HintOutcome, HintKind)>);
        let cases: &[Case] = &[
            (&[], None),
            (&[hint(Shown, RuleFix)], Some((Dismissed, RuleFix))),
            (&[hint(Shown, StyleFix), hint(Accepted, StyleFix)], Some((Accepted, StyleFix))),
            (&[hint(Shown, RuleFix), hint(Accepted, RuleFix), hint(Shown, RuleFix)], Some((Accepted, RuleFix))),
            (&[hint(Shown, RiskFlag)], Some((Shown, RiskFlag))),
            (&[hint(Shown, RiskFlag), hint(Dismissed, RiskFlag)], Some((Dismissed, RiskFlag))),
            (&[hint(Shown, RiskFlag), hint(Shown, RuleFix)], Some((Shown, RiskFlag))),
            (&[hint(Shown, RiskFlag), hint(Accepted, RuleFix)], Some((Accepted, RuleFix))),
        ];
        for (hints, expected) in cases {
            let pending = hints.iter().fold(None, |old, &new| Some(merge_hint(old, new)));
            assert_eq!(pending.map(at_run).map(|h| (h.outcome, h.kind)), *expected, "{hints:?}");
        }
        let risky = PendingHint { risk: Some(RiskBucket::High), ..hint(Shown, RiskFlag) };
        assert_eq!(merge_hint(Some(risky), hint(Accepted, RuleFix)).risk, Some(RiskBucket::High), "the bucket stays");
    }
}
