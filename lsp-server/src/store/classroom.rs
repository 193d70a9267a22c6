//! Classroom rows of the store: the one class this installation has joined, the
//! last verified teacher policy, and the outbox of code-free events for the hub.
//! The device token lives here because the store file is private (0600) already.

use super::database::Database;
use super::StoreError;
use rusqlite::{params, OptionalExtension as _, TransactionBehavior};

/// The class this installation belongs to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Membership {
    /// Base URL of the teacher's hub, without a trailing slash.
    pub hub_url: String,
    pub class_id: i64,
    pub class_name: String,
    /// The name the student typed (the hub shows it to the teacher).
    pub display_name: String,
    /// Bearer token for the hub's API.
    pub device_token: String,
    /// The teacher's ed25519 key, pinned at join; every policy must verify against it.
    pub teacher_key: String,
    /// `YYYY-MM-DD HH:MM:SS` UTC.
    pub joined_at: String,
    /// The last verified `SignedPolicy`, as JSON.
    pub policy_json: Option<String>,
    /// Serial of that policy (0 before the first).
    pub policy_serial: u64,
    /// When that policy was accepted.
    pub policy_since: Option<String>,
}

#[cfg(test)]
impl Membership {
    /// Class "7b" on a hub at 127.0.0.1:7070 as "Ada", no policy yet: the tests' class.
    pub(crate) fn example() -> Membership {
        Membership {
            hub_url: "http://127.0.0.1:7070".into(),
            class_id: 3,
            class_name: "7b".into(),
            display_name: "Ada".into(),
            device_token: "tok".into(),
            teacher_key: "key".into(),
            joined_at: "2026-12-06 12:00:00".into(),
            policy_json: None,
            policy_serial: 0,
            policy_since: None,
        }
    }
}

/// One queued event: its id and its JSON (a `pencil_core::classroom::Event`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QueuedEvent {
    pub event_id: String,
    pub event_json: String,
}

impl Database {
    /// Replaces any membership with `m` and empties the outbox of the old class.
    pub fn join_class(&mut self, m: &Membership) -> Result<(), StoreError> {
        let tx = self.conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        tx.execute("DELETE FROM class_outbox", [])?;
        tx.execute("DELETE FROM class_hands", [])?;
        tx.execute("DELETE FROM class_membership", [])?;
        tx.execute(
            "INSERT INTO class_membership (id, hub_url, class_id, class_name, display_name, device_token,
                 teacher_key, joined_at, policy_json, policy_serial, policy_since)
             VALUES (1, ?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
            params![
                m.hub_url,
                m.class_id,
                m.class_name,
                m.display_name,
                m.device_token,
                m.teacher_key,
                m.joined_at,
                m.policy_json,
                i64::try_from(m.policy_serial).unwrap_or(i64::MAX),
                m.policy_since
            ],
        )?;
        tx.commit()?;
        Ok(())
    }

    /// The class joined, if any.
    pub fn membership(&self) -> Result<Option<Membership>, StoreError> {
        Ok(self
            .conn
            .query_row(
                "SELECT hub_url, class_id, class_name, display_name, device_token, teacher_key, joined_at,
                        policy_json, policy_serial, policy_since
                 FROM class_membership WHERE id = 1",
                [],
                |r| {
                    Ok(Membership {
                        hub_url: r.get(0)?,
                        class_id: r.get(1)?,
                        class_name: r.get(2)?,
                        display_name: r.get(3)?,
                        device_token: r.get(4)?,
                        teacher_key: r.get(5)?,
                        joined_at: r.get(6)?,
                        policy_json: r.get(7)?,
                        policy_serial: u64::try_from(r.get::<_, i64>(8)?).unwrap_or(0),
                        policy_since: r.get(9)?,
                    })
                },
            )
            .optional()?)
    }

    /// Stores a policy the caller has verified, unless a newer one was stored
    /// meanwhile (two fetches racing) or the membership changed. Returns whether it was stored.
    pub fn store_policy(&mut self, class_id: i64, serial: u64, policy_json: &str, now: &str) -> Result<bool, StoreError> {
        let serial = i64::try_from(serial).unwrap_or(i64::MAX);
        let tx = self.conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        // An unchanged refetch keeps its "since" time.
        let changed = tx.execute(
            "UPDATE class_membership
             SET policy_json = ?1, policy_serial = ?2,
                 policy_since = CASE WHEN policy_json IS ?1 THEN policy_since ELSE ?3 END
             WHERE id = 1 AND class_id = ?4 AND policy_serial <= ?2",
            params![policy_json, serial, now, class_id],
        )?;
        tx.commit()?;
        Ok(changed == 1)
    }

    /// Forgets the class, its policy, every queued event and its hands. Returns whether there was one.
    pub fn leave_class(&mut self) -> Result<bool, StoreError> {
        let tx = self.conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        tx.execute("DELETE FROM class_outbox", [])?;
        tx.execute("DELETE FROM class_hands", [])?;
        let n = tx.execute("DELETE FROM class_membership", [])?;
        tx.commit()?;
        Ok(n > 0)
    }

