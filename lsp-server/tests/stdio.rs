//! End to end over stdio with the real binary: open, change, run, diagnostics, code
//! action, apply the edit, the fixed program runs; then the store has it all.

mod support;

use pencil_lsp::store::Database;
use serde_json::{json, Value};
use support::{apply_text_edits, LspClient};

fn change(uri: &str, version: i32, text: &str) -> Value {
    json!({"textDocument": {"uri": uri, "version": version}, "contentChanges": [{"text": text}]})
}

#[test]
fn run_diagnose_fix_and_rerun() {
    let data = tempfile::tempdir().expect("tempdir");
    let mut lsp = LspClient::start(data.path());
    let init = lsp.initialize(json!({"pencil": {"recordOnSave": false}}));
    let caps = &init["result"]["capabilities"];
    assert_eq!(caps["experimental"]["pencil"]["protocolVersion"], 2, "{init}");
    assert_eq!(caps["experimental"]["pencil"]["requests"], json!(["pencil/run", "pencil/trace"]), "{init}");
    assert_eq!(caps["codeActionProvider"]["codeActionKinds"], json!(["quickfix"]));
    // Without a model the server says so once, clearly.
    let shown = lsp.wait_notification("window/showMessage", |p| p["message"].as_str().is_some_and(|m| m.contains("no trace model")));
    assert!(shown["params"]["message"].as_str().is_some_and(|m| m.contains("do not need the model")), "{shown}");

    let uri = "file:///home/student/snowman.coffee";
    let first = "speed 10\npen red\nfd 100\n";
    lsp.notify(
        "textDocument/didOpen",
        json!({"textDocument": {"uri": uri, "languageId": "coffeescript", "version": 1, "text": first}}),
    );
    // An incremental change: line 2 `pen red` -> `pen lightbleu` (a misspelled color).
    lsp.notify(
        "textDocument/didChange",
        json!({"textDocument": {"uri": uri, "version": 2}, "contentChanges": [
            {"range": {"start": {"line": 1, "character": 4}, "end": {"line": 1, "character": 7}}, "text": "lightbleu"}
        ]}),
    );
    let broken = "speed 10\npen lightbleu\nfd 100\n";

    let run = lsp.request("pencil/run", json!({"textDocument": {"uri": uri}}));
    let result = &run["result"];
    assert_eq!(result["status"], "error", "{run}");
    assert!(result.get("drawing").is_none(), "a version 1 request gets no drawing: {run}");
    assert_eq!(result["paper_success"], false);
    assert!(result["fixes"].as_u64().is_some_and(|n| n >= 1), "{run}");
    let published = lsp.wait_notification("textDocument/publishDiagnostics", |p| p["uri"] == uri);
    let diags = published["params"]["diagnostics"].as_array().expect("diagnostics").clone();
    assert_eq!(diags.len(), 1, "{published}");
    assert_eq!(diags[0]["range"], json!({"start": {"line": 1, "character": 4}, "end": {"line": 1, "character": 13}}));
    assert_eq!(diags[0]["severity"], 1);
    assert_eq!(diags[0]["source"], "pencil");
    assert_eq!(published["params"]["version"], 2);

    let actions = lsp.request(
        "textDocument/codeAction",
        json!({"textDocument": {"uri": uri}, "range": diags[0]["range"], "context": {"diagnostics": diags}}),
    );
    let actions = actions["result"].as_array().expect("code actions").clone();
    let best = &actions[0];
    assert_eq!(best["kind"], "quickfix");
    assert_eq!(best["isPreferred"], true);
    assert!(best["title"].as_str().is_some_and(|t| t.contains("lightblue")), "{best}");
    let edits = best["edit"]["changes"][uri].as_array().expect("edits").clone();
    assert_eq!(edits.len(), 1, "a minimal edit: {edits:?}");
    let fixed = apply_text_edits(broken, &edits);
    assert_eq!(fixed, "speed 10\npen lightblue\nfd 100\n");

    // The client applies the edit, then runs the command attached to the action.
    lsp.notify("textDocument/didChange", change(uri, 3, &fixed));
    let cmd = &best["command"];
    let accepted = lsp.request("workspace/executeCommand", json!({"command": cmd["command"], "arguments": cmd["arguments"]}));
    assert_eq!(accepted["result"], true, "{accepted}");

    let rerun = lsp.request("pencil/run", json!({"textDocument": {"uri": uri}}));
    assert_eq!(rerun["result"]["status"], "ok", "{rerun}");
    assert_eq!(rerun["result"]["paper_success"], true);
    let cleared = lsp.wait_notification("textDocument/publishDiagnostics", |p| p["version"] == 3);
    assert_eq!(cleared["params"]["diagnostics"], json!([]));
    // Running the same program again collapses into the same state.
    let again = lsp.request("pencil/run", json!({"textDocument": {"uri": uri}}));
    assert_eq!(again["result"]["state_id"], rerun["result"]["state_id"]);
    assert!(lsp.shutdown().success());

    // Everything the student did is in the store, under a random id, titled by file stem.
    let (mut db, _) = Database::open_in(data.path()).expect("reopen store");
    let me = db.local_student().expect("student");
    assert_eq!(me.len(), 32);
    let states = db.states(&me, "snowman").expect("states");
    let summary: Vec<(&str, Option<&str>, i64)> =
        states.iter().map(|s| (s.code.as_str(), s.result.as_ref().map(|r| r.status.as_str()), s.runs)).collect();
    assert_eq!(summary, vec![(broken, Some("error"), 1), (fixed.as_str(), Some("ok"), 2)]);
    let hint_id = cmd["arguments"][0].as_i64().expect("hint id");
    assert!(db.hint_accepted(hint_id).expect("hint"));
}

