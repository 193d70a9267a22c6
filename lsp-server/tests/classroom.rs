//! Classroom mode end to end: the real `pencil-hub` binary on a loopback port, a
//! student who joins with `pencil-lsp class join`, and the real `pencil-lsp`
//! server over stdio. Between the student and the hub sits a small HTTP proxy the
//! test controls, to forge a policy on the wire.

#![allow(clippy::unwrap_used, reason = "a test: a panic with its location is the failure report")]

mod support;

use serde_json::{json, Value};
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};
use support::LspClient;

const PASSWORD: &str = "correct horse battery";

/// A hand as the hub's table holds it: (hand id, title, program, message, trace JSON).
type StoredHand = (String, String, String, Option<String>, Option<String>);

fn hub_bin() -> PathBuf {
    let bin = Path::new(env!("CARGO_MANIFEST_DIR")).join("../target/debug/pencil-hub");
    assert!(bin.exists(), "{} is missing: build it first with `cargo build -p pencil-hub`", bin.display());
    bin
}

struct Hub {
    child: Child,
    base: String,
    data: PathBuf,
    agent: ureq::Agent,
}

impl Drop for Hub {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn agent() -> ureq::Agent {
    ureq::Agent::config_builder().http_status_as_error(false).max_redirects(0).build().into()
}

struct Reply {
    status: u16,
    cookies: Vec<String>,
    location: Option<String>,
    body: String,
}

fn reply(mut r: ureq::http::Response<ureq::Body>) -> Reply {
    let cookies = r
        .headers()
        .get_all("set-cookie")
        .iter()
        .filter_map(|v| v.to_str().ok()?.split(';').next().map(str::to_string))
        .collect();
    let location = r.headers().get("location").and_then(|v| v.to_str().ok()).map(str::to_string);
    Reply { status: r.status().as_u16(), cookies, location, body: r.body_mut().read_to_string().unwrap_or_default() }
}

fn csrf_of(html: &str) -> String {
    let start = html.find("name=\"csrf\" value=\"").expect("a csrf field") + "name=\"csrf\" value=\"".len();
    html[start..].split('"').next().unwrap().to_string()
}

impl Hub {
    fn start(data: &Path) -> Hub {
        let mut child = Command::new(hub_bin())
            .args(["--data-dir", data.to_str().unwrap(), "serve", "--listen", "127.0.0.1:0"])
            .env("RUST_LOG", "warn")
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("start pencil-hub");
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap()).read_line(&mut line).unwrap();
        let base = line.trim().strip_prefix("pencil-hub listening on ").unwrap_or_else(|| panic!("{line}")).to_string();
        Hub { child, base, data: data.to_path_buf(), agent: agent() }
    }

