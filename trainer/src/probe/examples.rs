//! The probe's examples: trace prefixes and what happens after them.
//!
//! On a collapsed trace `p_0..p_{T-1}` (goal `p_{T-1}`) with the paper's
//! distances `dists[i] = d(p_i, p_{T-1})`, prefix `k` (`1 <= k <= T-1`) is
//! `p_0..p_{k-1}`. It is left out when it already holds the final program
//! (some `p_j == p_{T-1}`, `j < k`): the student has been at the goal, so
//! "later" is no longer about reaching it. Its targets:
//!
//! - backtracks later: some step from the current program on moves away from
//!   the goal, `dists[j + 1] > dists[j]` for a `j` in `k-1..T-1` (the step
//!   into the goal itself never does, its distance is 0);
//! - future attempts: `T - k` states still to come;
//! - remaining distance: `dists[k-1]`.

use pencil_core::metrics::edit_distance::distances_to;
use pencil_core::Trace;

/// Targets of one prefix of a trace.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PrefixLabel {
    /// Number of program states in the prefix (`1..T`).
    pub k: usize,
    /// Whether the distance to the final program increases at some later step.
    pub backtracks_later: bool,
    /// Program states still to come (`T - k`).
    pub future_attempts: usize,
    /// Edit distance from the prefix's last program to the final one.
    pub remaining_distance: usize,
}

/// Labels of a trace's eligible prefixes and how many were left out.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TraceLabels {
    /// Eligible prefixes in order of `k`.
    pub prefixes: Vec<PrefixLabel>,
    /// Prefixes left out because they already contain the final program.
    pub excluded_at_goal: usize,
}

/// Labels every prefix of a collapsed trace (one with no consecutive
/// duplicates; see `Trace::collapsed`).
pub fn label_prefixes(trace: &Trace) -> TraceLabels {
    let codes: Vec<&str> = trace.codes().collect();
    let Some((&goal, _)) = codes.split_last() else { return TraceLabels::default() };
    let t = codes.len();
    let dists = distances_to(&codes, goal);
    // rises_from[j]: some step at or after j moves away from the goal.
    let mut rises_from = vec![false; t];
    for j in (0..t.saturating_sub(1)).rev() {
        rises_from[j] = dists[j + 1] > dists[j] || rises_from[j + 1];
    }
    let mut out = TraceLabels::default();
    let mut reached_goal = false;
    for k in 1..t {
        reached_goal |= codes[k - 1] == goal;
        if reached_goal {
            out.excluded_at_goal += 1;
            continue;
        }
        out.prefixes.push(PrefixLabel {
            k,
            backtracks_later: rises_from[k - 1],
            future_attempts: t - k,
            remaining_distance: dists[k - 1],
        });
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use pencil_core::metrics::edit_distance::edit_distance;
    use pencil_core::{ProgramState, Provenance};

    fn trace(codes: &[&str]) -> Trace {
        Trace {
            student: "s".into(),
            title: "t".into(),
            programs: codes
                .iter()
                .enumerate()
                .map(|(i, c)| ProgramState { n: i as u32 + 1, time: format!("2019-05-09 16:18:{:02}", i), code: (*c).into() })
                .collect(),
            eos: true,
            provenance: Provenance::default(),
        }
    }

    #[test]
    fn steady_progress_never_backtracks() {
        let t = trace(&["pen red\n", "pen red\nfd 10\n", "pen red\nfd 100\n", "pen red\nfd 100\nrt 90\n"]);
        let l = label_prefixes(&t);
        assert_eq!(l.excluded_at_goal, 0);
        assert_eq!(l.prefixes.iter().map(|p| p.k).collect::<Vec<_>>(), vec![1, 2, 3]);
        assert!(l.prefixes.iter().all(|p| !p.backtracks_later));
        assert_eq!(l.prefixes.iter().map(|p| p.future_attempts).collect::<Vec<_>>(), vec![3, 2, 1]);
        let goal = "pen red\nfd 100\nrt 90\n";
        assert_eq!(l.prefixes[0].remaining_distance, edit_distance("pen red\n", goal));
        assert_eq!(l.prefixes[2].remaining_distance, edit_distance("pen red\nfd 100\n", goal));
    }

    #[test]
    fn a_later_step_away_from_the_goal_marks_every_earlier_prefix() {
        // d: p0 -> goal small, p1 close, p2 far away (a rise at step 1 -> 2), p3 the goal.
        let goal = "pen red\nfd 100\nrt 90\n";
        let t = trace(&["pen red\nfd 100\n", "pen red\nfd 100\nrt 9\n", "zzzzzzzzzzzzzzzzzzzzzzzzzzzzzzz\n", goal]);
        let codes: Vec<&str> = t.codes().collect();
        let d = distances_to(&codes, goal);
        assert!(d[2] > d[1], "the hand-made trace has its rise where intended: {d:?}");
        let l = label_prefixes(&t);
        let got: Vec<(usize, bool)> = l.prefixes.iter().map(|p| (p.k, p.backtracks_later)).collect();
        // Prefixes 1 and 2 end before the rise; prefix 3 ends on the far program,
        // whose only later step goes into the goal, which cannot be a rise.
        assert_eq!(got, vec![(1, true), (2, true), (3, false)]);
    }

    #[test]
    fn prefixes_that_already_hold_the_final_program_are_left_out() {
        let goal = "pen red\nfd 100\n";
        // The student reaches the goal at state 2, wanders off, and comes back.
        let t = trace(&["pen red\n", goal, "pen blue\nfd 100\nrt 5\n", goal]);
        let l = label_prefixes(&t);
        assert_eq!(l.prefixes.len(), 1);
        assert_eq!(l.excluded_at_goal, 2);
        let p = l.prefixes[0];
        // From prefix 1 on, the wander (goal -> far) is a rise.
        assert_eq!((p.k, p.backtracks_later, p.future_attempts), (1, true, 3));
        // A one-state trace has no prefix; neither has an empty one.
        assert_eq!(label_prefixes(&trace(&["fd 1\n"])), TraceLabels::default());
        assert_eq!(label_prefixes(&trace(&[])), TraceLabels::default());
    }
}
