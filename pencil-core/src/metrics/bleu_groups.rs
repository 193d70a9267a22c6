//! BLEU over groups of traces sampled for the same student and title (the
//! paper's `TraceCollection.self_bleu` and `reference_bleu(mode="last")`).

use serde::Serialize;

use super::bleu::{quality_bleu, self_bleu};
use crate::trace::Trace;

/// BLEU figures of one (student, title) group of two or more traces.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct BleuGroup {
    /// The traces' record indices (`provenance.index`, else position), in file order.
    pub indices: Vec<usize>,
    /// The group's student.
    pub student: String,
    /// The group's title.
    pub title: String,
    /// Self-BLEU of the traces' last programs.
    pub self_bleu_last_programs: f64,
    /// BLEU of the first trace's last program against the second's.
    pub bleu_first_vs_second_last_program: f64,
}

/// BLEU figures of a group of traces, in the given order; `None` when fewer
/// than two of them have a program.
pub fn group_bleu(traces: &[&Trace]) -> Option<BleuGroup> {
    let with_programs: Vec<&Trace> = traces.iter().copied().filter(|t| !t.programs.is_empty()).collect();
    let lasts: Vec<&str> = with_programs.iter().filter_map(|t| t.last_program()).map(|p| p.code.as_str()).collect();
    let first = with_programs.first()?;
    Some(BleuGroup {
        indices: with_programs.iter().enumerate().map(|(i, t)| t.provenance.index.unwrap_or(i)).collect(),
        student: first.student.clone(),
        title: first.title.clone(),
        self_bleu_last_programs: self_bleu(&lasts)?,
        bleu_first_vs_second_last_program: quality_bleu(&lasts[..1], &lasts[1..2]),
    })
}

/// Groups traces by (student, title) in order of first appearance and scores
/// every group of two or more traces that have programs.
pub fn bleu_groups(traces: &[Trace]) -> Vec<BleuGroup> {
    let mut order: Vec<(&str, &str)> = Vec::new();
    let mut members: std::collections::HashMap<(&str, &str), Vec<usize>> = std::collections::HashMap::new();
    for (i, t) in traces.iter().enumerate() {
        let key = (t.student.as_str(), t.title.as_str());
        let entry = members.entry(key).or_default();
        if entry.is_empty() {
            order.push(key);
        }
        entry.push(i);
    }
    order
        .iter()
        .filter_map(|key| {
            let group: Vec<&Trace> = members.get(key)?.iter().map(|&i| &traces[i]).collect();
            group_bleu(&group)
        })
        .collect()
}
