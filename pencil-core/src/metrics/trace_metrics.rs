//! The paper's per-trace metric record (`Trace.get_metrics(do_include_boundary=True)`
//! plus the lists the golden files keep), computed in one pass.

use serde::ser::{Serialize, SerializeMap, Serializer};

use super::edit_distance::{distances_to_chars, sequential_distances_chars};
use super::edit_types::{trace_edit_counts, EditCounts};
use super::program_counts::{color_counts, num_comments, num_functions, num_occurrences, ColorCounts};
use crate::trace::{parse_timestamp, Trace};

/// A trace whose metrics cannot be computed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MetricsError {
    /// The trace has no program (the paper drops such traces).
    #[error("trace has no program")]
    NoPrograms,
    /// A timestamp is not `YYYY-MM-DD HH:MM:SS`.
    #[error("program {program}: timestamp {time:?} is not YYYY-MM-DD HH:MM:SS")]
    BadTimestamp {
        /// 1-based position of the program in the trace.
        program: usize,
        /// The timestamp as written.
        time: String,
    },
}

/// The paper's metric dictionary for one trace. Serialises with the paper's
/// keys and order (`trace_year_last_boundary=True`, ...).
#[derive(Debug, Clone, PartialEq)]
pub struct PaperMetrics {
    /// Year of the last program's timestamp.
    pub trace_year_last: i64,
    /// Number `n` in the last program's `CODE n (...)` header.
    pub program_number_last: u32,
    /// `\bbox\b` matches in the last program.
    pub num_occurrences_box_last: usize,
    /// `\bawait\b` matches in the last program.
    pub num_occurrences_await_last: usize,
    /// `\bturtle\b` matches in the last program.
    pub num_occurrences_turtle_last: usize,
    /// `=\s*->` matches in the last program.
    pub num_functions_last: usize,
    /// Comment tokens in the last program.
    pub num_comments_last: usize,
    /// Number of programs.
    pub trace_length_all: usize,
    /// Goal backtracking ratio.
    pub backtracking_ratio_all: f64,
    /// Mean edit distance of the earlier programs to the last one.
    pub mean_edit_distance_from_end_all: f64,
    /// Edit distance of the first program to the last one.
    pub first_to_last_edit_distance_all: f64,
    /// Mean edit distance between consecutive programs.
    pub mean_sequential_edit_distance_all: f64,
    /// Mean seconds between consecutive runs.
    pub mean_time_diff_all: f64,
    /// Seconds from the first run to the last.
    pub total_time_all: f64,
    /// `box` occurrences summed over programs.
    pub sum_num_occurrences_box_all: usize,
    /// `turtle` occurrences summed over programs.
    pub sum_num_occurrences_turtle_all: usize,
    /// Function definitions summed over programs.
    pub sum_num_functions_all: usize,
    /// Mean `box` occurrences per program.
    pub mean_num_occurrences_box_all: f64,
    /// Mean `turtle` occurrences per program.
    pub mean_num_occurrences_turtle_all: f64,
    /// Mean function definitions per program.
    pub mean_num_functions_all: f64,
    /// Edit counts summed over consecutive pairs (`edit_sum_*_all`); the
    /// `edit_mean_*_all` values are these divided by the number of programs.
    pub edit_sum: EditCounts,
}

impl PaperMetrics {
    /// `edit_mean_*_all`: each edit count divided by the number of programs.
    pub fn edit_mean(&self) -> [(&'static str, f64); 12] {
        let n = self.trace_length_all as f64;
        self.edit_sum.named().map(|(name, v)| (name, v as f64 / n))
    }
}

impl Serialize for PaperMetrics {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        const B: &str = "_boundary=True";
        let mut m = s.serialize_map(Some(44))?;
        m.serialize_entry(&format!("trace_year_last{B}"), &self.trace_year_last)?;
        m.serialize_entry(&format!("program_number_last{B}"), &self.program_number_last)?;
        m.serialize_entry(&format!("num_occurrences_box_last{B}"), &self.num_occurrences_box_last)?;
        m.serialize_entry(&format!("num_occurrences_await_last{B}"), &self.num_occurrences_await_last)?;
        m.serialize_entry(&format!("num_occurrences_turtle_last{B}"), &self.num_occurrences_turtle_last)?;
        m.serialize_entry(&format!("num_functions_last{B}"), &self.num_functions_last)?;
        m.serialize_entry(&format!("num_comments_last{B}"), &self.num_comments_last)?;
        m.serialize_entry(&format!("trace_length_all{B}"), &self.trace_length_all)?;
        m.serialize_entry(&format!("backtracking_ratio_all{B}"), &self.backtracking_ratio_all)?;
        m.serialize_entry(&format!("mean_edit_distance_from_end_all{B}"), &self.mean_edit_distance_from_end_all)?;
        m.serialize_entry(&format!("first_to_last_edit_distance_all{B}"), &self.first_to_last_edit_distance_all)?;
        m.serialize_entry(&format!("mean_sequential_edit_distance_all{B}"), &self.mean_sequential_edit_distance_all)?;
        m.serialize_entry(&format!("mean_time_diff_all{B}"), &self.mean_time_diff_all)?;
        m.serialize_entry(&format!("total_time_all{B}"), &self.total_time_all)?;
        m.serialize_entry(&format!("sum_num_occurrences_box_all{B}"), &self.sum_num_occurrences_box_all)?;
        m.serialize_entry(&format!("sum_num_occurrences_turtle_all{B}"), &self.sum_num_occurrences_turtle_all)?;
        m.serialize_entry(&format!("sum_num_functions_all{B}"), &self.sum_num_functions_all)?;
        m.serialize_entry(&format!("mean_num_occurrences_box_all{B}"), &self.mean_num_occurrences_box_all)?;
        m.serialize_entry(&format!("mean_num_occurrences_turtle_all{B}"), &self.mean_num_occurrences_turtle_all)?;
        m.serialize_entry(&format!("mean_num_functions_all{B}"), &self.mean_num_functions_all)?;
        for (name, v) in self.edit_sum.named() {
            m.serialize_entry(&format!("edit_sum_{name}_all{B}"), &v)?;
        }
        for (name, v) in self.edit_mean() {
            m.serialize_entry(&format!("edit_mean_{name}_all{B}"), &v)?;
        }
        m.end()
    }
}

