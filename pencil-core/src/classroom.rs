//! Classroom wire types shared by `pencil-hub` (the teacher's side) and
//! `pencil-lsp` (the student's side): joining a class, the teacher-signed
//! hint policy and the aggregate-only run events.
//!
//! Everything here is plain data plus pure functions (signing and
//! verification), so the student's coach can verify and enforce a policy
//! offline with exactly the code the hub used to sign it.
//!
//! # The HTTP API (version 1, all JSON, prefix `/api/v1`)
//!
//! - `POST /join` with [`JoinRequest`] → [`JoinResponse`]. No authentication:
//!   the join code is the secret. The student pins `teacher_key` and
//!   `class_id` in a [`PolicyPin`].
//! - `GET /policy` with `Authorization: Bearer <device_token>` → [`SignedPolicy`]
//!   of the device's class. Verify with [`verify`] against the pin.
//! - `POST /events` with `Authorization: Bearer <device_token>` and an
//!   [`EventBatch`] → [`EventAck`]. Idempotent per (device, event id): resend
//!   until acknowledged; an event is never counted twice.
//! - `POST /hands` with `Authorization: Bearer <device_token>` and a
//!   [`HandRequest`] → [`HandAck`]: the student pressed "Ask my teacher".
//!   Idempotent per (device, hand id), like events.
//! - `GET /hands` with `Authorization: Bearer <device_token>` → [`HandList`]:
//!   this device's hands, newest first, with the teacher's replies.
//! - Any 4xx/5xx answer carries an [`ApiError`] body.
//!
//! Events carry no program text: the student's code leaves the machine only
//! in a [`HandRequest`], when the student asks the teacher for help.

use base64::Engine as _;
use ed25519_dalek::{Signature, Signer as _, SigningKey, Verifier as _, VerifyingKey};
use serde::{Deserialize, Serialize};

/// The policy format this code reads and writes ([`Policy::version`]).
pub const POLICY_FORMAT: u32 = 1;

/// Prefix of the signed bytes, so a policy signature can never be confused
/// with a signature over any other document the teacher key might sign.
const POLICY_DOMAIN: &[u8] = b"pencil-policy-v1\n";

/// Largest accepted `POST /events` body.
pub const MAX_EVENTS_BODY: usize = 256 * 1024;
/// Most events in one batch.
pub const MAX_EVENTS_PER_BATCH: usize = 500;
/// Longest event id (ids are chosen by the student's machine, e.g. UUIDs).
pub const MAX_EVENT_ID: usize = 64;
/// Longest title, event time, or error class in an event.
pub const MAX_EVENT_TITLE: usize = 200;
pub const MAX_EVENT_TIME: usize = 40;
pub const MAX_ERROR_CLASS: usize = 64;
/// Display names are short labels a teacher reads on a tile.
pub const MAX_DISPLAY_NAME: usize = 40;

/// `POST /api/v1/join` request.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct JoinRequest {
    pub code: String,
    pub display_name: String,
}

/// `POST /api/v1/join` answer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct JoinResponse {
    /// Random 256-bit token, base64url; the hub keeps only its hash.
    pub device_token: String,
    pub class_id: i64,
    pub class_name: String,
    /// The teacher's ed25519 public key, standard base64 of 32 bytes.
    pub teacher_key: String,
}

/// Error body of every 4xx/5xx answer of the API.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ApiError {
    pub error: String,
}

/// Largest hint the coach may show.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum HintSize {
    Small,
    Medium,
    Large,
}

impl HintSize {
    pub fn as_str(self) -> &'static str {
        match self {
            HintSize::Small => "small",
            HintSize::Medium => "medium",
            HintSize::Large => "large",
        }
    }
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "small" => Some(HintSize::Small),
            "medium" => Some(HintSize::Medium),
            "large" => Some(HintSize::Large),
            _ => None,
        }
    }
}

/// One assignment, in the teacher's order. Times are RFC 3339 strings
/// (`2026-12-07T09:00:00Z`); the hub validates them before signing.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Assignment {
    pub title: String,
    pub opens: Option<String>,
    pub closes: Option<String>,
}

