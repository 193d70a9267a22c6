//! `pencil-lsp research ...`: the command line of research collection (and
//! of `scrub`). Reports go to stdout; `preview` writes only the exact bytes
//! there, and everything about them on stderr.

use super::{consent, outbox, scrub, study, ResearchError};
use crate::data::{data_dir, open};
use crate::store::{create_private_file, Database, Membership};
use anyhow::{bail, Context as _};
use pencil_core::research::{key_fingerprint, ConsentBy, Study};
use pencil_core::scrub::Scrubber;
use std::io::{BufRead as _, IsTerminal as _, Write};
use std::path::{Path, PathBuf};

/// Arguments of `pencil-lsp research`.
#[derive(clap::Args, Debug)]
pub struct Args {
    /// Store directory (default: $PENCIL_DATA_DIR, else the platform's user data directory).
    #[arg(long, global = true)]
    data_dir: Option<PathBuf>,
    #[command(subcommand)]
    command: Command,
}

#[derive(clap::Subcommand, Debug)]
enum Command {
    /// De-identify a corpus file (JSON Lines, optionally gzipped): program text is
    /// scrubbed, traces whose title holds a name are dropped, every other field is kept.
    Scrub(scrub::ScrubArgs),
    /// Research studies: read one, or list those your class offers.
    Study {
        #[command(subcommand)]
        action: StudyAction,
    },
    /// Consent to a study: collection starts now, never with what was recorded before.
    Consent {
        /// The study id.
        #[arg(long)]
        study: String,
        /// Who consents: the student, or a parent or the school (for students under the study's age).
        #[arg(long, value_parser = ["student", "parent", "school"])]
        by: String,
        /// The student's age, when the student consents to a study with an age rule (not stored).
        #[arg(long)]
        age: Option<u32>,
        /// Consent without the question (after reading `study show`).
        #[arg(long)]
        yes: bool,
    },
    /// Withdraw consent: collection stops, unsent uploads are dropped, the hub is asked to delete what it has.
    Revoke {
        /// The study id.
        #[arg(long)]
        study: String,
    },
    /// Your consent receipts: study, consent text version, scope, who, when, your pseudonym.
    Receipts {
        /// Print JSON instead of text.
        #[arg(long)]
        json: bool,
    },
    /// Print exactly the bytes the next upload would send (scrubbed, in the study's scope); details on stderr.
    Preview {
        #[command(flatten)]
        send: SendArgs,
        /// Print one JSON object instead: the bytes (as a string), their size and SHA-256, the upload id.
        #[arg(long)]
        json: bool,
    },
    /// Send exactly what `preview` shows (queued when the hub cannot be reached).
    Upload {
        #[command(flatten)]
        send: SendArgs,
        /// Send only if the bytes have this SHA-256 (the one `preview` printed).
        #[arg(long)]
        expect_sha256: Option<String>,
    },
    /// Keep a class roster (CSV with a `name` column) whose names every upload scrubs.
    Roster {
        /// The roster file; it is copied into the store directory.
        file: PathBuf,
    },
}

#[derive(clap::Subcommand, Debug)]
enum StudyAction {
    /// Show a study: a signed study file (verified, its key pinned) or the id of one seen before.
    Show {
        /// A study file (JSON), or a study id.
        study: String,
        /// Print JSON (the study document, why it is trusted, your consent) instead of text.
        #[arg(long)]
        json: bool,
    },
    /// List studies: those your class's hub offers (fetched and verified against your
    /// teacher's key) and those kept on this machine.
    List {
        /// Print JSON instead of text.
        #[arg(long)]
        json: bool,
    },
}

/// Options of `preview` and `upload`: both must build with the same scrubber.
#[derive(clap::Args, Debug)]
struct SendArgs {
    /// The study id.
    #[arg(long)]
    study: String,
    /// A class roster (CSV with a `name` column) for this call (default: the one kept with `research roster`).
    #[arg(long)]
    roster: Option<PathBuf>,
    /// Folder with the Census name lists (default: $PENCIL_NAMES_DIR, else `.deps/names` above the current directory).
    #[arg(long)]
    names: Option<PathBuf>,
}