    fn add_teacher(&self, name: &str) {
        let mut add = Command::new(hub_bin())
            .args(["--data-dir", self.data.to_str().unwrap(), "teacher", "add", "--name", name, "--password-stdin"])
            .stdin(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        writeln!(add.stdin.take().unwrap(), "{PASSWORD}").unwrap();
        assert!(add.wait().unwrap().success());
    }

    fn get(&self, path: &str, cookie: &str) -> Reply {
        reply(self.agent.get(format!("{}{path}", self.base)).header("Cookie", cookie).call().unwrap())
    }

    fn post_form(&self, path: &str, cookie: &str, form: &[(&str, &str)]) -> Reply {
        let req = self.agent.post(format!("{}{path}", self.base)).header("Cookie", cookie);
        reply(req.send_form(form.iter().copied()).unwrap())
    }

    fn login(&self, name: &str) -> String {
        let page = self.get("/login", "");
        let cookie = page.cookies.iter().find(|c| c.starts_with("pencil_hub_login=")).expect("login cookie").clone();
        let r = self.post_form("/login", &cookie, &[("name", name), ("password", PASSWORD), ("csrf", &csrf_of(&page.body))]);
        assert_eq!(r.status, 303, "{}", r.body);
        r.cookies.iter().find(|c| c.starts_with("pencil_hub_session=")).expect("session").clone()
    }

    /// Creates a class; returns (id, join code).
    fn create_class(&self, session: &str, name: &str) -> (i64, String) {
        let csrf = csrf_of(&self.get("/classes", session).body);
        let r = self.post_form("/classes", session, &[("csrf", &csrf), ("name", name)]);
        assert_eq!(r.status, 303, "{}", r.body);
        let id: i64 = r.location.unwrap().strip_prefix("/classes/").unwrap().parse().unwrap();
        let page = self.get(&format!("/classes/{id}"), session).body;
        let start = page.find("<span class=\"code\">").unwrap() + "<span class=\"code\">".len();
        (id, page[start..start + 6].to_string())
    }

    fn set_policy(&self, session: &str, class_id: i64, form: &[(&str, &str)]) {
        let path = format!("/classes/{class_id}/policy");
        let csrf = csrf_of(&self.get(&path, session).body);
        let mut form = form.to_vec();
        form.push(("csrf", &csrf));
        let r = self.post_form(&path, session, &form);
        assert_eq!(r.status, 303, "{}", r.body);
    }

    /// The hub's stored events, read from its database file (read-only).
    fn events(&self) -> Vec<(String, String, String, Option<String>)> {
        let db = rusqlite::Connection::open_with_flags(
            self.data.join("hub.sqlite3"),
            rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY,
        )
        .unwrap();
        let mut stmt = db.prepare("SELECT event_id, title, status, error_class FROM events ORDER BY seq").unwrap();
        stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)))
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap()
    }

    /// The hub's stored hint outcomes and kinds, oldest event first.
    fn hints(&self) -> Vec<(Option<String>, Option<String>)> {
        let db = rusqlite::Connection::open_with_flags(self.data.join("hub.sqlite3"), rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY).unwrap();
        let mut stmt = db.prepare("SELECT hint, hint_kind FROM events ORDER BY seq").unwrap();
        stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?))).unwrap().collect::<Result<_, _>>().unwrap()
    }

    /// The hub's stored hands: (hand id, title, program, message, trace JSON).
    fn hands(&self) -> Vec<StoredHand> {
        let db = rusqlite::Connection::open_with_flags(self.data.join("hub.sqlite3"), rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY).unwrap();
        let mut stmt = db.prepare("SELECT hand_id, title, program, message, trace_json FROM hands ORDER BY seq").unwrap();
        stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?)))
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap()
    }

    /// Replies to the class's first raised hand through the dashboard's form, as a teacher does.
    fn reply_to_hand(&self, session: &str, class_id: i64, reply: &str) {
        let page = self.get(&format!("/classes/{class_id}"), session).body;
        let marker = format!("action=\"/classes/{class_id}/hands/");
        let start = page.find(&marker).unwrap_or_else(|| panic!("no hand on the dashboard: {page}")) + "action=\"".len();
        let path = page[start..].split('"').next().unwrap().to_string();
        let r = self.post_form(&path, session, &[("csrf", &csrf_of(&page)), ("reply", reply), ("action", "reply")]);
        assert_eq!(r.status, 303, "{}", r.body);
    }

    /// Every text value in the hub's database, for the privacy check.
    fn all_text(&self) -> String {
        let db = rusqlite::Connection::open_with_flags(
            self.data.join("hub.sqlite3"),
            rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY,
        )
        .unwrap();
        let tables: Vec<String> = db
            .prepare("SELECT name FROM sqlite_master WHERE type = 'table'")
            .unwrap()
            .query_map([], |r| r.get(0))
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap();
        let mut out = String::new();
        for t in tables {
            let mut stmt = db.prepare(&format!("SELECT * FROM \"{t}\"")).unwrap();
            let n = stmt.column_count();
            let mut rows = stmt.query([]).unwrap();
            while let Some(row) = rows.next().unwrap() {
                for i in 0..n {
                    if let Ok(s) = row.get::<_, String>(i) {
                        out.push_str(&s);
                        out.push('\n');
                    }
                }
            }
        }
        out
    }
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Mode {
    Pass,
    /// Rewrites the policy's `quiz_mode` to false, keeping the signature.
    Tamper,
}

