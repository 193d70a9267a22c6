//! Releases end to end: the real `pencil-hub` binary takes consents and
//! uploads over HTTP, then `pencil-hub release` writes every format, a
//! revocation yields a deletion manifest, and every disclosure is audited.
//!
//! The ProgSnap2 checks are those of the ProgSnap Toolbox's validator
//! (`CSSPLICE/ProgSnapToolbox`, `src/spec/event_validator.py` over
//! `progsnap2-v1.0.yaml`), written here from the specification: required
//! columns, each event type's required columns and no column it does not
//! list, event types from the specification's set, values of each column's
//! datatype, timestamps with a zone offset; plus ordering and references.
//! Parquet is read back by DuckDB (PyPI `duckdb` in `.deps/python`, installed
//! by `scripts/test.sh`). The hub's tests run on SQLite and on PostgreSQL
//! (`sqlite::NAME`, `postgres::NAME`: `both!` at the end, `support/`).

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::io::{BufRead, BufReader, Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};

use ed25519_dalek::SigningKey;
use pencil_core::research::{
    sign_study, Collects, ConsentText, Programs, Study, Timestamps, UploadBody, UploadHint, UploadProgram, UploadTrace,
    STUDY_FORMAT, UPLOAD_FORMAT,
};
use serde_json::{json, Value};

#[macro_use]
mod support;
use support::{backend, Backend, PgCluster};

const BIN: &str = env!("CARGO_BIN_EXE_pencil-hub");
const PASSWORD: &str = "correct horse battery";
/// A student's display name: the roster only the hub knows.
const PLANTED: &str = "Theodora Quistgaard";
const STUDY: &str = "loops";

struct Hub {
    child: Child,
    base: String,
    /// `--data-dir` and, on PostgreSQL, `--database`: what every command here is given.
    db_args: Vec<String>,
    agent: ureq::Agent,
    /// The test's PostgreSQL cluster, stopped after the hub.
    _pg: Option<PgCluster>,
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
    let header = |name: &str| r.headers().get_all(name).iter().filter_map(|v| v.to_str().ok().map(str::to_string)).collect::<Vec<_>>();
    let cookies = header("set-cookie").into_iter().filter_map(|c| c.split(';').next().map(str::to_string)).collect();
    let location = header("location").into_iter().next();
    Reply { status: r.status().as_u16(), cookies, location, body: r.body_mut().read_to_string().unwrap_or_default() }
}

fn csrf_of(html: &str) -> String {
    let start = html.find("name=\"csrf\" value=\"").expect("csrf field") + "name=\"csrf\" value=\"".len();
    html[start..start + html[start..].find('"').expect("end")].to_string()
}

