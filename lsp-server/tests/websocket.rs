//! LSP over WebSocket (`--listen`): one JSON-RPC message per text frame, loopback only
//! unless `--allow-remote`, and only for clients that pass the Host, Origin and token
//! checks; a page on another site, a client without this launch's token and a
//! DNS-rebinding request are refused before any LSP byte, and never reach the store.

mod support;

use futures_util::SinkExt;
use serde_json::{json, Value};
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};
use support::listener::{next_json, request, send, Listener, Ws};
use tokio_tungstenite::tungstenite::Message;

/// Rows in the store's `program_states` (0 when no store was ever opened).
fn recorded_states(data_dir: &Path) -> i64 {
    let path = data_dir.join("pencil.db");
    if !path.exists() {
        return 0;
    }
    let db = rusqlite::Connection::open_with_flags(&path, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY).expect("open store");
    db.query_row("SELECT count(*) FROM program_states", [], |r| r.get(0)).expect("count")
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread().enable_all().build().expect("runtime")
}

/// Opens a document and runs it; returns `pencil/run`'s result.
async fn run_program(ws: &mut Ws, uri: &str, text: &str) -> Value {
    let mut notes = Vec::new();
    let init = request(ws, 1, "initialize", json!({"capabilities": {}}), &mut notes).await;
    assert_eq!(init["result"]["serverInfo"]["name"], "pencil-lsp");
    send(ws, json!({"jsonrpc": "2.0", "method": "initialized", "params": {}})).await;
    send(ws, json!({"jsonrpc": "2.0", "method": "textDocument/didOpen",
        "params": {"textDocument": {"uri": uri, "languageId": "coffeescript", "version": 1, "text": text}}}))
    .await;
    request(ws, 2, "pencil/run", json!({"textDocument": {"uri": uri}}), &mut notes).await
}

#[test]
fn websocket_clients_run_programs() {
    let data = tempfile::tempdir().expect("tempdir");
    let server = Listener::start(data.path(), &[], &[]);
    runtime().block_on(async {
        let page = format!("http://{}", server.addr);
        let mut ws = server.connect(Some(&page), Some(&server.protocol()), None).await.expect("connect");
        let mut notes = Vec::new();
        let init = request(&mut ws, 1, "initialize", json!({"capabilities": {}}), &mut notes).await;
        assert_eq!(init["result"]["serverInfo"]["name"], "pencil-lsp");
        send(&mut ws, json!({"jsonrpc": "2.0", "method": "initialized", "params": {}})).await;
        // Garbage gets an error and the session goes on.
        ws.send(Message::text("{ not json")).await.expect("send");
        let uri = "file:///browser/house.coffee";
        send(&mut ws, json!({"jsonrpc": "2.0", "method": "textDocument/didOpen",
            "params": {"textDocument": {"uri": uri, "languageId": "coffeescript", "version": 1, "text": "pen purple\nfd 100\n"}}}))
        .await;
        let run = request(&mut ws, 2, "pencil/run", json!({"textDocument": {"uri": uri}}), &mut notes).await;
        assert_eq!(run["result"]["status"], "ok", "{run}");
        assert!(notes.iter().any(|m| m["error"]["code"] == -32700), "{notes:?}");
    });
    assert_eq!(recorded_states(data.path()), 1);
}

