//! The actions a WebSocket client may only ask for (`trust::NEEDS_STUDENT_CONFIRMATION`,
//! and "Ask my teacher" with the saved versions)
//! and the reads the page's class and research views make. Plain blocking code over the
//! store and the hub, shared with the command line: joining runs `class::run` itself, the
//! research steps call the same `research` functions `pencil-lsp research ...` calls.
//!
//! [`prepare`] checks an action and says in words what it will do (the confirmation
//! page shows them); [`execute`] does it once the student confirmed (or at once, for
//! the trusted editor over stdio).

use crate::classroom::hands::{Ask, AskError};
use crate::classroom::hub::normalize_hub_url;
use crate::classroom::live;
use crate::research::{cli as research_cli, consent, outbox, scrub, study, ResearchError};
use crate::store::{Database, Membership, StoreHandle};
use pencil_core::classroom::normalize_display_name;
use pencil_core::research::ConsentBy;
use serde_json::{json, Value};
use std::path::PathBuf;

/// One guarded action, with what it needs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    /// `pencil-lsp class join CODE --hub HUB --name NAME`.
    JoinClass {
        /// The hub's address, normalised.
        hub: String,
        /// The join code.
        code: String,
        /// The display name, normalised.
        name: String,
    },
    /// `pencil-lsp research consent --study S --by B [--age A] --yes`.
    Consent {
        /// The study id.
        study: String,
        /// Who consents.
        by: ConsentBy,
        /// The student's age, for the study's age rule only (never stored).
        age: Option<u32>,
    },
    /// `pencil-lsp research upload --study S --expect-sha256 H`: only the bytes shown.
    Send {
        /// The study id.
        study: String,
        /// The SHA-256 of the bytes the student saw ([`prepare`] fills it in).
        sha256: Option<String>,
    },
    /// `pencil-lsp research revoke --study S`.
    Withdraw {
        /// The study id.
        study: String,
    },
    /// `pencil.askTeacher` with `shareTrace`: the program on screen, the message and
    /// this title's saved states to the teacher of the class joined.
    AskTeacher {
        /// The title.
        title: String,
        /// The program as it is on screen.
        program: String,
        /// The student's message.
        message: Option<String>,
    },
    /// `pencil/trace`: the stored states of one title.
    ReadTrace {
        /// The title.
        title: String,
        /// The last `limit` states.
        limit: Option<usize>,
    },
}

/// Where the actions read and write.
#[derive(Debug, Clone)]
pub struct Context {
    /// The store directory (as the server resolved it; never chosen by a WebSocket client).
    pub data_dir: Option<PathBuf>,
    /// The running store, for the trace.
    pub store: Option<StoreHandle>,
}

/// What the confirmation page says about an action, prepared when it was asked for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Words {
    /// A question: "Join a class?".
    pub heading: String,
    /// Plain sentences, one per line.
    pub lines: Vec<String>,
    /// Text shown exactly as it is (the consent text; the bytes of an upload), with its label.
    pub exact: Option<(String, String)>,
    /// The confirm button's words.
    pub confirm: String,
}

/// What an action did.
#[derive(Debug, Clone, PartialEq)]
pub struct Done {
    /// One or more sentences for the student.
    pub message: String,
    /// Data for the client (the class joined, the receipt, the trace); null when none.
    pub result: Value,
}

impl Context {
    fn dir(&self) -> Result<&PathBuf, String> {
        self.data_dir.as_ref().ok_or_else(|| "the coach has no store directory (start pencil-lsp with --data-dir)".to_string())
    }

    fn open(&self) -> Result<Database, String> {
        let dir = self.dir()?;
        Database::open_in(dir).map(|(db, _)| db).map_err(|e| format!("the store in {} could not be opened: {e}", dir.display()))
    }
}

/// A study id as the command line accepts one: 1 to 64 characters of a-z, 0-9 and '-'
/// (never a file name: a WebSocket client does not name files).
pub fn check_study_id(id: &str) -> Result<(), String> {
    let ok = !id.is_empty() && id.len() <= 64 && !id.starts_with('-') && id.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-');
    if ok { Ok(()) } else { Err(format!("{id:?} is not a study id")) }
}

fn who(by: ConsentBy) -> &'static str {
    match by {
        ConsentBy::Student => "you, the student",
        ConsentBy::Parent => "a parent or guardian of the student",
        ConsentBy::School => "the school",
    }
}

