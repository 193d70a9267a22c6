//! Research rows of the store (migration 4): the studies this machine has
//! verified, the consent receipts, and the outbox of exact bytes waiting for
//! the hub. What may be collected is decided here, in SQL: only program states
//! and hints whose row ids are above the receipt's watermarks, which are the
//! largest ids at the moment of consent (so nothing recorded before consent is
//! ever read for a study, not even a state re-run after it) and then the
//! largest ids already queued (so nothing is sent twice).

use super::database::Database;
use super::StoreError;
use rusqlite::{params, OptionalExtension as _, TransactionBehavior};

/// How a study reached this machine, which decides why its researcher key is trusted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StudySource {
    /// Offered by the joined class's hub under the pinned teacher key.
    Class,
    /// Read from a file: the researcher key is pinned on first sight.
    File,
}

impl StudySource {
    /// The stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            StudySource::Class => "class",
            StudySource::File => "file",
        }
    }
}

/// A verified study as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredStudy {
    /// The study id.
    pub id: String,
    /// JSON of the `SignedStudy`; verified again whenever it is read for use.
    pub signed_json: String,
    /// `Study::digest`.
    pub digest: String,
    /// The pinned researcher key.
    pub researcher_key: String,
    /// Why the key is trusted.
    pub source: StudySource,
    /// When this machine first saw it.
    pub first_seen: String,
}

/// What storing a study did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StudyPut {
    /// First seen now.
    New,
    /// Already stored, the very same document (a class offer upgrades a file's source).
    Same,
    /// Another document already holds this id; nothing was changed.
    Conflict,
}

/// A consent receipt: what was agreed to, by whom, when, and how far collection got.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Receipt {
    /// Random 128-bit hex; uploads are `<id>-<n>`.
    pub id: String,
    /// The study consented to.
    pub study_id: String,
    /// `Study::digest` of the exact document shown.
    pub study_digest: String,
    /// The consent text's version.
    pub consent_version: String,
    /// JSON of the study's `Collects`.
    pub scope_json: String,
    /// `student`, `parent` or `school`.
    pub consented_by: String,
    /// `YYYY-MM-DD HH:MM:SS` UTC.
    pub consented_at: String,
    /// Largest program state id at consent: only later states are collected.
    pub after_state_id: i64,
    /// Largest hint id at consent.
    pub after_hint_id: i64,
    /// Largest program state id already queued for upload.
    pub sent_state_id: i64,
    /// Largest hint id already queued.
    pub sent_hint_id: i64,
    /// Uploads queued so far.
    pub uploads: i64,
    /// The SubjectID the hub answered, once it has.
    pub subject_id: Option<String>,
    /// When consent was withdrawn.
    pub revoked_at: Option<String>,
}

/// One request waiting for the hub, in exactly the bytes that will be sent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutboxItem {
    /// The upload id (or `<receipt>-revoke`).
    pub request_id: String,
    /// The study it belongs to.
    pub study_id: String,
    /// `upload` or `revoke`.
    pub kind: String,
    /// The request body.
    pub body: Vec<u8>,
}

/// One program state that may be collected.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResearchState {
    /// Row id.
    pub id: i64,
    /// The title.
    pub title: String,
    /// Counted from the first state after consent (1-based).
    pub n: i64,
    /// As recorded.
    pub time: String,
    /// Unscrubbed program text (scrubbed before it goes anywhere).
    pub code: String,
}

/// One hint event that may be collected.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResearchHint {
    /// Row id.
    pub id: i64,
    /// The title of the state it was shown on.
    pub title: String,
    /// That state's `n`, counted from consent.
    pub n: i64,
    /// `quick_fix`, `style_fix`, `backtrack`.
    pub kind: String,
    /// The rule that made it.
    pub rule: String,
    /// When it was shown.
    pub shown_at: String,
    /// Whether the student took it.
    pub accepted: bool,
}

/// What a study may collect now: states and hints above the receipt's
/// watermarks, up to the largest ids at the moment of reading.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Collectable {
    /// States, by title then `n`.
    pub states: Vec<ResearchState>,
    /// Hints, by title then id.
    pub hints: Vec<ResearchHint>,
    /// The largest program state id considered (the next watermark).
    pub through_state_id: i64,
    /// The largest hint id considered.
    pub through_hint_id: i64,
}

