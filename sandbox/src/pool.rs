//! The pool: warm runtimes, each on its own thread, behind a cloneable handle.

use crate::engine::Engine;
use crate::judge::{self, CompileCache};
use crate::{SandboxConfig, SandboxError, Verdict};
use std::panic::AssertUnwindSafe;
use std::sync::mpsc::{self, Receiver, Sender};
use std::sync::{Arc, Mutex, PoisonError};
use std::thread::JoinHandle;
use std::time::Duration;

/// Time allowed to load the compiler into a fresh runtime.
const STARTUP_BUDGET: Duration = Duration::from_secs(30);

enum Job {
    /// Check a program: compile (or take it from the cache), run, judge.
    Check { source: String, reply: Sender<Result<Verdict, SandboxError>> },
    /// Compile only, into the shared cache; answers whether it compiled now.
    Prepare { source: String, reply: Sender<Result<bool, SandboxError>> },
}

struct Inner {
    workers: Mutex<Vec<JoinHandle<()>>>,
}

impl Drop for Inner {
    fn drop(&mut self) {
        // Every handle's sender is gone by now (see `Sandbox`'s field order),
        // so the queue is closed and each worker loop ends.
        for w in self.workers.lock().unwrap_or_else(PoisonError::into_inner).drain(..) {
            let _ = w.join();
        }
    }
}

/// Clone + Send + Sync handle to a pool of warm runtimes, each living on its own thread.
#[derive(Clone)]
pub struct Sandbox {
    // Declared first so it drops before `_pool` joins the workers.
    sender: Sender<Job>,
    cache: Arc<CompileCache>,
    _pool: Arc<Inner>,
}

impl Sandbox {
    /// Starts `config.pool_size` runtimes, each with the compiler loaded.
    pub fn new(config: SandboxConfig) -> Result<Sandbox, SandboxError> {
        let (sender, receiver) = mpsc::channel::<Job>();
        let receiver = Arc::new(Mutex::new(receiver));
        let cache = Arc::new(CompileCache::default());
        let (ready_tx, ready_rx) = mpsc::channel::<Result<(), SandboxError>>();
        let mut workers = Vec::new();
        for i in 0..config.pool_size.max(1) {
            let receiver = Arc::clone(&receiver);
            let cache = Arc::clone(&cache);
            let config = config.clone();
            let ready = ready_tx.clone();
            let handle = std::thread::Builder::new()
                .name(format!("pencil-sandbox-{i}"))
                .spawn(move || worker(&config, &receiver, &cache, &ready))
                .map_err(|e| SandboxError::Startup(e.to_string()))?;
            workers.push(handle);
        }
        drop(ready_tx);
        let inner = Arc::new(Inner { workers: Mutex::new(workers) });
        for _ in 0..config.pool_size.max(1) {
            match ready_rx.recv() {
                Ok(Ok(())) => {}
                Ok(Err(e)) => return Err(e),
                Err(_) => return Err(SandboxError::WorkerGone),
            }
        }
        Ok(Sandbox { sender, cache, _pool: inner })
    }

    /// Blocking: async callers use tokio::task::spawn_blocking.
    pub fn check(&self, source: &str) -> Result<Verdict, SandboxError> {
        let (reply, answer) = mpsc::channel();
        self.sender
            .send(Job::Check { source: source.to_string(), reply })
            .map_err(|_| SandboxError::WorkerGone)?;
        answer.recv().map_err(|_| SandboxError::WorkerGone)?
    }

    /// Whether `source` is compiled and cached (no runtime is involved).
    pub fn is_prepared(&self, source: &str) -> bool {
        judge::is_cached(&self.cache, source)
    }

    /// Blocking: compiles `source` ahead of its check (an editor calls this as the
    /// student types), so that checking the same text later only runs it. Returns
    /// whether it compiled now (false: it was cached). Compiling never runs student code.
    pub fn prepare(&self, source: &str) -> Result<bool, SandboxError> {
        let (reply, answer) = mpsc::channel();
        self.sender
            .send(Job::Prepare { source: source.to_string(), reply })
            .map_err(|_| SandboxError::WorkerGone)?;
        answer.recv().map_err(|_| SandboxError::WorkerGone)?
    }
}

/// Checks one program on a fresh runtime built on this thread (the cold path:
/// no pool, no warm compiler, no cache). For benchmarks and one-shot tools.
pub fn check_once(config: &SandboxConfig, source: &str) -> Result<Verdict, SandboxError> {
    let mut engine = Engine::new(config.memory_limit, STARTUP_BUDGET)?;
    judge::check(&mut engine, &CompileCache::default(), config, source)
}

fn worker(
    config: &SandboxConfig,
    jobs: &Mutex<Receiver<Job>>,
    cache: &CompileCache,
    ready: &Sender<Result<(), SandboxError>>,
) {
    let mut engine = match Engine::new(config.memory_limit, STARTUP_BUDGET) {
        Ok(e) => {
            let _ = ready.send(Ok(()));
            Some(e)
        }
        Err(e) => {
            let _ = ready.send(Err(e));
            return;
        }
    };
    loop {
        let job = {
            let rx = jobs.lock().unwrap_or_else(PoisonError::into_inner);
            match rx.recv() {
                Ok(job) => job,
                Err(_) => return, // the pool was dropped
            }
        };
        if engine.is_none() {
            engine = Engine::new(config.memory_limit, STARTUP_BUDGET).ok();
        }
        if engine.is_none() {
            let gone = || SandboxError::Startup("could not rebuild a runtime".into());
            match job {
                Job::Check { reply, .. } => drop(reply.send(Err(gone()))),
                Job::Prepare { reply, .. } => drop(reply.send(Err(gone()))),
            }
            continue;
        }
        match job {
            Job::Check { source, reply } => {
                let answer = guarded(&mut engine, |eng| judge::check(eng, cache, config, &source));
                let _ = reply.send(answer);
            }
            Job::Prepare { source, reply } => {
                let answer = guarded(&mut engine, |eng| judge::prepare(eng, cache, config, &source));
                let _ = reply.send(answer);
            }
        }
    }
}

/// Runs `call` on the engine; a panic, leaked state or exhausted memory retires it
/// (`slot` is emptied, and the next job starts a fresh runtime).
fn guarded<T>(
    slot: &mut Option<Engine>,
    call: impl FnOnce(&mut Engine) -> Result<T, SandboxError>,
) -> Result<T, SandboxError> {
    let Some(eng) = slot.as_mut() else { return Err(SandboxError::WorkerGone) };
    match std::panic::catch_unwind(AssertUnwindSafe(|| call(eng))) {
        Ok(answer) => {
            if eng.retired {
                *slot = None; // leaked state or out of memory: start afresh next time
            }
            answer
        }
        Err(_) => {
            *slot = None;
            Err(SandboxError::Host("the runtime panicked".into()))
        }
    }
}
