//! Learning a student's own vector (`pencil_core::adapt`, `pencil_lsp::adaptation`)
//! on a `tiny` model trained here on a slice of the public corpus and exported as
//! `pencil-trainer export` does: the vector lowers the student's loss on traces it
//! was not learned from; the transformer read back from `model.onnx` is the run's;
//! the stored vector survives a restart, is ignored by another model and
//! forgotten by `pencil-lsp student reset`; a huge trace costs no more than the caps.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::{Path, PathBuf};
use std::sync::atomic::AtomicBool;
use std::sync::OnceLock;
use std::time::Instant;

use candle_core::{Device, Tensor};
use pencil_core::adapt::{adapt_vector, adaptation_texts, load_trace_model, mean_loss, AdaptOptions};
use pencil_core::corpus::{read_corpus, write_jsonl, ReadOptions};
use pencil_core::inference::{SessionOptions, StudentVectors};
use pencil_core::model::{Mode, Preset, TraceTokenizer};
use pencil_core::scrub::{NameLists, Scrubber};
use pencil_core::text_format::write;
use pencil_core::Trace;
use pencil_lsp::adaptation::{learn, restore, Learned};
use pencil_lsp::coach::ModelEngine;
use pencil_lsp::store::{StoreHandle, Trigger};
use pencil_trainer::bpe::train_bpe;
use pencil_trainer::dataset::{build, prepare, BuildOptions, Variant};
use pencil_trainer::optim::AdamWParams;
use pencil_trainer::splits::SplitConfig;
use pencil_trainer::train::{load_run, train, TrainOptions};
use pencil_trainer::windows::WindowConfig;

fn public_corpus() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared/data/public/trace-model.jsonl.gz")
}

struct Fixture {
    dir: PathBuf,
    run: PathBuf,
    model: PathBuf,
    /// The same model with one weight changed (another model.onnx sha256).
    other_model: PathBuf,
    /// A student the model never trained on, with the most traces, oldest first.
    student: Vec<Trace>,
}