impl Hub {
    /// A hub with teacher `ada` and one class; returns it, the class id and its join code.
    fn with_class(data: &Path) -> (Hub, i64, String) {
        let pg = (backend() == Backend::Postgres).then(PgCluster::start);
        let mut db_args = vec!["--data-dir".to_string(), data.to_str().expect("path").to_string()];
        if let Some(pg) = &pg {
            db_args.extend(["--database".to_string(), pg.url.clone()]);
        }
        let mut child = Command::new(BIN)
            .args(&db_args)
            .args(["serve", "--listen", "127.0.0.1:0"])
            .env("RUST_LOG", "warn")
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("start pencil-hub");
        let mut line = String::new();
        BufReader::new(child.stdout.take().expect("stdout")).read_line(&mut line).expect("first line");
        let base = line.trim().strip_prefix("pencil-hub listening on ").unwrap_or_else(|| panic!("{line}")).to_string();
        let agent: ureq::Agent = ureq::Agent::config_builder().http_status_as_error(false).max_redirects(0).build().into();
        let hub = Hub { child, base, db_args, agent, _pg: pg };
        let mut add = Command::new(BIN)
            .args(&hub.db_args)
            .args(["teacher", "add", "--name", "ada", "--password-stdin"])
            .stdin(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("teacher add");
        writeln!(add.stdin.take().expect("stdin"), "{PASSWORD}").expect("password");
        assert!(add.wait().expect("wait").success());
        let page = reply(hub.agent.get(format!("{}/login", hub.base)).call().expect("login page"));
        let cookie = page.cookies.iter().find(|c| c.starts_with("pencil_hub_login=")).expect("cookie").clone();
        let form = [("name", "ada"), ("password", PASSWORD), ("csrf", &csrf_of(&page.body))];
        let r = reply(hub.agent.post(format!("{}/login", hub.base)).header("Cookie", &cookie).send_form(form).expect("login"));
        let session = r.cookies.iter().find(|c| c.starts_with("pencil_hub_session=")).expect("session").clone();
        let classes = reply(hub.agent.get(format!("{}/classes", hub.base)).header("Cookie", &session).call().expect("classes"));
        let form = [("csrf", csrf_of(&classes.body)), ("name", "7b".to_string())];
        let r = reply(hub.agent.post(format!("{}/classes", hub.base)).header("Cookie", &session).send_form(form).expect("class"));
        assert_eq!(r.status, 303, "{}", r.body);
        let id: i64 = r.location.expect("location").strip_prefix("/classes/").expect("id").parse().expect("number");
        let page = reply(hub.agent.get(format!("{}/classes/{id}", hub.base)).header("Cookie", &session).call().expect("page")).body;
        let start = page.find("<span class=\"code\">").expect("join code") + "<span class=\"code\">".len();
        let code = page[start..start + 6].to_string();
        (hub, id, code)
    }

    fn post(&self, path: &str, token: Option<&str>, body: &[u8]) -> Reply {
        let mut req = self.agent.post(format!("{}{path}", self.base)).header("Content-Type", "application/json");
        if let Some(t) = token {
            req = req.header("Authorization", &format!("Bearer {t}"));
        }
        reply(req.send(body).expect("request"))
    }

    /// Joins the class as `name`; returns the device token.
    fn join(&self, code: &str, name: &str) -> String {
        let r = self.post("/api/v1/join", None, json!({"code": code, "display_name": name}).to_string().as_bytes());
        assert_eq!(r.status, 200, "{}", r.body);
        serde_json::from_str::<Value>(&r.body).expect("json")["device_token"].as_str().expect("token").to_string()
    }

    fn cli(&self, args: &[&str]) -> Output {
        Command::new(BIN).args(&self.db_args).args(args).env("RUST_LOG", "warn").output().expect("run pencil-hub")
    }
}

fn ok(o: Output) -> String {
    let text = format!("{}{}", String::from_utf8_lossy(&o.stdout), String::from_utf8_lossy(&o.stderr));
    assert!(o.status.success(), "{text}");
    text
}

fn study() -> Study {
    let key = SigningKey::from_bytes(&[42; 32]);
    Study {
        version: STUDY_FORMAT,
        id: STUDY.into(),
        title: "How novices debug loops".into(),
        institution: "Example University".into(),
        ethics_approval: "IRB-2026-117".into(),
        contact: "research@example.edu".into(),
        researcher_key: pencil_core::classroom::encode_key(&key.verifying_key()),
        collects: Collects { programs: Programs::Full, timestamps: Timestamps::Minute, hints: true },
        retention_days: 365,
        consent: ConsentText { version: "3".into(), text: "You may stop at any time.".into(), guardian_below_age: 0 },
    }
}

fn program(n: u32, minute: u32, code: &str) -> UploadProgram {
    UploadProgram { n, time: format!("2026-03-02 10:{minute:02}:00"), code: code.into() }
}

/// What each student uploads: (display name, uploads of traces).
fn classroom() -> Vec<(&'static str, Vec<Vec<UploadTrace>>)> {
    let hint = |n, accepted| UploadHint { n, kind: "quick_fix".into(), rule: "nearest_color".into(), shown: "2026-03-02 10:03:00".into(), accepted };
    vec![
        (
            PLANTED,
            vec![
                vec![
                    UploadTrace {
                        title: "spiral".into(),
                        programs: vec![
                            // A client that did not scrub: the roster name in a comment, a string and code.
                            program(1, 1, "# drawn by Theodora Quistgaard\nfd 10\n"),
                            program(2, 2, "fd 10\nlabel 'Theodora'\nrt 90\n"),
                            program(3, 3, "fd 10\npen bogus_colour\nrt 90\n"),
                        ],
                        hints: vec![hint(3, true)],
                    },
                    // A title holding the name: dropped whole.
                    UploadTrace { title: "quistgaard house".into(), programs: vec![program(1, 4, "fd 5\n")], hints: vec![] },
                ],
                // A second upload continues the trace.
                vec![UploadTrace {
                    title: "spiral".into(),
                    programs: vec![program(4, 5, "fd 10\npen red\nrt 90\n"), program(5, 6, "fd 10\npen red\nrt 90\n")],
                    hints: vec![],
                }],
            ],
        ),
        (
            "Ada Park",
            vec![vec![UploadTrace {
                title: "car".into(),
                programs: vec![program(1, 1, "speed 5\nfd 20\n"), program(2, 2, "speed 5\nfd (20\n"), program(3, 3, "speed 5\nfd 20\nbk 5\n")],
                hints: vec![hint(2, false)],
            }]],
        ),
        (
            "Rami Osei",
            vec![vec![UploadTrace {
                title: "car".into(),
                programs: vec![program(1, 1, "for i in [1..4]\n  fd 50\n  rt 90\n"), program(2, 9, "while true\n  fd 1\n")],
                hints: vec![],
            }]],
        ),
    ]
}

/// States released per display name (after the hub's scrub drops the name's title).
fn expected_states() -> BTreeMap<&'static str, usize> {
    BTreeMap::from([(PLANTED, 5), ("Ada Park", 3), ("Rami Osei", 2)])
}

