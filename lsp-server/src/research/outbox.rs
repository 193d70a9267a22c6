//! What leaves the machine for a study, in exact bytes: [`next_upload`] is
//! both the preview and what [`upload`] sends, so the two cannot differ.
//!
//! The next upload is the one already queued for the study (built earlier,
//! not yet acknowledged) or, when none is, a fresh one built from what the
//! receipt may collect (see `store::research`), cut to the study's scope and
//! scrubbed. Its id is `<receipt id>-<n>`, decided by the receipt alone, so a
//! preview names the same id the upload will carry. Building is pure: nothing
//! is queued until [`upload`], and an upload given the preview's SHA-256
//! refuses to send anything else.

use super::{consent, study, ResearchError};
use crate::clock::now_timestamp;
use crate::store::{Collectable, Database, Membership, Receipt};
use pencil_core::research::{sha256_hex, Collects, Programs, Study, UploadBody, UploadHint, UploadProgram, UploadTrace, UPLOAD_FORMAT};
use pencil_core::scrub::{ScrubCounts, Scrubber};
use std::collections::BTreeMap;

/// The next request for a study, in the exact bytes that would be sent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NextUpload {
    /// The upload id inside the body.
    pub upload_id: String,
    /// The request body.
    pub body: Vec<u8>,
    /// True when it is already queued (built before, not yet acknowledged).
    pub queued: bool,
    /// For a fresh one: the watermarks to move to once it is queued.
    through: (i64, i64),
    /// What the scrub replaced, for the report (zero for a queued one).
    pub counts: ScrubCounts,
}

impl NextUpload {
    /// Lowercase hex SHA-256 of the body: what `upload --expect-sha256` compares.
    pub fn sha256(&self) -> String {
        sha256_hex(&self.body)
    }
}

/// Cuts what a receipt may collect to the study's scope and scrubs it; `None`
/// when nothing is left to send. Pure: the same inputs give the same bytes.
pub fn build(c: &Collectable, receipt: &Receipt, collects: Collects, scrubber: &Scrubber) -> Option<(UploadBody, ScrubCounts)> {
    let mut counts = ScrubCounts::default();
    let mut traces: BTreeMap<&str, UploadTrace> = BTreeMap::new();
    let mut dropped: BTreeMap<String, bool> = BTreeMap::new();
    // Whether a title stays home (students type their names there), counted once per title.
    let mut drops = |title: &str, counts: &mut ScrubCounts| -> bool {
        if let Some(&d) = dropped.get(title) {
            return d;
        }
        let d = scrubber.drops_title(title);
        if d {
            counts.dropped_name_titles += 1;
        }
        dropped.insert(title.to_string(), d);
        d
    };
    for s in &c.states {
        if drops(&s.title, &mut counts) {
            continue;
        }
        // A time that does not parse cannot be rounded as promised: the state stays home.
        let (Some(time), Ok(n)) = (collects.timestamps.round(&s.time), u32::try_from(s.n)) else { continue };
        let code = scrubber.scrub_program(&s.code, &mut counts);
        let t = traces.entry(&s.title).or_insert_with(|| UploadTrace { title: s.title.clone(), programs: vec![], hints: vec![] });
        t.programs.push(UploadProgram { n, time, code });
    }
    if collects.programs == Programs::Final {
        for t in traces.values_mut() {
            // States come ordered by n: the last is the final program.
            let last = t.programs.pop();
            t.programs = last.into_iter().collect();
        }
    }
    if collects.hints {
        for h in &c.hints {
            if drops(&h.title, &mut counts) {
                continue;
            }
            let (Some(shown), Ok(n)) = (collects.timestamps.round(&h.shown_at), u32::try_from(h.n)) else { continue };
            let t = traces.entry(&h.title).or_insert_with(|| UploadTrace { title: h.title.clone(), programs: vec![], hints: vec![] });
            t.hints.push(UploadHint { n, kind: h.kind.clone(), rule: h.rule.clone(), shown, accepted: h.accepted });
        }
    }
    if traces.is_empty() {
        return None;
    }
    let body = UploadBody {
        format: UPLOAD_FORMAT,
        study_id: receipt.study_id.clone(),
        upload_id: format!("{}-{}", receipt.id, receipt.uploads + 1),
        consent_version: receipt.consent_version.clone(),
        collects,
        traces: traces.into_values().collect(),
    };
    Some((body, counts))
}

