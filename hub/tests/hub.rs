#![allow(clippy::unwrap_used)] // A failing unwrap in a test is a failed test, with its line.
//! End-to-end tests: the real `pencil-hub` binary on a free loopback port
//! with a fresh data directory, driven over HTTP the way a teacher's browser
//! and a student's coach drive it. Every test that stores anything runs on
//! SQLite and on PostgreSQL (`sqlite::NAME`, `postgres::NAME`: see `both!`
//! at the end and `support/`).

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::os::unix::fs::PermissionsExt;
use std::process::{Child, Command, Stdio};

use pencil_core::classroom::{verify, JoinResponse, Policy, PolicyError, PolicyPin, SignedPolicy};
use serde_json::{json, Value};

#[macro_use]
mod support;
use support::{backend, Backend, Site};

const BIN: &str = env!("CARGO_BIN_EXE_pencil-hub");
const PASSWORD: &str = "correct horse battery";

struct Hub {
    child: Child,
    base: String,
    addr: String,
    /// The data directory's parent (and the PostgreSQL cluster); kept alive while the hub runs.
    dir: std::rc::Rc<Site>,
    agent: ureq::Agent,
}

impl Drop for Hub {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

struct Reply {
    status: u16,
    headers: Vec<(String, String)>,
    body: String,
}

impl Reply {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
    /// `name=value` of a Set-Cookie header.
    fn cookie(&self, name: &str) -> Option<String> {
        self.headers
            .iter()
            .filter(|(k, _)| k.eq_ignore_ascii_case("set-cookie"))
            .filter_map(|(_, v)| v.split(';').next())
            .find(|c| c.starts_with(&format!("{name}=")))
            .map(str::to_string)
    }
    fn json(&self) -> Value {
        serde_json::from_str(&self.body).unwrap_or_else(|e| panic!("not JSON ({e}): {}", self.body))
    }
}

fn reply(mut r: ureq::http::Response<ureq::Body>) -> Reply {
    let headers = r
        .headers()
        .iter()
        .map(|(k, v)| (k.as_str().to_string(), v.to_str().unwrap_or("").to_string()))
        .collect();
    Reply {
        status: r.status().as_u16(),
        headers,
        body: r.body_mut().read_to_string().unwrap_or_default(),
    }
}

/// The value of the first hidden `csrf` field of a page.
fn csrf_of(html: &str) -> String {
    let start =
        html.find("name=\"csrf\" value=\"").expect("a csrf field") + "name=\"csrf\" value=\"".len();
    html[start..].split('"').next().unwrap().to_string()
}

impl Hub {
    fn start(extra: &[&str]) -> Hub {
        Hub::start_in(std::rc::Rc::new(Site::new()), extra)
    }

    /// Starts a hub on an existing data directory or database (a restart,
    /// or on PostgreSQL a second hub beside the first).
    fn start_in(dir: std::rc::Rc<Site>, extra: &[&str]) -> Hub {
        let mut child = Command::new(BIN)
            .args(dir.args())
            .args([
                "serve",
                "--listen",
                "127.0.0.1:0",
            ])
            .args(extra)
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .unwrap();
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        let base = line
            .trim()
            .strip_prefix("pencil-hub listening on ")
            .unwrap_or_else(|| panic!("{line}"))
            .to_string();
        let addr = base.split_once("://").unwrap().1.to_string();
        let agent = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .max_redirects(0)
            .max_redirects_will_error(false)
            .build()
            .into();
        Hub {
            child,
            base,
            addr,
            dir,
            agent,
        }
    }

    fn add_teacher(&self, name: &str) {
        let mut add = Command::new(BIN)
            .args(self.dir.args())
            .args(["teacher", "add"])
            .args(["--name", name, "--password-stdin"])
            .stdin(Stdio::piped())
            .spawn()
            .unwrap();
        writeln!(add.stdin.take().unwrap(), "{PASSWORD}").unwrap();
        assert!(add.wait().unwrap().success());
    }

    fn get(&self, path: &str, cookie: &str) -> Reply {
        let mut req = self.agent.get(format!("{}{path}", self.base));
        if !cookie.is_empty() {
            req = req.header("Cookie", cookie);
        }
        reply(req.call().unwrap())
    }

    fn post_form(&self, path: &str, cookie: &str, form: &[(&str, &str)]) -> Reply {
        let mut req = self.agent.post(format!("{}{path}", self.base));
        if !cookie.is_empty() {
            req = req.header("Cookie", cookie);
        }
        reply(req.send_form(form.iter().copied()).unwrap())
    }

    fn api(&self, method: &str, path: &str, token: Option<&str>, body: Option<&[u8]>) -> Reply {
        let url = format!("{}{path}", self.base);
        let auth = token.map(|t| format!("Bearer {t}"));
        let r = match method {
            "GET" => {
                let mut req = self.agent.get(url);
                if let Some(a) = &auth {
                    req = req.header("Authorization", a);
                }
                req.call()
            }
            _ => {
                let mut req = self
                    .agent
                    .post(url)
                    .header("Content-Type", "application/json");
                if let Some(a) = &auth {
                    req = req.header("Authorization", a);
                }
                req.send(body.unwrap_or(b""))
            }
        };
        reply(r.unwrap())
    }

    fn try_login(&self, name: &str, password: &str) -> Reply {
        let page = self.get("/login", "");
        let cookie = page.cookie("pencil_hub_login").expect("login cookie");
        self.post_form(
            "/login",
            &cookie,
            &[
                ("name", name),
                ("password", password),
                ("csrf", &csrf_of(&page.body)),
            ],
        )
    }