/// The hint policy of one class, as the teacher set it.
///
/// Canonical bytes (what is signed): `"pencil-policy-v1\n"` followed by the
/// compact `serde_json` serialisation of this struct, fields in declaration
/// order, no whitespace. Change the field list only together with
/// [`POLICY_FORMAT`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Policy {
    /// Format version, [`POLICY_FORMAT`].
    pub version: u32,
    /// Increases with every edit, so an old policy cannot be replayed.
    pub serial: u64,
    pub class_id: i64,
    pub hints_enabled: bool,
    /// Hints per assignment title; `None` = no limit.
    pub hints_per_title: Option<u32>,
    /// Hints per rolling hour; `None` = no limit.
    pub hints_per_hour: Option<u32>,
    pub max_hint_size: HintSize,
    /// The student writes what they think is wrong before a fix is shown.
    pub reflect_first: bool,
    /// No fixes and no hints; runs are still checked.
    pub quiz_mode: bool,
    pub assignments: Vec<Assignment>,
}

impl Policy {
    /// The policy of a class nobody has edited yet: hints on, no limits.
    pub fn default_for(class_id: i64) -> Policy {
        Policy {
            version: POLICY_FORMAT,
            serial: 1,
            class_id,
            hints_enabled: true,
            hints_per_title: None,
            hints_per_hour: None,
            max_hint_size: HintSize::Medium,
            reflect_first: false,
            quiz_mode: false,
            assignments: Vec::new(),
        }
    }

    /// The bytes the signature covers (see the type's documentation).
    pub fn canonical_bytes(&self) -> Vec<u8> {
        let mut out = POLICY_DOMAIN.to_vec();
        // Serialising plain fields cannot fail.
        out.extend(serde_json::to_vec(self).unwrap_or_default());
        out
    }
}

/// A policy with the teacher's ed25519 signature over its canonical bytes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SignedPolicy {
    pub policy: Policy,
    /// Standard base64 of the 64-byte signature.
    pub signature: String,
}

/// What the student's coach pins when it joins, and checks every policy
/// against.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PolicyPin {
    /// [`JoinResponse::teacher_key`].
    pub teacher_key: String,
    pub class_id: i64,
    /// Serial of the newest policy accepted so far (0 before the first).
    pub serial: u64,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PolicyError {
    #[error("the pinned teacher key is not a valid ed25519 public key")]
    BadKey,
    #[error("the policy's signature is malformed")]
    MalformedSignature,
    #[error("the policy's signature does not match the teacher's key")]
    BadSignature,
    #[error("policy format {0} is not supported (this coach reads format {POLICY_FORMAT})")]
    UnsupportedVersion(u32),
    #[error("the policy is for class {got}, not this student's class {pinned}")]
    WrongClass { got: i64, pinned: i64 },
    #[error("the policy (serial {got}) is older than the one already accepted (serial {pinned})")]
    Stale { got: u64, pinned: u64 },
}

const B64: base64::engine::GeneralPurpose = base64::engine::general_purpose::STANDARD;

/// Encodes a teacher's public key as it travels in [`JoinResponse`].
pub fn encode_key(key: &VerifyingKey) -> String {
    B64.encode(key.as_bytes())
}

/// Decodes a key written by [`encode_key`].
pub fn decode_key(text: &str) -> Result<VerifyingKey, PolicyError> {
    let bytes = B64.decode(text).map_err(|_| PolicyError::BadKey)?;
    let bytes: [u8; 32] = bytes.try_into().map_err(|_| PolicyError::BadKey)?;
    VerifyingKey::from_bytes(&bytes).map_err(|_| PolicyError::BadKey)
}

/// Signs `policy` with the teacher's key.
pub fn sign(policy: Policy, key: &SigningKey) -> SignedPolicy {
    let signature = key.sign(&policy.canonical_bytes());
    SignedPolicy {
        policy,
        signature: B64.encode(signature.to_bytes()),
    }
}

/// Accepts `signed` only if the pinned teacher signed exactly this policy,
/// for the pinned class, in a format this code reads, and not older than the
/// policy accepted before. Nothing of a refused policy may be applied.
pub fn verify(signed: &SignedPolicy, pin: &PolicyPin) -> Result<Policy, PolicyError> {
    let key = decode_key(&pin.teacher_key)?;
    let sig = B64
        .decode(&signed.signature)
        .map_err(|_| PolicyError::MalformedSignature)?;
    let sig: [u8; 64] = sig
        .try_into()
        .map_err(|_| PolicyError::MalformedSignature)?;
    let sig = Signature::from_bytes(&sig);
    let policy = &signed.policy;
    if policy.version != POLICY_FORMAT {
        return Err(PolicyError::UnsupportedVersion(policy.version));
    }
    key.verify(&policy.canonical_bytes(), &sig)
        .map_err(|_| PolicyError::BadSignature)?;
    if policy.class_id != pin.class_id {
        return Err(PolicyError::WrongClass {
            got: policy.class_id,
            pinned: pin.class_id,
        });
    }
    if policy.serial < pin.serial {
        return Err(PolicyError::Stale {
            got: policy.serial,
            pinned: pin.serial,
        });
    }
    Ok(policy.clone())
}

