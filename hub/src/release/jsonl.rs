//! The paper's JSON Lines (`traces.jsonl.gz`): one trace per line,
//! `{"source", "student", "title", "eos", "programs": [{"n", "time", "code"}]}`,
//! written by `pencil_core::corpus::write_jsonl`, the format `pencil-trainer`
//! reads, with the SubjectID as `student`.

use std::fs::File;
use std::io::BufWriter;
use std::path::Path;

use flate2::write::GzEncoder;
use flate2::Compression;
use pencil_core::trace::{ProgramState, Provenance, Trace};

use super::dataset::Dataset;
use super::{ReleaseError, RowIds};

/// The release's one data file.
pub const FILE: &str = "traces.jsonl.gz";

/// The trace of one subject and title, as the corpus format holds it.
fn trace(t: &super::dataset::SubjectTrace, study_id: &str) -> Trace {
    Trace {
        student: t.subject_id.clone(),
        title: t.title.clone(),
        programs: t
            .states
            .iter()
            .map(|s| ProgramState { n: s.n, time: s.time.clone(), code: s.code.clone() })
            .collect(),
        // Each trace is complete as far as it was collected when released.
        eos: true,
        provenance: Provenance { source: format!("study:{study_id}"), file: None, index: None },
    }
}

/// Writes `traces.jsonl.gz`; each subject's row ids are its 1-based line numbers.
pub fn write(dir: &Path, data: &Dataset, study_id: &str) -> Result<Vec<(String, RowIds)>, ReleaseError> {
    let traces: Vec<Trace> = data.traces.iter().map(|t| trace(t, study_id)).collect();
    let file = File::create(dir.join(FILE))?;
    let mut gz = GzEncoder::new(BufWriter::new(file), Compression::default());
    pencil_core::corpus::write_jsonl(&mut gz, &traces)?;
    gz.finish()?.into_inner().map_err(|e| e.into_error())?.sync_all()?;

    let mut per_subject: Vec<(String, RowIds)> = Vec::new();
    for (line, t) in data.traces.iter().enumerate() {
        if per_subject.last().is_none_or(|(s, _)| *s != t.subject_id) {
            per_subject.push((t.subject_id.clone(), RowIds::default()));
        }
        if let Some((_, ids)) = per_subject.last_mut() {
            ids.push("line", (line + 1).to_string());
            ids.rows += 1;
        }
    }
    Ok(per_subject)
}
