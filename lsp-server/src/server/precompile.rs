//! Compiling while the student types: once the text has been still for a moment, the
//! sandbox compiles it into its cache (never running it), so the `pencil/run` that
//! usually follows only has to run the program. Compiling a long program is most of a
//! check's time (about 50 ms per kilobyte on this QuickJS build). With a model, the
//! trace the text would join is read by the model up to that text too, so the
//! backtracking risk after the run only reads the new program state.

use crate::checker::Checker;
use crate::clock::now_timestamp;
use crate::pipeline::{self, Services};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;
use tower_lsp_server::gen_lsp_types::Uri;

/// How long the text must stay unchanged before it is compiled.
pub(super) const QUIET: Duration = Duration::from_millis(300);

/// The latest edit, shared with the waiting tasks: only the task of the latest edit compiles.
#[derive(Default)]
pub(super) struct Precompiler {
    generation: AtomicU64,
    /// The text last handed to the compiler, so a change back to it is not compiled twice.
    last: Mutex<Option<Arc<str>>>,
}

/// What reading ahead for the backtracking risk needs: the trace the text would join.
pub(super) struct RiskAhead {
    pub services: Services,
    pub student: String,
    pub title: String,
}

impl Precompiler {
    /// Notes an edit of `uri` and, after [`QUIET`] unless another edit came, compiles
    /// `text` and lets the model read the trace it would join up to it (so the risk
    /// after the run reads only the new state).
    pub(super) fn edited(self: &Arc<Self>, checker: Option<Checker>, risk: Option<RiskAhead>, uri: &Uri, text: Arc<str>) {
        if checker.is_none() && risk.is_none() {
            return;
        }
        let generation = self.generation.fetch_add(1, Ordering::SeqCst) + 1;
        let this = Arc::clone(self);
        let uri = uri.as_ref().to_string();
        tokio::spawn(async move {
            tokio::time::sleep(QUIET).await;
            if this.generation.load(Ordering::SeqCst) != generation {
                return;
            }
            {
                let mut last = this.last.lock().unwrap_or_else(PoisonError::into_inner);
                if last.as_deref() == Some(&*text) {
                    return;
                }
                *last = Some(Arc::clone(&text));
            }
            if let Some(checker) = checker {
                match checker.prepare(text.to_string()).await {
                    Ok(compiled) => tracing::debug!("{uri}: precompiled ({})", if compiled { "compiled" } else { "cached" }),
                    Err(e) => tracing::debug!("{uri}: precompile failed: {e}"),
                }
            }
            if let Some(RiskAhead { services, student, title }) = risk {
                let Some(engine) = services.coach.engine().cloned().filter(|e| e.has_probe()) else { return };
                if this.generation.load(Ordering::SeqCst) != generation {
                    return;
                }
                let prefix = pipeline::trace_so_far(&services, &student, &title, &text, &now_timestamp()).await;
                match tokio::task::spawn_blocking(move || engine.prepare_risk(&prefix)).await {
                    Ok(Ok(())) => tracing::debug!("{uri}: trace read ahead of the run"),
                    Ok(Err(e)) => tracing::debug!("{uri}: reading ahead failed: {e}"),
                    Err(e) => tracing::debug!("{uri}: reading ahead was interrupted: {e}"),
                }
            }
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn only_the_text_the_student_paused_on_is_compiled() {
        let checker = Checker::start(pencil_sandbox::SandboxConfig::default()).expect("sandbox starts");
        let precompiler = Arc::new(Precompiler::default());
        let uri = Uri::from("file:///tmp/snowman.coffee");
        let (typing, paused) = ("pen red\nfd 1", "pen red\nfd 100\n");
        precompiler.edited(Some(checker.clone()), None, &uri, Arc::from(typing));
        precompiler.edited(Some(checker.clone()), None, &uri, Arc::from(paused));
        let deadline = std::time::Instant::now() + Duration::from_secs(20);
        while !checker.is_prepared(paused) && std::time::Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        assert!(checker.is_prepared(paused), "the text the student paused on is compiled");
        assert!(!checker.is_prepared(typing), "a text edited away within the quiet time is not");
    }
}
