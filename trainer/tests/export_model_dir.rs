//! `pencil-trainer export` end to end: a run directory in, a model directory
//! out whose manifest matches its files, which `ModelDir` opens and samples
//! from, and whose corrupted or missing files give errors naming them.

mod export_support;

use std::path::{Path, PathBuf};
use std::process::Command;

use candle_core::{Device, Tensor};
use export_support::{random_weights, tiny_config, tiny_tokenizer};
use pencil_core::inference::manifest::{Manifest, MODEL_FILE, STUDENTS_FILE, TOKENIZER_FILE};
use pencil_core::inference::{GenerationRequest, ModelDir, SamplingParams, SessionOptions};

const STUDENTS: [&str; 3] = ["alice", "bob", "carol"];

/// A run directory as `pencil-trainer train` writes it, with random weights,
/// and a corpus where bob never backtracks and the others do.
fn fake_run(root: &Path) -> PathBuf {
    let run = root.join("run");
    std::fs::create_dir_all(&run).expect("mkdir");
    let tok = tiny_tokenizer();
    tok.inner().save(run.join("tokenizer.json"), false).expect("save tokenizer");
    let cfg = tiny_config(tok.vocab_size());
    std::fs::write(run.join("config.json"), serde_json::to_string(&cfg).expect("json")).expect("write");
    candle_core::safetensors::save(&random_weights(&cfg, 4), run.join("model.safetensors")).expect("save weights");
    std::fs::write(run.join("students.json"), serde_json::json!({ "students": STUDENTS }).to_string()).expect("write");
    std::fs::write(run.join("log.jsonl"), "{\"step\":10,\"val_loss\":3.5}\n{\"step\":20,\"val_loss\":3.25}\n").expect("write");

    let mut lines = Vec::new();
    for (s, student) in STUDENTS.iter().enumerate() {
        for i in 0..25 {
            let codes: Vec<&str> = if *student == "bob" {
                vec!["pen red\n", "pen red\nfd 10\n", "pen red\nfd 100\n"]
            } else {
                vec!["pen red\nfd 100\n", "dot blue, 300\nzzzzzzzzzzzzzzzzzz\n", "pen red\nfd 100\n"]
            };
            let programs: Vec<_> = codes
                .iter()
                .enumerate()
                .map(|(n, c)| serde_json::json!({"n": n + 1, "time": format!("2019-05-09 16:1{n}:0{s}"), "code": c}))
                .collect();
            let rec = serde_json::json!({"source": "trace-model", "student": student, "title": format!("title{i}"), "eos": true, "programs": programs});
            lines.push(rec.to_string());
        }
    }
    let corpus = root.join("corpus.jsonl");
    std::fs::write(&corpus, lines.join("\n") + "\n").expect("write corpus");
    let dataset = serde_json::json!({ "format": 1, "inputs": [corpus.display().to_string()], "n_students": 3 });
    std::fs::write(run.join("manifest.json"), dataset.to_string()).expect("write");
    run
}

fn export(run: &Path, out: &Path) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_pencil-trainer"))
        .arg("export")
        .arg(run)
        .arg("--out")
        .arg(out)
        .output()
        .expect("run pencil-trainer")
}

fn open_err(dir: &Path) -> String {
    match ModelDir::open(dir, &SessionOptions::default()) {
        Ok(_) => panic!("{} opened although broken", dir.display()),
        Err(e) => e.to_string(),
    }
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).expect("mkdir");
    for e in std::fs::read_dir(from).expect("read dir") {
        let e = e.expect("entry");
        std::fs::copy(e.path(), to.join(e.file_name())).expect("copy");
    }
}