/// A hub with the study published, every student consented and uploaded;
/// returns it with each display name's SubjectID and device token.
fn collected(root: &Path) -> (Hub, BTreeMap<&'static str, (String, String)>) {
    let (hub, class_id, code) = Hub::with_class(&root.join("hub"));
    let file = root.join("study.json");
    std::fs::write(&file, serde_json::to_vec(&sign_study(study(), &SigningKey::from_bytes(&[42; 32]))).expect("json")).expect("write");
    ok(hub.cli(&["study", "publish", file.to_str().expect("path"), "--class", &class_id.to_string()]));
    let mut subjects = BTreeMap::new();
    for (name, uploads) in classroom() {
        let token = hub.join(&code, name);
        let consent = json!({"study_id": STUDY, "consent_version": "3", "by": "student", "consented_at": "2026-03-02 09:59:00"});
        let r = hub.post("/api/v1/research/consent", Some(&token), consent.to_string().as_bytes());
        assert_eq!(r.status, 200, "{}", r.body);
        let subject = serde_json::from_str::<Value>(&r.body).expect("json")["subject_id"].as_str().expect("id").to_string();
        for (i, traces) in uploads.into_iter().enumerate() {
            let body = UploadBody {
                format: UPLOAD_FORMAT,
                study_id: STUDY.into(),
                upload_id: format!("r1-{i}"),
                consent_version: "3".into(),
                collects: study().collects,
                traces,
            };
            let r = hub.post("/api/v1/research/upload", Some(&token), &serde_json::to_vec(&body).expect("json"));
            assert_eq!(r.status, 200, "{}", r.body);
        }
        subjects.insert(name, (subject, token));
    }
    (hub, subjects)
}

fn release(hub: &Hub, format: &str, out: &Path) -> Value {
    release_saying(hub, format, out).0
}

/// A release's manifest and what the command printed.
fn release_saying(hub: &Hub, format: &str, out: &Path) -> (Value, String) {
    let said = ok(hub.cli(&["release", "--study", STUDY, "--format", format, "--out", out.to_str().expect("path")]));
    (serde_json::from_slice(&std::fs::read(out.join("release.json")).expect("release.json")).expect("json"), said)
}

/// The (judged now, kept) counts a release with verdicts printed.
fn verdict_counts(said: &str) -> (u64, u64) {
    let line = said.lines().find(|l| l.starts_with("sandbox verdicts:")).unwrap_or_else(|| panic!("no verdict line in {said}"));
    let numbers: Vec<u64> = line.split(|c: char| !c.is_ascii_digit()).filter_map(|w| w.parse().ok()).collect();
    (numbers[0], numbers[1])
}

/// Every file of a release, decompressed where it is gzip, as text.
fn all_text(dir: &Path) -> String {
    let mut out = String::new();
    for entry in std::fs::read_dir(dir).expect("dir") {
        let path = entry.expect("entry").path();
        let bytes = std::fs::read(&path).expect("read");
        if path.extension().is_some_and(|e| e == "gz") {
            let mut text = String::new();
            flate2::read::GzDecoder::new(&bytes[..]).read_to_string(&mut text).expect("gunzip");
            out.push_str(&text);
        } else {
            out.push_str(&String::from_utf8_lossy(&bytes));
        }
    }
    out
}

/// RFC 4180 CSV with quoted fields that hold commas, quotes and newlines.
fn read_csv(path: &Path) -> (Vec<String>, Vec<Vec<String>>) {
    let text = std::fs::read_to_string(path).expect("csv");
    let mut rows = vec![];
    let (mut row, mut field, mut quoted) = (vec![], String::new(), false);
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '"' if quoted && chars.peek() == Some(&'"') => {
                chars.next();
                field.push('"');
            }
            '"' => quoted = !quoted,
            ',' if !quoted => row.push(std::mem::take(&mut field)),
            '\n' if !quoted => {
                row.push(std::mem::take(&mut field));
                rows.push(std::mem::take(&mut row));
            }
            _ => field.push(c),
        }
    }
    assert!(!quoted && field.is_empty() && row.is_empty(), "{} ends inside a row", path.display());
    let header = rows.remove(0);
    assert!(rows.iter().all(|r| r.len() == header.len()), "{}: a row of another width", path.display());
    (header, rows)
}

