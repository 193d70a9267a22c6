//! The disclosure audit log: every release written, every deletion manifest
//! handed out and every revocation is a line in the hub database's
//! `audit_log` (time, action, who or what did it, study, format, subjects,
//! rows, each file's SHA-256), appended in the same transaction as the act
//! where there is one. `pencil-hub audit --study ID` prints it.

use std::fmt::Write as _;

use crate::release::rfc3339;
use crate::store::AuditEntry;

/// Who runs this command: the login name (from the environment) and the command line.
pub fn actor(args: impl IntoIterator<Item = String>) -> String {
    let user = std::env::var("USER")
        .or_else(|_| std::env::var("LOGNAME"))
        .unwrap_or_else(|_| "unknown user".into());
    let command: Vec<String> = args.into_iter().collect();
    format!("{user}: {}", command.join(" "))
}

/// One line per entry, then its files' SHA-256 indented below it.
pub fn render(entries: &[AuditEntry]) -> String {
    let mut out = String::new();
    for e in entries {
        let _ = writeln!(
            out,
            "{}  {:<17} {:<9} subjects {:>5}  rows {:>8}  by {}",
            rfc3339(e.at),
            e.action,
            e.format.as_deref().unwrap_or("-"),
            e.subjects,
            e.rows,
            e.actor
        );
        let files: std::collections::BTreeMap<String, String> = serde_json::from_str(&e.sha256s_json).unwrap_or_default();
        for (name, sha) in files {
            let _ = writeln!(out, "    sha256 {sha}  {name}");
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entries_print_with_their_files() {
        let e = AuditEntry {
            at: 0,
            action: "release".into(),
            actor: "ana: pencil-hub release".into(),
            study_id: "s".into(),
            format: Some("jsonl".into()),
            subjects: 3,
            rows: 12,
            sha256s_json: r#"{"traces.jsonl.gz":"ab"}"#.into(),
        };
        let text = render(&[e]);
        assert!(text.starts_with("1970-01-01T00:00:00Z  release"), "{text}");
        assert!(text.contains("subjects     3") && text.contains("sha256 ab  traces.jsonl.gz"), "{text}");
    }
}