    /// Signs in and returns the session cookie (`name=value`).
    fn login(&self, name: &str) -> String {
        let r = self.try_login(name, PASSWORD);
        assert_eq!(r.status, 303, "{}", r.body);
        let cookie = r.cookie("pencil_hub_session").unwrap();
        let set = r
            .headers
            .iter()
            .find(|(k, v)| k == "set-cookie" && v.starts_with("pencil_hub_session"))
            .unwrap();
        assert!(
            set.1.contains("HttpOnly")
                && set.1.contains("SameSite=Strict")
                && set.1.contains("Path=/;"),
            "{}",
            set.1
        );
        cookie
    }

    /// Creates a class and returns (id, join code).
    fn create_class(&self, session: &str, name: &str) -> (i64, String) {
        let csrf = csrf_of(&self.get("/classes", session).body);
        let r = self.post_form("/classes", session, &[("csrf", &csrf), ("name", name)]);
        assert_eq!(r.status, 303, "{}", r.body);
        let id: i64 = r
            .header("location")
            .unwrap()
            .strip_prefix("/classes/")
            .unwrap()
            .parse()
            .unwrap();
        let page = self.get(&format!("/classes/{id}"), session).body;
        let start = page.find("<span class=\"code\">").unwrap() + "<span class=\"code\">".len();
        (id, page[start..start + 6].to_string())
    }

    fn join(&self, code: &str, name: &str) -> JoinResponse {
        let body = json!({"code": code, "display_name": name}).to_string();
        let r = self.api("POST", "/api/v1/join", None, Some(body.as_bytes()));
        assert_eq!(r.status, 200, "{}", r.body);
        serde_json::from_str(&r.body).unwrap()
    }

    fn policy(&self, token: &str) -> SignedPolicy {
        let r = self.api("GET", "/api/v1/policy", Some(token), None);
        assert_eq!(r.status, 200, "{}", r.body);
        serde_json::from_str(&r.body).unwrap()
    }

