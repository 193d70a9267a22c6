//! Moves the policy, the events and the raised hands between the store and the hub. Blocking (HTTP
//! and the store): the server runs these on blocking threads.

use super::hub::{self, HubError};
use crate::clock::now_timestamp;
use crate::store::{NewReply, StoreHandle};
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

/// What a hands sync did.
#[derive(Debug, Default)]
pub struct HandSync {
    /// Hands the hub acknowledged now.
    pub sent: usize,
    /// Hands the hub refused for good (dropped), in words for the student.
    pub refused: Vec<String>,
    /// Replies not shown in the editor yet.
    pub replies: Vec<NewReply>,
    /// A sent hand still waits for its teacher (ask the hub again soon).
    pub waiting: bool,
}

/// Sends the hands waiting (each with its own id, so a resend is kept once), then,
/// while a sent hand waits for its teacher, reads the replies and stores them.
/// Stops at the first failure to reach the hub (the rest stay queued).
pub fn sync_hands(store: &StoreHandle) -> Result<HandSync, HubError> {
    let store_err = |e: crate::store::StoreError| HubError::Malformed(format!("the store failed: {e}"));
    let mut done = HandSync::default();
    let Some(m) = store.call_blocking(|db| db.membership()).map_err(store_err)? else { return Ok(done) };
    for hand in store.call_blocking(|db| db.unsent_hands()).map_err(store_err)? {
        match hub::send_hand(&m.hub_url, &m.device_token, &hand.request_json) {
            Ok(ack) if ack.id == hand.hand_id => {
                let (id, now) = (hand.hand_id.clone(), now_timestamp());
                store.call_blocking(move |db| db.hand_sent(&id, &now)).map_err(store_err)?;
                done.sent += 1;
            }
            Ok(ack) => return Err(HubError::Malformed(format!("the hub acknowledged hand {} for {}", ack.id, hand.hand_id))),
            // A hand the hub refuses as it is will be refused every time: drop it, say so.
            Err(HubError::Refused { status: status @ (400 | 413 | 422), message }) => {
                let id = hand.hand_id.clone();
                store.call_blocking(move |db| db.drop_hand(&id)).map_err(store_err)?;
                done.refused.push(format!(
                    "Pencil coach: the hub refused your question to the teacher ({message}, HTTP {status}); it was not sent."
                ));
            }
            Err(e) => return Err(e),
        }
    }
    if store.call_blocking(|db| db.has_open_hand()).map_err(store_err)? {
        let list = hub::hands(&m.hub_url, &m.device_token)?;
        for h in list.hands {
            let reply = h.reply.map(|r| r.chars().take(pencil_core::classroom::MAX_HAND_MESSAGE).collect::<String>());
            store
                .call_blocking(move |db| db.record_hand_status(&h.id, reply.as_deref(), h.replied_at.as_deref(), h.resolved))
                .map_err(store_err)?;
        }
    }
    done.replies = store.call_blocking(|db| db.unshown_replies()).map_err(store_err)?;
    done.waiting = store.call_blocking(|db| db.has_open_hand()).map_err(store_err)?;
    Ok(done)
}
