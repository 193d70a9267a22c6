//! Consented research collection end to end: the real `pencil-hub` binary on a
//! loopback port (`study publish` offers a researcher's signed study to a
//! class), a student who joins with `pencil-lsp class join` and uses
//! `pencil-lsp research ...`, and the student's real store, into which the
//! test records program states the way the server does after a run.

#![allow(clippy::unwrap_used, reason = "a test: a panic with its location is the failure report")]

use ed25519_dalek::SigningKey;
use pencil_core::research::{sha256_hex, sign_study, Collects, ConsentText, Programs, Study, Timestamps, STUDY_FORMAT};
use pencil_lsp::store::{Database, HintRecord, Trigger};
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};

const PASSWORD: &str = "correct horse battery";
/// A classmate's name, planted in programs and on the roster; it must never reach the hub.
const PLANTED: &str = "Theodora Quistgaard";

fn hub_bin() -> PathBuf {
    let bin = Path::new(env!("CARGO_MANIFEST_DIR")).join("../target/debug/pencil-hub");
    assert!(bin.exists(), "{} is missing: build it first with `cargo build -p pencil-hub`", bin.display());
    bin
}

fn names_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../.deps/names")
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
    /// A hub with teacher "ada" and class "7b"; returns it, the class id and the join code.
    fn with_class(data: &Path) -> (Hub, i64, String) {
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
        let agent: ureq::Agent = ureq::Agent::config_builder().http_status_as_error(false).max_redirects(0).build().into();
        let hub = Hub { child, base, data: data.to_path_buf(), agent };
        let mut add = Command::new(hub_bin())
            .args(["--data-dir", data.to_str().unwrap(), "teacher", "add", "--name", "ada", "--password-stdin"])
            .stdin(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        writeln!(add.stdin.take().unwrap(), "{PASSWORD}").unwrap();
        assert!(add.wait().unwrap().success());
        let page = reply(hub.agent.get(format!("{}/login", hub.base)).call().unwrap());
        let cookie = page.cookies.iter().find(|c| c.starts_with("pencil_hub_login=")).unwrap().clone();
        let form = [("name", "ada"), ("password", PASSWORD), ("csrf", &csrf_of(&page.body))];
        let r = reply(hub.agent.post(format!("{}/login", hub.base)).header("Cookie", &cookie).send_form(form).unwrap());
        let session = r.cookies.iter().find(|c| c.starts_with("pencil_hub_session=")).unwrap().clone();
        let classes = reply(hub.agent.get(format!("{}/classes", hub.base)).header("Cookie", &session).call().unwrap());
        let form = [("csrf", csrf_of(&classes.body)), ("name", "7b".to_string())];
        let r = reply(hub.agent.post(format!("{}/classes", hub.base)).header("Cookie", &session).send_form(form).unwrap());
        assert_eq!(r.status, 303, "{}", r.body);
        let id: i64 = r.location.unwrap().strip_prefix("/classes/").unwrap().parse().unwrap();
        let page = reply(hub.agent.get(format!("{}/classes/{id}", hub.base)).header("Cookie", &session).call().unwrap()).body;
        let start = page.find("<span class=\"code\">").unwrap() + "<span class=\"code\">".len();
        let code = page[start..start + 6].to_string();
        (hub, id, code)
    }

    /// `pencil-hub study publish FILE --class ID`.
    fn publish(&self, file: &Path, class_id: i64) -> Output {
        Command::new(hub_bin())
            .args(["--data-dir", self.data.to_str().unwrap(), "study", "publish", file.to_str().unwrap()])
            .args(["--class", &class_id.to_string()])
            .env("RUST_LOG", "warn")
            .output()
            .unwrap()
    }

    fn db(&self) -> rusqlite::Connection {
        rusqlite::Connection::open_with_flags(self.data.join("hub.sqlite3"), rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY).unwrap()
    }

    /// (subject, upload id, body) of every stored upload.
    fn uploads(&self) -> Vec<(String, String, Vec<u8>)> {
        let db = self.db();
        let mut stmt = db.prepare("SELECT subject_id, upload_id, body FROM research_uploads ORDER BY seq").unwrap();
        stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?))).unwrap().collect::<Result<_, _>>().unwrap()
    }

    /// The SubjectIDs recorded with consents, per study.
    fn subjects(&self) -> Vec<(String, String)> {
        let db = self.db();
        let mut stmt = db.prepare("SELECT study_id, subject_id FROM research_consents ORDER BY study_id, device_id").unwrap();
        stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?))).unwrap().collect::<Result<_, _>>().unwrap()
    }
}

