//! Wall-clock timestamps in the trace format's `YYYY-MM-DD HH:MM:SS` (UTC).

use std::time::{SystemTime, UNIX_EPOCH};

use pencil_core::trace::format_timestamp;

/// The current time as a trace timestamp.
pub fn now_timestamp() -> String {
    format_timestamp(now_unix())
}

/// Seconds since the Unix epoch now (0 if the clock is before 1970).
pub fn now_unix() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn now_is_a_parseable_trace_timestamp() {
        let before = now_unix();
        let parsed = pencil_core::trace::parse_timestamp(&now_timestamp()).expect("parses");
        assert!(parsed >= before && parsed <= now_unix());
    }
}