    fn post_events(&self, token: &str, events: &Value) -> Reply {
        self.api(
            "POST",
            "/api/v1/events",
            Some(token),
            Some(json!({"events": events}).to_string().as_bytes()),
        )
    }
}

fn event(id: &str, title: &str, status: &str) -> Value {
    json!({"id": id, "time": "2026-12-06T12:00:00Z", "title": title, "status": status,
           "error_class": if status == "ok" { Value::Null } else { json!("ReferenceError") },
           "risk_bucket": "high", "hint": "shown", "idle_seconds": 3})
}

fn teacher_publishes_a_signed_policy_and_sees_a_student_once_per_event() {
    let hub = Hub::start(&[]);
    let data = hub.dir.path().join("data");
    if backend() == Backend::Sqlite {
        assert_eq!(
            std::fs::metadata(&data).unwrap().permissions().mode() & 0o777,
            0o700
        );
        assert_eq!(
            std::fs::metadata(data.join("hub.sqlite3"))
                .unwrap()
                .permissions()
                .mode()
                & 0o777,
            0o600
        );
    } else {
        // On PostgreSQL the hub is stateless: nothing of it on disk.
        assert!(!data.exists());
    }
    hub.add_teacher("ada");

    // The login form needs its CSRF token.
    let page = hub.get("/login", "");
    let cookie = page.cookie("pencil_hub_login").unwrap();
    let r = hub.post_form(
        "/login",
        &cookie,
        &[("name", "ada"), ("password", PASSWORD)],
    );
    assert_eq!(r.status, 403);
    let session = hub.login("ada");

    // Creating a class without the session's CSRF token is refused.
    let r = hub.post_form("/classes", &session, &[("name", "7b")]);
    assert_eq!(r.status, 403);
    assert!(!hub.get("/classes", &session).body.contains("7b"));
    let (class_id, code) = hub.create_class(&session, "7b <Mathe>");
    assert!(hub
        .get("/classes", &session)
        .body
        .contains("7b &lt;Mathe&gt;"));

    // The student joins with the code as typed (lower case, a dash).
    let typed = format!("{}-{}", &code[..3], &code[3..]).to_lowercase();
    let joined = hub.join(&typed, "  <script>alert(1)</script> ");
    assert_eq!(joined.class_id, class_id);
    assert_eq!(joined.class_name, "7b <Mathe>");
    let mut pin = PolicyPin {
        teacher_key: joined.teacher_key.clone(),
        class_id,
        serial: 0,
    };

    let first = hub.policy(&joined.device_token);
    let policy =
        verify(&first, &pin).expect("the hub's policy verifies against the key pinned at join");
    assert_eq!(policy, Policy::default_for(class_id));
    pin.serial = policy.serial;

    // The teacher edits the policy; it is re-signed with a higher serial.
    let page = hub.get(&format!("/classes/{class_id}/policy"), &session);
    let csrf = csrf_of(&page.body);
    let form = [
        ("hints_per_title", "2"),
        ("max_hint_size", "small"),
        ("quiz_mode", "on"),
        (
            "assignments",
            "car | 2026-12-07T09:00:00Z |\nhouse | | 2026-12-08T15:30:00+01:00\n",
        ),
    ];
    let r = hub.post_form(&format!("/classes/{class_id}/policy"), &session, &form);
    assert_eq!(r.status, 403, "no CSRF token, no change");
    let mut with_csrf = form.to_vec();
    with_csrf.push(("csrf", &csrf));
    let r = hub.post_form(&format!("/classes/{class_id}/policy"), &session, &with_csrf);
    assert_eq!(r.status, 303, "{}", r.body);
    let bad_time = [
        ("csrf", csrf.as_str()),
        ("assignments", "car | next monday |"),
    ];
    let r = hub.post_form(&format!("/classes/{class_id}/policy"), &session, &bad_time);
    assert_eq!(r.status, 400);
    assert!(r.body.contains("next monday"), "{}", r.body);

    let second = hub.policy(&joined.device_token);
    let policy = verify(&second, &pin).unwrap();
    assert_eq!(policy.serial, 2);
    assert!(policy.quiz_mode && !policy.hints_enabled && !policy.reflect_first);
    assert_eq!(policy.hints_per_title, Some(2));
    assert_eq!(policy.hints_per_hour, None);
    assert_eq!(policy.assignments.len(), 2);
    assert_eq!(
        policy.assignments[1].closes.as_deref(),
        Some("2026-12-08T15:30:00+01:00")
    );
    pin.serial = 2;
    // Replaying the first policy, or a tampered second one, is refused.
    assert_eq!(
        verify(&first, &pin),
        Err(PolicyError::Stale { got: 1, pinned: 2 })
    );
    let mut tampered = second.clone();
    tampered.policy.quiz_mode = false;
    assert_eq!(verify(&tampered, &pin), Err(PolicyError::BadSignature));

    // Events: three failing runs; the batch is sent twice (a lost ack).
    let batch = json!([
        event("e1", "car", "ok"),
        event("e2", "car", "error"),
        event("e3", "car", "error"),
        event("e4", "house", "timeout")
    ]);
    for (attempt, expected_new) in [(0, 4), (1, 0)] {
        let r = hub.post_events(&joined.device_token, &batch);
        assert_eq!(r.status, 200, "attempt {attempt}: {}", r.body);
        assert_eq!(r.json()["acknowledged"], json!(["e1", "e2", "e3", "e4"]));
        assert_eq!(r.json()["new"], json!(expected_new));
    }

    let dash = hub.get(&format!("/classes/{class_id}"), &session);
    assert_eq!(dash.status, 200);
    let csp = dash.header("content-security-policy").unwrap();
    assert!(
        csp.contains("default-src 'none'") && !csp.contains("unsafe-inline"),
        "{csp}"
    );
    assert!(
        dash.body.contains("&lt;script&gt;alert(1)&lt;/script&gt;"),
        "{}",
        dash.body
    );
    assert!(
        !dash.body.contains("<script>alert(1)"),
        "the display name must be text, not markup"
    );
    assert!(
        dash.body.contains("4 runs"),
        "each event counted once: {}",
        dash.body
    );
    assert!(dash.body.contains("<b>house</b>"));
    assert!(
        dash.body.contains("class=\"alert stuck\""),
        "3 failing runs in a row: {}",
        dash.body
    );

    // A new code replaces the old one.
    let r = hub.post_form(
        &format!("/classes/{class_id}/code"),
        &session,
        &[("csrf", &csrf)],
    );
    assert_eq!(r.status, 303);
    let r = hub.api(
        "POST",
        "/api/v1/join",
        None,
        Some(
            json!({"code": code, "display_name": "Bo"})
                .to_string()
                .as_bytes(),
        ),
    );
    assert_eq!(r.status, 404, "{}", r.body);
    assert!(r.json()["error"].as_str().unwrap().contains("join code"));

    // Signing out ends the session.
    let r = hub.post_form("/logout", &session, &[("csrf", &csrf)]);
    assert_eq!(r.status, 303);
    let r = hub.get(&format!("/classes/{class_id}"), &session);
    assert_eq!((r.status, r.header("location")), (303, Some("/login")));
}

fn a_token_or_session_reaches_only_its_own_class() {
    let hub = Hub::start(&["--idle-after-secs", "1"]);
    hub.add_teacher("ada");
    hub.add_teacher("ben");
    let ada = hub.login("ada");
    let ben = hub.login("ben");
    let (class_a, code_a) = hub.create_class(&ada, "A");
    let (class_b, code_b) = hub.create_class(&ben, "B");
    let student_a = hub.join(&code_a, "Ann");
    let student_b = hub.join(&code_b, "Bob");
    assert_ne!(
        student_a.teacher_key, student_b.teacher_key,
        "one key per teacher"
    );

    // Each token gets its own class's policy, signed by its own teacher only.
    let policy_a = hub.policy(&student_a.device_token);
    assert_eq!(policy_a.policy.class_id, class_a);
    let pin_b = PolicyPin {
        teacher_key: student_b.teacher_key.clone(),
        class_id: class_b,
        serial: 0,
    };
    assert_eq!(verify(&policy_a, &pin_b), Err(PolicyError::BadSignature));
    let pin_b_with_a_key = PolicyPin {
        teacher_key: student_a.teacher_key.clone(),
        ..pin_b
    };
    assert_eq!(
        verify(&policy_a, &pin_b_with_a_key),
        Err(PolicyError::WrongClass {
            got: class_a,
            pinned: class_b
        })
    );

    // Events with A's token land in A only, even with ids B already used.
    assert_eq!(
        hub.post_events(&student_b.device_token, &json!([event("x1", "bee", "ok")]))
            .status,
        200
    );
    let r = hub.post_events(
        &student_a.device_token,
        &json!([event("x1", "ant", "error")]),
    );
    assert_eq!(r.json()["new"], json!(1), "ids are per device");
    let dash_a = hub.get(&format!("/classes/{class_a}"), &ada).body;
    let dash_b = hub.get(&format!("/classes/{class_b}"), &ben).body;
    assert!(dash_a.contains("Ann") && dash_a.contains("<b>ant</b>") && !dash_a.contains("Bob"));
    assert!(dash_b.contains("Bob") && dash_b.contains("<b>bee</b>") && !dash_b.contains("Ann"));

    // A teacher cannot open, re-code or re-sign another teacher's class.
    assert_eq!(hub.get(&format!("/classes/{class_a}"), &ben).status, 404);
    assert_eq!(
        hub.get(&format!("/classes/{class_a}/policy"), &ben).status,
        404
    );
    let ben_csrf = csrf_of(&hub.get("/classes", &ben).body);
    let r = hub.post_form(
        &format!("/classes/{class_a}/policy"),
        &ben,
        &[("csrf", &ben_csrf), ("quiz_mode", "on")],
    );
    assert_eq!(r.status, 404);
    assert_eq!(hub.policy(&student_a.device_token), policy_a);
    // ...and one teacher's CSRF token is worthless in another's session.
    let ada_csrf = csrf_of(&hub.get("/classes", &ada).body);
    assert_eq!(
        hub.post_form("/classes", &ben, &[("csrf", &ada_csrf), ("name", "X")])
            .status,
        403
    );

    // Unknown or missing tokens.
    for token in [
        None,
        Some("not-a-token"),
        Some(&student_a.device_token[1..]),
    ] {
        let r = hub.api("GET", "/api/v1/policy", token, None);
        assert_eq!(r.status, 401, "{}", r.body);
        assert!(r.json()["error"].is_string());
        let r = hub.post_events(token.unwrap_or(""), &json!([event("y", "t", "ok")]));
        assert_eq!(r.status, 401);
    }

    // Nobody sent anything for over a second: both show as idle (threshold 1 s here).
    std::thread::sleep(std::time::Duration::from_millis(2100));
    assert!(hub
        .get(&format!("/classes/{class_a}"), &ada)
        .body
        .contains("class=\"alert idle\""));
}

fn sign_in_is_rate_limited_per_account() {
    let hub = Hub::start(&[]);
    hub.add_teacher("ada");
    hub.add_teacher("ben");
    for attempt in 1..=5 {
        let r = hub.try_login("ada", "wrong password!");
        assert_eq!(r.status, 401, "attempt {attempt}");
        assert!(r.body.contains("Wrong name or password."));
    }
    let r = hub.try_login("ada", "wrong password!");
    assert_eq!(r.status, 429);
    assert!(r.body.contains("Too many failed sign-ins"), "{}", r.body);
    // Now even the right password waits out the window...
    let r = hub.try_login("ada", PASSWORD);
    assert_eq!(r.status, 429);
    assert!(r.cookie("pencil_hub_session").is_none());
    // ...while another account on the same computer still signs in, again and
    // again: a sign-in that succeeds does not count towards the computer's limit.
    for _ in 0..16 {
        hub.login("ben");
    }
}

fn guesses_sent_at_once_cannot_overshoot_the_sign_in_limit() {
    let hub = Hub::start(&[]);
    hub.add_teacher("ada");
    // Each guess with its own sign-in page (cookie and CSRF token), then all at once.
    let forms: Vec<(String, String)> = (0..16)
        .map(|_| {
            let page = hub.get("/login", "");
            (page.cookie("pencil_hub_login").unwrap(), csrf_of(&page.body))
        })
        .collect();
    let start = std::sync::Arc::new(std::sync::Barrier::new(forms.len()));
    let guesses: Vec<_> = forms
        .into_iter()
        .map(|(cookie, csrf)| {
            let (start, url) = (start.clone(), format!("{}/login", hub.base));
            std::thread::spawn(move || {
                let agent: ureq::Agent =
                    ureq::Agent::config_builder().http_status_as_error(false).max_redirects(0).build().into();
                start.wait();
                let form = [("name", "ada"), ("password", "wrong password!"), ("csrf", csrf.as_str())];
                agent.post(url).header("Cookie", &cookie).send_form(form).unwrap().status().as_u16()
            })
        })
        .collect();
    let mut statuses: Vec<u16> = guesses.into_iter().map(|g| g.join().unwrap()).collect();
    statuses.sort_unstable();
    assert_eq!(statuses.iter().filter(|&&s| s == 401).count(), 5, "{statuses:?}");
    assert_eq!(statuses.iter().filter(|&&s| s == 429).count(), 11, "{statuses:?}");
}

fn malformed_and_oversized_requests_get_clear_json_errors() {
    let hub = Hub::start(&[]);
    hub.add_teacher("ada");
    let session = hub.login("ada");
    let (_, code) = hub.create_class(&session, "A");
    let token = hub.join(&code, "Ann").device_token;

    let check = |r: Reply, status: u16, needle: &str| {
        assert_eq!(r.status, status, "{}", r.body);
        let message = r.json()["error"].as_str().unwrap_or_default().to_string();
        assert!(
            message.contains(needle),
            "'{message}' should mention '{needle}'"
        );
    };
    let big = vec![b' '; 300 * 1024];
    check(
        hub.api("POST", "/api/v1/events", Some(&token), Some(&big)),
        413,
        "too large",
    );
    let many: Vec<Value> = (0..501)
        .map(|i| event(&format!("m{i}"), "t", "ok"))
        .collect();
    check(hub.post_events(&token, &json!(many)), 413, "at most 500");
    check(
        hub.api(
            "POST",
            "/api/v1/events",
            Some(&token),
            Some(b"{\"events\": ["),
        ),
        400,
        "malformed JSON",
    );
    let mut with_code = event("c1", "car", "ok");
    with_code["code"] = json!("fd 100");
    check(hub.post_events(&token, &json!([with_code])), 400, "code");
    check(
        hub.post_events(&token, &json!([event("bad id", "car", "ok")])),
        400,
        "event 0: event id",
    );
    check(
        hub.post_events(&token, &json!([event("ok1", &"t".repeat(201), "ok")])),
        400,
        "title",
    );
    let mut bad_status = event("s1", "car", "ok");
    bad_status["status"] = json!("great");
    check(
        hub.post_events(&token, &json!([bad_status])),
        400,
        "unknown variant",
    );
    // Nothing of a refused batch was stored: the same ids are new afterwards.
    assert_eq!(
        hub.post_events(&token, &json!([event("ok1", "car", "ok")]))
            .json()["new"],
        json!(1)
    );

    let join = |body: Value| {
        hub.api(
            "POST",
            "/api/v1/join",
            None,
            Some(body.to_string().as_bytes()),
        )
    };
    check(
        join(json!({"code": code, "display_name": "ann@example.org"})),
        400,
        "e-mail",
    );
    check(
        join(json!({"code": code, "display_name": "x".repeat(41)})),
        400,
        "longer than 40",
    );
    check(join(json!({"code": code})), 400, "display_name");
    check(
        join(json!({"code": "ZZZZZZ", "display_name": "Ann"})),
        404,
        "join code",
    );
    check(
        hub.api("POST", "/api/v1/join", None, Some(&vec![b' '; 8 * 1024])),
        413,
        "too large",
    );
}

fn wrong_host_header_is_refused() {
    let hub = Hub::start(&[]);
    let raw = |host: &str| {
        let mut s = TcpStream::connect(&hub.addr).unwrap();
        write!(
            s,
            "GET /login HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n"
        )
        .unwrap();
        let mut out = String::new();
        s.read_to_string(&mut out).unwrap();
        out
    };
    let port = hub.addr.rsplit(':').next().unwrap();
    assert!(raw(&format!("evil.example:{port}")).starts_with("HTTP/1.1 421"));
    assert!(
        raw(&format!("127.0.0.1:{}", port.parse::<u16>().unwrap() + 1)).starts_with("HTTP/1.1 421")
    );
    assert!(raw(&hub.addr).starts_with("HTTP/1.1 200"));
    assert!(raw(&format!("localhost:{port}")).starts_with("HTTP/1.1 200"));
}

#[test]
fn a_non_loopback_address_needs_allow_remote() {
    let dir = tempfile::tempdir().unwrap();
    let out = Command::new(BIN)
        .args([
            "--data-dir",
            dir.path().to_str().unwrap(),
            "serve",
            "--listen",
            "0.0.0.0:0",
        ])
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("--allow-remote"));
}

