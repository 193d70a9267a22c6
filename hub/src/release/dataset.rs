//! What a release holds, format-neutral: a study's stored uploads merged into
//! one trace per (subject, title), through the hub's own scrub (the class
//! roster, which only the hub knows), in a fixed order.

use std::collections::BTreeMap;

use pencil_core::research::{UploadBody, UploadHint};
use pencil_core::scrub::{ScrubCounts, Scrubber};

use super::ReleaseError;
use crate::store::UploadRow;

/// One program state as released.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct State {
    /// 1-based, counted on the student's machine from consent.
    pub n: u32,
    /// `YYYY-MM-DD HH:MM:SS` UTC, rounded as the study says.
    pub time: String,
    /// Program text after both scrubs (the student's machine's and the hub's).
    pub code: String,
}

/// One subject's states (and hint events) for one title.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SubjectTrace {
    pub subject_id: String,
    pub title: String,
    /// In state order (`n`, then time).
    pub states: Vec<State>,
    /// In the order shown.
    pub hints: Vec<UploadHint>,
}

/// The merged, scrubbed contents of a release.
#[derive(Debug, Default)]
pub struct Dataset {
    /// Sorted by subject, then title.
    pub traces: Vec<SubjectTrace>,
    /// What the hub's scrub replaced (the student's machine scrubbed before sending).
    pub scrub: ScrubCounts,
    /// Uploads read.
    pub uploads: usize,
}

impl Dataset {
    /// The SubjectIDs, sorted, each once.
    pub fn subjects(&self) -> Vec<&str> {
        let mut out: Vec<&str> = self.traces.iter().map(|t| t.subject_id.as_str()).collect();
        out.dedup();
        out
    }

    /// Program states in all traces.
    pub fn states(&self) -> usize {
        self.traces.iter().map(|t| t.states.len()).sum()
    }

    /// Every program text, each once, in first-seen order (what the judge runs).
    pub fn distinct_codes(&self) -> Vec<&str> {
        let mut seen = std::collections::HashSet::new();
        self.traces
            .iter()
            .flat_map(|t| t.states.iter().map(|s| s.code.as_str()))
            .filter(|c| seen.insert(*c))
            .collect()
    }
}

/// Merges a study's uploads: a title sent in several uploads becomes one
/// trace; an exact repeat of a state (a resent final program) is kept once.
/// Titles the scrub drops (they hold a name) are left out with all their
/// states and hints.
pub fn build(uploads: &[UploadRow], scrubber: &Scrubber) -> Result<Dataset, ReleaseError> {
    let mut merged: BTreeMap<(String, String), SubjectTrace> = BTreeMap::new();
    let mut dataset = Dataset { uploads: uploads.len(), ..Dataset::default() };
    let mut dropped: BTreeMap<String, bool> = BTreeMap::new();
    for row in uploads {
        // Checked when it arrived; failing now means the stored row is damaged.
        let body: UploadBody = serde_json::from_slice(&row.body)
            // Position and class only: serde's message can quote the program text.
            .map_err(|e| ReleaseError::CorruptUpload {
                upload_id: row.upload_id.clone(),
                reason: format!("{:?} error at line {} column {}", e.classify(), e.line(), e.column()),
            })?;
        for t in body.traces {
            let drops = *dropped.entry(t.title.clone()).or_insert_with(|| scrubber.drops_title(&t.title));
            if drops {
                dataset.scrub.dropped_name_titles += 1;
                continue;
            }
            let trace = merged.entry((row.subject_id.clone(), t.title.clone())).or_insert_with(|| SubjectTrace {
                subject_id: row.subject_id.clone(),
                title: t.title.clone(),
                states: Vec::new(),
                hints: Vec::new(),
            });
            for p in t.programs {
                let code = scrubber.scrub_program(&p.code, &mut dataset.scrub);
                trace.states.push(State { n: p.n, time: p.time, code });
            }
            trace.hints.extend(t.hints);
        }
    }
    for trace in merged.values_mut() {
        trace.states.sort_by(|a, b| (a.n, &a.time).cmp(&(b.n, &b.time)));
        trace.states.dedup();
        trace.hints.sort_by(|a, b| (a.n, &a.shown).cmp(&(b.n, &b.shown)));
        trace.hints.dedup();
    }
    dataset.traces = merged.into_values().filter(|t| !t.states.is_empty()).collect();
    Ok(dataset)
}

#[cfg(test)]
mod tests {
    use super::*;
    use pencil_core::research::{Collects, Programs, Timestamps, UploadProgram, UploadTrace, UPLOAD_FORMAT};
    use pencil_core::scrub::{NameLists, Roster};

    fn upload(subject: &str, id: &str, traces: Vec<UploadTrace>) -> UploadRow {
        let body = UploadBody {
            format: UPLOAD_FORMAT,
            study_id: "s".into(),
            upload_id: id.into(),
            consent_version: "1".into(),
            collects: Collects { programs: Programs::Full, timestamps: Timestamps::Exact, hints: false },
            traces,
        };
        UploadRow {
            study_id: "s".into(),
            subject_id: subject.into(),
            upload_id: id.into(),
            body: serde_json::to_vec(&body).expect("json"),
        }
    }

    fn trace(title: &str, states: &[(u32, &str)]) -> UploadTrace {
        UploadTrace {
            title: title.into(),
            programs: states
                .iter()
                .map(|&(n, code)| UploadProgram { n, time: format!("2026-01-01 10:00:{n:02}"), code: code.into() })
                .collect(),
            hints: vec![],
        }
    }

    #[test]
    fn uploads_merge_per_subject_and_title_and_the_roster_is_scrubbed() {
        let scrubber = Scrubber::new(NameLists::default()).with_roster(Roster::from_names(["Theodora Quist"]));
        let uploads = [
            upload("b", "u-1", vec![trace("car", &[(2, "fd 2\n"), (1, "fd 1\n")])]),
            upload("a", "u-1", vec![trace("car", &[(1, "# by Theodora\nfd 1\n")]), trace("quist house", &[(1, "fd 9\n")])]),
            // A resend of the final program, and the next state.
            upload("b", "u-2", vec![trace("car", &[(2, "fd 2\n"), (3, "fd 3\n")])]),
        ];
        let d = build(&uploads, &scrubber).expect("build");
        let got: Vec<(&str, &str, Vec<u32>)> =
            d.traces.iter().map(|t| (t.subject_id.as_str(), t.title.as_str(), t.states.iter().map(|s| s.n).collect())).collect();
        assert_eq!(got, [("a", "car", vec![1]), ("b", "car", vec![1, 2, 3])]);
        assert!(!d.traces[0].states[0].code.contains("Theodora"), "{}", d.traces[0].states[0].code);
        assert_eq!(d.scrub.dropped_name_titles, 1);
        assert_eq!(d.subjects(), ["a", "b"]);
        assert_eq!(d.states(), 4);
    }

    #[test]
    fn a_damaged_upload_names_its_id_not_its_contents() {
        let mut row = upload("a", "u-7", vec![]);
        row.body = br#"{"format": 1, "study_id": "s", "upload_id": "u-7", "consent_version": "1", "collects": {"programs": "full", "timestamps": "exact", "hints": false}, "traces": [{"title": "car", "programs": [{"n": "secret program", "time": "t", "code": ""}]}]}"#.to_vec();
        let err = build(&[row], &Scrubber::new(NameLists::default())).expect_err("damaged");
        assert!(err.to_string().contains("u-7") && !err.to_string().contains("secret"), "{err}");
    }
}
