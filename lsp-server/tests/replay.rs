//! `pencil-lsp replay` prints, per program state, what the student would see.

use std::process::Command;

#[test]
fn replay_prints_states_diagnostics_and_fixes_as_diffs() {
    let dir = tempfile::tempdir().expect("tempdir");
    let corpus = dir.path().join("traces.jsonl");
    let trace = serde_json::json!({
        "student": "abc123", "title": "flower", "eos": true,
        "programs": [
            {"n": 1, "time": "2024-03-01 10:00:00", "code": "pen red\nfd 100\n"},
            {"n": 2, "time": "2024-03-01 10:00:30", "code": "pen red\nfd 100\n"},
            {"n": 3, "time": "2024-03-01 10:01:00", "code": "pen red\nfd 100\nmoveto 50 50\n"}
        ]
    });
    let other = serde_json::json!({"student": "zzz", "title": "car", "programs": [{"n": 1, "time": "2024-03-01 10:00:00", "code": "fd 1\n"}]});
    std::fs::write(&corpus, format!("{other}\n{trace}\n")).expect("write corpus");
    let out = Command::new(env!("CARGO_BIN_EXE_pencil-lsp"))
        .args(["replay", corpus.to_str().expect("utf-8 path"), "--student", "abc123", "--trace", "0"])
        .env("RUST_LOG", "off")
        .env("PENCIL_MODEL_DIR", "")
        .output()
        .expect("run replay");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{text}\n{}", String::from_utf8_lossy(&out.stderr));
    let lines: Vec<&str> = text.lines().collect();
    assert!(lines[0].contains("no trace model is configured") && lines[0].contains("do not need the model"), "{text}");
    assert!(lines[1].starts_with("== trace 1 · student abc123 · title flower · 3 programs"), "{text}");
    assert!(lines.iter().any(|l| l.starts_with("-- CODE 1 (2024-03-01 10:00:00) · state #1 · ok")), "{text}");
    // An identical second run collapses into the first state.
    assert!(lines.iter().any(|l| l.starts_with("-- CODE 2 (2024-03-01 10:00:30) · state #1 (unchanged, collapsed) · ok")), "{text}");
    assert!(lines.iter().any(|l| l.starts_with("-- CODE 3 (2024-03-01 10:01:00) · state #2 · error")), "{text}");
    assert!(lines.iter().any(|l| l.trim_start().starts_with("3:") && l.contains("SyntaxError")), "{text}");
    assert!(lines.iter().any(|l| l.trim() == "risk: no model"), "{text}");
    assert!(lines.iter().any(|l| l.contains("fix: Add the missing comma") && l.contains("verified: runs")), "{text}");
    assert!(lines.iter().any(|l| l.trim() == "-moveto 50 50") && lines.iter().any(|l| l.trim() == "+moveto 50, 50"), "{text}");
    assert_eq!(
        lines.last().copied(),
        Some("== 1 traces, 3 program states, 1 with errors, 1 of them with a verified fix (0 with a running \"Fix in my style\")")
    );
}