/// Every 8th trace of the public corpus; a tiny model trained on it for 120
/// steps and exported, twice (the second with one weight changed).
fn fixture() -> &'static Fixture {
    static F: OnceLock<Fixture> = OnceLock::new();
    F.get_or_init(|| {
        pencil_trainer::cpu::configure_threads(Some(1));
        let tmp = Path::new(env!("CARGO_TARGET_TMPDIR"));
        for entry in std::fs::read_dir(tmp).into_iter().flatten().flatten() {
            let name = entry.file_name().to_string_lossy().to_string();
            if let Some(pid) = name.strip_prefix("adaptation-fixture-") {
                if !Path::new("/proc").join(pid).exists() {
                    let _ = std::fs::remove_dir_all(entry.path());
                }
            }
        }
        let dir = tmp.join(format!("adaptation-fixture-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("mkdir");
        let all = read_corpus(&public_corpus(), ReadOptions::default()).expect("public corpus").traces;
        let slice: Vec<Trace> = all.iter().step_by(8).cloned().collect();
        let slice_path = dir.join("slice.jsonl");
        write_jsonl(std::fs::File::create(&slice_path).expect("create"), &slice).expect("write");
        let prepared = prepare(std::slice::from_ref(&slice_path), &Scrubber::new(NameLists::default())).expect("prepare");
        let texts: Vec<String> = prepared.traces.iter().filter_map(|t| write(t, 0).ok()).collect();
        let tok = train_bpe(&texts, 512).expect("bpe");
        let tok_path = dir.join("tokenizer.json");
        tok.save(&tok_path, false).expect("save tokenizer");
        let cfg = Preset::Tiny.config(512, 0);
        let opts = BuildOptions {
            windows: WindowConfig { context: cfg.context, title_tokens: cfg.title_tokens, overlap: 16 },
            splits: SplitConfig { seed: 3, ..SplitConfig::default() },
            title_mask_fraction: 0.15,
        };
        let data = dir.join("data");
        build(&prepared, &[slice_path], &tok_path, &opts, &data, &indicatif::ProgressBar::hidden()).expect("build dataset");
        let run = dir.join("run");
        let train_opts = TrainOptions {
            preset: Preset::Tiny,
            data,
            variant: Variant::Trace,
            batch_size: 8,
            max_steps: 120,
            lr: 3e-3,
            warmup: 10,
            eval_every: 60,
            eval_windows: 32,
            patience: 100,
            seed: 1,
            adamw: AdamWParams::default(),
            bf16: false,
            cpu: true,
            halt_at: None,
        };
        train(&train_opts, &run, false, &indicatif::ProgressBar::hidden()).expect("train");
        let model = dir.join("model");
        export(&run, &model);
        // Another model: the same run with the final LayerNorm's bias moved.
        let other_run = dir.join("run-other");
        copy_dir(&run, &other_run);
        let weights_path = other_run.join("model.safetensors");
        let mut weights: HashMap<String, Tensor> = candle_core::safetensors::load(&weights_path, &Device::Cpu).expect("weights");
        let bias = weights["ln_f.bias"].affine(1.0, 0.01).expect("shift");
        weights.insert("ln_f.bias".into(), bias);
        candle_core::safetensors::save(&weights, &weights_path).expect("save");
        let other_model = dir.join("model-other");
        export(&other_run, &other_model);

        let trained: BTreeSet<String> = serde_json::from_str::<serde_json::Value>(
            &std::fs::read_to_string(run.join("students.json")).expect("students.json"),
        )
        .expect("json")["students"]
            .as_array()
            .expect("list")
            .iter()
            .filter_map(|s| s.as_str().map(String::from))
            .collect();
        let mut by_student: BTreeMap<String, Vec<Trace>> = BTreeMap::new();
        for t in all.into_iter().filter(|t| !trained.contains(&t.student) && t.programs.len() > 1) {
            by_student.entry(t.student.clone()).or_default().push(t);
        }
        let (_, mut student) = by_student.into_iter().max_by_key(|(_, ts)| ts.len()).expect("an unseen student");
        assert!(student.len() >= 8, "the unseen student with most traces has {}", student.len());
        student.sort_by(|a, b| a.programs[0].time.cmp(&b.programs[0].time));
        Fixture { dir, run, model, other_model, student }
    })
}

fn export(run: &Path, out: &Path) {
    let opts = pencil_trainer::export::ExportOptions {
        run_dir: run.to_path_buf(),
        out: out.to_path_buf(),
        command: "adaptation test".into(),
        ..Default::default()
    };
    pencil_trainer::export::export_run(&opts, &indicatif::ProgressBar::hidden()).expect("export");
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).expect("mkdir");
    for entry in std::fs::read_dir(from).expect("read dir").flatten() {
        if entry.path().is_file() {
            std::fs::copy(entry.path(), to.join(entry.file_name())).expect("copy");
        }
    }
}

fn scrubber() -> Scrubber {
    Scrubber::new(NameLists::default())
}

fn engine(model: &Path) -> ModelEngine {
    ModelEngine::open(model, &SessionOptions { intra_threads: Some(1), ..SessionOptions::default() }).expect("model loads")
}

/// Options small enough for a test.
fn quick() -> AdaptOptions {
    AdaptOptions { max_tokens_per_trace: 128, steps: 8, max_steps: 12, ..AdaptOptions::default() }
}

/// Records `traces` for the store's local student (one state per program, in order).
fn record(store: &StoreHandle, traces: &[Trace]) {
    let me = store.local_student().to_string();
    for t in traces {
        for p in &t.programs {
            let (me, title, code, time) = (me.clone(), t.title.clone(), p.code.clone(), p.time.clone());
            store.call_blocking(move |db| db.record_state(&me, &title, &code, &time, Trigger::Run)).expect("record");
        }
    }
}

/// The student's first `n` traces, each under its own title (the store keeps one
/// trace per title, and this student wrote some titles more than once).
fn distinct(traces: &[Trace], n: usize) -> Vec<Trace> {
    traces.iter().take(n).enumerate().map(|(i, t)| Trace { title: format!("{}{}", t.title, i + 1), ..t.clone() }).collect()
}

fn cli(data: &Path, args: &[&str]) -> String {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_pencil-lsp"))
        .arg("student")
        .args(args)
        .arg("--data-dir")
        .arg(data)
        .env("RUST_LOG", "off")
        .output()
        .expect("run pencil-lsp student");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8_lossy(&out.stdout).to_string()
}