fn a_hub_killed_mid_ingest_keeps_every_acknowledged_event() {
    let mut hub = Hub::start(&[]);
    hub.add_teacher("ada");
    let session = hub.login("ada");
    let (_, code) = hub.create_class(&session, "A");
    let token = hub.join(&code, "Ann").device_token;

    // A student's coach sends batches as fast as it can while the hub is killed.
    let sender = {
        let (base, token) = (hub.base.clone(), token.clone());
        std::thread::spawn(move || {
            let agent: ureq::Agent = ureq::Agent::config_builder()
                .http_status_as_error(false)
                .build()
                .into();
            let mut acked: Vec<Vec<String>> = Vec::new();
            for batch in 0.. {
                let events: Vec<Value> = (0..20)
                    .map(|i| event(&format!("k{batch}-{i}"), "car", "ok"))
                    .collect();
                let sent = agent
                    .post(format!("{base}/api/v1/events"))
                    .header("Authorization", format!("Bearer {token}"))
                    .send_json(json!({"events": events}));
                match sent {
                    Ok(mut r) if r.status() == 200 => {
                        let ack: Value = r.body_mut().read_json().unwrap();
                        let ids = ack["acknowledged"].as_array().unwrap().iter();
                        acked.push(ids.map(|v| v.as_str().unwrap().to_string()).collect());
                    }
                    _ => break,
                }
            }
            acked
        })
    };
    std::thread::sleep(std::time::Duration::from_millis(800));
    hub.child.kill().unwrap(); // SIGKILL: no shutdown code runs
    hub.child.wait().unwrap();
    let acked = sender.join().unwrap();
    assert!(
        acked.len() >= 5,
        "the hub was killed before it acknowledged much: {}",
        acked.len()
    );

    // Every acknowledged event is in the database, once.
    for (id, n) in stored_counts(&hub.dir, acked.iter().flatten()) {
        assert_eq!(n, 1, "acknowledged event {id} is stored {n} times");
    }

    // After a restart the coach resends what it is unsure of: nothing is counted twice.
    let hub = Hub::start_in(hub.dir.clone(), &[]);
    let last: Vec<Value> = acked
        .last()
        .unwrap()
        .iter()
        .map(|id| event(id, "car", "ok"))
        .collect();
    let r = hub.post_events(&token, &json!(last));
    assert_eq!(
        (r.status, r.json()["new"].clone()),
        (200, json!(0)),
        "{}",
        r.body
    );
}

