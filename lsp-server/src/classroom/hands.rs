//! "Ask my teacher": the student's program (and, only if the student agrees, this
//! title's recorded states) queued as a `HandRequest` for the class's hub, and the
//! teacher's replies read back. Plain code over the store; [`super::sync`] sends.
//!
//! Quiz mode does not block asking: the teacher decides what to answer.

use super::{new_event_id, rfc3339};
use crate::store::{Database, HandRow, StoreError, StoredState};
use pencil_core::classroom::{
    HandRequest, HandState, MAX_EVENT_TITLE, MAX_HANDS_BODY, MAX_HAND_MESSAGE, MAX_HAND_PROGRAM, MAX_HAND_STATES,
};

/// What the student asks with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ask {
    pub title: String,
    /// The program as it is now.
    pub program: String,
    pub message: Option<String>,
    /// Whether the student agreed to send this title's recorded states.
    pub share_trace: bool,
}

/// Why a hand was not queued, in words the student can act on.
#[derive(Debug, thiserror::Error)]
pub enum AskError {
    #[error("you are not in a class, so there is no teacher to ask; join one first (pencil-lsp class join CODE --hub URL --name NAME)")]
    NotJoined,
    #[error("{0}")]
    Invalid(String),
    #[error("the store failed: {0}")]
    Store(#[from] StoreError),
}

/// A hand that was queued.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Raised {
    pub hand_id: String,
    pub class_name: String,
    /// How many recorded states go with it.
    pub states: usize,
}

/// The newest states that fit, oldest first: at most [`MAX_HAND_STATES`], each
/// program within [`MAX_HAND_PROGRAM`] (a larger one is left out, not cut), and
/// all of them within `budget` bytes of JSON.
pub fn trace_states(states: &[StoredState], budget: usize) -> Vec<HandState> {
    let mut out = Vec::new();
    let mut used = 0;
    for s in states.iter().rev() {
        if out.len() == MAX_HAND_STATES {
            break;
        }
        if s.code.len() > MAX_HAND_PROGRAM {
            continue;
        }
        let state = HandState { time: rfc3339_of_stored(&s.time), program: s.code.clone() };
        // Escaping can grow a program; measure what is sent.
        let size = serde_json::to_string(&state).map_or(usize::MAX, |j| j.len() + 1);
        if used + size > budget {
            break;
        }
        used += size;
        out.push(state);
    }
    out.reverse();
    out
}

/// A stored `YYYY-MM-DD HH:MM:SS` (UTC) as RFC 3339.
fn rfc3339_of_stored(t: &str) -> String {
    pencil_core::trace::parse_timestamp(t).map_or_else(|| format!("{}Z", t.replacen(' ', "T", 1)), rfc3339)
}

/// Builds the request: checks the program and the message, and adds the trace
/// (when shared) within the hub's body limit.
pub fn build_request(id: String, time: String, ask: &Ask, states: &[StoredState]) -> Result<HandRequest, AskError> {
    if ask.program.len() > MAX_HAND_PROGRAM {
        return Err(AskError::Invalid(format!(
            "the program is larger than {} KiB, too large to send; ask your teacher in person",
            MAX_HAND_PROGRAM / 1024
        )));
    }
    let message = ask.message.as_deref().map(str::trim).filter(|m| !m.is_empty()).map(str::to_string);
    if message.as_ref().is_some_and(|m| m.chars().count() > MAX_HAND_MESSAGE) {
        return Err(AskError::Invalid(format!("the message is longer than {MAX_HAND_MESSAGE} characters; shorten it")));
    }
    let title: String = ask.title.chars().take(MAX_EVENT_TITLE).collect();
    let mut request = HandRequest { id, time, title, program: ask.program.clone(), message, trace: None };
    if ask.share_trace {
        let base = serde_json::to_string(&request).map_err(|e| AskError::Invalid(e.to_string()))?.len();
        // Room for `,"trace":[]` and headroom below the hub's limit.
        let budget = MAX_HANDS_BODY.saturating_sub(base + 1024);
        request.trace = Some(trace_states(states, budget));
    }
    request.validate().map_err(AskError::Invalid)?;
    Ok(request)
}

/// Queues a hand for the class joined (the sync task sends it). `student` is whose
/// states the trace is read from. Blocking: runs on the store's thread.
pub fn raise_hand(db: &mut Database, student: &str, ask: &Ask, now_unix: i64) -> Result<Raised, AskError> {
    let Some(m) = db.membership()? else { return Err(AskError::NotJoined) };
    let states = if ask.share_trace { db.states(student, &ask.title)? } else { Vec::new() };
    let id = new_event_id().map_err(AskError::Invalid)?;
    let request = build_request(id.clone(), rfc3339(now_unix), ask, &states)?;
    let json = serde_json::to_string(&request).map_err(|e| AskError::Invalid(e.to_string()))?;
    let n = request.trace.as_ref().map_or(0, Vec::len);
    let now = pencil_core::trace::format_timestamp(now_unix);
    if !db.queue_hand(&id, &request.title, request.message.as_deref(), &json, &now)? {
        return Err(AskError::NotJoined);
    }
    Ok(Raised { hand_id: id, class_name: m.class_name, states: n })
}

/// What the student reads after asking.
pub fn raised_message(r: &Raised) -> String {
    let trace = match r.states {
        0 => "your program".to_string(),
        n => format!("your program and {n} earlier version{}", if n == 1 { "" } else { "s" }),
    };
    format!(
        "Pencil coach: your hand is raised in class \"{}\": {trace} will reach your teacher as soon as the hub can be reached. \
         The reply will appear where you write your program.",
        r.class_name
    )
}