/// Outcome of a checked run, as in `pencil/run`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RunStatus {
    Ok,
    Error,
    Timeout,
    WaitsForInput,
}

impl RunStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            RunStatus::Ok => "ok",
            RunStatus::Error => "error",
            RunStatus::Timeout => "timeout",
            RunStatus::WaitsForInput => "waits_for_input",
        }
    }
    /// A run that counts towards "stuck".
    pub fn is_failure(self) -> bool {
        matches!(self, RunStatus::Error | RunStatus::Timeout)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum RiskBucket {
    Low,
    Medium,
    High,
}

impl RiskBucket {
    pub fn as_str(self) -> &'static str {
        match self {
            RiskBucket::Low => "low",
            RiskBucket::Medium => "medium",
            RiskBucket::High => "high",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum HintOutcome {
    Shown,
    Accepted,
    Dismissed,
}

impl HintOutcome {
    pub fn as_str(self) -> &'static str {
        match self {
            HintOutcome::Shown => "shown",
            HintOutcome::Accepted => "accepted",
            HintOutcome::Dismissed => "dismissed",
        }
    }
}

/// Which kind of help a hint was, so the hub can tell teachers which kinds help.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum HintKind {
    /// A rule-based quick fix.
    RuleFix,
    /// A "Fix in my style" from the model.
    StyleFix,
    /// The backtracking-risk flag ("you may be moving away from your goal").
    RiskFlag,
}

impl HintKind {
    pub fn as_str(self) -> &'static str {
        match self {
            HintKind::RuleFix => "rule_fix",
            HintKind::StyleFix => "style_fix",
            HintKind::RiskFlag => "risk_flag",
        }
    }
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "rule_fix" => Some(HintKind::RuleFix),
            "style_fix" => Some(HintKind::StyleFix),
            "risk_flag" => Some(HintKind::RiskFlag),
            _ => None,
        }
    }
}

/// One run of the student's program, with no code.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Event {
    /// Chosen by the student's machine (a UUID or similar), unique per device:
    /// the hub counts each (device, id) once.
    pub id: String,
    /// When the run happened on the student's clock, RFC 3339.
    pub time: String,
    pub title: String,
    pub status: RunStatus,
    #[serde(default)]
    pub error_class: Option<String>,
    #[serde(default)]
    pub risk_bucket: Option<RiskBucket>,
    #[serde(default)]
    pub hint: Option<HintOutcome>,
    #[serde(default)]
    pub idle_seconds: Option<u32>,
    /// What kind of hint `hint` was (absent from older clients).
    #[serde(default)]
    pub hint_kind: Option<HintKind>,
}

impl Event {
    /// Checks the length limits both sides agree on.
    pub fn validate(&self) -> Result<(), String> {
        let id_ok = !self.id.is_empty()
            && self.id.len() <= MAX_EVENT_ID
            && self
                .id
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
        if !id_ok {
            return Err(format!(
                "event id must be 1 to {MAX_EVENT_ID} characters of A-Z, a-z, 0-9, '-' or '_'"
            ));
        }
        check_len("time", &self.time, MAX_EVENT_TIME)?;
        check_len("title", &self.title, MAX_EVENT_TITLE)?;
        if let Some(class) = &self.error_class {
            check_len("error_class", class, MAX_ERROR_CLASS)?;
        }
        Ok(())
    }
}

fn check_len(field: &str, value: &str, max: usize) -> Result<(), String> {
    if value.chars().count() > max {
        return Err(format!("event {field} is longer than {max} characters"));
    }
    Ok(())
}

/// `POST /api/v1/events` body.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EventBatch {
    pub events: Vec<Event>,
}

/// `POST /api/v1/events` answer: the ids now stored, resent ones included,
/// so the student's queue can drop exactly these.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EventAck {
    pub acknowledged: Vec<String>,
    /// How many of them were new (the rest were already stored).
    pub new: usize,
}

/// Largest `POST /hands` body (a program and, if the student agreed, its title's trace).
pub const MAX_HANDS_BODY: usize = 1024 * 1024;
/// Longest program in a hand (and in each of its trace states), in bytes.
pub const MAX_HAND_PROGRAM: usize = 64 * 1024;
/// Most trace states sent with a hand.
pub const MAX_HAND_STATES: usize = 200;
/// Longest note a student writes with a hand, or a teacher's reply, in characters.
pub const MAX_HAND_MESSAGE: usize = 2000;

/// One earlier state of the title, sent only if the student agreed to share the trace.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HandState {
    /// RFC 3339, the student's clock.
    pub time: String,
    pub program: String,
}

