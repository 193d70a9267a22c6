//! The student's confirmation over a real `pencil-lsp --listen`: a guarded request
//! from a WebSocket client (`pencil/trace`, `pencil/class/join`) does nothing but
//! file a confirmation and answer its page's address; the page says what will
//! happen; only a POST from that page (its own Origin, its form nonce, once, not
//! from a frame) does it, and the session is told the outcome. Closing the session
//! drops its confirmations.

#![allow(clippy::unwrap_used, reason = "a test: a panic with its location is the failure report")]

mod support;

use serde_json::{json, Value};
use std::path::Path;
use std::time::Duration;
use support::listener::{next_json, request, send, Listener, Ws};
use support::LspClient;

/// The page origin the listener is started to allow (`--allow-origin`).
const LISTED: &str = "https://pencil.example.org";

fn start(data_dir: &Path) -> Listener {
    Listener::start(data_dir, &["--allow-origin", LISTED], &[])
}

/// A WebSocket as a page of `origin` opens it, with the token.
async fn connect(server: &Listener, origin: &str) -> Ws {
    server.connect(Some(origin), Some(&server.protocol()), None).await.unwrap()
}

/// One raw HTTP request to `path` with these extra header lines and body; the status, headers and body.
fn http(server: &Listener, method: &str, path: &str, headers: &[&str], body: &str) -> (u16, String, String) {
    let mut request = format!("{method} {path} HTTP/1.1\r\nHost: {}\r\n", server.addr);
    for h in headers {
        request.push_str(&format!("{h}\r\n"));
    }
    if method == "POST" {
        request.push_str(&format!("Content-Type: application/x-www-form-urlencoded\r\nContent-Length: {}\r\n", body.len()));
    }
    request.push_str("\r\n");
    request.push_str(body);
    server.http_full(&request)
}

/// The `Origin` header line of the listener's own page.
fn own_origin(server: &Listener) -> String {
    format!("Origin: http://{}", server.addr)
}

/// The next `pencil/confirmation`, from `notes` or the socket.
async fn confirmation(ws: &mut Ws, notes: &mut Vec<Value>) -> Value {
    loop {
        if let Some(i) = notes.iter().position(|n| n["method"] == "pencil/confirmation") {
            return notes.remove(i)["params"].clone();
        }
        notes.push(next_json(ws).await);
    }
}

/// The confirmation's path from a guarded request's error.
fn confirm_path(answer: &Value) -> String {
    assert!(answer.get("result").is_none(), "nothing is done before the student confirms: {answer}");
    assert_eq!(answer["error"]["code"], -32010, "{answer}");
    let url = answer["error"]["data"]["url"].as_str().unwrap();
    let path = url.split_once("://").unwrap().1;
    format!("/{}", path.split_once('/').unwrap().1)
}

fn nonce_of(html: &str) -> String {
    let start = html.find("name=\"nonce\" value=\"").expect("a nonce field") + "name=\"nonce\" value=\"".len();
    html[start..].split('"').next().unwrap().to_string()
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap()
}

