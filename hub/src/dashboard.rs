//! What a teacher reads on the class dashboard, computed from the stored
//! run events and raised hands: one tile per student with its alerts, whom
//! to help next, the class's error types, progress per title, and how often
//! each kind of hint was followed by a recovery. Plain data in, plain data
//! out, so every rule here is tested without a server or a database.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};

use crate::store::{DeviceSummary, EventRow, HandRow};

/// Failing runs in a row that make a student "stuck".
pub const STUCK_RUNS: usize = 3;
/// A hint counts as followed by a recovery when one of this many runs on the
/// same title, starting with the run that reported the hint, succeeded.
pub const RECOVERY_RUNS: usize = 3;
/// Of a student's latest hints, how many dismissed ones raise the alert.
pub const DISMISSED_ALERT: usize = 2;
/// ... out of this many latest hints.
pub const DISMISSED_WINDOW: usize = 3;

/// Why a student's tile asks for attention; the order is the priority.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Alert {
    /// The student pressed "Ask my teacher" and nobody has answered yet.
    Hand,
    /// Several failing runs in a row.
    Stuck,
    /// The last run failed and the coach rated it at high backtracking risk.
    HighRisk,
    /// The student keeps dismissing hints.
    HintsDismissed,
    /// No run for longer than the idle limit.
    Idle,
}

impl Alert {
    /// The label on the tile (also its CSS class).
    pub fn label(self) -> &'static str {
        match self {
            Alert::Hand => "hand",
            Alert::Stuck => "stuck",
            Alert::HighRisk => "risk",
            Alert::HintsDismissed => "dismissing hints",
            Alert::Idle => "idle",
        }
    }

    /// CSS class of the alert.
    pub fn css(self) -> &'static str {
        match self {
            Alert::Hand => "hand",
            Alert::Stuck => "stuck",
            Alert::HighRisk => "risk",
            Alert::HintsDismissed => "dismissed",
            Alert::Idle => "idle",
        }
    }
}

/// One student's tile.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Tile {
    pub device_id: i64,
    pub name: String,
    pub title: Option<String>,
    pub runs: u64,
    pub last_success_at: Option<i64>,
    /// Failing runs in a row, ending with the latest run.
    pub failing_streak: usize,
    /// Sorted by priority, most urgent first.
    pub alerts: Vec<Alert>,
    /// When the oldest open hand was received.
    pub hand_since: Option<i64>,
}

/// A line of "whom to help next".
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HelpNext {
    pub name: String,
    pub reason: String,
}

/// How often one error class occurred in the window.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ErrorCount {
    pub error_class: String,
    pub runs: usize,
    pub students: usize,
}

/// Progress on one title.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TitleProgress {
    pub title: String,
    /// Students who ran it at least once.
    pub started: usize,
    /// Students with a successful run of it.
    pub succeeded: usize,
    pub runs: usize,
}

/// Whether hints of one kind were followed by a recovery.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HintHelp {
    /// `HintKind::as_str`, or "unknown" for clients that did not say.
    pub kind: String,
    /// Hints whose outcome is known (enough runs followed, or one succeeded).
    pub decided: usize,
    pub recovered: usize,
    /// Hints too recent to judge.
    pub pending: usize,
    pub accepted: usize,
    pub dismissed: usize,
}

impl HintHelp {
    /// Share recovered among decided hints.
    pub fn rate(&self) -> Option<f64> {
        (self.decided > 0).then(|| self.recovered as f64 / self.decided as f64)
    }
}

/// The whole dashboard of one class.
#[derive(Debug, Clone, PartialEq)]
pub struct ClassView {
    /// Hands first, then by alert priority, then by name.
    pub tiles: Vec<Tile>,
    pub help_next: Vec<HelpNext>,
    pub errors: Vec<ErrorCount>,
    pub titles: Vec<TitleProgress>,
    pub hint_help: Vec<HintHelp>,
}

/// Most entries in "whom to help next".
const HELP_NEXT: usize = 3;

fn is_failure(status: &str) -> bool {
    status == "error" || status == "timeout"
}

