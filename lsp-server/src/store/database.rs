//! The store's SQLite connection and every query it runs (blocking; used only from
//! the store's thread, or directly by tests and tools).

use super::migrations::{latest_version, MIGRATIONS};
use super::StoreError;
use rusqlite::{params, Connection, ErrorCode, OptionalExtension, TransactionBehavior};
use std::path::{Path, PathBuf};
use std::time::Duration;

/// File name of the store inside the data directory.
pub const DB_FILE: &str = "pencil.db";

/// What happened while opening the store.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OpenReport {
    /// The database file in use.
    pub path: PathBuf,
    /// Where an unreadable previous file was moved, with the reason.
    pub moved_aside: Option<(PathBuf, String)>,
    /// Schema version found before migrating (0 for a new store).
    pub migrated_from: i64,
    /// Files and directories whose permissions were wider than private and were tightened.
    pub tightened: Vec<PathBuf>,
}

impl OpenReport {
    /// The sentence to show the student when a corrupted store was moved aside.
    pub fn warning(&self) -> Option<String> {
        self.moved_aside.as_ref().map(|(to, why)| {
            format!(
                "The coach's store {} could not be read ({why}). It was moved to {} (nothing was deleted) and a new, empty store was started.",
                self.path.display(),
                to.display()
            )
        })
    }

    /// The sentence to log when permissions were tightened (paths only).
    pub fn tightened_notice(&self) -> Option<String> {
        (!self.tightened.is_empty()).then(|| {
            let paths: Vec<String> = self.tightened.iter().map(|p| p.display().to_string()).collect();
            format!("made the coach's store private to this user (others could read it before): {}", paths.join(", "))
        })
    }
}

/// What started a recording.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Trigger {
    /// The student pressed Run (`pencil/run`).
    Run,
    /// The student saved.
    Save,
    /// `pencil-lsp replay` fed a corpus trace.
    Replay,
}

impl Trigger {
    fn as_str(self) -> &'static str {
        match self {
            Trigger::Run => "run",
            Trigger::Save => "save",
            Trigger::Replay => "replay",
        }
    }
}

/// Where a recorded state landed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StateRecord {
    /// Row id of the state.
    pub id: i64,
    /// 1-based index of the state in its (student, title) trace.
    pub n: i64,
    /// True when the code equalled the previous state's and that row was updated.
    pub collapsed: bool,
}

/// A run's result as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RunResultRow {
    /// `ok | error | timeout | waits_for_input`.
    pub status: String,
    /// The paper's success decision.
    pub paper_success: bool,
    /// Error class, if any.
    pub error_kind: Option<String>,
    /// Error message, if any.
    pub error_message: Option<String>,
    /// 1-based error line.
    pub error_line: Option<u32>,
    /// 1-based error column.
    pub error_column: Option<u32>,
}

impl RunResultRow {
    /// The row for a sandbox verdict.
    pub fn from_verdict(v: &pencil_sandbox::Verdict) -> RunResultRow {
        let status = serde_json::to_value(v.status)
            .ok()
            .and_then(|s| s.as_str().map(str::to_string))
            .unwrap_or_else(|| format!("{:?}", v.status));
        RunResultRow {
            status,
            paper_success: v.paper_success,
            error_kind: v.error.as_ref().map(|e| e.kind.clone()),
            error_message: v.error.as_ref().map(|e| e.message.clone()),
            error_line: v.error.as_ref().and_then(|e| e.line),
            error_column: v.error.as_ref().and_then(|e| e.column),
        }
    }
}

/// A stored program state, as read back.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredState {
    /// Row id.
    pub id: i64,
    /// 1-based index in its trace.
    pub n: i64,
    /// Latest run time.
    pub time: String,
    /// The program.
    pub code: String,
    /// How many runs collapsed into this state.
    pub runs: i64,
    /// The result, once checked.
    pub result: Option<RunResultRow>,
}

/// A hint to record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HintRecord {
    /// The state it was offered on.
    pub state_id: i64,
    /// `quick_fix` (rule-based) or, later, `style_fix` / `backtrack`.
    pub kind: String,
    /// The rule or source that produced it.
    pub rule: String,
    /// What the student saw.
    pub title: String,
    /// The program the hint leads to.
    pub replacement: String,
    /// When it was shown.
    pub shown_at: String,
}

/// An open store.
#[derive(Debug)]
pub struct Database {
    pub(super) conn: Connection,
}

enum OpenFailure {
    Unreadable(String),
    Other(StoreError),
}