/// A one-request-per-connection HTTP proxy in front of the hub.
struct Proxy {
    url: String,
    upstream: Arc<Mutex<String>>,
    mode: Arc<Mutex<Mode>>,
}

impl Proxy {
    fn start(upstream: &str) -> Proxy {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let upstream = Arc::new(Mutex::new(upstream.to_string()));
        let mode = Arc::new(Mutex::new(Mode::Pass));
        let (up, m) = (upstream.clone(), mode.clone());
        thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                let (up, m) = (up.clone(), m.clone());
                thread::spawn(move || {
                    let _ = forward(stream, &up.lock().unwrap().clone(), *m.lock().unwrap());
                });
            }
        });
        Proxy { url, upstream, mode }
    }
}

fn forward(mut stream: TcpStream, upstream: &str, mode: Mode) -> std::io::Result<()> {
    let mut reader = BufReader::new(stream.try_clone()?);
    let mut request_line = String::new();
    reader.read_line(&mut request_line)?;
    let mut parts = request_line.split_whitespace();
    let (method, path) = (parts.next().unwrap_or("").to_string(), parts.next().unwrap_or("").to_string());
    let mut headers = Vec::new();
    let mut length = 0;
    loop {
        let mut line = String::new();
        reader.read_line(&mut line)?;
        let line = line.trim_end();
        if line.is_empty() {
            break;
        }
        if let Some((k, v)) = line.split_once(':') {
            if k.eq_ignore_ascii_case("content-length") {
                length = v.trim().parse().unwrap_or(0);
            }
            if k.eq_ignore_ascii_case("authorization") || k.eq_ignore_ascii_case("content-type") {
                headers.push((k.to_string(), v.trim().to_string()));
            }
        }
    }
    let mut body = vec![0; length];
    reader.read_exact(&mut body)?;
    let url = format!("{upstream}{path}");
    let a = agent();
    let sent = if method == "GET" {
        let mut req = a.get(&url);
        for (k, v) in &headers {
            req = req.header(k, v);
        }
        req.call()
    } else {
        let mut req = a.post(&url);
        for (k, v) in &headers {
            req = req.header(k, v);
        }
        req.send(&body[..])
    };
    // The hub is down: so is the connection, as the student would see it.
    let Ok(mut r) = sent else { return Ok(()) };
    let status = r.status().as_u16();
    let mut text = r.body_mut().read_to_string().unwrap_or_default();
    if mode == Mode::Tamper && path == "/api/v1/policy" && status == 200 {
        let mut v: Value = serde_json::from_str(&text).unwrap();
        v["policy"]["quiz_mode"] = json!(false);
        text = v.to_string();
    }
    write!(
        stream,
        "HTTP/1.1 {status} X\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{text}",
        text.len()
    )?;
    stream.flush()
}

fn class(data: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_pencil-lsp"))
        .arg("class")
        .args(args)
        .arg("--data-dir")
        .arg(data)
        .output()
        .expect("run pencil-lsp class")
}

fn text(o: &Output) -> String {
    format!("{}{}", String::from_utf8_lossy(&o.stdout), String::from_utf8_lossy(&o.stderr))
}

fn wait_until(what: &str, limit: Duration, mut f: impl FnMut() -> bool) {
    let start = Instant::now();
    while !f() {
        assert!(start.elapsed() < limit, "timed out waiting for {what}");
        thread::sleep(Duration::from_millis(5));
    }
}

fn change(uri: &str, version: i32, text: &str) -> Value {
    json!({"textDocument": {"uri": uri, "version": version}, "contentChanges": [{"text": text}]})
}

fn code_actions(lsp: &mut LspClient, uri: &str) -> Value {
    let r = lsp.request(
        "textDocument/codeAction",
        json!({"textDocument": {"uri": uri}, "range": {"start": {"line": 0, "character": 0}, "end": {"line": 0, "character": 1}},
               "context": {"diagnostics": []}}),
    );
    assert!(r.get("error").is_none(), "{r}");
    r["result"].clone()
}

