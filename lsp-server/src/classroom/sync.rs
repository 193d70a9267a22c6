//! Moves the policy and the events between the store and the hub. Blocking (HTTP
//! and the store): the server runs these on blocking threads.

use super::hub::{self, HubError};
use crate::clock::now_timestamp;
use crate::store::StoreHandle;
use pencil_core::classroom::{verify, Event, EventBatch, PolicyPin, MAX_EVENTS_BODY, MAX_EVENTS_PER_BATCH};

/// What a policy fetch did.
#[derive(Debug)]
pub enum PolicyFetch {
    NotJoined,
    /// Verified and stored (or the same as stored).
    Accepted { serial: u64 },
    /// Verification failed: nothing was stored; the message says why.
    Refused(String),
    Failed(HubError),
}

/// Fetches the policy, verifies it against the pinned key and the serial accepted
/// before, and stores it only if it verifies.
pub fn refresh_policy(store: &StoreHandle) -> PolicyFetch {
    let m = match store.call_blocking(|db| db.membership()) {
        Ok(Some(m)) => m,
        Ok(None) => return PolicyFetch::NotJoined,
        Err(e) => return PolicyFetch::Refused(format!("the store could not be read: {e}")),
    };
    let signed = match hub::policy(&m.hub_url, &m.device_token) {
        Ok(s) => s,
        Err(e) => return PolicyFetch::Failed(e),
    };
    let pin = PolicyPin { teacher_key: m.teacher_key.clone(), class_id: m.class_id, serial: m.policy_serial };
    let policy = match verify(&signed, &pin) {
        Ok(p) => p,
        Err(e) => {
            tracing::warn!("class policy refused: {e}");
            return PolicyFetch::Refused(format!(
                "Pencil coach: the class policy sent by the hub was refused ({e}). \
                 The policy accepted before stays in force."
            ));
        }
    };
    let json = match serde_json::to_string(&signed) {
        Ok(j) => j,
        Err(e) => return PolicyFetch::Refused(format!("the policy could not be stored: {e}")),
    };
    let (class_id, serial) = (m.class_id, policy.serial);
    match store.call_blocking(move |db| db.store_policy(class_id, serial, &json, &now_timestamp())) {
        Ok(_) => PolicyFetch::Accepted { serial },
        Err(e) => PolicyFetch::Refused(format!("the policy could not be stored: {e}")),
    }
}

/// Sends queued events in batches within the hub's limits, oldest first, and drops
/// exactly the acknowledged ones. Returns how many were acknowledged; stops at the
/// first failure (the rest stay queued for the next try).
pub fn flush_outbox(store: &StoreHandle) -> Result<usize, HubError> {
    let Ok(Some(m)) = store.call_blocking(|db| db.membership()) else { return Ok(0) };
    let mut sent = 0;
    loop {
        let queued = store
            .call_blocking(|db| db.queued_events(MAX_EVENTS_PER_BATCH))
            .map_err(|e| HubError::Malformed(format!("the outbox could not be read: {e}")))?;
        if queued.is_empty() {
            return Ok(sent);
        }
        let mut events = Vec::new();
        let mut unreadable = Vec::new();
        let mut size = 64;
        for q in queued {
            match serde_json::from_str::<Event>(&q.event_json) {
                Ok(e) if e.validate().is_ok() => {
                    size += q.event_json.len() + 1;
                    // Leave room for the JSON around the events.
                    if size > MAX_EVENTS_BODY - 1024 {
                        break;
                    }
                    events.push(e);
                }
                // An event the hub would refuse forever would block the queue.
                _ => unreadable.push(q.event_id),
            }
        }
        if !unreadable.is_empty() {
            tracing::warn!("dropping {} unreadable queued class events", unreadable.len());
            let _ = store.call_blocking(move |db| db.drop_acknowledged(&unreadable));
        }
        if events.is_empty() {
            continue;
        }
        let ack = hub::send_events(&m.hub_url, &m.device_token, &EventBatch { events })?;
        let n = ack.acknowledged.len();
        store
            .call_blocking(move |db| db.drop_acknowledged(&ack.acknowledged))
            .map_err(|e| HubError::Malformed(format!("the outbox could not be updated: {e}")))?;
        if n == 0 {
            return Ok(sent);
        }
        sent += n;
    }
}
