//! ProgSnap 2 (v1.0): `MainTable.csv`, `CodeStates.csv` (CodeStates in the
//! Table representation: `CodeStateID`, `Code`), `DatasetMetadata.csv` and a
//! `README.md` that says how the events were made.
//!
//! Each program state is one run on Pencil Code (the editor records a state
//! when the student runs the program), written as: `File.Edit` when the text
//! changed since the title's previous state, `Compile` with its result,
//! `Compile.Error` under it when the program did not compile, and
//! `Run.Program` with its `ExecutionResult`; then an `Intervention` for each
//! hint shown on that state (studies that collect hints). Results come from
//! the hub's sandbox ([`super::verdicts`]), after the fact, so `File.Edit`,
//! `Compile` and `Compile.Error` are marked `IsFabricatedEvent`.
//!
//! Event-specific columns are filled only for the events the specification
//! lists them for: the toolbox's validator counts any other as unexpected.

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::Path;

use super::dataset::{Dataset, State, SubjectTrace};
use super::verdicts::{Outcome, RunResult, Verdicts};
use crate::dashboard::RECOVERY_RUNS;
use super::{RowIds, ReleaseError};

/// The specification version written to `DatasetMetadata.csv`.
pub const VERSION: &str = "1.0";

/// `ToolInstances` of every event: the editor and the coach that recorded it.
pub const TOOL_INSTANCES: &str = concat!("Pencil Code;pencil-coach ", env!("CARGO_PKG_VERSION"));

/// The MainTable's columns, in file order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(usize)]
pub enum Col {
    EventType,
    EventID,
    Order,
    SubjectID,
    ToolInstances,
    CodeStateID,
    ClientTimestamp,
    ProblemID,
    IsFabricatedEvent,
    ParentEventID,
    CodeStateSection,
    EventInitiator,
    EditType,
    CompileResult,
    CompileMessageType,
    CompileMessageData,
    SourceLocation,
    ExecutionResult,
    InterventionCategory,
    InterventionType,
    InterventionMessage,
}

/// Column names, indexed by [`Col`].
pub const COLUMNS: [&str; 21] = [
    "EventType",
    "EventID",
    "Order",
    "SubjectID",
    "ToolInstances",
    "CodeStateID",
    "ClientTimestamp",
    "ProblemID",
    "IsFabricatedEvent",
    "ParentEventID",
    "CodeStateSection",
    "EventInitiator",
    "EditType",
    "CompileResult",
    "CompileMessageType",
    "CompileMessageData",
    "SourceLocation",
    "ExecutionResult",
    "InterventionCategory",
    "InterventionType",
    "InterventionMessage",
];

type Row = [Option<String>; COLUMNS.len()];

/// Files of a ProgSnap2 release, in the order written.
pub const FILES: [&str; 4] = ["MainTable.csv", "CodeStates.csv", "DatasetMetadata.csv", "README.md"];

/// `YYYY-MM-DD HH:MM:SS` (UTC) as an ISO 8601 timestamp with its offset.
pub fn timestamp(time: &str) -> Result<String, ReleaseError> {
    if pencil_core::trace::parse_timestamp(time).is_none() {
        return Err(ReleaseError::BadTime(time.to_string()));
    }
    Ok(format!("{}+00:00", time.replacen(' ', "T", 1)))
}

/// How the text changed from `before` (the title's previous state) to `after`.
fn edit_type(before: Option<&str>, after: &str) -> &'static str {
    match before {
        None => "Insert",
        Some(b) if after.starts_with(b) || after.ends_with(b) => "Insert",
        Some(b) if b.starts_with(after) || b.ends_with(after) => "Delete",
        Some(_) => "Replace",
    }
}

/// Writes one trace's events and appends the ids to `ids`.
struct Writer<'a> {
    rows: Vec<Row>,
    code_states: Vec<(u64, &'a str)>,
    next_event: u64,
    next_state: u64,
}

impl<'a> Writer<'a> {
    fn event(&mut self, kind: &str, trace: &SubjectTrace, code_state: u64, time: &str) -> Result<Row, ReleaseError> {
        let mut row: Row = Default::default();
        self.next_event += 1;
        let set = |row: &mut Row, c: Col, v: String| row[c as usize] = Some(v);
        set(&mut row, Col::EventType, kind.into());
        set(&mut row, Col::EventID, self.next_event.to_string());
        set(&mut row, Col::Order, self.next_event.to_string());
        set(&mut row, Col::SubjectID, trace.subject_id.clone());
        set(&mut row, Col::ToolInstances, TOOL_INSTANCES.into());
        set(&mut row, Col::CodeStateID, code_state.to_string());
        set(&mut row, Col::ClientTimestamp, timestamp(time)?);
        set(&mut row, Col::ProblemID, trace.title.clone());
        set(&mut row, Col::IsFabricatedEvent, "false".into());
        Ok(row)
    }

