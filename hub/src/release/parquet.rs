//! Parquet: `states.parquet` (one row per program state, with its verdict)
//! and, for studies that collect hints, `hints.parquet`. Written with the
//! `parquet` crate's column writer (no Arrow), Snappy-compressed pages, times
//! as UTC timestamps, so DuckDB, pandas or Spark read them as they are.

use std::fs::File;
use std::path::Path;
use std::sync::Arc;

use parquet::basic::Compression;
use parquet::data_type::{BoolType, ByteArray, ByteArrayType, Int32Type, Int64Type};
use parquet::file::properties::WriterProperties;
use parquet::file::writer::SerializedFileWriter;
use parquet::schema::parser::parse_message_type;

use super::dataset::Dataset;
use super::verdicts::Verdicts;
use super::{ReleaseError, RowIds};

/// The states table.
pub const STATES: &str = "states.parquet";
/// The hints table (only for studies that collect hints).
pub const HINTS: &str = "hints.parquet";

const STATES_SCHEMA: &str = "message states {
    REQUIRED BYTE_ARRAY subject_id (UTF8);
    REQUIRED BYTE_ARRAY title (UTF8);
    REQUIRED INT32 n;
    REQUIRED INT64 time (TIMESTAMP(MICROS,true));
    REQUIRED BYTE_ARRAY code (UTF8);
    REQUIRED BYTE_ARRAY execution_result (UTF8);
    REQUIRED BOOLEAN compile_error;
    OPTIONAL BYTE_ARRAY error_kind (UTF8);
    OPTIONAL BYTE_ARRAY error_message (UTF8);
    OPTIONAL INT32 error_line;
}";

const HINTS_SCHEMA: &str = "message hints {
    REQUIRED BYTE_ARRAY subject_id (UTF8);
    REQUIRED BYTE_ARRAY title (UTF8);
    REQUIRED INT32 n;
    REQUIRED INT64 shown (TIMESTAMP(MICROS,true));
    REQUIRED BYTE_ARRAY kind (UTF8);
    REQUIRED BYTE_ARRAY rule (UTF8);
    REQUIRED BOOLEAN accepted;
}";

/// Rows per row group: a reader can skip or parallelise by group.
const ROW_GROUP: usize = 64 * 1024;

/// One column's values for a row group, in schema order.
enum Column {
    Text(Vec<ByteArray>),
    OptionalText(Vec<Option<ByteArray>>),
    Int(Vec<i32>),
    OptionalInt(Vec<Option<i32>>),
    Micros(Vec<i64>),
    Flag(Vec<bool>),
}

fn text(s: &str) -> ByteArray {
    ByteArray::from(s.as_bytes().to_vec())
}

fn micros(time: &str) -> Result<i64, ReleaseError> {
    pencil_core::trace::parse_timestamp(time).map(|s| s * 1_000_000).ok_or_else(|| ReleaseError::BadTime(time.to_string()))
}

fn int(n: u32) -> Result<i32, ReleaseError> {
    i32::try_from(n).map_err(|_| ReleaseError::Parquet(format!("state number {n} does not fit INT32")))
}

/// Definition levels of an optional column and its present values.
fn levels<T: Clone>(values: &[Option<T>]) -> (Vec<i16>, Vec<T>) {
    (values.iter().map(|v| i16::from(v.is_some())).collect(), values.iter().flatten().cloned().collect())
}

/// Writes a table whose columns are built `ROW_GROUP` rows at a time by `group`.
fn write_table(
    path: &Path,
    schema: &str,
    rows: usize,
    mut group: impl FnMut(std::ops::Range<usize>) -> Result<Vec<Column>, ReleaseError>,
) -> Result<(), ReleaseError> {
    let schema = Arc::new(parse_message_type(schema)?);
    let props = Arc::new(WriterProperties::builder().set_compression(Compression::SNAPPY).build());
    let mut writer = SerializedFileWriter::new(File::create(path)?, schema, props)?;
    let mut start = 0;
    // An empty table still gets its schema (and no row group).
    while start < rows {
        let end = (start + ROW_GROUP).min(rows);
        let columns = group(start..end)?;
        let mut rg = writer.next_row_group()?;
        let mut i = 0;
        while let Some(mut col) = rg.next_column()? {
            let Some(data) = columns.get(i) else {
                return Err(ReleaseError::Parquet("fewer columns than the schema".into()));
            };
            match data {
                Column::Text(v) => col.typed::<ByteArrayType>().write_batch(v, None, None)?,
                Column::OptionalText(v) => {
                    let (defs, present) = levels(v);
                    col.typed::<ByteArrayType>().write_batch(&present, Some(&defs), None)?
                }
                Column::Int(v) => col.typed::<Int32Type>().write_batch(v, None, None)?,
                Column::OptionalInt(v) => {
                    let (defs, present) = levels(v);
                    col.typed::<Int32Type>().write_batch(&present, Some(&defs), None)?
                }
                Column::Micros(v) => col.typed::<Int64Type>().write_batch(v, None, None)?,
                Column::Flag(v) => col.typed::<BoolType>().write_batch(v, None, None)?,
            };
            col.close()?;
            i += 1;
        }
        rg.close()?;
        start = end;
    }
    writer.close()?;
    File::open(path)?.sync_all()?;
    Ok(())
}

