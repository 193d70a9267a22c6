//! The model's training texts: how a recorded trace becomes the token ids a
//! trace model learns from. One implementation for the trainer's datasets and
//! the language server's adaptation to a student, so a student's vector is fitted
//! on text exactly like the text the model was trained on.
//!
//! A trace is collapsed (consecutive identical states merged), dropped when it
//! has no program, scrubbed ([`crate::scrub::Scrubber`], which also drops
//! titles that hold a name), then written as the title region followed by each
//! `CODE n (time):` block and `<|endoftext|>` when the trace is complete.

use crate::model::tokenizer::TokenizerError;
use crate::model::TraceTokenizer;
use crate::scrub::{ScrubCounts, Scrubber};
use crate::text_format::{write_program, END_OF_TEXT};
use crate::Trace;

/// Collapses, drops traces without programs, and scrubs, as every training text is.
pub fn prepare_traces(traces: Vec<Trace>, scrubber: &Scrubber, counts: &mut ScrubCounts) -> Vec<Trace> {
    let kept = traces.into_iter().map(|t| t.collapsed()).filter(|t| !t.programs.is_empty()).collect();
    scrubber.scrub_traces(kept, counts)
}

/// The trace's token ids: title region, then each `CODE n (time):` block,
/// then `<|endoftext|>` when the trace is complete.
pub fn trace_ids(tok: &TraceTokenizer, trace: &Trace, title_tokens: usize, mask_title: bool) -> Result<Vec<u32>, TokenizerError> {
    let mut ids = tok.title_region(&trace.title, title_tokens, mask_title)?;
    let mut body: String = trace.programs.iter().map(write_program).collect();
    if trace.eos {
        body.push_str(END_OF_TEXT);
    }
    ids.extend(tok.encode(&body)?);
    Ok(ids)
}

/// Which tokens count in the loss: 1 for text, 0 for `<pad>` and `<mask>`
/// (the title region's padding), which training never asks the model to predict.
pub fn loss_weights(ids: &[u32], pad: u32, mask: u32) -> Vec<f32> {
    ids.iter().map(|&t| if t == pad || t == mask { 0.0 } else { 1.0 }).collect()
}

/// Cuts `ids` into windows of `context` tokens overlapping by `overlap`; the
/// last window is padded with `pad`.
pub fn cut_windows(ids: &[u32], context: usize, overlap: usize, pad: u32) -> Vec<Vec<u32>> {
    let stride = context.saturating_sub(overlap).max(1);
    let mut out = Vec::new();
    let mut start = 0;
    loop {
        let end = (start + context).min(ids.len());
        let mut w = ids[start..end].to_vec();
        w.resize(context, pad);
        out.push(w);
        if end >= ids.len() {
            return out;
        }
        start += stride;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scrub::NameLists;
    use crate::ProgramState;

    #[test]
    fn windows_overlap_and_pad() {
        let ids: Vec<u32> = (1..=10).collect();
        let w = cut_windows(&ids, 4, 1, 0);
        assert_eq!(w, vec![vec![1, 2, 3, 4], vec![4, 5, 6, 7], vec![7, 8, 9, 10]]);
        let w = cut_windows(&ids[..5], 4, 2, 0);
        assert_eq!(w, vec![vec![1, 2, 3, 4], vec![3, 4, 5, 0]]);
        assert_eq!(cut_windows(&[1, 2], 4, 1, 0), vec![vec![1, 2, 0, 0]]);
    }

    #[test]
    fn preparing_collapses_drops_empty_and_scrubs() {
        let state = |n, code: &str| ProgramState { n, time: format!("2020-01-01 00:00:0{n}"), code: code.into() };
        let trace = |title: &str, programs| Trace { student: "s".into(), title: title.into(), programs, eos: true, provenance: Default::default() };
        let traces = vec![
            trace("house", vec![state(1, "fd 1"), state(2, "fd 1"), state(3, "fd 1 # see http://x.org/a")]),
            trace("empty", vec![]),
            trace("my name", vec![state(1, "fd 2")]),
        ];
        let scrubber = Scrubber::new(NameLists::default());
        let out = prepare_traces(traces, &scrubber, &mut ScrubCounts::default());
        assert_eq!(out.len(), 1, "{out:?}");
        assert_eq!(out[0].programs.len(), 2);
        assert!(out[0].programs[1].code.contains("<URL>"), "{:?}", out[0].programs[1].code);
    }
}
