//! A student's own data, on request: what is stored, all of it as a corpus the
//! trainer reads, deletion that leaves nothing behind, and expiry after a
//! retention period.
//!
//! Deletion is one transaction (so a kill leaves either everything or nothing
//! deleted), with `secure_delete` on (the store sets it at open) so the freed
//! pages are zeroed; a truncating checkpoint then writes those zeroed pages into
//! the main file and empties the WAL, and `VACUUM` shrinks the file. A kill
//! during `VACUUM` loses only the vacuum: the deletion was already committed and
//! checkpointed.

use super::database::Database;
use super::StoreError;
use pencil_core::trace::{ProgramState, Provenance, Trace};
use rusqlite::params;

/// One title's share of the store.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct TitleSummary {
    /// The program's title.
    pub title: String,
    /// Distinct program states recorded.
    pub states: i64,
    /// Runs (and saves) recorded, counting collapsed repeats.
    pub runs: i64,
    /// Time of the first state (`YYYY-MM-DD HH:MM:SS` UTC).
    pub first: String,
    /// Time of the latest state.
    pub last: String,
}

/// Everything the store holds, counted (`pencil-lsp data show`).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct DataSummary {
    /// Per title, by title.
    pub titles: Vec<TitleSummary>,
    /// Hints and fixes shown.
    pub hints_shown: i64,
    /// Of those, accepted.
    pub hints_accepted: i64,
    /// Student ids with recorded states (this installation's, plus any replayed corpus students).
    pub students: i64,
}

/// What a deletion covers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DeleteScope {
    /// Every program state, hint and title.
    All,
    /// One title's states and their hints.
    Title(String),
}

/// What a deletion removed.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
pub struct DeleteReport {
    /// Program states removed.
    pub states: usize,
    /// Hints removed with them.
    pub hints: usize,
}

impl Database {
    /// Counts per title, hints, and students.
    pub fn summary(&self) -> Result<DataSummary, StoreError> {
        let mut stmt = self.conn.prepare(
            "SELECT t.name, count(*), sum(s.runs), min(s.time), max(s.time)
             FROM program_states s JOIN titles t ON t.id = s.title_id
             GROUP BY t.name ORDER BY t.name",
        )?;
        let titles = stmt
            .query_map([], |r| {
                Ok(TitleSummary { title: r.get(0)?, states: r.get(1)?, runs: r.get(2)?, first: r.get(3)?, last: r.get(4)? })
            })?
            .collect::<Result<Vec<_>, _>>()?;
        let (hints_shown, hints_accepted) = self.conn.query_row(
            "SELECT count(*), count(accepted_at) FROM hints",
            [],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )?;
        let students = self.conn.query_row("SELECT count(DISTINCT student_id) FROM program_states", [], |r| r.get(0))?;
        Ok(DataSummary { titles, hints_shown, hints_accepted, students })
    }

    /// Every recorded trace, one per (student, title), states in order, in the
    /// corpus format (`eos` false: the store cannot know a trace is finished).
    pub fn export_traces(&self) -> Result<Vec<Trace>, StoreError> {
        let mut stmt = self.conn.prepare(
            "SELECT s.student_id, t.name, s.n, s.time, s.code
             FROM program_states s JOIN titles t ON t.id = s.title_id
             ORDER BY s.student_id, t.name, s.n",
        )?;
        let mut rows = stmt.query([])?;
        let mut traces: Vec<Trace> = Vec::new();
        while let Some(r) = rows.next()? {
            let (student, title): (String, String) = (r.get(0)?, r.get(1)?);
            let n: i64 = r.get(2)?;
            let state = ProgramState { n: u32::try_from(n).unwrap_or(u32::MAX), time: r.get(3)?, code: r.get(4)? };
            match traces.last_mut() {
                Some(t) if t.student == student && t.title == title => t.programs.push(state),
                _ => traces.push(Trace {
                    student,
                    title,
                    programs: vec![state],
                    eos: false,
                    provenance: Provenance { source: "editor".into(), file: None, index: None },
                }),
            }
        }
        Ok(traces)
    }

