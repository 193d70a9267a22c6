//! The hub's storage: the [`Db`] trait (what the hub needs from a database,
//! in plain Rust types) and [`Store`], the async handle that runs those calls
//! on one dedicated thread so no blocking database call ever runs on the
//! tokio executor.
//!
//! SQLite ([`crate::sqlite::SqliteDb`]) is the only backend so far; a
//! PostgreSQL one implements the same trait. A closure given to
//! [`Store::call`] runs alone on the database thread, so read-then-write
//! sequences inside one closure do not interleave with other requests of this
//! process (a multi-process backend must use transactions for them).

use std::sync::mpsc;
use std::thread;

use anyhow::{anyhow, Result};
use pencil_core::classroom::{Event, HandRequest};
use tokio::sync::oneshot;

pub struct Teacher {
    pub id: i64,
    pub name: String,
    pub password_hash: String,
}

pub struct Session {
    pub teacher_id: i64,
    pub teacher_name: String,
    pub csrf: String,
}

#[derive(Clone)]
pub struct Class {
    pub id: i64,
    pub teacher_id: i64,
    pub name: String,
    pub join_code: Option<String>,
    pub code_expires: i64,
}

pub struct Device {
    pub id: i64,
    pub class_id: i64,
    /// SHA-256 of the device token: what a research pseudonym is keyed over.
    pub token_hash: String,
}

/// A study as the hub keeps it: the signed document and its pseudonym secret.
pub struct StudyRow {
    /// JSON of `pencil_core::research::SignedStudy`, as published.
    pub signed_json: String,
    /// `Study::digest` of the document.
    pub digest: String,
    /// The per-study key of every SubjectID; never leaves the hub.
    pub secret: [u8; 32],
}

/// What storing a published study did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StudyStored {
    /// First publication: a fresh secret was kept.
    New,
    /// The same document was published before.
    Same,
    /// Another document was published under this id before (its digest).
    Conflict(String),
}

/// A consent as it arrives: who, to what, by whom, when on the student's clock.
pub struct ConsentRecord {
    pub study_id: String,
    pub device_id: i64,
    /// The device's pseudonym in the study (derived by the hub, never sent).
    pub subject_id: String,
    pub consent_version: String,
    /// `student`, `parent` or `school`.
    pub by: String,
    /// `YYYY-MM-DD HH:MM:SS` on the student's clock.
    pub consented_at: String,
}

/// A device's consent to a study, as the hub recorded it.
pub struct ConsentRow {
    pub subject_id: String,
    pub consent_version: String,
    pub revoked: bool,
}

/// One stored upload, as releases read it.
pub struct UploadRow {
    pub study_id: String,
    pub subject_id: String,
    pub upload_id: String,
    /// Exactly the bytes the student's machine sent.
    pub body: Vec<u8>,
}

/// A release about to be recorded: what its `release.json` says, and each
/// subject's rows in it (what a later deletion manifest names).
pub struct NewRelease {
    /// From [`Db::next_release_id`]; `release.json` names it.
    pub id: i64,
    pub study_id: String,
    /// `progsnap2`, `jsonl` or `parquet`.
    pub format: String,
    pub created_at: i64,
    /// Where it was written, as the researcher named it.
    pub out_dir: String,
    /// The release's `release.json`, verbatim.
    pub manifest_json: String,
    pub subjects: Vec<ReleasedSubject>,
}

/// One subject's rows in one release.
pub struct ReleasedSubject {
    pub subject_id: String,
    pub rows: u64,
    /// JSON object: row id kind (e.g. `EventID`, `CodeStateID`, `line`) -> ids.
    pub row_ids_json: String,
}

/// One subject's rows in an earlier release, for a deletion manifest.
pub struct ReleasedRows {
    pub release_id: i64,
    pub format: String,
    pub created_at: i64,
    pub out_dir: String,
    pub rows: u64,
    pub row_ids_json: String,
}

/// A withdrawn consent whose uploads were deleted.
pub struct DeletionRow {
    pub subject_id: String,
    pub uploads_deleted: u64,
    pub requested_at: i64,
}

