//! Consented research collection: wire types shared by `pencil-hub` (which
//! offers studies to a class, keeps each study's pseudonym secret and stores
//! uploads) and `pencil-lsp` (which shows a study, records consent, previews
//! and uploads). Plain data plus pure signing and verification, like
//! [`crate::classroom`].
//!
//! # Trust
//!
//! A researcher signs a [`Study`] with an ed25519 key the document carries
//! ([`SignedStudy`]); [`verify_study`] refuses a document whose signature does
//! not match that key. A key inside the document only proves the document was
//! not changed, not who wrote it, so a student's machine also needs a reason to
//! trust the key:
//!
//! - offered through a class: the teacher (whose key the student pinned when
//!   joining) signs a [`StudyOffer`] naming the class, the study id, the
//!   researcher key and the study's SHA-256; [`verify_offer`] checks it against
//!   the pinned teacher key, so neither the network nor another class can slip
//!   a study in;
//! - from a file: the key is pinned on first sight for that study id (the
//!   student or parent compares [`key_fingerprint`] with the one in the
//!   study's paper consent form); a later document with that id must be the
//!   very same document.
//!
//! A study never changes after publication: a new consent text or scope is a
//! new study id, so a consent receipt always names exactly what was agreed to.
//!
//! # The HTTP API (prefix `/api/v1/research`, `Authorization: Bearer <device token>`)
//!
//! - `GET /studies` → `[OfferedStudy]` of the device's class.
//! - `POST /consent` with [`ConsentRequest`] → [`ConsentAnswer`] (the device's
//!   SubjectID in that study, computed by the hub from a per-study secret it
//!   never gives out, so two studies' IDs cannot be joined).
//! - `POST /upload` with an [`UploadBody`] (at most [`MAX_UPLOAD_BODY`] bytes)
//!   → [`UploadAck`]. The hub stores exactly the bytes it received, once per
//!   (study, subject, upload id).
//! - `POST /revoke` with [`RevokeRequest`] → [`RevokeAnswer`]: the consent is
//!   withdrawn and every upload of this subject in that study deleted.
//! - 4xx/5xx answers carry a [`crate::classroom::ApiError`].

use base64::Engine as _;
use ed25519_dalek::{Signature, Signer as _, SigningKey, Verifier as _, VerifyingKey};
use serde::{Deserialize, Serialize};
use sha2::{Digest as _, Sha256};

/// The study format this code reads and writes ([`Study::version`]).
pub const STUDY_FORMAT: u32 = 1;
/// The upload format ([`UploadBody::format`]).
pub const UPLOAD_FORMAT: u32 = 1;

/// Prefixes of the signed bytes, so a study or offer signature can never be
/// taken for a signature over another kind of document (a policy, say).
const STUDY_DOMAIN: &[u8] = b"pencil-study-v1\n";
const OFFER_DOMAIN: &[u8] = b"pencil-study-offer-v1\n";

/// Largest signed study document accepted (file, hub answer or publish).
pub const MAX_STUDY_DOC: usize = 64 * 1024;
/// Largest `GET /studies` answer a student reads.
pub const MAX_STUDIES_BODY: usize = 1024 * 1024;
/// Largest `POST /upload` body.
pub const MAX_UPLOAD_BODY: usize = 4 * 1024 * 1024;
/// Longest study id: a short slug chosen by the researcher.
pub const MAX_STUDY_ID: usize = 64;
/// Longest upload id (`<receipt id>-<n>`).
pub const MAX_UPLOAD_ID: usize = 80;
/// Longest short field of a study (title, institution, approval id, contact, consent version).
pub const MAX_STUDY_FIELD: usize = 300;
/// Longest consent text.
pub const MAX_CONSENT_TEXT: usize = 16 * 1024;

/// Which programs a study collects.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Programs {
    /// The last state of each program (title) at each upload.
    Final,
    /// Every recorded state: the full trace.
    Full,
}

/// How precise the timestamps a study collects are.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Timestamps {
    /// To the second, as recorded.
    Exact,
    /// Rounded down to the minute.
    Minute,
    /// Rounded down to the hour.
    Hour,
    /// Rounded down to the day.
    Day,
}