/// Checks `action` and says what it will do, for `requester` ("the page at …").
/// [`Action::Send`] gets the SHA-256 of the bytes it shows. Blocking.
pub fn prepare(action: &mut Action, ctx: &Context, requester: &str) -> Result<Words, String> {
    match action {
        Action::JoinClass { hub, code, name } => {
            *hub = normalize_hub_url(hub).map_err(|e| e.to_string())?;
            *name = normalize_display_name(name).map_err(|e| format!("your name: {e}"))?;
            *code = code.trim().to_string();
            if code.is_empty() || code.len() > 32 {
                return Err("the class code is empty or too long".into());
            }
            let current = ctx.open()?.membership().map_err(|e| e.to_string())?;
            let mut lines = vec![
                format!("{requester} asks to put you in a teacher's class."),
                format!("Teacher's class server (hub): {hub}"),
                format!("Class code: {code}"),
                format!("Your name in the class, which your teacher sees: {name}"),
                "In the class, each time you run a program the hub is told its name and whether it worked, but not your code. \
                 Your teacher's rules for hints apply, and you can ask your teacher for help."
                    .into(),
            ];
            if let Some(m) = current {
                lines.push(format!("You will leave your class \"{}\" on {} first.", m.class_name, m.hub_url));
            }
            lines.push("Only confirm if your teacher gave you this code and this address.".into());
            Ok(Words { heading: "Join a class?".into(), lines, exact: None, confirm: "Join the class".into() })
        }
        Action::Consent { study: id, by, age } => {
            check_study_id(id)?;
            let db = ctx.open()?;
            let (_, s) = study::load(&db, id).map_err(|e| e.to_string())?;
            consent::check_who(*by, s.consent.guardian_below_age, *age).map_err(|e| e.to_string())?;
            if db.active_receipt(id).map_err(|e| e.to_string())?.is_some() {
                return Err(ResearchError::AlreadyConsented(id.clone()).to_string());
            }
            let mut lines = vec![
                format!("{requester} asks to record that {} agree{} to take part in a research study.", who(*by), if *by == ConsentBy::Student { "" } else { "s" }),
                format!("Study: \"{}\" by {}", s.title, s.institution),
                format!("Ethics approval: {}. Contact: {}", s.ethics_approval, s.contact),
                format!("What is collected, from now on only: {}", study::scope_words(&s)),
                format!("The researchers keep it for {} days.", s.retention_days),
                "Nothing recorded before you agree leaves this computer, and each upload is shown to you before it is sent. You can withdraw at any time.".into(),
            ];
            if let Some(a) = age {
                lines.push(format!("Age given: {a} (only to check the study's age rule; it is not stored)."));
            }
            let exact = Some((format!("The consent text (version {}):", s.consent.version), s.consent.text.clone()));
            Ok(Words { heading: "Agree to a research study?".into(), lines, exact, confirm: "I agree".into() })
        }
        Action::Send { study: id, sha256 } => {
            check_study_id(id)?;
            let mut db = ctx.open()?;
            let (_, s) = study::load(&db, id).map_err(|e| e.to_string())?;
            let scrubber = scrubber(ctx, &db)?;
            let next = outbox::next_upload(&mut db, id, &scrubber).map_err(|e| e.to_string())?;
            let Some(next) = next else {
                return Err(format!("Nothing to send for study '{id}': nothing was recorded since you agreed or since the last upload."));
            };
            let hash = next.sha256();
            if sha256.as_ref().is_some_and(|h| *h != hash) {
                return Err(ResearchError::PreviewChanged.to_string());
            }
            *sha256 = Some(hash.clone());
            let lines = vec![
                format!("{requester} asks to send your next upload to the study \"{}\" by {}.", s.title, s.institution),
                format!(
                    "Below are the exact {} bytes that would leave this computer (SHA-256 {hash}). Names, e-mail addresses and the like were removed first.",
                    next.body.len()
                ),
                "If your programs change before you press the button, nothing is sent: look again.".into(),
            ];
            let exact = Some(("Exactly what would be sent:".into(), String::from_utf8_lossy(&next.body).into_owned()));
            Ok(Words { heading: "Send this to the study?".into(), lines, exact, confirm: "Send exactly this".into() })
        }
        Action::Withdraw { study: id } => {
            check_study_id(id)?;
            let db = ctx.open()?;
            if db.active_receipt(id).map_err(|e| e.to_string())?.is_none() {
                return Err(ResearchError::NoConsent(id.clone()).to_string());
            }
            let title = study::load(&db, id).map(|(_, s)| s.title).unwrap_or_else(|_| id.clone());
            let lines = vec![
                format!("{requester} asks to withdraw your agreement to the study \"{title}\"."),
                "Nothing more is collected. Uploads not sent yet are deleted here, and the study's hub is asked to delete what it has.".into(),
            ];
            Ok(Words { heading: "Leave the study?".into(), lines, exact: None, confirm: "Withdraw".into() })
        }
        Action::AskTeacher { title, message, .. } => {
            let Some(m) = ctx.open()?.membership().map_err(|e| e.to_string())? else {
                return Err(AskError::NotJoined.to_string());
            };
            let n = read_states(ctx, title)?.len();
            let saved = match n {
                0 => " (no version of it is saved yet)".to_string(),
                1 => ", with the 1 saved version of it".to_string(),
                n => format!(", with the {n} saved versions of it"),
            };
            let lines = vec![
                format!("{requester} asks to send your teacher your program \"{title}\" as it is now{saved}."),
                format!("Your teacher in the class \"{}\" on {} would see every saved version of this program, not only the one on screen.", m.class_name, m.hub_url),
            ];
            let exact = message.as_ref().filter(|t| !t.trim().is_empty()).map(|t| ("Your message:".to_string(), t.trim().to_string()));
            Ok(Words { heading: "Send your saved versions to your teacher?".into(), lines, exact, confirm: "Send to my teacher".into() })
        }
        Action::ReadTrace { title, .. } => {
            let n = read_states(ctx, title)?.len();
            let lines = vec![
                format!("{requester} asks to read the {n} saved version{} of your program \"{title}\".", if n == 1 { "" } else { "s" }),
                "It would see every version of that program the coach saved on this computer, not only the one on screen.".into(),
            ];
            Ok(Words { heading: "Show your saved versions?".into(), lines, exact: None, confirm: "Let it read them".into() })
        }
    }
}

