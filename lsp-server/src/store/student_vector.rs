//! The student's learned vector (`crate::adaptation`) and the traces it is
//! learned from. The vector is stored with the sha256 of the `model.onnx` it was
//! fitted for: a vector only means something to the model it was fitted on.

use super::database::Database;
use super::StoreError;
use pencil_core::trace::{ProgramState, Provenance, Trace};
use rusqlite::{params, OptionalExtension as _};

/// One stored vector and how it was learned.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct StudentVectorRow {
    /// Whose vector.
    pub student: String,
    /// sha256 of the `model.onnx` it was fitted for.
    pub model_sha256: String,
    /// The vector `[student_dim]`.
    pub vector: Vec<f32>,
    /// Traces it was learned from (a held-back trace included).
    pub traces: i64,
    /// Tokens the loss was computed over.
    pub tokens: i64,
    /// Optimiser steps taken.
    pub steps: i64,
    /// Loss per token of the held-back trace with the unseen-student vector.
    pub held_out_before: Option<f64>,
    /// The same with the learned vector.
    pub held_out_after: Option<f64>,
    /// The student's recorded program states when it was learned (unchanged: nothing to relearn).
    pub source_states: i64,
    /// When (`YYYY-MM-DD HH:MM:SS` UTC).
    pub learned_at: String,
}

/// How much of the store one adaptation reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AdaptationLimits {
    /// Newest titles.
    pub traces: usize,
    /// First states of each.
    pub states_per_trace: usize,
    /// Characters of each state's code.
    pub chars_per_state: usize,
}

fn to_blob(v: &[f32]) -> Vec<u8> {
    v.iter().flat_map(|x| x.to_le_bytes()).collect()
}

fn from_blob(b: &[u8]) -> Vec<f32> {
    b.chunks_exact(4).map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]])).collect()
}