#[test]
fn saving_records_and_checks_when_enabled() {
    let data = tempfile::tempdir().expect("tempdir");
    let mut lsp = LspClient::start(data.path());
    lsp.initialize(json!(null)); // recordOnSave defaults to on
    let uri = "file:///tmp/saved.coffee";
    lsp.notify("textDocument/didOpen", json!({"textDocument": {"uri": uri, "languageId": "coffeescript", "version": 1, "text": "pen red\nfd 10 10\n"}}));
    lsp.notify("textDocument/didSave", json!({"textDocument": {"uri": uri}}));
    let published = lsp.wait_notification("textDocument/publishDiagnostics", |p| p["uri"] == uri);
    assert_eq!(published["params"]["diagnostics"].as_array().map(Vec::len), Some(1), "{published}");
    // Turned off by configuration, a save records nothing more.
    lsp.notify("workspace/didChangeConfiguration", json!({"settings": {"pencil": {"recordOnSave": false}}}));
    lsp.notify("textDocument/didChange", change(uri, 2, "pen red\nfd 10\n"));
    lsp.notify("textDocument/didSave", json!({"textDocument": {"uri": uri}}));
    let run = lsp.request("pencil/run", json!({"textDocument": {"uri": uri}}));
    assert_eq!(run["result"]["status"], "ok");
    assert!(lsp.shutdown().success());
    let (mut db, _) = Database::open_in(data.path()).expect("store");
    let me = db.local_student().expect("student");
    let codes: Vec<String> = db.states(&me, "saved").expect("states").into_iter().map(|s| s.code).collect();
    assert_eq!(codes, vec!["pen red\nfd 10 10\n".to_string(), "pen red\nfd 10\n".to_string()]);
}