/// Everything the golden files hold for one trace.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct TraceMetrics {
    /// The paper's metric dictionary.
    pub metrics: PaperMetrics,
    /// Edit distance of each program before the last to the last (`[0]` for one program).
    pub backtracking_dists: Vec<usize>,
    /// Edit distance between each pair of consecutive programs.
    pub sequential_edit_distances: Vec<usize>,
    /// Comment tokens in each program.
    pub num_comments_per_program: Vec<usize>,
    /// Non-zero color counts in the last program.
    pub colors_last: ColorCounts,
}

/// numpy's mean of integers: exact sum, one division (0 for no values, the
/// paper's boundary value).
fn mean(values: &[usize]) -> f64 {
    if values.is_empty() {
        0.0
    } else {
        values.iter().sum::<usize>() as f64 / values.len() as f64
    }
}

/// Goal backtracking ratio: the share of steps where the distance to the goal grows.
pub fn backtracking_ratio(dists: &[usize]) -> f64 {
    if dists.is_empty() {
        return 0.0;
    }
    let increases = dists.windows(2).filter(|w| w[1] > w[0]).count();
    increases as f64 / dists.len() as f64
}

/// Computes the paper's whole metric record of one trace, programs as written
/// (consecutive duplicates count).
pub fn trace_metrics(trace: &Trace) -> Result<TraceMetrics, MetricsError> {
    let programs: Vec<&str> = trace.codes().collect();
    let (Some(&last), Some(last_state)) = (programs.last(), trace.programs.last()) else {
        return Err(MetricsError::NoPrograms);
    };
    let times = trace
        .programs
        .iter()
        .enumerate()
        .map(|(i, p)| parse_timestamp(&p.time).ok_or_else(|| MetricsError::BadTimestamp { program: i + 1, time: p.time.clone() }))
        .collect::<Result<Vec<i64>, _>>()?;
    let n = programs.len();

    let chars: Vec<Vec<char>> = programs.iter().map(|p| p.chars().collect()).collect();
    let dists = if n == 1 { vec![0] } else { distances_to_chars(&chars[..n - 1], &chars[n - 1]) };
    let ratio = if n == 1 { 0.0 } else { backtracking_ratio(&dists) };
    let sequential = sequential_distances_chars(&chars);
    // Whole seconds, so the float sum numpy takes is exact and equals this one.
    let mean_time_diff = if n == 1 { 0.0 } else { (times[n - 1] - times[0]) as f64 / (n - 1) as f64 };

    let box_counts: Vec<usize> = programs.iter().map(|p| num_occurrences(p, "box")).collect();
    let turtle_counts: Vec<usize> = programs.iter().map(|p| num_occurrences(p, "turtle")).collect();
    let function_counts: Vec<usize> = programs.iter().map(|p| num_functions(p)).collect();
    let comments: Vec<usize> = programs.iter().map(|p| num_comments(p)).collect();
    let edit_sum = trace_edit_counts(programs.iter().copied());

    let metrics = PaperMetrics {
        // A timestamp that parsed starts with four ASCII digits.
        trace_year_last: last_state.time.get(..4).and_then(|y| y.parse().ok()).unwrap_or_default(),
        program_number_last: last_state.n,
        num_occurrences_box_last: box_counts[n - 1],
        num_occurrences_await_last: num_occurrences(last, "await"),
        num_occurrences_turtle_last: turtle_counts[n - 1],
        num_functions_last: function_counts[n - 1],
        num_comments_last: comments[n - 1],
        trace_length_all: n,
        backtracking_ratio_all: ratio,
        mean_edit_distance_from_end_all: mean(&dists),
        first_to_last_edit_distance_all: dists[0] as f64,
        mean_sequential_edit_distance_all: mean(&sequential),
        mean_time_diff_all: mean_time_diff,
        total_time_all: (times[n - 1] - times[0]) as f64,
        sum_num_occurrences_box_all: box_counts.iter().sum(),
        sum_num_occurrences_turtle_all: turtle_counts.iter().sum(),
        sum_num_functions_all: function_counts.iter().sum(),
        mean_num_occurrences_box_all: mean(&box_counts),
        mean_num_occurrences_turtle_all: mean(&turtle_counts),
        mean_num_functions_all: mean(&function_counts),
        edit_sum,
    };
    Ok(TraceMetrics {
        metrics,
        backtracking_dists: dists,
        sequential_edit_distances: sequential,
        num_comments_per_program: comments,
        colors_last: color_counts(last),
    })
}
