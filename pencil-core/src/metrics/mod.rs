//! The paper's per-trace metrics (placeholder module; being ported).
