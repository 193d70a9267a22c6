//! LSP over WebSocket (`--listen`): one JSON-RPC message per text frame, loopback only
//! unless `--allow-remote`.

use futures_util::{SinkExt, StreamExt};
use serde_json::{json, Value};
use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::Duration;
use tokio_tungstenite::tungstenite::Message;

struct Killed(std::process::Child);

impl Drop for Killed {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

async fn next_json(ws: &mut (impl StreamExt<Item = Result<Message, tokio_tungstenite::tungstenite::Error>> + Unpin)) -> Value {
    loop {
        let msg = tokio::time::timeout(Duration::from_secs(60), ws.next()).await.expect("timed out").expect("open").expect("frame");
        if let Message::Text(t) = msg {
            return serde_json::from_str(t.as_str()).expect("json");
        }
    }
}

#[test]
fn websocket_clients_run_programs() {
    let data = tempfile::tempdir().expect("tempdir");
    let mut child = Command::new(env!("CARGO_BIN_EXE_pencil-lsp"))
        .args(["--listen", "127.0.0.1:0"])
        .env("PENCIL_DATA_DIR", data.path())
        .env("RUST_LOG", "warn")
        .stderr(Stdio::piped())
        .spawn()
        .expect("start");
    let stderr = child.stderr.take().expect("stderr");
    let _guard = Killed(child);
    let mut lines = BufReader::new(stderr).lines();
    let url = loop {
        let line = lines.next().expect("server exited").expect("line");
        if let Some(url) = line.strip_prefix("pencil-lsp: listening on ") {
            break url.to_string();
        }
    };
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("runtime");
    runtime.block_on(async {
        let (mut ws, _) = tokio_tungstenite::connect_async(url.as_str()).await.expect("connect");
        let send = |v: Value| Message::text(v.to_string());
        ws.send(send(json!({"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {"capabilities": {}}}))).await.expect("send");
        let mut init = next_json(&mut ws).await;
        while init.get("id") != Some(&json!(1)) {
            init = next_json(&mut ws).await;
        }
        assert_eq!(init["result"]["serverInfo"]["name"], "pencil-lsp");
        ws.send(send(json!({"jsonrpc": "2.0", "method": "initialized", "params": {}}))).await.expect("send");
        // Garbage gets an error and the session goes on.
        ws.send(Message::text("{ not json")).await.expect("send");
        let uri = "file:///browser/house.coffee";
        ws.send(send(json!({"jsonrpc": "2.0", "method": "textDocument/didOpen",
            "params": {"textDocument": {"uri": uri, "languageId": "coffeescript", "version": 1, "text": "pen purple\nfd 100\n"}}})))
            .await
            .expect("send");
        ws.send(send(json!({"jsonrpc": "2.0", "id": 2, "method": "pencil/run", "params": {"textDocument": {"uri": uri}}})))
            .await
            .expect("send");
        let mut saw_parse_error = false;
        loop {
            let msg = next_json(&mut ws).await;
            if msg["error"]["code"] == -32700 {
                saw_parse_error = true;
            }
            if msg["id"] == 2 {
                assert_eq!(msg["result"]["status"], "ok", "{msg}");
                break;
            }
        }
        assert!(saw_parse_error);
    });
}

#[test]
fn remote_addresses_need_allow_remote() {
    let out = Command::new(env!("CARGO_BIN_EXE_pencil-lsp"))
        .args(["--listen", "0.0.0.0:0"])
        .output()
        .expect("run");
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("not a loopback address") && stderr.contains("--allow-remote"), "{stderr}");
}