fn is_corruption(e: &rusqlite::Error) -> bool {
    matches!(e.sqlite_error_code(), Some(ErrorCode::NotADatabase | ErrorCode::DatabaseCorrupt))
}

impl Database {
    /// Opens `DB_FILE` in `dir`, creating the directory (private to this user) if needed.
    pub fn open_in(dir: &Path) -> Result<(Database, OpenReport), StoreError> {
        let dir_tightened = super::private_files::private_dir(dir)?;
        let (db, mut report) = Database::open(&dir.join(DB_FILE))?;
        if dir_tightened {
            report.tightened.insert(0, dir.to_path_buf());
        }
        Ok((db, report))
    }

    /// Opens or creates the store at `path`, migrating it to the latest schema. An
    /// unreadable file is renamed to `<path>.corrupt-<unix time>` (with its WAL), never overwritten.
    pub fn open(path: &Path) -> Result<(Database, OpenReport), StoreError> {
        // Private before SQLite touches it: SQLite creates the WAL and SHM files
        // with the main file's permissions.
        let tightened = super::private_files::private_store_files(path)?;
        let mut moved_aside = None;
        let conn = match Database::try_open(path) {
            Ok(conn) => conn,
            Err(OpenFailure::Other(e)) => return Err(e),
            Err(OpenFailure::Unreadable(why)) => {
                let to = move_aside(path)?;
                moved_aside = Some((to, why));
                Database::try_open(path).map_err(|f| match f {
                    OpenFailure::Other(e) => e,
                    OpenFailure::Unreadable(why) => StoreError::Io {
                        what: "creating a fresh store at",
                        path: path.display().to_string(),
                        source: std::io::Error::other(why),
                    },
                })?
            }
        };
        let mut db = Database { conn };
        let migrated_from = db.migrate(path)?;
        Ok((db, OpenReport { path: path.to_path_buf(), moved_aside, migrated_from, tightened }))
    }

    fn try_open(path: &Path) -> Result<Connection, OpenFailure> {
        let classify = |e: rusqlite::Error| {
            if is_corruption(&e) { OpenFailure::Unreadable(e.to_string()) } else { OpenFailure::Other(e.into()) }
        };
        let conn = Connection::open(path).map_err(classify)?;
        conn.busy_timeout(Duration::from_secs(5)).map_err(classify)?;
        let check: String = conn.query_row("PRAGMA quick_check", [], |r| r.get(0)).map_err(classify)?;
        if check != "ok" {
            return Err(OpenFailure::Unreadable(format!("integrity check failed: {check}")));
        }
        Ok(conn)
    }

    fn migrate(&mut self, path: &Path) -> Result<i64, StoreError> {
        let found: i64 = self.conn.query_row("PRAGMA user_version", [], |r| r.get(0))?;
        if found > latest_version() {
            return Err(StoreError::TooNew { path: path.display().to_string(), found, supported: latest_version() });
        }
        // Only a file this build understands is switched to WAL (which rewrites its header).
        let mode: String = self.conn.query_row("PRAGMA journal_mode=WAL", [], |r| r.get(0))?;
        if !mode.eq_ignore_ascii_case("wal") {
            return Err(StoreError::Io {
                what: "switching to write-ahead logging",
                path: path.display().to_string(),
                source: std::io::Error::other(format!("journal mode stayed {mode}")),
            });
        }
        // FULL: a commit is on disk before the caller hears of it, even across power loss.
        // secure_delete: deleted or overwritten rows are zeroed, not left in free pages.
        self.conn.execute_batch("PRAGMA synchronous=FULL; PRAGMA foreign_keys=ON; PRAGMA secure_delete=ON;")?;
        for (i, sql) in MIGRATIONS.iter().enumerate().skip(usize::try_from(found).unwrap_or(0)) {
            let tx = self.conn.transaction_with_behavior(TransactionBehavior::Exclusive)?;
            tx.execute_batch(sql)?;
            tx.pragma_update(None, "user_version", i as i64 + 1)?;
            tx.commit()?;
        }
        Ok(found)
    }

    /// The schema version of the open store.
    pub fn schema_version(&self) -> Result<i64, StoreError> {
        Ok(self.conn.query_row("PRAGMA user_version", [], |r| r.get(0))?)
    }

