//! The SQLite backend: one file, `hub.sqlite3`, in the hub's data directory.
//!
//! The schema is versioned with `PRAGMA user_version`: [`MIGRATIONS`] lists
//! every step; a database is brought forward step by step inside one
//! transaction per step, and a database newer than this binary is refused.

use std::fs::{self, DirBuilder, OpenOptions};
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt, PermissionsExt};
use std::path::Path;

use anyhow::{bail, Context, Result};
use pencil_core::classroom::HandRequest;
use rusqlite::{params, Connection, OptionalExtension};

use crate::store::{
    AuditEntry, Class, ConsentRecord, ConsentRow, Db, DeletionRow, Device, DeviceBatch, DeviceSummary, EventRow, HandRow, NewRelease,
    ReleasedRows, Session, StudyRow, StudyStored, Teacher, UploadRow,
};

/// Schema steps; entry `i` brings `user_version` from `i` to `i + 1`.
/// Never edit a step that has shipped: append a new one.
const MIGRATIONS: &[&str] = &[
    // 1: teachers, sessions, login failures, classes, devices, policies, events.
    "CREATE TABLE teachers (
        id INTEGER PRIMARY KEY,
        name TEXT NOT NULL UNIQUE,
        password_hash TEXT NOT NULL,
        signing_seed BLOB NOT NULL,
        created_at INTEGER NOT NULL
    );
    CREATE TABLE sessions (
        token_hash TEXT PRIMARY KEY,
        teacher_id INTEGER NOT NULL REFERENCES teachers(id),
        csrf TEXT NOT NULL,
        expires_at INTEGER NOT NULL
    );
    CREATE TABLE login_failures (
        key TEXT NOT NULL,
        at INTEGER NOT NULL
    );
    CREATE INDEX login_failures_key ON login_failures(key, at);
    CREATE TABLE classes (
        id INTEGER PRIMARY KEY,
        teacher_id INTEGER NOT NULL REFERENCES teachers(id),
        name TEXT NOT NULL,
        join_code TEXT UNIQUE,
        code_expires INTEGER NOT NULL,
        created_at INTEGER NOT NULL
    );
    CREATE TABLE devices (
        id INTEGER PRIMARY KEY,
        class_id INTEGER NOT NULL REFERENCES classes(id),
        token_hash TEXT NOT NULL UNIQUE,
        display_name TEXT NOT NULL,
        joined_at INTEGER NOT NULL
    );
    CREATE INDEX devices_class ON devices(class_id);
    CREATE TABLE policies (
        class_id INTEGER PRIMARY KEY REFERENCES classes(id),
        serial INTEGER NOT NULL,
        signed_json TEXT NOT NULL
    );
    CREATE TABLE events (
        seq INTEGER PRIMARY KEY,
        device_id INTEGER NOT NULL REFERENCES devices(id),
        class_id INTEGER NOT NULL REFERENCES classes(id),
        event_id TEXT NOT NULL,
        time TEXT NOT NULL,
        title TEXT NOT NULL,
        status TEXT NOT NULL,
        error_class TEXT,
        risk_bucket TEXT,
        hint TEXT,
        idle_seconds INTEGER,
        received_at INTEGER NOT NULL,
        UNIQUE (device_id, event_id)
    );
    CREATE INDEX events_device_seq ON events(device_id, seq);",
    // 2: consented research collection (see `crate::research`). Uploads are
    // filed under the SubjectID only, never a device id; the consent table is
    // what links a device to its pseudonym, and revocation deletes the uploads.
    "CREATE TABLE studies (
        id TEXT PRIMARY KEY,
        signed_json TEXT NOT NULL,
        digest TEXT NOT NULL,
        secret BLOB NOT NULL,
        published_at INTEGER NOT NULL
    );
    CREATE TABLE study_offers (
        study_id TEXT NOT NULL REFERENCES studies(id),
        class_id INTEGER NOT NULL REFERENCES classes(id),
        offer_signature TEXT NOT NULL,
        offered_at INTEGER NOT NULL,
        PRIMARY KEY (study_id, class_id)
    );
    CREATE TABLE research_consents (
        study_id TEXT NOT NULL REFERENCES studies(id),
        device_id INTEGER NOT NULL REFERENCES devices(id),
        subject_id TEXT NOT NULL,
        consent_version TEXT NOT NULL,
        consented_by TEXT NOT NULL,
        consented_at TEXT NOT NULL,
        received_at INTEGER NOT NULL,
        revoked_at INTEGER,
        PRIMARY KEY (study_id, device_id)
    );
    CREATE TABLE research_uploads (
        seq INTEGER PRIMARY KEY,
        study_id TEXT NOT NULL REFERENCES studies(id),
        subject_id TEXT NOT NULL,
        upload_id TEXT NOT NULL,
        body BLOB NOT NULL,
        received_at INTEGER NOT NULL,
        UNIQUE (study_id, subject_id, upload_id)
    );
    CREATE TABLE research_deletions (
        seq INTEGER PRIMARY KEY,
        study_id TEXT NOT NULL,
        subject_id TEXT NOT NULL,
        uploads_deleted INTEGER NOT NULL,
        requested_at INTEGER NOT NULL
    );",
    // 3: releases (see `crate::release`): what each release holds per subject,
    // so a later revocation can name the rows to delete, and the audit log of
    // every disclosure. Row ids only, never program text.
    "CREATE TABLE releases (
        id INTEGER PRIMARY KEY,
        study_id TEXT NOT NULL REFERENCES studies(id),
        format TEXT NOT NULL,
        created_at INTEGER NOT NULL,
        out_dir TEXT NOT NULL,
        manifest_json TEXT NOT NULL
    );
    CREATE TABLE release_subjects (
        release_id INTEGER NOT NULL REFERENCES releases(id),
        subject_id TEXT NOT NULL,
        rows INTEGER NOT NULL,
        row_ids_json TEXT NOT NULL,
        PRIMARY KEY (release_id, subject_id)
    );
    CREATE INDEX release_subjects_subject ON release_subjects(subject_id);
    CREATE TABLE audit_log (
        seq INTEGER PRIMARY KEY,
        at INTEGER NOT NULL,
        action TEXT NOT NULL,
        actor TEXT NOT NULL,
        study_id TEXT NOT NULL,
        format TEXT,
        subjects INTEGER NOT NULL,
        rows INTEGER NOT NULL,
        sha256s_json TEXT NOT NULL
    );
    CREATE INDEX audit_log_study ON audit_log(study_id, seq);",
    // 4: the kind of each hint (did-it-help rates per kind), the dashboard's
    // reads by class and time, and raised hands with the teacher's replies.
    // A hand holds the student's program: it is the only table with code.
    "ALTER TABLE events ADD COLUMN hint_kind TEXT;
    CREATE INDEX events_class_received ON events(class_id, received_at);
    CREATE TABLE hands (
        seq INTEGER PRIMARY KEY,
        device_id INTEGER NOT NULL REFERENCES devices(id),
        class_id INTEGER NOT NULL REFERENCES classes(id),
        hand_id TEXT NOT NULL,
        asked_at TEXT NOT NULL,
        title TEXT NOT NULL,
        program TEXT NOT NULL,
        message TEXT,
        trace_json TEXT,
        received_at INTEGER NOT NULL,
        reply TEXT,
        replied_at INTEGER,
        resolved INTEGER NOT NULL DEFAULT 0,
        UNIQUE (device_id, hand_id)
    );
    CREATE INDEX hands_class ON hands(class_id, seq);",
    // 5: sandbox verdicts kept between a study's releases, by program digest.
    // A verdict's message can quote the (scrubbed) program, so rows belong to
    // one study and go when any of its consents is withdrawn.
    "CREATE TABLE release_verdicts (
        study_id TEXT NOT NULL,
        judge TEXT NOT NULL,
        code_sha256 TEXT NOT NULL,
        outcome_json TEXT NOT NULL,
        PRIMARY KEY (study_id, code_sha256)
    );",
];