/// `POST /api/v1/hands` body: the student asks the teacher for help with a program.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HandRequest {
    /// Chosen by the student's machine, like an event id: the hub keeps each (device, id) once.
    pub id: String,
    /// When the student asked, RFC 3339.
    pub time: String,
    pub title: String,
    /// The program as it is now.
    pub program: String,
    /// What the student wrote (for example what they think is wrong).
    #[serde(default)]
    pub message: Option<String>,
    /// The title's earlier states, oldest first, only when the student agreed.
    #[serde(default)]
    pub trace: Option<Vec<HandState>>,
}

impl HandRequest {
    /// Checks the limits both sides agree on.
    pub fn validate(&self) -> Result<(), String> {
        let probe = Event {
            id: self.id.clone(),
            time: self.time.clone(),
            title: self.title.clone(),
            status: RunStatus::Ok,
            error_class: None,
            risk_bucket: None,
            hint: None,
            idle_seconds: None,
            hint_kind: None,
        };
        probe.validate().map_err(|e| e.replacen("event", "hand", 1))?;
        if self.program.len() > MAX_HAND_PROGRAM {
            return Err(format!("the program is larger than {MAX_HAND_PROGRAM} bytes"));
        }
        if let Some(m) = &self.message {
            if m.chars().count() > MAX_HAND_MESSAGE {
                return Err(format!("the message is longer than {MAX_HAND_MESSAGE} characters"));
            }
        }
        if let Some(states) = &self.trace {
            if states.len() > MAX_HAND_STATES {
                return Err(format!("the trace has more than {MAX_HAND_STATES} states"));
            }
            for s in states {
                check_len("trace time", &s.time, MAX_EVENT_TIME)?;
                if s.program.len() > MAX_HAND_PROGRAM {
                    return Err(format!("a trace state is larger than {MAX_HAND_PROGRAM} bytes"));
                }
            }
        }
        Ok(())
    }
}

/// `POST /api/v1/hands` answer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HandAck {
    pub id: String,
    /// False when this hand was already stored (a resend).
    pub new: bool,
}

/// One hand as the student's coach sees it again (no program: it has that already).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HandStatus {
    pub id: String,
    pub title: String,
    /// When the hub received it, RFC 3339 on the hub's clock.
    pub received_at: String,
    /// The teacher's reply, once there is one.
    pub reply: Option<String>,
    /// RFC 3339, when the teacher replied.
    pub replied_at: Option<String>,
    /// The teacher marked it done (with or without a reply).
    pub resolved: bool,
}

/// `GET /api/v1/hands` answer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HandList {
    pub hands: Vec<HandStatus>,
}