/// Runs `pencil-lsp research ...`, reporting on `out`.
pub fn run(args: &Args, out: &mut dyn Write) -> anyhow::Result<()> {
    if let Command::Scrub(a) = &args.command {
        return scrub::run(a, out);
    }
    let dir = data_dir(args.data_dir.clone())?;
    let mut db = open(&dir)?;
    let membership = db.membership()?;
    match &args.command {
        Command::Scrub(_) => Ok(()),
        Command::Study { action: StudyAction::Show { study, json } } => show(&mut db, study, *json, out),
        Command::Study { action: StudyAction::List { json } } => list(&mut db, membership.as_ref(), *json, out),
        Command::Consent { study, by, age, yes } => {
            let by = ConsentBy::parse(by).context("--by is student, parent or school")?;
            give_consent(&mut db, membership.as_ref(), study, by, *age, *yes, out)
        }
        Command::Revoke { study } => {
            let receipt = consent::revoke(&mut db, study)?;
            writeln!(out, "Consent to study '{study}' withdrawn at {} UTC: nothing more is collected, and uploads not yet sent were deleted here.", receipt.revoked_at.as_deref().unwrap_or("?"))?;
            report_revocations(&mut db, membership.as_ref(), out)
        }
        Command::Receipts { json } => {
            report_revocations(&mut db, membership.as_ref(), &mut std::io::sink())?;
            receipts(&db, *json, out)
        }
        Command::Preview { send: a, json: true } => {
            let scrubber = scrubber(&dir, a, membership.as_ref())?;
            let next = outbox::next_upload(&mut db, &a.study, &scrubber)?;
            writeln!(out, "{}", serde_json::to_string_pretty(&preview_json(&a.study, next.as_ref()))?)?;
            Ok(())
        }
        Command::Preview { send: a, json: false } => {
            let scrubber = scrubber(&dir, a, membership.as_ref())?;
            match outbox::next_upload(&mut db, &a.study, &scrubber)? {
                None => eprintln!("Nothing to send for study '{}': nothing was recorded since consent or the last upload.", a.study),
                Some(next) => {
                    out.write_all(&next.body)?;
                    out.flush()?;
                    eprintln!();
                    eprintln!(
                        "That is upload {} of study '{}': {} bytes, sha256 {}{}.",
                        next.upload_id,
                        a.study,
                        next.body.len(),
                        next.sha256(),
                        if next.queued { ", built earlier and queued" } else { "" }
                    );
                    if !next.queued {
                        eprintln!("The scrub replaced {} names, e-mail addresses, URLs and the like; {} titles stay home.", next.counts.replacements(), next.counts.dropped_name_titles);
                    }
                    eprintln!("Send exactly these bytes with: pencil-lsp research upload --study {} --expect-sha256 {}", a.study, next.sha256());
                }
            }
            Ok(())
        }
        Command::Upload { send, expect_sha256 } => {
            report_revocations(&mut db, membership.as_ref(), out)?;
            let scrubber = scrubber(&dir, send, membership.as_ref())?;
            match outbox::upload(&mut db, membership.as_ref(), &send.study, &scrubber, expect_sha256.as_deref())? {
                outbox::Uploaded::NothingNew => writeln!(out, "Nothing to send for study '{}'.", send.study)?,
                outbox::Uploaded::Sent { upload_id, bytes, sha256, new } => writeln!(
                    out,
                    "Sent upload {upload_id} ({bytes} bytes, sha256 {sha256}){}.",
                    if new { "" } else { "; the hub had it already" }
                )?,
                outbox::Uploaded::Queued { upload_id, why } => {
                    writeln!(out, "Upload {upload_id} is queued and will be sent as it is by the next upload: {why}.")?
                }
            }
            Ok(())
        }
        Command::Roster { file } => {
            pencil_core::scrub::Roster::load(file)?;
            let text = std::fs::read(file).with_context(|| format!("reading {}", file.display()))?;
            let kept = dir.join(scrub::ROSTER_FILE);
            create_private_file(&kept)?.write_all(&text).with_context(|| format!("writing {}", kept.display()))?;
            writeln!(out, "Kept the roster in {}; every research upload scrubs its names.", kept.display())?;
            Ok(())
        }
    }
}

/// `preview --json`: `next` is null when nothing is left to send; else the exact body
/// (UTF-8 JSON, so a string holds it byte for byte), its size and SHA-256.
pub(crate) fn preview_json(study: &str, next: Option<&outbox::NextUpload>) -> serde_json::Value {
    let next = next.map(|n| {
        serde_json::json!({
            "upload_id": n.upload_id,
            "body": String::from_utf8_lossy(&n.body),
            "size": n.body.len(),
            "sha256": n.sha256(),
            "queued": n.queued,
            "replacements": n.counts.replacements(),
            "dropped_name_titles": n.counts.dropped_name_titles,
        })
    });
    serde_json::json!({ "study": study, "next": next })
}

