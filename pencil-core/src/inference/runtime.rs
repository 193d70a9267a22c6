//! Finding and loading the ONNX Runtime library (ort's `load-dynamic`): the
//! library is not linked in, so a missing one is a clear error at model load
//! time, never a crash at start-up.

use std::path::{Path, PathBuf};
use std::sync::Mutex;

use super::error::InferenceError;

/// File name of the library the project installs (PyPI `onnxruntime==1.31.1`).
pub const LIBRARY_FILE: &str = "libonnxruntime.so.1.31.1";
/// Where `scripts/setup.sh` puts it, relative to the repository root.
pub const PROJECT_LIBRARY_DIR: &str = ".deps/python/onnxruntime/capi";
/// Environment variable naming the library explicitly (ort's own convention).
pub const LIBRARY_ENV: &str = "ORT_DYLIB_PATH";

// ort allows one environment per process; every session shares it.
static ENVIRONMENT: Mutex<Option<ort::environment::Environment>> = Mutex::new(None);

/// The candidate library paths, in the order they are tried: `explicit`, then
/// `$ORT_DYLIB_PATH`, then the project's `.deps` next to any ancestor of the
/// running executable, then the one of the source tree this crate was built from.
pub fn library_candidates(explicit: Option<&Path>) -> Vec<PathBuf> {
    let mut out = Vec::new();
    if let Some(p) = explicit {
        out.push(p.to_path_buf());
    }
    if let Some(p) = std::env::var_os(LIBRARY_ENV).filter(|p| !p.is_empty()) {
        out.push(PathBuf::from(p));
    }
    if let Ok(exe) = std::env::current_exe() {
        if let Some(dir) = exe.parent() {
            out.push(dir.join(LIBRARY_FILE));
            for anc in dir.ancestors() {
                out.push(anc.join(PROJECT_LIBRARY_DIR).join(LIBRARY_FILE));
            }
        }
    }
    // Developer builds and tests: the workspace this crate lives in.
    if let Some(root) = Path::new(env!("CARGO_MANIFEST_DIR")).parent() {
        out.push(root.join(PROJECT_LIBRARY_DIR).join(LIBRARY_FILE));
    }
    let mut seen = std::collections::HashSet::new();
    out.retain(|p| seen.insert(p.clone()));
    out
}

/// Loads the library (once per process) and returns the shared environment.
/// `explicit` is the path from the caller's settings, if any; once a library
/// is loaded later calls reuse it whatever they ask for.
pub fn environment(explicit: Option<&Path>) -> Result<ort::environment::Environment, InferenceError> {
    let mut guard = ENVIRONMENT.lock().map_err(|_| InferenceError::Run("ONNX Runtime environment lock poisoned".into()))?;
    if let Some(env) = guard.as_ref() {
        return Ok(env.clone());
    }
    let looked = library_candidates(explicit);
    let Some(path) = looked.iter().find(|p| p.is_file()).cloned() else {
        return Err(InferenceError::RuntimeNotFound { looked });
    };
    let load_err = |reason: String| InferenceError::RuntimeLoad { path: path.clone(), reason };
    let env = ort::init_from(&path)
        .map_err(|e| load_err(e.to_string()))?
        .with_name("pencil")
        .build()
        .map_err(|e| load_err(e.to_string()))?;
    *guard = Some(env.clone());
    Ok(env)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn explicit_path_comes_first_and_missing_library_names_where_it_looked() {
        let bogus = Path::new("/nonexistent/libonnxruntime.so");
        let c = library_candidates(Some(bogus));
        assert_eq!(c[0], bogus);
        assert!(c.iter().any(|p| p.ends_with(Path::new(PROJECT_LIBRARY_DIR).join(LIBRARY_FILE))));
        let err = InferenceError::RuntimeNotFound { looked: vec![bogus.to_path_buf()] };
        let msg = err.to_string();
        assert!(msg.contains("/nonexistent/libonnxruntime.so") && msg.contains("ORT_DYLIB_PATH"), "{msg}");
    }
}
