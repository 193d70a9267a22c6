//! Learning the student's own vector on their machine, in the background: after a
//! finished trace (the student runs another title, or does not run anything for
//! `adaptIdleSeconds`), fit the vector on their newest recorded traces
//! (`pencil_core::adapt`), store it with the model's sha256, and give it to the
//! engine, which then reads the student with it for risk and "Fix in my style".
//!
//! An actor: [`Adapter`] owns a channel to one thread, which ends when the last
//! handle drops (cancelling a fit in progress). The thread runs at the lowest
//! priority (nice 19) and does its math on a rayon pool, also niced, of both
//! cores when the machine is idle and of one otherwise, so the editor, the
//! sandbox and the model's requests always come first; nothing on the async
//! executor ever waits for it.

use crate::clock::now_timestamp;
use crate::coach::{Coach, ModelEngine};
use crate::session::Settings;
use crate::store::{AdaptationLimits, StoreError, StoreHandle, StudentVectorRow};
use pencil_core::adapt::{adapt_vector, adaptation_texts, load_trace_model, AdaptError, AdaptOptions, AdaptationDefaults};
use pencil_core::inference::manifest::TOKENIZER_FILE;
use pencil_core::inference::InferenceError;
use pencil_core::model::TraceTokenizer;
use pencil_core::scrub::{locate_names_dir, NameLists, Scrubber, DICTIONARY};
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{mpsc, Arc};
use std::time::{Duration, Instant};

