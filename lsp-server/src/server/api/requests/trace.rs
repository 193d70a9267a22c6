//! `pencil/trace`: the title's recorded program states, each with its diff to the one before.

use crate::error::ServerError;
use crate::protocol::{TraceParams, TraceResult, TraceState, MAX_TRACE_STATES};
use crate::server::actions::Action;
use crate::server::trust::Peer;
use crate::server::{services, PencilServer};
use crate::session::title_of;
use crate::store::StoredState;
use tower_lsp_server::jsonrpc::Result;

/// Over WebSocket only with the student's confirmation (`guarded`); over stdio at once.
pub(in crate::server) async fn handle(server: &PencilServer, params: TraceParams) -> Result<serde_json::Value> {
    if server.peer != Peer::Stdio {
        let action = Action::ReadTrace { title: title_of(&params.text_document.uri), limit: params.limit };
        return super::guarded::guarded(server, action).await;
    }
    let Some(services) = services(server) else {
        return Err(ServerError::Unchecked("the server is not initialized".into()).into());
    };
    let title = title_of(&params.text_document.uri);
    let Some(store) = services.store.clone() else {
        return Err(ServerError::Unchecked("no store: nothing was recorded".into()).into());
    };
    let (student, t) = (services.local_student(), title.clone());
    let states = store.call(move |db| db.states(&student, &t)).await.map_err(|e| ServerError::Unchecked(e.to_string()))?;
    Ok(serde_json::to_value(trace_result(title, states, params.limit)).unwrap_or_default())
}

/// The answer for `states` (oldest first), keeping the last `limit`.
pub(crate) fn trace_result(title: String, states: Vec<StoredState>, limit: Option<usize>) -> TraceResult {
    let keep = limit.unwrap_or(MAX_TRACE_STATES).clamp(1, MAX_TRACE_STATES);
    let skip = states.len().saturating_sub(keep);
    let mut out = Vec::with_capacity(states.len() - skip);
    for (i, s) in states.iter().enumerate().skip(skip) {
        let diff = match i.checked_sub(1).and_then(|j| states.get(j)) {
            Some(before) => line_diff(&before.code, &s.code),
            None => String::new(),
        };
        out.push(TraceState {
            id: s.id,
            n: s.n,
            time: s.time.clone(),
            runs: s.runs,
            status: s.result.as_ref().map(|r| r.status.clone()),
            code: s.code.clone(),
            diff,
        });
    }
    TraceResult { title, states: out, truncated: skip > 0 }
}

/// A unified diff with one line of context: small enough to read in a timeline.
fn line_diff(before: &str, after: &str) -> String {
    similar::TextDiff::from_lines(before, after).unified_diff().context_radius(1).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn state(n: i64, code: &str) -> StoredState {
        StoredState { id: n * 10, n, time: format!("2026-12-06 12:00:{n:02}"), code: code.into(), runs: 1, result: None }
    }

    #[test]
    fn each_state_carries_its_diff_to_the_one_before() {
        let states = vec![state(1, "pen red\nfd 10\n"), state(2, "pen red\nfd 100\n"), state(3, "pen red\nfd 100\nrt 90\n")];
        let t = trace_result("car".into(), states, None);
        assert_eq!(t.states.len(), 3);
        assert!(!t.truncated);
        assert_eq!(t.states[0].diff, "");
        assert!(t.states[1].diff.contains("-fd 10\n+fd 100\n"), "{}", t.states[1].diff);
        assert!(t.states[2].diff.contains("+rt 90\n") && !t.states[2].diff.contains("-fd"), "{}", t.states[2].diff);
    }

    #[test]
    fn a_limit_keeps_the_last_states_and_diffs_the_first_kept_against_its_predecessor() {
        let states = vec![state(1, "fd 1\n"), state(2, "fd 2\n"), state(3, "fd 3\n")];
        let t = trace_result("car".into(), states, Some(2));
        assert!(t.truncated);
        assert_eq!(t.states.iter().map(|s| s.n).collect::<Vec<_>>(), vec![2, 3]);
        assert!(t.states[0].diff.contains("-fd 1\n+fd 2\n"));
    }
}