#[test]
fn join_clear_errors_for_bad_hubs_and_codes() {
    let dir = tempfile::tempdir().unwrap();
    let hub = Hub::start(&dir.path().join("hub"));
    let student = dir.path().join("student");
    let remote = class(&student, &["join", "ABCDEF", "--hub", "http://hub.school.example", "--name", "Ada"]);
    assert!(!remote.status.success() && text(&remote).contains("unencrypted"), "{}", text(&remote));
    let wrong = class(&student, &["join", "ZZZZZZ", "--hub", &hub.base, "--name", "Ada"]);
    assert!(!wrong.status.success() && text(&wrong).contains("unknown or expired join code"), "{}", text(&wrong));
    // A port nobody listens on.
    let closed = TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap();
    let gone = class(&student, &["join", "ABCDEF", "--hub", &format!("http://{closed}"), "--name", "Ada"]);
    assert!(!gone.status.success() && text(&gone).contains("could not be reached"), "{}", text(&gone));
    // Not a hub: something that answers HTML.
    let not_hub = class(&student, &["join", "ABCDEF", "--hub", &format!("{}/login#", hub.base), "--name", "Ada"]);
    assert!(!not_hub.status.success(), "{}", text(&not_hub));
    // Something that answers 200 with JSON that is not a join answer.
    let impostor = TcpListener::bind("127.0.0.1:0").unwrap();
    let impostor_url = format!("http://{}", impostor.local_addr().unwrap());
    thread::spawn(move || {
        if let Ok((mut stream, _)) = impostor.accept() {
            // Read the whole request (its JSON body ends with '}') before answering.
            let (mut seen, mut buf) = (Vec::new(), [0u8; 4096]);
            while !seen.ends_with(b"}") {
                match stream.read(&mut buf) {
                    Ok(0) | Err(_) => break,
                    Ok(n) => seen.extend_from_slice(&buf[..n]),
                }
            }
            let _ = stream.write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 7\r\nConnection: close\r\n\r\n{\"a\":1}");
        }
    });
    let malformed = class(&student, &["join", "ABCDEF", "--hub", &impostor_url, "--name", "Ada"]);
    assert!(!malformed.status.success() && text(&malformed).contains("is this address a Pencil hub?"), "{}", text(&malformed));
    let show = class(&student, &["show"]);
    assert!(text(&show).contains("Not in a class"), "{}", text(&show));
}