    fn trace(&mut self, trace: &'a SubjectTrace, verdicts: &Verdicts, ids: &mut RowIds) -> Result<(), ReleaseError> {
        let first_event = self.next_event;
        let mut previous: Option<(&str, u64)> = None;
        let mut hints = trace.hints.iter().peekable();
        for (i, state) in trace.states.iter().enumerate() {
            let State { time, code, .. } = state;
            let code_state = match previous {
                Some((before, id)) if before == code => id,
                _ => {
                    self.next_state += 1;
                    self.code_states.push((self.next_state, code));
                    ids.push("CodeStateID", self.next_state.to_string());
                    self.next_state
                }
            };
            if previous.map(|(before, _)| before) != Some(code.as_str()) {
                let mut edit = self.event("File.Edit", trace, code_state, time)?;
                edit[Col::IsFabricatedEvent as usize] = Some("true".into());
                edit[Col::CodeStateSection as usize] = Some(trace.title.clone());
                edit[Col::EventInitiator as usize] = Some("UserDirectAction".into());
                edit[Col::EditType as usize] = Some(edit_type(previous.map(|p| p.0), code).into());
                self.rows.push(edit);
            }
            let outcome: &Outcome = verdicts.get(code)?;
            let mut compile = self.event("Compile", trace, code_state, time)?;
            let compile_id = self.next_event;
            compile[Col::IsFabricatedEvent as usize] = Some("true".into());
            compile[Col::CodeStateSection as usize] = Some(trace.title.clone());
            compile[Col::EventInitiator as usize] = Some("UserDirectAction".into());
            compile[Col::CompileResult as usize] = Some(if outcome.compile_failed { "Error" } else { "Success" }.into());
            self.rows.push(compile);
            if outcome.compile_failed {
                let fault = outcome.fault.as_ref();
                let mut error = self.event("Compile.Error", trace, code_state, time)?;
                error[Col::IsFabricatedEvent as usize] = Some("true".into());
                error[Col::ParentEventID as usize] = Some(compile_id.to_string());
                error[Col::CodeStateSection as usize] = Some(trace.title.clone());
                error[Col::CompileMessageType as usize] = Some(fault.map_or("SyntaxError", |f| f.kind.as_str()).into());
                error[Col::CompileMessageData as usize] = Some(fault.map_or(String::new(), |f| f.message.clone()));
                error[Col::SourceLocation as usize] = Some(match fault.and_then(|f| f.line) {
                    Some(line) => format!("Text:{line}:{}", fault.and_then(|f| f.column).unwrap_or(1)),
                    None => "Text".into(),
                });
                self.rows.push(error);
            }
            let mut run = self.event("Run.Program", trace, code_state, time)?;
            run[Col::ExecutionResult as usize] = Some(outcome.result.as_str().into());
            self.rows.push(run);
            // Hints shown on this state, or on a state the release does not hold
            // before the next one.
            let next_n = trace.states.get(i + 1).map(|s| s.n);
            while let Some(h) = hints.next_if(|h| next_n.is_none_or(|next| h.n < next)) {
                let mut hint = self.event("Intervention", trace, code_state, &h.shown)?;
                hint[Col::EventInitiator as usize] = Some("ToolReaction".into());
                hint[Col::InterventionCategory as usize] = Some("Hint".into());
                hint[Col::InterventionType as usize] = Some(format!("{}:{}", h.kind, h.rule));
                let accepted = if h.accepted { "accepted" } else { "not accepted" };
                let recovered = recovery(trace, verdicts, i);
                hint[Col::InterventionMessage as usize] = Some(format!("[text not collected] {accepted}; {recovered}"));
                self.rows.push(hint);
            }
            previous = Some((code, code_state));
        }
        for id in first_event + 1..=self.next_event {
            ids.push("EventID", id.to_string());
        }
        Ok(())
    }
}

/// Whether the student recovered after a hint shown on state `i`, as the
/// teacher's dashboard counts it (`crate::dashboard::RECOVERY_RUNS`): one of
/// the next runs succeeded; or none did in that many runs; or the trace ends too soon.
fn recovery(trace: &SubjectTrace, verdicts: &Verdicts, i: usize) -> String {
    let after: Vec<bool> = trace.states[i + 1..]
        .iter()
        .take(RECOVERY_RUNS)
        .map(|s| verdicts.get(&s.code).is_ok_and(|o| o.result == RunResult::Success))
        .collect();
    if after.iter().any(|&ok| ok) {
        format!("recovered within {RECOVERY_RUNS} runs")
    } else if after.len() == RECOVERY_RUNS {
        format!("not recovered within {RECOVERY_RUNS} runs")
    } else {
        "recovery unknown (the trace ends)".into()
    }
}

/// One CSV field, quoted when it must be (RFC 4180).
pub fn csv_field(out: &mut impl Write, value: &str) -> std::io::Result<()> {
    if value.contains([',', '"', '\n', '\r']) || value.starts_with(' ') || value.ends_with(' ') {
        out.write_all(b"\"")?;
        out.write_all(value.replace('"', "\"\"").as_bytes())?;
        out.write_all(b"\"")
    } else {
        out.write_all(value.as_bytes())
    }
}