/// The ProgSnap2 v1.0 MainTable, as its specification defines it.
mod spec {
    /// Required for every event.
    pub const REQUIRED: [&str; 5] = ["EventType", "EventID", "CodeStateID", "SubjectID", "ToolInstances"];
    /// Allowed for every event.
    pub const OPTIONAL: [&str; 17] = [
        "Order", "ClientTimestamp", "ServerTimestamp", "CourseID", "CourseSectionID", "TermID", "AssignmentID",
        "AssignmentIsGraded", "ProblemID", "ProblemIsGraded", "Attempt", "ExperimentalCondition", "TeamID",
        "LoggingErrorID", "IsFabricatedEvent", "ParentEventID", "SessionID",
    ];
    /// Event type -> (required columns, optional columns).
    pub fn event(kind: &str) -> Option<(&'static [&'static str], &'static [&'static str])> {
        const RUN: &[&str] = &["ExecutionID", "Score", "ExtraCreditScore", "ProgramInput", "ProgramOutput", "ProgramErrorOutput"];
        const RUN_TEST: &[&str] = &["Score", "ExtraCreditScore", "ProgramInput", "ProgramOutput", "ProgramErrorOutput"];
        const FILE: (&[&str], &[&str]) = (&["CodeStateSection"], &["EventInitiator"]);
        Some(match kind {
            "Session.Start" | "Session.End" => (&["SessionID"], &[]),
            "Project.Open" | "Project.Close" => (&["ProjectID"], &[]),
            "File.Create" | "File.Delete" | "File.Open" | "File.Close" | "File.Save" | "File.Focus" => FILE,
            "File.Rename" | "File.Copy" => (&["CodeStateSection", "DestinationCodeStateSection"], &["EventInitiator"]),
            "File.Edit" => (&["CodeStateSection", "EditType"], &["EventInitiator", "SourceLocation"]),
            "Compile" => (&["CodeStateSection", "CompileResult"], &["EventInitiator"]),
            "Compile.Error" | "Compile.Warning" => {
                (&["ParentEventID", "CodeStateSection", "CompileMessageType", "CompileMessageData", "SourceLocation"], &[])
            }
            "Submit" => (&[], &["ExecutionID", "Score", "ExtraCreditScore"]),
            "Run.Program" | "Debug.Program" => (&["ExecutionResult"], RUN),
            "Run.Test" | "Debug.Test" => (&["ExecutionID", "TestID", "ExecutionResult"], RUN_TEST),
            "Resource.View" => (&["ResourceID"], &[]),
            "Intervention" => (&["EventInitiator", "InterventionCategory", "InterventionType", "InterventionMessage"], &[]),
            _ => return None,
        })
    }
    /// Columns of datatype Integer and Boolean.
    pub const INTEGER: [&str; 2] = ["Order", "Attempt"];
    pub const BOOLEAN: [&str; 3] = ["AssignmentIsGraded", "ProblemIsGraded", "IsFabricatedEvent"];
    /// Enum columns and their values.
    pub fn enum_values(column: &str) -> Option<&'static [&'static str]> {
        Some(match column {
            "EventInitiator" => &[
                "UserDirectAction", "UserIndirectAction", "ToolReaction", "ToolTimedEvent", "InstructorDirectAction",
                "InstructorIndirectAction", "TeamMemberDirectAction", "TeamMemberIndirectAction",
            ],
            "EditType" => &["Insert", "Delete", "Replace", "Move", "Paste", "Undo", "Redo", "Refactor", "Reset", "GenericEdit"],
            "CompileResult" => &["Success", "Warning", "Error"],
            "ExecutionResult" => &["Success", "Timeout", "Error", "TestFailed"],
            "InterventionCategory" => &["Feedback", "Hint", "CodeHighlight", "CodeChange", "EarnedGrade"],
            _ => return None,
        })
    }
    /// `YYYY-MM-DDTHH:MM:SS[.ffffff]` followed by a zone: `Z` or `±HH:MM` / `±HHMM`.
    pub fn has_zone(ts: &str) -> bool {
        let b = ts.as_bytes();
        let digits = |r: std::ops::Range<usize>| r.clone().all(|i| b.get(i).is_some_and(u8::is_ascii_digit));
        let base = b.len() >= 19
            && digits(0..4)
            && b[4] == b'-'
            && digits(5..7)
            && b[7] == b'-'
            && digits(8..10)
            && b[10] == b'T'
            && digits(11..13)
            && b[13] == b':'
            && digits(14..16)
            && b[16] == b':'
            && digits(17..19);
        if !base {
            return false;
        }
        let mut rest = &ts[19..];
        if let Some(frac) = rest.strip_prefix('.') {
            let n = frac.bytes().take_while(u8::is_ascii_digit).count();
            if n == 0 {
                return false;
            }
            rest = &frac[n..];
        }
        let zone = rest.as_bytes();
        rest == "Z"
            || (matches!(zone.first(), Some(b'+' | b'-'))
                && ((zone.len() == 6 && zone[3] == b':' && zone[1..3].iter().chain(&zone[4..6]).all(u8::is_ascii_digit))
                    || (zone.len() == 5 && zone[1..].iter().all(u8::is_ascii_digit))))
    }
}

