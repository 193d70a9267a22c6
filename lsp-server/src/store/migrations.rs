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
];

/// The schema version this build writes.
pub fn latest_version() -> i64 {
    MIGRATIONS.len() as i64
}
