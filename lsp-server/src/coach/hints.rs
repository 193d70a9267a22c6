//! When a backtracking risk becomes a hint: above the threshold, for the newest
//! state of its document only, and at most once per title per interval of the
//! program clock (the recorded states' times), so a student is never nagged.

use std::collections::HashMap;
use std::hash::Hash;

/// Risk above which a hint is shown when neither the setting nor the probe says.
pub const DEFAULT_HINT_THRESHOLD: f64 = 0.5;

/// Default least time between two hints for one title, in seconds of program time.
pub const DEFAULT_HINT_INTERVAL_S: i64 = 120;

/// The threshold in force: the `hintThreshold` setting, else the probe's hint
/// threshold (the riskiest fifth of its training prefixes), else [`DEFAULT_HINT_THRESHOLD`].
pub fn hint_threshold(setting: Option<f64>, probe: Option<f32>) -> f64 {
    setting.or(probe.map(f64::from)).unwrap_or(DEFAULT_HINT_THRESHOLD)
}

/// The sentence the student sees: plain words, no percentages (the risk travels in
/// the notification's own `risk` field for clients that want it).
pub fn hint_message() -> String {
    "Before your next change, run your program and compare what it draws with what you want. \
     Students whose programs looked like this often had to undo recent changes later."
        .to_string()
}

/// Generation numbers per key: work started for an older generation is stale once
/// a newer one begins, and is dropped before it runs and before it publishes.
#[derive(Debug)]
pub struct LatestOnly<K> {
    current: HashMap<K, u64>,
}

impl<K> Default for LatestOnly<K> {
    fn default() -> Self {
        LatestOnly { current: HashMap::new() }
    }
}

impl<K: Eq + Hash> LatestOnly<K> {
    /// Starts a new generation for `key`; everything older becomes stale.
    pub fn begin(&mut self, key: K) -> u64 {
        let g = self.current.entry(key).or_insert(0);
        *g += 1;
        *g
    }

    /// Whether `generation` is still the newest for `key`.
    pub fn is_latest(&self, key: &K, generation: u64) -> bool {
        self.current.get(key) == Some(&generation)
    }

    /// Forgets `key` (its pending work becomes stale).
    pub fn forget(&mut self, key: &K) {
        self.current.remove(key);
    }
}

/// At most one hint per title per `interval_s` seconds of program time.
#[derive(Debug, Default)]
pub struct HintRateLimit {
    last_shown: HashMap<String, i64>,
}

impl HintRateLimit {
    /// Whether a hint for `title` at program time `time` (`YYYY-MM-DD HH:MM:SS`) may be
    /// shown; if so, it counts as shown. A time that does not parse is refused, and a
    /// clock that went backwards starts the interval again.
    pub fn try_take(&mut self, title: &str, time: &str, interval_s: i64) -> bool {
        let Some(now) = pencil_core::trace::parse_timestamp(time) else { return false };
        let allowed = match self.last_shown.get(title) {
            Some(&last) => now < last || now - last >= interval_s,
            None => true,
        };
        if allowed {
            self.last_shown.insert(title.to_string(), now);
        }
        allowed
    }
}

/// The server's hint bookkeeping, shared with its background risk tasks.
#[derive(Debug, Default)]
pub struct HintState {
    /// Risk work per document (by URI): only the newest run's risk may publish.
    pub runs: LatestOnly<String>,
    /// Hints shown per title.
    pub limit: HintRateLimit,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn threshold_precedence() {
        assert_eq!(hint_threshold(Some(0.7), Some(0.3)), 0.7);
        assert!((hint_threshold(None, Some(0.3)) - 0.3).abs() < 1e-6);
        assert_eq!(hint_threshold(None, None), DEFAULT_HINT_THRESHOLD);
    }

    #[test]
    fn newer_generations_make_older_work_stale() {
        let mut runs = LatestOnly::default();
        let a1 = runs.begin("a");
        let b1 = runs.begin("b");
        assert!(runs.is_latest(&"a", a1));
        let a2 = runs.begin("a");
        assert!(!runs.is_latest(&"a", a1), "a newer state of the same document cancels the older");
        assert!(runs.is_latest(&"a", a2) && runs.is_latest(&"b", b1), "other documents are untouched");
        runs.forget(&"a");
        assert!(!runs.is_latest(&"a", a2));
    }

    #[test]
    fn one_hint_per_title_per_interval_of_program_time() {
        let mut limit = HintRateLimit::default();
        assert!(limit.try_take("house", "2026-01-01 10:00:00", 120));
        assert!(!limit.try_take("house", "2026-01-01 10:01:59", 120));
        assert!(limit.try_take("tree", "2026-01-01 10:01:59", 120), "titles are limited separately");
        assert!(limit.try_take("house", "2026-01-01 10:02:00", 120));
        assert!(!limit.try_take("house", "2026-01-01 10:02:30", 120));
        assert!(limit.try_take("house", "2025-12-31 09:00:00", 120), "a clock that went back restarts");
        assert!(!limit.try_take("house", "not a time", 120));
    }
}