const RECEIPT_COLUMNS: &str = "id, study_id, study_digest, consent_version, scope_json, consented_by, consented_at,
     after_state_id, after_hint_id, sent_state_id, sent_hint_id, uploads, subject_id, revoked_at";

fn receipt_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<Receipt> {
    Ok(Receipt {
        id: r.get(0)?,
        study_id: r.get(1)?,
        study_digest: r.get(2)?,
        consent_version: r.get(3)?,
        scope_json: r.get(4)?,
        consented_by: r.get(5)?,
        consented_at: r.get(6)?,
        after_state_id: r.get(7)?,
        after_hint_id: r.get(8)?,
        sent_state_id: r.get(9)?,
        sent_hint_id: r.get(10)?,
        uploads: r.get(11)?,
        subject_id: r.get(12)?,
        revoked_at: r.get(13)?,
    })
}

fn study_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<StoredStudy> {
    let source: String = r.get(4)?;
    Ok(StoredStudy {
        id: r.get(0)?,
        signed_json: r.get(1)?,
        digest: r.get(2)?,
        researcher_key: r.get(3)?,
        source: if source == "class" { StudySource::Class } else { StudySource::File },
        first_seen: r.get(5)?,
    })
}

impl Database {
    /// Stores a study the caller has verified, unless another document holds its id.
    pub fn put_study(&mut self, s: &StoredStudy) -> Result<StudyPut, StoreError> {
        let tx = self.conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        let existing: Option<String> =
            tx.query_row("SELECT digest FROM research_studies WHERE id = ?1", params![s.id], |r| r.get(0)).optional()?;
        let put = match existing {
            Some(d) if d == s.digest => {
                if s.source == StudySource::Class {
                    tx.execute("UPDATE research_studies SET source = 'class' WHERE id = ?1", params![s.id])?;
                }
                StudyPut::Same
            }
            Some(_) => StudyPut::Conflict,
            None => {
                tx.execute(
                    "INSERT INTO research_studies (id, signed_json, digest, researcher_key, source, first_seen)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                    params![s.id, s.signed_json, s.digest, s.researcher_key, s.source.as_str(), s.first_seen],
                )?;
                StudyPut::New
            }
        };
        tx.commit()?;
        Ok(put)
    }

    /// A stored study.
    pub fn study(&self, id: &str) -> Result<Option<StoredStudy>, StoreError> {
        Ok(self
            .conn
            .query_row(
                "SELECT id, signed_json, digest, researcher_key, source, first_seen FROM research_studies WHERE id = ?1",
                params![id],
                study_row,
            )
            .optional()?)
    }

    /// Every stored study, by id.
    pub fn studies(&self) -> Result<Vec<StoredStudy>, StoreError> {
        let mut stmt =
            self.conn.prepare("SELECT id, signed_json, digest, researcher_key, source, first_seen FROM research_studies ORDER BY id")?;
        let rows = stmt.query_map([], study_row)?.collect::<Result<Vec<_>, _>>()?;
        Ok(rows)
    }

