//! `pencil-trainer eval-variants` end to end: a dataset from a slice of the
//! public corpus, trace / last / synthetic runs of a few steps, then the
//! command itself, which exports them, samples held-out traces and writes
//! variants.md, variants.json and variants.png. Kept fast: every 40th trace,
//! four training steps per run, a handful of traces and short samples.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::Command;

use pencil_core::corpus::{read_corpus, write_jsonl, ReadOptions};
use pencil_core::model::Preset;
use pencil_core::text_format::write;
use pencil_core::Trace;
use pencil_trainer::bpe::train_bpe;
use pencil_trainer::dataset::{build, prepare, BuildOptions, Variant};
use pencil_trainer::optim::AdamWParams;
use pencil_trainer::scrub::{NameLists, Scrubber};
use pencil_trainer::splits::SplitConfig;
use pencil_trainer::train::{train, TrainOptions};
use pencil_trainer::variants_eval::EvalVariantsReport;
use pencil_trainer::windows::WindowConfig;

fn public_corpus() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared/data/public/trace-model.jsonl.gz")
}

/// A fresh folder for this test process.
fn scratch() -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("eval-variants-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("mkdir");
    dir
}

#[test]
fn eval_variants_writes_its_report_with_figures_in_range() {
    // One thread: candle's spinning pool is slower on a shared 2-core machine.
    pencil_trainer::cpu::configure_threads(Some(1));
    let dir = scratch();
    let all = read_corpus(&public_corpus(), ReadOptions::default()).expect("public corpus").traces;
    let slice: Vec<Trace> = all.into_iter().step_by(40).collect();
    let slice_path = dir.join("slice.jsonl");
    write_jsonl(std::fs::File::create(&slice_path).expect("create"), &slice).expect("write");
    let set = |xs: &[&str]| xs.iter().map(|s| s.to_string()).collect::<BTreeSet<_>>().into_iter().collect();
    let lists = NameLists::from_lists(set(&["hannah"]), set(&["smith"]), set(&["star"]));
    let prepared = prepare(std::slice::from_ref(&slice_path), &Scrubber::new(lists)).expect("prepare");
    let texts: Vec<String> = prepared.traces.iter().filter_map(|t| write(t, 0).ok()).collect();
    let tok_path = dir.join("tokenizer.json");
    train_bpe(&texts, 384).expect("bpe").save(&tok_path, false).expect("save tokenizer");
    let cfg = Preset::Tiny.config(384, 0);
    let opts = BuildOptions {
        windows: WindowConfig { context: cfg.context, title_tokens: cfg.title_tokens, overlap: 16 },
        splits: SplitConfig { seed: 3, holdout_students: 0.05, holdout_titles: 0.05, ..SplitConfig::default() },
        title_mask_fraction: 0.15,
    };
    let data = dir.join("data");
    build(&prepared, std::slice::from_ref(&slice_path), &tok_path, &opts, &data, &indicatif::ProgressBar::hidden()).expect("build dataset");

    let mut runs = Vec::new();
    for (name, variant) in [("trace", Variant::TraceDownsampled), ("last", Variant::Last), ("synthetic", Variant::SyntheticDownsampled)] {
        let out = dir.join(format!("run-{name}"));
        let options = TrainOptions {
            preset: Preset::Tiny,
            data: data.clone(),
            variant,
            batch_size: 4,
            max_steps: 4,
            lr: 3e-3,
            warmup: 1,
            eval_every: 4,
            eval_windows: 8,
            patience: 10,
            seed: 1,
            adamw: AdamWParams::default(),
            bf16: false,
            cpu: true,
            halt_at: None,
        };
        train(&options, &out, false, &indicatif::ProgressBar::hidden()).expect("train");
        runs.push(format!("{name}={}", out.display()));
    }

    let report_dir = dir.join("report");
    let o = Command::new(env!("CARGO_BIN_EXE_pencil-trainer"))
        .arg("eval-variants")
        .arg("--runs")
        .arg(runs.join(","))
        .arg("--data")
        .arg(&slice_path)
        .arg("--dataset")
        .arg(&data)
        .args(["--traces", "5", "--seeds", "2", "--max-new-tokens", "40", "--loss-windows", "8", "--threads", "1", "--out"])
        .arg(&report_dir)
        .output()
        .expect("run pencil-trainer");
    assert!(o.status.success(), "eval-variants failed: {}", String::from_utf8_lossy(&o.stderr));
    for f in ["variants.md", "variants.json", "variants.png"] {
        let meta = std::fs::metadata(report_dir.join(f)).unwrap_or_else(|e| panic!("{f}: {e}"));
        assert!(meta.len() > 0, "{f} is empty");
    }
    for name in ["trace", "last", "synthetic"] {
        assert!(report_dir.join("models").join(name).join("model.onnx").is_file(), "{name} was not exported");
    }
    let text = std::fs::read_to_string(report_dir.join("variants.json")).expect("json");
    let report: EvalVariantsReport = serde_json::from_str(&text).expect("a report");
    assert_eq!(report.rows.len(), 3);
    assert!(report.traces >= 1 && report.traces <= 5, "{} traces", report.traces);
    assert!((0.0..=1.0).contains(&report.real_runs));
    for row in &report.rows {
        assert_eq!(row.bleu.n, 2, "{}: one value per seed", row.name);
        assert!((0.0..=1.0).contains(&row.bleu.mean), "{}: BLEU {}", row.name, row.bleu.mean);
        assert!((0.0..=1.0).contains(&row.runs.mean), "{}: runs {}", row.name, row.runs.mean);
        assert!(row.test_loss.is_some_and(|l| l.is_finite() && l > 0.0), "{}: loss {:?}", row.name, row.test_loss);
        assert!(row.training_tokens.is_some_and(|t| t > 0));
        if let Some(r) = row.backtracking_r {
            assert!((-1.0..=1.0).contains(&r.mean), "{}: r {}", row.name, r.mean);
        }
    }
    let last = report.rows.iter().find(|r| r.name == "last").expect("last row");
    assert_eq!(last.variant.as_deref(), Some("last"));
    assert!(last.backtracking_r.is_none() && last.mean_backtracking.is_none(), "last writes no trace: n/a, not a number");
    let md = std::fs::read_to_string(report_dir.join("variants.md")).expect("md");
    assert!(md.contains("| last | last |") && md.contains("n/a"), "{md}");
    assert!(md.contains("paper: "), "the orderings are stated: {md}");

    // --replot draws again from the JSON alone.
    std::fs::remove_file(report_dir.join("variants.png")).expect("rm png");
    let o = Command::new(env!("CARGO_BIN_EXE_pencil-trainer"))
        .args(["eval-variants", "--replot", "--data", "unused", "--out"])
        .arg(&report_dir)
        .output()
        .expect("replot");
    assert!(o.status.success(), "replot failed: {}", String::from_utf8_lossy(&o.stderr));
    assert!(report_dir.join("variants.png").is_file());
    let _ = std::fs::remove_dir_all(&dir);
}
