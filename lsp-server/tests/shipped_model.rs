//! The model the coach ships, `models/default`, as a student's editor meets it: found
//! beside the executable, loaded (every file against its manifest's sha256, both
//! ONNX graphs, the probe against its feature graph), the backtracking risk of a
//! known trace prefix, and "Fix in my style" on a failing program sampling whole
//! programs that run. A broken shipped model fails here, not in the editor.
//! ONNX Runtime comes from `.deps/python/onnxruntime/capi/` (`scripts/setup.sh`).

use pencil_core::{ProgramState, Trace};
use pencil_lsp::checker::{student_sandbox_config, Checker};
use pencil_lsp::coach::locate::shipped_default;
use pencil_lsp::coach::style_fix::HintSize;
use pencil_lsp::coach::{Coach, ModelStatus, StudentVector};
use pencil_lsp::pipeline::{self, RiskOutcome, Services, StyleFixParams};
use std::path::Path;

fn trace(programs: &[&str]) -> Trace {
    Trace {
        student: "local".into(),
        title: "snowman".into(),
        programs: programs
            .iter()
            .enumerate()
            .map(|(i, code)| ProgramState { n: i as u32 + 1, time: format!("2024-03-01 10:0{i}:00"), code: code.to_string() })
            .collect(),
        eos: false,
        provenance: Default::default(),
    }
}

/// The sandbox contained as in the server, with pencil-lsp itself as the worker process.
fn contained_checker() -> Checker {
    let worker = pencil_sandbox::Isolation::Process(pencil_sandbox::WorkerCommand {
        program: env!("CARGO_BIN_EXE_pencil-lsp").into(),
        args: vec![pencil_lsp::checker::WORKER_SUBCOMMAND.into()],
    });
    Checker::start(pencil_sandbox::SandboxConfig { isolation: worker, ..student_sandbox_config() }).expect("sandbox")
}

#[test]
fn the_shipped_model_loads_reads_risk_and_samples_fixes_that_run() {
    let repo_copy = Path::new(env!("CARGO_MANIFEST_DIR")).join("../models/default");
    let exe = std::env::current_exe().expect("test executable");
    let found = shipped_default(&exe).expect("models/default is found from the executable, as the server finds it");
    assert_eq!(found.canonicalize().ok(), repo_copy.canonicalize().ok());

    let coach = Coach::open(&found);
    assert_eq!(coach.status(), ModelStatus::Ready { dir: found.clone(), probe: true }, "{:?}", coach.missing_message());
    let services = Services { store: None, checker: Some(contained_checker()), coach: coach.clone() };
    let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().expect("runtime");
    runtime.block_on(async {
        let failing = trace(&["pen red\nfd 100\n", "pen red\nfd 100\nrt 90\nfdd 50\n"]);
        let RiskOutcome::Risk(first) = pipeline::assess_risk(&services, failing.clone()).await else {
            panic!("no risk from the shipped probe");
        };
        assert!((0.0..=1.0).contains(&first.risk), "{first:?}");
        assert!(first.future_attempts.is_finite() && first.remaining_distance.is_finite(), "{first:?}");
        // Read again from nothing: the prefix memo and a fresh read agree.
        coach.engine().expect("engine").forget_prefixes();
        let RiskOutcome::Risk(again) = pipeline::assess_risk(&services, failing.clone()).await else { panic!("no risk") };
        assert!((first.risk - again.risk).abs() < 1e-4, "{first:?} vs {again:?}");

        let params = StyleFixParams { samples: 8, size: HintSize::Small, vector: StudentVector::Mine, seed: 7 };
        let search = pipeline::find_style_fixes(&services, failing, params, None).await;
        assert_eq!(search.problem, None);
        // Rounds of 8 until one finds a fix (`style_fix::search_rounds`).
        assert!(search.sampled >= 8 && search.sampled % 8 == 0, "{search:?}");
        assert!(search.candidates >= 1, "no whole new program among the samples: {search:?}");
        let fix = search.fixes.first().unwrap_or_else(|| panic!("no sampled program runs: {search:?}"));
        assert_ne!(fix.new_code.trim(), "pen red\nfd 100\nrt 90\nfdd 50");
        let verdict = services.checker.as_ref().expect("checker").check(fix.new_code.clone()).await.expect("checked");
        assert_ne!(verdict.status, pencil_sandbox::Status::Error, "{}", fix.new_code);
    });
}

