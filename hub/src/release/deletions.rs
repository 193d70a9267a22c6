//! Deletion manifests: when a student withdraws consent the hub deletes their
//! uploads at once, but releases already downloaded still hold their rows. A
//! manifest names, for one revocation, every earlier release of the study
//! that held the subject and exactly which rows (`EventID`s and
//! `CodeStateID`s, JSON Lines line numbers, Parquet row numbers) the
//! researcher must delete.
//!
//! Manifests are derived from the database (each release's per-subject row
//! ids, each revocation), so none can be lost between a revocation and the
//! next time the researcher looks. `pencil-hub release --study ID --deletions
//! --out DIR` writes them as `DIR/deletions/<time>-<subject>.json`, and each
//! one written is a disclosure in the audit log.

use std::path::{Path, PathBuf};

use pencil_core::research::sha256_hex;
use serde::{Deserialize, Serialize};

use super::{rfc3339, ReleaseError};
use crate::store::{AuditEntry, Db};

/// The deletion manifest format this hub writes.
pub const DELETION_FORMAT: u32 = 1;

/// One earlier release that holds the subject.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReleaseRows {
    pub release_id: i64,
    pub format: String,
    /// RFC 3339, UTC.
    pub created_at: String,
    /// Where the release was written on the hub machine.
    pub out_dir: String,
    pub rows: u64,
    /// Row id kind -> ids: `EventID`/`CodeStateID` (ProgSnap2), `line` (JSON
    /// Lines, 1-based), `states.parquet`/`hints.parquet` (0-based row numbers).
    pub row_ids: serde_json::Value,
}

/// What one revocation asks of the researcher.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeletionManifest {
    /// [`DELETION_FORMAT`].
    pub manifest_format: u32,
    pub study_id: String,
    pub subject_id: String,
    /// When consent was withdrawn (RFC 3339, UTC).
    pub revoked_at: String,
    /// Uploads the hub deleted then.
    pub uploads_deleted: u64,
    /// Every earlier release holding the subject; empty when none did.
    pub releases: Vec<ReleaseRows>,
}

impl DeletionManifest {
    /// `<time>-<subject>.json`, the time as `YYYYMMDDTHHMMSSZ` so names sort by time.
    pub fn file_name(&self) -> String {
        let compact: String = self.revoked_at.chars().filter(|c| c.is_ascii_alphanumeric()).collect();
        format!("{compact}-{}.json", self.subject_id)
    }

    /// Rows to delete across all releases.
    pub fn rows(&self) -> u64 {
        self.releases.iter().map(|r| r.rows).sum()
    }
}

/// Every revocation of the study, oldest first, with the rows it names.
pub fn manifests(db: &mut dyn Db, study_id: &str) -> Result<Vec<DeletionManifest>, ReleaseError> {
    if db.study(study_id)?.is_none() {
        return Err(ReleaseError::UnknownStudy(study_id.to_string()));
    }
    let mut out = Vec::new();
    for d in db.deletions(study_id)? {
        let releases = db
            .released_rows(study_id, &d.subject_id, d.requested_at)?
            .into_iter()
            .map(|r| {
                Ok(ReleaseRows {
                    release_id: r.release_id,
                    format: r.format,
                    created_at: rfc3339(r.created_at),
                    out_dir: r.out_dir,
                    rows: r.rows,
                    row_ids: serde_json::from_str(&r.row_ids_json)?,
                })
            })
            .collect::<Result<_, serde_json::Error>>()?;
        out.push(DeletionManifest {
            manifest_format: DELETION_FORMAT,
            study_id: study_id.to_string(),
            subject_id: d.subject_id,
            revoked_at: rfc3339(d.requested_at),
            uploads_deleted: d.uploads_deleted,
            releases,
        });
    }
    Ok(out)
}

/// Writes every manifest of the study into `out/deletions/` and logs each
/// as a disclosure; returns the files written with their manifests.
pub fn write_manifests(
    db: &mut dyn Db,
    study_id: &str,
    out: &Path,
    actor: &str,
    now: i64,
) -> Result<Vec<(PathBuf, DeletionManifest)>, ReleaseError> {
    let all = manifests(db, study_id)?;
    let dir = out.join("deletions");
    std::fs::create_dir_all(&dir)?;
    let mut written = Vec::with_capacity(all.len());
    for m in all {
        let json = serde_json::to_string_pretty(&m)? + "\n";
        let path = dir.join(m.file_name());
        std::fs::write(&path, &json)?;
        let file = format!("deletions/{}", m.file_name());
        db.append_audit(&AuditEntry {
            at: now,
            action: "deletion-manifest".into(),
            actor: actor.to_string(),
            study_id: study_id.to_string(),
            format: None,
            subjects: 1,
            rows: m.rows(),
            sha256s_json: serde_json::to_string(&std::collections::BTreeMap::from([(file, sha256_hex(json.as_bytes()))]))?,
        })?;
        written.push((path, m));
    }
    Ok(written)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn file_names_sort_by_time_and_name_the_subject() {
        let m = DeletionManifest {
            manifest_format: DELETION_FORMAT,
            study_id: "s".into(),
            subject_id: "ab12".into(),
            revoked_at: "2026-03-04T05:06:07Z".into(),
            uploads_deleted: 2,
            releases: vec![],
        };
        assert_eq!(m.file_name(), "20260304T050607Z-ab12.json");
        assert_eq!(m.rows(), 0);
    }
}
