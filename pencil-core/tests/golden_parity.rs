//! Golden parity: every record of the three golden files, computed by the
//! paper's own Python code, must come out of `pencil_core::metrics` the same.
//!
//! The files live in `../shared/data/public` beside the repository.

use std::io::BufRead;
use std::path::PathBuf;

use pencil_core::corpus::{read_corpus, ReadOptions};
use pencil_core::metrics::bleu::{quality_bleu, self_bleu};
use pencil_core::metrics::edit_distance::{distance_from_ratio, ratio};
use pencil_core::metrics::trace_metrics;
use pencil_core::Trace;
use serde_json::Value;

fn public_data(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../shared/data/public").join(name)
}

fn read_golden(name: &str) -> Vec<Value> {
    let path = public_data(name);
    let file = std::fs::File::open(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    std::io::BufReader::new(flate2::read::GzDecoder::new(file))
        .lines()
        .map(|l| serde_json::from_str(&l.expect("golden line")).expect("golden JSON"))
        .collect()
}

fn trace_model() -> Vec<Trace> {
    read_corpus(&public_data("trace-model.jsonl.gz"), ReadOptions::default()).expect("trace-model corpus").traces
}

/// Paths where `got` differs from `want`; numbers must be identical (integers
/// as integers, floats bit for bit).
fn differences(path: &str, got: &Value, want: &Value, out: &mut Vec<String>) {
    match (got, want) {
        (Value::Object(g), Value::Object(w)) => {
            // Key sets, not order: whether serde_json keeps insertion order
            // depends on features other crates in the build switch on.
            let mut gk: Vec<_> = g.keys().collect();
            let mut wk: Vec<_> = w.keys().collect();
            gk.sort();
            wk.sort();
            if gk != wk {
                out.push(format!("{path}: keys {gk:?} != {wk:?}"));
            }
            for (k, wv) in w {
                if let Some(gv) = g.get(k) {
                    differences(&format!("{path}.{k}"), gv, wv, out);
                }
            }
        }
        (Value::Array(g), Value::Array(w)) if g.len() == w.len() => {
            for (i, (gv, wv)) in g.iter().zip(w).enumerate() {
                differences(&format!("{path}[{i}]"), gv, wv, out);
            }
        }
        (Value::Number(g), Value::Number(w)) if g.is_f64() || w.is_f64() => {
            if g.as_f64() != w.as_f64() {
                out.push(format!("{path}: {g} != {w}"));
            }
        }
        _ if got == want => {}
        _ => out.push(format!("{path}: {got} != {want}")),
    }
}

#[test]
fn golden_metrics_match_on_every_trace() {
    let traces = trace_model();
    let golden = read_golden("golden_metrics.jsonl.gz");
    let mut failures = Vec::new();
    for g in &golden {
        let index = g["index"].as_u64().expect("index") as usize;
        let mut want = g.clone();
        want.as_object_mut().expect("object").remove("index");
        let got = serde_json::to_value(trace_metrics(&traces[index]).expect("metrics")).expect("serialises");
        let mut diffs = Vec::new();
        differences("", &got, &want, &mut diffs);
        if !diffs.is_empty() {
            failures.push(format!("index {index}: {}", diffs.join("; ")));
        }
    }
    let exact = golden.len() - failures.len();
    println!("golden_metrics: {exact}/{} traces match exactly", golden.len());
    assert!(failures.is_empty(), "golden_metrics: {exact}/{} exact; first failures:\n{}", golden.len(), failures[..failures.len().min(10)].join("\n"));
}

#[test]
fn golden_edit_distances_match_on_every_pair() {
    let golden = read_golden("golden_edit_distance.jsonl.gz");
    let mut failures = Vec::new();
    let mut long = 0;
    for (n, g) in golden.iter().enumerate() {
        let (a, b) = (g["a"].as_str().expect("a"), g["b"].as_str().expect("b"));
        let (len_a, len_b) = (a.chars().count(), b.chars().count());
        long += usize::from(len_a >= 200 || len_b >= 200);
        let r = ratio(a, b);
        let d = distance_from_ratio(len_a, len_b, r);
        let (want_r, want_d) = (g["ratio"].as_f64().expect("ratio"), g["edit_distance"].as_u64().expect("distance"));
        if r != want_r || d as u64 != want_d {
            failures.push(format!("pair {n}: ratio {r} distance {d}, want {want_r} {want_d}"));
        }
    }
    let exact = golden.len() - failures.len();
    println!("golden_edit_distance: {exact}/{} pairs match exactly ({long} with a side of 200+ characters)", golden.len());
    assert!(failures.is_empty(), "golden_edit_distance: {exact}/{} exact; first failures:\n{}", golden.len(), failures[..failures.len().min(10)].join("\n"));
}

#[test]
fn golden_bleu_matches_on_every_group() {
    let traces = trace_model();
    let golden = read_golden("golden_bleu.jsonl.gz");
    let (mut exact, mut failures) = (0, Vec::new());
    for g in &golden {
        // `indices` are lines of trace-model.jsonl.gz sampled for one (student,
        // title); the scores are over those traces' last programs, in that order.
        let indices: Vec<usize> = g["indices"].as_array().expect("indices").iter().map(|v| v.as_u64().expect("index") as usize).collect();
        let lasts: Vec<&str> = indices.iter().map(|&i| traces[i].last_program().expect("program").code.as_str()).collect();
        let got_self = self_bleu(&lasts).expect("two or more texts");
        let got_pair = quality_bleu(&lasts[..1], &lasts[1..2]);
        let want_self = g["self_bleu_last_programs"].as_f64().expect("self");
        let want_pair = g["bleu_first_vs_second_last_program"].as_f64().expect("pair");
        if got_self == want_self && got_pair == want_pair {
            exact += 1;
        } else if (got_self - want_self).abs() > 1e-9 || (got_pair - want_pair).abs() > 1e-9 {
            failures.push(format!("{indices:?}: self {got_self} pair {got_pair}, want {want_self} {want_pair}"));
        }
    }
    let close = golden.len() - failures.len();
    println!("golden_bleu: {exact}/{} groups match exactly, {close}/{} within 1e-9", golden.len(), golden.len());
    assert!(failures.is_empty(), "golden_bleu: {close}/{} within 1e-9; first failures:\n{}", golden.len(), failures[..failures.len().min(10)].join("\n"));
}