#[test]
fn untrusted_clients_are_refused_before_any_lsp_byte() {
    let data = tempfile::tempdir().expect("tempdir");
    let server = Listener::start(data.path(), &["--allow-origin", "https://Pencil.Example.org/"], &[]);
    let port = server.port().to_string();
    let right = server.protocol();
    let wrong = format!("pencil-lsp.token.{}", "0".repeat(64));
    let page = format!("http://{}", server.addr);
    runtime().block_on(async {
        // (what, Origin, subprotocol, Host, status)
        type Case<'a> = (&'a str, Option<&'a str>, Option<&'a str>, Option<String>, u16);
        let cases: [Case; 9] = [
            ("foreign origin", Some("http://evil.example"), Some(&right), None, 403),
            ("sandboxed or file page", Some("null"), Some(&right), None, 403),
            ("no token", Some(&page), None, None, 401),
            ("no token, no origin", None, None, None, 401),
            ("wrong token", Some(&page), Some(&wrong), None, 403),
            ("wrong Host port", None, Some(&right), Some("127.0.0.1:1".into()), 403),
            ("other machine's Host", None, Some(&right), Some(format!("192.168.0.7:{port}")), 403),
            ("DNS rebinding", Some(&format!("http://evil.example:{port}")), Some(&right), Some(format!("evil.example:{port}")), 403),
            ("rebinding, no origin", None, Some(&right), Some(format!("evil.example:{port}")), 403),
        ];
        for (what, origin, protocol, host, status) in cases {
            assert_eq!(server.handshake_status(origin, protocol, host.as_deref()).await, status, "{what}");
        }
        // Asked twice, the foreign origin is logged once.
        assert_eq!(server.handshake_status(Some("http://evil.example"), Some(&right), None).await, 403);
    });
    // A raw upgrade from a foreign page with a first LSP message right behind it: refused, nothing read.
    let key = "dGhlIHNhbXBsZSBub25jZQ==";
    let (status, body) = server.http(&format!(
        "GET / HTTP/1.1\r\nHost: {}\r\nOrigin: http://evil.example\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
         Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Protocol: {right}\r\n\r\n\
         {{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"pencil/run\"}}",
        server.addr
    ));
    assert_eq!(status, 403, "{body}");
    assert_eq!(recorded_states(data.path()), 0, "a refused client touched the store");
    assert!(!data.path().join("pencil.db").exists(), "no session was started");

    // The page: only with the token, only under an allowed Host.
    let get = |target: &str, host: &str| server.http(&format!("GET {target} HTTP/1.1\r\nHost: {host}\r\n\r\n"));
    let (status, body) = get(&format!("/?token={}", server.token), &server.addr);
    assert_eq!(status, 200, "{body}");
    assert!(body.contains(&format!("<meta name=\"pencil-lsp-token\" content=\"{}\">", server.token)), "{body}");
    let (status, body) = get(&format!("/?token={}", server.token), &format!("localhost:{port}"));
    assert_eq!(status, 200, "{body}");
    assert_eq!(get("/", &server.addr).0, 401);
    assert_eq!(get("/?token=guess", &server.addr).0, 403);
    let (status, body) = get(&format!("/?token={}", server.token), &format!("evil.example:{port}"));
    assert_eq!(status, 403);
    assert!(!body.contains(&server.token), "{body}");
    assert_eq!(get("/../etc/passwd", &server.addr).0, 404);
    assert_eq!(server.http(&format!("GET / HTTP/1.1\r\nHost: {}\r\nX-Big: {}\r\n\r\n", server.addr, "x".repeat(9000))).0, 431);

    // The page's origin, a listed origin and an editor (no Origin) with the token get in.
    runtime().block_on(async {
        assert_eq!(server.handshake_status(Some("https://pencil.example.org"), Some(&right), None).await, 101);
        assert_eq!(server.handshake_status(None, Some(&right), Some(&format!("localhost:{port}"))).await, 101);
        let mut ws = server.connect(Some(&page), Some(&right), None).await.expect("the page's origin with the token");
        let run = run_program(&mut ws, "file:///browser/snowman.coffee", "pen red\nfd 10\n").await;
        assert_eq!(run["result"]["status"], "ok", "{run}");
        assert!(run["result"]["state_id"].is_i64(), "{run}");
    });
    assert_eq!(recorded_states(data.path()), 1);

    // Each refusal is logged once per origin, without the token or the request's body.
    let deadline = Instant::now() + Duration::from_secs(10);
    while server.log_lines("evil.example\"").is_empty() && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(50));
    }
    let foreign = server.log_lines("Origin \"http://evil.example\"");
    assert_eq!(foreign.iter().filter(|l| l.contains("WebSocket")).count(), 1, "{foreign:#?}");
    let all = server.log_text();
    assert!(!all.contains(&server.token[8..]) && !all.contains("\"method\":\"pencil/run\""), "{all}");
}