#[test]
fn the_transformer_read_back_from_model_onnx_is_the_runs() {
    let f = fixture();
    let manifest = pencil_core::inference::Manifest::read(&f.model).expect("manifest");
    let from_onnx = load_trace_model(&f.model, &manifest).expect("weights from model.onnx");
    let (from_run, _) = load_run(&f.run, &Device::Cpu).expect("run");
    let ids = Tensor::new(&[[5u32, 9, 17, 3, 40, 41, 42]], &Device::Cpu).expect("ids");
    let rows = Tensor::new(&[0u32], &Device::Cpu).expect("rows");
    let soft = from_run.student.soft_token_for_rows(&rows).expect("soft");
    let a = from_onnx.logits(&ids, &soft, Mode::Infer).and_then(|t| t.flatten_all()).and_then(|t| t.to_vec1::<f32>()).expect("a");
    let b = from_run.logits(&ids, &soft, Mode::Infer).and_then(|t| t.flatten_all()).and_then(|t| t.to_vec1::<f32>()).expect("b");
    let worst = a.iter().zip(&b).map(|(x, y)| (x - y).abs()).fold(0f32, f32::max);
    assert!(worst < 1e-4, "logits differ by up to {worst}");
}

#[test]
fn adaptation_lowers_the_students_loss_on_traces_it_did_not_see() {
    let f = fixture();
    let manifest = pencil_core::inference::Manifest::read(&f.model).expect("manifest");
    let cfg = &manifest.config;
    let tok = TraceTokenizer::load(&f.model.join("tokenizer.json")).expect("tokenizer");
    let model = load_trace_model(&f.model, &manifest).expect("model");
    let unseen = StudentVectors::load(&f.model.join("students.safetensors"), &manifest).and_then(|s| s.row_vector(0)).expect("unseen");
    let options = AdaptOptions { max_tokens_per_trace: cfg.context, ..AdaptOptions::default() };
    let (learn_on, judge_on) = f.student.split_at(4);
    let texts = adaptation_texts(learn_on.to_vec(), &scrubber(), &tok, cfg.title_tokens, cfg.context, &options).expect("texts");
    let held = adaptation_texts(judge_on.to_vec(), &scrubber(), &tok, cfg.title_tokens, cfg.context, &options).expect("texts");
    assert!(texts.len() == 4 && held.len() >= 4, "{} / {} texts", texts.len(), held.len());
    let adapted = adapt_vector(&model, &texts, &unseen, &options, &AtomicBool::new(false)).expect("adapts");
    let before = mean_loss(&model, &held, &unseen).expect("before");
    let after = mean_loss(&model, &held, &adapted.vector).expect("after");
    eprintln!("held-out traces: {before:.4} -> {after:.4} per token ({} steps, {:?}, held-back {:?})", adapted.steps, adapted.stop, adapted.held_out_loss);
    assert!(after < before, "the learned vector reads the student's other traces worse: {before} -> {after}");
    assert_ne!(adapted.vector, unseen);
}

#[test]
fn the_learned_vector_survives_a_restart_and_student_reset_forgets_it() {
    let f = fixture();
    let data = f.dir.join("data-restart");
    let _ = std::fs::remove_dir_all(&data);
    let row = {
        let (store, _) = StoreHandle::open(&data).expect("store");
        record(&store, &distinct(&f.student, 3));
        let engine = engine(&f.model);
        assert_eq!(engine.own_vector(), None);
        let me = store.local_student().to_string();
        let learned = learn(&store, &engine, &me, None, &scrubber(), &quick(), &AtomicBool::new(false)).expect("learns");
        let Learned::Stored(row) = learned else { panic!("nothing learned") };
        assert_eq!(row.traces, 3);
        assert_eq!(engine.own_vector().as_ref(), Some(&row.vector));
        // Nothing new recorded: nothing to learn again.
        let again = learn(&store, &engine, &me, None, &scrubber(), &quick(), &AtomicBool::new(false)).expect("again");
        assert_eq!(again, Learned::Unchanged);
        row
    };
    // A new process: the store and the model open afresh.
    let (store, _) = StoreHandle::open(&data).expect("store");
    let engine = engine(&f.model);
    assert_eq!(engine.own_vector(), None);
    assert!(restore(&store, &engine, store.local_student(), true).expect("restore"));
    assert_eq!(engine.own_vector(), Some(row.vector.clone()));
    // Turned off: the unseen-student vector, the stored one kept.
    assert!(!restore(&store, &engine, store.local_student(), false).expect("restore off"));
    assert_eq!(engine.own_vector(), None);
    drop(store);

    let shown = cli(&data, &["show", "--json", "--model", f.model.to_str().expect("utf-8")]);
    let shown: serde_json::Value = serde_json::from_str(&shown).expect("json");
    assert_eq!(shown["learned"]["traces"], 3, "{shown}");
    assert_eq!(shown["learned"]["learned_at"], row.learned_at.as_str(), "{shown}");
    assert_eq!(shown["for_this_model"], true, "{shown}");
    let text = cli(&data, &["show", "--model", f.model.to_str().expect("utf-8")]);
    assert!(text.starts_with("learned from 3 of your traces") && text.contains("in use with the model"), "{text}");

    let reset = cli(&data, &["reset"]);
    assert!(reset.starts_with("forgot"), "{reset}");
    let (store, _) = StoreHandle::open(&data).expect("store");
    assert!(!restore(&store, &engine, store.local_student(), true).expect("restore"));
    assert_eq!(engine.own_vector(), None);
    let shown: serde_json::Value = serde_json::from_str(&cli(&data, &["show", "--json"])).expect("json");
    assert!(shown["learned"].is_null(), "{shown}");
}

