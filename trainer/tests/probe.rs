//! The backtracking probe end to end: a tiny exported model and a small
//! corpus in, `probe.safetensors` and the manifest's report out, which
//! `ModelDir::open` loads and which gives a risk in [0, 1] from one forward pass.

mod export_support;

use std::path::{Path, PathBuf};

use export_support::{random_weights, tiny_config, tiny_tokenizer};
use pencil_core::inference::manifest::{Manifest, FEATURES_FILE};
use pencil_core::inference::model_dir::PROBE_GRAPH_KEY;
use pencil_core::inference::{pooled_features, prefix_prompt, ModelDir, PrefixMemos, SessionOptions, PROBE_FILE};
use pencil_core::model::rng::SplitMix64;
use pencil_core::{ProgramState, Provenance, Trace};
use pencil_sandbox::SandboxConfig;
use pencil_trainer::export::{export_run, ExportOptions};
use pencil_trainer::probe::{run_probe, ProbeOptions};

const STUDENTS: [&str; 3] = ["alice", "bob", "carol"];
const TITLES: [&str; 5] = ["snowman", "car", "flower", "house", "star"];

/// A trace of 4-6 states towards a goal; `wander` puts a detour away from it in the middle.
fn trace(rng: &mut SplitMix64, student: &str, title: &str, wander: bool) -> Trace {
    let (a, b) = (10 * (1 + rng.below(9)), 15 * (1 + rng.below(6)));
    let goal = format!("pen red\nfd {a}\nrt {b}\ndot blue, 30\n");
    let mut codes = vec!["pen red\n".to_string(), format!("pen red\nfd {a}\n")];
    if wander {
        codes.push(format!("pen red\nfd {a}\nzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzz {b}\nx = ->\n  (\n"));
    }
    codes.push(format!("pen red\nfd {a}\nrt {b}\n"));
    if rng.below(2) == 0 {
        codes.push(format!("pen red\nfd {a}\nrt {b}\ndot blue\n"));
    }
    codes.push(goal);
    Trace {
        student: student.into(),
        title: title.into(),
        programs: codes
            .into_iter()
            .enumerate()
            .map(|(i, code)| ProgramState { n: i as u32 + 1, time: format!("2019-05-09 16:{:02}:{:02}", 10 + i, rng.below(60)), code })
            .collect(),
        eos: true,
        provenance: Provenance::default(),
    }
}

/// Run directory (random tiny weights), corpus file and dataset directory.
fn fixtures(root: &Path) -> (PathBuf, PathBuf, PathBuf) {
    let run = root.join("run");
    std::fs::create_dir_all(&run).expect("mkdir");
    let tok = tiny_tokenizer();
    tok.inner().save(run.join("tokenizer.json"), false).expect("save tokenizer");
    let cfg = tiny_config(tok.vocab_size());
    std::fs::write(run.join("config.json"), serde_json::to_string(&cfg).expect("json")).expect("write");
    candle_core::safetensors::save(&random_weights(&cfg, 4), run.join("model.safetensors")).expect("save weights");
    std::fs::write(run.join("students.json"), serde_json::json!({ "students": STUDENTS }).to_string()).expect("write");

    let mut rng = SplitMix64::new(21);
    let mut lines = Vec::new();
    for title in TITLES {
        for student in STUDENTS.iter().chain(&["dave"]) {
            for i in 0..2 {
                let wander = i == 1 || rng.below(3) == 0;
                let t = trace(&mut rng, student, title, wander);
                let programs: Vec<_> = t.programs.iter().map(|p| serde_json::json!({"n": p.n, "time": p.time, "code": p.code})).collect();
                let rec = serde_json::json!({"source": "trace-model", "student": t.student, "title": t.title, "eos": true, "programs": programs});
                lines.push(rec.to_string());
            }
        }
    }
    let corpus = root.join("corpus.jsonl");
    std::fs::write(&corpus, lines.join("\n") + "\n").expect("write corpus");

    // "house" is the title the model never trained on; "dave" the unseen student.
    let dataset = root.join("dataset");
    std::fs::create_dir_all(&dataset).expect("mkdir");
    let pairs = |titles: &[&str], students: &[&str]| -> Vec<(String, String)> {
        titles.iter().flat_map(|t| students.iter().map(move |s| (s.to_string(), t.to_string()))).collect()
    };
    let splits = serde_json::json!({
        "train": pairs(&["snowman", "car", "flower", "star"], &STUDENTS),
        "unseen_student_seen_title": pairs(&["snowman", "car", "flower", "star"], &["dave"]),
        "seen_student_unseen_title": pairs(&["house"], &STUDENTS),
        "unseen_student_unseen_title": pairs(&["house"], &["dave"]),
    });
    std::fs::write(dataset.join("splits.json"), splits.to_string()).expect("write");
    (run, corpus, dataset)
}