/// Checks a ProgSnap2 release the way the toolbox's validator does, and more;
/// returns the MainTable rows as maps of their non-empty cells.
fn check_progsnap2(dir: &Path) -> Vec<HashMap<String, String>> {
    let (header, rows) = read_csv(&dir.join("MainTable.csv"));
    for col in spec::REQUIRED {
        assert!(header.iter().any(|h| h == col), "MainTable lacks required column {col}");
    }
    let (code_header, code_rows) = read_csv(&dir.join("CodeStates.csv"));
    assert_eq!(code_header, ["CodeStateID", "Code"]);
    let code_states: BTreeSet<&str> = code_rows.iter().map(|r| r[0].as_str()).collect();
    assert_eq!(code_states.len(), code_rows.len(), "CodeStateIDs repeat");
    let (meta_header, meta) = read_csv(&dir.join("DatasetMetadata.csv"));
    assert_eq!(meta_header, ["Property", "Value"]);
    let meta: HashMap<&str, &str> = meta.iter().map(|r| (r[0].as_str(), r[1].as_str())).collect();
    assert_eq!(meta.get("Version"), Some(&"1.0"));
    assert_eq!(meta.get("CodeStateRepresentation"), Some(&"Table"));
    assert_eq!(meta.get("EventOrderScope"), Some(&"Restricted"));
    let scope: Vec<&str> = meta["EventOrderScopeColumns"].split(';').collect();

    let events: Vec<HashMap<String, String>> = rows
        .iter()
        .map(|r| header.iter().cloned().zip(r.iter().cloned()).filter(|(_, v)| !v.is_empty()).collect())
        .collect();
    let mut ids = BTreeSet::new();
    let mut kinds: HashMap<String, String> = HashMap::new();
    let mut last_order: HashMap<Vec<String>, (i64, String)> = HashMap::new();
    for (i, e) in events.iter().enumerate() {
        let kind = e.get("EventType").map(String::as_str).unwrap_or("");
        let (required, optional) = spec::event(kind).unwrap_or_else(|| panic!("row {i}: event type '{kind}' is not in the specification"));
        for col in spec::REQUIRED.iter().chain(required) {
            assert!(e.contains_key(*col), "row {i} ({kind}): missing required column {col}");
        }
        for col in e.keys() {
            let allowed = spec::REQUIRED.contains(&col.as_str())
                || spec::OPTIONAL.contains(&col.as_str())
                || required.contains(&col.as_str())
                || optional.contains(&col.as_str());
            assert!(allowed, "row {i} ({kind}): unexpected column {col}");
        }
        for (col, value) in e {
            if spec::INTEGER.contains(&col.as_str()) {
                assert!(value.parse::<i64>().is_ok(), "row {i}: {col} = '{value}' is not an Integer");
            }
            if spec::BOOLEAN.contains(&col.as_str()) {
                assert!(value == "true" || value == "false", "row {i}: {col} = '{value}' is not a Boolean");
            }
            if let Some(values) = spec::enum_values(col) {
                assert!(values.contains(&value.as_str()), "row {i}: {col} = '{value}' is not one of its enum values");
            }
            if col.ends_with("Timestamp") {
                assert!(spec::has_zone(value), "row {i}: {col} = '{value}' has no time zone offset");
            }
        }
        assert!(ids.insert(e["EventID"].clone()), "row {i}: EventID {} repeats", e["EventID"]);
        kinds.insert(e["EventID"].clone(), kind.to_string());
        assert!(code_states.contains(e["CodeStateID"].as_str()), "row {i}: CodeStateID not in CodeStates.csv");
        if let Some(parent) = e.get("ParentEventID") {
            assert_eq!(kinds.get(parent).map(String::as_str), Some("Compile"), "row {i}: parent {parent} is not an earlier Compile");
        }
        // Within the order scope, Order increases and time never goes back.
        let key: Vec<String> = scope.iter().map(|c| e.get(*c).cloned().unwrap_or_default()).collect();
        let order: i64 = e["Order"].parse().expect("Order");
        let time = e.get("ClientTimestamp").cloned().unwrap_or_default();
        if let Some((o, t)) = last_order.get(&key) {
            assert!(order > *o, "row {i}: Order {order} after {o} in its scope");
            assert!(time >= *t, "row {i}: time {time} before {t} in its scope");
        }
        last_order.insert(key, (order, time));
    }
    events
}

fn python() -> Command {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let mut cmd = Command::new("python3");
    cmd.env("PYTHONPATH", root.join(".deps/python"));
    cmd
}

/// Runs SQL in DuckDB; panics with how to install it when it is missing.
fn duckdb(sql: &str) -> Value {
    let script = "import duckdb, json, sys\nrows = duckdb.sql(sys.argv[1]).fetchall()\nprint(json.dumps(rows, default=str))";
    let out = python().args(["-c", script, sql]).output().expect("python3");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        !stderr.contains("No module named 'duckdb'"),
        "DuckDB is not installed: run scripts/test.sh (or: python3 -m pip install --target .deps/python duckdb==2.0.1)"
    );
    assert!(out.status.success(), "duckdb failed on {sql}: {stderr}");
    serde_json::from_slice(&out.stdout).expect("json rows")
}