#[test]
fn missing_comma_and_misspelled_command_are_fixed() {
    let data = tempfile::tempdir().expect("tempdir");
    let mut lsp = LspClient::start(data.path());
    lsp.initialize(json!(null));
    for (name, text, expected) in [
        ("comma", "pen blue\nmoveto 100 100\nfd 50\n", "pen blue\nmoveto 100, 100\nfd 50\n"),
        ("command", "pen blue\nmoevto 10, 10\nfd 50\n", "pen blue\nmoveto 10, 10\nfd 50\n"),
    ] {
        let uri = format!("file:///tmp/{name}.coffee");
        lsp.notify("textDocument/didOpen", json!({"textDocument": {"uri": uri, "languageId": "coffeescript", "version": 1, "text": text}}));
        let run = lsp.request("pencil/run", json!({"textDocument": {"uri": uri}}));
        assert_eq!(run["result"]["status"], "error", "{name}: {run}");
        let actions = lsp.request(
            "textDocument/codeAction",
            json!({"textDocument": {"uri": uri}, "range": {"start": {"line": 1, "character": 0}, "end": {"line": 1, "character": 0}}, "context": {"diagnostics": []}}),
        );
        let best = &actions["result"][0];
        let edits = best["edit"]["changes"][&uri].as_array().unwrap_or_else(|| panic!("{name}: no action: {actions}")).clone();
        assert_eq!(apply_text_edits(text, &edits), expected, "{name}: {best}");
    }
}

#[test]
fn protocol_two_runs_answer_the_drawing_and_the_trace_lists_each_state_with_its_diff() {
    let data = tempfile::tempdir().expect("tempdir");
    let mut lsp = LspClient::start(data.path());
    lsp.initialize(json!({"pencil": {"recordOnSave": false}}));
    let uri = "file:///home/student/square.coffee";
    let first = "pen red\nfd 100\nrt 90\nfdd 50\n";
    lsp.notify(
        "textDocument/didOpen",
        json!({"textDocument": {"uri": uri, "languageId": "coffeescript", "version": 1, "text": first}}),
    );
    let run = lsp.request("pencil/run", json!({"textDocument": {"uri": uri}, "drawing": true}));
    assert_eq!(run["result"]["status"], "error", "{run}");
    // What was drawn before the error is shown.
    let ops = run["result"]["drawing"]["ops"].as_array().expect("ops").clone();
    assert_eq!(ops.len(), 1, "{run}");
    assert_eq!(ops[0]["op"], "line");
    assert_eq!(ops[0]["points"], json!([0.0, 0.0, 0.0, 100.0]));
    let fixed = "pen red\nfd 100\nrt 90\nfd 50\n";
    lsp.notify("textDocument/didChange", change(uri, 2, fixed));
    let rerun = lsp.request("pencil/run", json!({"textDocument": {"uri": uri}, "drawing": true}));
    assert_eq!(rerun["result"]["status"], "ok", "{rerun}");
    assert_eq!(rerun["result"]["drawing"]["ops"][0]["points"], json!([0.0, 0.0, 0.0, 100.0, 50.0, 100.0]));
    assert_eq!(rerun["result"]["drawing"]["turtles"][0]["heading"], 90.0);

    let trace = lsp.request("pencil/trace", json!({"textDocument": {"uri": uri}}));
    let t = &trace["result"];
    assert_eq!(t["title"], "square", "{trace}");
    assert_eq!(t["truncated"], false);
    let states = t["states"].as_array().expect("states");
    assert_eq!(states.len(), 2, "{trace}");
    assert_eq!((states[0]["code"].as_str(), states[0]["status"].as_str(), states[0]["diff"].as_str()), (Some(first), Some("error"), Some("")));
    assert_eq!((states[1]["code"].as_str(), states[1]["status"].as_str()), (Some(fixed), Some("ok")));
    assert!(states[1]["diff"].as_str().is_some_and(|d| d.contains("-fdd 50\n+fd 50\n")), "{trace}");
    let last = lsp.request("pencil/trace", json!({"textDocument": {"uri": uri}, "limit": 1}));
    assert_eq!(last["result"]["states"].as_array().map(Vec::len), Some(1));
    assert_eq!(last["result"]["truncated"], true);
    assert!(lsp.shutdown().success());
}
