//! A study release in the paper's JSON Lines goes straight into the trainer:
//! `pencil-hub bench --release` loads the first traces of the public corpus
//! as one study's consented uploads and writes every release format, and
//! `pencil_trainer::dataset::prepare` (what `pencil-trainer dataset` reads
//! corpus files with) reads the JSON Lines release back, trace for trace.
//!
//! The hub is driven as a binary (`target/<profile>/pencil-hub`, built by
//! `cargo test --workspace`), so nothing links `pencil-hub`.

use std::path::PathBuf;
use std::process::Command;

use pencil_core::corpus::{read_corpus, write_jsonl, ReadOptions};
use pencil_core::scrub::{NameLists, Scrubber};

/// The `pencil-hub` binary beside this test's profile directory.
fn hub_bin() -> PathBuf {
    let exe = std::env::current_exe().expect("test executable");
    let bin = exe.parent().and_then(|deps| deps.parent()).expect("target/<profile>").join("pencil-hub");
    assert!(
        bin.is_file(),
        "{} is missing: build it first (cargo build -p pencil-hub, or run cargo test --workspace)",
        bin.display()
    );
    bin
}

#[test]
fn a_jsonl_release_round_trips_through_the_trainers_dataset_reader() {
    let source = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../shared/data/public/trace-model.jsonl.gz");
    let traces: Vec<_> = read_corpus(&source, ReadOptions::default()).expect("public corpus").traces.into_iter().take(40).collect();
    let dir = tempfile::tempdir().expect("tempdir");
    let corpus = dir.path().join("corpus.jsonl");
    write_jsonl(std::fs::File::create(&corpus).expect("create"), &traces).expect("write corpus");

    let out = dir.path().join("releases");
    let run = Command::new(hub_bin())
        .arg("--data-dir")
        .arg(dir.path().join("hub"))
        .args(["bench", "--release", "--corpus"])
        .arg(&corpus)
        .arg("--out")
        .arg(&out)
        .env("RUST_LOG", "warn")
        .output()
        .expect("run pencil-hub");
    let report = String::from_utf8_lossy(&run.stdout);
    assert!(run.status.success(), "{report}{}", String::from_utf8_lossy(&run.stderr));
    assert!(report.contains("40 traces") && report.contains("progsnap2") && report.contains("parquet"), "{report}");

    let release = out.join("jsonl/traces.jsonl.gz");
    // What the trainer gets: its reader and its scrub (which the hub's own scrub,
    // all rules with the class roster, has already applied where they overlap).
    let none = Scrubber::new(NameLists::default());
    let prepared = pencil_trainer::dataset::prepare(std::slice::from_ref(&release), &none).expect("the trainer reads a release");
    assert_eq!(prepared.skipped_records, 0);
    let expected = pencil_trainer::dataset::prepare(std::slice::from_ref(&corpus), &none).expect("the corpus");
    assert_eq!(prepared.traces.len(), expected.traces.len());
    // The release is ordered by SubjectID; match traces by title and programs.
    let key = |t: &pencil_core::Trace| {
        (t.title.clone(), t.programs.iter().map(|p| (p.n, p.time.clone(), p.code.clone())).collect::<Vec<_>>())
    };
    let mut got: Vec<_> = prepared.traces.iter().map(key).collect();
    let mut want: Vec<_> = expected.traces.iter().map(key).collect();
    got.sort();
    want.sort();
    assert!(got == want, "the release's traces differ from the corpus's");
    assert!(prepared.traces.iter().all(|t| t.student.len() == 64), "students are SubjectIDs");
}
