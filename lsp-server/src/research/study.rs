//! Studies on the student's machine: read from a file or fetched from the
//! class's hub, verified, stored, and described in words.
//!
//! Why a researcher key is trusted (see `pencil_core::research`): a study
//! offered by the class must carry the offer signed by the teacher key pinned
//! at join; a study from a file pins its key on first sight. Either way a
//! study id is bound to the first document stored under it: a different
//! document with that id (a wider scope, another key) is refused.

use super::ResearchError;
use crate::classroom::hub::HubError;
use crate::clock::now_timestamp;
use crate::store::{Database, Membership, StoredStudy, StudyPut, StudySource};
use pencil_core::research::{key_fingerprint, parse_study, verify_offer, verify_study, Programs, SignedStudy, Study, Timestamps};
use std::path::Path;

/// Reads, verifies and stores a study document from a file.
pub fn import_file(db: &mut Database, path: &Path) -> Result<(Study, StudyPut), ResearchError> {
    use std::io::Read as _;
    let mut text = Vec::new();
    let read = std::fs::File::open(path).and_then(|f| {
        f.take(pencil_core::research::MAX_STUDY_DOC as u64 + 1).read_to_end(&mut text)
    });
    read.map_err(|e| ResearchError::File(format!("{}: {e}", path.display())))?;
    let (signed, study) = parse_study(&text)?;
    let put = store(db, &signed, &study, StudySource::File)?;
    Ok((study, put))
}

fn store(db: &mut Database, signed: &SignedStudy, study: &Study, source: StudySource) -> Result<StudyPut, ResearchError> {
    let row = StoredStudy {
        id: study.id.clone(),
        signed_json: serde_json::to_string(signed).map_err(|e| ResearchError::File(e.to_string()))?,
        digest: study.digest(),
        researcher_key: study.researcher_key.clone(),
        source,
        first_seen: now_timestamp(),
    };
    match db.put_study(&row)? {
        StudyPut::Conflict => Err(ResearchError::StudyChanged(study.id.clone())),
        put => Ok(put),
    }
}

/// One study the class's hub offered, and what became of it here.
#[derive(Debug)]
pub struct Offered {
    /// The study id (as the hub named it).
    pub id: String,
    /// The verified study, or why it was refused.
    pub result: Result<Study, ResearchError>,
}

/// Fetches the studies offered to the joined class, verifies each against the
/// pinned teacher key, and stores those that verify.
pub fn fetch_class_studies(db: &mut Database, m: &Membership) -> Result<Vec<Offered>, HubError> {
    let offered = super::hub::studies(&m.hub_url, &m.device_token)?;
    Ok(offered
        .into_iter()
        .map(|o| {
            let id = o.signed.study.id.clone();
            let result = verify_offer(&o, &m.teacher_key, m.class_id)
                .map_err(ResearchError::from)
                .and_then(|study| store(db, &o.signed, &study, StudySource::Class).map(|_| study));
            Offered { id, result }
        })
        .collect())
}

/// A stored study, verified again (a row edited on disk is not trusted).
pub fn load(db: &Database, id: &str) -> Result<(StoredStudy, Study), ResearchError> {
    let stored = db.study(id)?.ok_or_else(|| ResearchError::UnknownStudy(id.to_string()))?;
    let signed: SignedStudy =
        serde_json::from_str(&stored.signed_json).map_err(|e| ResearchError::Tampered(format!("study {id}: {e}")))?;
    let study = verify_study(&signed)?;
    if study.digest() != stored.digest || study.researcher_key != stored.researcher_key || study.id != stored.id {
        return Err(ResearchError::Tampered(format!("study {id} no longer matches what was pinned")));
    }
    Ok((stored, study))
}

/// What a study collects, in words.
pub fn scope_words(study: &Study) -> String {
    let c = &study.collects;
    let programs = match c.programs {
        Programs::Final => "the final version of each program",
        Programs::Full => "every version of each program you run (full traces)",
    };
    let times = match c.timestamps {
        Timestamps::Exact => "exact times",
        Timestamps::Minute => "times rounded to the minute",
        Timestamps::Hour => "times rounded to the hour",
        Timestamps::Day => "dates only",
    };
    let hints = if c.hints { "which hints you were shown and whether you took them" } else { "no hints" };
    format!("{programs}, {times}, {hints}; names, e-mail addresses, phone numbers and addresses are removed first")
}

/// The study as a student or parent reads it before consenting.
pub fn describe(stored: &StoredStudy, study: &Study) -> Vec<String> {
    let trust = match stored.source {
        StudySource::Class => "offered by your class: your teacher's key (pinned when you joined) vouches for this researcher key",
        StudySource::File => "read from a file: this researcher key was pinned the first time this study was seen; compare its fingerprint with the one on the study's consent form",
    };
    let age = match study.consent.guardian_below_age {
        0 => "anyone may consent for themselves".to_string(),
        n => format!("students under {n} need a parent's or the school's consent"),
    };
    let mut lines = vec![
        format!("Study \"{}\": {}", study.id, study.title),
        format!("Institution: {}", study.institution),
        format!("Ethics approval: {}", study.ethics_approval),
        format!("Contact: {}", study.contact),
        format!("Collects: {}", scope_words(study)),
        "Collection starts when you consent; nothing recorded before leaves this machine.".into(),
        format!("Kept for: {} days", study.retention_days),
        format!("Researcher key: {} (fingerprint {})", study.researcher_key, key_fingerprint(&study.researcher_key)),
        format!("Trusted because: {trust}"),
        format!("Consent text, version {} ({age}):", study.consent.version),
    ];
    lines.extend(study.consent.text.lines().map(|l| format!("  {l}")));
    lines
}
