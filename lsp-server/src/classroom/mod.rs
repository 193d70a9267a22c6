//! Classroom mode, the student's side: the class joined (`pencil-lsp class`), the
//! teacher's signed hint policy (verified against the key pinned at join, stored,
//! enforced offline), the outbox of code-free run events sent to the hub, and the
//! hands the student raises ("Ask my teacher") with the teacher's replies.
//!
//! Plain code: [`policy`] and [`reflect`] decide, [`hands`] builds a raised hand,
//! [`hub`] talks HTTP (blocking), [`sync`] moves policy, events and hands between
//! store and hub, [`live`] is what the LSP handlers call.

pub mod hands;
pub mod hub;
pub mod live;
pub mod policy;
pub mod reflect;
pub mod sync;

use crate::store::{Database, Membership, StoreError};
use pencil_core::classroom::{verify, Policy, PolicyPin, SignedPolicy};

/// The membership's stored policy, verified again against the pinned key (a row
/// edited on disk is not trusted). `None` when no class is joined or no policy was accepted.
pub fn active_policy(m: &Membership) -> Option<Policy> {
    let signed: SignedPolicy = serde_json::from_str(m.policy_json.as_deref()?).ok()?;
    let pin = PolicyPin { teacher_key: m.teacher_key.clone(), class_id: m.class_id, serial: 0 };
    match verify(&signed, &pin) {
        Ok(p) if p.serial == m.policy_serial => Some(p),
        Ok(_) | Err(_) => {
            tracing::warn!("the stored class policy does not verify against the teacher key; ignoring it");
            None
        }
    }
}

/// The membership and its verified policy, read on the store's thread.
pub fn read(db: &mut Database) -> Result<Option<(Membership, Option<Policy>)>, StoreError> {
    Ok(db.membership()?.map(|m| {
        let p = active_policy(&m);
        (m, p)
    }))
}

/// One line per rule of a policy, for `pencil-lsp class show` and `join`.
pub fn describe(p: &Policy) -> Vec<String> {
    let limit = |n: Option<u32>| n.map_or_else(|| "no limit".to_string(), |n| n.to_string());
    let mut lines = vec![
        format!("policy serial {}", p.serial),
        format!("quiz mode: {}", if p.quiz_mode { "ON (no fixes, no hints; runs are still checked)" } else { "off" }),
        format!("hints: {}", if p.hints_enabled { "on" } else { "off" }),
        format!("hints per program: {}; per hour: {}", limit(p.hints_per_title), limit(p.hints_per_hour)),
        format!("largest hint: {}", p.max_hint_size.as_str()),
    ];
    if p.reflect_first {
        lines.push("reflect first: write what you think is wrong before a fix is shown".into());
    }
    for a in &p.assignments {
        lines.push(format!(
            "assignment \"{}\": opens {}, closes {}",
            a.title,
            a.opens.as_deref().unwrap_or("-"),
            a.closes.as_deref().unwrap_or("-")
        ));
    }
    lines
}

/// A trace timestamp (`YYYY-MM-DD HH:MM:SS` UTC) as RFC 3339, the events' time format.
pub fn rfc3339(unix: i64) -> String {
    format!("{}Z", pencil_core::trace::format_timestamp(unix).replacen(' ', "T", 1))
}

/// A random event id: 128 bits, hex.
pub fn new_event_id() -> Result<String, String> {
    let mut bytes = [0u8; 16];
    getrandom::fill(&mut bytes).map_err(|e| format!("no randomness for an event id: {e}"))?;
    Ok(bytes.iter().map(|b| format!("{b:02x}")).collect())
}

#[cfg(test)]
mod tests {
    use super::*;
    use ed25519_dalek::SigningKey;
    use pencil_core::classroom::{encode_key, sign};

    fn member(key: &SigningKey, policy: &Policy) -> Membership {
        Membership {
            hub_url: "http://127.0.0.1:1".into(),
            class_id: policy.class_id,
            class_name: "7b".into(),
            display_name: "Ada".into(),
            device_token: "t".into(),
            teacher_key: encode_key(&key.verifying_key()),
            joined_at: "2026-12-06 12:00:00".into(),
            policy_json: Some(serde_json::to_string(&sign(policy.clone(), key)).expect("test setup")),
            policy_serial: policy.serial,
            policy_since: None,
        }
    }

    #[test]
    fn a_stored_policy_is_trusted_only_while_it_verifies() {
        let key = SigningKey::from_bytes(&[7; 32]);
        let mut quiz = Policy::default_for(4);
        quiz.quiz_mode = true;
        let m = member(&key, &quiz);
        assert_eq!(active_policy(&m), Some(quiz.clone()));
        // Quiz mode switched off by editing the stored row: the signature no longer matches.
        let mut edited = m.clone();
        edited.policy_json = m.policy_json.as_ref().map(|j| j.replace("\"quiz_mode\":true", "\"quiz_mode\":false"));
        assert_ne!(edited.policy_json, m.policy_json);
        assert_eq!(active_policy(&edited), None);
        // Signed by another key than the one pinned at join.
        let mut other = member(&SigningKey::from_bytes(&[8; 32]), &quiz);
        other.teacher_key = m.teacher_key.clone();
        assert_eq!(active_policy(&other), None);
    }

    #[test]
    fn event_times_are_rfc3339_and_ids_are_valid() {
        assert_eq!(rfc3339(0), "1970-01-01T00:00:00Z");
        let id = new_event_id().expect("test setup");
        assert_eq!(id.len(), 32);
        assert_ne!(id, new_event_id().expect("test setup"));
    }
}
