//! Consented research collection, the hub's side (wire types and the trust
//! model in `pencil_core::research`): `pencil-hub study publish` offers a
//! researcher's signed study to a class, and the students' API under
//! `/api/v1/research` lists offered studies, records consent, takes uploads
//! and deletes them on revocation.
//!
//! Pseudonyms: each study gets a random 256-bit secret when first published;
//! a device's SubjectID in a study is HMAC-SHA256(secret, domain + the
//! device's token hash). The secret never leaves the hub, so the student's
//! machine never needs it, and two studies' IDs for the same device are
//! unrelated strings: joining them needs both secrets.

use std::io::Read as _;
use std::path::Path;

use anyhow::{bail, Context, Result};
use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use ed25519_dalek::SigningKey;
use hmac::{Hmac, Mac as _};
use pencil_core::research::{
    key_fingerprint, parse_study, sign_offer, validate_study_id, ConsentAnswer, ConsentRequest,
    OfferedStudy, Programs, RevokeAnswer, RevokeRequest, SignedStudy, Study, StudyOffer,
    UploadAck, UploadBody, MAX_STUDY_DOC, MAX_STUDY_FIELD,
};
use sha2::Sha256;

use crate::api::{device, device_and_body, error, internal};
use crate::security::random_bytes;
use crate::server::{now, SharedState};
use crate::store::{ConsentRecord, Db, StudyRow, StudyStored};

/// Domain of the pseudonym's input, so the same secret could never yield
/// the same value for another purpose.
const SUBJECT_DOMAIN: &[u8] = b"pencil-subject-v1\n";

/// A device's SubjectID in the study whose secret this is: lowercase hex of
/// HMAC-SHA256(secret, "pencil-subject-v1\n" + token hash).
pub fn subject_id(secret: &[u8; 32], device_token_hash: &str) -> String {
    let mut input = SUBJECT_DOMAIN.to_vec();
    input.extend_from_slice(device_token_hash.as_bytes());
    hmac_sha256_hex(secret, &input)
}

fn hmac_sha256_hex(key: &[u8], data: &[u8]) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(key).expect("HMAC accepts keys of any length");
    mac.update(data);
    mac.finalize()
        .into_bytes()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// `pencil-hub study publish FILE --class ID`: verifies the researcher's
/// signature, keeps the study (and draws its secret the first time), and
/// offers it to the class under the class teacher's signature. Returns what
/// to tell the operator.
pub fn publish(db: &mut dyn Db, file: &Path, class_id: i64) -> Result<String> {
    let mut text = Vec::new();
    std::fs::File::open(file)
        .with_context(|| format!("opening {}", file.display()))?
        .take(MAX_STUDY_DOC as u64 + 1)
        .read_to_end(&mut text)
        .with_context(|| format!("reading {}", file.display()))?;
    let (signed, study) =
        parse_study(&text).with_context(|| format!("{} was refused", file.display()))?;
    let class = db
        .class(class_id)?
        .with_context(|| format!("there is no class {class_id}"))?;
    let digest = study.digest();
    let signed_json = serde_json::to_string(&signed)?;
    match db.put_study(&study.id, &signed_json, &digest, &random_bytes::<32>()?, now())? {
        StudyStored::New | StudyStored::Same => {}
        StudyStored::Conflict(_) => bail!(
            "a different document was published as study '{}' before; a study never changes after publication, so publish the changed one under a new id",
            study.id
        ),
    }
    let offer = StudyOffer {
        class_id,
        study_id: study.id.clone(),
        researcher_key: study.researcher_key.clone(),
        study_sha256: digest,
    };
    let teacher = SigningKey::from_bytes(&db.teacher_signing_seed(class.teacher_id)?);
    db.offer_study(&study.id, class_id, &sign_offer(&offer, &teacher), now())?;
    Ok(format!(
        "study '{}' ({}) is offered to class '{}' (id {class_id}); researcher key fingerprint {}",
        study.id,
        study.title,
        class.name,
        key_fingerprint(&study.researcher_key)
    ))
}

/// The study document of a stored row (it was verified when published).
fn study_of(row: &StudyRow) -> Result<Study> {
    let signed: SignedStudy = serde_json::from_str(&row.signed_json)?;
    Ok(signed.study)
}