    /// Records consent to a stored study, with the collection watermarks set to
    /// the largest ids now. `None` when consent to it is already in force.
    #[allow(clippy::too_many_arguments, reason = "one column each, named at the only caller")]
    pub fn record_consent(
        &mut self,
        receipt_id: &str,
        study_id: &str,
        study_digest: &str,
        consent_version: &str,
        scope_json: &str,
        by: &str,
        now: &str,
    ) -> Result<Option<Receipt>, StoreError> {
        let tx = self.conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        let active: bool = tx.query_row(
            "SELECT EXISTS (SELECT 1 FROM research_receipts WHERE study_id = ?1 AND revoked_at IS NULL)",
            params![study_id],
            |r| r.get(0),
        )?;
        if active {
            return Ok(None);
        }
        let max_state: i64 = tx.query_row("SELECT COALESCE(MAX(id), 0) FROM program_states", [], |r| r.get(0))?;
        let max_hint: i64 = tx.query_row("SELECT COALESCE(MAX(id), 0) FROM hints", [], |r| r.get(0))?;
        tx.execute(
            "INSERT INTO research_receipts (id, study_id, study_digest, consent_version, scope_json, consented_by,
                 consented_at, after_state_id, after_hint_id, sent_state_id, sent_hint_id)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?8, ?9)",
            params![receipt_id, study_id, study_digest, consent_version, scope_json, by, now, max_state, max_hint],
        )?;
        let receipt = tx.query_row(&format!("SELECT {RECEIPT_COLUMNS} FROM research_receipts WHERE id = ?1"), params![receipt_id], receipt_row)?;
        tx.commit()?;
        Ok(Some(receipt))
    }

    /// The consent in force for a study, if any.
    pub fn active_receipt(&self, study_id: &str) -> Result<Option<Receipt>, StoreError> {
        Ok(self
            .conn
            .query_row(
                &format!("SELECT {RECEIPT_COLUMNS} FROM research_receipts WHERE study_id = ?1 AND revoked_at IS NULL"),
                params![study_id],
                receipt_row,
            )
            .optional()?)
    }

    /// Every receipt, oldest first.
    pub fn receipts(&self) -> Result<Vec<Receipt>, StoreError> {
        let mut stmt = self.conn.prepare(&format!("SELECT {RECEIPT_COLUMNS} FROM research_receipts ORDER BY consented_at, id"))?;
        let rows = stmt.query_map([], receipt_row)?.collect::<Result<Vec<_>, _>>()?;
        Ok(rows)
    }

    /// Keeps the SubjectID the hub answered for a receipt.
    pub fn set_subject(&mut self, receipt_id: &str, subject_id: &str) -> Result<(), StoreError> {
        self.conn.execute("UPDATE research_receipts SET subject_id = ?2 WHERE id = ?1", params![receipt_id, subject_id])?;
        Ok(())
    }

    /// Withdraws consent in one transaction: the receipt is marked revoked (so
    /// nothing more is collected), uploads of the study not yet sent are dropped
    /// (they never leave), and the deletion request is queued. Returns the receipt revoked.
    pub fn revoke_consent(&mut self, study_id: &str, request_body: &[u8], now: &str) -> Result<Option<Receipt>, StoreError> {
        let tx = self.conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        let receipt = tx
            .query_row(
                &format!("SELECT {RECEIPT_COLUMNS} FROM research_receipts WHERE study_id = ?1 AND revoked_at IS NULL"),
                params![study_id],
                receipt_row,
            )
            .optional()?;
        let Some(mut receipt) = receipt else { return Ok(None) };
        tx.execute("UPDATE research_receipts SET revoked_at = ?2 WHERE id = ?1", params![receipt.id, now])?;
        tx.execute("DELETE FROM research_outbox WHERE study_id = ?1 AND kind = 'upload'", params![study_id])?;
        tx.execute(
            "INSERT OR IGNORE INTO research_outbox (request_id, study_id, kind, body, queued_at) VALUES (?1, ?2, 'revoke', ?3, ?4)",
            params![format!("{}-revoke", receipt.id), study_id, request_body, now],
        )?;
        tx.commit()?;
        receipt.revoked_at = Some(now.to_string());
        Ok(Some(receipt))
    }

    /// The states and hints a receipt may collect now, for `student`.
    pub fn collectable(&self, student: &str, receipt: &Receipt) -> Result<Collectable, StoreError> {
        let through_state_id: i64 = self.conn.query_row("SELECT COALESCE(MAX(id), 0) FROM program_states", [], |r| r.get(0))?;
        let through_hint_id: i64 = self.conn.query_row("SELECT COALESCE(MAX(id), 0) FROM hints", [], |r| r.get(0))?;
        // `n` is rebased on the title's last state before consent, so not even how
        // much was written before consent can be read from an upload.
        let base = "(SELECT COALESCE(MAX(p.n), 0) FROM program_states p
                     WHERE p.student_id = s.student_id AND p.title_id = s.title_id AND p.id <= ?2)";
        let mut stmt = self.conn.prepare(&format!(
            "SELECT s.id, t.name, s.n - {base}, s.time, s.code
             FROM program_states s JOIN titles t ON t.id = s.title_id
             WHERE s.student_id = ?1 AND s.id > ?2 AND s.id > ?3 AND s.id <= ?4 AND s.time >= ?5
             ORDER BY t.name, s.n"
        ))?;
        let states = stmt
            .query_map(
                params![student, receipt.after_state_id, receipt.sent_state_id, through_state_id, receipt.consented_at],
                |r| Ok(ResearchState { id: r.get(0)?, title: r.get(1)?, n: r.get(2)?, time: r.get(3)?, code: r.get(4)? }),
            )?
            .collect::<Result<Vec<_>, _>>()?;
        let mut stmt = self.conn.prepare(&format!(
            "SELECT h.id, t.name, s.n - {base}, h.kind, h.rule, h.shown_at, h.accepted_at IS NOT NULL
             FROM hints h JOIN program_states s ON s.id = h.state_id JOIN titles t ON t.id = s.title_id
             WHERE s.student_id = ?1 AND s.id > ?2 AND h.id > ?3 AND h.id > ?6 AND h.id <= ?4 AND h.shown_at >= ?5
             ORDER BY t.name, h.id"
        ))?;
        let hints = stmt
            .query_map(
                params![
                    student,
                    receipt.after_state_id,
                    receipt.after_hint_id,
                    through_hint_id,
                    receipt.consented_at,
                    receipt.sent_hint_id
                ],
                |r| {
                    Ok(ResearchHint {
                        id: r.get(0)?,
                        title: r.get(1)?,
                        n: r.get(2)?,
                        kind: r.get(3)?,
                        rule: r.get(4)?,
                        shown_at: r.get(5)?,
                        accepted: r.get(6)?,
                    })
                },
            )?
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Collectable { states, hints, through_state_id, through_hint_id })
    }

    /// Queues an upload's exact bytes and moves the receipt's watermarks past
    /// what it holds, in one transaction; false (nothing queued) when the
    /// receipt was revoked or another upload was queued since `receipt` was read.
    pub fn queue_upload(
        &mut self,
        receipt: &Receipt,
        upload_id: &str,
        body: &[u8],
        through: (i64, i64),
        now: &str,
    ) -> Result<bool, StoreError> {
        let tx = self.conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        let moved = tx.execute(
            "UPDATE research_receipts SET sent_state_id = ?2, sent_hint_id = ?3, uploads = uploads + 1
             WHERE id = ?1 AND revoked_at IS NULL AND uploads = ?4",
            params![receipt.id, through.0, through.1, receipt.uploads],
        )?;
        if moved != 1 {
            return Ok(false);
        }
        tx.execute(
            "INSERT INTO research_outbox (request_id, study_id, kind, body, queued_at) VALUES (?1, ?2, 'upload', ?3, ?4)",
            params![upload_id, receipt.study_id, body, now],
        )?;
        tx.commit()?;
        Ok(true)
    }

    /// Requests waiting for the hub (of one study, or all), oldest first.
    pub fn research_outbox(&self, study_id: Option<&str>) -> Result<Vec<OutboxItem>, StoreError> {
        let mut stmt = self.conn.prepare(
            "SELECT request_id, study_id, kind, body FROM research_outbox WHERE ?1 IS NULL OR study_id = ?1 ORDER BY seq",
        )?;
        let rows = stmt
            .query_map(params![study_id], |r| Ok(OutboxItem { request_id: r.get(0)?, study_id: r.get(1)?, kind: r.get(2)?, body: r.get(3)? }))?
            .collect::<Result<Vec<_>, _>>()?;
        Ok(rows)
    }

    /// Drops a request the hub acknowledged.
    pub fn drop_research_request(&mut self, request_id: &str) -> Result<bool, StoreError> {
        Ok(self.conn.execute("DELETE FROM research_outbox WHERE request_id = ?1", params![request_id])? == 1)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::{HintRecord, Trigger};

    fn study() -> StoredStudy {
        StoredStudy {
            id: "loops".into(),
            signed_json: "{}".into(),
            digest: "d1".into(),
            researcher_key: "k".into(),
            source: StudySource::File,
            first_seen: "2026-01-01 00:00:00".into(),
        }
    }

    #[test]
    fn a_study_id_never_changes_document_and_a_class_offer_upgrades_its_source() {
        let dir = tempfile::tempdir().expect("test setup");
        let (mut db, _) = Database::open_in(dir.path()).expect("test setup");
        assert_eq!(db.put_study(&study()).expect("put"), StudyPut::New);
        assert_eq!(db.put_study(&StoredStudy { digest: "d2".into(), ..study() }).expect("put"), StudyPut::Conflict);
        assert_eq!(db.put_study(&StoredStudy { source: StudySource::Class, ..study() }).expect("put"), StudyPut::Same);
        let stored = db.study("loops").expect("read").expect("stored");
        assert_eq!((stored.digest.as_str(), stored.source), ("d1", StudySource::Class));
    }

    #[test]
    fn only_what_is_recorded_after_consent_is_collectable_and_only_once() {
        let dir = tempfile::tempdir().expect("test setup");
        let (mut db, _) = Database::open_in(dir.path()).expect("test setup");
        let me = db.local_student().expect("student");
        let before = db.record_state(&me, "car", "fd 1", "2026-01-01 09:00:00", Trigger::Run).expect("record");
        db.put_study(&study()).expect("put");
        let r = db.record_consent("r1", "loops", "d1", "2", "{}", "student", "2026-01-01 10:00:00").expect("consent").expect("new");
        assert!(db.record_consent("r2", "loops", "d1", "2", "{}", "student", "2026-01-01 10:00:00").expect("again").is_none());
        // A pre-consent state run again after consent is still pre-consent data.
        db.record_state(&me, "car", "fd 1", "2026-01-01 10:05:00", Trigger::Run).expect("collapse");
        let s2 = db.record_state(&me, "car", "fd 2", "2026-01-01 10:06:00", Trigger::Run).expect("record");
        db.record_hint(&HintRecord {
            state_id: before.id,
            kind: "quick_fix".into(),
            rule: "r".into(),
            title: "t".into(),
            replacement: "x".into(),
            shown_at: "2026-01-01 10:07:00".into(),
        })
        .expect("hint on a pre-consent state");
        let h = db
            .record_hint(&HintRecord {
                state_id: s2.id,
                kind: "quick_fix".into(),
                rule: "r".into(),
                title: "t".into(),
                replacement: "x".into(),
                shown_at: "2026-01-01 10:07:00".into(),
            })
            .expect("hint");
        let c = db.collectable(&me, &r).expect("collectable");
        assert_eq!(c.states.iter().map(|s| (s.code.as_str(), s.n)).collect::<Vec<_>>(), vec![("fd 2", 1)]);
        assert_eq!(c.hints.iter().map(|h| h.id).collect::<Vec<_>>(), vec![h]);
        assert!(db.queue_upload(&r, "r1-1", b"bytes", (c.through_state_id, c.through_hint_id), "t").expect("queue"));
        assert!(!db.queue_upload(&r, "r1-1b", b"bytes", (c.through_state_id, c.through_hint_id), "t").expect("stale"), "a stale receipt queues nothing");
        let r = db.active_receipt("loops").expect("read").expect("active");
        let c = db.collectable(&me, &r).expect("collectable");
        assert!(c.states.is_empty() && c.hints.is_empty(), "nothing twice");
        // Revoking drops the unsent upload and queues the deletion request.
        let revoked = db.revoke_consent("loops", b"{}", "2026-01-01 11:00:00").expect("revoke").expect("was active");
        assert_eq!(revoked.revoked_at.as_deref(), Some("2026-01-01 11:00:00"));
        let kinds: Vec<String> = db.research_outbox(None).expect("outbox").into_iter().map(|i| i.kind).collect();
        assert_eq!(kinds, ["revoke"]);
        assert!(db.active_receipt("loops").expect("read").is_none());
    }
}