    /// This installation's student id, created (random, 128 bits, hex) on first use.
    pub fn local_student(&mut self) -> Result<String, StoreError> {
        let tx = self.conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        let existing: Option<String> =
            tx.query_row("SELECT value FROM meta WHERE key = 'local_student'", [], |r| r.get(0)).optional()?;
        let id = match existing {
            Some(id) => id,
            None => {
                let mut bytes = [0u8; 16];
                getrandom::fill(&mut bytes).map_err(|e| StoreError::Io {
                    what: "drawing a random student id for",
                    path: "the store".into(),
                    source: std::io::Error::other(e.to_string()),
                })?;
                let id: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
                tx.execute("INSERT INTO meta (key, value) VALUES ('local_student', ?1)", params![id])?;
                tx.execute(
                    "INSERT OR IGNORE INTO students (id, created) VALUES (?1, ?2)",
                    params![id, crate::clock::now_timestamp()],
                )?;
                id
            }
        };
        tx.commit()?;
        Ok(id)
    }

    /// Records a program state for (student, title); a state equal to the previous one
    /// collapses into it (its time becomes the new time). One transaction.
    pub fn record_state(
        &mut self,
        student: &str,
        title: &str,
        code: &str,
        time: &str,
        trigger: Trigger,
    ) -> Result<StateRecord, StoreError> {
        let tx = self.conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        tx.execute("INSERT OR IGNORE INTO students (id, created) VALUES (?1, ?2)", params![student, time])?;
        tx.execute("INSERT OR IGNORE INTO titles (name) VALUES (?1)", params![title])?;
        let title_id: i64 = tx.query_row("SELECT id FROM titles WHERE name = ?1", params![title], |r| r.get(0))?;
        let last: Option<(i64, i64, String)> = tx
            .query_row(
                "SELECT id, n, code FROM program_states WHERE student_id = ?1 AND title_id = ?2 ORDER BY n DESC LIMIT 1",
                params![student, title_id],
                |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
            )
            .optional()?;
        let record = match last {
            Some((id, n, last_code)) if last_code == code => {
                tx.execute(
                    "UPDATE program_states SET time = ?1, trigger = ?2, runs = runs + 1 WHERE id = ?3",
                    params![time, trigger.as_str(), id],
                )?;
                StateRecord { id, n, collapsed: true }
            }
            last => {
                let n = last.map_or(1, |(_, n, _)| n + 1);
                tx.execute(
                    "INSERT INTO program_states (student_id, title_id, n, time, code, trigger) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                    params![student, title_id, n, time, code, trigger.as_str()],
                )?;
                StateRecord { id: tx.last_insert_rowid(), n, collapsed: false }
            }
        };
        tx.commit()?;
        Ok(record)
    }

    /// Stores the sandbox's result for a recorded state.
    pub fn set_result(&mut self, state_id: i64, result: &RunResultRow) -> Result<(), StoreError> {
        self.conn.execute(
            "UPDATE program_states SET status = ?1, paper_success = ?2, error_kind = ?3, error_message = ?4,
             error_line = ?5, error_column = ?6 WHERE id = ?7",
            params![
                result.status,
                result.paper_success,
                result.error_kind,
                result.error_message,
                result.error_line,
                result.error_column,
                state_id
            ],
        )?;
        Ok(())
    }

    /// Records a hint shown to the student; returns its id.
    pub fn record_hint(&mut self, hint: &HintRecord) -> Result<i64, StoreError> {
        self.conn.execute(
            "INSERT INTO hints (state_id, kind, rule, title, replacement, shown_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
            params![hint.state_id, hint.kind, hint.rule, hint.title, hint.replacement, hint.shown_at],
        )?;
        Ok(self.conn.last_insert_rowid())
    }

    /// Marks a hint accepted (first acceptance wins); false if no such hint.
    pub fn accept_hint(&mut self, hint_id: i64, at: &str) -> Result<bool, StoreError> {
        let exists = self.conn.query_row("SELECT count(*) FROM hints WHERE id = ?1", params![hint_id], |r| r.get::<_, i64>(0))?;
        self.conn.execute(
            "UPDATE hints SET accepted_at = ?1 WHERE id = ?2 AND accepted_at IS NULL",
            params![at, hint_id],
        )?;
        Ok(exists > 0)
    }

    /// The title of the program state a hint was offered on.
    pub fn hint_title(&self, hint_id: i64) -> Result<Option<String>, StoreError> {
        let title = self.conn.query_row(
            "SELECT t.name FROM hints h JOIN program_states s ON s.id = h.state_id JOIN titles t ON t.id = s.title_id WHERE h.id = ?1",
            params![hint_id],
            |r| r.get::<_, String>(0),
        );
        match title {
            Ok(t) => Ok(Some(t)),
            Err(rusqlite::Error::QueryReturnedNoRows) => Ok(None),
            Err(e) => Err(e.into()),
        }
    }

