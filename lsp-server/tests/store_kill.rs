//! Killing the process at any moment loses no committed state: a child process writes
//! program states as fast as it can and reports each commit; it is killed with SIGKILL
//! mid-write; the reopened store holds every reported state, intact.

use pencil_lsp::store::{Database, StoreHandle, Trigger};
use std::io::{BufRead, BufReader, Write};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// Set in the child: the directory to write into.
const CHILD_ENV: &str = "PENCIL_STORE_KILL_CHILD_DIR";

/// Records states through the store's thread; prints `committed <id>` after each commit.
/// In the child it never stops (it is killed); otherwise it writes 20 and checks them.
fn write_states(dir: &Path, forever: bool) -> Vec<i64> {
    let (store, _) = StoreHandle::open(dir).expect("open store");
    let me = store.local_student().to_string();
    let mut out = std::io::stdout().lock();
    let mut ids = Vec::new();
    for i in 0u64.. {
        if !forever && i == 20 {
            break;
        }
        let (me, code) = (me.clone(), format!("fd {i}\nrt 90\n"));
        let state = store
            .call_blocking(move |db| db.record_state(&me, "square", &code, "2024-01-01 00:00:00", Trigger::Run))
            .expect("record");
        writeln!(out, "committed {}", state.id).expect("stdout");
        out.flush().expect("flush");
        ids.push(state.id);
    }
    ids
}

/// The id in a `committed <id>` line (libtest may print `test name ... ` before the first).
fn reported_id(line: &str) -> Option<i64> {
    line.rsplit_once("committed ").map(|(_, id)| id.trim().parse().expect("id"))
}

#[test]
fn killed_writer_loses_no_committed_state() {
    if let Some(dir) = std::env::var_os(CHILD_ENV) {
        write_states(Path::new(&dir), true);
        return;
    }
    // In-process first: the writer itself works and reads back what it wrote.
    let warm = tempfile::tempdir().expect("tempdir");
    let ids = write_states(warm.path(), false);
    let (db, _) = Database::open_in(warm.path()).expect("reopen");
    assert_eq!(db.state_ids().expect("ids"), ids);

    let dir = tempfile::tempdir().expect("tempdir");
    let mut child = Command::new(std::env::current_exe().expect("test binary"))
        .args(["killed_writer_loses_no_committed_state", "--exact", "--nocapture", "--test-threads=1"])
        .env(CHILD_ENV, dir.path())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn writer");
    let stdout = child.stdout.take().expect("stdout");
    let mut lines = BufReader::new(stdout).lines();
    let mut committed = Vec::new();
    let started = Instant::now();
    // Let it write for a while, then kill it with SIGKILL in the middle of a write.
    while committed.len() < 200 && started.elapsed() < Duration::from_secs(30) {
        match lines.next() {
            Some(Ok(line)) => {
                committed.extend(reported_id(&line));
            }
            _ => break,
        }
    }
    child.kill().expect("kill -9");
    child.wait().expect("wait");
    // Lines already written before the kill are commits too.
    for line in lines.map_while(Result::ok) {
        committed.extend(reported_id(&line));
    }
    assert!(committed.len() >= 50, "the writer only committed {} states", committed.len());

    let (db, report) = Database::open_in(dir.path()).expect("reopen after kill");
    assert!(report.moved_aside.is_none(), "a killed writer must not corrupt the store: {report:?}");
    let stored = db.state_ids().expect("ids");
    let missing: Vec<i64> = committed.iter().copied().filter(|id| !stored.contains(id)).collect();
    assert!(missing.is_empty(), "committed but lost: {missing:?}");
    // At most the one in-flight write can be in the store without its report.
    assert!(stored.len() <= committed.len() + 1, "stored {} vs reported {}: {:?}", stored.len(), committed.len(), &stored[stored.len().saturating_sub(3)..]);
}
