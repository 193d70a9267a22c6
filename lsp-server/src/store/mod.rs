//! The recording store: SQLite (WAL) on its own thread, behind a cloneable handle.
//!
//! Every write is one transaction; a caller hears back only after the commit, so a
//! state reported as recorded survives the process being killed at any moment.

mod classroom;
mod database;
mod hands;
mod migrations;
mod private_files;
mod research;
mod student_data;
mod student_vector;

pub use classroom::{Membership, QueuedEvent};
pub use hands::{HandRow, NewReply, UnsentHand};
pub use database::{Database, HintRecord, OpenReport, RunResultRow, StateRecord, StoredState, Trigger, DB_FILE};
pub use migrations::{latest_version, MIGRATIONS};
pub use private_files::create_private_file;
pub use research::{Collectable, OutboxItem, Receipt, ResearchHint, ResearchState, StoredStudy, StudyPut, StudySource};
pub use student_data::{DataSummary, DeleteReport, DeleteScope, TitleSummary};
pub use student_vector::{AdaptationLimits, StudentVectorRow};

use std::path::Path;
use std::sync::mpsc;
use std::thread;

/// Why the store could not do something.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// SQLite failed.
    #[error("database error: {0}")]
    Sqlite(#[from] rusqlite::Error),
    /// A file operation on the data directory failed.
    #[error("{what} {path}: {source}")]
    Io {
        /// What was being done.
        what: &'static str,
        /// The file or directory.
        path: String,
        /// The OS error.
        source: std::io::Error,
    },
    /// The file was written by a newer pencil-lsp; it is left untouched.
    #[error("{path} has schema version {found}, newer than this build's {supported}; it was left untouched")]
    TooNew {
        /// The database file.
        path: String,
        /// Its schema version.
        found: i64,
        /// The newest this build knows.
        supported: i64,
    },
    /// The store's thread has stopped.
    #[error("the store's thread has stopped")]
    Gone,
}

type Job = Box<dyn FnOnce(&mut Database) + Send>;

/// Cloneable handle to the store's thread; the thread ends when the last handle drops.
#[derive(Clone)]
pub struct StoreHandle {
    jobs: mpsc::Sender<Job>,
    local_student: String,
}

impl std::fmt::Debug for StoreHandle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StoreHandle").field("local_student", &self.local_student).finish()
    }
}

impl StoreHandle {
    /// Opens (creating or migrating) the store in `data_dir` and starts its thread.
    /// A corrupted file is moved aside; the report says where.
    pub fn open(data_dir: &Path) -> Result<(StoreHandle, OpenReport), StoreError> {
        let (mut db, report) = Database::open_in(data_dir)?;
        let local_student = db.local_student()?;
        let (jobs, rx) = mpsc::channel::<Job>();
        thread::Builder::new()
            .name("pencil-store".into())
            .spawn(move || {
                for job in rx {
                    job(&mut db);
                }
            })
            .map_err(|source| StoreError::Io { what: "starting the store thread for", path: data_dir.display().to_string(), source })?;
        Ok((StoreHandle { jobs, local_student }, report))
    }

    /// This installation's random student id.
    pub fn local_student(&self) -> &str {
        &self.local_student
    }

    /// Runs `f` on the store's thread and awaits its result.
    pub async fn call<R, F>(&self, f: F) -> Result<R, StoreError>
    where
        R: Send + 'static,
        F: FnOnce(&mut Database) -> Result<R, StoreError> + Send + 'static,
    {
        let (tx, rx) = tokio::sync::oneshot::channel();
        self.jobs
            .send(Box::new(move |db| {
                let _ = tx.send(f(db));
            }))
            .map_err(|_| StoreError::Gone)?;
        rx.await.map_err(|_| StoreError::Gone)?
    }

    /// Runs `f` on the store's thread and blocks until it is done (not for async code).
    pub fn call_blocking<R, F>(&self, f: F) -> Result<R, StoreError>
    where
        R: Send + 'static,
        F: FnOnce(&mut Database) -> Result<R, StoreError> + Send + 'static,
    {
        let (tx, rx) = mpsc::channel();
        self.jobs
            .send(Box::new(move |db| {
                let _ = tx.send(f(db));
            }))
            .map_err(|_| StoreError::Gone)?;
        rx.recv().map_err(|_| StoreError::Gone)?
    }
}