/// One line of the disclosure audit log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditEntry {
    pub at: i64,
    /// What happened: `release`, `deletion-manifest`, `revoke`.
    pub action: String,
    /// Who or what did it: the command line, or the API endpoint.
    pub actor: String,
    pub study_id: String,
    /// The release format, when there is one.
    pub format: Option<String>,
    pub subjects: u64,
    pub rows: u64,
    /// JSON object: file name -> lowercase hex SHA-256 of what was written.
    pub sha256s_json: String,
}

/// One device's `POST /events` batch, as the database thread receives it.
pub struct DeviceBatch {
    pub device_id: i64,
    pub class_id: i64,
    pub events: Vec<Event>,
    pub received_at: i64,
}

/// What the dashboard shows of one student (one joined device).
pub struct DeviceSummary {
    pub device_id: i64,
    pub display_name: String,
    pub joined_at: i64,
    pub runs: u64,
    pub current_title: Option<String>,
    pub last_event_at: Option<i64>,
    pub last_success_at: Option<i64>,
    /// Statuses of the latest runs, newest first (at most 3).
    pub recent_statuses: Vec<String>,
}

/// One stored run event, as the dashboard reads it back.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EventRow {
    pub device_id: i64,
    /// Arrival order on the hub (per device it is the order the student ran).
    pub seq: i64,
    pub received_at: i64,
    pub title: String,
    /// `RunStatus::as_str`.
    pub status: String,
    pub error_class: Option<String>,
    /// `RiskBucket::as_str`.
    pub risk_bucket: Option<String>,
    /// `HintOutcome::as_str`.
    pub hint: Option<String>,
    /// `HintKind::as_str`.
    pub hint_kind: Option<String>,
}

/// A raised hand ("Ask my teacher") as the hub keeps it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HandRow {
    /// The hub's own id (what the teacher's reply form names).
    pub seq: i64,
    pub device_id: i64,
    pub display_name: String,
    /// The id the student's machine chose.
    pub hand_id: String,
    pub title: String,
    pub program: String,
    pub message: Option<String>,
    /// JSON of `Vec<HandState>`, only when the student shared the trace.
    pub trace_json: Option<String>,
    pub received_at: i64,
    pub reply: Option<String>,
    pub replied_at: Option<i64>,
    pub resolved: bool,
}

/// Times are unix seconds on the hub's clock. Tokens and session ids are
/// passed as hashes: no backend ever sees a usable credential.
pub trait Db: Send {
    /// `None` when the name is taken.
    fn create_teacher(
        &mut self,
        name: &str,
        password_hash: &str,
        signing_seed: &[u8; 32],
        now: i64,
    ) -> Result<Option<i64>>;
    fn teacher_by_name(&mut self, name: &str) -> Result<Option<Teacher>>;
    fn teacher_signing_seed(&mut self, teacher_id: i64) -> Result<[u8; 32]>;

    /// Counts one attempt (a sign-in or a join) against every `(key, limit)`,
    /// unless some key already holds `limit` attempts since `since`: then
    /// nothing is counted and the answer is false. Check and count are one
    /// atomic step, across hub processes too, so guesses sent at the same
    /// moment cannot overshoot a limit. A failed attempt stays counted.
    fn reserve_attempt(&mut self, keys: &[(String, u32)], since: i64, now: i64) -> Result<bool>;
    /// Forgets one attempt counted at `at` under `key` (it succeeded).
    fn release_attempt(&mut self, key: &str, at: i64) -> Result<()>;
    /// Forgets every attempt under `key` (the account signed in).
    fn clear_failures(&mut self, key: &str) -> Result<()>;

    fn create_session(
        &mut self,
        token_hash: &str,
        teacher_id: i64,
        csrf: &str,
        expires: i64,
    ) -> Result<()>;
    fn session(&mut self, token_hash: &str, now: i64) -> Result<Option<Session>>;
    fn delete_session(&mut self, token_hash: &str) -> Result<()>;

    /// `None` when the join code is already in use (the caller draws another).
    fn create_class(
        &mut self,
        teacher_id: i64,
        name: &str,
        code: &str,
        code_expires: i64,
        now: i64,
    ) -> Result<Option<i64>>;
    fn classes_of(&mut self, teacher_id: i64) -> Result<Vec<Class>>;
    fn class(&mut self, class_id: i64) -> Result<Option<Class>>;
    /// Replaces the class's join code (the old one stops working). `false`
    /// when the new code is already in use.
    fn set_join_code(&mut self, class_id: i64, code: &str, code_expires: i64) -> Result<bool>;
    /// The class whose unexpired join code this is.
    fn class_by_code(&mut self, code: &str, now: i64) -> Result<Option<Class>>;

