//! Student data at rest, through the real binary: no copy of a program outside the
//! store (the engine's bytecode cache, temp files), private file modes, and the
//! student's `data show | export | delete`, including a kill during `VACUUM`.

mod support;

use pencil_lsp::store::{Database, Trigger, DB_FILE};
use serde_json::{json, Value};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use support::LspClient;

/// Every file under `root` (following no links).
fn files_under(root: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![root.to_path_buf()];
    while let Some(dir) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(&dir) else { continue };
        for entry in entries.flatten() {
            let Ok(kind) = entry.file_type() else { continue };
            if kind.is_dir() {
                stack.push(entry.path());
            } else if kind.is_file() {
                out.push(entry.path());
            }
        }
    }
    out
}

/// Files under `root` whose bytes contain any of `needles`.
fn files_containing(root: &Path, needles: &[String]) -> Vec<PathBuf> {
    files_under(root)
        .into_iter()
        .filter(|p| {
            let bytes = std::fs::read(p).unwrap_or_default();
            needles.iter().any(|n| bytes.windows(n.len()).any(|w| w == n.as_bytes()))
        })
        .collect()
}

fn pencil_lsp() -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_pencil-lsp"));
    command.env("RUST_LOG", "warn").env("PENCIL_MODEL_DIR", "");
    command
}

#[cfg(unix)]
fn mode(path: &Path) -> u32 {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(path).expect("metadata").permissions().mode() & 0o777
}

#[test]
fn checked_and_run_programs_leave_no_copy_outside_the_store() {
    let root = tempfile::tempdir().expect("tempdir");
    let (home, tmp, data, work) =
        (root.path().join("home"), root.path().join("tmp"), root.path().join("data"), root.path().join("work"));
    for d in [&home, &tmp, &work] {
        std::fs::create_dir_all(d).expect("mkdir");
    }
    let cache = home.join(".cache");
    let env: Vec<(&str, &Path)> = vec![("HOME", &home), ("XDG_CACHE_HOME", &cache), ("TMPDIR", &tmp)];
    // Markers that occur only in the student's programs (in strings, comments and names).
    let markers: Vec<String> = (0..6).map(|i| format!("zqprivacy{i}x{}", std::process::id())).collect();
    let programs = [
        format!("# {}\npen red\nwrite '{}'\nfd 100\n", markers[0], markers[1]),
        format!("pen blue\n{} = 3\nfd {}\n", markers[2], markers[2]),
        format!("pen lightbleu\nlabel '{}'\n", markers[3]),
        format!("for i in [1..3\n  write '{}'\n", markers[4]),
    ];

    // 1. The `check` tool, one file per program.
    let mut check = pencil_lsp();
    check.arg("check");
    for (i, p) in programs.iter().enumerate() {
        let file = work.join(format!("p{i}.coffee"));
        std::fs::write(&file, p).expect("write");
        check.arg(file);
    }
    for (key, value) in &env {
        check.env(key, value);
    }
    let checked = check.output().expect("run check");
    assert!(String::from_utf8_lossy(&checked.stdout).contains("error"), "{checked:?}");

    // 2. The server: open, edit, pause (checked ahead), run, code actions (fixes are run).
    let mut lsp = LspClient::start_with_env(&data, &env);
    lsp.initialize(json!({"pencil": {"recordOnSave": true}}));
    let uri = "file:///work/student/house.coffee";
    lsp.notify(
        "textDocument/didOpen",
        json!({"textDocument": {"uri": uri, "languageId": "coffeescript", "version": 1, "text": programs[2]}}),
    );
    let edited = format!("{}rt 90 # {}\n", programs[2], markers[5]);
    lsp.notify(
        "textDocument/didChange",
        json!({"textDocument": {"uri": uri, "version": 2}, "contentChanges": [{"text": edited}]}),
    );
    std::thread::sleep(std::time::Duration::from_millis(800));
    let run = lsp.request("pencil/run", json!({"textDocument": {"uri": uri}}));
    assert_eq!(run["result"]["status"], "error", "{run}");
    let actions = lsp.request(
        "textDocument/codeAction",
        json!({"textDocument": {"uri": uri}, "range": {"start": {"line": 0, "character": 0}, "end": {"line": 0, "character": 0}}, "context": {"diagnostics": []}}),
    );
    assert!(actions["result"].as_array().is_some_and(|a| !a.is_empty()), "{actions}");
    lsp.notify("textDocument/didSave", json!({"textDocument": {"uri": uri}}));
    assert!(lsp.shutdown().success());

    // The store has the student's program (so the scan can find a marker) ...
    assert!(!files_containing(&data, &markers[3..4]).is_empty(), "the store should hold the program");
    // ... and nothing under home, cache or temp does.
    for dir in [&home, &tmp] {
        let leaked = files_containing(dir, &markers);
        assert!(leaked.is_empty(), "student text found outside the store: {leaked:?}");
    }

    // The store's files are private to this user.
    #[cfg(unix)]
    {
        assert_eq!(mode(&data), 0o700);
        assert_eq!(mode(&data.join(DB_FILE)), 0o600);
    }
}

