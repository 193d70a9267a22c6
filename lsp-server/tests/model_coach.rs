//! The model-backed coach end to end over stdio, with a tiny exported model whose
//! weights are scripted to write a known next program: a failing run gets a
//! backtracking hint (the model's probe says "high risk"), a "Fix in my style" code
//! action with `$/progress`, and the action's edit, applied, runs.

mod model_support;
mod support;

use model_support::{digitless_tokenizer, export_scripted_model};
use pencil_core::{ProgramState, Trace};
use pencil_lsp::coach::engine::fix_prompt_from;
use pencil_lsp::coach::style_fix::{self, HintSize};
use serde_json::json;
use support::{apply_text_edits, LspClient};

const FAILING: &str = "pen red\nfd 100\nrt 90\nfdd 50\n";
const FIXED: &str = "pen red\nfd 100\nrt 90\nfd 60\n";

/// A model directory in `work` that, after the first state of "snowman" being
/// [`FAILING`], writes [`FIXED`], and whose probe says risk sigmoid(4) ~ 0.98.
fn scripted_model(work: &std::path::Path) -> std::path::PathBuf {
    let tok = digitless_tokenizer();
    // The prompt the coach builds for the first state of "snowman"; any clock
    // time gives the same length with this tokenizer.
    let cfg = pencil_core::model::Preset::Tiny.config(tok.vocab_size(), 3);
    let trace = Trace {
        student: "me".into(),
        title: "snowman".into(),
        programs: vec![ProgramState { n: 1, time: "2031-07-04 09:08:07".into(), code: FAILING.into() }],
        eos: false,
        provenance: Default::default(),
    };
    // The sample begins with the lines above the mistake (`fdd` on line 4), as the coach begins it.
    let start = style_fix::kept_start(FAILING, style_fix::kept_lines(FAILING, Some(4)));
    let (prompt, _) =
        fix_prompt_from(&tok, &trace, FAILING, &start, HintSize::Small.edit_size(), cfg.title_tokens, cfg.n_positions())
            .expect("prompt");
    let mut script = tok.encode(&FIXED[start.len()..]).expect("encode");
    script.push(tok.special.end_of_text);
    let model_dir = work.join("model");
    export_scripted_model(work, &model_dir, &tok, prompt.len(), &script, Some(4.0));
    model_dir
}

#[test]
fn replay_prints_risk_and_the_fix_in_my_style_as_a_diff() {
    let work = tempfile::tempdir().expect("tempdir");
    let model_dir = scripted_model(work.path());
    let corpus = work.path().join("corpus.jsonl");
    let trace = json!({"student": "s1", "title": "snowman", "programs": [{"n": 1, "time": "2024-03-01 10:00:00", "code": FAILING}]});
    std::fs::write(&corpus, format!("{trace}\n")).expect("write corpus");
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_pencil-lsp"))
        .args(["replay", corpus.to_str().expect("utf-8"), "--samples", "3", "--model", model_dir.to_str().expect("utf-8")])
        .env("RUST_LOG", "off")
        .output()
        .expect("run replay");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{text}\n{}", String::from_utf8_lossy(&out.stderr));
    let lines: Vec<&str> = text.lines().map(str::trim).collect();
    assert!(lines[0].starts_with("model: "), "{text}");
    assert!(lines.iter().any(|l| l.starts_with("risk: 0.98 (above threshold 0.50)")), "{text}");
    assert!(lines.iter().any(|l| l.starts_with("fix in my style: 3 sampled (0 cut off), 1 distinct new programs, 1 run")), "{text}");
    assert!(
        lines.iter().any(|l| l.starts_with("fix: Fix in my style: change line 4 (`fdd 50` → `fd 60`) (verified: runs")),
        "{text}"
    );
    assert!(lines.contains(&"-fdd 50") && lines.contains(&"+fd 60"), "{text}");
    assert!(lines.last().is_some_and(|l| l.ends_with("1 of them with a verified fix (1 with a running \"Fix in my style\")")), "{text}");
}