#[test]
fn export_writes_a_model_directory_that_opens_and_generates() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let run = fake_run(tmp.path());
    let out = tmp.path().join("models/tiny");
    let o = export(&run, &out);
    assert!(o.status.success(), "export failed: {}", String::from_utf8_lossy(&o.stderr));

    let m = Manifest::read(&out).expect("manifest");
    m.validate(&out).expect("manifest matches files");
    assert_eq!(m.preset, "tiny");
    assert_eq!(m.onnx_opset, 17);
    assert_eq!(m.validation_loss, Some(3.25));
    for f in [MODEL_FILE, TOKENIZER_FILE, STUDENTS_FILE] {
        assert!(m.files[f].bytes > 0 && m.files[f].sha256.len() == 64, "{f}");
    }
    let strong = m.strong_student.clone().expect("strong student chosen");
    assert_eq!((strong.student.as_str(), strong.row, strong.n_traces), ("bob", 2, 25));
    assert_eq!(strong.mean_goal_backtracking, 0.0);
    assert!(m.provenance.export_command.contains("export"));
    let parity = m.parity.clone().expect("parity measured at export");
    assert!(parity.max_abs_logit_diff < 1e-3 && parity.max_abs_logit_diff_kv_cache < 1e-3, "{parity:?}");

    let mut dir = ModelDir::open(&out, &SessionOptions::default()).expect("open");
    // The strong vector is bob's row of the checkpoint's table, and its soft
    // token is what candle's student module computes.
    let weights = candle_core::safetensors::load(run.join("model.safetensors"), &Device::Cpu).expect("weights");
    let bob: Vec<f32> = weights["student.table"].get(2).and_then(|t| t.to_vec1()).expect("row");
    assert_eq!(dir.students.strong_vector().expect("strong"), bob);
    assert_eq!(dir.students.row_vector(2).expect("row"), bob);
    let h = weights["student.mlp.0.weight"].matmul(&Tensor::new(bob.as_slice(), &Device::Cpu).and_then(|t| t.unsqueeze(1)).expect("col")).expect("mm");
    let h = (h.squeeze(1).expect("sq") + &weights["student.mlp.0.bias"]).and_then(|t| t.relu()).expect("fc1");
    let soft = (weights["student.mlp.2.weight"].matmul(&h.unsqueeze(1).expect("col")).and_then(|t| t.squeeze(1)).expect("mm") + &weights["student.mlp.2.bias"]).expect("fc2");
    let want: Vec<f32> = soft.to_vec1().expect("vec");
    let got = dir.students.soft_token(&bob).expect("soft");
    assert!(want.iter().zip(&got).all(|(a, b)| (a - b).abs() < 1e-5));

    let prompt = dir.generator.tokenizer().title_region("snowman", m.config.title_tokens, false).expect("title");
    let req = GenerationRequest { prompt: &prompt, soft_token: &got, n_samples: 2, max_new_tokens: 8, sampling: SamplingParams::default(), seed: 1 };
    let samples = dir.generator.generate(&req).expect("generate");
    assert_eq!(samples.len(), 2);
}