    /// The kind of a hint (`quick_fix`, `style_fix`, `backtrack`), if there is such a hint.
    pub fn hint_kind(&self, hint_id: i64) -> Result<Option<String>, StoreError> {
        Ok(self.conn.query_row("SELECT kind FROM hints WHERE id = ?1", params![hint_id], |r| r.get(0)).optional()?)
    }

    /// Whether a hint has been accepted.
    pub fn hint_accepted(&self, hint_id: i64) -> Result<bool, StoreError> {
        let at: Option<Option<String>> = self
            .conn
            .query_row("SELECT accepted_at FROM hints WHERE id = ?1", params![hint_id], |r| r.get(0))
            .optional()?;
        Ok(matches!(at, Some(Some(_))))
    }

    /// How many hints have been accepted.
    pub fn accepted_hint_count(&self) -> Result<i64, StoreError> {
        Ok(self.conn.query_row("SELECT count(*) FROM hints WHERE accepted_at IS NOT NULL", [], |r| r.get(0))?)
    }

    /// Every state of (student, title), in order.
    pub fn states(&self, student: &str, title: &str) -> Result<Vec<StoredState>, StoreError> {
        let mut stmt = self.conn.prepare(
            "SELECT s.id, s.n, s.time, s.code, s.runs, s.status, s.paper_success, s.error_kind,
                    s.error_message, s.error_line, s.error_column
             FROM program_states s JOIN titles t ON t.id = s.title_id
             WHERE s.student_id = ?1 AND t.name = ?2 ORDER BY s.n",
        )?;
        let rows = stmt.query_map(params![student, title], |r| {
            let status: Option<String> = r.get(5)?;
            Ok(StoredState {
                id: r.get(0)?,
                n: r.get(1)?,
                time: r.get(2)?,
                code: r.get(3)?,
                runs: r.get(4)?,
                result: match status {
                    None => None,
                    Some(status) => Some(RunResultRow {
                        status,
                        paper_success: r.get::<_, Option<bool>>(6)?.unwrap_or(false),
                        error_kind: r.get(7)?,
                        error_message: r.get(8)?,
                        error_line: r.get(9)?,
                        error_column: r.get(10)?,
                    }),
                },
            })
        })?;
        Ok(rows.collect::<Result<Vec<_>, _>>()?)
    }

    /// Ids of every recorded state (for durability checks).
    pub fn state_ids(&self) -> Result<Vec<i64>, StoreError> {
        let mut stmt = self.conn.prepare("SELECT id FROM program_states ORDER BY id")?;
        let ids = stmt.query_map([], |r| r.get(0))?.collect::<Result<Vec<i64>, _>>()?;
        Ok(ids)
    }
}

