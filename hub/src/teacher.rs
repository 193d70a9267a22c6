//! `pencil-hub teacher add`: creates a teacher account and its signing key.

use std::io::{BufRead, IsTerminal};

use anyhow::{bail, Context, Result};

use crate::security::{hash_password, random_bytes};
use crate::server::now;
use crate::store::Db;

pub const MIN_PASSWORD: usize = 10;

/// Reads the password: one line of stdin with `--password-stdin`, else a
/// prompt (twice) on the terminal.
pub fn read_password(from_stdin: bool) -> Result<String> {
    if from_stdin {
        let mut line = String::new();
        std::io::stdin().lock().read_line(&mut line)?;
        return Ok(line.trim_end_matches(['\r', '\n']).to_string());
    }
    if !std::io::stdin().is_terminal() {
        bail!("no terminal to ask for a password on; pass --password-stdin");
    }
    let first = rpassword::prompt_password("Password: ")?;
    let second = rpassword::prompt_password("Password again: ")?;
    if first != second {
        bail!("the passwords differ");
    }
    Ok(first)
}

pub fn add(db: &mut dyn Db, name: &str, password: &str) -> Result<i64> {
    let name = name.trim();
    if name.is_empty() || name.chars().count() > 64 || name.chars().any(char::is_control) {
        bail!("a teacher name is 1 to 64 characters");
    }
    if password.chars().count() < MIN_PASSWORD {
        bail!("the password must have at least {MIN_PASSWORD} characters");
    }
    let hash = hash_password(password)?;
    // The teacher's ed25519 key: students pin its public half when they join.
    let seed = random_bytes::<32>()?;
    db.create_teacher(name, &hash, &seed, now())
        .context("storing the teacher")?
        .with_context(|| format!("a teacher named '{name}' already exists"))
}
