//! What the student types is checked ahead (after the 300 ms pause) in the contained
//! sandbox: a line that allocates inside one native call, which used to take all of the
//! machine's memory within seconds of being typed, costs the server nothing, its worker
//! no more than its address-space limit, and the server keeps answering other documents.

mod support;

use serde_json::{json, Value};
use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use support::LspClient;

/// The worker's address-space limit (the sandbox's default) and what the server may add.
const WORKER_LIMIT_KIB: u64 = (pencil_sandbox::DEFAULT_ADDRESS_SPACE_LIMIT >> 10) as u64;
const SERVER_GROWTH_KIB: u64 = 512 * 1024;

fn status_kib(pid: &str, field: &str) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    status.lines().find(|l| l.starts_with(field))?.split_whitespace().nth(1)?.parse().ok()
}

fn children(pid: &str) -> Vec<String> {
    let mut found = Vec::new();
    for entry in std::fs::read_dir("/proc").into_iter().flatten().flatten() {
        let child = entry.file_name().to_string_lossy().to_string();
        let Ok(stat) = std::fs::read_to_string(format!("/proc/{child}/stat")) else { continue };
        if stat.rsplit(')').next().and_then(|rest| rest.split_whitespace().nth(1)) == Some(pid) {
            found.push(child);
        }
    }
    found
}

fn change(uri: &str, version: i32, text: &str) -> Value {
    json!({"textDocument": {"uri": uri, "version": version}, "contentChanges": [{"text": text}]})
}

#[test]
fn a_runaway_line_checked_ahead_stays_contained_and_the_server_answers() {
    let data = tempfile::tempdir().expect("tempdir");
    let mut lsp = LspClient::start(data.path());
    lsp.initialize(json!({"pencil": {"recordOnSave": false}}));
    let server = lsp.pid().to_string();
    let workers = children(&server);
    assert_eq!(workers.len(), 2, "two sandbox workers beside the server: {workers:?}");
    let idle = status_kib(&server, "VmRSS:").expect("server RSS");

    // Resident memory of the server's workers, sampled while the test runs.
    let peaks: Arc<Mutex<HashMap<String, u64>>> = Arc::default();
    let stop = Arc::new(AtomicBool::new(false));
    let sampler = {
        let (peaks, stop, server) = (Arc::clone(&peaks), Arc::clone(&stop), server.clone());
        std::thread::spawn(move || {
            while !stop.load(Ordering::Relaxed) {
                for w in children(&server) {
                    if let Some(rss) = status_kib(&w, "VmRSS:") {
                        let mut peaks = peaks.lock().expect("peaks");
                        let peak = peaks.entry(w).or_default();
                        *peak = (*peak).max(rss);
                    }
                }
                std::thread::sleep(Duration::from_millis(20));
            }
        })
    };

    // The student types the line (no Run) and pauses.
    let uri = "file:///home/student/hostile.coffee";
    lsp.notify("textDocument/didOpen", json!({"textDocument": {"uri": uri, "languageId": "coffeescript", "version": 1, "text": "pen red\nfd 100\n"}}));
    let hostile = "pen red\nfd 100\na = new Array(2000000000).fill(7)\n";
    lsp.notify("textDocument/didChange", change(uri, 2, hostile));
    std::thread::sleep(Duration::from_millis(800));

    // Meanwhile another document runs, at once.
    let other = "file:///home/student/square.coffee";
    lsp.notify("textDocument/didOpen", json!({"textDocument": {"uri": other, "languageId": "coffeescript", "version": 1, "text": "fd 100\nrt 90\n"}}));
    let t = Instant::now();
    let run = lsp.request("pencil/run", json!({"textDocument": {"uri": other}}));
    assert_eq!(run["result"]["status"], "ok", "{run}");
    assert!(t.elapsed() < Duration::from_millis(1500), "the other document waited {:?}", t.elapsed());

    // Run of the hostile text: the verdict checked ahead, a timeout at the wall time or
    // out of memory at the worker's limit, whichever comes first.
    let run = lsp.request("pencil/run", json!({"textDocument": {"uri": uri}}));
    let status = &run["result"]["status"];
    let out_of_memory = run["result"]["diagnostics"][0]["message"].as_str().is_some_and(|m| m.contains("out of memory"));
    assert!(status == "timeout" || (status == "error" && out_of_memory), "{run}");
    assert!(lsp.alive());

    // And the server still answers, with its workers replaced.
    let run = lsp.request("pencil/run", json!({"textDocument": {"uri": other}}));
    assert_eq!(run["result"]["status"], "ok", "{run}");
    stop.store(true, Ordering::Relaxed);
    sampler.join().expect("sampler");
    let grown = status_kib(&server, "VmHWM:").expect("server peak").saturating_sub(idle);
    let peaks = peaks.lock().expect("peaks").clone();
    eprintln!("server: idle {idle} KiB, peak +{grown} KiB; workers' peaks (KiB): {peaks:?}");
    assert!(grown < SERVER_GROWTH_KIB, "the server grew by {grown} KiB");
    assert!(peaks.values().all(|&kib| kib <= WORKER_LIMIT_KIB), "a worker passed its limit: {peaks:?}");
    // The worker that held the runaway was replaced: two workers again, not that one.
    let (runaway, _) = peaks.iter().max_by_key(|(_, kib)| **kib).expect("workers sampled");
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let now = children(&server);
        if now.len() == 2 && !now.contains(runaway) {
            break;
        }
        assert!(Instant::now() < deadline, "workers {now:?}, the runaway's was {runaway}");
        std::thread::sleep(Duration::from_millis(50));
    }
    lsp.shutdown();
}