/// Builds the dashboard. `events` are the class's recent events in arrival
/// order; `hands` the open hands; times are unix seconds on the hub's clock.
pub fn class_view(
    devices: Vec<DeviceSummary>,
    events: &[EventRow],
    hands: &[HandRow],
    now: i64,
    idle_after_secs: i64,
) -> ClassView {
    let mut by_device: HashMap<i64, Vec<&EventRow>> = HashMap::new();
    for e in events {
        by_device.entry(e.device_id).or_default().push(e);
    }
    let mut oldest_hand: HashMap<i64, i64> = HashMap::new();
    for h in hands.iter().filter(|h| !h.resolved && h.reply.is_none()) {
        let at = oldest_hand.entry(h.device_id).or_insert(h.received_at);
        *at = (*at).min(h.received_at);
    }
    let mut tiles: Vec<Tile> = devices
        .into_iter()
        .map(|d| {
            let id = d.device_id;
            let own = by_device.get(&id).map(Vec::as_slice).unwrap_or(&[]);
            tile(d, own, oldest_hand.get(&id).copied(), now, idle_after_secs)
        })
        .collect();
    tiles.sort_by(|a, b| {
        let key = |t: &Tile| (t.alerts.first().copied().map_or(u8::MAX, |a| a as u8), t.hand_since, t.name.clone());
        key(a).cmp(&key(b))
    });
    ClassView {
        help_next: help_next(&tiles, now),
        errors: error_counts(events),
        titles: title_progress(events),
        hint_help: hint_help(&by_device),
        tiles,
    }
}

fn tile(d: DeviceSummary, own: &[&EventRow], hand_since: Option<i64>, now: i64, idle_after_secs: i64) -> Tile {
    let failing_streak = if own.is_empty() {
        d.recent_statuses.iter().take_while(|s| is_failure(s)).count()
    } else {
        own.iter().rev().take_while(|e| is_failure(&e.status)).count()
    };
    let mut alerts = Vec::new();
    if hand_since.is_some() {
        alerts.push(Alert::Hand);
    }
    if failing_streak >= STUCK_RUNS {
        alerts.push(Alert::Stuck);
    }
    if let Some(last) = own.last() {
        if is_failure(&last.status) && last.risk_bucket.as_deref() == Some("high") {
            alerts.push(Alert::HighRisk);
        }
    }
    let outcomes: Vec<&str> = own.iter().rev().filter_map(|e| e.hint.as_deref()).take(DISMISSED_WINDOW).collect();
    if outcomes.iter().filter(|o| **o == "dismissed").count() >= DISMISSED_ALERT {
        alerts.push(Alert::HintsDismissed);
    }
    if now - d.last_event_at.unwrap_or(d.joined_at) >= idle_after_secs {
        alerts.push(Alert::Idle);
    }
    Tile {
        device_id: d.device_id,
        name: d.display_name,
        title: d.current_title,
        runs: d.runs,
        last_success_at: d.last_success_at,
        failing_streak,
        alerts,
        hand_since,
    }
}

fn help_next(tiles: &[Tile], now: i64) -> Vec<HelpNext> {
    tiles
        .iter()
        .filter_map(|t| {
            let on = t.title.as_deref().map(|s| format!(" on \u{201c}{s}\u{201d}")).unwrap_or_default();
            let reason = match t.alerts.first()? {
                Alert::Hand => format!("asked for help {}", crate::html::ago(now - t.hand_since.unwrap_or(now))),
                Alert::Stuck => format!("{} failing runs in a row{on}", t.failing_streak),
                Alert::HighRisk => format!("failing and likely moving away from the goal{on}"),
                Alert::HintsDismissed => "keeps dismissing hints".to_string(),
                // Idle alone is not a reason to walk over first.
                Alert::Idle => return None,
            };
            Some(HelpNext { name: t.name.clone(), reason })
        })
        .take(HELP_NEXT)
        .collect()
}

fn error_counts(events: &[EventRow]) -> Vec<ErrorCount> {
    let mut counts: BTreeMap<&str, (usize, BTreeSet<i64>)> = BTreeMap::new();
    for e in events.iter().filter(|e| is_failure(&e.status)) {
        let class = e.error_class.as_deref().unwrap_or(if e.status == "timeout" { "timeout" } else { "other" });
        let entry = counts.entry(class).or_default();
        entry.0 += 1;
        entry.1.insert(e.device_id);
    }
    let mut out: Vec<ErrorCount> = counts
        .into_iter()
        .map(|(c, (runs, who))| ErrorCount { error_class: c.to_string(), runs, students: who.len() })
        .collect();
    out.sort_by(|a, b| b.runs.cmp(&a.runs).then_with(|| a.error_class.cmp(&b.error_class)));
    out
}