/// How many times each event id is stored, read behind the hub's back.
fn stored_counts<'a>(site: &Site, ids: impl Iterator<Item = &'a String>) -> Vec<(String, i64)> {
    const COUNT: &str = "SELECT COUNT(*) FROM events WHERE event_id = $1";
    match &site.pg {
        None => {
            let db = rusqlite::Connection::open(site.path().join("data/hub.sqlite3")).unwrap();
            let mut count = db.prepare(COUNT).unwrap();
            ids.map(|id| (id.clone(), count.query_row([id], |r| r.get(0)).unwrap()))
                .collect()
        }
        Some(pg) => {
            let mut db = pg.client();
            let count = db.prepare(COUNT).unwrap();
            ids.map(|id| (id.clone(), db.query_one(&count, &[id]).unwrap().get(0)))
                .collect()
        }
    }
}

fn guessing_from_one_address_is_limited_across_accounts_and_join_codes() {
    let hub = Hub::start(&[]);
    hub.add_teacher("ada");
    let session = hub.login("ada");
    let (_, code) = hub.create_class(&session, "A");

    // 20 wrong passwords spread over 5 names (4 each, under the per-account limit)...
    for i in 0..20 {
        assert_eq!(
            hub.try_login(&format!("name{}", i % 5), "wrong password!")
                .status,
            401
        );
    }
    // ...pause sign-in from this address, even for a real account and password.
    let r = hub.try_login("ada", PASSWORD);
    assert_eq!(r.status, 429, "{}", r.body);

    // Join codes: 20 wrong guesses, then even the right code is refused for a while.
    let join = |code: &str| {
        let body = json!({"code": code, "display_name": "Ann"}).to_string();
        hub.api("POST", "/api/v1/join", None, Some(body.as_bytes()))
    };
    for i in 0..20 {
        assert_eq!(join(&format!("ZZZZ{:02}", i)).status, 404);
    }
    let r = join(&code);
    assert_eq!(r.status, 429, "{}", r.body);
    assert!(r.json()["error"]
        .as_str()
        .unwrap()
        .contains("wait 15 minutes"));
}

