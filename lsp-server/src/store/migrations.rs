//! The store's schema, as an append-only list of migrations. `PRAGMA user_version`
//! holds how many have been applied. Never edit a released migration; add one.
//!
//! Rows (schema version 1):
//! * `meta(key, value)`: `local_student` = this installation's random student id.
//! * `students(id, created)`: ids are random hex (local) or corpus hashes (replay), never names.
//! * `titles(id, name)`: program titles (file stems).
//! * `program_states(id, student_id, title_id, n, time, code, trigger, runs,
//!   status, paper_success, error_kind, error_message, error_line, error_column)`:
//!   one row per distinct consecutive state; `n` counts from 1 per (student, title);
//!   `time` is the latest run of that state (`YYYY-MM-DD HH:MM:SS` UTC); `runs` counts
//!   the collapsed runs; the result columns are NULL until the sandbox has answered.
//! * `hints(id, state_id, kind, rule, title, replacement, shown_at, accepted_at)`.
//!
//! Schema version 2 (classroom mode, see `crate::classroom`):
//! * `class_membership`: at most one row (id 1): the hub, the class, the device
//!   token, the teacher key pinned at join, and the last verified signed policy.
//! * `class_outbox(seq, event_id, event_json, queued_at)`: code-free events not yet
//!   acknowledged by the hub, oldest first.
//!
//! Schema version 3 (adaptation, see `crate::adaptation`):
//! * `student_vectors(student_id, model_sha256, vector, traces, tokens, steps,
//!   held_out_before, held_out_after, source_states, learned_at)`: one row per
//!   student, the vector learned on their traces (f32 little-endian) for the model
//!   whose `model.onnx` has that sha256; another model ignores it.
//!
//! Schema version 4 (research collection, see `crate::research`):
//! * `research_studies(id, signed_json, digest, researcher_key, source, first_seen)`:
//!   verified study documents; `source` is `class` (offered under the pinned
//!   teacher's signature) or `file` (researcher key pinned on first sight). A
//!   study id never changes document.
//! * `research_receipts(id, study_id, study_digest, consent_version, scope_json,
//!   consented_by, consented_at, after_state_id, after_hint_id, sent_state_id,
//!   sent_hint_id, uploads, subject_id, revoked_at)`: one row per consent given;
//!   only program states and hints with ids above `after_*` (recorded after
//!   consent) and above `sent_*` (not yet queued) are ever collected.
//! * `research_outbox(seq, request_id, study_id, kind, body, queued_at)`: the exact
//!   bytes of each upload (`kind` = `upload`) or deletion request (`revoke`) not yet
//!   acknowledged by the hub, oldest first.
//!
//! Schema version 5 (raise hand and reflect first, see `crate::classroom`):
//! * `class_hands(seq, hand_id, title, message, request_json, asked_at, sent_at,
//!   reply, replied_at, resolved, reply_shown)`: the hands the student raised in
//!   the class joined. `request_json` is the exact `HandRequest` until the hub
//!   acknowledged it (then NULL: the hub has it); the reply columns mirror the
//!   hub's `GET /hands`; `reply_shown` says the editor has shown that reply.
//! * `reflections(student_id, title, error_key, text, written_at)`: what the
//!   student wrote they think is wrong, per title and error, before fixes are shown
//!   under a reflect-first policy. Never sent anywhere.