fn releases_in_every_format_hold_the_uploads_without_the_roster() {
    let root = tempfile::tempdir().expect("tempdir");
    let (hub, subjects) = collected(root.path());
    let states_of: BTreeMap<&str, usize> = expected_states().into_iter().map(|(name, n)| (subjects[name].0.as_str(), n)).collect();
    let total: usize = states_of.values().sum();
    let forms = ["theodora", "quistgaard"];

    // ProgSnap2.
    let ps2 = root.path().join("ps2");
    let (m, said) = release_saying(&hub, "progsnap2", &ps2);
    let judged = m["programs_judged"].as_u64().expect("programs_judged");
    assert_eq!(verdict_counts(&said), (judged, 0), "the first release judges every program");
    let events = check_progsnap2(&ps2);
    // A copy to run other validators on by hand (the toolbox's, say).
    if let Some(keep) = std::env::var_os("PENCIL_KEEP_PROGSNAP2") {
        std::fs::create_dir_all(&keep).expect("keep dir");
        for entry in std::fs::read_dir(&ps2).expect("dir") {
            let path = entry.expect("entry").path();
            std::fs::copy(&path, Path::new(&keep).join(path.file_name().expect("name"))).expect("copy");
        }
    }
    let count = |kind: &str| events.iter().filter(|e| e["EventType"] == kind).count();
    assert_eq!(count("Run.Program"), total);
    assert_eq!(count("Compile"), total);
    // The repeated state (n 4 and 5 of spiral) is one edit fewer than states.
    assert_eq!(count("File.Edit"), total - 1);
    assert!(count("Compile.Error") >= 1, "'fd (20' does not compile");
    assert_eq!(count("Intervention"), 2);
    let accepted = events.iter().find(|e| e["EventType"] == "Intervention" && e["SubjectID"] == subjects[PLANTED].0).expect("hint");
    assert_eq!(accepted["InterventionType"], "quick_fix:nearest_color");
    let message = accepted["InterventionMessage"].as_str();
    assert!(
        ["recovered within 3 runs", "not recovered within 3 runs", "recovery unknown (the trace ends)"]
            .iter()
            .any(|r| message == format!("[text not collected] accepted; {r}")),
        "{message}"
    );
    for (subject, n) in &states_of {
        let runs = events.iter().filter(|e| e["EventType"] == "Run.Program" && e["SubjectID"] == *subject).count();
        assert_eq!(runs, *n, "{subject}");
        let rows = events.iter().filter(|e| e["SubjectID"] == *subject).count() as u64;
        assert_eq!(m["rows_per_subject"][*subject].as_u64(), Some(rows));
    }
    let results: BTreeSet<&str> = events.iter().filter_map(|e| e.get("ExecutionResult").map(String::as_str)).collect();
    assert!(results.contains("Success") && results.contains("Error"), "{results:?}");

    // JSON Lines.
    let jl = root.path().join("jsonl");
    let mj = release(&hub, "jsonl", &jl);
    let text = all_text(&jl);
    let lines: Vec<Value> = text.lines().filter(|l| l.starts_with('{') && l.contains("\"programs\"")).map(|l| serde_json::from_str(l).expect("line")).collect();
    assert_eq!(lines.len(), 3, "one trace per subject and title");
    for (subject, n) in &states_of {
        let got: usize = lines.iter().filter(|l| l["student"] == *subject).map(|l| l["programs"].as_array().expect("programs").len()).sum();
        assert_eq!(got, *n, "{subject}");
    }
    assert_eq!(mj["states"].as_u64(), Some(total as u64));

    // Parquet, read back by DuckDB.
    let pq = root.path().join("parquet");
    let (mp, said) = release_saying(&hub, "parquet", &pq);
    assert_eq!(verdict_counts(&said), (0, judged), "the next release reuses the kept verdicts");
    let states = pq.join("states.parquet");
    let rows = duckdb(&format!("SELECT subject_id, count(*) FROM '{}' GROUP BY subject_id ORDER BY subject_id", states.display()));
    let got: BTreeMap<String, u64> = rows
        .as_array()
        .expect("rows")
        .iter()
        .map(|r| (r[0].as_str().expect("id").to_string(), r[1].as_u64().expect("count")))
        .collect();
    let want: BTreeMap<String, u64> = states_of.iter().map(|(s, n)| (s.to_string(), *n as u64)).collect();
    assert_eq!(got, want);
    let named = duckdb(&format!(
        "SELECT count(*) FROM '{}' WHERE lower(code) LIKE '%theodora%' OR lower(code) LIKE '%quistgaard%' OR lower(title) LIKE '%quistgaard%'",
        states.display()
    ));
    assert_eq!(named, json!([[0]]));
    let typed = duckdb(&format!("SELECT any_value(typeof(time)), min(time)::VARCHAR, sum(compile_error::INT) FROM '{}'", states.display()));
    assert_eq!(typed[0][0], "TIMESTAMP WITH TIME ZONE");
    assert!(typed[0][1].as_str().is_some_and(|t| t.starts_with("2026-03-02")), "{typed}");
    let hints = duckdb(&format!("SELECT count(*), sum(accepted::INT) FROM '{}'", pq.join("hints.parquet").display()));
    assert_eq!(hints, json!([[2, 1]]));
    assert_eq!(mp["rows"].as_u64(), Some(total as u64 + 2));

    // No format holds the roster name, in any file; each file's SHA-256 is recorded.
    for (dir, manifest) in [(&ps2, &m), (&jl, &mj), (&pq, &mp)] {
        let text = all_text(dir).to_lowercase();
        for form in forms {
            assert!(!text.contains(form), "{} holds '{form}'", dir.display());
        }
        for f in manifest["files"].as_array().expect("files") {
            let bytes = std::fs::read(dir.join(f["name"].as_str().expect("name"))).expect("file");
            assert_eq!(f["sha256"].as_str(), Some(pencil_core::research::sha256_hex(&bytes).as_str()));
        }
        let listed: Vec<&str> = manifest["subject_ids"].as_array().expect("ids").iter().filter_map(Value::as_str).collect();
        assert_eq!(listed, states_of.keys().copied().collect::<Vec<_>>());
        assert_eq!(manifest["study_id"], STUDY);
    }
    for form in forms {
        let raw = String::from_utf8_lossy(&std::fs::read(&states).expect("parquet")).to_lowercase();
        assert!(!raw.contains(form));
    }

    // Every release is in the audit log, with the files' SHA-256.
    let audit = ok(hub.cli(&["audit", "--study", STUDY]));
    assert_eq!(audit.lines().filter(|l| l.contains("  release ")).count(), 3, "{audit}");
    let ps2_main = m["files"].as_array().expect("files").iter().find(|f| f["name"] == "MainTable.csv").expect("main");
    assert!(audit.contains(ps2_main["sha256"].as_str().expect("sha")), "{audit}");
    // A release never goes into a directory that holds something.
    let again = hub.cli(&["release", "--study", STUDY, "--format", "jsonl", "--out", jl.to_str().expect("path")]);
    assert!(!again.status.success() && String::from_utf8_lossy(&again.stderr).contains("not empty"));
}