/// Writes the tables into `dir`; each subject's row ids are its 0-based row
/// numbers in each file.
pub fn write(dir: &Path, data: &Dataset, verdicts: &Verdicts, hints: bool) -> Result<Vec<(String, RowIds)>, ReleaseError> {
    // Flat rows first: (trace index, state index) in release order.
    let states: Vec<(usize, usize)> =
        data.traces.iter().enumerate().flat_map(|(t, tr)| (0..tr.states.len()).map(move |s| (t, s))).collect();
    write_table(&dir.join(STATES), STATES_SCHEMA, states.len(), |range| {
        let rows = &states[range];
        let (mut subject, mut title, mut n, mut time, mut code) = (vec![], vec![], vec![], vec![], vec![]);
        let (mut result, mut compile, mut kind, mut message, mut line) = (vec![], vec![], vec![], vec![], vec![]);
        for &(t, s) in rows {
            let trace = &data.traces[t];
            let state = &trace.states[s];
            let outcome = verdicts.get(&state.code)?;
            subject.push(text(&trace.subject_id));
            title.push(text(&trace.title));
            n.push(int(state.n)?);
            time.push(micros(&state.time)?);
            code.push(text(&state.code));
            result.push(text(outcome.result.as_str()));
            compile.push(outcome.compile_failed);
            kind.push(outcome.fault.as_ref().map(|f| text(&f.kind)));
            message.push(outcome.fault.as_ref().map(|f| text(&f.message)));
            line.push(outcome.fault.as_ref().and_then(|f| f.line).map(int).transpose()?);
        }
        Ok(vec![
            Column::Text(subject),
            Column::Text(title),
            Column::Int(n),
            Column::Micros(time),
            Column::Text(code),
            Column::Text(result),
            Column::Flag(compile),
            Column::OptionalText(kind),
            Column::OptionalText(message),
            Column::OptionalInt(line),
        ])
    })?;

    let hint_rows: Vec<(usize, usize)> = if hints {
        data.traces.iter().enumerate().flat_map(|(t, tr)| (0..tr.hints.len()).map(move |h| (t, h))).collect()
    } else {
        Vec::new()
    };
    if hints {
        write_table(&dir.join(HINTS), HINTS_SCHEMA, hint_rows.len(), |range| {
            let (mut subject, mut title, mut n, mut shown, mut kind, mut rule, mut accepted) =
                (vec![], vec![], vec![], vec![], vec![], vec![], vec![]);
            for &(t, h) in &hint_rows[range] {
                let trace = &data.traces[t];
                let hint = &trace.hints[h];
                subject.push(text(&trace.subject_id));
                title.push(text(&trace.title));
                n.push(int(hint.n)?);
                shown.push(micros(&hint.shown)?);
                kind.push(text(&hint.kind));
                rule.push(text(&hint.rule));
                accepted.push(hint.accepted);
            }
            Ok(vec![
                Column::Text(subject),
                Column::Text(title),
                Column::Int(n),
                Column::Micros(shown),
                Column::Text(kind),
                Column::Text(rule),
                Column::Flag(accepted),
            ])
        })?;
    }

    let mut per_subject: std::collections::BTreeMap<&str, RowIds> = std::collections::BTreeMap::new();
    for (file, rows) in [(STATES, &states), (HINTS, &hint_rows)] {
        for (row, &(t, _)) in rows.iter().enumerate() {
            let ids = per_subject.entry(data.traces[t].subject_id.as_str()).or_default();
            ids.push(file, row.to_string());
            ids.rows += 1;
        }
    }
    Ok(per_subject.into_iter().map(|(s, ids)| (s.to_string(), ids)).collect())
}
