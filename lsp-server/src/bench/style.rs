//! `pencil-lsp bench --style-dump FILE`: only the "Fix in my style" searches of the
//! bench's first `--model-errors` failing programs (the same programs, in the same
//! order), each sample classified (cut off, blank, unchanged, failing, running but a
//! rewrite of most of the program, kept), one JSON line per search, and a summary of
//! why the model missed. One round of `--samples` per program: begun with the lines
//! above the error's line and spliced back (the server's first round,
//! [`crate::coach::style_fix::search_rounds`]), or with `--whole-state` whole next
//! states (its last). The knobs (`--temperature`, `--top-p`, `--gap`,
//! `--vector-strong`) try other sampling settings than the server's.

use super::{prefix, select_programs, BenchArgs, BenchError};
use crate::checker::Checker;
use crate::coach::engine::FIX_SAMPLING;
use crate::coach::style_fix::{self, keeps_the_program, request_seed, HintSize};
use crate::coach::{Coach, ModelRequest, StudentVector};
use crate::fixes::rank::{self, Score, TraceIndex};
use pencil_core::corpus::{read_corpus, ReadOptions};
use pencil_core::inference::{EditSize, SamplingParams};
use pencil_sandbox::Status;
use std::io::Write;
use std::time::Instant;

/// What became of one sample.
fn classify(current: &str, trace: &TraceIndex, state: Option<&str>, runs: Option<bool>) -> &'static str {
    match (state, runs) {
        (None, _) => "cut",
        (Some(s), _) if s.trim().is_empty() => "blank",
        (Some(s), _) if s.trim_end() == current.trim_end() => "unchanged",
        (Some(_), Some(false)) | (Some(_), None) => "fails",
        (Some(s), Some(true)) => {
            let score = Score::new(current, trace, s, true);
            if keeps_the_program(current, score.distance) {
                "kept"
            } else {
                "rewrite"
            }
        }
    }
}

/// Runs the style-fix-only diagnosis and writes its summary to `out`.
pub fn bench_style(args: &BenchArgs, out: &mut dyn Write) -> Result<(), BenchError> {
    let corpus = read_corpus(&args.corpus, ReadOptions { skip_bad: true })?;
    let programs = select_programs(&corpus.traces, args);
    let checker = Checker::start(crate::checker::student_sandbox_config())?;
    let coach = Coach::load(&ModelRequest { setting: None, cli: args.model.clone() });
    let engine = coach.engine().ok_or_else(|| BenchError::Model("no model".into()))?;
    let vector = if args.vector_strong { StudentVector::Strong } else { StudentVector::Mine };
    let sampling = SamplingParams {
        temperature: args.temperature.unwrap_or(FIX_SAMPLING.temperature),
        top_p: args.top_p.unwrap_or(FIX_SAMPLING.top_p),
    };
    let size = args.gap.map_or(HintSize::Small.edit_size(), EditSize::Seconds);
    let mut dump = std::io::BufWriter::new(std::fs::File::create(args.style_dump.as_ref().expect("style_dump"))?);
    let (mut searched, mut fixed, mut problems) = ([0usize; 2], [0usize; 2], 0usize);
    let mut classes = std::collections::BTreeMap::<&str, usize>::new();
    let mut miss_kinds = std::collections::BTreeMap::<String, usize>::new();
    let mut sample_ms = Vec::new();
    for (kind, trace, i) in &programs {
        if searched[0] + searched[1] >= args.model_errors {
            break;
        }
        let code = &trace.programs[*i].code;
        let Ok(verdict) = checker.check_blocking(code) else { continue };
        if verdict.status != Status::Error {
            continue;
        }
        searched[*kind] += 1;
        let so_far = prefix(trace, *i);
        let earlier: Vec<&str> = so_far.programs.iter().rev().skip(1).take(rank::TRACE_STATES).rev().map(|p| p.code.as_str()).collect();
        let index = TraceIndex::new(&earlier, code);
        let seed = request_seed(&trace.student, &trace.title, code);
        let kept = if args.whole_state { 0 } else { style_fix::kept_lines(code, verdict.error.as_ref().and_then(|e| e.line)) };
        let start = style_fix::kept_start(code, kept);
        let t = Instant::now();
        let samples = match engine.sample_next_states_with(&so_far, size, vector, args.samples, seed, sampling, &start) {
            Ok(s) => s,
            Err(e) => {
                problems += 1;
                writeln!(dump, "{}", serde_json::json!({"kind": kind, "problem": e.to_string(), "fixed": false}))?;
                continue;
            }
        };
        sample_ms.push(t.elapsed().as_secs_f64() * 1e3);
        let mut rows = Vec::new();
        let mut running = Vec::new();
        let mut here = std::collections::BTreeMap::<&str, usize>::new();
        for s in &samples {
            let state = if args.whole_state {
                style_fix::sampled_state(&s.text, s.stop).map(str::to_string)
            } else {
                style_fix::candidate(code, &start, &s.text, s.stop)
            };
            let state = state.as_deref();
            let runs = match state {
                Some(st) if !st.trim().is_empty() && st.trim_end() != code.trim_end() => {
                    checker.check_blocking(st).ok().map(|v| v.status != Status::Error)
                }
                _ => None,
            };
            let class = classify(code, &index, state, runs);
            *classes.entry(class).or_default() += 1;
            *here.entry(class).or_default() += 1;
            if runs == Some(true) {
                running.push(state.unwrap_or_default().to_string());
            }
            let distance = state.map(|st| crate::fixes::program_distance(code, st));
            rows.push(serde_json::json!({"candidate": state, "class": class, "stop": format!("{:?}", s.stop), "tokens": s.ids.len(), "distance": distance, "text": s.text}));
        }
        let fixes = style_fix::rank(code, &index, running, 3);
        let ok = !fixes.is_empty();
        fixed[*kind] += usize::from(ok);
        if !ok {
            // The miss's shape: which classes its samples fell into.
            let shape: Vec<String> = here.iter().map(|(c, n)| format!("{c}:{n}")).collect();
            *miss_kinds.entry(shape.join(" ")).or_default() += 1;
        }
        writeln!(
            dump,
            "{}",
            serde_json::json!({
                "kind": if *kind == 0 { "mid" } else { "last" }, "title": trace.title, "index": i, "states": trace.programs.len(),
                "error": verdict.error, "code": code, "fixed": ok, "best": fixes.first().map(|f| f.new_code.clone()),
                "sample_ms": t.elapsed().as_secs_f64() * 1e3, "samples": rows,
            })
        )?;
    }
    dump.flush()?;
    sample_ms.sort_by(f64::total_cmp);
    let total = searched[0] + searched[1];
    let p50 = sample_ms.get(sample_ms.len() / 2).copied().unwrap_or(f64::NAN);
    writeln!(
        out,
        "style diagnosis: T {} top-p {} gap {} s, vector {:?}, {} samples, offset {}, whole state {}",
        sampling.temperature,
        sampling.top_p,
        size.seconds(),
        vector,
        args.samples,
        args.trace_offset,
        args.whole_state
    )?;
    writeln!(
        out,
        "fixed by the model alone: {} of {total} (mid-trace {}/{}, last {}/{}); {problems} could not sample; sampling p50 {p50:.0} ms",
        fixed[0] + fixed[1],
        fixed[0],
        searched[0],
        fixed[1],
        searched[1]
    )?;
    writeln!(out, "samples by class: {classes:?}")?;
    writeln!(out, "misses by the classes of their samples:")?;
    for (shape, n) in &miss_kinds {
        writeln!(out, "  {n:3}  {shape}")?;
    }
    Ok(())
}
