//! Releases of a study's collection to its researchers: `pencil-hub release
//! --study ID --format progsnap2|jsonl|parquet --out DIR`, run where the hub
//! runs, reading the hub's database.
//!
//! A release is a directory: the format's files ([`progsnap2`], [`jsonl`],
//! [`parquet`]) and `release.json` ([`ReleaseManifest`]: study, format, time,
//! SubjectIDs, rows per subject, each file's SHA-256). Before anything is
//! written, the uploads pass the hub's own scrub: the display names of every
//! class the study is offered to (the roster only the hub knows) leave the
//! program text and drop the titles that hold them ([`dataset`]).
//!
//! The hub records each release with every subject's row ids in it, so a
//! later revocation names the rows to delete ([`deletions`]), and appends the
//! release to the audit log ([`crate::audit`]) in the same transaction.

pub mod bench;
pub mod dataset;
pub mod deletions;
pub mod jsonl;
pub mod parquet;
pub mod progsnap2;
pub mod verdicts;

use std::collections::BTreeMap;
use std::io::Read as _;
use std::os::unix::fs::DirBuilderExt;
use std::path::{Path, PathBuf};

use pencil_core::research::{sha256_hex, Collects, SignedStudy};
use pencil_core::scrub::{NameLists, Roster, ScrubCounts, Scrubber};
use serde::{Deserialize, Serialize};

use crate::store::{AuditEntry, Db, NewRelease, ReleasedSubject};
use verdicts::Verdicts;

/// The `release.json` format this hub writes.
pub const MANIFEST_FORMAT: u32 = 1;
/// The file every release directory holds.
pub const MANIFEST_FILE: &str = "release.json";

/// Why a release (or a deletion manifest) was not written.
#[derive(Debug, thiserror::Error)]
pub enum ReleaseError {
    #[error("there is no study '{0}' on this hub")]
    UnknownStudy(String),
    #[error("{0} already exists and is not empty; a release goes into a new directory")]
    OutNotEmpty(PathBuf),
    #[error("stored upload '{upload_id}' cannot be read ({reason}); nothing was released")]
    CorruptUpload { upload_id: String, reason: String },
    #[error("a stored time '{0}' is not YYYY-MM-DD HH:MM:SS")]
    BadTime(String),
    #[error("the sandbox gave no verdict: {0}")]
    Sandbox(String),
    #[error("writing Parquet: {0}")]
    Parquet(String),
    #[error("writing the release: {0}")]
    Io(#[from] std::io::Error),
    #[error(transparent)]
    Store(#[from] anyhow::Error),
}

impl From<::parquet::errors::ParquetError> for ReleaseError {
    fn from(e: ::parquet::errors::ParquetError) -> Self {
        ReleaseError::Parquet(e.to_string())
    }
}

impl From<serde_json::Error> for ReleaseError {
    fn from(e: serde_json::Error) -> Self {
        ReleaseError::Store(e.into())
    }
}

/// The formats a study is released in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    /// ProgSnap 2 v1.0 CSV tables.
    Progsnap2,
    /// The paper's JSON Lines, as `pencil-trainer` reads it.
    Jsonl,
    /// Parquet tables.
    Parquet,
}

impl Format {
    /// The name on the command line and in `release.json`.
    pub fn as_str(self) -> &'static str {
        match self {
            Format::Progsnap2 => "progsnap2",
            Format::Jsonl => "jsonl",
            Format::Parquet => "parquet",
        }
    }

    /// Whether the format carries the sandbox's verdicts.
    pub fn has_verdicts(self) -> bool {
        self != Format::Jsonl
    }
}

/// One subject's rows in a release: how many, and their ids by kind
/// (`EventID`/`CodeStateID`, `line`, a Parquet file's row numbers).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RowIds {
    /// Rows of the release's tables that hold this subject.
    pub rows: u64,
    pub ids: BTreeMap<&'static str, Vec<String>>,
}

impl RowIds {
    /// Adds an id of this kind.
    pub fn push(&mut self, kind: &'static str, id: String) {
        self.ids.entry(kind).or_default().push(id);
    }