/// The study's consent in force and the study, checked against each other.
fn consented(db: &Database, study_id: &str) -> Result<(Receipt, Study), ResearchError> {
    let receipt = db.active_receipt(study_id)?.ok_or_else(|| ResearchError::NoConsent(study_id.to_string()))?;
    let (stored, study) = study::load(db, study_id)?;
    if stored.digest != receipt.study_digest || study.consent.version != receipt.consent_version {
        return Err(ResearchError::Tampered(format!("the receipt for {study_id} names another document than the one stored")));
    }
    Ok((receipt, study))
}

/// The next upload for a study, exactly as it would be sent; `None` when
/// there is nothing new. Changes nothing.
pub fn next_upload(db: &mut Database, study_id: &str, scrubber: &Scrubber) -> Result<Option<NextUpload>, ResearchError> {
    let (receipt, study) = consented(db, study_id)?;
    if let Some(item) = db.research_outbox(Some(study_id))?.into_iter().find(|i| i.kind == "upload") {
        return Ok(Some(NextUpload { upload_id: item.request_id, body: item.body, queued: true, through: (0, 0), counts: ScrubCounts::default() }));
    }
    let student = db.local_student()?;
    let c = db.collectable(&student, &receipt)?;
    let Some((body, counts)) = build(&c, &receipt, study.collects, scrubber) else { return Ok(None) };
    let bytes = serde_json::to_vec(&body).map_err(|e| ResearchError::File(e.to_string()))?;
    Ok(Some(NextUpload { upload_id: body.upload_id, body: bytes, queued: false, through: (c.through_state_id, c.through_hint_id), counts }))
}

/// What an upload did.
#[derive(Debug, PartialEq, Eq)]
pub enum Uploaded {
    /// Nothing recorded since consent (or the last upload) is left to send.
    NothingNew,
    /// The hub stored it (`new` false: it had it already, from a resend).
    Sent { upload_id: String, bytes: usize, sha256: String, new: bool },
    /// Queued in the outbox; the next upload sends these same bytes.
    Queued { upload_id: String, why: String },
}

