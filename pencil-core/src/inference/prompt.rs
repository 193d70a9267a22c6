//! Prompts for the next program state: a trace written exactly as the model
//! was trained on it (title region, then the program blocks encoded as one
//! text), followed by the next state's header with the caller's time gap.

use super::error::InferenceError;
use super::time_header::{next_state_header, EditSize};
use crate::model::TraceTokenizer;
use crate::text_format::write_program;
use crate::trace::Trace;

/// Token ids asking for the state after `trace`'s last one, `size` later.
///
/// At most `max_len` ids: a longer prompt keeps its last `max_len` tokens,
/// which is how the training windows saw the later parts of long traces.
pub fn next_state_prompt(
    tok: &TraceTokenizer,
    trace: &Trace,
    title_tokens: usize,
    size: EditSize,
    max_len: usize,
) -> Result<Vec<u32>, InferenceError> {
    next_state_prompt_from(tok, trace, title_tokens, size, max_len, "")
}

/// [`next_state_prompt`] with the next state already begun: `start` (the first
/// lines the caller keeps) follows the header, so the model writes on from there.
pub fn next_state_prompt_from(
    tok: &TraceTokenizer,
    trace: &Trace,
    title_tokens: usize,
    size: EditSize,
    max_len: usize,
    start: &str,
) -> Result<Vec<u32>, InferenceError> {
    let last = trace.programs.last().ok_or_else(|| InferenceError::Request("the trace has no program state yet".into()))?;
    let header = next_state_header(last.n.saturating_add(1), &last.time, size)
        .ok_or_else(|| InferenceError::Request(format!("timestamp {:?} is not YYYY-MM-DD HH:MM:SS", last.time)))?;
    let mut body: String = trace.programs.iter().map(write_program).collect();
    body.push_str(&header);
    body.push_str(start);
    let mut ids = tok.title_region(&trace.title, title_tokens, false)?;
    ids.extend(tok.encode(&body)?);
    if ids.len() > max_len {
        ids.drain(..ids.len() - max_len);
    }
    Ok(ids)
}
