//! Stage one of configuration: options exactly as the client sends them.

use serde::Deserialize;
use std::path::PathBuf;

/// Raw client options (`initializationOptions` or `workspace/didChangeConfiguration`
/// settings), every field optional, either at the top level or under `"pencil"`.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ClientOptions {
    /// Where the store lives (overrides `PENCIL_DATA_DIR` and the platform default).
    pub data_dir: Option<PathBuf>,
    /// Record and check the program on every save, not only on Run.
    pub record_on_save: Option<bool>,
    /// Offer rule-based quick fixes.
    pub quick_fixes: Option<bool>,
    /// Directory of the trace model (`models/<name>/`).
    pub model_dir: Option<PathBuf>,
    /// Backtracking risk above which a hint is shown (default: the probe's threshold, else 0.5).
    pub hint_threshold: Option<f64>,
    /// Least seconds of program time between two hints for one title (default 120).
    pub hint_interval_seconds: Option<u32>,
    /// Continuations "Fix in my style" samples (default 8).
    pub fix_samples: Option<usize>,
    /// `small | medium | large`: the size of change "Fix in my style" asks for.
    pub hint_size: Option<crate::coach::style_fix::HintSize>,
    /// `mine | strong`: whose style "Fix in my style" imitates: the student's own
    /// (learned on their traces when `adaptation` is on) or the model's strong student.
    pub student_vector: Option<crate::coach::StudentVector>,
    /// Days program states are kept after their last run (0 or absent: until the student deletes them).
    pub retention_days: Option<u32>,
    /// Learn the student's own vector from their finished traces (default true).
    pub adaptation: Option<bool>,
    /// Seconds without a run after which a trace counts as finished (default 300).
    pub adapt_idle_seconds: Option<u32>,
}

impl ClientOptions {
    /// Reads options from a JSON value, accepting `{"pencil": {...}}` or the bare object.
    /// Unknown keys are ignored; a value of the wrong type is reported, not fatal.
    pub fn from_json(value: Option<&serde_json::Value>) -> Result<ClientOptions, String> {
        let Some(value) = value else { return Ok(ClientOptions::default()) };
        if value.is_null() {
            return Ok(ClientOptions::default());
        }
        let inner = value.get("pencil").unwrap_or(value);
        serde_json::from_value(inner.clone()).map_err(|e| format!("ignoring invalid pencil settings: {e}"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn nested_flat_and_missing_options() {
        let nested = ClientOptions::from_json(Some(&json!({"pencil": {"recordOnSave": false}})));
        assert_eq!(nested.map(|o| o.record_on_save), Ok(Some(false)));
        let flat = ClientOptions::from_json(Some(&json!({"dataDir": "/tmp/x", "other": 1})));
        assert_eq!(flat.map(|o| o.data_dir), Ok(Some(PathBuf::from("/tmp/x"))));
        assert_eq!(ClientOptions::from_json(None), Ok(ClientOptions::default()));
        assert!(ClientOptions::from_json(Some(&json!({"quickFixes": "yes"}))).is_err());
        let coach = ClientOptions::from_json(Some(&json!({"hintSize": "large", "studentVector": "strong", "fixSamples": 4})));
        let coach = coach.expect("coach options");
        assert_eq!(coach.hint_size, Some(crate::coach::style_fix::HintSize::Large));
        assert_eq!(coach.student_vector, Some(crate::coach::StudentVector::Strong));
        assert_eq!(coach.fix_samples, Some(4));
        assert!(ClientOptions::from_json(Some(&json!({"hintSize": "huge"}))).is_err());
    }
}