    /// Deletes what `scope` covers, then removes every trace of it from the
    /// files (checkpoint into the main file, empty WAL, `VACUUM`). `on_committed`
    /// runs once the deletion is committed and checkpointed, just before `VACUUM`.
    pub fn delete_data(&mut self, scope: &DeleteScope, on_committed: impl FnOnce(&DeleteReport)) -> Result<DeleteReport, StoreError> {
        let tx = self.conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
        let report = match scope {
            DeleteScope::All => {
                // The learned vector was fitted on these states: it goes with them.
                tx.execute("DELETE FROM student_vectors", [])?;
                let hints = tx.execute("DELETE FROM hints", [])?;
                let states = tx.execute("DELETE FROM program_states", [])?;
                tx.execute("DELETE FROM titles", [])?;
                // Reflections and hands not yet sent hold the student's words and code.
                tx.execute("DELETE FROM reflections", [])?;
                tx.execute("DELETE FROM class_hands", [])?;
                DeleteReport { states, hints }
            }
            DeleteScope::Title(title) => {
                tx.execute("DELETE FROM student_vectors", [])?;
                let hints = tx.execute(
                    "DELETE FROM hints WHERE state_id IN
                     (SELECT s.id FROM program_states s JOIN titles t ON t.id = s.title_id WHERE t.name = ?1)",
                    params![title],
                )?;
                let states = tx.execute(
                    "DELETE FROM program_states WHERE title_id IN (SELECT id FROM titles WHERE name = ?1)",
                    params![title],
                )?;
                tx.execute("DELETE FROM titles WHERE name = ?1", params![title])?;
                tx.execute("DELETE FROM reflections WHERE title = ?1", params![title])?;
                tx.execute("DELETE FROM class_hands WHERE title = ?1", params![title])?;
                DeleteReport { states, hints }
            }
        };
        tx.commit()?;
        self.checkpoint()?;
        on_committed(&report);
        self.conn.execute_batch("VACUUM")?;
        self.checkpoint()?;
        Ok(report)
    }

    /// Removes program states last run before `cutoff` (a trace timestamp), with
    /// their hints, in one transaction; returns how many states went.
    pub fn expire_before(&mut self, cutoff: &str) -> Result<DeleteReport, StoreError> {
        let tx = self.conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
        let hints = tx.execute(
            "DELETE FROM hints WHERE state_id IN (SELECT id FROM program_states WHERE time < ?1)",
            params![cutoff],
        )?;
        let states = tx.execute("DELETE FROM program_states WHERE time < ?1", params![cutoff])?;
        tx.execute("DELETE FROM titles WHERE id NOT IN (SELECT title_id FROM program_states)", [])?;
        tx.commit()?;
        if states > 0 {
            self.checkpoint()?;
        }
        Ok(DeleteReport { states, hints })
    }

