//! Degrade, never break: without a usable store the server still checks programs and
//! says so once; a corrupted store is moved aside with a clear message.

mod support;

use serde_json::json;
use support::LspClient;

fn open_and_run(lsp: &mut LspClient) -> serde_json::Value {
    let uri = "file:///tmp/stars.coffee";
    lsp.notify("textDocument/didOpen", json!({"textDocument": {"uri": uri, "languageId": "coffeescript", "version": 1, "text": "pen gold\nfd 50\n"}}));
    lsp.request("pencil/run", json!({"textDocument": {"uri": uri}}))
}

#[test]
fn without_a_store_programs_are_still_checked() {
    let dir = tempfile::tempdir().expect("tempdir");
    let not_a_dir = dir.path().join("file");
    std::fs::write(&not_a_dir, "I am a file, not a directory").expect("write");
    let mut lsp = LspClient::start(&not_a_dir);
    lsp.initialize(json!({}));
    let msg = lsp.wait_notification("window/showMessage", |p| p["message"].as_str().is_some_and(|m| m.contains("not being recorded")));
    assert!(msg["params"]["message"].as_str().is_some_and(|m| m.contains(not_a_dir.to_str().expect("utf-8"))), "{msg}");
    let run = open_and_run(&mut lsp);
    assert_eq!(run["result"]["status"], "ok", "{run}");
    assert!(run["result"].get("state_id").is_none(), "{run}");
    assert!(lsp.shutdown().success());
}

#[test]
fn a_corrupted_store_is_moved_aside_and_replaced() {
    let dir = tempfile::tempdir().expect("tempdir");
    let garbage = b"definitely not SQLite ".repeat(100);
    std::fs::write(dir.path().join("pencil.db"), &garbage).expect("write");
    let mut lsp = LspClient::start(dir.path());
    lsp.initialize(json!({}));
    let msg = lsp.wait_notification("window/showMessage", |p| p["message"].as_str().is_some_and(|m| m.contains("could not be read")));
    assert!(msg["params"]["message"].as_str().is_some_and(|m| m.contains("nothing was deleted")), "{msg}");
    let run = open_and_run(&mut lsp);
    assert!(run["result"]["state_id"].as_i64().is_some(), "{run}");
    assert!(lsp.shutdown().success());
    let moved: Vec<_> = std::fs::read_dir(dir.path())
        .expect("list")
        .filter_map(Result::ok)
        .filter(|e| e.file_name().to_string_lossy().starts_with("pencil.db.corrupt-"))
        .collect();
    assert_eq!(moved.len(), 1);
    assert_eq!(std::fs::read(moved[0].path()).expect("read"), garbage);
}