/// Why learning a vector failed.
#[derive(Debug, thiserror::Error)]
pub enum AdaptationError {
    /// The store could not be read or written.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The fit failed (or was cancelled).
    #[error(transparent)]
    Adapt(#[from] AdaptError),
    /// The engine refused the vector.
    #[error(transparent)]
    Model(#[from] InferenceError),
    /// The tokenizer could not be loaded.
    #[error("{0}")]
    Tokenizer(String),
}

/// What one [`learn`] did.
#[derive(Debug, Clone, PartialEq)]
pub enum Learned {
    /// No state was recorded since the stored vector was learned for this model.
    Unchanged,
    /// A new vector, stored and in use.
    Stored(StudentVectorRow),
}

/// What the adapter does, from the settings.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AdaptationConfig {
    /// Learn and use the student's vector.
    pub enabled: bool,
    /// No run for this long finishes the current trace.
    pub idle: Duration,
}

impl From<&Settings> for AdaptationConfig {
    fn from(s: &Settings) -> Self {
        AdaptationConfig { enabled: s.adaptation, idle: Duration::from_secs(s.adapt_idle_s) }
    }
}

/// States read per trace and characters per state: far beyond what the fit
/// keeps of a trace (its first `max_tokens_per_trace` tokens), so the cut never
/// changes the text it learns from, but bounds what one adaptation reads.
const STATES_PER_TRACE: usize = 200;
const CHARS_PER_STATE: usize = 64 * 1024;

/// The fit's options for `engine`'s model: the manifest's `adaptation` settings
/// when it has them, else [`AdaptOptions::default`].
pub fn options_for(engine: &ModelEngine) -> AdaptOptions {
    let options = AdaptOptions::default();
    match AdaptationDefaults::read(engine.dir()) {
        Some(d) => d.apply(options),
        None => options,
    }
}

/// The scrub training texts went through: the names lists when they are
/// installed; without them (a student's machine may lack them) the other rules
/// still apply, and the log says so.
pub fn scrubber() -> Scrubber {
    match NameLists::load(&locate_names_dir(None), Path::new(DICTIONARY)) {
        Ok(lists) => Scrubber::new(lists),
        Err(e) => {
            tracing::warn!("adaptation scrubs without the names lists: {e}");
            Scrubber::new(NameLists::default())
        }
    }
}

/// Gives `engine` the student's stored vector when it was learned for this model
/// and adaptation is on; otherwise the unseen-student vector. Whether a learned
/// vector is now in use.
pub fn restore(store: &StoreHandle, engine: &ModelEngine, student: &str, enabled: bool) -> Result<bool, AdaptationError> {
    let s = student.to_string();
    let row = if enabled { store.call_blocking(move |db| db.student_vector(&s))? } else { None };
    let vector = row.filter(|r| r.model_sha256 == engine.model_sha256()).map(|r| r.vector);
    let used = vector.is_some();
    engine.set_own_vector(vector)?;
    Ok(used)
}

/// Learns `student`'s vector for `engine`'s model from their newest traces
/// (leaving out `unfinished`, the title they are writing now), stores it and gives
/// it to the engine. Blocking, on the calling thread (and its rayon pool).
pub fn learn(
    store: &StoreHandle,
    engine: &ModelEngine,
    student: &str,
    unfinished: Option<&str>,
    scrubber: &Scrubber,
    options: &AdaptOptions,
    cancel: &AtomicBool,
) -> Result<Learned, AdaptationError> {
    let s = student.to_string();
    let (states, stored) = store.call_blocking(move |db| Ok((db.state_count(&s)?, db.student_vector(&s)?)))?;
    let sha = engine.model_sha256().to_string();
    if stored.as_ref().is_some_and(|r| r.model_sha256 == sha && r.source_states == states) {
        return Ok(Learned::Unchanged);
    }
    let limits = AdaptationLimits { traces: options.max_traces + 1, states_per_trace: STATES_PER_TRACE, chars_per_state: CHARS_PER_STATE };
    let s = student.to_string();
    let mut traces = store.call_blocking(move |db| db.adaptation_traces(&s, limits))?;
    traces.retain(|t| Some(t.title.as_str()) != unfinished);
    for t in &mut traces {
        // The student left these traces: each is read as a complete one, as
        // complete training traces are.
        t.eos = true;
    }
    let n_traces = traces.len().min(options.max_traces);
    let cfg = &engine.manifest().config;
    let tok_path = engine.dir().join(TOKENIZER_FILE);
    let tok = TraceTokenizer::load(&tok_path).map_err(|e| AdaptationError::Tokenizer(e.to_string()))?;
    let texts = adaptation_texts(traces, scrubber, &tok, cfg.title_tokens, cfg.context, options)?;
    let model = load_trace_model(engine.dir(), engine.manifest())?;
    let adapted = adapt_vector(&model, &texts, engine.unseen_vector(), options, cancel)?;
    drop(model);
    let row = StudentVectorRow {
        student: student.to_string(),
        model_sha256: sha,
        vector: adapted.vector.clone(),
        traces: i64::try_from(texts.len().min(n_traces)).unwrap_or(i64::MAX),
        tokens: i64::try_from(adapted.tokens).unwrap_or(i64::MAX),
        steps: i64::try_from(adapted.steps).unwrap_or(i64::MAX),
        held_out_before: adapted.held_out_loss.map(|(b, _)| f64::from(b)),
        held_out_after: adapted.held_out_loss.map(|(_, a)| f64::from(a)),
        source_states: states,
        learned_at: now_timestamp(),
    };
    let stored = row.clone();
    store.call_blocking(move |db| db.save_student_vector(&stored))?;
    engine.set_own_vector(Some(adapted.vector))?;
    tracing::info!(
        "learned the student's vector from {} traces ({} tokens, {} steps, {:?}) in {:.1} s",
        row.traces,
        row.tokens,
        row.steps,
        adapted.stop,
        adapted.elapsed.as_secs_f64()
    );
    Ok(Learned::Stored(row))
}

enum Message {
    /// The student ran a program of this title.
    Ran(String),
    /// The settings changed.
    Configure(AdaptationConfig),
    /// Another model was loaded.
    ModelChanged,
}

struct Inner {
    messages: mpsc::Sender<Message>,
    cancel: Arc<AtomicBool>,
}

impl Drop for Inner {
    fn drop(&mut self) {
        // The thread sees the channel close after the fit in progress stops.
        self.cancel.store(true, Ordering::Relaxed);
    }
}

/// Handle to the adaptation thread; clones share it, and it ends with the last.
#[derive(Clone)]
pub struct Adapter {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for Adapter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Adapter").finish_non_exhaustive()
    }
}