impl Timestamps {
    /// `ts` (`YYYY-MM-DD HH:MM:SS`) rounded down to this precision; `None` if it does not parse.
    pub fn round(self, ts: &str) -> Option<String> {
        let unix = crate::trace::parse_timestamp(ts)?;
        let step = match self {
            Timestamps::Exact => 1,
            Timestamps::Minute => 60,
            Timestamps::Hour => 3600,
            Timestamps::Day => 86_400,
        };
        Some(crate::trace::format_timestamp(unix - unix.rem_euclid(step)))
    }
}

/// Exactly what a study collects. Nothing outside it ever leaves the machine.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Collects {
    pub programs: Programs,
    pub timestamps: Timestamps,
    /// Hint events (kind, rule, when shown, accepted or not); never their text.
    pub hints: bool,
}

/// The consent text, versioned so that a receipt names what was agreed to.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConsentText {
    pub version: String,
    pub text: String,
    /// Students younger than this need a parent's or the school's consent; 0: anyone may consent.
    pub guardian_below_age: u32,
}

/// A research study as the researcher publishes it.
///
/// Canonical bytes (what is signed): `"pencil-study-v1\n"` followed by the
/// compact `serde_json` serialisation of this struct, fields in declaration
/// order. Change the field list only together with [`STUDY_FORMAT`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Study {
    /// [`STUDY_FORMAT`].
    pub version: u32,
    /// A slug: 1 to [`MAX_STUDY_ID`] characters of a-z, 0-9, '-'.
    pub id: String,
    pub title: String,
    pub institution: String,
    /// The ethics board's approval id.
    pub ethics_approval: String,
    /// How to reach the researchers.
    pub contact: String,
    /// The researcher's ed25519 public key (standard base64 of 32 bytes); it signed this document.
    pub researcher_key: String,
    pub collects: Collects,
    /// How long the researchers keep the data.
    pub retention_days: u32,
    pub consent: ConsentText,
}

impl Study {
    /// The bytes the signature covers (see the type's documentation).
    pub fn canonical_bytes(&self) -> Vec<u8> {
        let mut out = STUDY_DOMAIN.to_vec();
        // Serialising plain fields cannot fail.
        out.extend(serde_json::to_vec(self).unwrap_or_default());
        out
    }

    /// Lowercase hex SHA-256 of [`Self::canonical_bytes`]: names exactly this document.
    pub fn digest(&self) -> String {
        hex(&Sha256::digest(self.canonical_bytes()))
    }

    /// Checks ids, lengths and the format version (not the signature).
    pub fn validate(&self) -> Result<(), StudyError> {
        if self.version != STUDY_FORMAT {
            return Err(StudyError::UnsupportedVersion(self.version));
        }
        validate_study_id(&self.id)?;
        for (field, value, max) in [
            ("title", &self.title, MAX_STUDY_FIELD),
            ("institution", &self.institution, MAX_STUDY_FIELD),
            ("ethics_approval", &self.ethics_approval, MAX_STUDY_FIELD),
            ("contact", &self.contact, MAX_STUDY_FIELD),
            ("consent.version", &self.consent.version, MAX_STUDY_FIELD),
            ("consent.text", &self.consent.text, MAX_CONSENT_TEXT),
        ] {
            if value.trim().is_empty() || value.chars().count() > max || (max == MAX_STUDY_FIELD && value.chars().any(char::is_control)) {
                return Err(StudyError::Invalid(format!("`{field}` must be 1 to {max} characters (no control characters in short fields)")));
            }
        }
        Ok(())
    }
}

/// Checks a study id: 1 to [`MAX_STUDY_ID`] characters of a-z, 0-9, '-'.
pub fn validate_study_id(id: &str) -> Result<(), StudyError> {
    let ok = !id.is_empty() && id.len() <= MAX_STUDY_ID && id.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-');
    if ok {
        Ok(())
    } else {
        Err(StudyError::Invalid(format!("a study id is 1 to {MAX_STUDY_ID} characters of a-z, 0-9 and '-'")))
    }
}

/// A study with the researcher's signature over its canonical bytes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SignedStudy {
    pub study: Study,
    /// Standard base64 of the 64-byte ed25519 signature.
    pub signature: String,
}

/// The teacher's statement that a study, by this researcher key, is offered to a class.
///
/// Signed bytes: `"pencil-study-offer-v1\n"` + compact `serde_json` of this struct.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StudyOffer {
    pub class_id: i64,
    pub study_id: String,
    pub researcher_key: String,
    /// [`Study::digest`] of the offered document.
    pub study_sha256: String,
}

