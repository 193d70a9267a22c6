//! Which model directory the coach loads: the `modelDir` setting, then `--model`,
//! then `PENCIL_MODEL_DIR`, then the shipped default `models/default` found by
//! walking up from the executable (which finds the repository's copy for
//! `target/release` builds and an installed copy beside `bin/`).

use std::path::{Path, PathBuf};

/// Environment variable naming the model directory; set but empty, it turns the model off.
pub const MODEL_DIR_ENV: &str = "PENCIL_MODEL_DIR";

/// The shipped default model, relative to an ancestor of the executable.
pub const DEFAULT_MODEL_DIR: &str = "models/default";

/// Where a model directory came from, for messages.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ModelSource {
    /// The client's `modelDir` setting.
    Setting,
    /// `--model` on the command line.
    CommandLine,
    /// `PENCIL_MODEL_DIR`.
    Environment,
    /// `models/default` beside the executable.
    Shipped,
}

/// The outcome of looking for a model directory.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ModelLocation {
    /// Load this directory.
    Found(PathBuf, ModelSource),
    /// No model: why, in a few words.
    Off(String),
}

/// Picks the model directory by precedence; `env` is `PENCIL_MODEL_DIR` as read
/// (an empty value means "no model"), `exe` the running executable.
pub fn locate(setting: Option<&Path>, cli: Option<&Path>, env: Option<&std::ffi::OsStr>, exe: Option<&Path>) -> ModelLocation {
    if let Some(dir) = setting {
        return ModelLocation::Found(dir.to_path_buf(), ModelSource::Setting);
    }
    if let Some(dir) = cli {
        return ModelLocation::Found(dir.to_path_buf(), ModelSource::CommandLine);
    }
    match env {
        Some(v) if v.is_empty() => return ModelLocation::Off(format!("no trace model is configured ({MODEL_DIR_ENV} is set empty)")),
        Some(v) => return ModelLocation::Found(PathBuf::from(v), ModelSource::Environment),
        None => {}
    }
    match exe.and_then(shipped_default) {
        Some(dir) => ModelLocation::Found(dir, ModelSource::Shipped),
        None => ModelLocation::Off(format!(
            "no trace model was found (set the modelDir setting or {MODEL_DIR_ENV}, or ship {DEFAULT_MODEL_DIR})"
        )),
    }
}

/// `models/default` under the nearest ancestor of `exe` that has one with a manifest.
pub fn shipped_default(exe: &Path) -> Option<PathBuf> {
    exe.ancestors()
        .skip(1)
        .map(|dir| dir.join(DEFAULT_MODEL_DIR))
        .find(|dir| dir.join(pencil_core::inference::manifest::MANIFEST_FILE).is_file())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::ffi::OsStr;

    #[test]
    fn precedence_is_setting_cli_env_shipped() {
        let root = tempfile::tempdir().expect("tempdir");
        let shipped = root.path().join(DEFAULT_MODEL_DIR);
        std::fs::create_dir_all(&shipped).expect("mkdir");
        std::fs::write(shipped.join("manifest.json"), "{}").expect("write");
        let exe = root.path().join("target/release/pencil-lsp");
        let (s, c, e) = (Path::new("/s"), Path::new("/c"), OsStr::new("/e"));
        assert_eq!(locate(Some(s), Some(c), Some(e), Some(&exe)), ModelLocation::Found(s.into(), ModelSource::Setting));
        assert_eq!(locate(None, Some(c), Some(e), Some(&exe)), ModelLocation::Found(c.into(), ModelSource::CommandLine));
        assert_eq!(locate(None, None, Some(e), Some(&exe)), ModelLocation::Found("/e".into(), ModelSource::Environment));
        assert_eq!(locate(None, None, None, Some(&exe)), ModelLocation::Found(shipped, ModelSource::Shipped));
        assert!(matches!(locate(None, None, Some(OsStr::new("")), Some(&exe)), ModelLocation::Off(m) if m.contains("set empty")));
        let elsewhere = tempfile::tempdir().expect("tempdir");
        assert!(matches!(locate(None, None, None, Some(&elsewhere.path().join("bin/x"))), ModelLocation::Off(m) if m.contains("no trace model")));
    }
}