fn read_states(ctx: &Context, title: &str) -> Result<Vec<crate::store::StoredState>, String> {
    let store = ctx.store.as_ref().ok_or("no store: nothing was recorded")?;
    let (student, title) = (store.local_student().to_string(), title.to_string());
    store.call_blocking(move |db| db.states(&student, &title)).map_err(|e| e.to_string())
}

/// The upload scrubber, as `research preview` and `upload` build it without options.
fn scrubber(ctx: &Context, db: &Database) -> Result<pencil_core::scrub::Scrubber, String> {
    let names: Vec<String> = db.membership().map_err(|e| e.to_string())?.map(|m| m.display_name).into_iter().collect();
    scrub::upload_scrubber(None, None, ctx.dir()?, &names).map_err(|e| ResearchError::from(e).to_string())
}

/// Does a prepared action. Blocking (the store, the hub).
pub fn execute(action: Action, ctx: &Context) -> Result<Done, String> {
    match action {
        Action::JoinClass { hub, code, name } => {
            let args = crate::class::Args { data_dir: ctx.data_dir.clone(), action: crate::class::Action::Join { code, hub, name } };
            let mut out = Vec::new();
            crate::class::run(&args, &mut out).map_err(|e| format!("{e:#}"))?;
            Ok(Done { message: String::from_utf8_lossy(&out).trim().to_string(), result: class_info(ctx)? })
        }
        Action::Consent { study: id, by, age } => {
            let mut db = ctx.open()?;
            let receipt = consent::give(&mut db, &id, by, age).map_err(|e| e.to_string())?;
            let (_, s) = study::load(&db, &id).map_err(|e| e.to_string())?;
            let mut message = format!(
                "Your agreement is recorded (consent text version {}, by {}). Collected from now on: {}.",
                receipt.consent_version,
                receipt.consented_by,
                study::scope_words(&s)
            );
            match db.membership().map_err(|e| e.to_string())?.map(|m| consent::register(&mut db, &m, &receipt)) {
                Some(Ok(_)) => message.push_str(" The study's hub was told."),
                Some(Err(e)) => message.push_str(&format!(" The hub will be told at the first upload ({e}).")),
                None => message.push_str(" Not in a class: uploads wait until you join one that offers this study."),
            }
            Ok(Done { message, result: json!({ "study": id, "consentVersion": receipt.consent_version, "by": receipt.consented_by }) })
        }
        Action::Send { study: id, sha256 } => {
            let mut db = ctx.open()?;
            let m = db.membership().map_err(|e| e.to_string())?;
            flush_revocations(&mut db, m.as_ref());
            let scrubber = scrubber(ctx, &db)?;
            let sent = outbox::upload(&mut db, m.as_ref(), &id, &scrubber, sha256.as_deref()).map_err(|e| e.to_string())?;
            let message = match sent {
                outbox::Uploaded::NothingNew => format!("Nothing to send for study '{id}'."),
                outbox::Uploaded::Sent { upload_id, bytes, sha256, new } => format!(
                    "Sent upload {upload_id} ({bytes} bytes, SHA-256 {sha256}){}.",
                    if new { "" } else { "; the hub had it already" }
                ),
                outbox::Uploaded::Queued { upload_id, why } => format!("Upload {upload_id} is waiting and will be sent as it is later: {why}."),
            };
            Ok(Done { message, result: Value::Null })
        }
        Action::Withdraw { study: id } => {
            let mut db = ctx.open()?;
            let receipt = consent::revoke(&mut db, &id).map_err(|e| e.to_string())?;
            let m = db.membership().map_err(|e| e.to_string())?;
            let mut message = format!(
                "You left the study '{id}' at {} UTC: nothing more is collected, and uploads not yet sent were deleted here.",
                receipt.revoked_at.as_deref().unwrap_or("?")
            );
            message.push(' ');
            message.push_str(&flush_revocations(&mut db, m.as_ref()));
            Ok(Done { message: message.trim().to_string(), result: Value::Null })
        }
        Action::AskTeacher { title, program, message } => {
            let store = ctx.store.as_ref().ok_or("the coach's store is not available, so nothing can be sent")?;
            let student = store.local_student().to_string();
            let message = live::ask_blocking(store, &student, Ask { title, program, message, share_trace: true })?;
            Ok(Done { message, result: Value::Null })
        }
        Action::ReadTrace { title, limit } => {
            let states = read_states(ctx, &title)?;
            let trace = super::api::requests::trace::trace_result(title, states, limit);
            let n = trace.states.len();
            Ok(Done { message: format!("{n} saved version{} shared.", if n == 1 { " was" } else { "s were" }), result: serde_json::to_value(trace).unwrap_or(Value::Null) })
        }
    }
}