impl StudyOffer {
    /// The bytes the teacher's signature covers.
    pub fn canonical_bytes(&self) -> Vec<u8> {
        let mut out = OFFER_DOMAIN.to_vec();
        out.extend(serde_json::to_vec(self).unwrap_or_default());
        out
    }
}

/// One study a class's hub offers (`GET /api/v1/research/studies`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OfferedStudy {
    pub signed: SignedStudy,
    pub offer: StudyOffer,
    /// The teacher's signature over [`StudyOffer::canonical_bytes`], standard base64.
    pub offer_signature: String,
}

/// Why a study was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum StudyError {
    #[error("study format {0} is not supported (this coach reads format {STUDY_FORMAT})")]
    UnsupportedVersion(u32),
    #[error("the study is malformed: {0}")]
    Invalid(String),
    #[error("the study's researcher key is not a valid ed25519 public key")]
    BadKey,
    #[error("the study's signature is malformed")]
    MalformedSignature,
    #[error("the study's signature does not match its researcher key: it was changed after signing, or signed by someone else")]
    BadSignature,
    #[error("the class's offer of this study is not signed by your teacher's key")]
    BadOffer,
    #[error("the class's offer names another {0} than the study document")]
    OfferMismatch(&'static str),
}

const B64: base64::engine::GeneralPurpose = base64::engine::general_purpose::STANDARD;

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Lowercase hex SHA-256 of `bytes` (an upload's fingerprint, shown by preview and checked by upload).
pub fn sha256_hex(bytes: &[u8]) -> String {
    hex(&Sha256::digest(bytes))
}

fn decode_key(text: &str) -> Result<VerifyingKey, StudyError> {
    let bytes = B64.decode(text).map_err(|_| StudyError::BadKey)?;
    let bytes: [u8; 32] = bytes.try_into().map_err(|_| StudyError::BadKey)?;
    VerifyingKey::from_bytes(&bytes).map_err(|_| StudyError::BadKey)
}

fn decode_signature(text: &str) -> Option<Signature> {
    let bytes: [u8; 64] = B64.decode(text).ok()?.try_into().ok()?;
    Some(Signature::from_bytes(&bytes))
}

/// A short fingerprint of a researcher key for people to compare: the first
/// 16 bytes of its SHA-256, hex, in groups of four.
pub fn key_fingerprint(key: &str) -> String {
    let h = hex(&Sha256::digest(key.as_bytes())[..16]);
    h.as_bytes().chunks(4).map(|c| String::from_utf8_lossy(c).into_owned()).collect::<Vec<_>>().join(" ")
}

/// Signs `study` with the researcher's key (which must be the one `study.researcher_key` names).
pub fn sign_study(study: Study, key: &SigningKey) -> SignedStudy {
    let signature = B64.encode(key.sign(&study.canonical_bytes()).to_bytes());
    SignedStudy { study, signature }
}

/// The study, if it is well formed and signed by the key it carries.
pub fn verify_study(signed: &SignedStudy) -> Result<Study, StudyError> {
    let study = &signed.study;
    study.validate()?;
    let key = decode_key(&study.researcher_key)?;
    let sig = decode_signature(&signed.signature).ok_or(StudyError::MalformedSignature)?;
    key.verify(&study.canonical_bytes(), &sig).map_err(|_| StudyError::BadSignature)?;
    Ok(study.clone())
}

/// Parses and verifies a signed study document (JSON of [`SignedStudy`]).
pub fn parse_study(text: &[u8]) -> Result<(SignedStudy, Study), StudyError> {
    if text.len() > MAX_STUDY_DOC {
        return Err(StudyError::Invalid(format!("the document is larger than {MAX_STUDY_DOC} bytes")));
    }
    let signed: SignedStudy = serde_json::from_slice(text).map_err(|e| StudyError::Invalid(e.to_string()))?;
    let study = verify_study(&signed)?;
    Ok((signed, study))
}

/// The teacher's signature over an offer.
pub fn sign_offer(offer: &StudyOffer, teacher: &SigningKey) -> String {
    B64.encode(teacher.sign(&offer.canonical_bytes()).to_bytes())
}

/// The study of a class offer, if the study verifies, the offer names exactly
/// this document and this class, and the teacher pinned at join signed the offer.
pub fn verify_offer(offered: &OfferedStudy, teacher_key: &str, class_id: i64) -> Result<Study, StudyError> {
    let study = verify_study(&offered.signed)?;
    let offer = &offered.offer;
    if offer.class_id != class_id {
        return Err(StudyError::OfferMismatch("class"));
    }
    if offer.study_id != study.id {
        return Err(StudyError::OfferMismatch("study id"));
    }
    if offer.researcher_key != study.researcher_key {
        return Err(StudyError::OfferMismatch("researcher key"));
    }
    if offer.study_sha256 != study.digest() {
        return Err(StudyError::OfferMismatch("document"));
    }
    let teacher = decode_key(teacher_key).map_err(|_| StudyError::BadOffer)?;
    let sig = decode_signature(&offered.offer_signature).ok_or(StudyError::BadOffer)?;
    teacher.verify(&offer.canonical_bytes(), &sig).map_err(|_| StudyError::BadOffer)?;
    Ok(study)
}

/// Who gave consent.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ConsentBy {
    Student,
    Parent,
    School,
}