#[test]
fn events_reach_the_hub_once_and_the_signed_policy_is_enforced() {
    let dir = tempfile::tempdir().unwrap();
    let hub_data = dir.path().join("hub");
    let hub = Hub::start(&hub_data);
    hub.add_teacher("ada");
    let session = hub.login("ada");
    let (class_id, code) = hub.create_class(&session, "7b");
    let proxy = Proxy::start(&hub.base);

    let student = dir.path().join("student");
    let joined = class(&student, &["join", &code.to_lowercase(), "--hub", &proxy.url, "--name", "Grace"]);
    let out = text(&joined);
    assert!(joined.status.success(), "{out}");
    assert!(out.contains("Joined class \"7b\"") && out.contains("quiz mode: off") && out.contains("policy serial 1"), "{out}");
    // The device token is kept in the store, which only this user can read.
    let mode = |p: &Path| std::os::unix::fs::PermissionsExt::mode(&std::fs::metadata(p).unwrap().permissions()) & 0o777;
    assert_eq!(mode(&student.join(pencil_lsp::store::DB_FILE)), 0o600);
    assert_eq!(mode(&student), 0o700);

    let mut lsp = LspClient::start_with_env(&student, &[("PENCIL_CLASS_SYNC_SECS", Path::new("1"))]);
    lsp.initialize(json!({"pencil": {"recordOnSave": false}}));
    let uri = "file:///home/student/car.coffee";
    let broken = "pen lightbleu\nfd 100\n";
    lsp.notify("textDocument/didOpen", json!({"textDocument": {"uri": uri, "languageId": "coffeescript", "version": 1, "text": broken}}));

    // Run -> event stored on the hub, several times, timed.
    let (mut total, mut after) = (Vec::new(), Vec::new());
    for i in 0..7 {
        let start = Instant::now();
        let run = lsp.request("pencil/run", json!({"textDocument": {"uri": uri}}));
        assert_eq!(run["result"]["status"], "error", "{run}");
        let answered = Instant::now();
        wait_until("the event on the hub", Duration::from_secs(20), || hub.events().len() > i);
        total.push(start.elapsed());
        after.push(answered.elapsed());
    }
    total.sort();
    after.sort();
    eprintln!(
        "run request -> event stored on the hub (loopback, via proxy, n=7): p50 {:?}, max {:?}; \
         after the run's answer: p50 {:?}, max {:?}",
        total[3], total[6], after[3], after[6]
    );
    let events = hub.events();
    assert_eq!(events.len(), 7);
    assert!(events.iter().all(|e| e.1 == "car" && e.2 == "error" && e.3.is_some()), "{events:?}");
    // Quick fixes are offered while the policy allows them.
    assert!(code_actions(&mut lsp, uri).as_array().is_some_and(|a| !a.is_empty()));

    // The hub goes down; runs queue; the student closes the editor; the hub comes
    // back (on a new port behind the same proxy); the reopened coach sends the
    // queue at start, before any run.
    drop(hub);
    for _ in 0..2 {
        let run = lsp.request("pencil/run", json!({"textDocument": {"uri": uri}}));
        assert_eq!(run["result"]["status"], "error", "{run}");
    }
    thread::sleep(Duration::from_secs(3));
    assert!(lsp.shutdown().success());
    let hub = Hub::start(&hub_data);
    assert_eq!(hub.events().len(), 7, "nothing arrives while the hub is down");
    *proxy.upstream.lock().unwrap() = hub.base.clone();
    let mut lsp = LspClient::start_with_env(&student, &[("PENCIL_CLASS_SYNC_SECS", Path::new("1"))]);
    lsp.initialize(json!({"pencil": {"recordOnSave": false}}));
    wait_until("the queued events after the outage", Duration::from_secs(30), || hub.events().len() >= 9);
    thread::sleep(Duration::from_secs(3));
    let events = hub.events();
    let mut ids: Vec<&String> = events.iter().map(|e| &e.0).collect();
    ids.sort();
    ids.dedup();
    assert_eq!((events.len(), ids.len()), (9, 9), "each event exactly once: {events:?}");
    lsp.notify("textDocument/didOpen", json!({"textDocument": {"uri": uri, "languageId": "coffeescript", "version": 1, "text": broken}}));
    let run = lsp.request("pencil/run", json!({"textDocument": {"uri": uri}}));
    assert_eq!(run["result"]["status"], "error", "{run}");

    // The teacher turns quiz mode on: fixes are withheld, and the student is told why.
    let session = hub.login("ada");
    hub.set_policy(&session, class_id, &[("hints_enabled", "on"), ("max_hint_size", "medium"), ("quiz_mode", "on")]);
    wait_until("quiz mode to reach the student", Duration::from_secs(20), || code_actions(&mut lsp, uri).is_null());
    let told = lsp.wait_notification("window/showMessage", |p| {
        p["message"].as_str().is_some_and(|m| m.contains("quiz mode is on") && m.contains("\"7b\""))
    });
    assert_eq!(told["params"]["type"], 3, "{told}");

    // A policy forged on the wire (quiz mode off, old signature) is refused; quiz mode stays.
    *proxy.mode.lock().unwrap() = Mode::Tamper;
    thread::sleep(Duration::from_secs(3));
    lsp.notify("textDocument/didChange", change(uri, 2, "pen lightbleu\nfd 50\n"));
    let run = lsp.request("pencil/run", json!({"textDocument": {"uri": uri}}));
    assert_eq!(run["result"]["status"], "error", "{run}");
    let refused = lsp.wait_notification("window/showMessage", |p| {
        p["message"].as_str().is_some_and(|m| m.contains("was refused") && m.contains("signature"))
    });
    assert!(refused["params"]["message"].as_str().unwrap().contains("stays in force"), "{refused}");
    assert!(code_actions(&mut lsp, uri).is_null(), "the forged policy changed nothing");
    wait_until("the last run's event", Duration::from_secs(20), || hub.events().len() == 11);
    assert!(lsp.shutdown().success());

    // No program text ever reached the hub.
    let all = hub.all_text();
    assert!(!all.contains("lightbleu") && !all.contains("fd 100"), "program text on the hub");

    let show = class(&student, &["show"]);
    let out = text(&show);
    assert!(out.contains("quiz mode: ON") && out.contains("Events waiting to be sent: 0"), "{out}");
    // Joining again (a new device for the same class) says what is replaced.
    *proxy.mode.lock().unwrap() = Mode::Pass;
    let again = class(&student, &["join", &code, "--hub", &proxy.url, "--name", "Grace"]);
    let out = text(&again);
    assert!(again.status.success() && out.contains("Leaving class \"7b\"") && out.contains("(0 unsent events"), "{out}");
    assert!(out.contains("quiz mode: ON"), "the new device gets the current policy at once: {out}");
    let leave = class(&student, &["leave"]);
    assert!(text(&leave).contains("Left the class"), "{}", text(&leave));
    assert!(text(&class(&student, &["show"])).contains("Not in a class"));
}

