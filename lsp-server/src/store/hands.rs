//! Raised hands: what the student sent the teacher ("Ask my teacher") and the
//! teacher's replies. A hand's request waits here until the hub acknowledged it
//! (resent with the same id until then); the reply columns mirror the hub's answer.

use super::database::Database;
use super::StoreError;
use rusqlite::{params, OptionalExtension as _, TransactionBehavior};

/// One hand as the student sees it again.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HandRow {
    pub hand_id: String,
    pub title: String,
    /// What the student wrote with it.
    pub message: Option<String>,
    /// `YYYY-MM-DD HH:MM:SS` UTC.
    pub asked_at: String,
    /// When the hub acknowledged it; `None` while it waits to be sent.
    pub sent_at: Option<String>,
    pub reply: Option<String>,
    pub replied_at: Option<String>,
    pub resolved: bool,
}

/// A hand waiting to be sent: its id and the exact `HandRequest` JSON.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnsentHand {
    pub hand_id: String,
    pub request_json: String,
}

/// A reply the editor has not shown yet.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewReply {
    pub hand_id: String,
    pub title: String,
    pub reply: String,
}

impl Database {
    /// Queues a hand; only while a class is joined. Returns whether it was queued.
    pub fn queue_hand(&mut self, hand_id: &str, title: &str, message: Option<&str>, request_json: &str, now: &str) -> Result<bool, StoreError> {
        let tx = self.conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        let joined: bool = tx.query_row("SELECT EXISTS (SELECT 1 FROM class_membership)", [], |r| r.get(0))?;
        if joined {
            tx.execute(
                "INSERT OR IGNORE INTO class_hands (hand_id, title, message, request_json, asked_at) VALUES (?1, ?2, ?3, ?4, ?5)",
                params![hand_id, title, message, request_json, now],
            )?;
        }
        tx.commit()?;
        Ok(joined)
    }

    /// Hands not yet acknowledged by the hub, oldest first.
    pub fn unsent_hands(&self) -> Result<Vec<UnsentHand>, StoreError> {
        let mut stmt = self.conn.prepare(
            "SELECT hand_id, request_json FROM class_hands WHERE sent_at IS NULL AND request_json IS NOT NULL ORDER BY seq",
        )?;
        let rows = stmt
            .query_map([], |r| Ok(UnsentHand { hand_id: r.get(0)?, request_json: r.get(1)? }))?
            .collect::<Result<Vec<_>, _>>()?;
        Ok(rows)
    }

    /// The hub acknowledged `hand_id`: the request (with its code) is no longer kept here.
    pub fn hand_sent(&mut self, hand_id: &str, now: &str) -> Result<bool, StoreError> {
        let n = self.conn.execute(
            "UPDATE class_hands SET sent_at = ?2, request_json = NULL WHERE hand_id = ?1 AND sent_at IS NULL",
            params![hand_id, now],
        )?;
        Ok(n == 1)
    }

    /// Drops a hand that can never be sent (the hub refuses it for good).
    pub fn drop_hand(&mut self, hand_id: &str) -> Result<bool, StoreError> {
        Ok(self.conn.execute("DELETE FROM class_hands WHERE hand_id = ?1", params![hand_id])? == 1)
    }

    /// Whether a sent hand still waits for the teacher (no reply, not resolved): the
    /// sync task asks the hub for replies only then.
    pub fn has_open_hand(&self) -> Result<bool, StoreError> {
        Ok(self.conn.query_row(
            "SELECT EXISTS (SELECT 1 FROM class_hands WHERE sent_at IS NOT NULL AND reply IS NULL AND resolved = 0)",
            [],
            |r| r.get(0),
        )?)
    }

    /// Stores what the hub says of a hand; a new or changed reply is to be shown
    /// (again). Returns whether the reply is new or changed. Unknown ids are ignored.
    pub fn record_hand_status(&mut self, hand_id: &str, reply: Option<&str>, replied_at: Option<&str>, resolved: bool) -> Result<bool, StoreError> {
        let tx = self.conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        let old: Option<Option<String>> =
            tx.query_row("SELECT reply FROM class_hands WHERE hand_id = ?1", params![hand_id], |r| r.get(0)).optional()?;
        let Some(old) = old else { return Ok(false) };
        let changed = reply.is_some() && reply != old.as_deref();
        tx.execute(
            "UPDATE class_hands SET reply = COALESCE(?2, reply), replied_at = COALESCE(?3, replied_at), resolved = ?4,
                 reply_shown = CASE WHEN ?5 THEN 0 ELSE reply_shown END
             WHERE hand_id = ?1",
            params![hand_id, reply, replied_at, resolved, changed],
        )?;
        tx.commit()?;
        Ok(changed)
    }

    /// Replies the editor has not shown yet, oldest hand first.
    pub fn unshown_replies(&self) -> Result<Vec<NewReply>, StoreError> {
        let mut stmt = self.conn.prepare(
            "SELECT hand_id, title, reply FROM class_hands WHERE reply IS NOT NULL AND reply_shown = 0 ORDER BY seq",
        )?;
        let rows = stmt
            .query_map([], |r| Ok(NewReply { hand_id: r.get(0)?, title: r.get(1)?, reply: r.get(2)? }))?
            .collect::<Result<Vec<_>, _>>()?;
        Ok(rows)
    }