#[test]
fn another_model_starts_again_from_the_unseen_vector() {
    let f = fixture();
    let data = f.dir.join("data-model-change");
    let _ = std::fs::remove_dir_all(&data);
    let (store, _) = StoreHandle::open(&data).expect("store");
    record(&store, &distinct(&f.student, 2));
    let first = engine(&f.model);
    let me = store.local_student().to_string();
    let learned = learn(&store, &first, &me, None, &scrubber(), &quick(), &AtomicBool::new(false)).expect("learns");
    assert!(matches!(learned, Learned::Stored(_)));
    let other = engine(&f.other_model);
    assert_ne!(first.model_sha256(), other.model_sha256());
    assert!(!restore(&store, &other, &me, true).expect("restore"));
    assert_eq!(other.own_vector(), None);
    let shown: serde_json::Value =
        serde_json::from_str(&cli(&data, &["show", "--json", "--model", f.other_model.to_str().expect("utf-8")])).expect("json");
    assert_eq!(shown["for_this_model"], false, "{shown}");
    // The other model learns its own, replacing the first's.
    let relearned = learn(&store, &other, &me, None, &scrubber(), &quick(), &AtomicBool::new(false)).expect("learns");
    let Learned::Stored(row) = relearned else { panic!("nothing learned for the other model") };
    assert_eq!(row.model_sha256, other.model_sha256());
    assert!(!restore(&store, &first, &me, true).expect("restore"));
}

#[test]
fn a_huge_trace_costs_no_more_than_the_caps() {
    let f = fixture();
    let data = f.dir.join("data-huge");
    let _ = std::fs::remove_dir_all(&data);
    let (store, _) = StoreHandle::open(&data).expect("store");
    let me = store.local_student().to_string();
    // 400 states of 200 kB each (80 MB of code) in one title, and a small one.
    let line = "fd 10; rt 45; pen red # a comment that goes on\n".repeat(4000);
    for i in 0..400 {
        let (me, code, time) = (me.clone(), format!("{line}dot {i}\n"), format!("2031-01-01 00:{:02}:{:02}", i / 60, i % 60));
        store.call_blocking(move |db| db.record_state(&me, "huge", &code, &time, Trigger::Run)).expect("record");
    }
    record(&store, &distinct(&f.student, 1));
    let engine = engine(&f.model);
    let options = quick();
    let started = Instant::now();
    let learned = learn(&store, &engine, &me, None, &scrubber(), &options, &AtomicBool::new(false)).expect("learns");
    let elapsed = started.elapsed();
    let Learned::Stored(row) = learned else { panic!("nothing learned") };
    assert_eq!(row.traces, 2);
    assert!(row.tokens as usize <= 2 * options.max_tokens_per_trace, "{} tokens", row.tokens);
    assert_eq!(row.steps as usize, options.steps);
    eprintln!("huge trace: learned in {:.2} s", elapsed.as_secs_f64());

    // Cancelled at once: no vector, nothing stored over the old one.
    let before = engine.own_vector();
    store.call_blocking(move |db| db.record_state(&me, "huge", "fd 1", "2031-01-02 00:00:00", Trigger::Run)).expect("record");
    let me = store.local_student().to_string();
    let cancelled = learn(&store, &engine, &me, None, &scrubber(), &options, &AtomicBool::new(true));
    assert!(matches!(cancelled, Err(pencil_lsp::adaptation::AdaptationError::Adapt(pencil_core::adapt::AdaptError::Cancelled))), "{cancelled:?}");
    assert_eq!(engine.own_vector(), before);
}