#[test]
fn the_stored_trace_reaches_a_page_only_after_the_student_confirms_in_the_coach_window() {
    let data = tempfile::tempdir().unwrap();
    let server = start(data.path());
    runtime().block_on(async {
        let mut ws = connect(&server, LISTED).await;
        let mut notes = Vec::new();
        let init = request(&mut ws, 1, "initialize", json!({"capabilities": {}}), &mut notes).await;
        assert!(init.get("error").is_none(), "{init}");
        send(&mut ws, json!({"jsonrpc": "2.0", "method": "initialized", "params": {}})).await;
        let uri = "file:///browser/stairs.coffee";
        send(&mut ws, json!({"jsonrpc": "2.0", "method": "textDocument/didOpen",
            "params": {"textDocument": {"uri": uri, "languageId": "coffeescript", "version": 1, "text": "fd 10\n"}}}))
        .await;
        let run = request(&mut ws, 2, "pencil/run", json!({"textDocument": {"uri": uri}}), &mut notes).await;
        assert_eq!(run["result"]["status"], "ok", "{run}");

        let asked = request(&mut ws, 3, "pencil/trace", json!({"textDocument": {"uri": uri}}), &mut notes).await;
        let path = confirm_path(&asked);
        // The page: plain words, no script, never framed, cached nowhere.
        let (status, head, page) = http(&server, "GET", &path, &["Sec-Fetch-Dest: document", "Sec-Fetch-Site: cross-site"], "");
        assert_eq!(status, 200, "{page}");
        assert!(page.contains("The page at https://pencil.example.org asks to read the 1 saved version of your program &quot;stairs&quot;."), "{page}");
        assert!(!page.contains("<script"), "{page}");
        let head = head.to_ascii_lowercase();
        for header in ["content-security-policy: default-src 'none'", "frame-ancestors 'none'", "x-frame-options: deny", "cache-control: no-store"] {
            assert!(head.contains(header), "{header}: {head}");
        }
        let nonce = nonce_of(&page);
        let form = format!("nonce={nonce}&choice=confirm&understood=yes");
        // Every answer that is not the page's own is refused, and the entry still waits.
        let own = own_origin(&server);
        let refused = [
            (vec!["Sec-Fetch-Dest: iframe"], "GET", String::new(), 403),
            (vec![], "POST", form.clone(), 403),
            (vec!["Origin: https://pencil.example.org"], "POST", form.clone(), 403),
            (vec!["Origin: null"], "POST", form.clone(), 403),
            (vec![own.as_str(), "Sec-Fetch-Site: cross-site"], "POST", form.clone(), 403),
            (vec![own.as_str(), "Sec-Fetch-Dest: iframe"], "POST", form.clone(), 403),
            (vec![own.as_str()], "POST", format!("nonce={}&choice=confirm&understood=yes", "0".repeat(64)), 403),
            (vec![own.as_str()], "POST", format!("nonce={nonce}&choice=confirm"), 400),
        ];
        for (headers, method, body, expected) in refused {
            let (status, _, words) = http(&server, method, &path, &headers, &body);
            assert_eq!(status, expected, "{method} {headers:?} {body}: {words}");
        }
        let (status, _, _) = http(&server, "GET", "/confirm/00", &[], "");
        assert_eq!(status, 404);
        assert!(notes.iter().all(|n| n["method"] != "pencil/confirmation"), "{notes:?}");

        // The student's answer from the page itself.
        let (status, _, done) = http(&server, "POST", &path, &[own.as_str(), "Sec-Fetch-Site: same-origin", "Sec-Fetch-Dest: document"], &form);
        assert_eq!(status, 200, "{done}");
        assert!(done.contains("Done") && done.contains("1 saved version was shared"), "{done}");
        let told = confirmation(&mut ws, &mut notes).await;
        assert_eq!(told["outcome"], "done", "{told}");
        assert_eq!(told["id"], asked["error"]["data"]["id"]);
        assert_eq!(told["result"]["title"], "stairs");
        assert_eq!(told["result"]["states"][0]["code"], "fd 10\n", "{told}");
        // Once only.
        let (status, _, again) = http(&server, "POST", &path, &[own.as_str()], &form);
        assert_eq!(status, 410, "{again}");
        let (status, _, _) = http(&server, "GET", &path, &[], "");
        assert_eq!(status, 410);
    });
}