/// Refuses an upload that holds anything the study does not collect: the
/// student's machine already cut it to the scope, so this only catches a
/// broken or hostile client.
pub fn check_scope(body: &UploadBody, study: &Study) -> Result<(), String> {
    if body.collects != study.collects {
        return Err("the upload's scope is not the study's".into());
    }
    for t in &body.traces {
        if study.collects.programs == Programs::Final && t.programs.len() > 1 {
            return Err(format!(
                "this study collects final programs only; '{}' has {}",
                t.title,
                t.programs.len()
            ));
        }
        if !study.collects.hints && !t.hints.is_empty() {
            return Err("this study does not collect hints".into());
        }
        let times = t
            .programs
            .iter()
            .map(|p| &p.time)
            .chain(t.hints.iter().map(|h| &h.shown));
        for time in times {
            if study.collects.timestamps.round(time).as_ref() != Some(time) {
                return Err(format!(
                    "time '{time}' is not rounded as the study says ({:?})",
                    study.collects.timestamps
                ));
            }
        }
    }
    Ok(())
}

/// `GET /api/v1/research/studies`: the studies offered to the device's class.
pub(crate) async fn studies(State(state): State<SharedState>, headers: HeaderMap) -> Response {
    let device = match device(&state, &headers).await {
        Ok(d) => d,
        Err(response) => return response,
    };
    let class_id = device.class_id;
    let rows = match state
        .store
        .call(move |db| db.offered_studies(class_id))
        .await
    {
        Ok(rows) => rows,
        Err(e) => return internal(e),
    };
    let mut out = Vec::with_capacity(rows.len());
    for (signed_json, offer_signature) in rows {
        let signed: SignedStudy = match serde_json::from_str(&signed_json) {
            Ok(s) => s,
            Err(e) => return internal(e.into()),
        };
        let offer = StudyOffer {
            class_id,
            study_id: signed.study.id.clone(),
            researcher_key: signed.study.researcher_key.clone(),
            study_sha256: signed.study.digest(),
        };
        out.push(OfferedStudy {
            signed,
            offer,
            offer_signature,
        });
    }
    Json(out).into_response()
}

/// The study of an id the device names, if its class is offered it.
async fn offered(state: &SharedState, class_id: i64, study_id: &str) -> Result<(StudyRow, Study), Response> {
    if let Err(e) = validate_study_id(study_id) {
        return Err(error(StatusCode::BAD_REQUEST, e.to_string()));
    }
    let id = study_id.to_string();
    let row = state
        .store
        .call(move |db| db.study_for_class(class_id, &id))
        .await
        .map_err(internal)?
        .ok_or_else(|| error(StatusCode::NOT_FOUND, format!("study '{study_id}' is not offered to your class")))?;
    let study = study_of(&row).map_err(internal)?;
    Ok((row, study))
}