    fn create_device(
        &mut self,
        class_id: i64,
        token_hash: &str,
        display_name: &str,
        now: i64,
    ) -> Result<i64>;
    fn device_by_token(&mut self, token_hash: &str) -> Result<Option<Device>>;

    /// The class's current signed policy, as JSON of `SignedPolicy`.
    fn policy(&mut self, class_id: i64) -> Result<Option<String>>;
    fn put_policy(&mut self, class_id: i64, serial: u64, signed_json: &str) -> Result<()>;

    /// Stores the events not stored before, per device; returns how many of
    /// each batch were new. One transaction for all the batches: all or
    /// nothing, and one sync to disk however many batches were waiting.
    fn insert_event_batches(&mut self, batches: &[DeviceBatch]) -> Result<Vec<usize>>;
    fn class_summary(&mut self, class_id: i64) -> Result<Vec<DeviceSummary>>;
    /// The class's events received at or after `since`, in arrival order.
    fn class_events(&mut self, class_id: i64, since: i64) -> Result<Vec<EventRow>>;

    /// Keeps a raised hand unless this device sent this id before; true when new.
    fn insert_hand(&mut self, device: &Device, hand: &HandRequest, now: i64) -> Result<bool>;
    /// One device's hands, newest first.
    fn device_hands(&mut self, device_id: i64) -> Result<Vec<HandRow>>;
    /// A class's hands, newest first; resolved ones only when `include_resolved`.
    fn class_hands(&mut self, class_id: i64, include_resolved: bool) -> Result<Vec<HandRow>>;
    /// The teacher's answer to hand `seq` of this class: a reply (replacing an
    /// earlier one) and/or marking it resolved. False when no such hand is in the class.
    fn answer_hand(
        &mut self,
        class_id: i64,
        seq: i64,
        reply: Option<&str>,
        resolve: bool,
        now: i64,
    ) -> Result<bool>;

    /// Keeps a published study; `secret` is used only when it is new.
    fn put_study(
        &mut self,
        study_id: &str,
        signed_json: &str,
        digest: &str,
        secret: &[u8; 32],
        now: i64,
    ) -> Result<StudyStored>;
    /// Offers a stored study to a class with the teacher's signature over the offer.
    fn offer_study(
        &mut self,
        study_id: &str,
        class_id: i64,
        offer_signature: &str,
        now: i64,
    ) -> Result<()>;
    /// The studies offered to a class: (signed study JSON, offer signature), oldest first.
    fn offered_studies(&mut self, class_id: i64) -> Result<Vec<(String, String)>>;
    /// A study, only if it is offered to this class.
    fn study_for_class(&mut self, class_id: i64, study_id: &str) -> Result<Option<StudyRow>>;
    /// Records (or renews, clearing a revocation) a device's consent.
    fn put_consent(&mut self, consent: &ConsentRecord, now: i64) -> Result<()>;
    fn consent(&mut self, study_id: &str, device_id: i64) -> Result<Option<ConsentRow>>;
    /// Stores an upload unless this (study, subject, upload id) is stored; returns whether it was new.
    fn insert_upload(
        &mut self,
        study_id: &str,
        subject_id: &str,
        upload_id: &str,
        body: &[u8],
        now: i64,
    ) -> Result<bool>;
    /// Withdraws a device's consent and deletes its uploads to the study (one
    /// transaction, logged without data); returns how many uploads went.
    fn revoke_consent(
        &mut self,
        study_id: &str,
        device_id: i64,
        subject_id: &str,
        now: i64,
    ) -> Result<usize>;
    /// Every stored upload of a study, in arrival order.
    fn uploads(&mut self, study_id: &str) -> Result<Vec<UploadRow>>;