#[test]
fn failing_run_gets_a_hint_and_a_fix_in_my_style_that_runs() {
    let work = tempfile::tempdir().expect("tempdir");
    let model_dir = scripted_model(work.path());

    let mut lsp = LspClient::start(&work.path().join("data"));
    let init = lsp.initialize(json!({"modelDir": model_dir, "fixSamples": 4}));
    assert!(init.get("error").is_none(), "{init}");
    let uri = "file:///tmp/pencil/snowman.coffee";
    lsp.notify("textDocument/didOpen", json!({"textDocument": {"uri": uri, "languageId": "coffeescript", "version": 1, "text": FAILING}}));
    let run = lsp.request("pencil/run", json!({"textDocument": {"uri": uri}}));
    assert_eq!(run["result"]["status"], "error", "{run}");

    // The probe reads sigmoid(4) ~ 0.98 > its threshold 0.5: one gentle hint.
    let hint = lsp.wait_notification("pencil/hint", |p| p["textDocument"]["uri"] == uri);
    let risk = hint["params"]["risk"].as_f64().expect("risk");
    assert!((risk - 0.982).abs() < 0.01, "{hint}");
    assert!(hint["params"]["hintId"].as_i64().is_some_and(|id| id > 0), "recorded in the store: {hint}");
    assert!(hint["params"]["message"].as_str().is_some_and(|m| m.contains("compare what it draws") && !m.contains('%')), "{hint}");

    let actions = lsp.request(
        "textDocument/codeAction",
        json!({
            "textDocument": {"uri": uri},
            "range": {"start": {"line": 3, "character": 0}, "end": {"line": 3, "character": 0}},
            "context": {"diagnostics": []},
            "workDoneToken": "fix-1"
        }),
    );
    let list = actions["result"].as_array().unwrap_or_else(|| panic!("actions: {actions}"));
    let titles: Vec<&str> = list.iter().filter_map(|a| a["title"].as_str()).collect();
    let style_at = titles.iter().position(|t| t.starts_with("Fix in my style")).unwrap_or_else(|| panic!("{titles:?}"));
    assert!(titles[..style_at].iter().all(|t| !t.starts_with("Fix in my style")), "rule-based fixes come first: {titles:?}");
    assert_eq!(titles[style_at], "Fix in my style: change line 4 (`fdd 50` → `fd 60`)");
    assert_eq!(titles.iter().filter(|t| t.starts_with("Fix in my style")).count(), 1, "identical samples are offered once");
    for kind in ["begin", "report", "end"] {
        lsp.wait_notification("$/progress", |p| p["token"] == "fix-1" && p["value"]["kind"] == kind);
    }

    let action = &list[style_at];
    let edits = action["edit"]["changes"][uri].as_array().expect("edits");
    let fixed = apply_text_edits(FAILING, edits);
    assert_eq!(fixed, FIXED);
    assert!(action["command"]["arguments"][0].as_i64().is_some(), "the fix is recorded as a hint: {action}");
    lsp.notify(
        "textDocument/didChange",
        json!({"textDocument": {"uri": uri, "version": 2}, "contentChanges": [{"text": fixed}]}),
    );
    let rerun = lsp.request("pencil/run", json!({"textDocument": {"uri": uri}}));
    assert_eq!(rerun["result"]["status"], "ok", "the fix runs: {rerun}");
    let accepted = lsp.request("workspace/executeCommand", json!({"command": action["command"]["command"], "arguments": action["command"]["arguments"]}));
    assert_eq!(accepted["result"], json!(true), "{accepted}");
    assert!(lsp.shutdown().success());
}

#[test]
fn a_changed_model_dir_setting_loads_that_model_without_a_restart() {
    let work = tempfile::tempdir().expect("tempdir");
    let model_dir = scripted_model(work.path());

    // Started with the model off: the server says so.
    let mut lsp = LspClient::start(&work.path().join("data"));
    let init = lsp.initialize(json!({}));
    assert!(init.get("error").is_none(), "{init}");
    lsp.wait_notification("window/showMessage", |p| p["message"].as_str().is_some_and(|m| m.contains("\"Fix in my style\" are off")));

    // The setting names a model: it loads in the background and the student is told.
    lsp.notify("workspace/didChangeConfiguration", json!({"settings": {"pencil": {"modelDir": model_dir}}}));
    let shown = lsp.wait_notification("window/showMessage", |p| p["message"].as_str().is_some_and(|m| m.contains("now using the trace model")));
    assert!(shown["params"]["message"].as_str().is_some_and(|m| m.contains(model_dir.to_str().expect("utf-8"))), "{shown}");

    // From then on a failing run gets the model's hint.
    let uri = "file:///tmp/pencil/snowman.coffee";
    lsp.notify("textDocument/didOpen", json!({"textDocument": {"uri": uri, "languageId": "coffeescript", "version": 1, "text": FAILING}}));
    let run = lsp.request("pencil/run", json!({"textDocument": {"uri": uri}}));
    assert_eq!(run["result"]["status"], "error", "{run}");
    let hint = lsp.wait_notification("pencil/hint", |p| p["textDocument"]["uri"] == uri);
    assert!(hint["params"]["risk"].as_f64().is_some_and(|r| r > 0.9), "{hint}");

    // A directory that is not a model: a clear warning naming it; the server carries on.
    let bogus = work.path().join("no-model-here");
    lsp.notify("workspace/didChangeConfiguration", json!({"settings": {"modelDir": bogus}}));
    let warned = lsp.wait_notification("window/showMessage", |p| p["message"].as_str().is_some_and(|m| m.contains("no-model-here")));
    assert_eq!(warned["params"]["type"], json!(2), "a warning: {warned}");
    let again = lsp.request("pencil/run", json!({"textDocument": {"uri": uri}}));
    assert_eq!(again["result"]["status"], "error", "recording and checking go on: {again}");
    assert!(lsp.shutdown().success());
}