fn researcher() -> SigningKey {
    SigningKey::from_bytes(&[42; 32])
}

fn study(id: &str, collects: Collects) -> Study {
    Study {
        version: STUDY_FORMAT,
        id: id.into(),
        title: "How novices debug loops".into(),
        institution: "Example University".into(),
        ethics_approval: "IRB-2026-117".into(),
        contact: "research@example.edu".into(),
        researcher_key: pencil_core::classroom::encode_key(&researcher().verifying_key()),
        collects,
        retention_days: 365,
        consent: ConsentText {
            version: "3".into(),
            text: "We read the programs you write. You may stop at any time.".into(),
            guardian_below_age: 16,
        },
    }
}

/// Writes a study document signed by the researcher; returns its path.
fn study_file(dir: &Path, study: Study) -> PathBuf {
    let path = dir.join(format!("{}.json", study.id));
    std::fs::write(&path, serde_json::to_vec_pretty(&sign_study(study, &researcher())).unwrap()).unwrap();
    path
}

const FULL: Collects = Collects { programs: Programs::Full, timestamps: Timestamps::Minute, hints: true };

fn lsp(data: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_pencil-lsp")).args(args).arg("--data-dir").arg(data).output().expect("run pencil-lsp")
}

fn research(data: &Path, args: &[&str]) -> Output {
    let mut all = vec!["research"];
    all.extend_from_slice(args);
    lsp(data, &all)
}

/// `preview`/`upload` with the name lists of this checkout.
fn send(data: &Path, verb: &str, study: &str, extra: &[&str]) -> Output {
    let names = names_dir();
    let mut args = vec![verb, "--study", study, "--names", names.to_str().unwrap()];
    args.extend_from_slice(extra);
    research(data, &args)
}

fn text(o: &Output) -> String {
    format!("{}{}", String::from_utf8_lossy(&o.stdout), String::from_utf8_lossy(&o.stderr))
}

fn ok(o: Output) -> String {
    assert!(o.status.success(), "{}", text(&o));
    text(&o)
}

/// Records a run of `code` as the server does (the store is a separate file the CLI also opens).
fn run_program(data: &Path, title: &str, code: &str) -> i64 {
    let (mut db, _) = Database::open_in(data).unwrap();
    let me = db.local_student().unwrap();
    db.record_state(&me, title, code, &pencil_lsp::clock::now_timestamp(), Trigger::Run).unwrap().id
}

fn join(data: &Path, code: &str, hub: &Hub, name: &str) {
    ok(lsp(data, &["class", "join", code, "--hub", &hub.base, "--name", name]));
}

fn sha256_line(stderr: &str) -> String {
    let at = stderr.find("sha256 ").expect("preview names the sha256") + "sha256 ".len();
    stderr[at..at + 64].to_string()
}

