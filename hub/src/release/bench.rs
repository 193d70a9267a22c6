//! `pencil-hub bench --release`: export time and size of each release format
//! for a corpus file (the public corpus, say), loaded as one study's
//! consented uploads (one device per trace, one upload each) into a
//! scratch hub database. Uploads go in through the storage layer, not HTTP:
//! the ingest path has its own bench (`pencil-hub bench`).

use std::fmt::Write as _;
use std::path::Path;
use std::time::Instant;

use anyhow::{bail, Context, Result};
use ed25519_dalek::SigningKey;
use pencil_core::corpus::{read_corpus, ReadOptions};
use pencil_core::research::{
    sign_offer, sign_study, Collects, ConsentText, Programs, StudyOffer, Timestamps, UploadBody, UploadProgram,
    UploadTrace, STUDY_FORMAT, UPLOAD_FORMAT,
};
use sha2::Digest as _;

use super::verdicts::{Judge, Verdicts};
use super::{write_release, Format, ReleaseRequest};
use crate::security::random_bytes;
use crate::sqlite::SqliteDb;
use crate::store::{ConsentRecord, Db};

/// The bench study's id.
pub const STUDY_ID: &str = "bench-corpus";

/// What to measure.
pub struct ReleaseBench<'a> {
    /// A fresh hub data directory.
    pub data_dir: &'a Path,
    /// A corpus file (`pencil_core::corpus` reads it).
    pub corpus: &'a Path,
    /// Where the three releases go (`<out>/<format>`).
    pub out: &'a Path,
    /// Only the first traces of the corpus.
    pub limit: Option<usize>,
    /// Threads judging programs.
    pub jobs: usize,
    pub actor: String,
}

fn seconds(t: Instant) -> f64 {
    t.elapsed().as_secs_f64()
}

/// Loads the corpus as uploads, judges every distinct program once, writes
/// each format; returns the report.
pub fn run(b: &ReleaseBench, judge: &dyn Judge) -> Result<String> {
    if b.data_dir.join(crate::sqlite::DB_FILE).exists() {
        bail!("{} already holds a hub database; bench --release needs an empty --data-dir", b.data_dir.display());
    }
    let now = crate::server::now();
    let mut report = String::new();

    let t = Instant::now();
    let corpus = read_corpus(b.corpus, ReadOptions::default()).with_context(|| format!("reading {}", b.corpus.display()))?;
    let traces = &corpus.traces[..b.limit.unwrap_or(usize::MAX).min(corpus.traces.len())];
    let mut db = SqliteDb::open(b.data_dir)?;
    let teacher_seed = random_bytes::<32>()?;
    let teacher = db
        .create_teacher("bench", "(no sign-in)", &teacher_seed, now)?
        .context("a fresh database has no teacher 'bench'")?;
    let class = db
        .create_class(teacher, "bench", &crate::security::new_join_code()?, now, now)?
        .context("creating the bench class")?;
    let researcher = SigningKey::from_bytes(&random_bytes::<32>()?);
    let collects = Collects { programs: Programs::Full, timestamps: Timestamps::Exact, hints: false };
    let study = pencil_core::research::Study {
        version: STUDY_FORMAT,
        id: STUDY_ID.into(),
        title: "Release bench".into(),
        institution: "pencil-hub bench".into(),
        ethics_approval: "none (public corpus)".into(),
        contact: "nobody".into(),
        researcher_key: pencil_core::classroom::encode_key(&researcher.verifying_key()),
        collects,
        retention_days: 1,
        consent: ConsentText { version: "1".into(), text: "Bench.".into(), guardian_below_age: 0 },
    };
    let digest = study.digest();
    let signed = sign_study(study, &researcher);
    let secret = random_bytes::<32>()?;
    db.put_study(STUDY_ID, &serde_json::to_string(&signed)?, &digest, &secret, now)?;
    let offer = StudyOffer {
        class_id: class,
        study_id: STUDY_ID.into(),
        researcher_key: signed.study.researcher_key.clone(),
        study_sha256: digest,
    };
    db.offer_study(STUDY_ID, class, &sign_offer(&offer, &SigningKey::from_bytes(&teacher_seed)), now)?;
    let mut states = 0usize;
    db.in_transaction(|db| {
        for (i, trace) in traces.iter().enumerate() {
            // The corpus holds several samples per student and title (the paper's
            // rollouts), which one student's machine could not have made: each
            // trace is its own subject (device), so every trace survives as it is.
            let token_hash: String =
                sha2::Sha256::digest(random_bytes::<32>()?).iter().map(|b| format!("{b:02x}")).collect();
            // Display names without a word of two letters: the roster scrub has nothing to take.
            let device = db.create_device(class, &token_hash, &format!("s{i}"), now)?;
            let subject = crate::research::subject_id(&secret, &token_hash);
            db.put_consent(
                &ConsentRecord {
                    study_id: STUDY_ID.into(),
                    device_id: device,
                    subject_id: subject.clone(),
                    consent_version: "1".into(),
                    by: "student".into(),
                    consented_at: "2026-01-01 00:00:00".into(),
                },
                now,
            )?;
            states += trace.programs.len();
            let body = UploadBody {
                format: UPLOAD_FORMAT,
                study_id: STUDY_ID.into(),
                upload_id: format!("t{i}"),
                consent_version: "1".into(),
                collects,
                traces: vec![UploadTrace {
                    title: trace.title.clone(),
                    programs: trace
                        .programs
                        .iter()
                        .map(|p| UploadProgram { n: p.n, time: p.time.clone(), code: p.code.clone() })
                        .collect(),
                    hints: vec![],
                }],
            };
            db.insert_upload(STUDY_ID, &subject, &body.upload_id, &serde_json::to_vec(&body)?, now)?;
        }
        Ok(())
    })?;
    let _ = writeln!(
        report,
        "corpus {}: {} traces, {} program states, {} subjects; loaded as uploads in {:.1} s",
        b.corpus.display(),
        traces.len(),
        states,
        traces.len(),
        seconds(t)
    );

    let mut verdicts = Verdicts::new(judge, b.jobs);
    let t = Instant::now();
    let uploads = db.uploads(STUDY_ID)?;
    let scrubber = super::roster_scrubber(&mut db, STUDY_ID)?;
    let data = super::dataset::build(&uploads, &scrubber)?;
    drop(uploads);
    verdicts.judge_all(&data.distinct_codes())?;
    let _ = writeln!(
        report,
        "sandbox verdicts: {} distinct programs in {:.1} s on {} worker(s) (once; ProgSnap2 and Parquet share them)",
        verdicts.len(),
        seconds(t),
        b.jobs
    );
    drop(data);

    for format in [Format::Progsnap2, Format::Jsonl, Format::Parquet] {
        let dir = b.out.join(format.as_str());
        let t = Instant::now();
        let m = write_release(
            &mut db,
            &ReleaseRequest { study_id: STUDY_ID, format, out: &dir, actor: b.actor.clone(), now },
            &mut verdicts,
        )?;
        let took = seconds(t);
        let bytes: u64 = m.files.iter().map(|f| f.bytes).sum();
        let files: Vec<String> = m.files.iter().map(|f| format!("{} {:.2} MB", f.name, f.bytes as f64 / 1e6)).collect();
        let _ = writeln!(
            report,
            "{:<9} {:>6.2} s  {:>7.2} MB  {} rows, {} subjects  ({})",
            format.as_str(),
            took,
            bytes as f64 / 1e6,
            m.rows,
            m.subject_ids.len(),
            files.join(", ")
        );
    }
    Ok(report)
}