fn title_progress(events: &[EventRow]) -> Vec<TitleProgress> {
    /// One title as the events are read: when the class first ran it, who ran it, who succeeded.
    #[derive(Default)]
    struct Seen {
        first: i64,
        started: HashSet<i64>,
        succeeded: HashSet<i64>,
        runs: usize,
    }
    let mut titles: HashMap<&str, Seen> = HashMap::new();
    for e in events {
        let entry = titles.entry(&e.title).or_insert_with(|| Seen { first: e.seq, ..Seen::default() });
        entry.started.insert(e.device_id);
        if e.status == "ok" {
            entry.succeeded.insert(e.device_id);
        }
        entry.runs += 1;
    }
    let mut out: Vec<(i64, TitleProgress)> = titles
        .into_iter()
        .map(|(title, t)| {
            (t.first, TitleProgress { title: title.to_string(), started: t.started.len(), succeeded: t.succeeded.len(), runs: t.runs })
        })
        .collect();
    // In the order the class met them, as an assignment list reads.
    out.sort_by_key(|(first, _)| *first);
    out.into_iter().map(|(_, t)| t).collect()
}

fn hint_help(by_device: &HashMap<i64, Vec<&EventRow>>) -> Vec<HintHelp> {
    let mut kinds: BTreeMap<String, HintHelp> = BTreeMap::new();
    for runs in by_device.values() {
        for (i, e) in runs.iter().enumerate() {
            let Some(outcome) = e.hint.as_deref() else { continue };
            let kind = e.hint_kind.clone().unwrap_or_else(|| "unknown".into());
            let entry = kinds.entry(kind.clone()).or_insert_with(|| HintHelp {
                kind,
                decided: 0,
                recovered: 0,
                pending: 0,
                accepted: 0,
                dismissed: 0,
            });
            match outcome {
                "accepted" => entry.accepted += 1,
                "dismissed" => entry.dismissed += 1,
                _ => {}
            }
            let window: Vec<&&EventRow> =
                runs[i..].iter().filter(|r| r.title == e.title).take(RECOVERY_RUNS).collect();
            if window.iter().any(|r| r.status == "ok") {
                entry.decided += 1;
                entry.recovered += 1;
            } else if window.len() == RECOVERY_RUNS {
                entry.decided += 1;
            } else {
                entry.pending += 1;
            }
        }
    }
    kinds.into_values().collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn device(id: i64, name: &str, last_event_at: Option<i64>) -> DeviceSummary {
        DeviceSummary {
            device_id: id,
            display_name: name.into(),
            joined_at: 0,
            runs: 0,
            current_title: Some("car".into()),
            last_event_at,
            last_success_at: None,
            recent_statuses: Vec::new(),
        }
    }

    fn run(device_id: i64, seq: i64, title: &str, status: &str) -> EventRow {
        EventRow {
            device_id,
            seq,
            received_at: 1000 + seq,
            title: title.into(),
            status: status.into(),
            error_class: (status == "error").then(|| "ReferenceError".into()),
            risk_bucket: None,
            hint: None,
            hint_kind: None,
        }
    }

    fn hinted(mut e: EventRow, outcome: &str, kind: &str) -> EventRow {
        e.hint = Some(outcome.into());
        e.hint_kind = Some(kind.into());
        e
    }

    fn hand(device_id: i64, seq: i64, received_at: i64) -> HandRow {
        HandRow {
            seq,
            device_id,
            display_name: String::new(),
            hand_id: format!("h{seq}"),
            title: "car".into(),
            program: "fd 100".into(),
            message: None,
            trace_json: None,
            received_at,
            reply: None,
            replied_at: None,
            resolved: false,
        }
    }

    #[test]
    fn hands_come_first_then_stuck_then_risk_then_idle_then_the_rest() {
        let now = 2000;
        let devices = vec![
            device(1, "Ada", Some(1990)),
            device(2, "Bo", Some(1990)),
            device(3, "Cy", Some(1000)),
            device(4, "Di", Some(1990)),
            device(5, "Ed", Some(1990)),
        ];
        let mut risky = run(4, 20, "car", "error");
        risky.risk_bucket = Some("high".into());
        let events = vec![
            run(2, 1, "car", "error"),
            run(2, 2, "car", "error"),
            run(2, 3, "car", "timeout"),
            run(5, 4, "car", "ok"),
            risky,
        ];
        let view = class_view(devices, &events, &[hand(5, 1, 1500)], now, 120);
        let order: Vec<&str> = view.tiles.iter().map(|t| t.name.as_str()).collect();
        assert_eq!(order, ["Ed", "Bo", "Di", "Cy", "Ada"]);
        assert_eq!(view.tiles[0].alerts, [Alert::Hand]);
        assert_eq!(view.tiles[1].alerts, [Alert::Stuck]);
        assert_eq!(view.tiles[1].failing_streak, 3);
        assert_eq!(view.tiles[2].alerts, [Alert::HighRisk]);
        assert_eq!(view.tiles[3].alerts, [Alert::Idle]);
        assert!(view.tiles[4].alerts.is_empty());
        let next: Vec<&str> = view.help_next.iter().map(|h| h.name.as_str()).collect();
        assert_eq!(next, ["Ed", "Bo", "Di"], "idle students are not in 'help next'");
        assert!(view.help_next[1].reason.starts_with("3 failing runs"), "{:?}", view.help_next[1]);
    }

    #[test]
    fn a_replied_or_resolved_hand_no_longer_raises_the_alert() {
        let mut replied = hand(1, 1, 1500);
        replied.reply = Some("look at line 2".into());
        let mut resolved = hand(1, 2, 1600);
        resolved.resolved = true;
        let view = class_view(vec![device(1, "Ada", Some(1990))], &[], &[replied, resolved], 2000, 120);
        assert!(view.tiles[0].alerts.is_empty());
    }

    #[test]
    fn dismissing_two_of_the_last_three_hints_raises_an_alert() {
        let events = vec![
            hinted(run(1, 1, "car", "error"), "dismissed", "rule_fix"),
            hinted(run(1, 2, "car", "error"), "shown", "rule_fix"),
            hinted(run(1, 3, "car", "error"), "dismissed", "risk_flag"),
        ];
        let view = class_view(vec![device(1, "Ada", Some(1990))], &events, &[], 2000, 120);
        assert!(view.tiles[0].alerts.contains(&Alert::HintsDismissed), "{:?}", view.tiles[0].alerts);
    }

    #[test]
    fn hint_recovery_is_counted_per_kind_over_the_next_runs_of_the_same_title() {
        let events = vec![
            // Rule fix accepted, the run with it succeeds: recovered.
            hinted(run(1, 1, "car", "error"), "accepted", "rule_fix"),
            run(1, 2, "car", "ok"),
            // Style fix shown, three failing runs of its title follow (a run of
            // another title in between does not count): not recovered.
            hinted(run(2, 3, "car", "error"), "shown", "style_fix"),
            run(2, 4, "tree", "ok"),
            run(2, 5, "car", "error"),
            run(2, 6, "car", "error"),
            // Risk flag on the last run so far: too early to tell.
            hinted(run(3, 7, "car", "error"), "dismissed", "risk_flag"),
        ];
        let devices = (1..=3).map(|i| device(i, &format!("s{i}"), Some(1990))).collect();
        let view = class_view(devices, &events, &[], 2000, 120);
        let by_kind: HashMap<&str, &HintHelp> = view.hint_help.iter().map(|h| (h.kind.as_str(), h)).collect();
        assert_eq!((by_kind["rule_fix"].decided, by_kind["rule_fix"].recovered, by_kind["rule_fix"].accepted), (1, 1, 1));
        assert_eq!(by_kind["rule_fix"].rate(), Some(1.0));
        assert_eq!((by_kind["style_fix"].decided, by_kind["style_fix"].recovered), (1, 0));
        assert_eq!((by_kind["risk_flag"].pending, by_kind["risk_flag"].dismissed), (1, 1));
        assert_eq!(by_kind["risk_flag"].rate(), None);
    }

    #[test]
    fn error_types_and_title_progress_summarise_the_class() {
        let mut timeout = run(2, 3, "tree", "timeout");
        timeout.error_class = None;
        let events = vec![
            run(1, 1, "car", "error"),
            run(2, 2, "car", "error"),
            timeout,
            run(1, 4, "car", "ok"),
            run(1, 5, "car", "error"),
        ];
        let view = class_view(vec![device(1, "a", None), device(2, "b", None)], &events, &[], 2000, 120);
        assert_eq!(
            view.errors,
            [
                ErrorCount { error_class: "ReferenceError".into(), runs: 3, students: 2 },
                ErrorCount { error_class: "timeout".into(), runs: 1, students: 1 },
            ]
        );
        assert_eq!(
            view.titles,
            [
                TitleProgress { title: "car".into(), started: 2, succeeded: 1, runs: 4 },
                TitleProgress { title: "tree".into(), started: 1, succeeded: 0, runs: 1 },
            ]
        );
    }
}