fn command(lsp: &mut LspClient, command: &str, arguments: Value) -> Value {
    lsp.request("workspace/executeCommand", json!({"command": command, "arguments": arguments}))
}

fn has_edits(actions: &Value) -> bool {
    actions.as_array().is_some_and(|a| !a.is_empty() && a.iter().all(|x| x["edit"].is_object()))
}

#[test]
fn reflect_first_then_fixes_hint_kinds_and_a_hand_answered_by_the_teacher() {
    let dir = tempfile::tempdir().unwrap();
    let hub_data = dir.path().join("hub");
    let hub = Hub::start(&hub_data);
    hub.add_teacher("ada");
    let session = hub.login("ada");
    let (class_id, code) = hub.create_class(&session, "7b");
    hub.set_policy(&session, class_id, &[("hints_enabled", "on"), ("max_hint_size", "medium"), ("reflect_first", "on")]);
    let proxy = Proxy::start(&hub.base);
    let student = dir.path().join("student");

    // Asking needs a class: a clear error, nothing queued.
    let mut ask = Command::new(env!("CARGO_BIN_EXE_pencil-lsp"))
        .args(["class", "ask", "--title", "car", "--data-dir"])
        .arg(&student)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    ask.stdin.take().unwrap().write_all(b"fd 100\n").unwrap();
    let out = ask.wait_with_output().unwrap();
    assert!(!out.status.success() && text(&out).contains("not in a class"), "{}", text(&out));

    let joined = class(&student, &["join", &code, "--hub", &proxy.url, "--name", "Grace"]);
    assert!(joined.status.success() && text(&joined).contains("reflect first"), "{}", text(&joined));
    let mut lsp = LspClient::start_with_env(&student, &[("PENCIL_CLASS_SYNC_SECS", Path::new("1"))]);
    lsp.initialize(json!({"pencil": {"recordOnSave": false}}));
    let uri = "file:///home/student/car.coffee";
    let broken = "pen lightbleu\nfd 100\n";
    lsp.notify("textDocument/didOpen", json!({"textDocument": {"uri": uri, "languageId": "coffeescript", "version": 1, "text": broken}}));
    let run = lsp.request("pencil/run", json!({"textDocument": {"uri": uri}}));
    assert_eq!(run["result"]["status"], "error", "{run}");

    // Reflect first: one action without edits asks for the student's words, and says why.
    let actions = code_actions(&mut lsp, uri);
    let only = actions.as_array().unwrap();
    assert_eq!(only.len(), 1, "{actions}");
    assert!(only[0]["edit"].is_null() && only[0]["command"]["command"] == "pencil.reflect", "{actions}");
    assert_eq!(only[0]["command"]["arguments"], json!([uri]));
    let told = lsp.wait_notification("window/showMessage", |p| p["message"].as_str().is_some_and(|m| m.contains("reflect first")));
    assert!(told["params"]["message"].as_str().unwrap().contains("\"7b\""), "{told}");
    let no_words = command(&mut lsp, "pencil.reflect", json!([uri]));
    assert!(no_words["error"]["message"].as_str().unwrap().contains("student's words"), "{no_words}");
    let too_short = command(&mut lsp, "pencil.reflect", json!([uri, " x "]));
    assert!(too_short["error"]["message"].as_str().unwrap().contains("at least"), "{too_short}");
    assert!(!has_edits(&code_actions(&mut lsp, uri)), "still withheld");
    let thanks = command(&mut lsp, "pencil.reflect", json!([uri, "I think the colour name is misspelled"]));
    assert!(thanks["result"]["message"].as_str().unwrap().contains("stay on this computer"), "{thanks}");
    let fixes = code_actions(&mut lsp, uri);
    assert!(has_edits(&fixes), "fixes after the reflection: {fixes}");

    // Fixes shown, then a run without taking one: dismissed (rule fix).
    let run = lsp.request("pencil/run", json!({"textDocument": {"uri": uri}}));
    assert_eq!(run["result"]["status"], "error", "{run}");
    // Shown again and this time taken: accepted (rule fix).
    let fixes = code_actions(&mut lsp, uri);
    let accept = &fixes[0]["command"];
    assert_eq!(accept["command"], "pencil.acceptFix", "{fixes}");
    let taken = command(&mut lsp, "pencil.acceptFix", accept["arguments"].clone());
    assert_eq!(taken["result"], true, "{taken}");
    let run = lsp.request("pencil/run", json!({"textDocument": {"uri": uri}}));
    assert_eq!(run["result"]["status"], "error", "{run}");
    wait_until("three run events", Duration::from_secs(20), || hub.events().len() == 3);
    let hints = hub.hints();
    let kinds: Vec<(Option<&str>, Option<&str>)> = hints.iter().map(|(a, b)| (a.as_deref(), b.as_deref())).collect();
    assert_eq!(
        kinds,
        [(None, None), (Some("dismissed"), Some("rule_fix")), (Some("accepted"), Some("rule_fix"))],
        "the hint outcome and kind ride on each title's next run"
    );

    // The hub is down when the student asks; the hand waits and is sent once when it is back.
    drop(hub);
    let asked = command(&mut lsp, "pencil.askTeacher", json!([{"uri": uri, "message": "why is it not blue?", "shareTrace": true}]));
    let said = asked["result"]["message"].as_str().unwrap_or_else(|| panic!("{asked}"));
    assert!(said.contains("hand is raised") && said.contains("\"7b\"") && said.contains("earlier version"), "{said}");
    thread::sleep(Duration::from_secs(3));
    let hub = Hub::start(&hub_data);
    assert!(hub.hands().is_empty(), "nothing arrives while the hub is down");
    *proxy.upstream.lock().unwrap() = hub.base.clone();
    wait_until("the hand after the outage", Duration::from_secs(30), || !hub.hands().is_empty());
    thread::sleep(Duration::from_secs(3));
    let hands = hub.hands();
    assert_eq!(hands.len(), 1, "exactly once: {hands:?}");
    let (_, title, program, message, trace) = &hands[0];
    assert_eq!((title.as_str(), program.as_str(), message.as_deref()), ("car", broken, Some("why is it not blue?")));
    assert!(trace.as_deref().is_some_and(|t| t.contains("lightbleu")), "the shared trace: {trace:?}");
    assert!(!hub.all_text().contains("colour name is misspelled"), "the reflection never leaves the machine");

    // The teacher replies on the dashboard; the reply appears in the editor, once.
    let session = hub.login("ada");
    hub.reply_to_hand(&session, class_id, "Check the spelling of the colour on line 1.");
    let shown = lsp.wait_notification("window/showMessage", |p| {
        p["message"].as_str().is_some_and(|m| m.contains("Your teacher replied about \"car\"") && m.contains("spelling of the colour"))
    });
    assert_eq!(shown["params"]["type"], 3, "{shown}");
    thread::sleep(Duration::from_secs(3));
    let _ = code_actions(&mut lsp, uri);
    let again = lsp.notifications.iter().filter(|n| n["params"]["message"].as_str().is_some_and(|m| m.contains("Your teacher replied"))).count();
    assert_eq!(again, 0, "a reply is shown once");
    assert!(lsp.shutdown().success());

    // A restarted editor does not show it again; the CLI lists it.
    let mut lsp = LspClient::start_with_env(&student, &[("PENCIL_CLASS_SYNC_SECS", Path::new("1"))]);
    lsp.initialize(json!({"pencil": {"recordOnSave": false}}));
    thread::sleep(Duration::from_secs(3));
    lsp.notify("textDocument/didOpen", json!({"textDocument": {"uri": uri, "languageId": "coffeescript", "version": 1, "text": broken}}));
    let _ = code_actions(&mut lsp, uri);
    assert!(!lsp.notifications.iter().any(|n| n["params"]["message"].as_str().is_some_and(|m| m.contains("Your teacher replied"))));
    assert!(lsp.shutdown().success());
    let listed = text(&class(&student, &["hands"]));
    assert!(listed.contains("\"car\"") && listed.contains("you wrote: why is it not blue?") && listed.contains("spelling of the colour"), "{listed}");

    // The CLI asks too, from a file, without the trace; quiz mode does not stop it.
    hub.set_policy(&session, class_id, &[("hints_enabled", "on"), ("max_hint_size", "medium"), ("quiz_mode", "on")]);
    let file = dir.path().join("house.coffee");
    std::fs::write(&file, "fd 50\nrt 90\n").unwrap();
    let asked = class(&student, &["ask", "--title", "house", "--file", file.to_str().unwrap(), "--message", "is this right?"]);
    assert!(asked.status.success() && text(&asked).contains("Sent to your teacher"), "{}", text(&asked));
    let hands = hub.hands();
    assert_eq!((hands.len(), hands[1].2.as_str(), hands[1].4.as_deref()), (2, "fd 50\nrt 90\n", None));
}