    /// Queues an event for the hub; only while a class is joined. Returns whether it was queued.
    pub fn queue_event(&mut self, event_id: &str, event_json: &str, now: &str) -> Result<bool, StoreError> {
        let tx = self.conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        let joined: bool = tx.query_row("SELECT EXISTS (SELECT 1 FROM class_membership)", [], |r| r.get(0))?;
        if joined {
            tx.execute(
                "INSERT OR IGNORE INTO class_outbox (event_id, event_json, queued_at) VALUES (?1, ?2, ?3)",
                params![event_id, event_json, now],
            )?;
        }
        tx.commit()?;
        Ok(joined)
    }

    /// The oldest `limit` queued events.
    pub fn queued_events(&self, limit: usize) -> Result<Vec<QueuedEvent>, StoreError> {
        let mut stmt = self.conn.prepare("SELECT event_id, event_json FROM class_outbox ORDER BY seq LIMIT ?1")?;
        let rows = stmt
            .query_map(params![i64::try_from(limit).unwrap_or(i64::MAX)], |r| {
                Ok(QueuedEvent { event_id: r.get(0)?, event_json: r.get(1)? })
            })?
            .collect::<Result<Vec<_>, _>>()?;
        Ok(rows)
    }

    /// How many events wait to be sent.
    pub fn queued_event_count(&self) -> Result<i64, StoreError> {
        Ok(self.conn.query_row("SELECT COUNT(*) FROM class_outbox", [], |r| r.get(0))?)
    }

    /// Drops the events the hub acknowledged (and only those).
    pub fn drop_acknowledged(&mut self, ids: &[String]) -> Result<usize, StoreError> {
        let tx = self.conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        let mut n = 0;
        {
            let mut stmt = tx.prepare("DELETE FROM class_outbox WHERE event_id = ?1")?;
            for id in ids {
                n += stmt.execute(params![id])?;
            }
        }
        tx.commit()?;
        Ok(n)
    }

    /// Backtracking hints (`pencil/hint`) shown to `student` for `title`, and those shown at or after
    /// `since` (`YYYY-MM-DD HH:MM:SS`, so text order is time order): the policy's quotas.
    pub fn hint_counts(&self, student: &str, title: &str, since: &str) -> Result<(u32, u32), StoreError> {
        let per_title: i64 = self.conn.query_row(
            "SELECT COUNT(*) FROM hints h JOIN program_states s ON s.id = h.state_id
             JOIN titles t ON t.id = s.title_id
             WHERE s.student_id = ?1 AND t.name = ?2 AND h.kind = 'backtrack'",
            params![student, title],
            |r| r.get(0),
        )?;
        let recent: i64 = self.conn.query_row(
            "SELECT COUNT(*) FROM hints h JOIN program_states s ON s.id = h.state_id
             WHERE s.student_id = ?1 AND h.shown_at >= ?2 AND h.kind = 'backtrack'",
            params![student, since],
            |r| r.get(0),
        )?;
        Ok((u32::try_from(per_title).unwrap_or(u32::MAX), u32::try_from(recent).unwrap_or(u32::MAX)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn outbox_keeps_order_drops_only_acknowledged_and_needs_a_class() {
        let dir = tempfile::tempdir().expect("test setup");
        let (mut db, _) = Database::open_in(dir.path()).expect("test setup");
        assert!(!db.queue_event("a", "{}", "t").expect("test setup"), "no class, nothing queued");
        db.join_class(&Membership::example()).expect("test setup");
        for id in ["a", "b", "c"] {
            assert!(db.queue_event(id, &format!("{{\"id\":\"{id}\"}}"), "t").expect("test setup"));
        }
        db.queue_event("a", "{}", "t").expect("test setup");
        let ids: Vec<String> = db.queued_events(10).expect("test setup").into_iter().map(|e| e.event_id).collect();
        assert_eq!(ids, ["a", "b", "c"]);
        assert_eq!(db.drop_acknowledged(&["b".into(), "zz".into()]).expect("test setup"), 1);
        assert_eq!(db.queued_event_count().expect("test setup"), 2);
        assert!(db.leave_class().expect("test setup"));
        assert_eq!(db.queued_event_count().expect("test setup"), 0);
        assert_eq!(db.membership().expect("test setup"), None);
    }

    #[test]
    fn policy_serial_never_goes_back_and_since_survives_a_refetch() {
        let dir = tempfile::tempdir().expect("test setup");
        let (mut db, _) = Database::open_in(dir.path()).expect("test setup");
        db.join_class(&Membership::example()).expect("test setup");
        assert!(db.store_policy(3, 2, "p2", "t1").expect("test setup"));
        assert!(db.store_policy(3, 2, "p2", "t2").expect("test setup"));
        assert_eq!(db.membership().expect("test setup").expect("test setup").policy_since.as_deref(), Some("t1"));
        assert!(!db.store_policy(3, 1, "p1", "t3").expect("test setup"));
        assert!(!db.store_policy(4, 9, "other class", "t3").expect("test setup"));
        let m = db.membership().expect("test setup").expect("test setup");
        assert_eq!((m.policy_serial, m.policy_json.as_deref()), (2, Some("p2")));
    }
}