fn csv_line<'v>(out: &mut impl Write, values: impl IntoIterator<Item = &'v str>) -> std::io::Result<()> {
    for (i, v) in values.into_iter().enumerate() {
        if i > 0 {
            out.write_all(b",")?;
        }
        csv_field(out, v)?;
    }
    out.write_all(b"\n")
}

/// Writes the release's files into `dir`; returns each subject's event count and ids.
pub fn write(dir: &Path, data: &Dataset, verdicts: &Verdicts, study_id: &str) -> Result<Vec<(String, RowIds)>, ReleaseError> {
    let mut w = Writer { rows: Vec::new(), code_states: Vec::new(), next_event: 0, next_state: 0 };
    let mut per_subject: Vec<(String, RowIds)> = Vec::new();
    for trace in &data.traces {
        if per_subject.last().is_none_or(|(s, _)| *s != trace.subject_id) {
            per_subject.push((trace.subject_id.clone(), RowIds::default()));
        }
        if let Some((_, ids)) = per_subject.last_mut() {
            w.trace(trace, verdicts, ids)?;
        }
    }
    for (_, ids) in &mut per_subject {
        ids.rows = ids.count("EventID");
    }

    let mut main = BufWriter::new(File::create(dir.join(FILES[0]))?);
    csv_line(&mut main, COLUMNS)?;
    for row in &w.rows {
        csv_line(&mut main, row.iter().map(|v| v.as_deref().unwrap_or("")))?;
    }
    main.into_inner().map_err(|e| e.into_error())?.sync_all()?;

    let mut states = BufWriter::new(File::create(dir.join(FILES[1]))?);
    csv_line(&mut states, ["CodeStateID", "Code"])?;
    for (id, code) in &w.code_states {
        csv_line(&mut states, [id.to_string().as_str(), code])?;
    }
    states.into_inner().map_err(|e| e.into_error())?.sync_all()?;

    let mut meta = BufWriter::new(File::create(dir.join(FILES[2]))?);
    for line in [
        ["Property", "Value"],
        ["Version", VERSION],
        // One student's machine stamps every event of a title, in run order.
        ["IsEventOrderingConsistent", "true"],
        ["EventOrderScope", "Restricted"],
        ["EventOrderScopeColumns", "SubjectID;ProblemID"],
        ["CodeStateRepresentation", "Table"],
    ] {
        csv_line(&mut meta, line)?;
    }
    meta.into_inner().map_err(|e| e.into_error())?.sync_all()?;

    std::fs::write(dir.join(FILES[3]), readme(study_id))?;
    Ok(per_subject)
}

fn readme(study_id: &str) -> String {
    format!(
        "# Study {study_id}: ProgSnap 2 release\n\n\
Written by `pencil-hub release` from consented, scrubbed uploads (see release.json).\n\n\
- One program state = one run of the program in Pencil Code. Events per state: `File.Edit` \
(when the text changed since the previous state of that title), `Compile`, `Compile.Error` \
(when it did not compile), `Run.Program`, then `Intervention` for each hint shown on it.\n\
- `SubjectID` is a per-study pseudonym; `ProblemID` is the program's title; `CodeStateSection` \
names the title too (a Pencil Code program is one file).\n\
- Compile and run results are the pencil-sandbox verdict on the released (scrubbed) text, computed \
by the hub after collection: `File.Edit`, `Compile` and `Compile.Error` are marked `IsFabricatedEvent`. \
A program that stops, without error, waiting for input counts as `Success`.\n\
- `File.Edit` `EditType`: `Insert` when the new text extends the old at either end, `Delete` when it \
is cut at either end, else `Replace`.\n\
- `SourceLocation` is `Text:<line>:<column>` (1-based) in the CodeState's text.\n\
- `Intervention`: `InterventionType` is `<hint kind>:<rule>`; hint text is never collected, so \
`InterventionMessage` says only whether the student accepted the hint and whether one of the next 3 runs \
succeeded (\"recovered within 3 runs\"), as the teacher's dashboard counts it.\n\
- Timestamps are the student's machine's, in UTC, rounded as the study says.\n"
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timestamps_carry_an_offset_and_bad_ones_are_refused() {
        assert_eq!(timestamp("2026-01-02 03:04:05").ok().as_deref(), Some("2026-01-02T03:04:05+00:00"));
        assert!(timestamp("yesterday").is_err());
    }

    #[test]
    fn edit_types_follow_the_text() {
        assert_eq!(edit_type(None, "fd 1\n"), "Insert");
        assert_eq!(edit_type(Some("fd 1\n"), "fd 1\nrt 9\n"), "Insert");
        assert_eq!(edit_type(Some("fd 1\nrt 9\n"), "fd 1\n"), "Delete");
        assert_eq!(edit_type(Some("fd 1\n"), "fd 2\n"), "Replace");
    }

    #[test]
    fn csv_fields_are_quoted_only_when_needed() {
        let mut out = Vec::new();
        csv_line(&mut out, ["a", "b,c", "say \"hi\"\nfd 1"]).expect("write");
        assert_eq!(String::from_utf8(out).expect("utf8"), "a,\"b,c\",\"say \"\"hi\"\"\nfd 1\"\n");
    }
}