    /// How many ids of this kind.
    pub fn count(&self, kind: &str) -> u64 {
        self.ids.get(kind).map_or(0, |v| v.len() as u64)
    }
}

/// One file of a release.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FileEntry {
    pub name: String,
    pub bytes: u64,
    /// Lowercase hex SHA-256 of the file.
    pub sha256: String,
}

/// `release.json`: what a release holds.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReleaseManifest {
    /// [`MANIFEST_FORMAT`].
    pub manifest_format: u32,
    /// The hub's id of this release (deletion manifests name it).
    pub release_id: i64,
    pub study_id: String,
    /// `Study::digest` of the study document the subjects consented to.
    pub study_sha256: String,
    pub collects: Collects,
    /// `progsnap2`, `jsonl` or `parquet`.
    pub format: String,
    /// RFC 3339, UTC.
    pub created_at: String,
    /// Every SubjectID in the release, sorted.
    pub subject_ids: Vec<String>,
    /// Rows of the release's tables per SubjectID (events, lines or Parquet rows).
    pub rows_per_subject: BTreeMap<String, u64>,
    pub rows: u64,
    /// Program states released (the same in every format).
    pub states: u64,
    /// Uploads read.
    pub uploads: u64,
    /// What the hub's roster scrub replaced before release.
    pub hub_scrub: ScrubCounts,
    /// Distinct programs the sandbox judged (formats with verdicts).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub programs_judged: Option<u64>,
    pub files: Vec<FileEntry>,
}

/// What to release.
pub struct ReleaseRequest<'a> {
    pub study_id: &'a str,
    pub format: Format,
    /// A new (or empty) directory.
    pub out: &'a Path,
    /// Who asked, for the audit log (user and command).
    pub actor: String,
    /// Unix seconds.
    pub now: i64,
}

/// RFC 3339 of unix seconds, UTC.
pub fn rfc3339(unix: i64) -> String {
    time::OffsetDateTime::from_unix_timestamp(unix)
        .ok()
        .and_then(|t| t.format(&time::format_description::well_known::Rfc3339).ok())
        .unwrap_or_else(|| unix.to_string())
}

/// Lowercase hex SHA-256 and size of a file, read in pieces.
pub fn file_sha256(path: &Path) -> std::io::Result<(String, u64)> {
    use sha2::Digest as _;
    let mut file = std::fs::File::open(path)?;
    let mut hasher = sha2::Sha256::new();
    let mut buf = vec![0u8; 1 << 16];
    let mut bytes = 0u64;
    loop {
        let n = file.read(&mut buf)?;
        if n == 0 {
            break;
        }
        bytes += n as u64;
        hasher.update(&buf[..n]);
    }
    Ok((hasher.finalize().iter().map(|b| format!("{b:02x}")).collect(), bytes))
}

fn make_out_dir(out: &Path) -> Result<(), ReleaseError> {
    if out.exists() && std::fs::read_dir(out)?.next().is_some() {
        return Err(ReleaseError::OutNotEmpty(out.to_path_buf()));
    }
    // Program text inside: readable by its owner only, like the hub's data.
    std::fs::DirBuilder::new().recursive(true).mode(0o700).create(out)?;
    Ok(())
}

/// The hub's scrub of a study's uploads: the display names of its classes.
pub fn roster_scrubber(db: &mut dyn Db, study_id: &str) -> Result<Scrubber, ReleaseError> {
    let names = db.study_roster(study_id)?;
    // The published name lists ran on the student's machine; what the hub adds is
    // the roster, which no student's machine has whole.
    Ok(Scrubber::new(NameLists::default()).with_roster(Roster::from_names(names)))
}

/// Writes a release and records it (with its audit line). `verdicts` may
/// already hold verdicts (another format of the same collection).
pub fn write_release(db: &mut dyn Db, req: &ReleaseRequest, verdicts: &mut Verdicts) -> Result<ReleaseManifest, ReleaseError> {
    let row = db.study(req.study_id)?.ok_or_else(|| ReleaseError::UnknownStudy(req.study_id.to_string()))?;
    let signed: SignedStudy = serde_json::from_str(&row.signed_json)?;
    make_out_dir(req.out)?;
    let written = write_files(db, req, verdicts, &signed, &row.digest);
    if written.is_err() {
        // Half a release is never left behind (the directory was new or empty).
        let _ = std::fs::remove_dir_all(req.out);
    }
    written
}

