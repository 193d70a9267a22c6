//! Stage two of configuration: settings the code uses, every value decided.

use super::options::ClientOptions;
use crate::coach::hints::DEFAULT_HINT_INTERVAL_S;
use crate::coach::style_fix::HintSize;
use crate::coach::StudentVector;
use std::path::PathBuf;

/// Environment variable that overrides the platform's data directory.
pub const DATA_DIR_ENV: &str = "PENCIL_DATA_DIR";

/// Resolved settings.
#[derive(Debug, Clone, PartialEq)]
pub struct Settings {
    /// Directory of the store (`pencil.db`).
    pub data_dir: Option<PathBuf>,
    /// Record and check on save as well as on Run.
    pub record_on_save: bool,
    /// Offer rule-based quick fixes.
    pub quick_fixes: bool,
    /// Directory of the trace model, when configured.
    pub model_dir: Option<PathBuf>,
    /// Hint threshold set by the client (else the probe's, else 0.5).
    pub hint_threshold: Option<f64>,
    /// Least seconds of program time between two hints for one title.
    pub hint_interval_s: i64,
    /// Continuations "Fix in my style" samples per round (`coach::style_fix::search_rounds`).
    pub fix_samples: usize,
    /// The size of change "Fix in my style" asks for.
    pub hint_size: HintSize,
    /// Whose style "Fix in my style" imitates.
    pub student_vector: StudentVector,
    /// Days program states are kept after their last run; `None` keeps them until deleted.
    pub retention_days: Option<u32>,
    /// Learn the student's own vector from their finished traces, and use it.
    pub adaptation: bool,
    /// Seconds without a run after which the current trace counts as finished.
    pub adapt_idle_s: u64,
}

/// Default seconds without a run before the current trace counts as finished.
pub const DEFAULT_ADAPT_IDLE_S: u64 = 300;

/// Default number of continuations "Fix in my style" samples per round.
pub const DEFAULT_FIX_SAMPLES: usize = 8;

/// Most continuations one request may sample (the batch shares one session).
pub const MAX_FIX_SAMPLES: usize = 32;

impl Default for Settings {
    fn default() -> Self {
        Settings {
            data_dir: None,
            record_on_save: true,
            quick_fixes: true,
            model_dir: None,
            hint_threshold: None,
            hint_interval_s: DEFAULT_HINT_INTERVAL_S,
            fix_samples: DEFAULT_FIX_SAMPLES,
            hint_size: HintSize::default(),
            student_vector: StudentVector::default(),
            retention_days: None,
            adaptation: true,
            adapt_idle_s: DEFAULT_ADAPT_IDLE_S,
        }
    }
}

impl Settings {
    /// Resolves client options over a command-line data directory, the environment and
    /// the platform default: client setting > `--data-dir` > `PENCIL_DATA_DIR` > platform.
    pub fn resolve(options: &ClientOptions, cli_data_dir: Option<PathBuf>, env_data_dir: Option<PathBuf>) -> Settings {
        let data_dir = options
            .data_dir
            .clone()
            .or(cli_data_dir)
            .or(env_data_dir.filter(|p| !p.as_os_str().is_empty()))
            .or_else(|| dirs::data_dir().map(|d| d.join("pencil-coach")));
        Settings { data_dir, ..Settings::default() }.update(options)
    }

    /// Applies options that can change while running (the store stays where it opened).
    pub fn update(&self, options: &ClientOptions) -> Settings {
        Settings {
            data_dir: self.data_dir.clone(),
            record_on_save: options.record_on_save.unwrap_or(self.record_on_save),
            quick_fixes: options.quick_fixes.unwrap_or(self.quick_fixes),
            model_dir: options.model_dir.clone().or_else(|| self.model_dir.clone()),
            hint_threshold: options.hint_threshold.filter(|t| t.is_finite()).or(self.hint_threshold),
            hint_interval_s: options.hint_interval_seconds.map_or(self.hint_interval_s, i64::from),
            fix_samples: options.fix_samples.map_or(self.fix_samples, |n| n.clamp(1, MAX_FIX_SAMPLES)),
            hint_size: options.hint_size.unwrap_or(self.hint_size),
            student_vector: options.student_vector.unwrap_or(self.student_vector),
            retention_days: match options.retention_days {
                Some(0) => None,
                Some(days) => Some(days),
                None => self.retention_days,
            },
            adaptation: options.adaptation.unwrap_or(self.adaptation),
            adapt_idle_s: options.adapt_idle_seconds.map_or(self.adapt_idle_s, |s| u64::from(s.max(1))),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn data_dir_precedence() {
        let with = |dir: Option<&str>| ClientOptions { data_dir: dir.map(PathBuf::from), ..Default::default() };
        let s = Settings::resolve(&with(Some("/opt")), Some("/cli".into()), Some("/env".into()));
        assert_eq!(s.data_dir, Some(PathBuf::from("/opt")));
        let s = Settings::resolve(&with(None), Some("/cli".into()), Some("/env".into()));
        assert_eq!(s.data_dir, Some(PathBuf::from("/cli")));
        let s = Settings::resolve(&with(None), None, Some("/env".into()));
        assert_eq!(s.data_dir, Some(PathBuf::from("/env")));
        assert!(s.record_on_save && s.quick_fixes);
    }

    #[test]
    fn update_keeps_the_store_where_it_is() {
        let s = Settings::resolve(&ClientOptions::default(), Some("/cli".into()), None);
        let u = s.update(&ClientOptions {
            data_dir: Some("/elsewhere".into()),
            record_on_save: Some(false),
            ..Default::default()
        });
        assert_eq!(u.data_dir, Some(PathBuf::from("/cli")));
        assert!(!u.record_on_save);
    }
}