impl ConsentBy {
    /// The lowercase name, as stored and sent.
    pub fn as_str(self) -> &'static str {
        match self {
            ConsentBy::Student => "student",
            ConsentBy::Parent => "parent",
            ConsentBy::School => "school",
        }
    }

    /// Parses [`Self::as_str`].
    pub fn parse(s: &str) -> Option<ConsentBy> {
        match s {
            "student" => Some(ConsentBy::Student),
            "parent" => Some(ConsentBy::Parent),
            "school" => Some(ConsentBy::School),
            _ => None,
        }
    }
}

/// `POST /api/v1/research/consent`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConsentRequest {
    pub study_id: String,
    /// [`ConsentText::version`] agreed to.
    pub consent_version: String,
    pub by: ConsentBy,
    /// When consent was given on the student's clock (`YYYY-MM-DD HH:MM:SS` UTC).
    pub consented_at: String,
}

/// Answer to a consent: this device's pseudonym in this study.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConsentAnswer {
    /// Lowercase hex HMAC-SHA256 under the study's secret; differs per study.
    pub subject_id: String,
}

/// `POST /api/v1/research/revoke`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RevokeRequest {
    pub study_id: String,
}

/// Answer to a revocation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RevokeAnswer {
    /// Uploads of this subject deleted from the hub.
    pub deleted_uploads: usize,
}

/// One program state in an upload.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UploadProgram {
    /// 1-based, counted from the first state after consent.
    pub n: u32,
    /// Rounded as the study says.
    pub time: String,
    /// Scrubbed program text.
    pub code: String,
}

/// One hint event in an upload (no hint text, no program text).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UploadHint {
    /// The state (`UploadProgram::n`) it was shown on.
    pub n: u32,
    pub kind: String,
    pub rule: String,
    pub shown: String,
    pub accepted: bool,
}

/// One program (title) in an upload.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UploadTrace {
    pub title: String,
    pub programs: Vec<UploadProgram>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub hints: Vec<UploadHint>,
}

/// `POST /api/v1/research/upload`: what leaves the student's machine, in
/// exactly the bytes `pencil-lsp research preview` showed (compact JSON).
/// It names no student: the hub files it under the device's SubjectID.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UploadBody {
    /// [`UPLOAD_FORMAT`].
    pub format: u32,
    pub study_id: String,
    /// Unique per (study, device): a resend after a lost answer is stored once.
    pub upload_id: String,
    pub consent_version: String,
    pub collects: Collects,
    pub traces: Vec<UploadTrace>,
}

impl UploadBody {
    /// Checks the format and ids (sizes are the transport's: [`MAX_UPLOAD_BODY`]).
    pub fn validate(&self) -> Result<(), String> {
        if self.format != UPLOAD_FORMAT {
            return Err(format!("upload format {} is not supported (this hub reads {UPLOAD_FORMAT})", self.format));
        }
        validate_study_id(&self.study_id).map_err(|e| e.to_string())?;
        let id_ok = !self.upload_id.is_empty()
            && self.upload_id.len() <= MAX_UPLOAD_ID
            && self.upload_id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
        if !id_ok {
            return Err(format!("upload id must be 1 to {MAX_UPLOAD_ID} characters of A-Z, a-z, 0-9, '-' or '_'"));
        }
        Ok(())
    }
}

/// Answer to an upload.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UploadAck {
    pub upload_id: String,
    /// False when this upload id was stored before (a resend).
    pub new: bool,
}

#[cfg(test)]
mod tests {
    use super::*;