/// A loop's body cut in half (its middle line dedented) gets two one-line fixes:
/// put it back into the block, or line the rest up with it. The rules offer the
/// first first; the shipped model, reading both as the student's next state,
/// agrees, and would have chosen it from the other order too.
#[test]
fn the_shipped_model_chooses_among_quick_fixes_the_rules_cannot_tell_apart() {
    let found = shipped_default(&std::env::current_exe().expect("test executable")).expect("models/default");
    let services = Services { store: None, checker: Some(contained_checker()), coach: Coach::open(&found) };
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("runtime");
    let whole = "pen blue\nfor [1..5]\n  fd 100\n  rt 72\n  dot red, 10\n";
    let cut = "pen blue\nfor [1..5]\n  fd 100\nrt 72\n  dot red, 10\n";
    let outcome = runtime.block_on(pipeline::run(
        &services,
        pipeline::RunInput {
            student: "local".into(),
            title: "star".into(),
            code: cut.into(),
            time: "2024-03-01 10:00:00".into(),
            trigger: pencil_lsp::store::Trigger::Run,
            quick_fixes: true,
        },
    ));
    let programs: Vec<&str> = outcome.fixes.iter().map(|f| f.fix.new_code.as_str()).collect();
    assert_eq!(programs.first().copied(), Some(whole), "{programs:#?}");
    let lined_up = "pen blue\nfor [1..5]\n  fd 100\nrt 72\ndot red, 10\n";
    assert_eq!(programs.get(1).copied(), Some(lined_up), "both fixes are offered: {programs:#?}");
    assert_eq!(outcome.rules_first, None, "the model kept the rules' order: {programs:#?}");
    // The model's own reading, given the other order.
    let engine = services.coach.engine().expect("engine");
    let trace = Trace {
        student: "local".into(),
        title: "star".into(),
        programs: vec![ProgramState { n: 1, time: "2024-03-01 10:00:00".into(), code: cut.into() }],
        eos: false,
        provenance: Default::default(),
    };
    let log_probs = engine.next_state_log_probs(&trace, &[lined_up.to_string(), whole.to_string()]).expect("scored");
    assert!(log_probs[1] > log_probs[0], "{log_probs:?}");
}

/// A student who ran a title hundreds of times: ranking tokenizes only the newest
/// states, and still scores as the whole trace, cut to the model's window, scores.
#[test]
fn ranking_a_long_trace_reads_only_what_reaches_the_window() {
    use pencil_core::inference::{continuation_log_probs, next_state_header, EditSize, ModelDir, SessionOptions};
    let found = shipped_default(&std::env::current_exe().expect("test executable")).expect("models/default");
    let coach = Coach::open(&found);
    let engine = coach.engine().expect("engine");
    let programs: Vec<ProgramState> = (0..400u32)
        .map(|i| ProgramState {
            n: i + 1,
            time: format!("2024-03-01 10:{:02}:{:02}", (i / 60) % 60, i % 60),
            code: format!("pen red\nfor [1..{}]\n  fd {}\n  rt 90\ndot blue, {}\n", i % 7 + 2, 10 + i, i % 50),
        })
        .collect();
    let long = Trace { student: "local".into(), title: "square".into(), programs, eos: false, provenance: Default::default() };
    let candidates = ["pen red\nfor [1..5]\n  fd 409\n  rt 90\ndot blue, 49\n".to_string(), "pen red\nfor [1..5]\n  fd 40\n  rt 90\ndot blue, 49\n".to_string()];
    let ranked = engine.next_state_log_probs(&long, &candidates).expect("long trace scored");

    // The reference: every state written out and tokenized, then cut to the window.
    let mut model = ModelDir::open(&found, &SessionOptions::default()).expect("model");
    let cfg = model.manifest.config.clone();
    let n_positions = model.generator.n_positions();
    let soft = model.students.soft_token(&model.students.row_vector(0).expect("row 0")).expect("soft token");
    let header = next_state_header(401, "2024-03-01 10:06:39", EditSize::Small).expect("header");
    let body: String = long.programs.iter().map(pencil_core::text_format::write_program).collect();
    let sequences: Vec<Vec<u32>> = candidates
        .iter()
        .map(|c| {
            let tok = model.generator.tokenizer();
            let mut ids = tok.title_region("square", cfg.title_tokens, false).expect("title");
            ids.extend(tok.encode(&format!("{body}{header}{c}CODE 402 (")).expect("encode"));
            ids
        })
        .collect();
    let longest = sequences.iter().map(Vec::len).max().expect("two");
    assert!(longest > 4 * n_positions, "the trace is far longer than the window ({longest} tokens)");
    let cut: Vec<Vec<u32>> = sequences.iter().map(|s| s[longest - (n_positions - 1)..].to_vec()).collect();
    let whole = continuation_log_probs(model.generator.model(), n_positions, &cut, &soft).expect("reference scored");
    for (x, y) in ranked.iter().zip(&whole) {
        assert!((x - y).abs() < 1e-3, "{ranked:?} vs {whole:?}");
    }
}