#[test]
fn a_study_with_a_bad_signature_is_refused_by_hub_and_student() {
    let dir = tempfile::tempdir().unwrap();
    let (hub, class_id, code) = Hub::with_class(&dir.path().join("hub"));
    let student = dir.path().join("student");
    join(&student, &code, &hub, "Grace");
    // The scope widened from final programs to full traces after signing.
    let mut signed = sign_study(study("widened", Collects { programs: Programs::Final, ..FULL }), &researcher());
    signed.study.collects.programs = Programs::Full;
    let forged = dir.path().join("forged.json");
    std::fs::write(&forged, serde_json::to_vec(&signed).unwrap()).unwrap();
    let published = hub.publish(&forged, class_id);
    assert!(!published.status.success() && text(&published).contains("signature"), "{}", text(&published));
    let shown = research(&student, &["study", "show", forged.to_str().unwrap()]);
    assert!(!shown.status.success() && text(&shown).contains("signature does not match"), "{}", text(&shown));
    let consent = research(&student, &["consent", "--study", "widened", "--by", "parent", "--yes"]);
    assert!(!consent.status.success() && text(&consent).contains("no study 'widened'"), "{}", text(&consent));

    // A class offer the teacher did not sign (its signature replaced in the hub's database).
    let good = study_file(dir.path(), study("loops", FULL));
    ok(hub.publish(&good, class_id));
    let listed = ok(research(&student, &["study", "list"]));
    assert!(listed.contains("loops: How novices debug loops"), "{listed}");
    let other = study_file(dir.path(), study("loops-b", FULL));
    ok(hub.publish(&other, class_id));
    {
        let db = rusqlite::Connection::open(hub.data.join("hub.sqlite3")).unwrap();
        // 64 bytes of 0x07, base64: a well-formed signature by nobody.
        let forged_offer = format!("{}Bw==", "BwcH".repeat(21));
        db.execute("UPDATE study_offers SET offer_signature = ?1 WHERE study_id = 'loops-b'", [forged_offer]).unwrap();
    }
    let listed = ok(research(&student, &["study", "list"]));
    assert!(listed.contains("loops-b: REFUSED") && listed.contains("not signed by your teacher's key"), "{listed}");
    let consent = research(&student, &["consent", "--study", "loops-b", "--by", "parent", "--yes"]);
    assert!(!consent.status.success(), "{}", text(&consent));
}