impl Adapter {
    /// Starts the thread for the store's local student; it first gives the
    /// current model the stored vector (when adaptation is on).
    pub fn start(store: StoreHandle, coach: Coach, config: AdaptationConfig) -> std::io::Result<Adapter> {
        let (messages, rx) = mpsc::channel();
        let cancel = Arc::new(AtomicBool::new(false));
        let thread_cancel = Arc::clone(&cancel);
        std::thread::Builder::new()
            .name("pencil-adapt".into())
            .spawn(move || Worker::new(store, coach, config, thread_cancel).run(&rx))?;
        Ok(Adapter { inner: Arc::new(Inner { messages, cancel }) })
    }

    /// The student ran a program of `title` (it is recorded already).
    pub fn ran(&self, title: &str) {
        let _ = self.inner.messages.send(Message::Ran(title.to_string()));
    }

    /// New settings; turning adaptation off stops a fit in progress and goes back
    /// to the unseen-student vector (the stored one is kept until `student reset`).
    pub fn configure(&self, config: AdaptationConfig) {
        if !config.enabled {
            self.inner.cancel.store(true, Ordering::Relaxed);
        }
        let _ = self.inner.messages.send(Message::Configure(config));
    }

    /// Another model is in place: it gets the vector stored for it, if any.
    pub fn model_changed(&self) {
        let _ = self.inner.messages.send(Message::ModelChanged);
    }
}

/// The adaptation thread's state.
struct Worker {
    store: StoreHandle,
    coach: Coach,
    config: AdaptationConfig,
    cancel: Arc<AtomicBool>,
    scrubber: Option<Scrubber>,
    /// The title of the newest run.
    current: Option<String>,
    /// When the newest run not yet learned from happened.
    pending_since: Option<Instant>,
}

impl Worker {
    fn new(store: StoreHandle, coach: Coach, config: AdaptationConfig, cancel: Arc<AtomicBool>) -> Self {
        Worker { store, coach, config, cancel, scrubber: None, current: None, pending_since: None }
    }

    fn run(mut self, rx: &mpsc::Receiver<Message>) {
        lower_priority();
        let pools = match LowPriorityPools::new() {
            Ok(p) => p,
            Err(e) => {
                tracing::warn!("adaptation is off: its thread pool could not start ({e})");
                return;
            }
        };
        self.sync();
        loop {
            let wait = match self.pending_since {
                Some(t) if self.config.enabled => self.config.idle.saturating_sub(t.elapsed()),
                _ => Duration::from_secs(3600),
            };
            let finished = match rx.recv_timeout(wait) {
                Ok(Message::Ran(title)) => {
                    // Each run re-reads the store: `student reset` may have forgotten the vector.
                    self.sync();
                    let left = self.current.as_ref().is_some_and(|t| *t != title) && self.pending_since.is_some();
                    self.current = Some(title.clone());
                    self.pending_since = Some(Instant::now());
                    left.then_some(Some(title))
                }
                Ok(Message::Configure(config)) => {
                    self.config = config;
                    self.sync();
                    None
                }
                Ok(Message::ModelChanged) => {
                    self.sync();
                    None
                }
                Err(mpsc::RecvTimeoutError::Timeout) => {
                    let idle = self.pending_since.is_some_and(|t| t.elapsed() >= self.config.idle);
                    if idle {
                        self.pending_since = None;
                    }
                    idle.then_some(None)
                }
                Err(mpsc::RecvTimeoutError::Disconnected) => return,
            };
            if let Some(unfinished) = finished.filter(|_| self.config.enabled) {
                pools.for_now().install(|| self.learn(unfinished.as_deref()));
            }
        }
    }