/// Renames an unreadable store (and its WAL/SHM files) out of the way.
fn move_aside(path: &Path) -> Result<PathBuf, StoreError> {
    let suffix = format!("corrupt-{}", crate::clock::now_unix());
    let with_suffix = |p: &Path| {
        let mut s = p.as_os_str().to_os_string();
        s.push(format!(".{suffix}"));
        PathBuf::from(s)
    };
    let to = with_suffix(path);
    std::fs::rename(path, &to)
        .map_err(|source| StoreError::Io { what: "moving aside the unreadable store", path: path.display().to_string(), source })?;
    for ext in ["-wal", "-shm"] {
        let side = super::private_files::with_suffix(path, ext);
        if side.exists() {
            let side_to = with_suffix(&side);
            std::fs::rename(&side, &side_to).map_err(|source| StoreError::Io {
                what: "moving aside the unreadable store's",
                path: side.display().to_string(),
                source,
            })?;
        }
    }
    Ok(to)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fresh() -> (tempfile::TempDir, Database) {
        let dir = tempfile::tempdir().expect("tempdir");
        let (db, report) = Database::open_in(dir.path()).expect("open");
        assert_eq!(report.migrated_from, 0);
        assert!(report.moved_aside.is_none());
        (dir, db)
    }

    #[test]
    fn consecutive_identical_states_collapse() {
        let (_dir, mut db) = fresh();
        let me = db.local_student().expect("student");
        let a = db.record_state(&me, "car", "fd 1", "2024-01-01 10:00:00", Trigger::Run).expect("a");
        let b = db.record_state(&me, "car", "fd 1", "2024-01-01 10:00:05", Trigger::Save).expect("b");
        let c = db.record_state(&me, "car", "fd 2", "2024-01-01 10:00:09", Trigger::Run).expect("c");
        let d = db.record_state(&me, "car", "fd 1", "2024-01-01 10:00:12", Trigger::Run).expect("d");
        assert_eq!((a.n, b.n, c.n, d.n), (1, 1, 2, 3));
        assert!(b.collapsed && a.id == b.id && !c.collapsed && !d.collapsed);
        let states = db.states(&me, "car").expect("states");
        assert_eq!(states.len(), 3);
        assert_eq!((states[0].time.as_str(), states[0].runs), ("2024-01-01 10:00:05", 2));
        // Another title is another trace.
        assert_eq!(db.record_state(&me, "house", "fd 1", "2024-01-01 10:01:00", Trigger::Run).expect("h").n, 1);
    }

    #[test]
    fn student_id_is_random_hex_and_stable() {
        let dir = tempfile::tempdir().expect("tempdir");
        let first = Database::open_in(dir.path()).expect("open").0.local_student().expect("id");
        let again = Database::open_in(dir.path()).expect("reopen").0.local_student().expect("id");
        assert_eq!(first, again);
        assert_eq!(first.len(), 32);
        assert!(first.chars().all(|c| c.is_ascii_hexdigit()));
        let other_dir = tempfile::tempdir().expect("tempdir");
        let other = Database::open_in(other_dir.path()).expect("open").0.local_student().expect("id");
        assert_ne!(first, other);
    }

    #[test]
    fn results_and_hints_round_trip() {
        let (_dir, mut db) = fresh();
        let me = db.local_student().expect("student");
        let s = db.record_state(&me, "car", "pen babyblue", "2024-01-01 10:00:00", Trigger::Run).expect("s");
        let row = RunResultRow {
            status: "error".into(),
            paper_success: false,
            error_kind: Some("ReferenceError".into()),
            error_message: Some("babyblue is not defined".into()),
            error_line: Some(1),
            error_column: Some(5),
        };
        db.set_result(s.id, &row).expect("result");
        assert_eq!(db.states(&me, "car").expect("states")[0].result.as_ref(), Some(&row));
        let hint = HintRecord {
            state_id: s.id,
            kind: "quick_fix".into(),
            rule: "nearest_color".into(),
            title: "Use the color `lightblue`".into(),
            replacement: "pen lightblue".into(),
            shown_at: "2024-01-01 10:00:01".into(),
        };
        let h = db.record_hint(&hint).expect("hint");
        assert!(!db.hint_accepted(h).expect("q"));
        assert!(db.accept_hint(h, "2024-01-01 10:00:03").expect("accept"));
        assert!(db.hint_accepted(h).expect("q"));
        assert!(!db.accept_hint(h + 100, "2024-01-01 10:00:03").expect("missing"));
    }

    #[test]
    fn corrupted_file_is_moved_aside_not_overwritten() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join(DB_FILE);
        let garbage = b"this is not a database, but it is the student's file".repeat(200);
        std::fs::write(&path, &garbage).expect("write");
        let (mut db, report) = Database::open(&path).expect("open");
        let (moved, why) = report.moved_aside.clone().expect("moved aside");
        assert_eq!(std::fs::read(&moved).expect("moved file"), garbage);
        assert!(why.contains("not a database"), "{why}");
        assert!(report.warning().is_some_and(|w| w.contains("nothing was deleted")));
        let me = db.local_student().expect("fresh store works");
        db.record_state(&me, "t", "fd 1", "2024-01-01 00:00:00", Trigger::Run).expect("record");
    }

    #[test]
    fn newer_schema_is_left_untouched() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join(DB_FILE);
        {
            let conn = Connection::open(&path).expect("conn");
            conn.pragma_update(None, "user_version", 99).expect("version");
        }
        let before = std::fs::read(&path).expect("read");
        assert!(matches!(Database::open(&path), Err(StoreError::TooNew { found: 99, .. })));
        assert_eq!(std::fs::read(&path).expect("reread"), before);
    }

    #[test]
    fn reopening_migrates_nothing_twice() {
        let dir = tempfile::tempdir().expect("tempdir");
        drop(Database::open_in(dir.path()).expect("open"));
        let (db, report) = Database::open_in(dir.path()).expect("reopen");
        assert_eq!(report.migrated_from, latest_version());
        assert_eq!(db.schema_version().expect("v"), latest_version());
    }
}