    /// A published study, whatever class it is offered to.
    fn study(&mut self, study_id: &str) -> Result<Option<StudyRow>>;
    /// Display names of the devices in every class the study is offered to:
    /// the roster the release scrub takes out of program text.
    fn study_roster(&mut self, study_id: &str) -> Result<Vec<String>>;
    /// The id the next recorded release will take.
    fn next_release_id(&mut self) -> Result<i64>;
    /// Records a written release, its subjects' rows and its audit line in
    /// one transaction; returns the release id.
    fn record_release(&mut self, release: &NewRelease, audit: &AuditEntry) -> Result<i64>;
    /// The study's withdrawn consents, oldest first.
    fn deletions(&mut self, study_id: &str) -> Result<Vec<DeletionRow>>;
    /// A subject's rows in the study's releases made up to `until`, oldest first.
    fn released_rows(&mut self, study_id: &str, subject_id: &str, until: i64) -> Result<Vec<ReleasedRows>>;
    fn append_audit(&mut self, entry: &AuditEntry) -> Result<()>;
    /// The study's audit log, oldest first.
    fn audit(&mut self, study_id: &str) -> Result<Vec<AuditEntry>>;

    /// The sandbox verdicts kept from the study's last release judged by the
    /// judge named `judge`: (SHA-256 of the program text, the verdict as JSON).
    fn cached_verdicts(&mut self, study_id: &str, judge: &str) -> Result<Vec<(String, String)>>;
    /// Replaces the study's kept verdicts with `rows` (those of the release just
    /// judged), in one transaction. [`Db::revoke_consent`] drops them all.
    fn replace_cached_verdicts(&mut self, study_id: &str, judge: &str, rows: &[(String, String)]) -> Result<()>;
}

type Call = Box<dyn FnOnce(&mut dyn Db) + Send>;

enum Job {
    Call(Call),
    Ingest(DeviceBatch, oneshot::Sender<Result<usize>>),
}

/// Most event batches committed together.
const MAX_GROUP: usize = 512;

/// Handle to the database thread; cheap to clone. The thread ends when the
/// last handle is dropped.
#[derive(Clone)]
pub struct Store {
    jobs: mpsc::Sender<Job>,
}

impl Store {
    pub fn start(mut db: Box<dyn Db>) -> Store {
        let (jobs, rx) = mpsc::channel::<Job>();
        thread::Builder::new()
            .name("pencil-hub-db".into())
            .spawn(move || {
                let mut held: Option<Job> = None;
                while let Some(job) = held.take().or_else(|| rx.recv().ok()) {
                    match job {
                        Job::Call(f) => f(db.as_mut()),
                        Job::Ingest(batch, reply) => {
                            // Group commit: batches that queued up while the
                            // last commit was syncing share the next one.
                            let mut group = vec![(batch, reply)];
                            while group.len() < MAX_GROUP {
                                match rx.try_recv() {
                                    Ok(Job::Ingest(b, r)) => group.push((b, r)),
                                    Ok(other) => {
                                        held = Some(other);
                                        break;
                                    }
                                    Err(_) => break,
                                }
                            }
                            let (batches, replies): (Vec<_>, Vec<_>) = group.into_iter().unzip();
                            match db.insert_event_batches(&batches) {
                                Ok(counts) => {
                                    for (reply, n) in replies.into_iter().zip(counts) {
                                        let _ = reply.send(Ok(n));
                                    }
                                }
                                Err(e) => {
                                    let message = format!("{e:#}");
                                    for reply in replies {
                                        let _ =
                                            reply.send(Err(anyhow!("storing events: {message}")));
                                    }
                                }
                            }
                        }
                    }
                }
            })
            .expect("spawning the database thread");
        Store { jobs }
    }

    /// Runs `f` on the database thread and waits for its result.
    pub async fn call<T, F>(&self, f: F) -> Result<T>
    where
        T: Send + 'static,
        F: FnOnce(&mut dyn Db) -> Result<T> + Send + 'static,
    {
        let (tx, rx) = oneshot::channel();
        self.jobs
            .send(Job::Call(Box::new(move |db| {
                let _ = tx.send(f(db));
            })))
            .map_err(|_| anyhow!("the database thread has stopped"))?;
        rx.await
            .map_err(|_| anyhow!("the database thread dropped a request"))?
    }

    /// Stores one device's batch (committed together with any others
    /// waiting); answers how many events were new, once they are on disk.
    pub async fn ingest(&self, batch: DeviceBatch) -> Result<usize> {
        let (tx, rx) = oneshot::channel();
        self.jobs
            .send(Job::Ingest(batch, tx))
            .map_err(|_| anyhow!("the database thread has stopped"))?;
        rx.await
            .map_err(|_| anyhow!("the database thread dropped a request"))?
    }
}
