//! The `class` tool: join a teacher's class, see which policy is in force, leave.

use crate::classroom::hub::{self, normalize_hub_url};
use crate::classroom::{describe, read};
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
    /// Forget the class, its policy and the events not sent yet.
    Leave,
}

/// Runs the tool, printing to `out`.
pub fn run(args: &Args, out: &mut dyn Write) -> anyhow::Result<()> {
    let dir = data_dir(args.data_dir.clone())?;
    match &args.action {
        Action::Join { code, hub, name } => join(&dir, code, hub, name, out),
        Action::Show => show(&dir, out),
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
    Ok(())
}