fn scrubber(dir: &Path, a: &SendArgs, m: Option<&Membership>) -> Result<Scrubber, ResearchError> {
    let names: Vec<String> = m.map(|m| m.display_name.clone()).into_iter().collect();
    Ok(scrub::upload_scrubber(a.names.as_deref(), a.roster.as_deref(), dir, &names)?)
}

fn show(db: &mut Database, arg: &str, json: bool, out: &mut dyn Write) -> anyhow::Result<()> {
    let path = Path::new(arg);
    let (id, pinned_now) = if path.is_file() {
        let (s, put) = study::import_file(db, path)?;
        let new = put == crate::store::StudyPut::New;
        if new && !json {
            writeln!(out, "The signature verifies; the researcher key is now pinned for study '{}'.", s.id)?;
        }
        (s.id, new)
    } else {
        (arg.to_string(), false)
    };
    if json {
        writeln!(out, "{}", serde_json::to_string_pretty(&study_json(db, &id, pinned_now)?)?)?;
        return Ok(());
    }
    let (stored, s) = study::load(db, &id)?;
    let receipt = db.active_receipt(&id)?;
    for line in study::describe(&stored, &s) {
        writeln!(out, "{line}")?;
    }
    match receipt {
        Some(r) => writeln!(out, "Your consent: given {} UTC by {} (consent text version {}).", r.consented_at, r.consented_by, r.consent_version)?,
        None => writeln!(out, "Your consent: not given. To consent: pencil-lsp research consent --study {id} --by student|parent|school")?,
    }
    Ok(())
}

/// What `study show --json` prints: the study document, why it is trusted, the consent in force
/// (the editor page's research view reads the same).
pub(crate) fn study_json(db: &Database, id: &str, pinned_now: bool) -> Result<serde_json::Value, ResearchError> {
    let (stored, s) = study::load(db, id)?;
    let receipt = db.active_receipt(id)?;
    Ok(serde_json::json!({
        "study": s,
        "source": stored.source.as_str(),
        "researcher_key_fingerprint": key_fingerprint(&s.researcher_key),
        "pinned_now": pinned_now,
        "first_seen": stored.first_seen,
        "consent": receipt,
    }))
}

/// One line of `study list`.
#[derive(serde::Serialize)]
pub(crate) struct Listed {
    id: String,
    /// `offered` (by the class now), `kept` (on this machine, from a file or an earlier offer) or `refused`.
    status: &'static str,
    title: Option<String>,
    institution: Option<String>,
    collects: Option<String>,
    /// Why a class offer was refused.
    refused: Option<String>,
    consent_given: bool,
}

impl Listed {
    /// The line of study `id` with this `status`, or `refused` with why when it did not verify.
    fn of(db: &Database, status: &'static str, id: String, study: Result<Study, ResearchError>) -> Result<Listed, ResearchError> {
        Ok(match study {
            Ok(s) => Listed {
                consent_given: db.active_receipt(&s.id)?.is_some(),
                id: s.id.clone(),
                status,
                collects: Some(study::scope_words(&s)),
                title: Some(s.title),
                institution: Some(s.institution),
                refused: None,
            },
            Err(e) => Listed { id, status: "refused", title: None, institution: None, collects: None, refused: Some(e.to_string()), consent_given: false },
        })
    }
}

fn list(db: &mut Database, m: Option<&Membership>, json: bool, out: &mut dyn Write) -> anyhow::Result<()> {
    let listed = listed(db, m)?;
    if json {
        writeln!(out, "{}", serde_json::to_string_pretty(&listed)?)?;
        return Ok(());
    }
    if m.is_none() {
        writeln!(out, "Not in a class: studies are offered through your class's hub; a study read from a file with `study show FILE` is kept here.")?;
    }
    if listed.is_empty() {
        writeln!(out, "{}", if m.is_some() { "Your class offers no studies." } else { "No studies are kept here." })?;
    }
    for l in listed {
        match (&l.refused, &l.title) {
            (Some(why), _) => writeln!(out, "{}: REFUSED: {why}", l.id)?,
            (None, title) => writeln!(
                out,
                "{}: {} ({}): collects {}{}{}",
                l.id,
                title.as_deref().unwrap_or(""),
                l.institution.as_deref().unwrap_or(""),
                l.collects.as_deref().unwrap_or(""),
                if l.status == "kept" { " [kept on this machine]" } else { "" },
                if l.consent_given { " [you consented]" } else { "" }
            )?,
        }
    }
    Ok(())
}