pub const DB_FILE: &str = "hub.sqlite3";

const HAND_COLUMNS: &str = "SELECT h.seq, h.device_id, d.display_name, h.hand_id, h.title, h.program,
        h.message, h.trace_json, h.received_at, h.reply, h.replied_at, h.resolved
     FROM hands h JOIN devices d ON d.id = h.device_id";

fn hand_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<HandRow> {
    Ok(HandRow {
        seq: r.get(0)?,
        device_id: r.get(1)?,
        display_name: r.get(2)?,
        hand_id: r.get(3)?,
        title: r.get(4)?,
        program: r.get(5)?,
        message: r.get(6)?,
        trace_json: r.get(7)?,
        received_at: r.get(8)?,
        reply: r.get(9)?,
        replied_at: r.get(10)?,
        resolved: r.get(11)?,
    })
}

pub struct SqliteDb {
    conn: Connection,
}

impl SqliteDb {
    /// Opens (creating if needed) the database in `dir`: the directory is
    /// made 0700 and the file 0600, since it holds password hashes, token
    /// hashes and the teachers' signing keys.
    pub fn open(dir: &Path) -> Result<SqliteDb> {
        DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(dir)
            .with_context(|| format!("creating data directory {}", dir.display()))?;
        fs::set_permissions(dir, fs::Permissions::from_mode(0o700))
            .with_context(|| format!("restricting {} to its owner", dir.display()))?;
        let path = dir.join(DB_FILE);
        OpenOptions::new()
            .create(true)
            .append(true)
            .mode(0o600)
            .open(&path)
            .with_context(|| format!("creating {}", path.display()))?;
        fs::set_permissions(&path, fs::Permissions::from_mode(0o600))?;
        let conn =
            Connection::open(&path).with_context(|| format!("opening {}", path.display()))?;
        conn.pragma_update(None, "journal_mode", "WAL")?;
        // An acknowledged event must survive a crash of the hub or of the
        // machine: every commit is synced before the answer goes out.
        conn.pragma_update(None, "synchronous", "FULL")?;
        conn.pragma_update(None, "foreign_keys", "ON")?;
        // A revoked consent deletes research uploads: their pages are zeroed,
        // not left readable in the file's free list.
        conn.pragma_update(None, "secure_delete", "ON")?;
        conn.busy_timeout(std::time::Duration::from_secs(5))?;
        let mut db = SqliteDb { conn };
        db.migrate()?;
        Ok(db)
    }