/// `POST /api/v1/research/consent`: records consent, answers the SubjectID.
pub(crate) async fn consent(
    State(state): State<SharedState>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Response {
    let (device, request): (_, ConsentRequest) = match device_and_body(&state, &headers, body).await {
        Ok(r) => r,
        Err(response) => return response,
    };
    if request.consented_at.len() > 40 || request.consent_version.chars().count() > MAX_STUDY_FIELD {
        return error(StatusCode::BAD_REQUEST, "consent fields are too long");
    }
    let (row, study) = match offered(&state, device.class_id, &request.study_id).await {
        Ok(s) => s,
        Err(response) => return response,
    };
    if request.consent_version != study.consent.version {
        return error(
            StatusCode::CONFLICT,
            format!(
                "consent version '{}' is not this study's ('{}'); read the study again",
                request.consent_version, study.consent.version
            ),
        );
    }
    let subject = subject_id(&row.secret, &device.token_hash);
    let record = ConsentRecord {
        study_id: request.study_id,
        device_id: device.id,
        subject_id: subject.clone(),
        consent_version: request.consent_version,
        by: request.by.as_str().to_string(),
        consented_at: request.consented_at,
    };
    let recorded = state.store.call(move |db| db.put_consent(&record, now())).await;
    match recorded {
        Ok(()) => Json(ConsentAnswer { subject_id: subject }).into_response(),
        Err(e) => internal(e),
    }
}

/// `POST /api/v1/research/upload`: stores exactly the received bytes under
/// the device's SubjectID, once per upload id.
pub(crate) async fn upload(
    State(state): State<SharedState>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Response {
    let device = match device(&state, &headers).await {
        Ok(d) => d,
        Err(response) => return response,
    };
    let bytes = match body {
        Ok(b) => b,
        Err(rejection) if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE => {
            return error(StatusCode::PAYLOAD_TOO_LARGE, "the upload is too large; send it in smaller parts")
        }
        Err(rejection) => return error(rejection.status(), format!("could not read the upload: {rejection}")),
    };
    let upload: UploadBody = match serde_json::from_slice(&bytes) {
        Ok(u) => u,
        Err(e) => return error(StatusCode::BAD_REQUEST, format!("malformed upload: {e}")),
    };
    if let Err(message) = upload.validate() {
        return error(StatusCode::BAD_REQUEST, message);
    }
    let (row, study) = match offered(&state, device.class_id, &upload.study_id).await {
        Ok(s) => s,
        Err(response) => return response,
    };
    let (study_id, device_id) = (upload.study_id.clone(), device.id);
    let consent = match state.store.call(move |db| db.consent(&study_id, device_id)).await {
        Ok(c) => c,
        Err(e) => return internal(e),
    };
    match consent {
        None => return error(StatusCode::FORBIDDEN, "no consent to this study is recorded for this device; nothing was stored"),
        Some(c) if c.revoked => {
            return error(StatusCode::FORBIDDEN, "consent to this study was withdrawn; nothing was stored")
        }
        Some(c) if c.consent_version != upload.consent_version => {
            return error(StatusCode::CONFLICT, "the upload names another consent version than the one recorded")
        }
        Some(_) => {}
    }
    if let Err(message) = check_scope(&upload, &study) {
        return error(StatusCode::BAD_REQUEST, message);
    }
    // The subject is derived from the authenticated device, never read from the body,
    // so no device can file data under another's pseudonym.
    let subject = subject_id(&row.secret, &device.token_hash);
    let upload_id = upload.upload_id.clone();
    let stored = state
        .store
        .call(move |db| db.insert_upload(&upload.study_id, &subject, &upload.upload_id, &bytes, now()))
        .await;
    match stored {
        Ok(new) => Json(UploadAck { upload_id, new }).into_response(),
        Err(e) => internal(e),
    }
}

/// `POST /api/v1/research/revoke`: withdraws consent and deletes the device's uploads to the study.
pub(crate) async fn revoke(
    State(state): State<SharedState>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Response {
    let (device, request): (_, RevokeRequest) = match device_and_body(&state, &headers, body).await {
        Ok(r) => r,
        Err(response) => return response,
    };
    let (row, _) = match offered(&state, device.class_id, &request.study_id).await {
        Ok(s) => s,
        Err(response) => return response,
    };
    let subject = subject_id(&row.secret, &device.token_hash);
    let deleted = state
        .store
        .call(move |db| db.revoke_consent(&request.study_id, device.id, &subject, now()))
        .await;
    match deleted {
        Ok(deleted_uploads) => Json(RevokeAnswer { deleted_uploads }).into_response(),
        Err(e) => internal(e),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use pencil_core::research::{Collects, ConsentText, Timestamps, UploadProgram, UploadTrace, STUDY_FORMAT, UPLOAD_FORMAT};

    #[test]
    fn hmac_matches_rfc_4231() {
        // RFC 4231, test case 2.
        assert_eq!(
            hmac_sha256_hex(b"Jefe", b"what do ya want for nothing?"),
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
    }

    #[test]
    fn subject_ids_are_stable_per_study_and_differ_across_studies() {
        let (a, b) = ([1u8; 32], [2u8; 32]);
        assert_eq!(subject_id(&a, "device"), subject_id(&a, "device"));
        assert_ne!(subject_id(&a, "device"), subject_id(&b, "device"));
        assert_ne!(subject_id(&a, "device"), subject_id(&a, "other device"));
        assert_eq!(subject_id(&a, "device").len(), 64);
    }

    fn study(collects: Collects) -> Study {
        Study {
            version: STUDY_FORMAT,
            id: "s".into(),
            title: "t".into(),
            institution: "i".into(),
            ethics_approval: "e".into(),
            contact: "c".into(),
            researcher_key: "k".into(),
            collects,
            retention_days: 30,
            consent: ConsentText { version: "1".into(), text: "x".into(), guardian_below_age: 0 },
        }
    }

    #[test]
    fn uploads_outside_the_scope_are_refused() {
        let collects = Collects { programs: Programs::Final, timestamps: Timestamps::Hour, hints: false };
        let program = |time: &str| UploadProgram { n: 1, time: time.into(), code: "fd 1".into() };
        let mut body = UploadBody {
            format: UPLOAD_FORMAT,
            study_id: "s".into(),
            upload_id: "u-1".into(),
            consent_version: "1".into(),
            collects,
            traces: vec![UploadTrace { title: "car".into(), programs: vec![program("2026-01-01 10:00:00")], hints: vec![] }],
        };
        assert_eq!(check_scope(&body, &study(collects)), Ok(()));
        body.traces[0].programs[0].time = "2026-01-01 10:00:01".into();
        assert!(check_scope(&body, &study(collects)).is_err(), "exact time in an hourly study");
        body.traces[0].programs = vec![program("2026-01-01 10:00:00"), program("2026-01-01 11:00:00")];
        assert!(check_scope(&body, &study(collects)).is_err(), "two states in a final-only study");
        let wider = Collects { programs: Programs::Full, ..collects };
        body.collects = wider;
        assert!(check_scope(&body, &study(collects)).is_err(), "a scope the study does not have");
    }
}
