//! Pending confirmations: what a WebSocket client asked for that only the student
//! may allow (`trust::NEEDS_STUDENT_CONFIRMATION`), waiting for the student's answer
//! in the confirmation page (`confirm_page`). Plain bookkeeping, no HTTP and no LSP:
//! each entry has an unguessable id (the address of its page), a second secret that
//! only its page shows (the form nonce), a deadline, and the session that asked.
//! An entry is taken at most once; expired entries and those of a closed session go.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

/// How long a confirmation waits for the student.
pub const CONFIRM_TTL: Duration = Duration::from_secs(120);

/// Most confirmations one session may have waiting at once (a page cannot pile up windows).
pub const MAX_PER_SESSION: usize = 3;

/// Most confirmations waiting across all sessions.
pub const MAX_PENDING: usize = 64;

/// Why no confirmation was filed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FileError {
    /// The session already has [`MAX_PER_SESSION`] waiting.
    #[error("{MAX_PER_SESSION} confirmations are already waiting: confirm or cancel those windows first")]
    TooManyForSession,
    /// The listener already has [`MAX_PENDING`] waiting.
    #[error("too many confirmations are waiting; try again in a few minutes")]
    TooMany,
    /// The operating system gave no random bytes.
    #[error("no random bytes for a confirmation")]
    Random,
}

/// Why a posted answer was not taken.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TakeError {
    /// No such id: never filed, already answered, expired, or its session closed.
    Gone,
    /// The form's nonce is not the one its page showed.
    WrongNonce,
}

struct Entry<T> {
    session: u64,
    nonce: String,
    deadline: Instant,
    payload: T,
}

/// The confirmations waiting on one listener, shared by its sessions and its HTTP side.
pub struct Confirmations<T> {
    entries: Mutex<HashMap<String, Entry<T>>>,
    sessions: AtomicU64,
}

impl<T> Default for Confirmations<T> {
    fn default() -> Self {
        Confirmations { entries: Mutex::new(HashMap::new()), sessions: AtomicU64::new(1) }
    }
}

impl<T> std::fmt::Debug for Confirmations<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Confirmations({} waiting)", self.lock().len())
    }
}

/// 256 random bits as 64 lowercase hex digits (the shape `trust::is_confirmation_id` accepts).
pub fn random_hex() -> Option<String> {
    let mut bytes = [0u8; 32];
    getrandom::fill(&mut bytes).ok()?;
    Some(bytes.iter().map(|b| format!("{b:02x}")).collect())
}

impl<T> Confirmations<T> {
    fn lock(&self) -> MutexGuard<'_, HashMap<String, Entry<T>>> {
        self.entries.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// A number for a new session (its confirmations go when it closes).
    pub fn new_session(&self) -> u64 {
        self.sessions.fetch_add(1, Ordering::Relaxed)
    }

    /// Files `payload` for `session`; returns its id. Expired entries are dropped first.
    pub fn file(&self, session: u64, payload: T, now: Instant) -> Result<String, FileError> {
        let mut entries = self.lock();
        entries.retain(|_, e| e.deadline > now);
        if entries.values().filter(|e| e.session == session).count() >= MAX_PER_SESSION {
            return Err(FileError::TooManyForSession);
        }
        if entries.len() >= MAX_PENDING {
            return Err(FileError::TooMany);
        }
        let (id, nonce) = random_hex().zip(random_hex()).ok_or(FileError::Random)?;
        entries.insert(id.clone(), Entry { session, nonce, deadline: now + CONFIRM_TTL, payload });
        Ok(id)
    }

    /// Reads a waiting entry for its page: `show` gets the payload and the form nonce.
    pub fn show<R>(&self, id: &str, now: Instant, show: impl FnOnce(&T, &str) -> R) -> Option<R> {
        let entries = self.lock();
        entries.get(id).filter(|e| e.deadline > now).map(|e| show(&e.payload, &e.nonce))
    }

    /// Takes the entry answered with `nonce`, once. A wrong nonce leaves it waiting.
    pub fn take(&self, id: &str, nonce: &str, now: Instant) -> Result<T, TakeError> {
        let mut entries = self.lock();
        let entry = entries.get(id).filter(|e| e.deadline > now).ok_or(TakeError::Gone)?;
        if !constant_time_eq(entry.nonce.as_bytes(), nonce.as_bytes()) {
            return Err(TakeError::WrongNonce);
        }
        entries.remove(id).map(|e| e.payload).ok_or(TakeError::Gone)
    }

