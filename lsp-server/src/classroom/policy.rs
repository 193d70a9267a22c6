//! What the teacher's verified policy allows, as plain functions: the handlers
//! ask [`decide`] and tell the student the [`Withheld`] reason it returns.

use crate::coach::style_fix::HintSize as CoachHintSize;
use pencil_core::classroom::{HintSize, Policy};
use pencil_core::trace::parse_timestamp;

/// A kind of help the coach is about to give.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Help {
    /// Rule-based quick fixes.
    QuickFix,
    /// "Fix in my style" (model fixes).
    StyleFix,
    /// The backtracking hint (`pencil/hint`).
    Hint,
}

/// Hints already shown, for the quotas.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct HintCounts {
    /// For this title.
    pub per_title: u32,
    /// In the last hour.
    pub last_hour: u32,
}

/// Why the policy withholds some help.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Withheld {
    QuizMode,
    HintsOff,
    TitleQuota(u32),
    HourQuota(u32),
}

impl Withheld {
    /// A stable key, for telling the student once per reason.
    pub fn key(self) -> &'static str {
        match self {
            Withheld::QuizMode => "quiz",
            Withheld::HintsOff => "hints-off",
            Withheld::TitleQuota(_) => "title-quota",
            Withheld::HourQuota(_) => "hour-quota",
        }
    }

    /// What the student reads.
    pub fn message(self, class_name: &str) -> String {
        let why = match self {
            Withheld::QuizMode => {
                "quiz mode is on: no fixes and no hints are shown; your runs are still checked".to_string()
            }
            Withheld::HintsOff => "hints are turned off for now".to_string(),
            Withheld::TitleQuota(n) => format!("you have used the {n} hint{} allowed for this program", plural(n)),
            Withheld::HourQuota(n) => format!("you have used the {n} hint{} allowed per hour", plural(n)),
        };
        format!("Pencil coach: your teacher's policy for class \"{class_name}\" applies: {why}.")
    }
}

fn plural(n: u32) -> &'static str {
    if n == 1 { "" } else { "s" }
}

/// Allowed, or withheld with the reason. No policy (no class joined): everything is allowed.
pub fn decide(policy: Option<&Policy>, help: Help, counts: HintCounts) -> Result<(), Withheld> {
    let Some(p) = policy else { return Ok(()) };
    if p.quiz_mode {
        return Err(Withheld::QuizMode);
    }
    if help != Help::Hint {
        return Ok(());
    }
    if !p.hints_enabled {
        return Err(Withheld::HintsOff);
    }
    if let Some(limit) = p.hints_per_title.filter(|&limit| counts.per_title >= limit) {
        return Err(Withheld::TitleQuota(limit));
    }
    if let Some(limit) = p.hints_per_hour.filter(|&limit| counts.last_hour >= limit) {
        return Err(Withheld::HourQuota(limit));
    }
    Ok(())
}

/// The student's `hintSize` setting, no larger than the policy allows.
pub fn clamp_hint_size(policy: Option<&Policy>, wanted: CoachHintSize) -> CoachHintSize {
    let Some(p) = policy else { return wanted };
    let max = match p.max_hint_size {
        HintSize::Small => CoachHintSize::Small,
        HintSize::Medium => CoachHintSize::Medium,
        HintSize::Large => CoachHintSize::Large,
    };
    let rank = |s: CoachHintSize| match s {
        CoachHintSize::Small => 0,
        CoachHintSize::Medium => 1,
        CoachHintSize::Large => 2,
    };
    if rank(wanted) > rank(max) { max } else { wanted }
}

/// When `title` is an assignment outside its open/close window at `now` (Unix
/// seconds): what to tell the student. The program still runs.
pub fn assignment_notice(policy: Option<&Policy>, title: &str, now: i64) -> Option<String> {
    let a = policy?.assignments.iter().find(|a| a.title == title)?;
    if let Some(opens) = a.opens.as_deref().filter(|o| parse_rfc3339(o).is_some_and(|t| now < t)) {
        return Some(format!("Pencil coach: the assignment \"{title}\" opens at {opens}; your runs are recorded as usual."));
    }
    if let Some(closes) = a.closes.as_deref().filter(|c| parse_rfc3339(c).is_some_and(|t| now >= t)) {
        return Some(format!("Pencil coach: the assignment \"{title}\" closed at {closes}; your runs are recorded as usual."));
    }
    None
}