/// How a teacher's reply is shown in the editor.
pub fn reply_message(title: &str, reply: &str) -> String {
    format!("Your teacher replied about \"{title}\": {reply}")
}

/// The hands in words, oldest first (`pencil-lsp class hands`).
pub fn describe_hands(hands: &[HandRow]) -> Vec<String> {
    if hands.is_empty() {
        return vec!["No hands raised in this class.".into()];
    }
    let mut out = Vec::new();
    for h in hands {
        let state = match (&h.sent_at, &h.reply, h.resolved) {
            (None, _, _) => "waiting to be sent".to_string(),
            (Some(_), None, false) => "sent; no reply yet".to_string(),
            (Some(_), None, true) => "marked done by your teacher".to_string(),
            (Some(_), Some(_), resolved) => format!("replied{}", if resolved { ", done" } else { "" }),
        };
        out.push(format!("\"{}\", asked {} UTC: {state}", h.title, h.asked_at));
        if let Some(m) = &h.message {
            out.push(format!("  you wrote: {m}"));
        }
        if let Some(r) = &h.reply {
            out.push(format!("  teacher ({}): {r}", h.replied_at.as_deref().unwrap_or("?")));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn state(n: i64, code: &str) -> StoredState {
        StoredState { id: n, n, time: format!("2026-12-07 10:00:{n:02}"), code: code.into(), runs: 1, result: None }
    }

    fn ask(share_trace: bool) -> Ask {
        Ask { title: "car".into(), program: "pen red\nfd 100\n".into(), message: Some("  why does it not move?  ".into()), share_trace }
    }

    #[test]
    fn the_trace_goes_only_when_shared_newest_first_within_the_limits() {
        let states: Vec<StoredState> = (1..=3).map(|n| state(n, &format!("fd {n}"))).collect();
        let r = build_request("a".repeat(32), "2026-12-07T10:01:00Z".into(), &ask(false), &states).expect("test setup");
        assert_eq!((r.trace, r.message.as_deref()), (None, Some("why does it not move?")));
        let r = build_request("a".repeat(32), "2026-12-07T10:01:00Z".into(), &ask(true), &states).expect("test setup");
        let trace = r.trace.expect("a trace");
        assert_eq!(trace.iter().map(|s| s.program.as_str()).collect::<Vec<_>>(), ["fd 1", "fd 2", "fd 3"]);
        assert_eq!(trace[0].time, "2026-12-07T10:00:01Z");
        // Too many: the newest MAX_HAND_STATES; too large: left out; over budget: the oldest go.
        let many: Vec<StoredState> = (1..=(MAX_HAND_STATES as i64 + 5)).map(|n| state(n % 60, &format!("fd {n}"))).collect();
        let kept = trace_states(&many, usize::MAX);
        assert_eq!(kept.len(), MAX_HAND_STATES);
        assert_eq!(kept.last().map(|s| s.program.as_str()), Some(format!("fd {}", MAX_HAND_STATES + 5).as_str()));
        let big = vec![state(1, "a"), state(2, &"x".repeat(MAX_HAND_PROGRAM + 1)), state(3, "b")];
        assert_eq!(trace_states(&big, usize::MAX).iter().map(|s| s.program.as_str()).collect::<Vec<_>>(), ["a", "b"]);
        let one = serde_json::to_string(&HandState { time: "2026-12-07T10:00:03Z".into(), program: "b".into() }).expect("test setup").len() + 1;
        assert_eq!(trace_states(&big, one).len(), 1);
    }

    #[test]
    fn oversized_programs_and_messages_are_refused_with_words() {
        let mut a = ask(false);
        a.program = "x".repeat(MAX_HAND_PROGRAM + 1);
        assert!(build_request("a".repeat(32), "2026-12-07T10:01:00Z".into(), &a, &[]).is_err_and(|e| e.to_string().contains("too large")));
        let mut a = ask(false);
        a.message = Some("y".repeat(MAX_HAND_MESSAGE + 1));
        assert!(build_request("a".repeat(32), "2026-12-07T10:01:00Z".into(), &a, &[]).is_err_and(|e| e.to_string().contains("shorten")));
        let mut a = ask(false);
        a.message = Some("   ".into());
        assert_eq!(build_request("a".repeat(32), "2026-12-07T10:01:00Z".into(), &a, &[]).expect("test setup").message, None);
    }

    #[test]
    fn hands_read_as_words() {
        let row = |sent: Option<&str>, reply: Option<&str>, resolved| HandRow {
            hand_id: "h".into(),
            title: "car".into(),
            message: Some("stuck".into()),
            asked_at: "2026-12-07 10:00:00".into(),
            sent_at: sent.map(str::to_string),
            reply: reply.map(str::to_string),
            replied_at: reply.map(|_| "2026-12-07T10:05:00Z".to_string()),
            resolved,
        };
        assert_eq!(describe_hands(&[]), ["No hands raised in this class."]);
        assert!(describe_hands(&[row(None, None, false)])[0].ends_with("waiting to be sent"));
        assert!(describe_hands(&[row(Some("t"), None, false)])[0].ends_with("sent; no reply yet"));
        let replied = describe_hands(&[row(Some("t"), Some("check line 2"), true)]);
        assert_eq!(replied[1], "  you wrote: stuck");
        assert!(replied[0].ends_with("replied, done") && replied[2].contains("check line 2"), "{replied:?}");
        assert!(reply_message("car", "check line 2").contains("\"car\": check line 2"));
    }
}