    /// Writes the WAL into the main file and truncates it to zero bytes.
    fn checkpoint(&mut self) -> Result<(), StoreError> {
        // The pragma returns (busy, log frames, checkpointed frames); busy = 1 means
        // another connection kept it from finishing, which a later checkpoint completes.
        let _: (i64, i64, i64) =
            self.conn.query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::Trigger;

    fn store_with(states: &[(&str, &str, &str)]) -> (tempfile::TempDir, Database, String) {
        let dir = tempfile::tempdir().expect("tempdir");
        let (mut db, _) = Database::open_in(dir.path()).expect("open");
        let me = db.local_student().expect("student");
        for (title, code, time) in states {
            db.record_state(&me, title, code, time, Trigger::Run).expect("record");
        }
        (dir, db, me)
    }

    #[test]
    fn summary_counts_per_title() {
        let (_dir, mut db, me) = store_with(&[
            ("car", "fd 1", "2024-01-01 10:00:00"),
            ("car", "fd 1", "2024-01-01 10:00:05"),
            ("car", "fd 2", "2024-01-01 10:01:00"),
            ("house", "rt 90", "2024-01-02 09:00:00"),
        ]);
        let s = db.record_state(&me, "house", "rt 45", "2024-01-02 09:00:30", Trigger::Run).expect("r");
        let hint = crate::store::HintRecord {
            state_id: s.id,
            kind: "quick_fix".into(),
            rule: "r".into(),
            title: "t".into(),
            replacement: "rt 45".into(),
            shown_at: "2024-01-02 09:00:31".into(),
        };
        let h = db.record_hint(&hint).expect("hint");
        db.accept_hint(h, "2024-01-02 09:00:40").expect("accept");
        let summary = db.summary().expect("summary");
        assert_eq!(
            summary.titles,
            vec![
                TitleSummary { title: "car".into(), states: 2, runs: 3, first: "2024-01-01 10:00:05".into(), last: "2024-01-01 10:01:00".into() },
                TitleSummary { title: "house".into(), states: 2, runs: 2, first: "2024-01-02 09:00:00".into(), last: "2024-01-02 09:00:30".into() },
            ]
        );
        assert_eq!((summary.hints_shown, summary.hints_accepted, summary.students), (1, 1, 1));
    }

    #[test]
    fn export_reads_back_as_a_corpus() {
        let (_dir, db, me) = store_with(&[
            ("car", "fd 1\n", "2024-01-01 10:00:00"),
            ("car", "fd 2\n", "2024-01-01 10:01:00"),
            ("house", "rt 90\n", "2024-01-02 09:00:00"),
        ]);
        let traces = db.export_traces().expect("export");
        let mut out = Vec::new();
        pencil_core::corpus::write_jsonl(&mut out, &traces).expect("write");
        let text = String::from_utf8(out).expect("utf8");
        let corpus = pencil_core::corpus::read_jsonl_str("export", &text, Default::default()).expect("reads back");
        assert_eq!(corpus.traces.len(), 2);
        assert_eq!(corpus.traces[0].student, me);
        assert_eq!(corpus.traces[0].codes().collect::<Vec<_>>(), vec!["fd 1\n", "fd 2\n"]);
        assert_eq!(corpus.traces[1].title, "house");
    }

    #[test]
    fn deleting_one_title_keeps_the_others() {
        let (_dir, mut db, me) =
            store_with(&[("car", "fd 1", "2024-01-01 10:00:00"), ("house", "rt 90", "2024-01-02 09:00:00")]);
        let mut committed = None;
        let report = db.delete_data(&DeleteScope::Title("car".into()), |r| committed = Some(*r)).expect("delete");
        assert_eq!(report, DeleteReport { states: 1, hints: 0 });
        assert_eq!(committed, Some(report));
        assert!(db.states(&me, "car").expect("states").is_empty());
        assert_eq!(db.states(&me, "house").expect("states").len(), 1);
        assert_eq!(db.summary().expect("summary").titles.len(), 1);
    }

    #[test]
    fn retention_removes_exactly_the_expired_states() {
        let (_dir, mut db, me) = store_with(&[
            ("car", "fd 1", "2024-01-01 10:00:00"),
            ("car", "fd 2", "2024-01-05 10:00:00"),
            ("old", "rt 1", "2023-12-01 00:00:00"),
            ("new", "rt 2", "2024-02-01 00:00:00"),
        ]);
        let report = db.expire_before("2024-01-05 10:00:00").expect("expire");
        assert_eq!(report.states, 2);
        let left: Vec<String> = db.export_traces().expect("export").into_iter().flat_map(|t| t.programs).map(|p| p.code).collect();
        assert_eq!(left, vec!["fd 2".to_string(), "rt 2".to_string()]);
        assert!(db.states(&me, "old").expect("states").is_empty());
        assert_eq!(db.summary().expect("summary").titles.iter().map(|t| t.title.as_str()).collect::<Vec<_>>(), vec!["car", "new"]);
        // Nothing more to expire at the same cutoff.
        assert_eq!(db.expire_before("2024-01-05 10:00:00").expect("again").states, 0);
    }
}