#[test]
fn consent_preview_upload_and_revoke_end_to_end() {
    let dir = tempfile::tempdir().unwrap();
    let (hub, class_id, code) = Hub::with_class(&dir.path().join("hub"));
    let student = dir.path().join("student");
    join(&student, &code, &hub, "Grace");
    let roster = dir.path().join("roster.csv");
    std::fs::write(&roster, format!("id,name\n1,\"{PLANTED}\"\n2,Ada Park\n")).unwrap();
    ok(research(&student, &["roster", roster.to_str().unwrap()]));
    ok(hub.publish(&study_file(dir.path(), study("loops", FULL)), class_id));

    // Written before consent: never collected, not even when run again afterwards.
    run_program(&student, "before", "fd 100 # SECRET_BEFORE_CONSENT\n");
    let early = send(&student, "preview", "loops", &[]);
    assert!(!early.status.success() && text(&early).contains("no consent to study 'loops'"), "{}", text(&early));

    let listed = ok(research(&student, &["study", "list"]));
    assert!(listed.contains("loops: How novices debug loops"), "{listed}");
    let shown = ok(research(&student, &["study", "show", "loops"]));
    assert!(shown.contains("IRB-2026-117") && shown.contains("version 3") && shown.contains("students under 16"), "{shown}");
    // Under the study's age, a student cannot consent alone.
    let young = research(&student, &["consent", "--study", "loops", "--by", "student", "--age", "13", "--yes"]);
    assert!(!young.status.success() && text(&young).contains("a parent (--by parent)"), "{}", text(&young));
    let consented = ok(research(&student, &["consent", "--study", "loops", "--by", "parent", "--yes"]));
    assert!(consented.contains("consent text version 3, by parent"), "{consented}");
    let pseudonym = consented.split("Your pseudonym in this study: ").nth(1).unwrap().trim().to_string();
    let receipts = ok(research(&student, &["receipts"]));
    assert!(
        receipts.contains("study 'loops', consent text version 3, by parent")
            && receipts.contains(r#""programs":"full","timestamps":"minute","hints":true"#)
            && receipts.contains(&pseudonym),
        "{receipts}"
    );

    run_program(&student, "before", "fd 100 # SECRET_BEFORE_CONSENT\n");
    run_program(&student, "spiral", &format!("# drawn by {PLANTED}\nfd 10\n"));
    let second = run_program(&student, "spiral", "fd 10\nlabel 'Theodora'\nrt 90\n");
    run_program(&student, "quistgaard house", "fd 5\n");
    {
        let (mut db, _) = Database::open_in(&student).unwrap();
        let hint = HintRecord {
            state_id: second,
            kind: "quick_fix".into(),
            rule: "nearest_color".into(),
            title: "Use the color `red`".into(),
            replacement: "SECRET_HINT_TEXT".into(),
            shown_at: pencil_lsp::clock::now_timestamp(),
        };
        db.record_hint(&hint).unwrap();
    }

    let preview = send(&student, "preview", "loops", &[]);
    assert!(preview.status.success(), "{}", text(&preview));
    let bytes = preview.stdout.clone();
    let shown = String::from_utf8(bytes.clone()).unwrap();
    for secret in ["SECRET_BEFORE_CONSENT", "Theodora", "Quistgaard", "quistgaard", "SECRET_HINT_TEXT", "Grace"] {
        assert!(!shown.contains(secret), "{secret} left the machine: {shown}");
    }
    assert!(shown.contains("\"title\":\"spiral\"") && shown.contains("nearest_color") && !shown.contains("\"before\""), "{shown}");
    let sha = sha256_line(&String::from_utf8_lossy(&preview.stderr));
    assert_eq!(sha, sha256_hex(&bytes));
    // Previewing again changes nothing.
    assert_eq!(send(&student, "preview", "loops", &[]).stdout, bytes);

    let sent = ok(send(&student, "upload", "loops", &["--expect-sha256", &sha]));
    assert!(sent.contains("Sent upload"), "{sent}");
    let stored = hub.uploads();
    assert_eq!(stored.len(), 1);
    assert_eq!(stored[0].2, bytes, "the hub stores exactly the previewed bytes");
    assert_eq!(stored[0].0, pseudonym);
    assert!(ok(send(&student, "upload", "loops", &[])).contains("Nothing to send"));

    // What was previewed is all that may go: a run after the preview makes the upload refuse.
    run_program(&student, "spiral", "fd 10\nrt 45\n");
    let stale = send(&student, "preview", "loops", &[]);
    let stale_sha = sha256_line(&String::from_utf8_lossy(&stale.stderr));
    run_program(&student, "spiral", "fd 10\nrt 46\n");
    let refused = send(&student, "upload", "loops", &["--expect-sha256", &stale_sha]);
    assert!(!refused.status.success() && text(&refused).contains("changed since the preview"), "{}", text(&refused));
    assert_eq!(hub.uploads().len(), 1);

    // Revoking deletes what the hub has and stops the next upload.
    let revoked = ok(research(&student, &["revoke", "--study", "loops"]));
    assert!(revoked.contains("withdrawn") && revoked.contains("deleted your data in study 'loops' (1 uploads)"), "{revoked}");
    assert!(hub.uploads().is_empty());
    run_program(&student, "spiral", "fd 10\nrt 47\n");
    let after = send(&student, "upload", "loops", &[]);
    assert!(!after.status.success() && text(&after).contains("no consent to study 'loops' is in force"), "{}", text(&after));
    assert!(hub.uploads().is_empty());
    assert!(ok(research(&student, &["receipts"])).contains("withdrawn at"));
}

#[test]
fn two_studies_give_one_device_unlinkable_pseudonyms_and_no_device_uploads_as_another() {
    let dir = tempfile::tempdir().unwrap();
    let (hub, class_id, code) = Hub::with_class(&dir.path().join("hub"));
    let student = dir.path().join("student");
    join(&student, &code, &hub, "Grace");
    ok(hub.publish(&study_file(dir.path(), study("loops", FULL)), class_id));
    let finals = Collects { programs: Programs::Final, timestamps: Timestamps::Day, hints: false };
    ok(hub.publish(&study_file(dir.path(), study("finals", finals)), class_id));
    ok(research(&student, &["study", "list"]));
    for id in ["loops", "finals"] {
        ok(research(&student, &["consent", "--study", id, "--by", "student", "--age", "17", "--yes"]));
    }
    let subjects = hub.subjects();
    assert_eq!(subjects.len(), 2);
    assert_ne!(subjects[0].1, subjects[1].1, "two studies must not share a pseudonym");

    run_program(&student, "car", "fd 1\n");
    run_program(&student, "car", "fd 2\n");
    let preview = send(&student, "preview", "finals", &[]);
    let body = preview.stdout.clone();
    let text_body = String::from_utf8(body.clone()).unwrap();
    assert!(text_body.contains("\"code\":\"fd 2\\n\"") && !text_body.contains("fd 1"), "final programs only: {text_body}");
    assert!(text_body.contains(" 00:00:00\""), "dates only: {text_body}");

    // Another student of the class replays those bytes: the hub has no consent of theirs.
    let other = dir.path().join("other");
    join(&other, &code, &hub, "Alan");
    let token = Database::open_in(&other).unwrap().0.membership().unwrap().unwrap().device_token;
    let r = reply(
        hub.agent
            .post(format!("{}/api/v1/research/upload", hub.base))
            .header("Authorization", &format!("Bearer {token}"))
            .header("Content-Type", "application/json")
            .send(&body[..])
            .unwrap(),
    );
    assert_eq!(r.status, 403, "{}", r.body);
    // Oversized bodies are refused before they are read.
    let big = vec![b' '; pencil_core::research::MAX_UPLOAD_BODY + 1];
    let r = reply(
        hub.agent
            .post(format!("{}/api/v1/research/upload", hub.base))
            .header("Authorization", &format!("Bearer {token}"))
            .send(&big[..])
            .unwrap(),
    );
    assert_eq!(r.status, 413, "{}", r.body);

    ok(send(&student, "upload", "finals", &[]));
    ok(send(&student, "upload", "loops", &[]));
    let stored = hub.uploads();
    assert_eq!(stored.len(), 2);
    assert_ne!(stored[0].0, stored[1].0);
    assert_eq!(stored[0].2, body);
}

#[test]
fn study_show_and_list_answer_in_json_for_editors_without_a_class() {
    let tmp = tempfile::tempdir().unwrap();
    let student = tmp.path().join("student");
    let file = study_file(tmp.path(), study("loops", FULL));
    let none: serde_json::Value = serde_json::from_slice(&research(&student, &["study", "list", "--json"]).stdout).unwrap();
    assert_eq!(none, serde_json::json!([]), "nothing kept, no class: an empty list, not an error");

    let shown: serde_json::Value = serde_json::from_slice(&research(&student, &["study", "show", file.to_str().unwrap(), "--json"]).stdout).unwrap();
    assert_eq!(shown["study"]["id"], "loops");
    assert_eq!(shown["study"]["consent"]["guardian_below_age"], 16);
    assert_eq!(shown["source"], "file");
    assert_eq!(shown["pinned_now"], true);
    assert!(shown["consent"].is_null());

    ok(research(&student, &["consent", "--study", "loops", "--by", "parent", "--yes"]));
    let again: serde_json::Value = serde_json::from_slice(&research(&student, &["study", "show", "loops", "--json"]).stdout).unwrap();
    assert_eq!(again["pinned_now"], false);
    assert_eq!(again["consent"]["consented_by"], "parent");

    let listed: serde_json::Value = serde_json::from_slice(&research(&student, &["study", "list", "--json"]).stdout).unwrap();
    assert_eq!(listed[0]["id"], "loops");
    assert_eq!(listed[0]["status"], "kept");
    assert_eq!(listed[0]["consent_given"], true);
    let words = ok(research(&student, &["study", "list"]));
    assert!(words.contains("loops: How novices debug loops") && words.contains("[you consented]") && words.contains("Not in a class"), "{words}");
}