fn behind_a_trusted_proxy_join_limits_key_on_the_forwarded_address() {
    let join_from = |hub: &Hub, from: &str, code: &str| {
        let body = json!({"code": code, "display_name": "Ann"}).to_string();
        let r = hub
            .agent
            .post(format!("{}/api/v1/join", hub.base))
            .header("Content-Type", "application/json")
            .header("X-Forwarded-For", from)
            .send(body.as_bytes())
            .unwrap();
        r.status().as_u16()
    };
    // The test connects from 127.0.0.1: the trusted load balancer here.
    let hub = Hub::start(&["--trusted-proxy", "127.0.0.1"]);
    hub.add_teacher("ada");
    let session = hub.login("ada");
    let (_, code) = hub.create_class(&session, "A");
    for i in 0..20 {
        assert_eq!(join_from(&hub, "192.0.2.7", &format!("ZZZZ{i:02}")), 404);
    }
    assert_eq!(join_from(&hub, "192.0.2.7", &code), 429, "this student's address is paused");
    assert_eq!(join_from(&hub, "192.0.2.8", &code), 200, "another student behind the balancer is not");
    // A client cannot escape its pause by writing its own X-Forwarded-For in front.
    assert_eq!(join_from(&hub, "198.51.100.1, 192.0.2.7", &code), 429);

    // Without --trusted-proxy the header is not believed: changing it does not help a guesser.
    let hub = Hub::start(&[]);
    hub.add_teacher("ada");
    let session = hub.login("ada");
    let (_, code) = hub.create_class(&session, "A");
    for i in 0..20 {
        assert_eq!(join_from(&hub, &format!("203.0.113.{i}"), &format!("ZZZZ{i:02}")), 404);
    }
    assert_eq!(join_from(&hub, "203.0.113.99", &code), 429);
}

