//! End-to-end tests of the trainer on a slice of the public corpus: splits,
//! synthetic traces, a tiny model that learns, and checkpoint resume.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use candle_core::Device;
use pencil_core::corpus::{read_corpus, write_jsonl, ReadOptions};
use pencil_core::model::{Preset, TraceTokenizer};
use pencil_core::text_format::write;
use pencil_core::Trace;
use pencil_trainer::bpe::train_bpe;
use pencil_trainer::dataset::{build, prepare, read_json, BuildOptions, Manifest, Prepared, Variant};
use pencil_trainer::optim::AdamWParams;
use pencil_trainer::scrub::{NameLists, Scrubber};
use pencil_trainer::splits::{make_splits, Split, SplitConfig};
use pencil_trainer::synthetic::{instructions, synthesize};
use pencil_trainer::train::{build_model, evaluate, load_run, train, TrainOptions};
use pencil_trainer::windows::{WindowConfig, WindowSet};

fn public_corpus() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared/data/public/trace-model.jsonl.gz")
}

struct Fixture {
    dir: PathBuf,
    prepared: Prepared,
}

/// A dataset built from every 8th trace of the public corpus, tiny windows.
fn fixture() -> &'static Fixture {
    static F: OnceLock<Fixture> = OnceLock::new();
    F.get_or_init(|| {
        // One thread: candle's spinning pool is slower on a shared 2-core machine.
        pencil_trainer::cpu::configure_threads(Some(1));
        pencil_trainer::cpu::tune_allocator();
        // One folder per test process (test runs may overlap); folders of
        // processes that have ended are removed.
        let tmp = Path::new(env!("CARGO_TARGET_TMPDIR"));
        for entry in std::fs::read_dir(tmp).into_iter().flatten().flatten() {
            let name = entry.file_name().to_string_lossy().to_string();
            if let Some(pid) = name.strip_prefix("trainer-fixture-") {
                if !Path::new("/proc").join(pid).exists() {
                    let _ = std::fs::remove_dir_all(entry.path());
                }
            }
        }
        let dir = tmp.join(format!("trainer-fixture-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("mkdir");
        let all = read_corpus(&public_corpus(), ReadOptions::default()).expect("public corpus").traces;
        let slice: Vec<Trace> = all.into_iter().step_by(8).collect();
        let slice_path = dir.join("slice.jsonl");
        write_jsonl(std::fs::File::create(&slice_path).expect("create"), &slice).expect("write");
        let set = |xs: &[&str]| xs.iter().map(|s| s.to_string()).collect::<BTreeSet<_>>().into_iter().collect();
        let lists = NameLists::from_lists(set(&["hannah", "lindsey"]), set(&["smith"]), set(&["star"]));
        let prepared = prepare(std::slice::from_ref(&slice_path), &Scrubber::new(lists)).expect("prepare");
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
        build(&prepared, &[slice_path], &tok_path, &opts, &dir.join("data"), &indicatif::ProgressBar::hidden())
            .expect("build dataset");
        Fixture { dir, prepared }
    })
}

fn options(data: &Path, max_steps: usize, eval_every: usize) -> TrainOptions {
    TrainOptions {
        preset: Preset::Tiny,
        data: data.to_path_buf(),
        variant: Variant::Trace,
        batch_size: 8,
        max_steps,
        lr: 3e-3,
        warmup: 10,
        eval_every,
        eval_windows: 48,
        patience: 100,
        seed: 1,
        adamw: AdamWParams::default(),
        bf16: false,
        cpu: true,
        halt_at: None,
    }
}

#[test]
fn splits_are_disjoint_and_as_specified() {
    let f = fixture();
    let listing: BTreeMap<String, Vec<(String, String)>> = read_json(&f.dir.join("data/splits.json")).expect("splits.json");
    let mut seen = BTreeSet::new();
    for pairs in listing.values() {
        for p in pairs {
            assert!(seen.insert(p.clone()), "pair {p:?} is in two splits");
        }
    }
    let all: BTreeSet<(String, String)> = f.prepared.traces.iter().map(|t| (t.student.clone(), t.title.clone())).collect();
    assert_eq!(seen, all, "every pair is in exactly one split");
    let of = |s: Split| listing.get(s.name()).cloned().unwrap_or_default();
    let train_students: BTreeSet<String> = of(Split::Train).into_iter().map(|p| p.0).collect();
    let train_titles: BTreeSet<String> = of(Split::Train).into_iter().map(|p| p.1).collect();
    for (split, student_seen, title_seen) in [
        (Split::Validation, true, true),
        (Split::SeenStudentSeenTitle, true, true),
        (Split::SeenStudentUnseenTitle, true, false),
        (Split::UnseenStudentSeenTitle, false, true),
        (Split::UnseenStudentUnseenTitle, false, false),
    ] {
        let pairs = of(split);
        assert!(!pairs.is_empty() || split == Split::SeenStudentUnseenTitle, "{} is empty", split.name());
        for (s, t) in pairs {
            assert_eq!(train_students.contains(&s), student_seen, "{}: student {s}", split.name());
            assert_eq!(train_titles.contains(&t), title_seen, "{}: title {t}", split.name());
        }
    }
    // 80% of the pairs that are neither held-out student nor held-out title train.
    let unseen_title_pairs = of(Split::SeenStudentUnseenTitle).len() + of(Split::UnseenStudentUnseenTitle).len();
    assert!(unseen_title_pairs > 0, "a title is held out");
    let manifest: Manifest = read_json(&f.dir.join("data/manifest.json")).expect("manifest");
    let train_pairs = manifest.split_sizes.get("train").map_or(0, |s| s.pairs);
    assert!(train_pairs as f64 >= 0.75 * (all.len() - unseen_title_pairs) as f64 * 0.8, "{train_pairs} training pairs");
    // Deterministic from the seed, different with another seed.
    let cfg = SplitConfig { seed: 3, ..SplitConfig::default() };
    assert_eq!(make_splits(&all, &cfg).assignment, make_splits(&all, &cfg).assignment);
    assert_ne!(make_splits(&all, &cfg).assignment, make_splits(&all, &SplitConfig { seed: 4, ..cfg }).assignment);
}

#[test]
fn dataset_variants_are_token_matched_and_students_indexed() {
    let f = fixture();
    let manifest: Manifest = read_json(&f.dir.join("data/manifest.json")).expect("manifest");
    let train_tokens = |v: Variant| manifest.variants[v.name()]["train"].tokens;
    let target = train_tokens(Variant::Last);
    for v in [Variant::TraceDownsampled, Variant::SyntheticDownsampled] {
        let got = train_tokens(v);
        assert!(got >= target && got < target + 2000, "{}: {got} tokens for a target of {target}", v.name());
    }
    assert!(train_tokens(Variant::Trace) > target && train_tokens(Variant::Synthetic) > target);
    // Unseen-student windows use row 0; training windows never do.
    let train = WindowSet::load(&f.dir.join("data/trace/train.safetensors")).expect("train windows");
    assert!(train.rows.iter().all(|&r| r >= 1 && r as usize <= manifest.n_students));
    let unseen = WindowSet::load(&f.dir.join("data/trace/unseen_student_seen_title.safetensors")).expect("windows");
    assert!(!unseen.is_empty() && unseen.rows.iter().all(|&r| r == 0));
    // Windows start with a title region of the fixed size ending in <start>.
    let tok = TraceTokenizer::load(&f.dir.join("data/tokenizer.json")).expect("tokenizer");
    let title_tokens = manifest.windows.title_tokens;
    let starts = (0..train.len()).filter(|&i| train.window(i)[title_tokens] == tok.special.start).count();
    assert!(starts >= manifest.variants["trace"]["train"].traces, "each trace's first window has the title region");
}

#[test]
fn synthetic_traces_end_at_the_real_final_program() {
    let f = fixture();
    for t in &f.prepared.traces {
        let s = synthesize(t).expect("non-empty trace");
        let real_last = &t.programs.last().expect("program").code;
        assert_eq!(&s.programs.last().expect("program").code, real_last);
        assert!(s.programs.len() <= t.programs.len());
        let n_instr = instructions(real_last).len();
        for pair in s.programs.windows(2) {
            let (a, b) = (&pair[0].code, &pair[1].code);
            assert!(b.starts_with(a.as_str()), "each state extends the previous one");
            assert_eq!(instructions(b).len(), instructions(a).len() + 1, "by exactly one instruction");
        }
        assert!(instructions(&s.programs[0].code).len() == n_instr + 1 - s.programs.len());
    }
}

/// The tiny model's validation loss falls by at least 1.5 nats from its
/// initial value (about ln 512 = 6.2) within 80 steps.
#[test]
fn tiny_model_learns() {
    let f = fixture();
    let data = f.dir.join("data");
    let opts = options(&data, 80, 20);
    let tok = TraceTokenizer::load(&data.join("tokenizer.json")).expect("tokenizer");
    let manifest: Manifest = read_json(&data.join("manifest.json")).expect("manifest");
    let mut cfg = Preset::Tiny.config(tok.vocab_size(), manifest.n_students);
    cfg.title_tokens = manifest.windows.title_tokens;
    let fresh = build_model(&cfg, opts.seed, &Device::Cpu, false).expect("model");
    let val = WindowSet::load(&data.join("trace/validation.safetensors")).expect("validation");
    let initial = evaluate(&fresh.model, &val, &tok, 8, opts.eval_windows, &Device::Cpu).expect("eval");
    let out = f.dir.join("run-learns");
    let report = train(&opts, &out, false, &indicatif::ProgressBar::hidden()).expect("train");
    let best = report.state.best_val_loss.expect("evaluated");
    assert!(best < initial - 1.5, "validation loss {initial:.3} -> {best:.3}");
    // The run directory describes itself and its best weights load back.
    for f in ["config.json", "train_config.json", "model.safetensors", "tokenizer.json", "students.json", "manifest.json", "log.jsonl"] {
        assert!(out.join(f).is_file(), "{f} missing");
    }
    let log = std::fs::read_to_string(out.join("log.jsonl")).expect("log");
    assert_eq!(log.lines().count(), 4);
    let (model, tok) = load_run(&out, &Device::Cpu).expect("load run");
    let again = evaluate(&model, &val, &tok, 8, opts.eval_windows, &Device::Cpu).expect("eval");
    assert!((again - best).abs() < 1e-4, "reloaded {again} vs best {best}");
}

#[test]
fn resume_reproduces_the_same_loss() {
    let f = fixture();
    let data = f.dir.join("data");
    let straight = train(&options(&data, 24, 8), &f.dir.join("run-straight"), false, &indicatif::ProgressBar::hidden())
        .expect("straight run");
    let split_dir = f.dir.join("run-split");
    let halted = TrainOptions { halt_at: Some(12), ..options(&data, 24, 8) };
    let first = train(&halted, &split_dir, false, &indicatif::ProgressBar::hidden()).expect("first half");
    assert_eq!(first.state.step, 12);
    // The resume asks for a longer run: the schedule recorded at the start still rules,
    // so the rate does not jump and the run ends where it was planned to.
    let second = train(&options(&data, 40, 8), &split_dir, true, &indicatif::ProgressBar::hidden()).expect("resumed");
    assert_eq!(second.state.step, 24);
    let last = |r: &pencil_trainer::train::TrainReport| r.evals.last().map(|e| (e.step, e.val_loss, e.train_loss)).expect("eval");
    let (s1, v1, t1) = last(&straight);
    let (s2, v2, t2) = last(&second);
    assert_eq!(s1, s2);
    assert!((v1 - v2).abs() < 1e-5 && (t1 - t2).abs() < 1e-5, "straight {v1}/{t1} vs resumed {v2}/{t2}");
    let rates = |r: &pencil_trainer::train::TrainReport| r.evals.iter().map(|e| (e.step, e.lr)).collect::<Vec<_>>();
    let straight_rates = rates(&straight);
    for (step, lr) in rates(&first).into_iter().chain(rates(&second)) {
        assert!(straight_rates.contains(&(step, lr)), "step {step}: rate {lr} is not the straight run's");
    }
}