/// Sends the queued deletion requests; says what became of them.
fn flush_revocations(db: &mut Database, m: Option<&Membership>) -> String {
    match consent::flush_revocations(db, m) {
        Ok(f) => {
            let sent = f.sent.iter().map(|(s, n)| format!("The hub deleted your data in study '{s}' ({n} uploads)."));
            let waiting = f.waiting.iter().map(|(s, why)| format!("The deletion request for study '{s}' waits: {why}."));
            sent.chain(waiting).collect::<Vec<_>>().join(" ")
        }
        Err(e) => format!("The deletion requests wait: {e}."),
    }
}

/// The class joined, for the page: name, hub, the display name, the policy in words.
pub fn class_info(ctx: &Context) -> Result<Value, String> {
    let mut db = ctx.open()?;
    let Some((m, policy)) = crate::classroom::read(&mut db).map_err(|e| e.to_string())? else {
        return Ok(json!({ "joined": false }));
    };
    Ok(json!({
        "joined": true,
        "className": m.class_name,
        "hubUrl": m.hub_url,
        "displayName": m.display_name,
        "joinedAt": m.joined_at,
        "policy": policy.as_ref().map(crate::classroom::describe),
    }))
}

/// `research study list --json`.
pub fn studies(ctx: &Context) -> Result<Value, String> {
    let mut db = ctx.open()?;
    let m = db.membership().map_err(|e| e.to_string())?;
    let listed = research_cli::listed(&mut db, m.as_ref()).map_err(|e| e.to_string())?;
    serde_json::to_value(listed).map_err(|e| e.to_string())
}

/// `research study show ID --json` (an id, never a file).
pub fn study_json(ctx: &Context, id: &str) -> Result<Value, String> {
    check_study_id(id)?;
    let db = ctx.open()?;
    research_cli::study_json(&db, id, false).map_err(|e| e.to_string())
}

