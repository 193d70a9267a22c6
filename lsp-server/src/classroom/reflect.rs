//! "Reflect first": under a policy with `reflect_first`, the fixes for a failing
//! program wait until the student has written what they think is wrong, for this
//! title and its current error. The reflection stays in the local store; it leaves
//! the machine only if the student copies it into a raised hand.

use pencil_core::classroom::{Policy, MAX_HAND_MESSAGE};

/// Fewest characters a reflection must have (a word or two, not a keystroke).
pub const MIN_REFLECTION_CHARS: usize = 3;

/// Whether the fixes for a run may be shown.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FixGate {
    Show,
    /// Withheld until the student writes what they think is wrong.
    NeedsReflection,
}

/// The key of a run's error: its class and message (not its line, which moves as
/// the student edits above it).
pub fn error_key(kind: &str, message: &str) -> String {
    format!("{kind}: {message}")
}

/// Fixes are withheld when the policy asks to reflect first, the run failed
/// (`error_key` is some) and nothing was written for this title and error yet.
pub fn fix_gate(policy: Option<&Policy>, error_key: Option<&str>, reflected: bool) -> FixGate {
    match (policy, error_key) {
        (Some(p), Some(_)) if p.reflect_first && !reflected => FixGate::NeedsReflection,
        _ => FixGate::Show,
    }
}

/// What the student reads when fixes wait for their reflection.
pub fn withheld_message(class_name: &str) -> String {
    format!(
        "Pencil coach: your teacher's policy for class \"{class_name}\" asks you to reflect first: \
         write what you think is wrong before fixes are shown (the quick-fix menu has \"Write what you think is wrong\"). \
         What you write stays on this computer."
    )
}

/// The code action's title.
pub const ACTION_TITLE: &str = "Write what you think is wrong (your teacher asks for this before fixes are shown)";

/// Trims a reflection and checks its length; the error says what to do.
pub fn check_text(text: &str) -> Result<String, String> {
    let t = text.trim();
    let n = t.chars().count();
    if n < MIN_REFLECTION_CHARS {
        return Err(format!("write a few words (at least {MIN_REFLECTION_CHARS} characters) about what you think is wrong"));
    }
    if n > MAX_HAND_MESSAGE {
        return Err(format!("that is more than {MAX_HAND_MESSAGE} characters; a sentence or two is enough"));
    }
    Ok(t.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(reflect_first: bool, error: Option<&str>, reflected: bool, expected: FixGate) {
        let mut p = Policy::default_for(1);
        p.reflect_first = reflect_first;
        assert_eq!(fix_gate(Some(&p), error, reflected), expected, "reflect_first {reflect_first}, error {error:?}, reflected {reflected}");
    }

    #[test]
    fn fixes_wait_only_for_a_failing_run_under_reflect_first_until_written() {
        let e = Some("ReferenceError: lightbleu is not defined");
        check(true, e, false, FixGate::NeedsReflection);
        check(true, e, true, FixGate::Show);
        check(true, None, false, FixGate::Show);
        check(false, e, false, FixGate::Show);
        assert_eq!(fix_gate(None, e, false), FixGate::Show, "no class: no policy");
    }

    #[test]
    fn the_error_key_ignores_the_line_and_reflections_need_a_few_words() {
        assert_eq!(error_key("ReferenceError", "x is not defined"), "ReferenceError: x is not defined");
        assert_eq!(check_text("  the colour is misspelled \n").as_deref(), Ok("the colour is misspelled"));
        assert!(check_text(" ok").is_err_and(|e| e.contains("at least 3")));
        assert!(check_text(&"x".repeat(MAX_HAND_MESSAGE + 1)).is_err());
        assert!(withheld_message("7b").contains("\"7b\"") && withheld_message("7b").contains("stays on this computer"));
    }
}
