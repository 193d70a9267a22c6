//! The student's loop driven by a real editor: headless Neovim 0.7 (Debian's package,
//! installed by scripts/setup.sh), its built-in LSP client and the project's plugin
//! `editor-extensions/neovim` (see neovim.lua).

use serde_json::Value;
use std::process::Command;
use std::time::{Duration, Instant};

#[test]
fn neovim_runs_sees_the_error_applies_the_fix_and_runs_again() {
    let nvim = which("nvim").expect("nvim is not installed: run scripts/setup.sh (Debian package neovim)");
    let work = tempfile::tempdir().expect("tempdir");
    let file = work.path().join("flower.coffee");
    std::fs::write(&file, "speed 10\npen red\nfd 100\n").expect("write program");
    let out = work.path().join("result.json");
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/neovim.lua");
    let mut child = Command::new(nvim)
        .args(["--headless", "--clean", "-n", "-i", "NONE", "-c", &format!("luafile {script}")])
        .env("PENCIL_LSP_BIN", env!("CARGO_BIN_EXE_pencil-lsp"))
        .env("PENCIL_PLUGIN_DIR", concat!(env!("CARGO_MANIFEST_DIR"), "/../editor-extensions/neovim"))
        .env("PENCIL_DATA_DIR", work.path().join("data"))
        .env("PENCIL_MODEL_DIR", "")
        .env("PENCIL_TEST_FILE", &file)
        .env("PENCIL_TEST_OUT", &out)
        .env("HOME", work.path())
        .env("XDG_STATE_HOME", work.path().join("state"))
        .spawn()
        .expect("start nvim");
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        if child.try_wait().expect("wait").is_some() {
            break;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("nvim did not finish within 120 s");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let text = std::fs::read_to_string(&out).expect("nvim wrote no result");
    let result: Value = serde_json::from_str(&text).expect("result json");
    assert!(result.get("error").is_none(), "{result:#}");
    let steps = &result["steps"];
    assert_eq!(steps["first_run"]["status"], "error", "{result:#}");
    let notes = result["notes"].as_array().expect("notes");
    assert!(notes.iter().any(|n| n.as_str().is_some_and(|n| n.contains("quick fix"))), "{notes:?}");
    assert_eq!(steps["diagnostic"]["lnum"], 1);
    assert_eq!(steps["diagnostic"]["col"], 4);
    assert_eq!(steps["diagnostic"]["end_col"], 13);
    assert_eq!(steps["fixed_text"], "speed 10\npen lightblue\nfd 100");
    assert_eq!(steps["second_run"]["status"], "ok", "{result:#}");
    // `fd 100` north from the centre: a vertical line of stars ending at the turtle's arrow.
    let drawing: Vec<&str> = steps["drawing"].as_array().map(|a| a.iter().filter_map(|l| l.as_str()).collect()).unwrap_or_default();
    assert_eq!(drawing.first().map(|l| l.trim()), Some("^"), "{result:#}");
    assert!(drawing.len() >= 5 && drawing[1..].iter().all(|l| l.trim() == "*"), "{drawing:?}");
    assert_eq!(steps["cleared"], true);
    let messages = result["messages"].as_array().expect("messages");
    assert!(messages.iter().any(|m| m.as_str().is_some_and(|m| m.contains("no trace model"))), "{messages:?}");
    // The store recorded both states under the file's stem.
    let (mut db, _) = pencil_lsp::store::Database::open_in(&work.path().join("data")).expect("store");
    let me = db.local_student().expect("student");
    assert_eq!(db.states(&me, "flower").expect("states").len(), 2);
    // Neovim ran the command attached to the code action: the hint counts as accepted.
    assert_eq!(db.accepted_hint_count().expect("hints"), 1);
}

fn which(name: &str) -> Option<std::path::PathBuf> {
    std::env::var_os("PATH")?.to_str()?.split(':').map(|d| std::path::Path::new(d).join(name)).find(|p| p.is_file())
}