    /// Runs `f` inside one transaction (committed if it succeeds): for bulk
    /// loads such as `bench --release`, where a sync per row would dominate.
    /// `f` must not call methods that open a transaction of their own.
    pub fn in_transaction<T>(&mut self, f: impl FnOnce(&mut SqliteDb) -> Result<T>) -> Result<T> {
        self.conn.execute_batch("BEGIN")?;
        match f(self) {
            Ok(v) => {
                self.conn.execute_batch("COMMIT")?;
                Ok(v)
            }
            Err(e) => {
                let _ = self.conn.execute_batch("ROLLBACK");
                Err(e)
            }
        }
    }

    fn migrate(&mut self) -> Result<()> {
        let version: i64 = self
            .conn
            .pragma_query_value(None, "user_version", |r| r.get(0))?;
        let version = usize::try_from(version)?;
        if version > MIGRATIONS.len() {
            bail!(
                "the database has schema version {version}, newer than this pencil-hub ({}); use a newer pencil-hub",
                MIGRATIONS.len()
            );
        }
        for (i, step) in MIGRATIONS.iter().enumerate().skip(version) {
            let tx = self.conn.transaction()?;
            tx.execute_batch(step)
                .with_context(|| format!("schema migration {}", i + 1))?;
            tx.pragma_update(None, "user_version", i as i64 + 1)?;
            tx.commit()?;
        }
        Ok(())
    }
}

/// A count stored as INTEGER (SQLite has no unsigned type).
fn count(r: &rusqlite::Row<'_>, i: usize) -> rusqlite::Result<u64> {
    Ok(u64::try_from(r.get::<_, i64>(i)?).unwrap_or(0))
}

fn insert_audit(conn: &Connection, e: &AuditEntry) -> Result<()> {
    conn.execute(
        "INSERT INTO audit_log (at, action, actor, study_id, format, subjects, rows, sha256s_json)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
        params![
            e.at,
            e.action,
            e.actor,
            e.study_id,
            e.format,
            i64::try_from(e.subjects)?,
            i64::try_from(e.rows)?,
            e.sha256s_json
        ],
    )?;
    Ok(())
}

/// A stored study's row, with its secret checked for length.
fn study_row(study_id: &str, (signed_json, digest, secret): (String, String, Vec<u8>)) -> Result<StudyRow> {
    let secret = secret
        .try_into()
        .map_err(|_| anyhow::anyhow!("study {study_id} has a corrupt secret"))?;
    Ok(StudyRow {
        signed_json,
        digest,
        secret,
    })
}

fn is_unique_violation(e: &rusqlite::Error) -> bool {
    matches!(e, rusqlite::Error::SqliteFailure(f, _) if f.code == rusqlite::ErrorCode::ConstraintViolation)
}

fn class_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<Class> {
    Ok(Class {
        id: r.get(0)?,
        teacher_id: r.get(1)?,
        name: r.get(2)?,
        join_code: r.get(3)?,
        code_expires: r.get(4)?,
    })
}

const CLASS_COLUMNS: &str = "id, teacher_id, name, join_code, code_expires";

impl Db for SqliteDb {
    fn create_teacher(
        &mut self,
        name: &str,
        password_hash: &str,
        signing_seed: &[u8; 32],
        now: i64,
    ) -> Result<Option<i64>> {
        match self.conn.execute(
            "INSERT INTO teachers (name, password_hash, signing_seed, created_at) VALUES (?1, ?2, ?3, ?4)",
            params![name, password_hash, &signing_seed[..], now],
        ) {
            Ok(_) => Ok(Some(self.conn.last_insert_rowid())),
            Err(e) if is_unique_violation(&e) => Ok(None),
            Err(e) => Err(e.into()),
        }
    }