/// Unix seconds of an RFC 3339 time (`2026-12-07T09:00:00Z`, `...+01:00`, fractions ignored).
pub fn parse_rfc3339(s: &str) -> Option<i64> {
    let (head, rest) = (s.get(..19)?, s.get(19..)?);
    if !matches!(head.as_bytes()[10], b'T' | b't' | b' ') {
        return None;
    }
    let local = parse_timestamp(&format!("{} {}", &head[..10], &head[11..]))?;
    let rest = rest.strip_prefix('.').map_or(rest, |r| r.trim_start_matches(|c: char| c.is_ascii_digit()));
    let offset = match rest {
        "Z" | "z" => 0,
        _ => {
            let sign = match rest.as_bytes().first()? {
                b'+' => 1,
                b'-' => -1,
                _ => return None,
            };
            let (h, m) = rest[1..].split_once(':')?;
            sign * (h.parse::<i64>().ok()? * 3600 + m.parse::<i64>().ok()? * 60)
        }
    };
    Some(local - offset)
}

#[cfg(test)]
mod tests {
    use super::*;
    use pencil_core::classroom::Assignment;

    fn policy() -> Policy {
        Policy::default_for(1)
    }

    #[test]
    fn no_class_allows_everything_and_quiz_mode_withholds_everything() {
        for help in [Help::QuickFix, Help::StyleFix, Help::Hint] {
            assert_eq!(decide(None, help, HintCounts { per_title: 99, last_hour: 99 }), Ok(()));
            let mut p = policy();
            p.quiz_mode = true;
            assert_eq!(decide(Some(&p), help, HintCounts::default()), Err(Withheld::QuizMode));
        }
    }

    #[test]
    fn hints_off_and_quotas_withhold_only_hints() {
        let mut p = policy();
        p.hints_enabled = false;
        assert_eq!(decide(Some(&p), Help::Hint, HintCounts::default()), Err(Withheld::HintsOff));
        assert_eq!(decide(Some(&p), Help::QuickFix, HintCounts::default()), Ok(()));
        let mut p = policy();
        p.hints_per_title = Some(2);
        p.hints_per_hour = Some(5);
        assert_eq!(decide(Some(&p), Help::Hint, HintCounts { per_title: 1, last_hour: 4 }), Ok(()));
        assert_eq!(decide(Some(&p), Help::Hint, HintCounts { per_title: 2, last_hour: 0 }), Err(Withheld::TitleQuota(2)));
        assert_eq!(decide(Some(&p), Help::Hint, HintCounts { per_title: 0, last_hour: 5 }), Err(Withheld::HourQuota(5)));
        assert_eq!(decide(Some(&p), Help::StyleFix, HintCounts { per_title: 9, last_hour: 9 }), Ok(()));
        assert!(Withheld::TitleQuota(1).message("7b").contains("the 1 hint allowed for this program"));
    }

    #[test]
    fn hint_size_is_clamped_to_the_policy() {
        let mut p = policy();
        p.max_hint_size = HintSize::Small;
        assert_eq!(clamp_hint_size(Some(&p), CoachHintSize::Large), CoachHintSize::Small);
        p.max_hint_size = HintSize::Large;
        assert_eq!(clamp_hint_size(Some(&p), CoachHintSize::Medium), CoachHintSize::Medium);
        assert_eq!(clamp_hint_size(None, CoachHintSize::Large), CoachHintSize::Large);
    }

    #[test]
    fn assignments_outside_their_window_are_noticed() {
        let mut p = policy();
        p.assignments.push(Assignment {
            title: "car".into(),
            opens: Some("2026-12-07T09:00:00Z".into()),
            closes: Some("2026-12-08T15:30:00+01:00".into()),
        });
        let opens = parse_rfc3339("2026-12-07T09:00:00Z").expect("test setup");
        let closes = parse_rfc3339("2026-12-08T14:30:00Z").expect("test setup");
        assert_eq!(parse_rfc3339("2026-12-08T15:30:00+01:00"), Some(closes));
        assert_eq!(parse_rfc3339("2026-12-07T09:00:00.250Z"), Some(opens));
        assert!(assignment_notice(Some(&p), "car", opens - 1).expect("test setup").contains("opens at"));
        assert_eq!(assignment_notice(Some(&p), "car", opens), None);
        assert!(assignment_notice(Some(&p), "car", closes).expect("test setup").contains("closed at"));
        assert_eq!(assignment_notice(Some(&p), "house", 0), None);
        assert_eq!(parse_rfc3339("next monday"), None);
    }
}