/// Trims a display name and checks it is a short pseudonym: 1 to
/// [`MAX_DISPLAY_NAME`] characters, no control characters, and nothing that
/// looks like an e-mail address (the hub stores no real identity).
pub fn normalize_display_name(name: &str) -> Result<String, String> {
    let name = name.trim();
    if name.is_empty() {
        return Err("display name is empty".into());
    }
    if name.chars().count() > MAX_DISPLAY_NAME {
        return Err(format!(
            "display name is longer than {MAX_DISPLAY_NAME} characters"
        ));
    }
    if name.chars().any(char::is_control) {
        return Err("display name contains control characters".into());
    }
    if name.contains('@') {
        return Err("display name looks like an e-mail address; use a nickname".into());
    }
    Ok(name.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(seed: u8) -> SigningKey {
        SigningKey::from_bytes(&[seed; 32])
    }

    fn pin_for(k: &SigningKey, class_id: i64, serial: u64) -> PolicyPin {
        PolicyPin {
            teacher_key: encode_key(&k.verifying_key()),
            class_id,
            serial,
        }
    }

    fn sample() -> Policy {
        let mut p = Policy::default_for(7);
        p.serial = 3;
        p.hints_per_title = Some(2);
        p.assignments.push(Assignment {
            title: "car".into(),
            opens: Some("2026-12-07T09:00:00Z".into()),
            closes: None,
        });
        p
    }

    #[test]
    fn signed_policy_verifies_and_round_trips_through_json() {
        let k = key(1);
        let signed = sign(sample(), &k);
        let wire = serde_json::to_string(&signed).expect("serialize");
        let back: SignedPolicy = serde_json::from_str(&wire).expect("parse");
        assert_eq!(verify(&back, &pin_for(&k, 7, 0)), Ok(sample()));
        // Same serial as pinned: a refetch of the current policy is fine.
        assert_eq!(verify(&back, &pin_for(&k, 7, 3)), Ok(sample()));
    }

    #[test]
    fn tampered_fields_are_refused() {
        let k = key(1);
        let pin = pin_for(&k, 7, 0);
        let tampers: Vec<fn(&mut Policy)> = vec![
            |p| p.hints_enabled = false,
            |p| p.quiz_mode = true,
            |p| p.hints_per_title = None,
            |p| p.max_hint_size = HintSize::Large,
            |p| p.serial += 1,
            |p| p.assignments[0].closes = Some("2027-01-01T00:00:00Z".into()),
        ];
        for tamper in tampers {
            let mut signed = sign(sample(), &k);
            tamper(&mut signed.policy);
            assert_eq!(verify(&signed, &pin), Err(PolicyError::BadSignature));
        }
    }

    #[test]
    fn other_key_wrong_class_old_serial_and_new_format_are_refused() {
        let k = key(1);
        let signed = sign(sample(), &k);
        assert_eq!(
            verify(&signed, &pin_for(&key(2), 7, 0)),
            Err(PolicyError::BadSignature)
        );
        assert_eq!(
            verify(&signed, &pin_for(&k, 8, 0)),
            Err(PolicyError::WrongClass { got: 7, pinned: 8 })
        );
        assert_eq!(
            verify(&signed, &pin_for(&k, 7, 4)),
            Err(PolicyError::Stale { got: 3, pinned: 4 })
        );
        let mut future = sample();
        future.version = 2;
        let future = sign(future, &k);
        assert_eq!(
            verify(&future, &pin_for(&k, 7, 0)),
            Err(PolicyError::UnsupportedVersion(2))
        );
    }

    #[test]
    fn malformed_signature_and_key_are_refused() {
        let k = key(1);
        let mut signed = sign(sample(), &k);
        signed.signature = "not base64!".into();
        assert_eq!(
            verify(&signed, &pin_for(&k, 7, 0)),
            Err(PolicyError::MalformedSignature)
        );
        signed.signature = B64.encode([0u8; 10]);
        assert_eq!(
            verify(&signed, &pin_for(&k, 7, 0)),
            Err(PolicyError::MalformedSignature)
        );
        let mut pin = pin_for(&k, 7, 0);
        pin.teacher_key = "AAAA".into();
        assert_eq!(verify(&sign(sample(), &k), &pin), Err(PolicyError::BadKey));
    }

    #[test]
    fn canonical_bytes_are_domain_separated_compact_json_in_field_order() {
        let text = String::from_utf8(Policy::default_for(5).canonical_bytes()).expect("utf-8");
        assert_eq!(
            text,
            "pencil-policy-v1\n{\"version\":1,\"serial\":1,\"class_id\":5,\"hints_enabled\":true,\
             \"hints_per_title\":null,\"hints_per_hour\":null,\"max_hint_size\":\"medium\",\
             \"reflect_first\":false,\"quiz_mode\":false,\"assignments\":[]}"
        );
    }

    #[test]
    fn events_parse_validate_and_refuse_code_fields() {
        let ok: Event = serde_json::from_str(
            r#"{"id":"a-1","time":"2026-12-06T12:00:00Z","title":"car","status":"waits_for_input",
                "risk_bucket":"high","hint":"dismissed","idle_seconds":30}"#,
        )
        .expect("event");
        assert_eq!(ok.validate(), Ok(()));
        assert_eq!(ok.status, RunStatus::WaitsForInput);
        // A code field is not part of the event: refuse it rather than drop it silently.
        let with_code = r#"{"id":"a","time":"t","title":"car","status":"ok","code":"fd 100"}"#;
        assert!(serde_json::from_str::<Event>(with_code).is_err());
        let mut bad = ok.clone();
        bad.id = "a b".into();
        assert!(bad.validate().is_err());
        bad.id = "x".repeat(MAX_EVENT_ID + 1);
        assert!(bad.validate().is_err());
        let mut long = ok;
        long.title = "t".repeat(MAX_EVENT_TITLE + 1);
        assert!(long.validate().is_err());
    }

    #[test]
    fn display_names_are_trimmed_pseudonyms() {
        assert_eq!(normalize_display_name("  Ada L. "), Ok("Ada L.".into()));
        assert!(normalize_display_name("   ").is_err());
        assert!(normalize_display_name("ada@example.org").is_err());
        assert!(normalize_display_name("a\u{7}b").is_err());
        assert!(normalize_display_name(&"é".repeat(MAX_DISPLAY_NAME)).is_ok());
        assert!(normalize_display_name(&"é".repeat(MAX_DISPLAY_NAME + 1)).is_err());
    }
}