fn teacher_add_refuses_duplicates_short_passwords_and_a_missing_terminal() {
    let site = Site::new();
    let add = |name: &str, password: Option<&str>| {
        let mut cmd = Command::new(BIN);
        cmd.args(site.args()).args(["teacher", "add", "--name", name]);
        if password.is_some() {
            cmd.arg("--password-stdin");
        }
        let mut child = cmd
            .stdin(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        if let Some(p) = password {
            writeln!(child.stdin.take().unwrap(), "{p}").unwrap();
        } else {
            drop(child.stdin.take());
        }
        let out = child.wait_with_output().unwrap();
        (
            out.status.success(),
            String::from_utf8_lossy(&out.stderr).to_string(),
        )
    };
    assert!(add("ada", Some(PASSWORD)).0);
    let (ok, err) = add("ada", Some(PASSWORD));
    assert!(!ok && err.contains("already exists"), "{err}");
    let (ok, err) = add("ben", Some("short"));
    assert!(!ok && err.contains("at least 10"), "{err}");
    let (ok, err) = add("ben", None);
    assert!(!ok && err.contains("--password-stdin"), "{err}");
}

fn with_a_certificate_the_hub_serves_tls_and_marks_cookies_secure() {
    let certs = tempfile::tempdir().unwrap();
    let rcgen::CertifiedKey { cert, signing_key } =
        rcgen::generate_simple_self_signed(vec!["127.0.0.1".to_string()]).unwrap();
    let (cert_path, key_path) = (certs.path().join("cert.pem"), certs.path().join("key.pem"));
    std::fs::write(&cert_path, cert.pem()).unwrap();
    std::fs::write(&key_path, signing_key.serialize_pem()).unwrap();
    let mut hub = Hub::start(&[
        "--tls-cert",
        cert_path.to_str().unwrap(),
        "--tls-key",
        key_path.to_str().unwrap(),
    ]);
    assert!(hub.base.starts_with("https://127.0.0.1:"), "{}", hub.base);

    // A client that does not trust this certificate cannot talk to the hub.
    let stranger: ureq::Agent = ureq::Agent::config_builder().build().into();
    assert!(stranger.get(format!("{}/login", hub.base)).call().is_err());

    let trusted = ureq::tls::Certificate::from_der(cert.der()).to_owned();
    hub.agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .max_redirects(0)
        .max_redirects_will_error(false)
        .tls_config(
            ureq::tls::TlsConfig::builder()
                .root_certs(ureq::tls::RootCerts::new_with_certs(&[trusted]))
                .build(),
        )
        .build()
        .into();
    hub.add_teacher("ada");
    let login_page = hub.get("/login", "");
    let set = login_page.header("set-cookie").unwrap().to_string();
    assert!(set.ends_with("; Secure"), "{set}");
    let session = hub.login("ada");
    let r = hub.try_login("ada", PASSWORD);
    let set = r
        .headers
        .iter()
        .find(|(k, v)| k == "set-cookie" && v.starts_with("pencil_hub_session="))
        .unwrap();
    assert!(set.1.contains("; Secure"), "{}", set.1);
    let (_, code) = hub.create_class(&session, "A");
    let joined = hub.join(&code, "Ann");
    hub.policy(&joined.device_token);

    // Plain HTTP on the TLS port gets no page.
    let mut s = TcpStream::connect(&hub.addr).unwrap();
    // The hub may hang up before the request is all written (a broken pipe):
    // that is a refusal too.
    let _ = write!(
        s,
        "GET /login HTTP/1.1\r\nHost: {}\r\nConnection: close\r\n\r\n",
        hub.addr
    );
    let mut out = Vec::new();
    let _ = s.read_to_end(&mut out);
    assert!(!String::from_utf8_lossy(&out).contains("Sign in"));
}

fn a_raised_hand_reaches_only_its_teacher_and_the_reply_only_its_student() {
    let hub = Hub::start(&[]);
    hub.add_teacher("ada");
    hub.add_teacher("ben");
    let ada = hub.login("ada");
    let ben = hub.login("ben");
    let (class_a, code_a) = hub.create_class(&ada, "A");
    let (class_b, code_b) = hub.create_class(&ben, "B");
    let ann = hub.join(&code_a, "Ann");
    let amy = hub.join(&code_a, "Amy");
    let bob = hub.join(&code_b, "Bob");

    let hand = json!({"id": "h1", "time": "2026-12-07T09:00:00Z", "title": "car",
        "program": "pen red\nfd 100\nrt <b>90</b>", "message": "why does it not turn?",
        "trace": [{"time": "2026-12-07T08:58:00Z", "program": "pen red"}]})
    .to_string();
    let r = hub.api("POST", "/api/v1/hands", Some(&ann.device_token), Some(hand.as_bytes()));
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.json(), json!({"id": "h1", "new": true}));
    // A resend is stored once.
    let r = hub.api("POST", "/api/v1/hands", Some(&ann.device_token), Some(hand.as_bytes()));
    assert_eq!(r.json(), json!({"id": "h1", "new": false}));

    // The hand comes first on Ada's dashboard, escaped, with its trace; Ben sees nothing of it.
    let dash = hub.get(&format!("/classes/{class_a}"), &ada).body;
    let hands_at = dash.find("Raised hands (1)").expect("hands panel");
    assert!(hands_at < dash.find("<h2>Students").unwrap());
    assert!(dash.contains("rt &lt;b&gt;90&lt;/b&gt;") && !dash.contains("<b>90</b>"));
    assert!(dash.contains("Earlier versions (1)") && dash.contains("why does it not turn?"));
    assert!(dash.contains("class=\"alert hand\""));
    assert!(!hub.get(&format!("/classes/{class_b}"), &ben).body.contains("fd 100"));

    // Other students see none of Ann's hands, and Ann sees no reply yet.
    for other in [&amy, &bob] {
        let r = hub.api("GET", "/api/v1/hands", Some(&other.device_token), None);
        assert_eq!(r.json(), json!({"hands": []}));
    }
    let r = hub.api("GET", "/api/v1/hands", Some(&ann.device_token), None);
    assert_eq!(r.json()["hands"][0]["reply"], Value::Null);

    // Find the hand's form; Ben cannot answer it, a missing CSRF token is refused.
    let action = dash.split("action=\"/classes/").find(|s| s.contains("/hands/")).unwrap();
    let path = format!("/classes/{}", &action[..action.find('"').unwrap()]);
    let ben_csrf = csrf_of(&hub.get("/classes", &ben).body);
    let r = hub.post_form(&path, &ben, &[("csrf", &ben_csrf), ("reply", "x"), ("action", "reply")]);
    assert_eq!(r.status, 404);
    let r = hub.post_form(&path, &ada, &[("reply", "x"), ("action", "reply")]);
    assert!(r.status == 403 || r.status == 422, "{}", r.status);
    let ada_csrf = csrf_of(&dash);
    let r = hub.post_form(&path, &ada, &[("csrf", &ada_csrf), ("reply", "Look at line 3: rt takes a number."), ("action", "reply")]);
    assert_eq!(r.status, 303, "{}", r.body);

    let r = hub.api("GET", "/api/v1/hands", Some(&ann.device_token), None);
    let h = &r.json()["hands"][0];
    assert_eq!(h["id"], "h1");
    assert_eq!(h["reply"], "Look at line 3: rt takes a number.");
    assert_eq!(h["resolved"], false);
    assert!(h["replied_at"].as_str().unwrap().ends_with('Z'));
    // Answered: no longer an alert, still listed until marked done.
    let dash = hub.get(&format!("/classes/{class_a}"), &ada).body;
    assert!(!dash.contains("class=\"alert hand\"") && dash.contains("Your reply: Look at line 3"));
    let r = hub.post_form(&path, &ada, &[("csrf", &ada_csrf), ("action", "resolve")]);
    assert_eq!(r.status, 303);
    assert!(!hub.get(&format!("/classes/{class_a}"), &ada).body.contains("Raised hands"));
    assert_eq!(hub.api("GET", "/api/v1/hands", Some(&ann.device_token), None).json()["hands"][0]["resolved"], true);

    // Bad hands get clear 4xx answers.
    let big = json!({"id": "h2", "time": "t", "title": "car", "program": "x".repeat(70 * 1024)}).to_string();
    let r = hub.api("POST", "/api/v1/hands", Some(&ann.device_token), Some(big.as_bytes()));
    assert_eq!(r.status, 400, "{}", r.body);
    let r = hub.api("POST", "/api/v1/hands", Some(&ann.device_token), Some(b"{\"id\":"));
    assert_eq!(r.status, 400);
    let r = hub.api("POST", "/api/v1/hands", None, Some(hand.as_bytes()));
    assert_eq!(r.status, 401);
}

fn a_short_bench_stores_every_acknowledged_event() {
    let site = Site::new();
    // On PostgreSQL through two hub processes, as at district scale.
    let hubs = if site.pg.is_some() { "2" } else { "1" };
    let out = Command::new(BIN)
        .args(site.args())
        .args(["bench", "--devices", "20", "--rate", "4", "--seconds", "2", "--hubs", hubs])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{text}{}", String::from_utf8_lossy(&out.stderr));
    assert!(text.contains(&format!("hubs: {hubs}")), "{text}");
    assert!(text.contains("errors: 0") && text.contains("lost: 0"), "{text}");
}