#[test]
fn an_int8_model_is_checked_on_validation_windows_and_still_generates() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let run = fake_run(tmp.path());
    // The dataset the run trained on: its tokenizer and validation windows.
    let data = tmp.path().join("data");
    std::fs::create_dir_all(data.join("trace")).expect("mkdir");
    std::fs::copy(run.join("tokenizer.json"), data.join("tokenizer.json")).expect("copy tokenizer");
    let tok = tiny_tokenizer();
    let cfg = tiny_config(tok.vocab_size());
    let mut windows = pencil_trainer::windows::WindowSet::new(cfg.context);
    for w in 0..6u32 {
        let mut ids: Vec<u32> = (0..cfg.context as u32).map(|i| (i * 7 + w * 13) % tok.vocab_size() as u32).collect();
        // Trailing padding, which the check must not count.
        for id in ids.iter_mut().skip(cfg.context / 2 + w as usize) {
            *id = tok.special.pad;
        }
        windows.push(&ids, w % 3);
    }
    windows.save(&data.join("trace/validation.safetensors")).expect("save windows");
    let train_config = serde_json::json!({ "data": data.display().to_string(), "variant": "trace" });
    std::fs::write(run.join("train_config.json"), train_config.to_string()).expect("write");

    let f32_dir = tmp.path().join("f32");
    assert!(export(&run, &f32_dir).status.success());
    let out = tmp.path().join("int8");
    let o = Command::new(env!("CARGO_BIN_EXE_pencil-trainer")).arg("export").arg(&run).arg("--out").arg(&out).arg("--model-int8").output().expect("run");
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert!(o.status.success(), "export failed: {stderr}");
    let m = Manifest::read(&out).expect("manifest");
    m.validate(&out).expect("manifest matches files");
    let q = m.quantization.clone().expect("int8 checked against full precision");
    assert_eq!(q.windows, 6);
    assert!(q.tokens > 6 * (cfg.context / 2 - 1) && q.tokens < 6 * cfg.context, "padding not counted: {q:?}");
    assert!(q.validation_loss_f32.is_finite() && q.validation_loss_int8.is_finite() && q.validation_loss_f32 > 0.0, "{q:?}");
    assert_eq!(q.int8, q.validation_loss_int8 - q.validation_loss_f32 <= q.tolerance, "{q:?}");
    assert!(stderr.contains("validation loss"), "{stderr}");
    let size = |dir: &Path| std::fs::metadata(dir.join(MODEL_FILE)).expect("size").len();
    if q.int8 {
        assert!(size(&out) * 2 < size(&f32_dir), "int8 {} vs f32 {}", size(&out), size(&f32_dir));
    } else {
        assert_eq!(size(&out), size(&f32_dir));
    }
    let mut dir = ModelDir::open(&out, &SessionOptions::default()).expect("open");
    let soft = dir.students.soft_token(&dir.students.strong_vector().expect("strong")).expect("soft");
    let prompt = dir.generator.tokenizer().title_region("snowman", m.config.title_tokens, false).expect("title");
    let req = GenerationRequest { prompt: &prompt, soft_token: &soft, n_samples: 2, max_new_tokens: 8, sampling: SamplingParams::default(), seed: 1 };
    assert_eq!(dir.generator.generate(&req).expect("generate").len(), 2);
}

#[test]
fn corrupted_or_missing_files_give_errors_naming_them() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let run = fake_run(tmp.path());
    let good = tmp.path().join("good");
    assert!(export(&run, &good).status.success());

    // One flipped byte in the graph.
    let bad = tmp.path().join("flipped");
    copy_dir(&good, &bad);
    let mut bytes = std::fs::read(bad.join(MODEL_FILE)).expect("read");
    let mid = bytes.len() / 2;
    bytes[mid] ^= 0x55;
    std::fs::write(bad.join(MODEL_FILE), &bytes).expect("write");
    let e = open_err(&bad);
    assert!(e.contains("model.onnx") && e.contains("sha256"), "{e}");

    // A truncated students file.
    let bad = tmp.path().join("truncated");
    copy_dir(&good, &bad);
    let bytes = std::fs::read(bad.join(STUDENTS_FILE)).expect("read");
    std::fs::write(bad.join(STUDENTS_FILE), &bytes[..bytes.len() / 2]).expect("write");
    let e = open_err(&bad);
    assert!(e.contains("students.safetensors") && e.contains("bytes"), "{e}");

    // Missing files.
    for name in [TOKENIZER_FILE, MODEL_FILE, "manifest.json"] {
        let bad = tmp.path().join(format!("missing-{name}"));
        copy_dir(&good, &bad);
        std::fs::remove_file(bad.join(name)).expect("remove");
        let e = open_err(&bad);
        assert!(e.contains(name), "{name}: {e}");
    }

    // Garbage that the manifest vouches for: the graph loader itself names the file.
    let bad = tmp.path().join("garbage");
    copy_dir(&good, &bad);
    std::fs::write(bad.join(MODEL_FILE), b"not an onnx graph").expect("write");
    let mut m = Manifest::read(&bad).expect("manifest");
    m.files.insert(MODEL_FILE.into(), pencil_core::inference::manifest::FileEntry::of(&bad.join(MODEL_FILE)).expect("hash"));
    m.write(&bad).expect("write manifest");
    let e = open_err(&bad);
    assert!(e.contains("model.onnx") && e.contains("cannot load the ONNX graph"), "{e}");

    // A run directory without weights: the export names the missing file.
    std::fs::remove_file(run.join("model.safetensors")).expect("remove");
    let o = export(&run, &tmp.path().join("none"));
    assert!(!o.status.success());
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains("model.safetensors"), "{err}");
}
