//! The coach's model-backed features (backtracking risk, "Fix in my style") and the
//! seam where the trace model plugs in. This build has no model loader yet (issue 5),
//! so the coach only reports, once and clearly, what is missing; recording,
//! diagnostics and rule-based fixes never depend on it.

use std::path::{Path, PathBuf};

/// Environment variable naming the ONNX Runtime library (as the `ort` crate reads it).
pub const ORT_DYLIB_ENV: &str = "ORT_DYLIB_PATH";

/// Environment variable naming the model directory.
pub const MODEL_DIR_ENV: &str = "PENCIL_MODEL_DIR";

/// What the model-backed coach can do in this process.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ModelStatus {
    /// No model features: why, in one sentence for the student's editor.
    Unavailable(String),
}

/// The model-backed coach.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Coach {
    status: ModelStatus,
}

impl Coach {
    /// Looks for a model directory (setting, then `PENCIL_MODEL_DIR`) and ONNX Runtime,
    /// and says what is missing.
    pub fn detect(model_dir: Option<&Path>) -> Coach {
        let model = model_dir
            .map(Path::to_path_buf)
            .or_else(|| std::env::var_os(MODEL_DIR_ENV).map(PathBuf::from))
            .filter(|d| d.join("manifest.json").is_file());
        let ort = std::env::var_os(ORT_DYLIB_ENV).map(PathBuf::from).filter(|p| p.is_file());
        let reason = match (model, ort) {
            (None, _) => "no trace model was found".to_string(),
            (Some(dir), None) => format!("a model is at {} but ONNX Runtime was not found (set {ORT_DYLIB_ENV})", dir.display()),
            (Some(dir), Some(_)) => format!("a model is at {} but this build of pencil-lsp cannot load models yet", dir.display()),
        };
        Coach { status: ModelStatus::Unavailable(reason) }
    }

    /// The current status.
    pub fn status(&self) -> &ModelStatus {
        &self.status
    }

    /// The one message to show when model features are off, if they are.
    pub fn missing_message(&self) -> Option<String> {
        match &self.status {
            ModelStatus::Unavailable(reason) => Some(format!(
                "Pencil coach: {reason}, so backtracking hints and \"Fix in my style\" are off. Recording, error checking and quick fixes do not need the model."
            )),
        }
    }

    /// What replay prints in the risk column.
    pub fn risk_label(&self) -> &'static str {
        match &self.status {
            ModelStatus::Unavailable(_) => "no model",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_directory_without_manifest_is_no_model() {
        let dir = tempfile::tempdir().expect("tempdir");
        let coach = Coach::detect(Some(dir.path()));
        let msg = coach.missing_message().expect("message");
        assert!(msg.contains("no trace model") || msg.contains(MODEL_DIR_ENV) || msg.contains("model"), "{msg}");
        assert!(msg.contains("do not need the model"));
        assert_eq!(coach.risk_label(), "no model");
    }

    #[test]
    fn a_model_without_runtime_names_the_runtime() {
        let dir = tempfile::tempdir().expect("tempdir");
        std::fs::write(dir.path().join("manifest.json"), "{}").expect("write");
        let coach = Coach::detect(Some(dir.path()));
        let ModelStatus::Unavailable(reason) = coach.status();
        assert!(reason.contains("ONNX Runtime") || reason.contains("cannot load models yet"), "{reason}");
    }
}