    pub(crate) fn study(key: &SigningKey, id: &str) -> Study {
        Study {
            version: STUDY_FORMAT,
            id: id.into(),
            title: "How novices debug loops".into(),
            institution: "Example University".into(),
            ethics_approval: "IRB-2026-117".into(),
            contact: "research@example.edu".into(),
            researcher_key: base64::engine::general_purpose::STANDARD.encode(key.verifying_key().as_bytes()),
            collects: Collects { programs: Programs::Full, timestamps: Timestamps::Hour, hints: true },
            retention_days: 365,
            consent: ConsentText { version: "2".into(), text: "You may stop at any time.".into(), guardian_below_age: 16 },
        }
    }

    #[test]
    fn a_study_verifies_only_unchanged_and_with_its_own_key() {
        let key = SigningKey::from_bytes(&[3; 32]);
        let signed = sign_study(study(&key, "loops-2026"), &key);
        assert_eq!(verify_study(&signed).map(|s| s.id), Ok("loops-2026".to_string()));
        let text = serde_json::to_vec(&signed).expect("json");
        assert!(parse_study(&text).is_ok());
        // Widening the scope after signing.
        let mut edited = signed.clone();
        edited.study.collects.timestamps = Timestamps::Exact;
        assert_eq!(verify_study(&edited), Err(StudyError::BadSignature));
        // Someone else's key swapped in, signature left.
        let mut swapped = signed.clone();
        swapped.study.researcher_key = study(&SigningKey::from_bytes(&[4; 32]), "x").researcher_key;
        assert_eq!(verify_study(&swapped), Err(StudyError::BadSignature));
        let mut garbled = signed.clone();
        garbled.signature = "AAAA".into();
        assert_eq!(verify_study(&garbled), Err(StudyError::MalformedSignature));
        let mut bad_id = signed;
        bad_id.study.id = "Loops 2026".into();
        assert!(matches!(verify_study(&bad_id), Err(StudyError::Invalid(_))));
        assert!(parse_study(b"{\"study\":1}").is_err());
    }

    #[test]
    fn an_offer_must_be_the_teachers_for_this_class_and_document() {
        let researcher = SigningKey::from_bytes(&[3; 32]);
        let teacher = SigningKey::from_bytes(&[5; 32]);
        let teacher_key = base64::engine::general_purpose::STANDARD.encode(teacher.verifying_key().as_bytes());
        let signed = sign_study(study(&researcher, "loops-2026"), &researcher);
        let offer = StudyOffer {
            class_id: 7,
            study_id: "loops-2026".into(),
            researcher_key: signed.study.researcher_key.clone(),
            study_sha256: signed.study.digest(),
        };
        let offered = OfferedStudy { offer_signature: sign_offer(&offer, &teacher), offer, signed };
        assert!(verify_offer(&offered, &teacher_key, 7).is_ok());
        assert_eq!(verify_offer(&offered, &teacher_key, 8), Err(StudyError::OfferMismatch("class")));
        let other_teacher = base64::engine::general_purpose::STANDARD.encode(SigningKey::from_bytes(&[6; 32]).verifying_key().as_bytes());
        assert_eq!(verify_offer(&offered, &other_teacher, 7), Err(StudyError::BadOffer));
        // Another study by the same researcher cannot ride on this offer.
        let mut other = offered.clone();
        other.signed = sign_study(study(&researcher, "loops-2027"), &researcher);
        assert_eq!(verify_offer(&other, &teacher_key, 7), Err(StudyError::OfferMismatch("study id")));
    }

    #[test]
    fn timestamps_round_down() {
        let t = "2026-12-06 10:37:59";
        assert_eq!(Timestamps::Exact.round(t).as_deref(), Some(t));
        assert_eq!(Timestamps::Minute.round(t).as_deref(), Some("2026-12-06 10:37:00"));
        assert_eq!(Timestamps::Hour.round(t).as_deref(), Some("2026-12-06 10:00:00"));
        assert_eq!(Timestamps::Day.round(t).as_deref(), Some("2026-12-06 00:00:00"));
        assert_eq!(Timestamps::Hour.round("yesterday"), None);
    }

    #[test]
    fn fingerprints_are_grouped_hex() {
        let f = key_fingerprint("abc");
        assert_eq!(f.len(), 32 + 7);
        assert_ne!(f, key_fingerprint("abd"));
    }
}
