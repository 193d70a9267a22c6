//! The pool: warm runtimes behind a cloneable handle. Each slot is a thread that owns
//! one runtime, on that thread ([`Isolation::InProcess`]) or in a worker process
//! ([`Isolation::Process`]) that it starts, watches and replaces.

use crate::engine::Engine;
use crate::judge::{self, CompileCache};
use crate::process::{Ended, Worker};
use crate::wire::{Reply, Request};
use crate::worker::GRACE;
use crate::{Isolation, SandboxConfig, SandboxError, Verdict, WorkerCommand};
use std::panic::AssertUnwindSafe;
use std::process::ExitStatus;
use std::sync::mpsc::{self, Receiver, Sender};
use std::sync::{Arc, Mutex, PoisonError};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// Time allowed to load the compiler into a fresh runtime.
pub(crate) const STARTUP_BUDGET: Duration = Duration::from_secs(30);

enum Job {
    /// Check a program: compile (or take it from the cache), run, judge.
    Check { source: String, reply: Sender<Result<Verdict, SandboxError>> },
    /// Compile only, into the shared cache; answers whether it compiled now.
    Prepare { source: String, reply: Sender<Result<bool, SandboxError>> },
}

impl Job {
    fn fail(self, error: SandboxError) {
        match self {
            Job::Check { reply, .. } => drop(reply.send(Err(error))),
            Job::Prepare { reply, .. } => drop(reply.send(Err(error))),
        }
    }
}

struct Inner {
    workers: Mutex<Vec<JoinHandle<()>>>,
}

impl Drop for Inner {
    fn drop(&mut self) {
        // Every handle's sender is gone by now (see `Sandbox`'s field order),
        // so the queue is closed and each slot's loop ends.
        for w in self.workers.lock().unwrap_or_else(PoisonError::into_inner).drain(..) {
            let _ = w.join();
        }
    }
}

/// Clone + Send + Sync handle to a pool of warm runtimes, each owned by a thread of its own.
#[derive(Clone)]
pub struct Sandbox {
    // Declared first so it drops before `_pool` joins the slots.
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
        let mut spawn_failed = None;
        for i in 0..config.pool_size.max(1) {
            let receiver = Arc::clone(&receiver);
            let cache = Arc::clone(&cache);
            let config = config.clone();
            let ready = ready_tx.clone();
            match std::thread::Builder::new()
                .name(format!("pencil-sandbox-{i}"))
                .spawn(move || slot(&config, &receiver, &cache, &ready))
            {
                Ok(handle) => workers.push(handle),
                Err(e) => {
                    spawn_failed = Some(SandboxError::Startup(e.to_string()));
                    break;
                }
            }
        }
        drop(ready_tx);
        let started = workers.len();
        // The handle exists before any wait: if a runtime fails to start, returning drops
        // it, which closes the queue (the sender drops first) so that the slots already
        // waiting on it end and joining them returns.
        let sandbox = Sandbox { sender, cache, _pool: Arc::new(Inner { workers: Mutex::new(workers) }) };
        if let Some(e) = spawn_failed {
            return Err(e);
        }
        for _ in 0..started {
            match ready_rx.recv() {
                Ok(Ok(())) => {}
                Ok(Err(e)) => return Err(e),
                Err(_) => return Err(SandboxError::WorkerGone),
            }
        }
        Ok(sandbox)
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
        if self.is_prepared(source) {
            return Ok(false);
        }
        let (reply, answer) = mpsc::channel();
        self.sender
            .send(Job::Prepare { source: source.to_string(), reply })
            .map_err(|_| SandboxError::WorkerGone)?;
        answer.recv().map_err(|_| SandboxError::WorkerGone)?
    }
}

/// Checks one program on a fresh runtime (the cold path: no pool, no warm compiler,
/// no cache), built on this thread or in a fresh worker process as `config` says.
/// For benchmarks and one-shot tools.
pub fn check_once(config: &SandboxConfig, source: &str) -> Result<Verdict, SandboxError> {
    match config.isolation {
        Isolation::InProcess => {
            let mut engine = Engine::new(config.memory_limit, STARTUP_BUDGET)?;
            judge::check(&mut engine, &CompileCache::default(), config, source)
        }
        Isolation::Process(_) => Sandbox::new(SandboxConfig { pool_size: 1, ..config.clone() })?.check(source),
    }
}