/// Everything after the directory exists: the format's files, `release.json`, the record.
fn write_files(
    db: &mut dyn Db,
    req: &ReleaseRequest,
    verdicts: &mut Verdicts,
    signed: &SignedStudy,
    digest: &str,
) -> Result<ReleaseManifest, ReleaseError> {
    let uploads = db.uploads(req.study_id)?;
    let scrubber = roster_scrubber(db, req.study_id)?;
    let data = dataset::build(&uploads, &scrubber)?;
    drop(uploads);
    if req.format.has_verdicts() {
        verdicts.judge_all_kept(db, req.study_id, &data.distinct_codes())?;
    }
    let written = match req.format {
        Format::Progsnap2 => progsnap2::write(req.out, &data, verdicts, req.study_id),
        Format::Jsonl => jsonl::write(req.out, &data, req.study_id),
        Format::Parquet => parquet::write(req.out, &data, verdicts, signed.study.collects.hints),
    };
    let per_subject = written?;
    let mut files = Vec::new();
    let mut names: Vec<String> = std::fs::read_dir(req.out)?
        .filter_map(|e| e.ok())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    for name in names {
        let (sha256, bytes) = file_sha256(&req.out.join(&name))?;
        files.push(FileEntry { name, bytes, sha256 });
    }
    let rows_per_subject: BTreeMap<String, u64> = per_subject.iter().map(|(s, ids)| (s.clone(), ids.rows)).collect();
    let mut manifest = ReleaseManifest {
        manifest_format: MANIFEST_FORMAT,
        release_id: 0,
        study_id: req.study_id.to_string(),
        study_sha256: digest.to_string(),
        collects: signed.study.collects,
        format: req.format.as_str().to_string(),
        created_at: rfc3339(req.now),
        subject_ids: data.subjects().into_iter().map(String::from).collect(),
        rows: rows_per_subject.values().sum(),
        rows_per_subject,
        states: data.states() as u64,
        uploads: data.uploads as u64,
        hub_scrub: data.scrub,
        programs_judged: req.format.has_verdicts().then(|| data.distinct_codes().len() as u64),
        files,
    };
    let out_dir = std::fs::canonicalize(req.out)?.to_string_lossy().into_owned();
    let subjects: Vec<ReleasedSubject> = per_subject
        .iter()
        .map(|(s, ids)| {
            Ok(ReleasedSubject { subject_id: s.clone(), rows: ids.rows, row_ids_json: serde_json::to_string(&ids.ids)? })
        })
        .collect::<Result<_, serde_json::Error>>()?;
    // release.json names the id the record will take, and the record holds
    // release.json's bytes and SHA-256.
    let audit = |sha256s_json: String| AuditEntry {
        at: req.now,
        action: "release".into(),
        actor: req.actor.clone(),
        study_id: req.study_id.to_string(),
        format: Some(req.format.as_str().to_string()),
        subjects: manifest.subject_ids.len() as u64,
        rows: manifest.rows,
        sha256s_json,
    };
    let mut sha256s: BTreeMap<String, String> = manifest.files.iter().map(|f| (f.name.clone(), f.sha256.clone())).collect();
    let release_id = db.next_release_id()?;
    manifest.release_id = release_id;
    let manifest_json = serde_json::to_string_pretty(&manifest)? + "\n";
    let manifest_path = req.out.join(MANIFEST_FILE);
    std::fs::write(&manifest_path, &manifest_json)?;
    sha256s.insert(MANIFEST_FILE.into(), sha256_hex(manifest_json.as_bytes()));
    let record = NewRelease {
        id: release_id,
        study_id: req.study_id.to_string(),
        format: req.format.as_str().to_string(),
        created_at: req.now,
        out_dir,
        manifest_json,
        subjects,
    };
    // An unrecorded release would be a disclosure the audit log misses: failing
    // here removes the files (see `write_release`).
    db.record_release(&record, &audit(serde_json::to_string(&sha256s)?))?;
    Ok(manifest)
}
