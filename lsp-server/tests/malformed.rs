//! Garbage on the wire, unknown methods, bad params, huge documents and invalid UTF-16
//! positions get LSP errors (or are dropped), never a crash.

mod support;

use serde_json::{json, Value};
use support::LspClient;

fn error_code(resp: &Value) -> i64 {
    resp["error"]["code"].as_i64().unwrap_or_else(|| panic!("expected an error: {resp}"))
}

#[test]
fn malformed_messages_get_errors_and_the_server_lives_on() {
    let data = tempfile::tempdir().expect("tempdir");
    let mut lsp = LspClient::start(data.path());
    lsp.initialize(json!({}));

    // Not JSON at all, JSON that is not JSON-RPC, and a header with no body length.
    lsp.send_raw(b"Content-Length: 9\r\n\r\nnot json!");
    lsp.send_raw(b"Content-Length: 14\r\n\r\n{\"hello\": 123}");
    lsp.send_raw(b"Content-Type: nothing\r\n\r\n");
    assert_eq!(error_code(&lsp.request("pencil/unknownMethod", json!({}))), -32601);
    assert_eq!(error_code(&lsp.request("pencil/run", json!({"wrong": true}))), -32602);
    assert_eq!(error_code(&lsp.request("pencil/run", json!({"textDocument": {"uri": "file:///never/opened.coffee"}}))), -32602);

    let uri = "file:///tmp/emoji.coffee";
    let text = "label '😀'\r\nfd 10\r\n";
    lsp.notify("textDocument/didOpen", json!({"textDocument": {"uri": uri, "languageId": "coffeescript", "version": 1, "text": text}}));
    // A range that splits the emoji's surrogate pair, and one past the end.
    for range in [
        json!({"start": {"line": 0, "character": 8}, "end": {"line": 0, "character": 9}}),
        json!({"start": {"line": 7, "character": 0}, "end": {"line": 7, "character": 1}}),
    ] {
        let resp = lsp.request("textDocument/codeAction", json!({"textDocument": {"uri": uri}, "range": range, "context": {"diagnostics": []}}));
        assert_eq!(error_code(&resp), -32602, "{resp}");
    }
    // An invalid change is refused as a whole; requests then say why until a full resync.
    lsp.notify(
        "textDocument/didChange",
        json!({"textDocument": {"uri": uri, "version": 2}, "contentChanges": [
            {"range": {"start": {"line": 0, "character": 8}, "end": {"line": 0, "character": 8}}, "text": "x"}
        ]}),
    );
    let resp = lsp.request("pencil/run", json!({"textDocument": {"uri": uri}}));
    assert_eq!(error_code(&resp), -32602);
    assert!(resp["error"]["message"].as_str().is_some_and(|m| m.contains("surrogate")), "{resp}");
    lsp.notify("textDocument/didChange", json!({"textDocument": {"uri": uri, "version": 3}, "contentChanges": [{"text": "fd 10\n"}]}));
    let resp = lsp.request("pencil/run", json!({"textDocument": {"uri": uri}}));
    assert_eq!(resp["result"]["status"], "ok", "{resp}");

    // A 2 MB document is refused with a message, not held, not checked.
    let huge_uri = "file:///tmp/huge.coffee";
    let huge = "fd 1\n".repeat(400_000);
    lsp.notify("textDocument/didOpen", json!({"textDocument": {"uri": huge_uri, "languageId": "coffeescript", "version": 1, "text": huge}}));
    let resp = lsp.request("pencil/run", json!({"textDocument": {"uri": huge_uri}}));
    assert_eq!(error_code(&resp), -32602);
    assert!(resp["error"]["message"].as_str().is_some_and(|m| m.contains("1048576 bytes")), "{resp}");

    // Unknown notifications are ignored; the server still answers.
    lsp.notify("pencil/somethingElse", json!([1, 2, 3]));
    assert_eq!(error_code(&lsp.request("workspace/executeCommand", json!({"command": "rm -rf /"}))), -32602);
    assert!(lsp.alive());
    assert!(lsp.shutdown().success());
}
