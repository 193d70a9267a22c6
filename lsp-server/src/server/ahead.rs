//! Work done while the student pauses: once the text has been still for a moment, the
//! sandbox checks it (compiling a long program is most of a check's time, about 50 ms
//! per kilobyte on this QuickJS build) and keeps the verdict, so the `pencil/run` that
//! usually follows answers at once; with a model, the model reads the trace the text
//! would join up to that text, so the backtracking risk after the run reads only the
//! new program state. A run of other text simply checks it then.

use crate::checker::Checker;
use crate::clock::now_timestamp;
use crate::pipeline::{self, Services};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;
use tower_lsp_server::gen_lsp_types::Uri;

/// How long the text must stay unchanged before the work starts.
pub(super) const QUIET: Duration = Duration::from_millis(300);

/// The latest edit, shared with the waiting tasks: only the task of the latest edit works.
#[derive(Default)]
pub(super) struct WorkAhead {
    generation: AtomicU64,
    /// The text last worked on, so a change back to it is not worked on twice.
    last: Mutex<Option<Arc<str>>>,
}

/// What reading ahead for the backtracking risk needs: the trace the text would join.
pub(super) struct RiskAhead {
    pub services: Services,
    pub student: String,
    pub title: String,
}

impl WorkAhead {
    /// Notes an edit of `uri` and, after [`QUIET`] unless another edit came, checks
    /// `text` and lets the model read the trace it would join up to it.
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
                match checker.check_ahead(Arc::clone(&text)).await {
                    Ok(()) => tracing::debug!("{uri}: checked ahead of the run"),
                    Err(e) => tracing::debug!("{uri}: checking ahead failed: {e}"),
                }
            }
            if let Some(RiskAhead { services, student, title }) = risk {
                let Some(engine) = services.coach.engine().filter(|e| e.has_probe()) else { return };
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
    async fn only_the_text_the_student_paused_on_is_checked_and_its_run_takes_that_verdict() {
        let checker = Checker::start(pencil_sandbox::SandboxConfig::default()).expect("sandbox starts");
        let ahead = Arc::new(WorkAhead::default());
        let uri = Uri::from("file:///tmp/snowman.coffee");
        let (typing, paused) = ("pen red\nfd 1", "pen red\nfdd 100\n");
        ahead.edited(Some(checker.clone()), None, &uri, Arc::from(typing));
        ahead.edited(Some(checker.clone()), None, &uri, Arc::from(paused));
        let deadline = std::time::Instant::now() + Duration::from_secs(20);
        while !checker.is_checked_ahead(paused) && std::time::Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        assert!(checker.is_checked_ahead(paused), "the text the student paused on is checked");
        assert!(!checker.is_prepared(typing), "a text edited away within the quiet time is not even compiled");
        // The run takes the verdict checked ahead (once), equal to a fresh check.
        let taken = checker.check(paused.to_string()).await.expect("verdict");
        assert!(!checker.is_checked_ahead(paused), "a verdict checked ahead is used once");
        let fresh = checker.check(paused.to_string()).await.expect("verdict");
        assert_eq!((taken.status, taken.error.as_ref().map(|e| e.line)), (fresh.status, fresh.error.as_ref().map(|e| e.line)));
        assert_eq!(taken.error.map(|e| e.line), Some(Some(2)));
    }

    #[tokio::test]
    async fn a_run_during_the_check_ahead_waits_for_it_rather_than_checking_twice() {
        let checker = Checker::start(pencil_sandbox::SandboxConfig::default()).expect("sandbox starts");
        let text: Arc<str> = Arc::from("for i in [1..2000]\n  fd 1\n  rt 1\n");
        let early = { let c = checker.clone(); let t = Arc::clone(&text); tokio::spawn(async move { c.check_ahead(t).await }) };
        tokio::time::sleep(Duration::from_millis(1)).await;
        let verdict = checker.check(text.to_string()).await.expect("verdict");
        early.await.expect("joined").expect("checked ahead");
        assert_eq!(verdict.status, pencil_sandbox::Status::Ok);
        assert!(!checker.is_checked_ahead(&text), "the run took the verdict");
    }
}