    fn teacher_by_name(&mut self, name: &str) -> Result<Option<Teacher>> {
        Ok(self
            .conn
            .query_row(
                "SELECT id, name, password_hash FROM teachers WHERE name = ?1",
                [name],
                |r| {
                    Ok(Teacher {
                        id: r.get(0)?,
                        name: r.get(1)?,
                        password_hash: r.get(2)?,
                    })
                },
            )
            .optional()?)
    }

    fn teacher_signing_seed(&mut self, teacher_id: i64) -> Result<[u8; 32]> {
        let seed: Vec<u8> = self.conn.query_row(
            "SELECT signing_seed FROM teachers WHERE id = ?1",
            [teacher_id],
            |r| r.get(0),
        )?;
        seed.try_into()
            .map_err(|_| anyhow::anyhow!("teacher {teacher_id} has a corrupt signing key"))
    }

    fn reserve_attempt(&mut self, keys: &[(String, u32)], since: i64, now: i64) -> Result<bool> {
        // IMMEDIATE: the write lock is taken before counting, so another
        // connection to this file cannot count in between.
        let tx = self.conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
        for (key, limit) in keys {
            let n: u32 = tx.query_row(
                "SELECT COUNT(*) FROM login_failures WHERE key = ?1 AND at >= ?2",
                params![key, since],
                |r| r.get(0),
            )?;
            if n >= *limit {
                return Ok(false);
            }
        }
        for (key, _) in keys {
            // Old rows no longer count towards any limit.
            tx.execute("DELETE FROM login_failures WHERE key = ?1 AND at < ?2", params![key, now - 86_400])?;
            tx.execute("INSERT INTO login_failures (key, at) VALUES (?1, ?2)", params![key, now])?;
        }
        tx.commit()?;
        Ok(true)
    }

    fn release_attempt(&mut self, key: &str, at: i64) -> Result<()> {
        self.conn.execute(
            "DELETE FROM login_failures WHERE rowid = (SELECT rowid FROM login_failures WHERE key = ?1 AND at = ?2 LIMIT 1)",
            params![key, at],
        )?;
        Ok(())
    }

    fn clear_failures(&mut self, key: &str) -> Result<()> {
        self.conn
            .execute("DELETE FROM login_failures WHERE key = ?1", [key])?;
        Ok(())
    }

    fn create_session(
        &mut self,
        token_hash: &str,
        teacher_id: i64,
        csrf: &str,
        expires: i64,
    ) -> Result<()> {
        self.conn.execute(
            "INSERT INTO sessions (token_hash, teacher_id, csrf, expires_at) VALUES (?1, ?2, ?3, ?4)",
            params![token_hash, teacher_id, csrf, expires],
        )?;
        Ok(())
    }

    fn session(&mut self, token_hash: &str, now: i64) -> Result<Option<Session>> {
        Ok(self.conn.query_row(
            "SELECT s.teacher_id, t.name, s.csrf FROM sessions s JOIN teachers t ON t.id = s.teacher_id
             WHERE s.token_hash = ?1 AND s.expires_at > ?2",
            params![token_hash, now],
            |r| Ok(Session { teacher_id: r.get(0)?, teacher_name: r.get(1)?, csrf: r.get(2)? }),
        ).optional()?)
    }

    fn delete_session(&mut self, token_hash: &str) -> Result<()> {
        self.conn
            .execute("DELETE FROM sessions WHERE token_hash = ?1", [token_hash])?;
        Ok(())
    }

    fn create_class(
        &mut self,
        teacher_id: i64,
        name: &str,
        code: &str,
        code_expires: i64,
        now: i64,
    ) -> Result<Option<i64>> {
        match self.conn.execute(
            "INSERT INTO classes (teacher_id, name, join_code, code_expires, created_at) VALUES (?1, ?2, ?3, ?4, ?5)",
            params![teacher_id, name, code, code_expires, now],
        ) {
            Ok(_) => Ok(Some(self.conn.last_insert_rowid())),
            Err(e) if is_unique_violation(&e) => Ok(None),
            Err(e) => Err(e.into()),
        }
    }

    fn classes_of(&mut self, teacher_id: i64) -> Result<Vec<Class>> {
        let mut stmt = self.conn.prepare(&format!(
            "SELECT {CLASS_COLUMNS} FROM classes WHERE teacher_id = ?1 ORDER BY id"
        ))?;
        let rows = stmt.query_map([teacher_id], class_row)?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }

    fn class(&mut self, class_id: i64) -> Result<Option<Class>> {
        Ok(self
            .conn
            .query_row(
                &format!("SELECT {CLASS_COLUMNS} FROM classes WHERE id = ?1"),
                [class_id],
                class_row,
            )
            .optional()?)
    }

