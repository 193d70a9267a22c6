//! Stage two of configuration: settings the code uses, every value decided.

use super::options::ClientOptions;
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
}

impl Default for Settings {
    fn default() -> Self {
        Settings { data_dir: None, record_on_save: true, quick_fixes: true, model_dir: None }
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
        let defaults = Settings::default();
        Settings {
            data_dir,
            record_on_save: options.record_on_save.unwrap_or(defaults.record_on_save),
            quick_fixes: options.quick_fixes.unwrap_or(defaults.quick_fixes),
            model_dir: options.model_dir.clone(),
        }
    }

    /// Applies options that can change while running (the store stays where it opened).
    pub fn update(&self, options: &ClientOptions) -> Settings {
        Settings {
            data_dir: self.data_dir.clone(),
            record_on_save: options.record_on_save.unwrap_or(self.record_on_save),
            quick_fixes: options.quick_fixes.unwrap_or(self.quick_fixes),
            model_dir: options.model_dir.clone().or_else(|| self.model_dir.clone()),
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