#[test]
fn a_cancelled_join_joins_nothing_and_a_closed_session_leaves_nothing_to_confirm() {
    let data = tempfile::tempdir().unwrap();
    let server = start(data.path());
    runtime().block_on(async {
        let mut ws = connect(&server, &format!("http://{}", server.addr)).await;
        let mut notes = Vec::new();
        request(&mut ws, 1, "initialize", json!({"capabilities": {}}), &mut notes).await;
        send(&mut ws, json!({"jsonrpc": "2.0", "method": "initialized", "params": {}})).await;
        let bad = request(&mut ws, 2, "pencil/class/join", json!({"hub": "http://school.example", "code": "ABC123", "name": "Ada"}), &mut notes).await;
        assert!(bad["error"]["code"] != -32010 && bad["error"]["message"].as_str().unwrap().contains("https"), "{bad}");
        let join = json!({"hub": "http://127.0.0.1:9", "code": "ABC123", "name": "Ada"});
        let asked = request(&mut ws, 3, "pencil/class/join", join.clone(), &mut notes).await;
        let path = confirm_path(&asked);
        let (_, _, page) = http(&server, "GET", &path, &[], "");
        assert!(page.contains("The coach&#39;s page in your browser asks to put you in a teacher&#39;s class."), "{page}");
        assert!(page.contains("http://127.0.0.1:9") && page.contains("ABC123") && page.contains("Ada"), "{page}");
        let cancel = format!("nonce={}&choice=cancel", nonce_of(&page));
        let (status, _, cancelled) = http(&server, "POST", &path, &[own_origin(&server).as_str()], &cancel);
        assert_eq!(status, 200, "{cancelled}");
        assert_eq!(confirmation(&mut ws, &mut notes).await["outcome"], "cancelled");
        let shown = request(&mut ws, 4, "pencil/class/show", Value::Null, &mut notes).await;
        assert_eq!(shown["result"], json!({"joined": false}), "{shown}");
        // "Ask my teacher" with the saved versions takes the same path: out of a class
        // it is refused in words, and no window is filed.
        send(&mut ws, json!({"jsonrpc": "2.0", "method": "textDocument/didOpen",
            "params": {"textDocument": {"uri": "file:///browser/car.coffee", "languageId": "coffeescript", "version": 1, "text": "fd 1\n"}}}))
        .await;
        let ask = json!({"command": "pencil.askTeacher", "arguments": [{"uri": "file:///browser/car.coffee", "shareTrace": true}]});
        let refused = request(&mut ws, 40, "workspace/executeCommand", ask, &mut notes).await;
        assert!(refused["error"]["code"] != -32010 && refused["error"]["message"].as_str().unwrap().contains("not in a class"), "{refused}");

        // A few may wait per session; more are refused until those are answered.
        let mut paths = Vec::new();
        for id in 5..8 {
            paths.push(confirm_path(&request(&mut ws, id, "pencil/class/join", join.clone(), &mut notes).await));
        }
        let fourth = request(&mut ws, 8, "pencil/class/join", join.clone(), &mut notes).await;
        assert!(fourth["error"]["message"].as_str().unwrap().contains("already waiting"), "{fourth}");
        ws.close(None).await.unwrap();
        // The session is gone: nobody is left to tell, so nothing can be confirmed.
        let deadline = std::time::Instant::now() + Duration::from_secs(10);
        while paths.iter().any(|p| http(&server, "GET", p, &[], "").0 != 410) {
            assert!(std::time::Instant::now() < deadline, "the closed session's confirmations still wait");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    });
}

#[test]
fn the_editor_over_stdio_calls_the_guarded_methods_directly() {
    let data = tempfile::tempdir().unwrap();
    let mut lsp = LspClient::start(data.path());
    let mut call = |method: &str, params: Value| lsp.request(method, params);
    assert!(call("initialize", json!({"capabilities": {}})).get("result").is_some());
    assert_eq!(call("pencil/class/show", Value::Null)["result"], json!({"joined": false}));
    // Acted on at once: the answer is the action's own, not a confirmation.
    let withdraw = call("pencil/research/withdraw", json!({"study": "loops"}));
    assert!(withdraw["error"]["message"].as_str().unwrap().contains("no consent to study 'loops'"), "{withdraw}");
    let join = call("pencil/class/join", json!({"hub": "http://127.0.0.1:9", "code": "ABC123", "name": "Ada"}));
    assert_ne!(join["error"]["code"], -32010, "{join}");
    assert!(join["error"]["message"].as_str().unwrap().contains("joining the class"), "{join}");
}