    fn set_join_code(&mut self, class_id: i64, code: &str, code_expires: i64) -> Result<bool> {
        match self.conn.execute(
            "UPDATE classes SET join_code = ?2, code_expires = ?3 WHERE id = ?1",
            params![class_id, code, code_expires],
        ) {
            Ok(_) => Ok(true),
            Err(e) if is_unique_violation(&e) => Ok(false),
            Err(e) => Err(e.into()),
        }
    }

    fn class_by_code(&mut self, code: &str, now: i64) -> Result<Option<Class>> {
        Ok(self.conn.query_row(
            &format!("SELECT {CLASS_COLUMNS} FROM classes WHERE join_code = ?1 AND code_expires > ?2"),
            params![code, now],
            class_row,
        ).optional()?)
    }

    fn create_device(
        &mut self,
        class_id: i64,
        token_hash: &str,
        display_name: &str,
        now: i64,
    ) -> Result<i64> {
        self.conn.execute(
            "INSERT INTO devices (class_id, token_hash, display_name, joined_at) VALUES (?1, ?2, ?3, ?4)",
            params![class_id, token_hash, display_name, now],
        )?;
        Ok(self.conn.last_insert_rowid())
    }

    fn device_by_token(&mut self, token_hash: &str) -> Result<Option<Device>> {
        Ok(self
            .conn
            .query_row(
                "SELECT id, class_id, token_hash FROM devices WHERE token_hash = ?1",
                [token_hash],
                |r| {
                    Ok(Device {
                        id: r.get(0)?,
                        class_id: r.get(1)?,
                        token_hash: r.get(2)?,
                    })
                },
            )
            .optional()?)
    }

    fn policy(&mut self, class_id: i64) -> Result<Option<String>> {
        Ok(self
            .conn
            .query_row(
                "SELECT signed_json FROM policies WHERE class_id = ?1",
                [class_id],
                |r| r.get(0),
            )
            .optional()?)
    }

    fn put_policy(&mut self, class_id: i64, serial: u64, signed_json: &str) -> Result<()> {
        let serial = i64::try_from(serial)?;
        self.conn.execute(
            "INSERT INTO policies (class_id, serial, signed_json) VALUES (?1, ?2, ?3)
             ON CONFLICT (class_id) DO UPDATE SET serial = excluded.serial, signed_json = excluded.signed_json
             WHERE excluded.serial > policies.serial",
            params![class_id, serial, signed_json],
        )?;
        Ok(())
    }