#[test]
fn neovim_pencil_class_joins_shows_and_leaves() {
    let nvim = std::env::split_paths(&std::env::var_os("PATH").unwrap_or_default())
        .map(|d| d.join("nvim"))
        .find(|p| p.exists())
        .expect("nvim is not installed: run scripts/setup.sh (Debian package neovim)");
    let dir = tempfile::tempdir().unwrap();
    let hub = Hub::start(&dir.path().join("hub"));
    hub.add_teacher("ada");
    let session = hub.login("ada");
    let (_, code) = hub.create_class(&session, "7b");
    let data = dir.path().join("student");
    let out = dir.path().join("out.txt");
    let setup = format!(
        "lua require('pencil').setup({{ cmd = {{ '{}' }}, settings = {{ dataDir = '{}' }} }})",
        env!("CARGO_BIN_EXE_pencil-lsp"),
        data.display()
    );
    let status = Command::new(nvim)
        .args(["--headless", "--clean", "-n", "-i", "NONE"])
        .args(["--cmd", &format!("set rtp+={}/../editor-extensions/neovim", env!("CARGO_MANIFEST_DIR"))])
        .args(["-c", &setup])
        .args(["-c", &format!("PencilClass join {code} {} Grace Hopper", hub.base)])
        .args(["-c", "lua vim.g.pencil_show = require('pencil').class({'show'})"])
        .args(["-c", &format!("lua vim.fn.writefile(vim.split(vim.g.pencil_show or 'nil', '\\n'), '{}')", out.display())])
        .args(["-c", "PencilClass leave", "-c", "qa!"])
        .env("HOME", dir.path())
        .env("XDG_STATE_HOME", dir.path().join("state"))
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .status()
        .expect("start nvim");
    assert!(status.success());
    let shown = std::fs::read_to_string(&out).expect("nvim wrote nothing");
    assert!(shown.contains("Class \"7b\"") && shown.contains("as \"Grace Hopper\""), "{shown}");
    assert!(text(&class(&data, &["show"])).contains("Not in a class"), ":PencilClass leave left the class");
}