// Every test above that starts a hub, on SQLite and on PostgreSQL. A new
// test goes in this list (as a plain `fn`); one on a single backend keeps `#[test]`.
both!(
    teacher_publishes_a_signed_policy_and_sees_a_student_once_per_event,
    a_token_or_session_reaches_only_its_own_class,
    sign_in_is_rate_limited_per_account,
    guesses_sent_at_once_cannot_overshoot_the_sign_in_limit,
    malformed_and_oversized_requests_get_clear_json_errors,
    wrong_host_header_is_refused,
    a_hub_killed_mid_ingest_keeps_every_acknowledged_event,
    guessing_from_one_address_is_limited_across_accounts_and_join_codes,
    behind_a_trusted_proxy_join_limits_key_on_the_forwarded_address,
    teacher_add_refuses_duplicates_short_passwords_and_a_missing_terminal,
    with_a_certificate_the_hub_serves_tls_and_marks_cookies_secure,
    a_raised_hand_reaches_only_its_teacher_and_the_reply_only_its_student,
    a_short_bench_stores_every_acknowledged_event
);

#[test]
fn two_hubs_on_one_postgres_database_serve_the_same_class() {
    support::run_on(Backend::Postgres, || {
        let one = Hub::start(&[]);
        let two = Hub::start_in(one.dir.clone(), &[]);
        one.add_teacher("ada");
        let session_one = one.login("ada");
        // Sign-in keeps nothing in a hub either: the form from one, posted to the other.
        let page = one.get("/login", "");
        let cookie = page.cookie("pencil_hub_login").unwrap();
        let form = [("name", "ada"), ("password", PASSWORD), ("csrf", &csrf_of(&page.body))];
        let r = two.post_form("/login", &cookie, &form);
        assert_eq!(r.status, 303, "{}", r.body);
        let session_two = r.cookie("pencil_hub_session").unwrap();
        let (class, code) = one.create_class(&session_one, "A");

        // Ann joins through one hub and sends through the other.
        let ann = one.join(&code, "Ann");
        let batch = json!([event("e1", "car", "error"), event("e2", "car", "ok")]);
        let r = two.post_events(&ann.device_token, &batch);
        assert_eq!((r.status, r.json()["new"].clone()), (200, json!(2)), "{}", r.body);
        // The same events resent to the first hub are not counted again.
        let r = one.post_events(&ann.device_token, &batch);
        assert_eq!((r.status, r.json()["new"].clone()), (200, json!(0)), "{}", r.body);
        let r = one.post_events(&ann.device_token, &json!([event("e3", "house", "ok")]));
        assert_eq!(r.json()["new"], json!(1), "{}", r.body);

        // Either hub's dashboard shows Ann with her three runs, under
        // either hub's session (sessions live in the database too).
        for (hub, session) in [(&one, &session_one), (&two, &session_two), (&two, &session_one)] {
            let page = hub.get(&format!("/classes/{class}"), session);
            assert_eq!(page.status, 200, "{}", page.body);
            assert!(page.body.contains("Ann") && page.body.contains("house"), "{}", page.body);
        }
        let stored = one.dir.pg.as_ref().unwrap().client().query_one("SELECT COUNT(*) FROM events", &[]).unwrap();
        assert_eq!(stored.get::<_, i64>(0), 3);

        // A policy signed through one hub is what a student fetches from the other.
        let before = two.policy(&ann.device_token).policy.serial;
        let csrf = csrf_of(&one.get(&format!("/classes/{class}/policy"), &session_one).body);
        let form = [("csrf", csrf.as_str()), ("hints_per_title", "2"), ("max_hint_size", "small")];
        let r = one.post_form(&format!("/classes/{class}/policy"), &session_one, &form);
        assert_eq!(r.status, 303, "{}", r.body);
        let after = two.policy(&ann.device_token).policy;
        assert!(after.serial > before && after.hints_per_title == Some(2), "{after:?}");
    });
}

#[test]
fn hubs_starting_together_migrate_one_database_once() {
    support::run_on(Backend::Postgres, || {
        let site = std::rc::Rc::new(Site::new());
        // Four hubs at once on an empty database: the advisory lock lets one
        // migrate and the others find the schema done.
        let url = site.pg.as_ref().unwrap().url.clone();
        let starts: Vec<_> = (0..4)
            .map(|_| {
                let url = url.clone();
                std::thread::spawn(move || {
                    Command::new(BIN)
                        .args(["--database", &url, "audit", "--study", "none"])
                        .output()
                        .unwrap()
                })
            })
            .collect();
        for start in starts {
            let out = start.join().unwrap();
            let err = String::from_utf8_lossy(&out.stderr);
            // Each got as far as asking for the study: the schema was there.
            assert!(err.contains("there is no study 'none'"), "{err}");
        }
        let mut db = site.pg.as_ref().unwrap().client();
        let version: i64 = db.query_one("SELECT version FROM schema_version", &[]).unwrap().get(0);
        assert!(version >= 4, "{version}");

        // A database newer than the binary is refused, not written to.
        db.execute("UPDATE schema_version SET version = 999", &[]).unwrap();
        let hub = Command::new(BIN).args(site.args()).args(["teacher", "add", "--name", "x", "--password-stdin"]).output().unwrap();
        let err = String::from_utf8_lossy(&hub.stderr);
        assert!(!hub.status.success() && err.contains("newer than this pencil-hub"), "{err}");
    });
}

#[test]
fn a_database_url_password_is_never_shown() {
    // Nothing listens there: the connection fails, and says where without the password.
    let out = Command::new(BIN)
        .args(["--database", "postgres://ada:s3cret-pw@127.0.0.1:9/hub", "audit", "--study", "x"])
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success() && err.contains("127.0.0.1"), "{err}");
    assert!(!err.contains("s3cret-pw"), "{err}");
    let out = Command::new(BIN).args(["--database", "mysql://x", "audit", "--study", "x"]).output().unwrap();
    assert!(String::from_utf8_lossy(&out.stderr).contains("postgres://"));
}