    /// Gives the current model the stored vector (or none).
    fn sync(&self) {
        let Some(engine) = self.coach.engine() else { return };
        if let Err(e) = restore(&self.store, &engine, self.store.local_student(), self.config.enabled) {
            tracing::warn!("the student's vector could not be restored: {e}");
        }
    }

    fn learn(&mut self, unfinished: Option<&str>) {
        let Some(engine) = self.coach.engine() else { return };
        self.cancel.store(false, Ordering::Relaxed);
        let scrubber = self.scrubber.get_or_insert_with(scrubber);
        let options = options_for(&engine);
        let student = self.store.local_student().to_string();
        match learn(&self.store, &engine, &student, unfinished, scrubber, &options, &self.cancel) {
            Ok(_) | Err(AdaptationError::Adapt(AdaptError::NoTraces)) => {}
            Err(AdaptationError::Adapt(AdaptError::Cancelled)) => tracing::info!("adaptation cancelled"),
            Err(e) => tracing::warn!("the student's vector could not be learned: {e}"),
        }
    }
}

/// Rayon pools at nice 19: candle's matrix products and the model's kernels
/// split work over the current rayon pool, so inside `install` a fit uses
/// exactly that pool's cores, at the lowest priority.
pub struct LowPriorityPools {
    one: rayon::ThreadPool,
    /// Every core (at most [`MAX_FIT_THREADS`]); none on a one-core machine.
    all: Option<rayon::ThreadPool>,
}

/// The most threads a fit uses: the model's matrices are small enough that a
/// third core would mostly wait at the kernels' barriers.
const MAX_FIT_THREADS: usize = 2;

/// Below this 1-minute load average per core the machine counts as idle.
const IDLE_LOAD_PER_CORE: f64 = 0.25;

impl LowPriorityPools {
    /// Starts the pools' threads.
    pub fn new() -> Result<Self, rayon::ThreadPoolBuildError> {
        let cores = std::thread::available_parallelism().map_or(1, |n| n.get()).min(MAX_FIT_THREADS);
        let all = if cores > 1 { Some(low_priority_pool(cores)?) } else { None };
        Ok(LowPriorityPools { one: low_priority_pool(1)?, all })
    }

    /// Every pool, one thread first (for benchmarks).
    pub fn each(&self) -> Vec<&rayon::ThreadPool> {
        std::iter::once(&self.one).chain(self.all.as_ref()).collect()
    }

    /// The pool for a fit starting now: every core when the machine is idle,
    /// else one. Threads that wait for each other at every kernel do worse than
    /// one thread when another process holds a core (nice 19 yields it to
    /// them), so the choice is made from the load, not left to the scheduler.
    pub fn for_now(&self) -> &rayon::ThreadPool {
        match &self.all {
            Some(all) if load_per_core().is_some_and(|l| l < IDLE_LOAD_PER_CORE) => all,
            _ => &self.one,
        }
    }
}

/// The 1-minute load average per core (Linux `/proc/loadavg`).
fn load_per_core() -> Option<f64> {
    let text = std::fs::read_to_string("/proc/loadavg").ok()?;
    let load: f64 = text.split_whitespace().next()?.parse().ok()?;
    Some(load / std::thread::available_parallelism().map_or(1, |n| n.get()) as f64)
}

fn low_priority_pool(threads: usize) -> Result<rayon::ThreadPool, rayon::ThreadPoolBuildError> {
    rayon::ThreadPoolBuilder::new().num_threads(threads).thread_name(|_| "pencil-adapt-math".into()).start_handler(|_| lower_priority()).build()
}

/// Nice 19 for the calling thread (Linux: `setpriority` on a thread id affects that thread only).
fn lower_priority() {
    #[cfg(target_os = "linux")]
    {
        // SAFETY: plain system calls on the calling thread's own id; no memory is shared.
        let tid = unsafe { libc::gettid() };
        let _ = unsafe { libc::setpriority(libc::PRIO_PROCESS, tid as libc::id_t, 19) };
    }
}
