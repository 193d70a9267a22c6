//! What a model's manifest says about how it was trained, read from the run's
//! `log.jsonl`: the validation curve, how many invocations the run took (a
//! `--resume` restarts the elapsed clock), the wall time summed over them, and
//! the machine that exported it (the run's own machine in this project's
//! practice). The wall time counts each invocation up to its last evaluation:
//! work after it, redone on resume, is not in the log.

use std::path::Path;

use anyhow::Context;
use serde::Serialize;

/// The record.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TrainingRecord {
    /// `(step, validation loss)` at every evaluation.
    pub validation_curve: Vec<(u64, f64)>,
    /// Steps and tokens at the last evaluation.
    pub steps: u64,
    /// Tokens trained on.
    pub tokens: u64,
    /// Invocations (first run plus each `--resume`).
    pub invocations: usize,
    /// Wall seconds summed over the invocations, each up to its last evaluation.
    pub wall_seconds: f64,
    /// Training tokens per second over the whole run.
    pub tokens_per_second: f64,
    /// The CPU (`/proc/cpuinfo` model name) and its logical cores; `cpu` or `gpu` as the run was configured.
    pub hardware: String,
}

/// One evaluation line of `log.jsonl`.
#[derive(serde::Deserialize)]
struct LogLine {
    step: u64,
    tokens: u64,
    val_loss: Option<f64>,
    elapsed_s: f64,
}

/// Reads `run/log.jsonl` (and `train_config.json` for the device).
pub fn training_record(run: &Path) -> anyhow::Result<TrainingRecord> {
    let path = run.join("log.jsonl");
    let text = std::fs::read_to_string(&path).with_context(|| format!("reading {}", path.display()))?;
    let mut lines = Vec::new();
    for (i, line) in text.lines().enumerate().filter(|(_, l)| !l.trim().is_empty()) {
        let l: LogLine = serde_json::from_str(line).with_context(|| format!("{} line {}", path.display(), i + 1))?;
        lines.push(l);
    }
    let (mut invocations, mut wall, mut last_elapsed) = (0usize, 0.0f64, f64::INFINITY);
    for l in &lines {
        if l.elapsed_s < last_elapsed {
            invocations += 1;
        } else {
            wall -= last_elapsed;
        }
        wall += l.elapsed_s;
        last_elapsed = l.elapsed_s;
    }
    let last = lines.last();
    let (steps, tokens) = last.map_or((0, 0), |l| (l.step, l.tokens));
    let gpu = std::fs::read_to_string(run.join("train_config.json"))
        .ok()
        .and_then(|t| serde_json::from_str::<serde_json::Value>(&t).ok())
        .and_then(|v| v.get("cpu").and_then(serde_json::Value::as_bool))
        .is_some_and(|cpu| !cpu);
    Ok(TrainingRecord {
        validation_curve: lines.iter().filter_map(|l| l.val_loss.map(|v| (l.step, v))).collect(),
        steps,
        tokens,
        invocations,
        wall_seconds: wall,
        tokens_per_second: if wall > 0.0 { tokens as f64 / wall } else { 0.0 },
        hardware: format!("{} ({})", cpu_name(), if gpu { "trained on a GPU" } else { "trained on the CPU" }),
    })
}

/// This machine's CPU model and logical cores.
fn cpu_name() -> String {
    let model = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|t| t.lines().find(|l| l.starts_with("model name")).and_then(|l| l.split_once(':')).map(|(_, v)| v.trim().to_string()))
        .unwrap_or_else(|| "unknown CPU".into());
    let cores = std::thread::available_parallelism().map_or(0, usize::from);
    format!("{model}, {cores} logical cores")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn invocations_and_wall_time_come_from_the_elapsed_clock() {
        let dir = tempfile::tempdir().expect("tempdir");
        let log = [
            r#"{"step":100,"tokens":1000,"val_loss":2.0,"elapsed_s":10.0}"#,
            r#"{"step":200,"tokens":2000,"val_loss":1.5,"elapsed_s":20.0}"#,
            r#"{"step":300,"tokens":3000,"val_loss":1.2,"elapsed_s":5.0}"#,
            r#"{"step":400,"tokens":4000,"val_loss":1.1,"elapsed_s":15.0}"#,
        ];
        std::fs::write(dir.path().join("log.jsonl"), log.join("\n")).expect("write");
        let r = training_record(dir.path()).expect("record");
        assert_eq!(r.invocations, 2);
        assert!((r.wall_seconds - 35.0).abs() < 1e-9, "{}", r.wall_seconds);
        assert_eq!(r.validation_curve, vec![(100, 2.0), (200, 1.5), (300, 1.2), (400, 1.1)]);
        assert_eq!((r.steps, r.tokens), (400, 4000));
        std::fs::write(dir.path().join("log.jsonl"), "{\"step\": oops").expect("write");
        assert!(training_record(dir.path()).is_err(), "a broken log is an error, not a silent empty record");
    }
}
