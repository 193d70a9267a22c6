//! The header that opens the next program state, with the time chosen by the
//! caller: the paper's §4.5 knob. The model learned that a state written 1 s
//! after the previous one is usually a small edit and one written a minute
//! later a larger one, so the time in the header steers the edit size.

use crate::trace::{format_timestamp, parse_timestamp};

/// How large an edit the next sampled state should be.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EditSize {
    /// 1 second after the previous state.
    Small,
    /// 60 seconds after the previous state.
    Large,
    /// Any gap, in seconds.
    Seconds(u32),
}

impl EditSize {
    /// The gap after the previous state's time, in seconds.
    pub fn seconds(self) -> i64 {
        match self {
            EditSize::Small => 1,
            EditSize::Large => 60,
            EditSize::Seconds(s) => i64::from(s),
        }
    }
}

/// `CODE n (time):\n` for state `n`, `size` after `previous_time`
/// (`YYYY-MM-DD HH:MM:SS`); `None` when `previous_time` does not parse.
pub fn next_state_header(n: u32, previous_time: &str, size: EditSize) -> Option<String> {
    let t = parse_timestamp(previous_time)? + size.seconds();
    Some(format!("CODE {n} ({}):\n", format_timestamp(t)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn headers_step_the_clock() {
        let check = |prev: &str, size, want: &str| assert_eq!(next_state_header(4, prev, size).as_deref(), Some(want));
        check("2019-05-09 16:18:59", EditSize::Small, "CODE 4 (2019-05-09 16:19:00):\n");
        check("2019-05-09 16:18:59", EditSize::Large, "CODE 4 (2019-05-09 16:19:59):\n");
        check("2019-12-31 23:59:30", EditSize::Large, "CODE 4 (2020-01-01 00:00:30):\n");
        check("2020-02-28 23:59:59", EditSize::Seconds(1), "CODE 4 (2020-02-29 00:00:00):\n");
        assert_eq!(next_state_header(1, "yesterday", EditSize::Small), None);
    }

    #[test]
    fn format_inverts_parse() {
        for t in [0i64, 951_782_400, 1_557_418_739, 4_102_444_799, -86_400] {
            assert_eq!(parse_timestamp(&format_timestamp(t)), Some(t), "{t}");
        }
    }
}