/// What `study list` shows: the class's offers (fetched, verified, kept) and the studies kept here.
pub(crate) fn listed(db: &mut Database, m: Option<&Membership>) -> Result<Vec<Listed>, ResearchError> {
    let mut listed = Vec::new();
    if let Some(m) = m {
        for o in study::fetch_class_studies(db, m)? {
            listed.push(Listed::of(db, "offered", o.id, o.result)?);
        }
    }
    for stored in db.studies()? {
        if listed.iter().any(|l| l.id == stored.id) {
            continue;
        }
        // A kept study that no longer verifies is listed as refused, never used.
        let study = study::load(db, &stored.id).map(|(_, s)| s);
        listed.push(Listed::of(db, "kept", stored.id, study)?);
    }
    Ok(listed)
}

fn give_consent(
    db: &mut Database,
    m: Option<&Membership>,
    id: &str,
    by: ConsentBy,
    age: Option<u32>,
    yes: bool,
    out: &mut dyn Write,
) -> anyhow::Result<()> {
    let (stored, s) = study::load(db, id)?;
    consent::check_who(by, s.consent.guardian_below_age, age)?;
    if !yes {
        let mut err = std::io::stderr();
        for line in study::describe(&stored, &s) {
            writeln!(err, "{line}")?;
        }
        if !std::io::stdin().is_terminal() {
            bail!("read the study above, then consent with --yes");
        }
        write!(err, "Type 'I agree' to consent as {}: ", by.as_str())?;
        err.flush()?;
        let mut answer = String::new();
        std::io::stdin().lock().read_line(&mut answer)?;
        if !answer.trim().eq_ignore_ascii_case("i agree") {
            writeln!(out, "No consent was recorded.")?;
            return Ok(());
        }
    }
    let receipt = consent::give(db, id, by, age)?;
    writeln!(
        out,
        "Consent recorded: receipt {} for study '{}', consent text version {}, by {}, at {} UTC.",
        receipt.id, receipt.study_id, receipt.consent_version, receipt.consented_by, receipt.consented_at
    )?;
    writeln!(out, "Collected from now on: {}.", study::scope_words(&s))?;
    match m.map(|m| consent::register(db, m, &receipt)) {
        Some(Ok(subject)) => writeln!(out, "Your pseudonym in this study: {subject}")?,
        Some(Err(e)) => writeln!(out, "The hub will be told at the first upload ({e}).")?,
        None => writeln!(out, "Not in a class: uploads wait until you join one that offers this study.")?,
    }
    Ok(())
}

fn report_revocations(db: &mut Database, m: Option<&Membership>, out: &mut dyn Write) -> anyhow::Result<()> {
    let flushed = consent::flush_revocations(db, m)?;
    for (study, n) in flushed.sent {
        writeln!(out, "The hub deleted your data in study '{study}' ({n} uploads).")?;
    }
    for (study, why) in flushed.waiting {
        writeln!(out, "The deletion request for study '{study}' is queued: {why}.")?;
    }
    Ok(())
}

fn receipts(db: &Database, json: bool, out: &mut dyn Write) -> anyhow::Result<()> {
    let receipts = db.receipts()?;
    if json {
        writeln!(out, "{}", serde_json::to_string_pretty(&receipts)?)?;
        return Ok(());
    }
    if receipts.is_empty() {
        writeln!(out, "No consent receipts.")?;
    }
    for r in receipts {
        writeln!(out, "Receipt {}: study '{}', consent text version {}, by {}, at {} UTC", r.id, r.study_id, r.consent_version, r.consented_by, r.consented_at)?;
        writeln!(out, "  scope: {}", r.scope_json)?;
        writeln!(out, "  study document sha256: {}", r.study_digest)?;
        writeln!(out, "  uploads queued or sent: {}; pseudonym: {}", r.uploads, r.subject_id.as_deref().unwrap_or("(not yet answered by the hub)"))?;
        match &r.revoked_at {
            Some(at) => writeln!(out, "  withdrawn at {at} UTC")?,
            None => writeln!(out, "  in force")?,
        }
    }
    let waiting = db.research_outbox(None)?;
    if !waiting.is_empty() {
        writeln!(out, "Waiting to be sent: {} request(s).", waiting.len())?;
    }
    Ok(())
}