    /// Removes the entry if it has expired by `now`; returns it then (to tell its session).
    pub fn expire(&self, id: &str, now: Instant) -> Option<T> {
        let mut entries = self.lock();
        if entries.get(id).is_some_and(|e| e.deadline <= now) {
            return entries.remove(id).map(|e| e.payload);
        }
        None
    }

    /// Drops every entry of a session that closed: nobody is left to tell the outcome.
    pub fn end_session(&self, session: u64) {
        self.lock().retain(|_, e| e.session != session);
    }
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    std::hint::black_box(a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y))) == 0
}

/// A session's link to the listener's confirmations; its entries go when it drops.
pub struct SessionLink<T> {
    /// The listener's confirmations.
    pub confirmations: Arc<Confirmations<T>>,
    /// This session's number.
    pub session: u64,
    /// `http://<Host>` the client connected to: where the confirmation pages are.
    pub base_url: String,
    /// Who asked, in words for the page ("the page at https://…").
    pub requester: String,
}

impl<T> SessionLink<T> {
    /// A link for a new session.
    pub fn new(confirmations: Arc<Confirmations<T>>, base_url: String, requester: String) -> SessionLink<T> {
        let session = confirmations.new_session();
        SessionLink { confirmations, session, base_url, requester }
    }

    /// The address of a confirmation's page.
    pub fn url(&self, id: &str) -> String {
        format!("{}{}{id}", self.base_url, super::trust::CONFIRM_PATH)
    }
}

impl<T> Drop for SessionLink<T> {
    fn drop(&mut self) {
        self.confirmations.end_session(self.session);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_entry_is_taken_once_with_its_own_nonce_before_its_deadline() {
        let c = Confirmations::<&str>::default();
        let now = Instant::now();
        let s = c.new_session();
        let id = c.file(s, "join", now).expect("filed");
        assert!(crate::server::trust::is_confirmation_id(&id), "{id}");
        let nonce = c.show(&id, now, |p, n| {
            assert_eq!(*p, "join");
            n.to_string()
        });
        let nonce = nonce.expect("shown");
        assert_ne!(nonce, id);
        assert_eq!(c.take(&id, "0".repeat(64).as_str(), now), Err(TakeError::WrongNonce));
        assert_eq!(c.take(&id, "", now), Err(TakeError::WrongNonce));
        assert_eq!(c.take(&id, &nonce, now), Ok("join"));
        assert_eq!(c.take(&id, &nonce, now), Err(TakeError::Gone), "a reused id");
        assert!(c.show(&id, now, |_, _| ()).is_none());
    }

    #[test]
    fn expired_entries_are_gone() {
        let c = Confirmations::<u8>::default();
        let now = Instant::now();
        let s = c.new_session();
        let id = c.file(s, 1, now).expect("filed");
        let nonce = c.show(&id, now, |_, n| n.to_string()).expect("shown");
        let later = now + CONFIRM_TTL;
        assert!(c.show(&id, later, |_, _| ()).is_none());
        assert_eq!(c.take(&id, &nonce, later), Err(TakeError::Gone));
        assert_eq!(c.expire(&id, now), None, "not yet expired");
        assert_eq!(c.expire(&id, later), Some(1));
        assert_eq!(c.take(&id, &nonce, now), Err(TakeError::Gone));
    }

    #[test]
    fn a_session_has_a_few_waiting_and_loses_them_when_it_closes() {
        let c = Arc::new(Confirmations::<usize>::default());
        let now = Instant::now();
        let link = SessionLink::new(Arc::clone(&c), "http://127.0.0.1:7".into(), "a page".into());
        let ids: Vec<String> = (0..MAX_PER_SESSION).map(|i| c.file(link.session, i, now).expect("filed")).collect();
        assert_eq!(c.file(link.session, 9, now), Err(FileError::TooManyForSession));
        let other = c.new_session();
        let theirs = c.file(other, 7, now).expect("another session has its own room");
        assert!(link.url(&ids[0]).starts_with("http://127.0.0.1:7/confirm/"));
        drop(link);
        assert!(ids.iter().all(|id| c.show(id, now, |_, _| ()).is_none()));
        assert!(c.show(&theirs, now, |_, _| ()).is_some());
        // Expired entries make room again.
        let later = now + CONFIRM_TTL;
        for i in 0..MAX_PER_SESSION {
            c.file(other, i, later).expect("room after expiry");
        }
    }
}