/// `research receipts --json`, without the study pseudonyms (a page has no use for them).
pub fn receipts(ctx: &Context) -> Result<Value, String> {
    let db = ctx.open()?;
    let receipts = db.receipts().map_err(|e| e.to_string())?;
    let mut value = serde_json::to_value(receipts).map_err(|e| e.to_string())?;
    for r in value.as_array_mut().into_iter().flatten() {
        if let Some(o) = r.as_object_mut() {
            o.remove("subject_id");
        }
    }
    Ok(value)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn study_ids_never_name_files() {
        assert!(check_study_id("loops-2").is_ok());
        for bad in ["", "../x", "/etc/passwd", "-x", "Loops", &"a".repeat(65)] {
            assert!(check_study_id(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn a_join_says_where_and_as_whom_and_refuses_bad_input() {
        let dir = tempfile::tempdir().expect("tempdir");
        let ctx = Context { data_dir: Some(dir.path().to_path_buf()), store: None };
        let mut join = Action::JoinClass { hub: "http://127.0.0.1:9/".into(), code: " ab-12 ".into(), name: " Ada ".into() };
        let words = prepare(&mut join, &ctx, "The page at https://pencil.example.org").expect("words");
        assert_eq!(join, Action::JoinClass { hub: "http://127.0.0.1:9".into(), code: "ab-12".into(), name: "Ada".into() });
        let text = words.lines.join("\n");
        assert!(text.contains("https://pencil.example.org") && text.contains("http://127.0.0.1:9") && text.contains("Ada"), "{text}");
        let mut remote_http = Action::JoinClass { hub: "http://evil.example".into(), code: "x".into(), name: "Ada".into() };
        assert!(prepare(&mut remote_http, &ctx, "p").is_err(), "plain http only to this machine");
        let mut no_code = Action::JoinClass { hub: "http://127.0.0.1:9".into(), code: " ".into(), name: "Ada".into() };
        assert!(prepare(&mut no_code, &ctx, "p").is_err());
        let mut unknown = Action::Consent { study: "loops".into(), by: ConsentBy::Student, age: None };
        assert!(prepare(&mut unknown, &ctx, "p").is_err_and(|e| e.contains("no study 'loops'")));
        let mut withdraw = Action::Withdraw { study: "loops".into() };
        assert!(prepare(&mut withdraw, &ctx, "p").is_err_and(|e| e.contains("no consent")));
    }

    #[test]
    fn asking_the_teacher_with_the_saved_versions_says_so_and_sends_them_once_confirmed() {
        let dir = tempfile::tempdir().expect("tempdir");
        let (store, _) = StoreHandle::open(dir.path()).expect("store");
        let ctx = Context { data_dir: Some(dir.path().to_path_buf()), store: Some(store.clone()) };
        let ask = Action::AskTeacher { title: "car".into(), program: "fd 3\n".into(), message: Some(" why? ".into()) };
        assert!(prepare(&mut ask.clone(), &ctx, "p").is_err_and(|e| e.contains("not in a class")), "no teacher to ask");
        let student = store.local_student().to_string();
        store
            .call_blocking(move |db| {
                db.join_class(&Membership::example())?;
                for n in 1..=2 {
                    db.record_state(&student, "car", &format!("fd {n}\n"), &format!("2026-12-07 12:00:0{n}"), crate::store::Trigger::Run)?;
                }
                Ok(())
            })
            .expect("test setup");
        let mut asked = ask.clone();
        let words = prepare(&mut asked, &ctx, "The page at http://127.0.0.1:1").expect("words");
        let text = words.lines.join("\n");
        assert!(text.contains("http://127.0.0.1:1") && text.contains("2 saved versions") && text.contains("\"7b\""), "{text}");
        assert_eq!(words.exact, Some(("Your message:".to_string(), "why?".to_string())));
        assert!(store.call_blocking(|db| db.unsent_hands()).expect("hands").is_empty(), "nothing goes before the student confirms");
        let done = execute(asked, &ctx).expect("queued");
        assert!(done.message.contains("2 earlier versions"), "{}", done.message);
        let hands = store.call_blocking(|db| db.unsent_hands()).expect("hands");
        assert_eq!(hands.len(), 1);
        assert!(hands[0].request_json.contains("fd 1") && hands[0].request_json.contains("fd 3"), "{}", hands[0].request_json);
    }
}