/// SQL of each migration, in order; index + 1 is the schema version it produces.
pub const MIGRATIONS: &[&str] = &[
    "CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL) STRICT;
     CREATE TABLE students (id TEXT PRIMARY KEY, created TEXT NOT NULL) STRICT;
     CREATE TABLE titles (id INTEGER PRIMARY KEY, name TEXT NOT NULL UNIQUE) STRICT;
     CREATE TABLE program_states (
         id INTEGER PRIMARY KEY,
         student_id TEXT NOT NULL REFERENCES students(id),
         title_id INTEGER NOT NULL REFERENCES titles(id),
         n INTEGER NOT NULL,
         time TEXT NOT NULL,
         code TEXT NOT NULL,
         trigger TEXT NOT NULL,
         runs INTEGER NOT NULL DEFAULT 1,
         status TEXT,
         paper_success INTEGER,
         error_kind TEXT,
         error_message TEXT,
         error_line INTEGER,
         error_column INTEGER,
         UNIQUE (student_id, title_id, n)
     ) STRICT;
     CREATE TABLE hints (
         id INTEGER PRIMARY KEY,
         state_id INTEGER NOT NULL REFERENCES program_states(id),
         kind TEXT NOT NULL,
         rule TEXT NOT NULL,
         title TEXT NOT NULL,
         replacement TEXT NOT NULL,
         shown_at TEXT NOT NULL,
         accepted_at TEXT
     ) STRICT;",
    "CREATE TABLE class_membership (
         id INTEGER PRIMARY KEY CHECK (id = 1),
         hub_url TEXT NOT NULL,
         class_id INTEGER NOT NULL,
         class_name TEXT NOT NULL,
         display_name TEXT NOT NULL,
         device_token TEXT NOT NULL,
         teacher_key TEXT NOT NULL,
         joined_at TEXT NOT NULL,
         policy_json TEXT,
         policy_serial INTEGER NOT NULL DEFAULT 0,
         policy_since TEXT
     ) STRICT;
     CREATE TABLE class_outbox (
         seq INTEGER PRIMARY KEY,
         event_id TEXT NOT NULL UNIQUE,
         event_json TEXT NOT NULL,
         queued_at TEXT NOT NULL
     ) STRICT;",
    "CREATE TABLE student_vectors (
         student_id TEXT PRIMARY KEY REFERENCES students(id),
         model_sha256 TEXT NOT NULL,
         vector BLOB NOT NULL,
         traces INTEGER NOT NULL,
         tokens INTEGER NOT NULL,
         steps INTEGER NOT NULL,
         held_out_before REAL,
         held_out_after REAL,
         source_states INTEGER NOT NULL,
         learned_at TEXT NOT NULL
     ) STRICT;",
    "CREATE TABLE research_studies (
         id TEXT PRIMARY KEY,
         signed_json TEXT NOT NULL,
         digest TEXT NOT NULL,
         researcher_key TEXT NOT NULL,
         source TEXT NOT NULL CHECK (source IN ('class', 'file')),
         first_seen TEXT NOT NULL
     ) STRICT;
     CREATE TABLE research_receipts (
         id TEXT PRIMARY KEY,
         study_id TEXT NOT NULL REFERENCES research_studies(id),
         study_digest TEXT NOT NULL,
         consent_version TEXT NOT NULL,
         scope_json TEXT NOT NULL,
         consented_by TEXT NOT NULL,
         consented_at TEXT NOT NULL,
         after_state_id INTEGER NOT NULL,
         after_hint_id INTEGER NOT NULL,
         sent_state_id INTEGER NOT NULL,
         sent_hint_id INTEGER NOT NULL,
         uploads INTEGER NOT NULL DEFAULT 0,
         subject_id TEXT,
         revoked_at TEXT
     ) STRICT;
     CREATE TABLE research_outbox (
         seq INTEGER PRIMARY KEY,
         request_id TEXT NOT NULL UNIQUE,
         study_id TEXT NOT NULL,
         kind TEXT NOT NULL CHECK (kind IN ('upload', 'revoke')),
         body BLOB NOT NULL,
         queued_at TEXT NOT NULL
     ) STRICT;",
    "CREATE TABLE class_hands (
         seq INTEGER PRIMARY KEY,
         hand_id TEXT NOT NULL UNIQUE,
         title TEXT NOT NULL,
         message TEXT,
         request_json TEXT,
         asked_at TEXT NOT NULL,
         sent_at TEXT,
         reply TEXT,
         replied_at TEXT,
         resolved INTEGER NOT NULL DEFAULT 0,
         reply_shown INTEGER NOT NULL DEFAULT 0
     ) STRICT;
     CREATE TABLE reflections (
         student_id TEXT NOT NULL,
         title TEXT NOT NULL,
         error_key TEXT NOT NULL,
         text TEXT NOT NULL,
         written_at TEXT NOT NULL,
         PRIMARY KEY (student_id, title, error_key)
     ) STRICT;",
];

/// The schema version this build writes.
pub fn latest_version() -> i64 {
    MIGRATIONS.len() as i64
}
