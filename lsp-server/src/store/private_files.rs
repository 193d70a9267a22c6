//! Files the coach writes about a student are readable by that user alone:
//! the data directory `0700`, the store, its WAL and SHM, and exports `0600`.
//! Wider permissions found on existing files are tightened (and reported once,
//! since the next open finds them private).
//!
//! On platforms without Unix permissions these only create what is missing: the
//! per-user profile directories there are private already.

use super::StoreError;
use std::fs::File;
use std::path::{Path, PathBuf};

#[cfg(unix)]
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt, PermissionsExt};

const DIR_MODE: u32 = 0o700;
const FILE_MODE: u32 = 0o600;

fn io_error(what: &'static str, path: &Path) -> impl FnOnce(std::io::Error) -> StoreError {
    let path = path.display().to_string();
    move |source| StoreError::Io { what, path, source }
}

/// Creates `dir` (its parents as usual, itself private) or tightens it; true if it was tightened.
pub(super) fn private_dir(dir: &Path) -> Result<bool, StoreError> {
    if let Some(parent) = dir.parent().filter(|p| !p.as_os_str().is_empty()) {
        std::fs::create_dir_all(parent).map_err(io_error("creating data directory", parent))?;
    }
    let mut builder = std::fs::DirBuilder::new();
    #[cfg(unix)]
    builder.mode(DIR_MODE);
    match builder.create(dir) {
        Ok(()) => Ok(false),
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists && dir.is_dir() => tighten(dir, DIR_MODE),
        Err(e) => Err(io_error("creating data directory", dir)(e)),
    }
}

/// Makes the store at `db` and its `-wal`/`-shm` files private, creating an empty
/// store file (a valid new SQLite database) if there is none. Returns what was tightened.
pub(super) fn private_store_files(db: &Path) -> Result<Vec<PathBuf>, StoreError> {
    let mut tightened = Vec::new();
    if !db.exists() {
        let mut options = std::fs::OpenOptions::new();
        options.write(true).create_new(true);
        #[cfg(unix)]
        options.mode(FILE_MODE);
        match options.open(db) {
            Ok(_) => {}
            // Another process created it meanwhile: tighten it below like any other.
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {}
            Err(e) => return Err(io_error("creating the store", db)(e)),
        }
    }
    for path in [db.to_path_buf(), with_suffix(db, "-wal"), with_suffix(db, "-shm")] {
        if path.exists() && tighten(&path, FILE_MODE)? {
            tightened.push(path);
        }
    }
    Ok(tightened)
}

/// Creates (or truncates) `path` for writing, readable by this user alone.
pub fn create_private_file(path: &Path) -> Result<File, StoreError> {
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    options.mode(FILE_MODE);
    let file = options.open(path).map_err(io_error("creating", path))?;
    // `mode` applies only when the file is created; an existing one keeps its own.
    tighten(path, FILE_MODE)?;
    Ok(file)
}

/// `path` with `suffix` appended to its file name (`pencil.db` -> `pencil.db-wal`).
pub(super) fn with_suffix(path: &Path, suffix: &str) -> PathBuf {
    let mut s = path.as_os_str().to_os_string();
    s.push(suffix);
    PathBuf::from(s)
}

/// Sets `mode` on `path` if group or others had any access; true if it changed.
#[cfg(unix)]
fn tighten(path: &Path, mode: u32) -> Result<bool, StoreError> {
    let meta = std::fs::metadata(path).map_err(io_error("reading permissions of", path))?;
    if meta.permissions().mode() & 0o077 == 0 {
        return Ok(false);
    }
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode))
        .map_err(io_error("making private", path))?;
    Ok(true)
}

#[cfg(not(unix))]
fn tighten(_path: &Path, _mode: u32) -> Result<bool, StoreError> {
    Ok(false)
}

#[cfg(all(test, unix))]
mod tests {
    use super::*;
    use crate::store::{Database, Trigger, DB_FILE};

    fn mode(path: &Path) -> u32 {
        std::fs::metadata(path).expect("metadata").permissions().mode() & 0o777
    }

    #[test]
    fn a_new_store_is_private() {
        let root = tempfile::tempdir().expect("tempdir");
        let dir = root.path().join("pencil-coach");
        let (mut db, report) = Database::open_in(&dir).expect("open");
        let me = db.local_student().expect("student");
        db.record_state(&me, "car", "fd 1", "2024-01-01 00:00:00", Trigger::Run).expect("record");
        assert!(report.tightened.is_empty(), "{:?}", report.tightened);
        assert_eq!(mode(&dir), 0o700);
        let db_path = dir.join(DB_FILE);
        for path in [db_path.clone(), with_suffix(&db_path, "-wal"), with_suffix(&db_path, "-shm")] {
            assert!(path.exists(), "{} exists while the store is open", path.display());
            assert_eq!(mode(&path), 0o600, "{}", path.display());
        }
    }

    #[test]
    fn wider_existing_modes_are_tightened_and_reported_once() {
        let root = tempfile::tempdir().expect("tempdir");
        let dir = root.path().join("pencil-coach");
        {
            let (mut db, _) = Database::open_in(&dir).expect("open");
            let me = db.local_student().expect("student");
            db.record_state(&me, "car", "fd 1", "2024-01-01 00:00:00", Trigger::Run).expect("record");
            // Left open: the WAL and SHM exist when the modes are widened.
            let db_path = dir.join(DB_FILE);
            for path in [dir.clone(), db_path.clone(), with_suffix(&db_path, "-wal"), with_suffix(&db_path, "-shm")] {
                let wide = if path == dir { 0o755 } else { 0o644 };
                std::fs::set_permissions(&path, std::fs::Permissions::from_mode(wide)).expect("widen");
            }
            let (_again, report) = Database::open_in(&dir).expect("reopen");
            assert_eq!(report.tightened.len(), 4, "{:?}", report.tightened);
            assert!(report.tightened_notice().is_some_and(|n| n.contains("private")));
            assert_eq!(mode(&dir), 0o700);
            assert_eq!(mode(&db_path), 0o600);
        }
        let (_db, report) = Database::open_in(&dir).expect("third open");
        assert!(report.tightened.is_empty() && report.tightened_notice().is_none());
    }

    #[test]
    fn exports_are_private_even_over_a_wider_file() {
        let root = tempfile::tempdir().expect("tempdir");
        let path = root.path().join("export.jsonl");
        std::fs::write(&path, "old").expect("write");
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).expect("widen");
        drop(create_private_file(&path).expect("create"));
        assert_eq!(mode(&path), 0o600);
        assert_eq!(std::fs::read(&path).expect("read").len(), 0, "truncated");
    }
}