#[test]
fn probe_trains_writes_its_file_and_the_model_directory_serves_a_risk() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let (run, corpus, dataset) = fixtures(tmp.path());
    let out = tmp.path().join("model");
    let bar = indicatif::ProgressBar::hidden();
    let opts = ExportOptions {
        run_dir: run,
        out: out.clone(),
        corpus: vec![corpus.clone()],
        command: "test export".into(),
        check_parity: false,
        feature_layers: 1,
        feature_int8: true,
        model_int8: false,
    };
    export_run(&opts, &bar).expect("export");

    let opts = ProbeOptions {
        model_dir: out.clone(),
        corpus: vec![corpus],
        dataset: Some(dataset),
        max_prefixes: 10_000,
        seed: 3,
        seeds: 3,
        more_prefixes_per_trace: 5,
        command: "pencil-trainer probe (test)".into(),
        session: SessionOptions::default(),
        sandbox: SandboxConfig::default(),
    };
    let report = run_probe(&opts, &bar).expect("probe runs (ONNX Runtime and the sandbox are present here and in CI)");
    eprintln!("{}", report.table());

    // Counts: 40 traces, 3 core prefixes each; "house" tests, plus a fifth of the others (every seed adds one).
    let c = &report.counts;
    assert_eq!(c.traces_read, 40);
    assert_eq!(c.traces_title_not_in_dataset, 0);
    assert_eq!(c.traces_used, 40);
    assert!(c.eligible_prefixes >= 120 && c.prefixes_after_per_trace_cap == 120, "{c:?}");
    assert_eq!(c.train_examples + c.test_examples, 120);
    // Three seeds, every variant scored on each (the two-depth one too: the probe reads features.onnx).
    let seeds = &report.seeds;
    assert!(!seeds.seeds.is_empty() && seeds.seeds.len() <= 3, "{:?}", seeds.seeds);
    assert!(seeds.variants.contains_key("two_depths") && seeds.variants.contains_key("more_prefixes_calibrated"));
    assert!(seeds.extra_prefixes > 0, "traces with more than 3 prefixes give extra training prefixes");
    assert!(seeds.variants[&report.shipped].server_reads, "{}", report.shipped);
    assert!(report.markdown().contains("| hand_features |"), "{}", report.markdown());
    assert!(report.test_titles.contains(&"house".to_string()) && report.test_titles.len() == 2, "{:?}", report.test_titles);
    assert_eq!(report.test_titles_unseen_by_model, vec!["house".to_string()]);
    assert!(c.train_positive_rate > 0.0 && c.train_positive_rate < 1.0, "{c:?}");
    assert!(c.sandbox_programs > 40, "{c:?}");
    for key in ["probe", "shuffled_students", "shuffled_embeddings", "hand_features"] {
        let r = &report.results[key];
        assert!((0.0..=1.0).contains(&r.f1) && (0.0..=1.0).contains(&r.threshold), "{key}: {r:?}");
        assert!(r.auc.is_none_or(|a| (0.0..=1.0).contains(&a)), "{key}: {r:?}");
    }
    // The hand features see the detour coming (it always fails to compile and
    // is a large edit); the baseline must beat chance on held-out titles.
    assert!(report.results["hand_features"].auc.expect("both classes in the test titles") > 0.6, "{:?}", report.results["hand_features"]);
    assert!(report.table().contains("control: shuffled students"));

    // The manifest lists the file and holds the report.
    let m = Manifest::read(&out).expect("manifest");
    m.validate(&out).expect("manifest matches the files");
    assert!(m.files[PROBE_FILE].bytes > 0);
    let stored = m.probe.clone().expect("probe report in the manifest");
    assert_eq!(stored["counts"]["train_examples"], serde_json::json!(c.train_examples));
    assert_eq!(stored["command"], serde_json::json!("pencil-trainer probe (test)"));
    assert_eq!(stored[PROBE_GRAPH_KEY], serde_json::json!(FEATURES_FILE), "the probe read the int8 feature graph");
    assert_eq!(m.features.as_ref().map(|f| (f.layers, f.int8)), Some((1, true)));

    // The server's path: open, one forward pass, a risk in [0, 1].
    let mut dir = ModelDir::open(&out, &SessionOptions::default()).expect("open");
    let probe = dir.probe.clone().expect("ModelDir loads the probe the manifest lists");
    assert_eq!(probe.width(), m.config.n_embd);
    let mut rng = SplitMix64::new(5);
    let prefix = trace(&mut rng, "bob", "house", false);
    let ids = prefix_prompt(dir.generator.tokenizer(), &prefix, m.config.title_tokens, m.config.context).expect("prompt");
    let soft = dir.students.soft_token(&dir.students.row_vector(2).expect("bob's row")).expect("soft token");
    let pooled = pooled_features(dir.probe_model(), &ids, &soft).expect("forward");
    let out = probe.predict(&pooled).expect("predict");
    assert!((0.0..=1.0).contains(&out.risk), "{out:?}");
    assert!(out.future_attempts >= 0.0 && out.remaining_distance >= 0.0, "{out:?}");

    // The server's memo: each longer prefix reads only its new state, with the
    // features of one full forward pass.
    let mut memos = PrefixMemos::new(2);
    let (mut previous, mut extended) = (Vec::new(), 0);
    for k in 1..=prefix.programs.len() {
        let part = Trace { programs: prefix.programs[..k].to_vec(), ..prefix.clone() };
        let ids = prefix_prompt(dir.generator.tokenizer(), &part, m.config.title_tokens, m.config.context).expect("prompt");
        let full = pooled_features(dir.probe_model(), &ids, &soft).expect("forward");
        let (reused, read) = memos.pooled_features(dir.probe_model(), &ids, &soft).expect("memo forward");
        let diff = full.iter().zip(&reused).map(|(a, b)| (a - b).abs()).fold(0.0f32, f32::max);
        assert!(diff < 1e-4, "prefix {k}: features differ by {diff}");
        if k > 1 && ids.starts_with(&previous) {
            assert_eq!(read, ids.len() - previous.len(), "prefix {k} reads only its new ids");
            extended += 1;
        }
        previous = ids.clone();
        let (_, again) = memos.pooled_features(dir.probe_model(), &ids, &soft).expect("memo again");
        assert_eq!(again, 0, "the same prefix is remembered");
    }
    assert!(extended > 0, "no prefix extended the one before it");
    let other_soft = dir.students.soft_token(&dir.students.row_vector(1).expect("row")).expect("soft");
    let ids = prefix_prompt(dir.generator.tokenizer(), &prefix, m.config.title_tokens, m.config.context).expect("prompt");
    let (_, read) = memos.pooled_features(dir.probe_model(), &ids, &other_soft).expect("other student");
    assert_eq!(read, ids.len(), "another soft token starts over");
    drop(dir);

    // A probe fitted on one graph's features is refused with another's.
    let model_dir = tmp.path().join("model");
    let mut m = Manifest::read(&model_dir).expect("manifest");
    m.files.remove(FEATURES_FILE);
    m.write(&model_dir).expect("write manifest");
    let Err(e) = ModelDir::open(&model_dir, &SessionOptions::default()) else { panic!("the probe would read model.onnx") };
    let e = e.to_string();
    assert!(e.contains("fitted on features.onnx") && e.contains("pencil-trainer probe"), "{e}");
}

