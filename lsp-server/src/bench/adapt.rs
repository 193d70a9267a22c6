//! `pencil-lsp bench --adapt`: wall time and peak memory of learning a student's
//! vector from k = 1, 4 and 10 of their traces, on the model the server would
//! load, exactly as the server's adaptation thread does it (low-priority
//! threads, the default options or the manifest's), once on each of the
//! server's pools: one thread (what a busy machine gets) and both cores (an
//! idle one). A benchmark, not a test: it prints figures.

use super::{BenchArgs, BenchError};
use crate::adaptation::{scrubber, LowPriorityPools};
use crate::coach::{locate, ModelLocation, MODEL_DIR_ENV};
use pencil_core::adapt::{adapt_vector, adaptation_texts, load_trace_model, AdaptOptions, AdaptationDefaults};
use pencil_core::corpus::{read_corpus, ReadOptions};
use pencil_core::inference::manifest::{Manifest, STUDENTS_FILE, TOKENIZER_FILE};
use pencil_core::inference::StudentVectors;
use pencil_core::model::TraceTokenizer;
use pencil_core::Trace;
use std::collections::BTreeMap;
use std::io::Write;
use std::sync::atomic::AtomicBool;
use std::time::Instant;

/// The k of the benchmark.
const KS: [usize; 3] = [1, 4, 10];

/// Runs the benchmark and prints one line per k.
pub fn bench_adapt(args: &BenchArgs, out: &mut dyn Write) -> Result<(), BenchError> {
    let env = std::env::var_os(MODEL_DIR_ENV);
    let exe = std::env::current_exe().ok();
    let dir = match locate(None, args.model.as_deref(), env.as_deref(), exe.as_deref()) {
        ModelLocation::Found(dir, _) => dir,
        ModelLocation::Off(why) => return Err(BenchError::Model(why)),
    };
    let manifest = Manifest::read(&dir).map_err(|e| BenchError::Model(e.to_string()))?;
    let cfg = manifest.config.clone();
    let tok = TraceTokenizer::load(&dir.join(TOKENIZER_FILE)).map_err(|e| BenchError::Model(e.to_string()))?;
    let unseen = StudentVectors::load(&dir.join(STUDENTS_FILE), &manifest)
        .and_then(|s| s.row_vector(0))
        .map_err(|e| BenchError::Model(e.to_string()))?;
    let options = AdaptationDefaults::read(&dir).map_or_else(AdaptOptions::default, |d| d.apply(AdaptOptions::default()));

    // The student with the most traces, oldest first.
    let corpus = read_corpus(&args.corpus, ReadOptions { skip_bad: true })?;
    let mut by_student: BTreeMap<&str, Vec<&Trace>> = BTreeMap::new();
    for t in &corpus.traces {
        by_student.entry(t.student.as_str()).or_default().push(t);
    }
    let Some((student, mut traces)) = by_student.into_iter().max_by_key(|(_, ts)| ts.len()) else {
        return Err(BenchError::Model("the corpus has no traces".into()));
    };
    traces.sort_by(|a, b| a.programs.first().map(|p| &p.time).cmp(&b.programs.first().map(|p| &p.time)));
    let scrubber = scrubber();
    let pools = LowPriorityPools::new().map_err(|e| BenchError::Model(e.to_string()))?;
    writeln!(out, "model: {} ({} layers, d={}, vocab {}, context {})", dir.display(), cfg.n_layer, cfg.n_embd, cfg.vocab_size, cfg.context)?;
    writeln!(
        out,
        "student {student}: {} traces; options: <= {} tokens per trace, {} steps (early stop from {} traces: <= {} steps, patience {}), lr {}; at nice 19, on one thread and on every core",
        traces.len(),
        options.max_tokens_per_trace,
        options.steps,
        options.min_traces_for_early_stop,
        options.max_steps,
        options.patience,
        options.learning_rate
    )?;
    let load = std::fs::read_to_string("/proc/loadavg").unwrap_or_default();
    writeln!(out, "load average at start (1, 5, 15 min): {}", load.split_whitespace().take(3).collect::<Vec<_>>().join(" "))?;
    writeln!(out, "| k | threads | tokens | steps | stop | load s | fit s | total s | s/step | peak RSS MiB | held-out loss before -> after |")?;
    writeln!(out, "|---|---|---|---|---|---|---|---|---|---|---|")?;
    for (k, pool) in KS.into_iter().flat_map(|k| pools.each().into_iter().map(move |p| (k, p))) {
        let chosen: Vec<Trace> = traces.iter().take(k).map(|t| (*t).clone()).collect();
        reset_peak_rss();
        let start = Instant::now();
        let texts = adaptation_texts(chosen, &scrubber, &tok, cfg.title_tokens, cfg.context, &options)
            .map_err(|e| BenchError::Model(e.to_string()))?;
        let model = load_trace_model(&dir, &manifest).map_err(|e| BenchError::Model(e.to_string()))?;
        let loaded = start.elapsed().as_secs_f64();
        let cancel = AtomicBool::new(false);
        let threads = pool.current_num_threads();
        let adapted = pool
            .install(|| adapt_vector(&model, &texts, &unseen, &options, &cancel))
            .map_err(|e| BenchError::Model(e.to_string()))?;
        let total = start.elapsed().as_secs_f64();
        drop(model);
        let held = adapted.held_out_loss.map_or_else(|| "(none held back)".to_string(), |(b, a)| format!("{b:.3} -> {a:.3}"));
        writeln!(
            out,
            "| {k} | {threads} | {} | {} | {:?} | {loaded:.2} | {:.2} | {total:.2} | {:.3} | {} | {held} |",
            adapted.tokens,
            adapted.steps,
            adapted.stop,
            adapted.elapsed.as_secs_f64(),
            adapted.elapsed.as_secs_f64() / adapted.steps.max(1) as f64,
            peak_rss_mib().map_or_else(|| "?".to_string(), |m| format!("{m:.0}")),
        )?;
    }
    Ok(())
}

/// Resets the kernel's peak resident set size of this process (Linux 4.0+).
fn reset_peak_rss() {
    let _ = std::fs::write("/proc/self/clear_refs", "5");
}

/// Peak resident set size since the last reset, in MiB (Linux).
fn peak_rss_mib() -> Option<f64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kib: f64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib / 1024.0)
}
