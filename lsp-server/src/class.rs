//! The `class` tool: join a teacher's class, see which policy is in force, ask the
//! teacher for help and read the replies, leave.

use crate::classroom::hands::{describe_hands, raise_hand, Ask};
use crate::classroom::hub::{self, normalize_hub_url};
use crate::classroom::sync::sync_hands;
use crate::classroom::{describe, read};
use crate::store::StoreHandle;
use crate::clock::now_timestamp;
use crate::data::{data_dir, open};
use crate::store::Membership;
use anyhow::Context;
use pencil_core::classroom::{normalize_display_name, verify, PolicyPin};
use std::io::Write;
use std::path::{Path, PathBuf};

/// `pencil-lsp class ...`
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Store directory (default: $PENCIL_DATA_DIR, else the platform's user data directory).
    #[arg(long, global = true)]
    pub data_dir: Option<PathBuf>,
    #[command(subcommand)]
    pub action: Action,
}

#[derive(Debug, clap::Subcommand)]
pub enum Action {
    /// Join a class with the code your teacher gave you.
    Join {
        /// The join code (case and dashes do not matter).
        code: String,
        /// The hub's address: https://host[:port], or http:// only to this machine.
        #[arg(long)]
        hub: String,
        /// The name your teacher sees (a nickname is fine; no e-mail addresses).
        #[arg(long)]
        name: String,
    },
    /// Which class, which policy is in force and since when, events waiting to be sent.
    Show,
    /// Ask your teacher for help with a program: it is sent to the class's hub
    /// (now, or as soon as the hub can be reached), with your message.
    Ask {
        /// The program's title (its file name without the extension).
        #[arg(long)]
        title: String,
        /// The program file (default: read the program from stdin).
        #[arg(long)]
        file: Option<PathBuf>,
        /// What you want to tell your teacher (for example what you think is wrong).
        #[arg(long)]
        message: Option<String>,
        /// Also send the earlier versions of this title recorded on this computer.
        #[arg(long)]
        share_trace: bool,
    },
    /// Your raised hands and your teacher's replies (new replies are fetched first).
    Hands,
    /// Forget the class, its policy and the events not sent yet.
    Leave,
}

/// Runs the tool, printing to `out`.
pub fn run(args: &Args, out: &mut dyn Write) -> anyhow::Result<()> {
    let dir = data_dir(args.data_dir.clone())?;
    match &args.action {
        Action::Join { code, hub, name } => join(&dir, code, hub, name, out),
        Action::Show => show(&dir, out),
        Action::Ask { title, file, message, share_trace } => {
            let program = match file {
                Some(f) => std::fs::read_to_string(f).with_context(|| format!("reading {}", f.display()))?,
                None => std::io::read_to_string(std::io::stdin()).context("reading the program from stdin")?,
            };
            let ask = Ask { title: title.clone(), program, message: message.clone(), share_trace: *share_trace };
            ask_teacher(&dir, &ask, out)
        }
        Action::Hands => hands(&dir, out),
        Action::Leave => {
            let mut db = open(&dir)?;
            if db.leave_class()? {
                writeln!(out, "Left the class; its policy and the events not yet sent are deleted.")?;
            } else {
                writeln!(out, "Not in a class.")?;
            }
            Ok(())
        }
    }
}

