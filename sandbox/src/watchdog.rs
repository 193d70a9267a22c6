//! A thread that interrupts a runtime's JavaScript when a run passes its deadline.

use deno_core::v8::IsolateHandle;
use std::sync::{Arc, Condvar, Mutex, PoisonError};
use std::thread::JoinHandle;
use std::time::Instant;

#[derive(Default)]
struct WatchState {
    deadline: Option<Instant>,
    fired: bool,
    quit: bool,
}

/// Owns the watchdog thread; the thread ends when this is dropped.
pub(crate) struct Watchdog {
    shared: Arc<(Mutex<WatchState>, Condvar)>,
    thread: Option<JoinHandle<()>>,
}

impl Watchdog {
    /// Starts a watchdog that terminates `isolate`'s running script at each armed deadline.
    pub(crate) fn new(isolate: IsolateHandle) -> std::io::Result<Watchdog> {
        let shared = Arc::new((Mutex::new(WatchState::default()), Condvar::new()));
        let theirs = Arc::clone(&shared);
        let thread = std::thread::Builder::new()
            .name("pencil-sandbox-watchdog".into())
            .spawn(move || watch(&theirs, &isolate))?;
        Ok(Watchdog { shared, thread: Some(thread) })
    }

    /// Arms the deadline for the next run.
    pub(crate) fn arm(&self, deadline: Instant) {
        let (lock, cvar) = &*self.shared;
        let mut st = lock.lock().unwrap_or_else(PoisonError::into_inner);
        st.deadline = Some(deadline);
        st.fired = false;
        cvar.notify_one();
    }

    /// Disarms; returns whether the deadline fired during the run.
    pub(crate) fn disarm(&self) -> bool {
        let (lock, cvar) = &*self.shared;
        let mut st = lock.lock().unwrap_or_else(PoisonError::into_inner);
        st.deadline = None;
        cvar.notify_one();
        std::mem::take(&mut st.fired)
    }
}

fn watch(shared: &(Mutex<WatchState>, Condvar), isolate: &IsolateHandle) {
    let (lock, cvar) = shared;
    let mut st = lock.lock().unwrap_or_else(PoisonError::into_inner);
    loop {
        if st.quit {
            return;
        }
        match st.deadline {
            None => st = cvar.wait(st).unwrap_or_else(PoisonError::into_inner),
            Some(deadline) => {
                let now = Instant::now();
                if now >= deadline {
                    isolate.terminate_execution();
                    st.fired = true;
                    st.deadline = None;
                } else {
                    st = cvar
                        .wait_timeout(st, deadline - now)
                        .unwrap_or_else(PoisonError::into_inner)
                        .0;
                }
            }
        }
    }
}

impl Drop for Watchdog {
    fn drop(&mut self) {
        {
            let (lock, cvar) = &*self.shared;
            let mut st = lock.lock().unwrap_or_else(PoisonError::into_inner);
            st.quit = true;
            cvar.notify_one();
        }
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}
