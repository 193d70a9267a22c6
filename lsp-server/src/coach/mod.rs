//! The coach's model-backed features: backtracking risk (the model's probe) and
//! "Fix in my style" (sampled next states, verified in the sandbox). Loading may
//! fail (no model, a corrupt file, no ONNX Runtime); then the coach says once,
//! clearly, what is missing, and recording, diagnostics and rule-based fixes go on.
//!
//! `locate` picks the model directory, `engine` holds the loaded model, `hints`
//! decides when a risk becomes a hint, `style_fix` ranks and titles fixes.

pub mod engine;
pub mod hints;
pub mod locate;
pub mod style_fix;

pub use engine::{ModelEngine, StudentVector};
pub use locate::{locate, ModelLocation, ModelSource, MODEL_DIR_ENV};

use pencil_core::inference::SessionOptions;
use std::path::{Path, PathBuf};
use std::sync::{Arc, RwLock, RwLockReadGuard};

/// What the model-backed coach can do in this process.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ModelStatus {
    /// A model is loaded; `probe` says whether it can estimate backtracking risk.
    Ready {
        /// The model directory.
        dir: PathBuf,
        /// Whether the directory has a backtracking probe.
        probe: bool,
    },
    /// No model features: why, in one sentence for the student's editor.
    Unavailable(String),
}

/// Where to look for a model: the client's setting and `--model`; the
/// environment and the shipped default are read by [`Coach::load`].
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ModelRequest {
    /// The `modelDir` setting.
    pub setting: Option<PathBuf>,
    /// `--model DIR`.
    pub cli: Option<PathBuf>,
}

/// The model-backed coach: a status and, when ready, the shared engine. Clones
/// share one slot, so a `modelDir` change ([`Coach::replace`]) reaches every
/// holder; work already started keeps the engine it took.
#[derive(Debug, Clone)]
pub struct Coach {
    slot: Arc<RwLock<Loaded>>,
}

/// What a coach holds at one moment.
#[derive(Debug)]
struct Loaded {
    status: ModelStatus,
    engine: Option<Arc<ModelEngine>>,
}

/// ONNX Runtime threads per operator. One: batch-1 decoding was faster with one
/// thread than two on this 2-core target (models/README.md), and the other core
/// stays free for the sandbox and the editor.
pub const MODEL_THREADS: usize = 1;

impl Coach {
    /// A coach without a model, for the given reason.
    pub fn unavailable(reason: impl Into<String>) -> Coach {
        Coach::holding(ModelStatus::Unavailable(reason.into()), None)
    }

    fn holding(status: ModelStatus, engine: Option<Arc<ModelEngine>>) -> Coach {
        Coach { slot: Arc::new(RwLock::new(Loaded { status, engine })) }
    }

    fn read(&self) -> RwLockReadGuard<'_, Loaded> {
        // Nothing panics while holding the lock; a poisoned one still holds a whole value.
        self.slot.read().unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Takes `other`'s model and status (for a changed `modelDir`); every clone of
    /// this coach sees them from now on.
    pub fn replace(&self, other: &Coach) {
        let (status, engine) = {
            let o = other.read();
            (o.status.clone(), o.engine.clone())
        };
        let mut slot = self.slot.write().unwrap_or_else(std::sync::PoisonError::into_inner);
        *slot = Loaded { status, engine };
    }

    /// Finds and loads the model (blocking: call it off the async executor).
    pub fn load(request: &ModelRequest) -> Coach {
        let env = std::env::var_os(MODEL_DIR_ENV);
        let exe = std::env::current_exe().ok();
        match locate(request.setting.as_deref(), request.cli.as_deref(), env.as_deref(), exe.as_deref()) {
            ModelLocation::Off(reason) => Coach::unavailable(reason),
            ModelLocation::Found(dir, _) => Coach::open(&dir),
        }
    }

    /// Loads the model directory `dir` (blocking).
    pub fn open(dir: &Path) -> Coach {
        let options = SessionOptions { intra_threads: Some(MODEL_THREADS), ..SessionOptions::default() };
        match ModelEngine::open(dir, &options) {
            Ok(engine) => {
                Coach::holding(ModelStatus::Ready { dir: dir.to_path_buf(), probe: engine.has_probe() }, Some(Arc::new(engine)))
            }
            Err(e) => Coach::unavailable(format!("the trace model in {} could not be loaded ({e})", dir.display())),
        }
    }

    /// The current status.
    pub fn status(&self) -> ModelStatus {
        self.read().status.clone()
    }

    /// The loaded model, when there is one.
    pub fn engine(&self) -> Option<Arc<ModelEngine>> {
        self.read().engine.clone()
    }

    /// The one message to show about missing model features, if any are missing.
    pub fn missing_message(&self) -> Option<String> {
        match &self.read().status {
            ModelStatus::Unavailable(reason) => Some(format!(
                "Pencil coach: {reason}, so backtracking hints and \"Fix in my style\" are off. Recording, error checking and quick fixes do not need the model."
            )),
            ModelStatus::Ready { dir, probe: false } => Some(format!(
                "Pencil coach: the trace model in {} has no backtracking probe (no probe in this model), so backtracking hints are off. \"Fix in my style\" works.",
                dir.display()
            )),
            ModelStatus::Ready { probe: true, .. } => None,
        }
    }

    /// What replay prints for risk when there is no number to print.
    pub fn risk_unavailable_label(&self) -> &'static str {
        match &self.read().status {
            ModelStatus::Unavailable(_) => "no model",
            ModelStatus::Ready { probe: false, .. } => "no probe in this model",
            ModelStatus::Ready { probe: true, .. } => "not computed",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_directory_without_manifest_names_the_manifest() {
        let dir = tempfile::tempdir().expect("tempdir");
        let coach = Coach::open(dir.path());
        let msg = coach.missing_message().expect("message");
        assert!(msg.contains("manifest.json"), "{msg}");
        assert!(msg.contains("do not need the model"), "{msg}");
        assert_eq!(coach.risk_unavailable_label(), "no model");
        assert!(coach.engine().is_none());
    }

    #[test]
    fn a_corrupt_manifest_is_reported_not_fatal() {
        let dir = tempfile::tempdir().expect("tempdir");
        std::fs::write(dir.path().join("manifest.json"), "{}").expect("write");
        let coach = Coach::open(dir.path());
        let ModelStatus::Unavailable(reason) = coach.status() else { panic!("loaded a broken model") };
        assert!(reason.contains("manifest.json") && reason.contains("could not be loaded"), "{reason}");
    }
}