#[test]
fn open_sessions_are_bounded_and_a_closed_one_frees_its_place() {
    let data = tempfile::tempdir().expect("tempdir");
    let server = Listener::start(data.path(), &[], &[]);
    let right = server.protocol();
    let page = format!("http://{}", server.addr);
    runtime().block_on(async {
        let mut open = Vec::new();
        for i in 0..pencil_lsp::server::MAX_SESSIONS {
            open.push(server.connect(Some(&page), Some(&right), None).await.unwrap_or_else(|e| panic!("session {i}: {e}")));
        }
        assert_eq!(server.handshake_status(Some(&page), Some(&right), None).await, 503, "one session too many");
        // The page itself and the confirmation pages are still served.
        let (status, _) = server.http(&format!("GET /?token={} HTTP/1.1\r\nHost: {}\r\n\r\n", server.token, server.addr));
        assert_eq!(status, 200);
        let mut closed = open.pop().expect("a session");
        closed.close(None).await.expect("close");
        drop(closed);
        let deadline = Instant::now() + Duration::from_secs(10);
        let mut ws = loop {
            match server.connect(Some(&page), Some(&right), None).await {
                Ok(ws) => break ws,
                Err(_) if Instant::now() < deadline => {
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
                Err(e) => panic!("the closed session's place was not freed: {e}"),
            }
        };
        let run = run_program(&mut ws, "file:///browser/after.coffee", "pen red\nfd 10\n").await;
        assert_eq!(run["result"]["status"], "ok", "{run}");
    });
}

#[test]
fn websocket_clients_name_no_files_and_call_only_listed_methods() {
    let work = tempfile::tempdir().expect("tempdir");
    let data = work.path().join("data");
    let token = "a1b2c3d4".repeat(8);
    let token_file = work.path().join("run/token");
    std::fs::create_dir_all(token_file.parent().expect("dir")).expect("mkdir");
    let server = Listener::start(
        &data,
        &["--token-file", token_file.to_str().expect("utf-8")],
        &[("PENCIL_LSP_TOKEN", token.as_str())],
    );
    assert_eq!(server.token, token);
    assert_eq!(std::fs::read_to_string(&token_file).expect("token file").trim(), token);
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&token_file).expect("stat").permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
    }
    let elsewhere = work.path().join("elsewhere");
    let model = work.path().join("model");
    runtime().block_on(async {
        let mut ws = server.connect(None, Some(&server.protocol()), None).await.expect("an editor with the token");
        let mut notes = Vec::new();
        let init = request(
            &mut ws,
            1,
            "initialize",
            json!({"capabilities": {}, "initializationOptions": {"pencil": {"dataDir": elsewhere, "modelDir": model}}}),
            &mut notes,
        )
        .await;
        assert!(init.get("error").is_none(), "{init}");
        send(&mut ws, json!({"jsonrpc": "2.0", "method": "initialized", "params": {}})).await;
        let refused = request(&mut ws, 2, "workspace/symbol", json!({"query": ""}), &mut notes).await;
        assert_eq!(refused["error"]["code"], -32601, "{refused}");
        assert!(refused["error"]["message"].as_str().is_some_and(|m| m.contains("not available over WebSocket")), "{refused}");
        send(&mut ws, json!({"jsonrpc": "2.0", "method": "workspace/didChangeConfiguration",
            "params": {"settings": {"modelDir": model}}}))
        .await;
        let uri = "file:///browser/tree.coffee";
        send(&mut ws, json!({"jsonrpc": "2.0", "method": "textDocument/didOpen",
            "params": {"textDocument": {"uri": uri, "languageId": "coffeescript", "version": 1, "text": "fd 10\n"}}}))
        .await;
        let run = request(&mut ws, 3, "pencil/run", json!({"textDocument": {"uri": uri}, "drawing": true}), &mut notes).await;
        assert_eq!(run["result"]["status"], "ok", "{run}");
        assert_eq!(run["result"]["drawing"]["version"], 1, "{run}");
        // Stored code is not for pages: a page that got the token still cannot read the trace.
        let trace = request(&mut ws, 4, "pencil/trace", json!({"textDocument": {"uri": uri}}), &mut notes).await;
        assert!(trace.get("result").is_none() && trace["error"].is_object(), "{trace}");
        // Both refusals are shown (they may still be on their way: handlers run concurrently).
        let shown = |notes: &[Value], what: &str| {
            notes.iter().any(|n| n["method"] == "window/showMessage" && n["params"]["message"].as_str().is_some_and(|m| m.contains(what)))
        };
        let (both, one) = ("the dataDir and modelDir settings are ignored over WebSocket", "the modelDir setting is ignored over WebSocket");
        while !(shown(&notes, both) && shown(&notes, one)) {
            notes.push(next_json(&mut ws).await);
        }
    });
    assert!(!elsewhere.exists(), "a WebSocket client chose where the store lives");
    assert_eq!(recorded_states(&data), 1, "the store stays where the command line put it");
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

#[test]
fn a_bad_token_from_the_environment_is_refused_at_start() {
    let out = Command::new(env!("CARGO_BIN_EXE_pencil-lsp"))
        .args(["--listen", "127.0.0.1:0"])
        .env("PENCIL_LSP_TOKEN", "1234")
        .output()
        .expect("run");
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("PENCIL_LSP_TOKEN must be"), "{stderr}");
}