#[test]
fn figure4_probes_every_target_with_both_controls_and_draws_the_chart() {
    use pencil_trainer::probe::chart::DEFAULT_FONT;
    use pencil_trainer::probe::figure4::{run_figure4, Figure4Options, TARGETS};

    let tmp = tempfile::tempdir().expect("tempdir");
    let (run, corpus, dataset) = fixtures(tmp.path());
    let model = tmp.path().join("model");
    let bar = indicatif::ProgressBar::hidden();
    let export = ExportOptions {
        run_dir: run,
        out: model.clone(),
        corpus: vec![corpus.clone()],
        command: "test export".into(),
        check_parity: false,
        feature_layers: 1,
        feature_int8: true,
        model_int8: false,
    };
    export_run(&export, &bar).expect("export");
    let opts = Figure4Options {
        model_dir: model,
        corpus: vec![corpus],
        dataset: Some(dataset),
        max_prefixes: 10_000,
        seed: 1,
        splits: 3,
        command: "pencil-trainer probe --figure4 (test)".into(),
        session: SessionOptions::default(),
        sandbox: SandboxConfig::default(),
    };
    let report = run_figure4(&opts, &bar).expect("figure 4 runs");
    eprintln!("{}", report.markdown());
    // 40 complete traces of 4-6 states, 3 prefixes each; 4 students (dave is row 0), 5 titles.
    assert_eq!((report.traces, report.prefixes, report.students, report.titles), (40, 120, 4, 5));
    assert_eq!(report.rows.len(), TARGETS.len());
    for r in &report.rows {
        assert_eq!(r.per_split["model"].len(), 3, "{r:?}");
        for m in [&r.model, &r.shuffled_students, &r.shuffled_embeddings] {
            assert!(m.mean.is_finite() && m.se >= 0.0, "{r:?}");
        }
    }
    // Every final program of the fixture runs, so correctness has one class: scored at chance.
    let correct = report.rows.iter().find(|r| r.target == "final_correct").expect("row");
    assert_eq!(correct.model.mean, 0.5, "{correct:?}");

    let out = tmp.path().join("figures");
    report.write(&out, std::path::Path::new(DEFAULT_FONT)).expect("writes the table and the chart");
    let md = std::fs::read_to_string(out.join("figure4.md")).expect("markdown");
    assert!(md.contains("| remaining edit distance |") && md.contains("shuffled embeddings"), "{md}");
    let json: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(out.join("figure4.json")).expect("json")).expect("parses");
    assert_eq!(json["rows"][0]["target"], "title");
    assert_eq!(&std::fs::read(out.join("figure4.png")).expect("png")[..4], b"\x89PNG");
}