impl Database {
    /// Stores (replacing) a student's vector.
    pub fn save_student_vector(&mut self, row: &StudentVectorRow) -> Result<(), StoreError> {
        let tx = self.conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
        tx.execute("INSERT OR IGNORE INTO students (id, created) VALUES (?1, ?2)", params![row.student, row.learned_at])?;
        tx.execute(
            "INSERT OR REPLACE INTO student_vectors (student_id, model_sha256, vector, traces, tokens, steps,
                 held_out_before, held_out_after, source_states, learned_at)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
            params![
                row.student,
                row.model_sha256,
                to_blob(&row.vector),
                row.traces,
                row.tokens,
                row.steps,
                row.held_out_before,
                row.held_out_after,
                row.source_states,
                row.learned_at
            ],
        )?;
        tx.commit()?;
        Ok(())
    }

    /// A student's stored vector, whatever model it was fitted for.
    pub fn student_vector(&self, student: &str) -> Result<Option<StudentVectorRow>, StoreError> {
        Ok(self
            .conn
            .query_row(
                "SELECT model_sha256, vector, traces, tokens, steps, held_out_before, held_out_after, source_states, learned_at
                 FROM student_vectors WHERE student_id = ?1",
                params![student],
                |r| {
                    Ok(StudentVectorRow {
                        student: student.to_string(),
                        model_sha256: r.get(0)?,
                        vector: from_blob(&r.get::<_, Vec<u8>>(1)?),
                        traces: r.get(2)?,
                        tokens: r.get(3)?,
                        steps: r.get(4)?,
                        held_out_before: r.get(5)?,
                        held_out_after: r.get(6)?,
                        source_states: r.get(7)?,
                        learned_at: r.get(8)?,
                    })
                },
            )
            .optional()?)
    }

    /// Forgets a student's vector; whether there was one.
    pub fn forget_student_vector(&mut self, student: &str) -> Result<bool, StoreError> {
        Ok(self.conn.execute("DELETE FROM student_vectors WHERE student_id = ?1", params![student])? > 0)
    }

    /// Program states recorded for a student.
    pub fn state_count(&self, student: &str) -> Result<i64, StoreError> {
        Ok(self.conn.query_row("SELECT count(*) FROM program_states WHERE student_id = ?1", params![student], |r| r.get(0))?)
    }

    /// A student's newest traces (by their latest state), each its first states and
    /// each state's code cut, oldest trace first: what one adaptation reads, bounded
    /// whatever the store holds. `eos` is false, as in [`Database::export_traces`].
    pub fn adaptation_traces(&self, student: &str, limits: AdaptationLimits) -> Result<Vec<Trace>, StoreError> {
        let mut titles = self.conn.prepare(
            "SELECT t.id, t.name, max(s.time) AS last FROM program_states s JOIN titles t ON t.id = s.title_id
             WHERE s.student_id = ?1 GROUP BY t.id ORDER BY last DESC, t.name LIMIT ?2",
        )?;
        let newest: Vec<(i64, String)> = titles
            .query_map(params![student, i64::try_from(limits.traces).unwrap_or(i64::MAX)], |r| Ok((r.get(0)?, r.get(1)?)))?
            .collect::<Result<_, _>>()?;
        let mut states = self.conn.prepare(
            "SELECT n, time, substr(code, 1, ?3) FROM program_states WHERE student_id = ?1 AND title_id = ?2 ORDER BY n LIMIT ?4",
        )?;
        let mut traces = Vec::with_capacity(newest.len());
        for (title_id, title) in newest.into_iter().rev() {
            let programs = states
                .query_map(
                    params![
                        student,
                        title_id,
                        i64::try_from(limits.chars_per_state).unwrap_or(i64::MAX),
                        i64::try_from(limits.states_per_trace).unwrap_or(i64::MAX)
                    ],
                    |r| Ok(ProgramState { n: u32::try_from(r.get::<_, i64>(0)?).unwrap_or(u32::MAX), time: r.get(1)?, code: r.get(2)? }),
                )?
                .collect::<Result<Vec<_>, _>>()?;
            traces.push(Trace {
                student: student.to_string(),
                title,
                programs,
                eos: false,
                provenance: Provenance { source: "editor".into(), file: None, index: None },
            });
        }
        Ok(traces)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::{DeleteScope, Trigger};

    fn row(student: &str) -> StudentVectorRow {
        StudentVectorRow {
            student: student.into(),
            model_sha256: "ab".repeat(32),
            vector: vec![0.5, -1.25, 3.0],
            traces: 3,
            tokens: 300,
            steps: 12,
            held_out_before: Some(2.0),
            held_out_after: Some(1.5),
            source_states: 7,
            learned_at: "2031-01-01 00:00:00".into(),
        }
    }

    #[test]
    fn a_vector_round_trips_and_is_forgotten() {
        let dir = tempfile::tempdir().expect("tempdir");
        let (mut db, _) = Database::open_in(dir.path()).expect("open");
        let me = db.local_student().expect("student");
        assert_eq!(db.student_vector(&me).expect("read"), None);
        db.save_student_vector(&row(&me)).expect("save");
        assert_eq!(db.student_vector(&me).expect("read"), Some(row(&me)));
        assert!(db.forget_student_vector(&me).expect("forget"));
        assert!(!db.forget_student_vector(&me).expect("forget again"));
        assert_eq!(db.student_vector(&me).expect("read"), None);
    }

    #[test]
    fn deleting_data_deletes_the_vector_learned_from_it() {
        let dir = tempfile::tempdir().expect("tempdir");
        let (mut db, _) = Database::open_in(dir.path()).expect("open");
        let me = db.local_student().expect("student");
        db.record_state(&me, "a", "fd 1", "2031-01-01 00:00:00", Trigger::Run).expect("record");
        db.save_student_vector(&row(&me)).expect("save");
        db.delete_data(&DeleteScope::Title("a".into()), |_| ()).expect("delete");
        assert_eq!(db.student_vector(&me).expect("read"), None);
    }

    #[test]
    fn adaptation_reads_the_newest_traces_cut_to_the_limits() {
        let dir = tempfile::tempdir().expect("tempdir");
        let (mut db, _) = Database::open_in(dir.path()).expect("open");
        let me = db.local_student().expect("student");
        for (title, minute) in [("old", 1), ("mid", 2), ("new", 3)] {
            for i in 0..5 {
                let code = format!("fd {i}\n{}", "x".repeat(100));
                db.record_state(&me, title, &code, &format!("2031-01-01 00:0{minute}:0{i}"), Trigger::Run).expect("record");
            }
        }
        let limits = AdaptationLimits { traces: 2, states_per_trace: 3, chars_per_state: 10 };
        let traces = db.adaptation_traces(&me, limits).expect("traces");
        assert_eq!(traces.iter().map(|t| t.title.as_str()).collect::<Vec<_>>(), ["mid", "new"]);
        assert!(traces.iter().all(|t| t.programs.len() == 3 && t.programs.iter().all(|p| p.code.chars().count() == 10)));
        assert_eq!(db.state_count(&me).expect("count"), 15);
    }
}