/// Sends the next upload of a study: exactly [`next_upload`]'s bytes, and
/// only if they hash to `expect_sha256` when given. Built bytes are queued
/// before anything is sent, so a failure leaves them to be sent as they are.
pub fn upload(
    db: &mut Database,
    m: Option<&Membership>,
    study_id: &str,
    scrubber: &Scrubber,
    expect_sha256: Option<&str>,
) -> Result<Uploaded, ResearchError> {
    let Some(next) = next_upload(db, study_id, scrubber)? else { return Ok(Uploaded::NothingNew) };
    let sha256 = next.sha256();
    if let Some(expected) = expect_sha256 {
        if !expected.eq_ignore_ascii_case(&sha256) {
            return Err(ResearchError::PreviewChanged);
        }
    }
    if !next.queued {
        let (receipt, _) = consented(db, study_id)?;
        if !db.queue_upload(&receipt, &next.upload_id, &next.body, next.through, &now_timestamp())? {
            return Err(ResearchError::PreviewChanged);
        }
    }
    let Some(m) = m else {
        return Ok(Uploaded::Queued { upload_id: next.upload_id, why: "not in a class, so there is no hub to send it to".into() });
    };
    let (receipt, _) = consented(db, study_id)?;
    if receipt.subject_id.is_none() {
        if let Err(e) = consent::register(db, m, &receipt) {
            return Ok(Uploaded::Queued { upload_id: next.upload_id, why: format!("the hub was not told of your consent yet ({e})") });
        }
    }
    match super::hub::upload(&m.hub_url, &m.device_token, &next.body) {
        Ok(ack) if ack.upload_id == next.upload_id => {
            db.drop_research_request(&next.upload_id)?;
            Ok(Uploaded::Sent { upload_id: next.upload_id, bytes: next.body.len(), sha256, new: ack.new })
        }
        Ok(ack) => Err(ResearchError::File(format!("the hub acknowledged upload {} instead of {}", ack.upload_id, next.upload_id))),
        Err(e @ crate::classroom::hub::HubError::Refused { .. }) => Err(e.into()),
        Err(e) => Ok(Uploaded::Queued { upload_id: next.upload_id, why: e.to_string() }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::{ResearchHint, ResearchState};
    use pencil_core::research::Timestamps;
    use pencil_core::scrub::{NameLists, Roster};
    use std::collections::HashSet;

    fn receipt() -> Receipt {
        Receipt {
            id: "r".into(),
            study_id: "loops".into(),
            study_digest: "d".into(),
            consent_version: "2".into(),
            scope_json: "{}".into(),
            consented_by: "student".into(),
            consented_at: "2026-01-01 10:00:00".into(),
            after_state_id: 0,
            after_hint_id: 0,
            sent_state_id: 0,
            sent_hint_id: 0,
            uploads: 4,
            subject_id: None,
            revoked_at: None,
        }
    }

    fn scrubber() -> Scrubber {
        let set = |xs: &[&str]| xs.iter().map(|s| s.to_string()).collect::<HashSet<_>>();
        Scrubber::new(NameLists::from_lists(set(&["maya"]), set(&["lopez"]), set(&["house"]))).with_roster(Roster::from_names(["Theo Quist"]))
    }

    fn state(id: i64, title: &str, n: i64, time: &str, code: &str) -> ResearchState {
        ResearchState { id, title: title.into(), n, time: time.into(), code: code.into() }
    }

    fn collectable() -> Collectable {
        Collectable {
            states: vec![
                state(5, "car", 1, "2026-01-01 10:01:07", "fd 1 # Theo\n"),
                state(6, "car", 2, "2026-01-01 10:02:09", "fd 2\n"),
                state(7, "quist art", 1, "2026-01-01 10:03:00", "rt 9\n"),
            ],
            hints: vec![ResearchHint {
                id: 3,
                title: "car".into(),
                n: 1,
                kind: "quick_fix".into(),
                rule: "nearest_color".into(),
                shown_at: "2026-01-01 10:01:30".into(),
                accepted: true,
            }],
            through_state_id: 7,
            through_hint_id: 3,
        }
    }

    #[test]
    fn full_traces_keep_every_state_scrubbed_and_rounded() {
        let collects = Collects { programs: Programs::Full, timestamps: Timestamps::Minute, hints: true };
        let (body, counts) = build(&collectable(), &receipt(), collects, &scrubber()).expect("something to send");
        assert_eq!(body.upload_id, "r-5");
        assert_eq!(body.traces.len(), 1, "a title holding a roster name stays home");
        assert_eq!(counts.dropped_name_titles, 1);
        let t = &body.traces[0];
        assert_eq!(t.programs.iter().map(|p| (p.n, p.time.as_str(), p.code.as_str())).collect::<Vec<_>>(), vec![
            (1, "2026-01-01 10:01:00", "fd 1 # <UNK>\n"),
            (2, "2026-01-01 10:02:00", "fd 2\n")
        ]);
        assert_eq!(t.hints, vec![UploadHint { n: 1, kind: "quick_fix".into(), rule: "nearest_color".into(), shown: "2026-01-01 10:01:00".into(), accepted: true }]);
    }

    #[test]
    fn final_only_without_hints_keeps_the_last_state_alone() {
        let collects = Collects { programs: Programs::Final, timestamps: Timestamps::Day, hints: false };
        let (body, _) = build(&collectable(), &receipt(), collects, &scrubber()).expect("something to send");
        let t = &body.traces[0];
        assert_eq!(t.programs, vec![UploadProgram { n: 2, time: "2026-01-01 00:00:00".into(), code: "fd 2\n".into() }]);
        assert!(t.hints.is_empty());
        let json = String::from_utf8(serde_json::to_vec(&body).expect("json")).expect("utf8");
        assert!(!json.contains("\"hints\":["), "no hint list: {json}");
    }

    #[test]
    fn nothing_collectable_builds_nothing() {
        let empty = Collectable { states: vec![], hints: vec![], through_state_id: 0, through_hint_id: 0 };
        let collects = Collects { programs: Programs::Full, timestamps: Timestamps::Exact, hints: true };
        assert!(build(&empty, &receipt(), collects, &scrubber()).is_none());
    }
}