    /// The editor showed the reply of `hand_id`.
    pub fn mark_reply_shown(&mut self, hand_id: &str) -> Result<(), StoreError> {
        self.conn.execute("UPDATE class_hands SET reply_shown = 1 WHERE hand_id = ?1", params![hand_id])?;
        Ok(())
    }

    /// Every hand of the class joined, oldest first.
    pub fn hands(&self) -> Result<Vec<HandRow>, StoreError> {
        let mut stmt = self.conn.prepare(
            "SELECT hand_id, title, message, asked_at, sent_at, reply, replied_at, resolved FROM class_hands ORDER BY seq",
        )?;
        let rows = stmt
            .query_map([], |r| {
                Ok(HandRow {
                    hand_id: r.get(0)?,
                    title: r.get(1)?,
                    message: r.get(2)?,
                    asked_at: r.get(3)?,
                    sent_at: r.get(4)?,
                    reply: r.get(5)?,
                    replied_at: r.get(6)?,
                    resolved: r.get(7)?,
                })
            })?
            .collect::<Result<Vec<_>, _>>()?;
        Ok(rows)
    }

    /// Records what the student wrote they think is wrong with `title` under the
    /// error `error_key` (a later one for the same error replaces it).
    pub fn record_reflection(&mut self, student: &str, title: &str, error_key: &str, text: &str, now: &str) -> Result<(), StoreError> {
        self.conn.execute(
            "INSERT INTO reflections (student_id, title, error_key, text, written_at) VALUES (?1, ?2, ?3, ?4, ?5)
             ON CONFLICT (student_id, title, error_key) DO UPDATE SET text = excluded.text, written_at = excluded.written_at",
            params![student, title, error_key, text, now],
        )?;
        Ok(())
    }

    /// What the student wrote for `title` and this error, if anything.
    pub fn reflection(&self, student: &str, title: &str, error_key: &str) -> Result<Option<String>, StoreError> {
        Ok(self
            .conn
            .query_row(
                "SELECT text FROM reflections WHERE student_id = ?1 AND title = ?2 AND error_key = ?3",
                params![student, title, error_key],
                |r| r.get(0),
            )
            .optional()?)
    }
}

#[cfg(test)]
mod tests {
    use crate::store::{Database, Membership};

    #[test]
    fn a_hand_is_sent_once_and_each_reply_is_shown_once() {
        let dir = tempfile::tempdir().expect("test setup");
        let (mut db, _) = Database::open_in(dir.path()).expect("test setup");
        assert!(!db.queue_hand("h1", "car", None, "{}", "t0").expect("test setup"), "no class, nothing queued");
        db.join_class(&Membership::example()).expect("test setup");
        assert!(db.queue_hand("h1", "car", Some("why?"), "{\"code\":1}", "t0").expect("test setup"));
        assert_eq!(db.unsent_hands().expect("test setup").len(), 1);
        assert!(!db.has_open_hand().expect("test setup"), "not sent yet: nothing to ask the hub");
        assert!(db.hand_sent("h1", "t1").expect("test setup"));
        assert!(!db.hand_sent("h1", "t2").expect("test setup"));
        assert!(db.unsent_hands().expect("test setup").is_empty());
        assert!(db.has_open_hand().expect("test setup"));
        assert!(!db.record_hand_status("h1", None, None, false).expect("test setup"));
        assert!(db.record_hand_status("h1", Some("look at line 1"), Some("t3"), false).expect("test setup"));
        assert!(!db.record_hand_status("h1", Some("look at line 1"), Some("t3"), true).expect("test setup"), "the same reply again");
        assert!(!db.has_open_hand().expect("test setup"));
        let new = db.unshown_replies().expect("test setup");
        assert_eq!(new.len(), 1);
        assert_eq!((new[0].title.as_str(), new[0].reply.as_str()), ("car", "look at line 1"));
        db.mark_reply_shown("h1").expect("test setup");
        assert!(db.unshown_replies().expect("test setup").is_empty());
        assert!(db.record_hand_status("h1", Some("and line 2"), Some("t4"), true).expect("test setup"), "a changed reply");
        assert_eq!(db.unshown_replies().expect("test setup").len(), 1);
        let rows = db.hands().expect("test setup");
        assert_eq!((rows[0].message.as_deref(), rows[0].resolved, rows[0].sent_at.as_deref()), (Some("why?"), true, Some("t1")));
        assert!(db.leave_class().expect("test setup"));
        assert!(db.hands().expect("test setup").is_empty(), "a class's hands go with it");
    }

    #[test]
    fn reflections_are_per_title_and_error() {
        let dir = tempfile::tempdir().expect("test setup");
        let (mut db, _) = Database::open_in(dir.path()).expect("test setup");
        assert_eq!(db.reflection("s", "car", "E: x").expect("test setup"), None);
        db.record_reflection("s", "car", "E: x", "I misspelled it", "t").expect("test setup");
        db.record_reflection("s", "car", "E: x", "the colour name", "t2").expect("test setup");
        assert_eq!(db.reflection("s", "car", "E: x").expect("test setup").as_deref(), Some("the colour name"));
        assert_eq!(db.reflection("s", "car", "E: y").expect("test setup"), None);
        assert_eq!(db.reflection("s", "house", "E: x").expect("test setup"), None);
    }
}