/// One slot of the pool: starts its runtime, says whether it could, then serves jobs
/// until the queue closes.
fn slot(
    config: &SandboxConfig,
    jobs: &Mutex<Receiver<Job>>,
    cache: &CompileCache,
    ready: &Sender<Result<(), SandboxError>>,
) {
    let mut runtime = match Runtime::start(config) {
        Ok(runtime) => {
            let _ = ready.send(Ok(()));
            runtime
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
        runtime.serve(config, cache, job);
    }
}

/// The runtime a slot owns.
enum Runtime {
    /// On the slot's thread (emptied when retired; rebuilt for the next job).
    Thread(Option<Engine>),
    /// In a worker process (emptied when it died or was killed; restarted right away).
    Process { command: WorkerCommand, worker: Option<Worker> },
}

impl Runtime {
    fn start(config: &SandboxConfig) -> Result<Runtime, SandboxError> {
        Ok(match &config.isolation {
            Isolation::InProcess => Runtime::Thread(Some(Engine::new(config.memory_limit, STARTUP_BUDGET)?)),
            Isolation::Process(command) => Runtime::Process {
                command: command.clone(),
                worker: Some(Worker::start(command, config, STARTUP_BUDGET)?),
            },
        })
    }

    fn serve(&mut self, config: &SandboxConfig, cache: &CompileCache, job: Job) {
        match self {
            Runtime::Thread(engine) => serve_on_thread(engine, config, cache, job),
            Runtime::Process { command, worker } => {
                if worker.is_none() {
                    *worker = Worker::start(command, config, STARTUP_BUDGET).ok();
                }
                let Some(w) = worker.as_mut() else {
                    return job.fail(SandboxError::Startup("could not restart the sandbox worker".into()));
                };
                if !serve_in_worker(w, config, cache, job) {
                    // Killed, dead or retiring: reap it, and have the next one warm before the next job.
                    *worker = None;
                    *worker = Worker::start(command, config, STARTUP_BUDGET).ok();
                }
            }
        }
    }
}

fn serve_on_thread(engine: &mut Option<Engine>, config: &SandboxConfig, cache: &CompileCache, job: Job) {
    if engine.is_none() {
        *engine = Engine::new(config.memory_limit, STARTUP_BUDGET).ok();
    }
    if engine.is_none() {
        return job.fail(SandboxError::Startup("could not rebuild a runtime".into()));
    }
    match job {
        Job::Check { source, reply } => {
            let _ = reply.send(guarded(engine, |eng| judge::check(eng, cache, config, &source)));
        }
        Job::Prepare { source, reply } => {
            let _ = reply.send(guarded(engine, |eng| judge::prepare(eng, cache, config, &source)));
        }
    }
}

/// Sends `job` to the worker and answers it: from the worker's reply, or, when the
/// worker passed the wall time (plus [`GRACE`]) or died, with a `timeout` or
/// `out of memory` verdict. Returns whether the worker may serve the next job.
fn serve_in_worker(worker: &mut Worker, config: &SandboxConfig, cache: &CompileCache, job: Job) -> bool {
    let started = Instant::now();
    let deadline = started + config.wall_time + GRACE;
    match job {
        Job::Check { source, reply } => {
            let key = judge::cache_key(&source);
            let compiled = cache.get(&key).map(|c| (*c).clone());
            let (answer, keep) = match worker.call(&Request::Check { source, compiled }, deadline) {
                Ok(Reply::Checked { verdict, compiled, retire }) => {
                    if let Some(c) = compiled {
                        cache.put(key, Arc::new(c));
                    }
                    (verdict.map_err(SandboxError::from), !retire)
                }
                Ok(_) => (Err(SandboxError::Worker("answered a check with something else".into())), false),
                Err(ended) => (ended_check(ended, started), false),
            };
            let _ = reply.send(answer);
            keep
        }
        Job::Prepare { source, reply } => {
            let key = judge::cache_key(&source);
            let (answer, keep) = match worker.call(&Request::Prepare { source }, deadline) {
                Ok(Reply::Prepared { compiled_now, compiled, retire }) => {
                    if let Some(c) = compiled {
                        cache.put(key, Arc::new(c));
                    }
                    (compiled_now.map_err(SandboxError::from), !retire)
                }
                Ok(_) => (Err(SandboxError::Worker("answered a compile with something else".into())), false),
                // It was compiled (and failed): nothing is cached, the check will say why.
                Err(Ended::Overran | Ended::Died(_)) => (Ok(true), false),
                Err(Ended::Broken(m)) => (Err(SandboxError::Worker(m)), false),
            };
            let _ = reply.send(answer);
            keep
        }
    }
}

/// The answer to a check whose worker gave none.
fn ended_check(ended: Ended, started: Instant) -> Result<Verdict, SandboxError> {
    let ms = started.elapsed().as_secs_f64() * 1000.0;
    match ended {
        Ended::Overran => Ok(judge::timed_out(ms)),
        Ended::Died(status) => died(status, ms),
        Ended::Broken(m) => Err(SandboxError::Worker(m)),
    }
}

/// A worker that died by itself during a check: past its CPU limit (SIGXCPU) it timed
/// out; killed by any other signal (an allocation the address-space limit refused aborts
/// it; the kernel's out-of-memory killer sends SIGKILL) it ran out of memory.
fn died(status: ExitStatus, ms: f64) -> Result<Verdict, SandboxError> {
    #[cfg(unix)]
    {
        use std::os::unix::process::ExitStatusExt;
        match status.signal() {
            Some(libc::SIGXCPU) => return Ok(judge::timed_out(ms)),
            Some(_) => return Ok(judge::out_of_memory(ms)),
            None => {}
        }
    }
    Err(SandboxError::Worker(format!("exited during a check ({status})")))
}

/// Runs `call` on the engine; a panic, leaked state or exhausted memory retires it
/// (`slot` is emptied, and the next job starts a fresh runtime).
pub(crate) fn guarded<T>(
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
