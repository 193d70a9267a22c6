//! Consent on the student's machine: who may consent (the study's age rule),
//! the receipt (study, document digest, consent text version, scope, who,
//! when), telling the hub (which answers the SubjectID), and revocation
//! (collection stops at once; unsent uploads are dropped; a deletion request
//! is queued and sent).

use super::{study, ResearchError};
use crate::clock::now_timestamp;
use crate::store::{Database, Membership, Receipt};
use pencil_core::research::{ConsentBy, ConsentRequest, RevokeRequest};

/// Checks the study's age rule: a student under its age cannot consent alone.
pub fn check_who(by: ConsentBy, guardian_below_age: u32, student_age: Option<u32>) -> Result<(), ResearchError> {
    if by != ConsentBy::Student || guardian_below_age == 0 {
        return Ok(());
    }
    match student_age {
        Some(age) if age >= guardian_below_age => Ok(()),
        Some(_) => Err(ResearchError::NeedsGuardian(guardian_below_age)),
        None => Err(ResearchError::AgeNeeded(guardian_below_age)),
    }
}

/// A random 128-bit receipt id, hex.
fn new_receipt_id() -> Result<String, ResearchError> {
    crate::classroom::new_event_id().map_err(ResearchError::File)
}

/// Records consent to a stored, verified study. Collection covers only what is
/// recorded from this moment on.
pub fn give(db: &mut Database, study_id: &str, by: ConsentBy, student_age: Option<u32>) -> Result<Receipt, ResearchError> {
    let (stored, study) = study::load(db, study_id)?;
    check_who(by, study.consent.guardian_below_age, student_age)?;
    let scope = serde_json::to_string(&study.collects).map_err(|e| ResearchError::File(e.to_string()))?;
    let receipt = db.record_consent(
        &new_receipt_id()?,
        &study.id,
        &stored.digest,
        &study.consent.version,
        &scope,
        by.as_str(),
        &now_timestamp(),
    )?;
    receipt.ok_or_else(|| ResearchError::AlreadyConsented(study.id.clone()))
}

/// Tells the class's hub about a receipt and keeps the SubjectID it answers.
pub fn register(db: &mut Database, m: &Membership, receipt: &Receipt) -> Result<String, ResearchError> {
    let by = ConsentBy::parse(&receipt.consented_by).ok_or_else(|| ResearchError::Tampered("a receipt names no consenter".into()))?;
    let request = ConsentRequest {
        study_id: receipt.study_id.clone(),
        consent_version: receipt.consent_version.clone(),
        by,
        consented_at: receipt.consented_at.clone(),
    };
    let answer = super::hub::consent(&m.hub_url, &m.device_token, &request)?;
    db.set_subject(&receipt.id, &answer.subject_id)?;
    Ok(answer.subject_id)
}

/// Withdraws consent: nothing more is collected and unsent uploads are
/// dropped (one transaction), and the deletion request waits in the outbox
/// until [`flush_revocations`] gets it to the hub.
pub fn revoke(db: &mut Database, study_id: &str) -> Result<Receipt, ResearchError> {
    let body = serde_json::to_vec(&RevokeRequest { study_id: study_id.to_string() }).map_err(|e| ResearchError::File(e.to_string()))?;
    db.revoke_consent(study_id, &body, &now_timestamp())?.ok_or_else(|| ResearchError::NoConsent(study_id.to_string()))
}

/// What became of the queued deletion requests.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Flushed {
    /// (study, uploads the hub deleted) per request it acknowledged.
    pub sent: Vec<(String, usize)>,
    /// Requests still queued, with why.
    pub waiting: Vec<(String, String)>,
}

/// Sends every queued deletion request; each leaves the outbox only once the
/// hub answered it (a study the hub does not offer has nothing there to delete).
pub fn flush_revocations(db: &mut Database, m: Option<&Membership>) -> Result<Flushed, ResearchError> {
    let mut out = Flushed::default();
    for item in db.research_outbox(None)?.into_iter().filter(|i| i.kind == "revoke") {
        let Some(m) = m else {
            out.waiting.push((item.study_id, "not in a class, so there is no hub to send it to".into()));
            continue;
        };
        match super::hub::revoke(&m.hub_url, &m.device_token, &item.body) {
            Ok(answer) => {
                db.drop_research_request(&item.request_id)?;
                out.sent.push((item.study_id, answer.deleted_uploads));
            }
            Err(crate::classroom::hub::HubError::Refused { status: 404, .. }) => {
                db.drop_research_request(&item.request_id)?;
                out.sent.push((item.study_id, 0));
            }
            Err(e) => out.waiting.push((item.study_id, e.to_string())),
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn students_under_the_studys_age_need_a_parent_or_the_school() {
        assert!(check_who(ConsentBy::Student, 16, Some(16)).is_ok());
        assert!(matches!(check_who(ConsentBy::Student, 16, Some(12)), Err(ResearchError::NeedsGuardian(16))));
        assert!(matches!(check_who(ConsentBy::Student, 16, None), Err(ResearchError::AgeNeeded(16))));
        assert!(check_who(ConsentBy::Parent, 16, None).is_ok());
        assert!(check_who(ConsentBy::School, 16, Some(9)).is_ok());
        assert!(check_who(ConsentBy::Student, 0, None).is_ok());
    }
}