fn a_revoked_subject_leaves_the_next_release_and_a_manifest_names_its_rows() {
    let root = tempfile::tempdir().expect("tempdir");
    let (hub, subjects) = collected(root.path());
    let first = root.path().join("first");
    release(&hub, "progsnap2", &first);
    let first_jsonl = root.path().join("first-jsonl");
    release(&hub, "jsonl", &first_jsonl);
    let (ada, token) = &subjects["Ada Park"];
    let events = check_progsnap2(&first);
    let ada_events: Vec<String> = events.iter().filter(|e| e["SubjectID"] == *ada).map(|e| e["EventID"].clone()).collect();
    let mut ada_states: Vec<String> = events.iter().filter(|e| e["SubjectID"] == *ada).map(|e| e["CodeStateID"].clone()).collect();
    ada_states.dedup();
    assert!(!ada_events.is_empty());

    let r = hub.post("/api/v1/research/revoke", Some(token), json!({"study_id": STUDY}).to_string().as_bytes());
    assert_eq!(r.status, 200, "{}", r.body);

    let next = root.path().join("next");
    let (m, said) = release_saying(&hub, "progsnap2", &next);
    // A withdrawal drops the study's kept verdicts (their messages can quote programs).
    assert_eq!(verdict_counts(&said).1, 0, "{said}");
    let text = all_text(&next);
    assert!(!text.contains(ada.as_str()), "the revoked subject is in the next release");
    assert!(m["subject_ids"].as_array().expect("ids").iter().all(|s| s != ada));
    assert_eq!(m["subject_ids"].as_array().expect("ids").len(), 2);

    let manifests = root.path().join("researcher");
    let listed = ok(hub.cli(&["release", "--study", STUDY, "--deletions", "--out", manifests.to_str().expect("path")]));
    assert!(listed.contains(ada.as_str()) && listed.contains("2 earlier release(s)"), "{listed}");
    let files: Vec<PathBuf> = std::fs::read_dir(manifests.join("deletions")).expect("deletions").map(|e| e.expect("entry").path()).collect();
    assert_eq!(files.len(), 1);
    let name = files[0].file_name().expect("name").to_string_lossy().into_owned();
    assert!(name.ends_with(&format!("-{ada}.json")) && name.starts_with("20"), "{name}");
    let manifest: Value = serde_json::from_slice(&std::fs::read(&files[0]).expect("read")).expect("json");
    assert_eq!(manifest["subject_id"], ada.as_str());
    assert_eq!(manifest["uploads_deleted"], 1);
    let releases = manifest["releases"].as_array().expect("releases");
    assert_eq!(releases.len(), 2, "both earlier releases, not the one after the revocation");
    let ps2 = releases.iter().find(|r| r["format"] == "progsnap2").expect("progsnap2");
    let named: Vec<String> = ps2["row_ids"]["EventID"].as_array().expect("ids").iter().map(|v| v.as_str().expect("id").to_string()).collect();
    assert_eq!(named, ada_events);
    let named_states: Vec<String> =
        ps2["row_ids"]["CodeStateID"].as_array().expect("ids").iter().map(|v| v.as_str().expect("id").to_string()).collect();
    assert_eq!(named_states, ada_states);
    let jsonl = releases.iter().find(|r| r["format"] == "jsonl").expect("jsonl");
    let lines: Vec<Value> = all_text(&first_jsonl).lines().filter(|l| l.starts_with('{') && l.contains("\"programs\"")).map(|l| serde_json::from_str(l).expect("line")).collect();
    let ada_lines: Vec<Value> =
        lines.iter().enumerate().filter(|(_, l)| l["student"] == ada.as_str()).map(|(i, _)| json!((i + 1).to_string())).collect();
    assert_eq!(jsonl["row_ids"]["line"], json!(ada_lines));

    // Revocation and manifest are in the audit log.
    let audit = ok(hub.cli(&["audit", "--study", STUDY]));
    assert!(audit.contains(" revoke ") && audit.contains("deletion-manifest"), "{audit}");
    assert_eq!(audit.lines().filter(|l| l.contains("  release ")).count(), 3, "{audit}");
}