/// Fills a store: `title` states with `marker` in each.
fn record(dir: &Path, title: &str, marker: &str, states: usize, size: usize) {
    let (mut db, _) = Database::open_in(dir).expect("open");
    let me = db.local_student().expect("student");
    let filler = "fd 10\nrt 7\n".repeat(size / 12 + 1);
    for i in 0..states {
        let code = format!("# {marker} {i}\n{filler}");
        db.record_state(&me, title, &code, &format!("2024-01-01 10:{:02}:{:02}", i / 60 % 60, i % 60), Trigger::Run)
            .expect("record");
    }
}

fn data_cmd(dir: &Path, args: &[&str]) -> std::process::Output {
    pencil_lsp().arg("data").args(args).arg("--data-dir").arg(dir).stdin(Stdio::null()).output().expect("run data")
}

#[test]
fn export_then_delete_then_show_is_empty() {
    let root = tempfile::tempdir().expect("tempdir");
    let data = root.path().join("data");
    let marker = format!("zqexport{}", std::process::id());
    record(&data, "snowman", &marker, 3, 100);
    record(&data, "house", &marker, 2, 100);

    let shown = data_cmd(&data, &["show", "--json"]);
    let summary: Value = serde_json::from_slice(&shown.stdout).expect("json");
    assert_eq!(summary["titles"].as_array().map(Vec::len), Some(2), "{summary}");

    let out = root.path().join("mine.jsonl.gz");
    let exported = data_cmd(&data, &["export", "--out", out.to_str().expect("utf8")]);
    assert!(exported.status.success(), "{exported:?}");
    #[cfg(unix)]
    assert_eq!(mode(&out), 0o600);
    let corpus = pencil_core::corpus::read_corpus(&out, Default::default()).expect("the trainer's reader reads the export");
    let states: usize = corpus.traces.iter().map(|t| t.programs.len()).sum();
    assert_eq!((corpus.traces.len(), states), (2, 5));

    // Without --yes and without a terminal, nothing is deleted.
    let refused = data_cmd(&data, &["delete", "--all"]);
    assert!(!refused.status.success());
    assert!(String::from_utf8_lossy(&refused.stderr).contains("--yes"), "{refused:?}");

    let one = data_cmd(&data, &["delete", "--title", "house", "--yes"]);
    assert!(String::from_utf8_lossy(&one.stdout).contains("deleted 2 program states"), "{one:?}");
    let all = data_cmd(&data, &["delete", "--all", "--yes"]);
    assert!(all.status.success(), "{all:?}");
    let shown = data_cmd(&data, &["show", "--json"]);
    let summary: Value = serde_json::from_slice(&shown.stdout).expect("json");
    assert_eq!(summary["titles"], json!([]), "{summary}");
    let text = String::from_utf8_lossy(&data_cmd(&data, &["show"]).stdout).to_string();
    assert!(text.contains("program states: none"), "{text}");
    // Gone from the database file and its WAL, not only from the tables.
    assert!(files_containing(&data, &[marker]).is_empty());
}

#[test]
fn a_deletion_survives_a_kill_during_vacuum() {
    let marker = format!("zqvacuum{}", std::process::id());
    for delay_ms in [0u64, 2, 10] {
        let root = tempfile::tempdir().expect("tempdir");
        let data = root.path().join("data");
        // A large title that stays, so VACUUM has real work to do while it is killed.
        record(&data, "keep", "kept", 120, 120_000);
        record(&data, "gone", &marker, 20, 20_000);

        let mut child = pencil_lsp()
            .args(["data", "delete", "--title", "gone", "--yes", "--data-dir"])
            .arg(&data)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn delete");
        let mut stderr = std::io::BufReader::new(child.stderr.take().expect("stderr"));
        let mut line = String::new();
        std::io::BufRead::read_line(&mut stderr, &mut line).expect("read");
        assert!(line.contains("compacting"), "{line}");
        std::thread::sleep(std::time::Duration::from_millis(delay_ms));
        let _ = child.kill();
        let _ = child.wait();

        let (mut db, report) = Database::open_in(&data).expect("the store opens after the kill");
        assert!(report.moved_aside.is_none(), "{report:?}");
        let me = db.local_student().expect("student");
        assert!(db.states(&me, "gone").expect("states").is_empty(), "delay {delay_ms} ms: the deletion was undone");
        assert_eq!(db.states(&me, "keep").expect("states").len(), 120, "delay {delay_ms} ms: kept data lost");
        drop(db);
        assert!(files_containing(&data, std::slice::from_ref(&marker)).is_empty(), "delay {delay_ms} ms: deleted text still in a file");
    }
}