    fn insert_event_batches(&mut self, batches: &[DeviceBatch]) -> Result<Vec<usize>> {
        let tx = self.conn.transaction()?;
        let mut counts = Vec::with_capacity(batches.len());
        {
            let mut stmt = tx.prepare_cached(
                "INSERT INTO events (device_id, class_id, event_id, time, title, status, error_class,
                                     risk_bucket, hint, idle_seconds, received_at, hint_kind)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12)
                 ON CONFLICT (device_id, event_id) DO NOTHING",
            )?;
            for batch in batches {
                let mut new = 0;
                for e in &batch.events {
                    new += stmt.execute(params![
                        batch.device_id,
                        batch.class_id,
                        e.id,
                        e.time,
                        e.title,
                        e.status.as_str(),
                        e.error_class,
                        e.risk_bucket.map(|v| v.as_str()),
                        e.hint.map(|v| v.as_str()),
                        e.idle_seconds,
                        batch.received_at,
                        e.hint_kind.map(|v| v.as_str()),
                    ])?;
                }
                counts.push(new);
            }
        }
        tx.commit()?;
        Ok(counts)
    }

    fn class_summary(&mut self, class_id: i64) -> Result<Vec<DeviceSummary>> {
        let mut devices = self.conn.prepare_cached(
            "SELECT d.id, d.display_name, d.joined_at,
                    (SELECT COUNT(*) FROM events e WHERE e.device_id = d.id),
                    (SELECT MAX(received_at) FROM events e WHERE e.device_id = d.id AND e.status = 'ok')
             FROM devices d WHERE d.class_id = ?1 ORDER BY d.id",
        )?;
        let rows: Vec<(i64, String, i64, i64, Option<i64>)> = devices
            .query_map([class_id], |r| {
                Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?))
            })?
            .collect::<rusqlite::Result<_>>()?;
        let mut recent = self.conn.prepare_cached(
            "SELECT title, status, received_at FROM events WHERE device_id = ?1 ORDER BY seq DESC LIMIT 3",
        )?;
        let mut out = Vec::with_capacity(rows.len());
        for (device_id, display_name, joined_at, runs, last_success_at) in rows {
            let latest: Vec<(String, String, i64)> = recent
                .query_map([device_id], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?
                .collect::<rusqlite::Result<_>>()?;
            out.push(DeviceSummary {
                device_id,
                display_name,
                joined_at,
                runs: runs as u64,
                current_title: latest.first().map(|l| l.0.clone()),
                last_event_at: latest.first().map(|l| l.2),
                last_success_at,
                recent_statuses: latest.into_iter().map(|l| l.1).collect(),
            });
        }
        Ok(out)
    }

    fn class_events(&mut self, class_id: i64, since: i64) -> Result<Vec<EventRow>> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT device_id, seq, received_at, title, status, error_class, risk_bucket, hint, hint_kind
             FROM events WHERE class_id = ?1 AND received_at >= ?2 ORDER BY seq",
        )?;
        let rows = stmt
            .query_map(params![class_id, since], |r| {
                Ok(EventRow {
                    device_id: r.get(0)?,
                    seq: r.get(1)?,
                    received_at: r.get(2)?,
                    title: r.get(3)?,
                    status: r.get(4)?,
                    error_class: r.get(5)?,
                    risk_bucket: r.get(6)?,
                    hint: r.get(7)?,
                    hint_kind: r.get(8)?,
                })
            })?
            .collect::<rusqlite::Result<_>>()?;
        Ok(rows)
    }

    fn insert_hand(&mut self, device: &Device, hand: &HandRequest, now: i64) -> Result<bool> {
        let trace_json = hand.trace.as_ref().map(serde_json::to_string).transpose()?;
        let n = self.conn.execute(
            "INSERT INTO hands (device_id, class_id, hand_id, asked_at, title, program, message,
                                trace_json, received_at)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)
             ON CONFLICT (device_id, hand_id) DO NOTHING",
            params![
                device.id,
                device.class_id,
                hand.id,
                hand.time,
                hand.title,
                hand.program,
                hand.message,
                trace_json,
                now
            ],
        )?;
        Ok(n == 1)
    }

    fn device_hands(&mut self, device_id: i64) -> Result<Vec<HandRow>> {
        let mut stmt = self.conn.prepare_cached(&format!(
            "{HAND_COLUMNS} WHERE h.device_id = ?1 ORDER BY h.seq DESC"
        ))?;
        let rows = stmt.query_map([device_id], hand_row)?.collect::<rusqlite::Result<_>>()?;
        Ok(rows)
    }

    fn class_hands(&mut self, class_id: i64, include_resolved: bool) -> Result<Vec<HandRow>> {
        let mut stmt = self.conn.prepare_cached(&format!(
            "{HAND_COLUMNS} WHERE h.class_id = ?1 AND (?2 OR h.resolved = 0) ORDER BY h.seq DESC"
        ))?;
        let rows = stmt
            .query_map(params![class_id, include_resolved], hand_row)?
            .collect::<rusqlite::Result<_>>()?;
        Ok(rows)
    }

    fn answer_hand(
        &mut self,
        class_id: i64,
        seq: i64,
        reply: Option<&str>,
        resolve: bool,
        now: i64,
    ) -> Result<bool> {
        let n = self.conn.execute(
            "UPDATE hands SET
                 reply = COALESCE(?3, reply),
                 replied_at = CASE WHEN ?3 IS NULL THEN replied_at ELSE ?5 END,
                 resolved = CASE WHEN ?4 THEN 1 ELSE resolved END
             WHERE seq = ?2 AND class_id = ?1",
            params![class_id, seq, reply, resolve, now],
        )?;
        Ok(n == 1)
    }

    fn put_study(
        &mut self,
        study_id: &str,
        signed_json: &str,
        digest: &str,
        secret: &[u8; 32],
        now: i64,
    ) -> Result<StudyStored> {
        let tx = self.conn.transaction()?;
        let existing: Option<String> = tx
            .query_row("SELECT digest FROM studies WHERE id = ?1", [study_id], |r| r.get(0))
            .optional()?;
        let stored = match existing {
            Some(d) if d == digest => StudyStored::Same,
            Some(d) => StudyStored::Conflict(d),
            None => {
                tx.execute(
                    "INSERT INTO studies (id, signed_json, digest, secret, published_at) VALUES (?1, ?2, ?3, ?4, ?5)",
                    params![study_id, signed_json, digest, &secret[..], now],
                )?;
                StudyStored::New
            }
        };
        tx.commit()?;
        Ok(stored)
    }

    fn offer_study(
        &mut self,
        study_id: &str,
        class_id: i64,
        offer_signature: &str,
        now: i64,
    ) -> Result<()> {
        self.conn.execute(
            "INSERT INTO study_offers (study_id, class_id, offer_signature, offered_at) VALUES (?1, ?2, ?3, ?4)
             ON CONFLICT (study_id, class_id) DO UPDATE SET offer_signature = excluded.offer_signature",
            params![study_id, class_id, offer_signature, now],
        )?;
        Ok(())
    }

    fn offered_studies(&mut self, class_id: i64) -> Result<Vec<(String, String)>> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT s.signed_json, o.offer_signature FROM study_offers o JOIN studies s ON s.id = o.study_id
             WHERE o.class_id = ?1 ORDER BY o.offered_at, s.id",
        )?;
        let rows = stmt.query_map([class_id], |r| Ok((r.get(0)?, r.get(1)?)))?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }

    fn study_for_class(&mut self, class_id: i64, study_id: &str) -> Result<Option<StudyRow>> {
        let row: Option<(String, String, Vec<u8>)> = self
            .conn
            .query_row(
                "SELECT s.signed_json, s.digest, s.secret FROM studies s
                 JOIN study_offers o ON o.study_id = s.id AND o.class_id = ?1 WHERE s.id = ?2",
                params![class_id, study_id],
                |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
            )
            .optional()?;
        row.map(|r| study_row(study_id, r)).transpose()
    }

    fn put_consent(&mut self, c: &ConsentRecord, now: i64) -> Result<()> {
        self.conn.execute(
            "INSERT INTO research_consents (study_id, device_id, subject_id, consent_version, consented_by,
                                            consented_at, received_at, revoked_at)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, NULL)
             ON CONFLICT (study_id, device_id) DO UPDATE SET subject_id = excluded.subject_id,
                 consent_version = excluded.consent_version, consented_by = excluded.consented_by,
                 consented_at = excluded.consented_at, received_at = excluded.received_at, revoked_at = NULL",
            params![c.study_id, c.device_id, c.subject_id, c.consent_version, c.by, c.consented_at, now],
        )?;
        Ok(())
    }

    fn consent(&mut self, study_id: &str, device_id: i64) -> Result<Option<ConsentRow>> {
        Ok(self
            .conn
            .query_row(
                "SELECT subject_id, consent_version, revoked_at IS NOT NULL FROM research_consents
                 WHERE study_id = ?1 AND device_id = ?2",
                params![study_id, device_id],
                |r| {
                    Ok(ConsentRow {
                        subject_id: r.get(0)?,
                        consent_version: r.get(1)?,
                        revoked: r.get(2)?,
                    })
                },
            )
            .optional()?)
    }

    fn insert_upload(
        &mut self,
        study_id: &str,
        subject_id: &str,
        upload_id: &str,
        body: &[u8],
        now: i64,
    ) -> Result<bool> {
        let n = self.conn.execute(
            "INSERT INTO research_uploads (study_id, subject_id, upload_id, body, received_at)
             VALUES (?1, ?2, ?3, ?4, ?5)
             ON CONFLICT (study_id, subject_id, upload_id) DO NOTHING",
            params![study_id, subject_id, upload_id, body, now],
        )?;
        Ok(n == 1)
    }

    fn revoke_consent(
        &mut self,
        study_id: &str,
        device_id: i64,
        subject_id: &str,
        now: i64,
    ) -> Result<usize> {
        let tx = self.conn.transaction()?;
        tx.execute(
            "UPDATE research_consents SET revoked_at = ?3 WHERE study_id = ?1 AND device_id = ?2",
            params![study_id, device_id, now],
        )?;
        let deleted = tx.execute(
            "DELETE FROM research_uploads WHERE study_id = ?1 AND subject_id = ?2",
            params![study_id, subject_id],
        )?;
        tx.execute("DELETE FROM release_verdicts WHERE study_id = ?1", [study_id])?;
        tx.execute(
            "INSERT INTO research_deletions (study_id, subject_id, uploads_deleted, requested_at) VALUES (?1, ?2, ?3, ?4)",
            params![study_id, subject_id, i64::try_from(deleted)?, now],
        )?;
        insert_audit(
            &tx,
            &AuditEntry {
                at: now,
                action: "revoke".into(),
                actor: "POST /api/v1/research/revoke".into(),
                study_id: study_id.into(),
                format: None,
                subjects: 1,
                rows: deleted as u64,
                sha256s_json: "{}".into(),
            },
        )?;
        tx.commit()?;
        Ok(deleted)
    }

    fn uploads(&mut self, study_id: &str) -> Result<Vec<UploadRow>> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT study_id, subject_id, upload_id, body FROM research_uploads WHERE study_id = ?1 ORDER BY seq",
        )?;
        let rows = stmt.query_map([study_id], |r| {
            Ok(UploadRow {
                study_id: r.get(0)?,
                subject_id: r.get(1)?,
                upload_id: r.get(2)?,
                body: r.get(3)?,
            })
        })?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }
    fn study(&mut self, study_id: &str) -> Result<Option<StudyRow>> {
        let row: Option<(String, String, Vec<u8>)> = self
            .conn
            .query_row(
                "SELECT signed_json, digest, secret FROM studies WHERE id = ?1",
                [study_id],
                |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
            )
            .optional()?;
        row.map(|r| study_row(study_id, r)).transpose()
    }

    fn study_roster(&mut self, study_id: &str) -> Result<Vec<String>> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT d.display_name FROM devices d JOIN study_offers o ON o.class_id = d.class_id
             WHERE o.study_id = ?1 ORDER BY d.id",
        )?;
        let rows = stmt.query_map([study_id], |r| r.get(0))?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }

    fn next_release_id(&mut self) -> Result<i64> {
        Ok(self.conn.query_row("SELECT COALESCE(MAX(id), 0) + 1 FROM releases", [], |r| r.get(0))?)
    }

    fn record_release(&mut self, release: &NewRelease, audit: &AuditEntry) -> Result<i64> {
        let tx = self.conn.transaction()?;
        tx.execute(
            "INSERT INTO releases (id, study_id, format, created_at, out_dir, manifest_json) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
            params![
                release.id,
                release.study_id,
                release.format,
                release.created_at,
                release.out_dir,
                release.manifest_json
            ],
        )?;
        let id = release.id;
        {
            let mut insert = tx.prepare_cached(
                "INSERT INTO release_subjects (release_id, subject_id, rows, row_ids_json) VALUES (?1, ?2, ?3, ?4)",
            )?;
            for s in &release.subjects {
                insert.execute(params![id, s.subject_id, i64::try_from(s.rows)?, s.row_ids_json])?;
            }
        }
        insert_audit(&tx, audit)?;
        tx.commit()?;
        Ok(id)
    }

    fn deletions(&mut self, study_id: &str) -> Result<Vec<DeletionRow>> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT subject_id, uploads_deleted, requested_at FROM research_deletions WHERE study_id = ?1 ORDER BY seq",
        )?;
        let rows = stmt.query_map([study_id], |r| {
            Ok(DeletionRow {
                subject_id: r.get(0)?,
                uploads_deleted: count(r, 1)?,
                requested_at: r.get(2)?,
            })
        })?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }

    fn released_rows(&mut self, study_id: &str, subject_id: &str, until: i64) -> Result<Vec<ReleasedRows>> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT r.id, r.format, r.created_at, r.out_dir, s.rows, s.row_ids_json
             FROM releases r JOIN release_subjects s ON s.release_id = r.id
             WHERE r.study_id = ?1 AND s.subject_id = ?2 AND r.created_at <= ?3 ORDER BY r.id",
        )?;
        let rows = stmt.query_map(params![study_id, subject_id, until], |r| {
            Ok(ReleasedRows {
                release_id: r.get(0)?,
                format: r.get(1)?,
                created_at: r.get(2)?,
                out_dir: r.get(3)?,
                rows: count(r, 4)?,
                row_ids_json: r.get(5)?,
            })
        })?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }

    fn append_audit(&mut self, entry: &AuditEntry) -> Result<()> {
        insert_audit(&self.conn, entry)
    }

    fn audit(&mut self, study_id: &str) -> Result<Vec<AuditEntry>> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT at, action, actor, study_id, format, subjects, rows, sha256s_json
             FROM audit_log WHERE study_id = ?1 ORDER BY seq",
        )?;
        let rows = stmt.query_map([study_id], |r| {
            Ok(AuditEntry {
                at: r.get(0)?,
                action: r.get(1)?,
                actor: r.get(2)?,
                study_id: r.get(3)?,
                format: r.get(4)?,
                subjects: count(r, 5)?,
                rows: count(r, 6)?,
                sha256s_json: r.get(7)?,
            })
        })?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }

    fn cached_verdicts(&mut self, study_id: &str, judge: &str) -> Result<Vec<(String, String)>> {
        let mut stmt = self
            .conn
            .prepare_cached("SELECT code_sha256, outcome_json FROM release_verdicts WHERE study_id = ?1 AND judge = ?2")?;
        let rows = stmt.query_map(params![study_id, judge], |r| Ok((r.get(0)?, r.get(1)?)))?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }

    fn replace_cached_verdicts(&mut self, study_id: &str, judge: &str, rows: &[(String, String)]) -> Result<()> {
        let tx = self.conn.transaction()?;
        tx.execute("DELETE FROM release_verdicts WHERE study_id = ?1", [study_id])?;
        {
            let mut insert = tx.prepare_cached(
                "INSERT INTO release_verdicts (study_id, judge, code_sha256, outcome_json) VALUES (?1, ?2, ?3, ?4)",
            )?;
            for (sha256, outcome) in rows {
                insert.execute(params![study_id, judge, sha256, outcome])?;
            }
        }
        tx.commit()?;
        Ok(())
    }
}