#[test]
fn the_checks_refuse_what_the_specification_refuses() {
    let header = "EventType,EventID,Order,SubjectID,ToolInstances,CodeStateID,ClientTimestamp,ProblemID,ParentEventID,CodeStateSection,CompileResult,ExecutionResult";
    let good = [
        "Compile,1,1,s,t,1,2026-01-01T10:00:00+00:00,car,,car,Success,",
        "Run.Program,2,2,s,t,1,2026-01-01T10:00:00Z,car,,,,Success",
    ];
    let cases = [
        ("Run.Program,2,2,s,t,1,2026-01-01T10:00:00,car,,,,Success", "no time zone offset"),
        ("Run.Program,2,2,s,t,1,2026-01-01T10:00:00Z,car,,,,", "missing required column ExecutionResult"),
        ("Run.Program,2,2,s,t,1,2026-01-01T10:00:00Z,car,,car,,Success", "unexpected column CodeStateSection"),
        ("Run.Done,2,2,s,t,1,2026-01-01T10:00:00Z,car,,,,Success", "not in the specification"),
        ("Run.Program,2,2,s,t,1,2026-01-01T10:00:00Z,car,,,,Crashed", "not one of its enum values"),
        ("Run.Program,2,x,s,t,1,2026-01-01T10:00:00Z,car,,,,Success", "is not an Integer"),
        ("Run.Program,2,0,s,t,1,2026-01-01T10:00:00Z,car,,,,Success", "Order 0 after 1"),
        ("Run.Program,1,2,s,t,1,2026-01-01T10:00:00Z,car,,,,Success", "EventID 1 repeats"),
        ("Run.Program,2,2,s,t,9,2026-01-01T10:00:00Z,car,,,,Success", "not in CodeStates.csv"),
        ("Run.Program,2,2,,t,1,2026-01-01T10:00:00Z,car,,,,Success", "missing required column SubjectID"),
    ];
    let dir = tempfile::tempdir().expect("tempdir");
    let write = |rows: &[&str]| {
        std::fs::write(dir.path().join("MainTable.csv"), format!("{header}\n{}\n", rows.join("\n"))).expect("write");
        std::fs::write(dir.path().join("CodeStates.csv"), "CodeStateID,Code\n1,\"fd 1\n\"\n").expect("write");
        let meta = "Property,Value\nVersion,1.0\nEventOrderScope,Restricted\nEventOrderScopeColumns,SubjectID;ProblemID\nCodeStateRepresentation,Table\n";
        std::fs::write(dir.path().join("DatasetMetadata.csv"), meta).expect("write");
    };
    write(&good);
    assert_eq!(check_progsnap2(dir.path()).len(), 2);
    for (bad, why) in cases {
        write(&[good[0], bad]);
        let caught = std::panic::catch_unwind(|| check_progsnap2(dir.path()));
        let message = caught.err().map(|e| e.downcast_ref::<String>().cloned().unwrap_or_default());
        assert!(message.as_deref().is_some_and(|m| m.contains(why)), "{bad}: expected '{why}', got {message:?}");
    }
}

// The tests above that start a hub, on SQLite and on PostgreSQL.
both!(
    releases_in_every_format_hold_the_uploads_without_the_roster,
    a_revoked_subject_leaves_the_next_release_and_a_manifest_names_its_rows,
);
