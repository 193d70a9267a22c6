//! The trace data model: one student's sequence of program states for one title.

use serde::{Deserialize, Serialize};

/// One program state: the program text as the student ran it, and when.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProgramState {
    /// The number in the `CODE n (time):` header (1-based, as recorded).
    pub n: u32,
    /// Timestamp as recorded, `YYYY-MM-DD HH:MM:SS` (kept verbatim so the
    /// text format round-trips byte for byte).
    pub time: String,
    /// Program text, byte-exact, trailing newline included.
    pub code: String,
}

impl ProgramState {
    /// Seconds since the Unix epoch, when `time` has the usual
    /// `YYYY-MM-DD HH:MM:SS` shape (what Python's `strptime` accepts there).
    pub fn unix_seconds(&self) -> Option<i64> {
        parse_timestamp(&self.time)
    }
}

/// Where a trace came from, so any result can be traced back to its input.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Provenance {
    /// Corpus name (`trace-model`, `synthetic-model`, `last-model`, `editor`, ...).
    pub source: String,
    /// File the trace was read from, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub file: Option<String>,
    /// 0-based record index in that file.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub index: Option<usize>,
}

/// One student's trace for one title.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Trace {
    /// Opaque student id (a hash in the corpus, a random id in the editor).
    pub student: String,
    /// Assignment title: the program's file name, e.g. `snowman`.
    pub title: String,
    /// Program states in the order they were run.
    pub programs: Vec<ProgramState>,
    /// Whether the end-of-trace token was reached (the trace is complete).
    pub eos: bool,
    /// Where the trace came from.
    #[serde(default)]
    pub provenance: Provenance,
}

impl Trace {
    /// The final program, the trace's "goal" in the paper's metrics.
    pub fn last_program(&self) -> Option<&ProgramState> {
        self.programs.last()
    }

    /// Program texts in order.
    pub fn codes(&self) -> impl Iterator<Item = &str> {
        self.programs.iter().map(|p| p.code.as_str())
    }

    /// A copy in which runs of consecutive identical programs are collapsed
    /// into their last state (the latest timestamp wins), and states are
    /// renumbered 1..=n.
    ///
    /// Datasets and the editor's store use this; the paper's metrics run on
    /// traces as written, duplicates included, so readers do not collapse.
    pub fn collapsed(&self) -> Trace {
        let mut programs: Vec<ProgramState> = Vec::with_capacity(self.programs.len());
        for p in &self.programs {
            match programs.last_mut() {
                Some(prev) if prev.code == p.code => *prev = p.clone(),
                _ => programs.push(p.clone()),
            }
        }
        for (i, p) in programs.iter_mut().enumerate() {
            p.n = u32::try_from(i + 1).unwrap_or(u32::MAX);
        }
        Trace { programs, ..self.clone() }
    }
}

/// Parses `YYYY-MM-DD HH:MM:SS` into Unix seconds (proleptic Gregorian, UTC).
pub fn parse_timestamp(s: &str) -> Option<i64> {
    let b = s.as_bytes();
    if b.len() != 19 || b[4] != b'-' || b[7] != b'-' || b[10] != b' ' || b[13] != b':' || b[16] != b':' {
        return None;
    }
    let num = |r: std::ops::Range<usize>| -> Option<i64> {
        let part = s.get(r)?;
        if !part.bytes().all(|c| c.is_ascii_digit()) {
            return None;
        }
        part.parse().ok()
    };
    let (y, mo, d) = (num(0..4)?, num(5..7)?, num(8..10)?);
    let (h, mi, se) = (num(11..13)?, num(14..16)?, num(17..19)?);
    if !(1..=12).contains(&mo) || d < 1 || d > days_in_month(y, mo) || h > 23 || mi > 59 || se > 59 {
        return None;
    }
    Some(days_from_civil(y, mo, d) * 86_400 + h * 3600 + mi * 60 + se)
}

fn days_in_month(y: i64, m: i64) -> i64 {
    match m {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        _ if (y % 4 == 0 && y % 100 != 0) || y % 400 == 0 => 29,
        _ => 28,
    }
}

/// Formats Unix seconds as `YYYY-MM-DD HH:MM:SS` (proleptic Gregorian, UTC);
/// the inverse of [`parse_timestamp`].
pub fn format_timestamp(unix: i64) -> String {
    let days = unix.div_euclid(86_400);
    let secs = unix.rem_euclid(86_400);
    let (y, m, d) = civil_from_days(days);
    format!("{y:04}-{m:02}-{d:02} {:02}:{:02}:{:02}", secs / 3600, secs % 3600 / 60, secs % 60)
}

/// Howard Hinnant's `civil_from_days`: days since 1970-01-01 to (year, month, day).
fn civil_from_days(z: i64) -> (i64, i64, i64) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    (y, m, d)
}

/// Days since 1970-01-01 (Howard Hinnant's `days_from_civil`).
fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

#[cfg(test)]
mod tests {
    use super::*;

    fn state(n: u32, time: &str, code: &str) -> ProgramState {
        ProgramState { n, time: time.into(), code: code.into() }
    }

    #[test]
    fn timestamps_parse_like_strptime() {
        assert_eq!(parse_timestamp("1970-01-01 00:00:00"), Some(0));
        assert_eq!(parse_timestamp("2019-05-09 16:18:59"), Some(1_557_418_739));
        assert_eq!(parse_timestamp("2020-02-29 00:00:00"), Some(1_582_934_400));
        assert_eq!(parse_timestamp("2019-02-29 00:00:00"), None);
        assert_eq!(parse_timestamp("2019-5-09 16:18:59"), None);
        assert_eq!(parse_timestamp("garbage"), None);
    }

    #[test]
    fn format_is_the_inverse_of_parse() {
        for unix in [0, 951_782_400, 1_557_418_739, 1_582_934_400, 1_709_164_800, 4_102_444_799, -86_401] {
            let s = format_timestamp(unix);
            assert_eq!(parse_timestamp(&s), Some(unix), "{s}");
        }
        assert_eq!(format_timestamp(1_557_418_739), "2019-05-09 16:18:59");
    }

    #[test]
    fn collapse_keeps_last_of_each_run() {
        let t = Trace {
            student: "s".into(),
            title: "t".into(),
            programs: vec![
                state(1, "2019-01-01 00:00:00", "fd 1\n"),
                state(2, "2019-01-01 00:00:05", "fd 1\n"),
                state(3, "2019-01-01 00:00:09", "fd 2\n"),
                state(4, "2019-01-01 00:00:12", "fd 1\n"),
            ],
            eos: true,
            provenance: Provenance::default(),
        };
        let c = t.collapsed();
        let got: Vec<_> = c.programs.iter().map(|p| (p.n, p.time.as_str(), p.code.as_str())).collect();
        assert_eq!(
            got,
            vec![
                (1, "2019-01-01 00:00:05", "fd 1\n"),
                (2, "2019-01-01 00:00:09", "fd 2\n"),
                (3, "2019-01-01 00:00:12", "fd 1\n"),
            ]
        );
    }
}