fn join(dir: &Path, code: &str, hub_url: &str, name: &str, out: &mut dyn Write) -> anyhow::Result<()> {
    let hub_url = normalize_hub_url(hub_url)?;
    let name = normalize_display_name(name).map_err(|e| anyhow::anyhow!("--name: {e}"))?;
    let mut db = open(dir)?;
    let joined = hub::join(&hub_url, code, &name).context("joining the class")?;
    let mut m = Membership {
        hub_url: hub_url.clone(),
        class_id: joined.class_id,
        class_name: joined.class_name.clone(),
        display_name: name.clone(),
        device_token: joined.device_token.clone(),
        teacher_key: joined.teacher_key.clone(),
        joined_at: now_timestamp(),
        policy_json: None,
        policy_serial: 0,
        policy_since: None,
    };
    pencil_core::classroom::decode_key(&m.teacher_key)
        .map_err(|e| anyhow::anyhow!("the hub's answer was not understood: {e}"))?;
    // The first policy now, so the class's rules hold from the first run even offline.
    let policy_note = match hub::policy(&hub_url, &m.device_token) {
        Ok(signed) => {
            let pin = PolicyPin { teacher_key: m.teacher_key.clone(), class_id: m.class_id, serial: 0 };
            match verify(&signed, &pin) {
                Ok(p) => {
                    m.policy_serial = p.serial;
                    m.policy_json = Some(serde_json::to_string(&signed)?);
                    m.policy_since = Some(now_timestamp());
                    None
                }
                Err(e) => Some(format!("the class policy was refused ({e}); it will be fetched again")),
            }
        }
        Err(e) => Some(format!("the class policy could not be fetched yet ({e}); it will be fetched later")),
    };
    if let Some(old) = db.membership()? {
        let unsent = db.queued_event_count()?;
        writeln!(out, "Leaving class \"{}\" on {} ({unsent} unsent events are dropped).", old.class_name, old.hub_url)?;
    }
    db.join_class(&m)?;
    writeln!(out, "Joined class \"{}\" (id {}) on {hub_url} as \"{name}\".", m.class_name, m.class_id)?;
    writeln!(out, "Teacher key pinned: {}", m.teacher_key)?;
    if let Some(note) = policy_note {
        writeln!(out, "Note: {note}")?;
    }
    drop(db);
    show(dir, out)
}

fn show(dir: &Path, out: &mut dyn Write) -> anyhow::Result<()> {
    let mut db = open(dir)?;
    let Some((m, policy)) = read(&mut db)? else {
        writeln!(out, "Not in a class. Join one with: pencil-lsp class join CODE --hub URL --name NAME")?;
        return Ok(());
    };
    writeln!(out, "Class \"{}\" (id {}) on {}, joined {} UTC as \"{}\"", m.class_name, m.class_id, m.hub_url, m.joined_at, m.display_name)?;
    match policy {
        Some(p) => {
            writeln!(out, "Policy in force since {} UTC:", m.policy_since.as_deref().unwrap_or("?"))?;
            for line in describe(&p) {
                writeln!(out, "  {line}")?;
            }
        }
        None => writeln!(out, "No policy received yet: the coach helps as usual until one arrives.")?,
    }
    writeln!(out, "Events waiting to be sent: {}", db.queued_event_count()?)?;
    let hands = db.hands()?;
    if !hands.is_empty() {
        writeln!(out, "Hands raised: {} ({} with a reply); see them with: pencil-lsp class hands", hands.len(), hands.iter().filter(|h| h.reply.is_some()).count())?;
    }
    Ok(())
}

fn ask_teacher(dir: &Path, ask: &Ask, out: &mut dyn Write) -> anyhow::Result<()> {
    let mut db = open(dir)?;
    let student = db.local_student()?;
    let raised = raise_hand(&mut db, &student, ask, crate::clock::now_unix())?;
    drop(db);
    let with = match raised.states {
        0 => String::new(),
        n => format!(" with {n} earlier version{}", if n == 1 { "" } else { "s" }),
    };
    writeln!(out, "Hand raised in class \"{}\" for \"{}\"{with}.", raised.class_name, ask.title)?;
    let (store, _) = StoreHandle::open(dir)?;
    match sync_hands(&store) {
        Ok(s) if s.refused.is_empty() => writeln!(out, "Sent to your teacher. See replies with: pencil-lsp class hands")?,
        Ok(s) => s.refused.iter().try_for_each(|r| writeln!(out, "{r}"))?,
        Err(e) => writeln!(out, "Not sent yet ({e}); the coach sends it when the hub can be reached.")?,
    }
    Ok(())
}

fn hands(dir: &Path, out: &mut dyn Write) -> anyhow::Result<()> {
    drop(open(dir)?);
    let (store, _) = StoreHandle::open(dir)?;
    let Some(m) = store.call_blocking(|db| db.membership())? else {
        writeln!(out, "Not in a class. Join one with: pencil-lsp class join CODE --hub URL --name NAME")?;
        return Ok(());
    };
    if let Err(e) = sync_hands(&store) {
        writeln!(out, "(The hub could not be asked for new replies: {e}. Showing what is stored.)")?;
    }
    writeln!(out, "Hands raised in class \"{}\":", m.class_name)?;
    for line in describe_hands(&store.call_blocking(|db| db.hands())?) {
        writeln!(out, "{line}")?;
    }
    Ok(())
}
