//! The two verdicts: the paper's success rule and the student-facing status.

use crate::drawing::Drawing;
use crate::engine::{CallError, Engine, RawError, RunOptions, RunReport};
use crate::{Language, ProgramError, ResourceLoads, SandboxConfig, SandboxError, Status, Verdict};
use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

/// The line the paper's harness appends to every program.
const END_LINE: &str = "\nconsole.log(\"END_REACHED\");";
/// Compiled programs kept per sandbox; the cache is cleared when full.
const COMPILE_CACHE_ENTRIES: usize = 8192;
/// Bytes of source and compiled code kept per sandbox (documents may be 1 MiB each).
const COMPILE_CACHE_BYTES: usize = 64 << 20;
/// Time after a check's deadline for the host's own work: mapping an error back to the
/// student's source. (Restoring the page after an interrupted run has its own, in `engine.rs`.)
pub(crate) const HOUSEKEEPING: Duration = Duration::from_millis(250);

/// Compile results shared by the pool, keyed by the exact source (see [`cache_key`]).
#[derive(Default)]
pub(crate) struct CompileCache {
    map: Mutex<CacheMap>,
}

#[derive(Default)]
struct CacheMap {
    entries: HashMap<String, Arc<CompileOutcome>>,
    bytes: usize,
}

/// What compiling a program gave.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub(crate) enum CompileOutcome {
    /// Compiled JavaScript.
    Js(String),
    /// A syntax error, with its position in the student's source.
    Error(RawError),
    /// The compiler ran past the wall-time limit (never cached: a busy machine is not the program).
    Timeout,
    /// The compiler ran out of memory (never cached either).
    OutOfMemory,
}

impl CompileOutcome {
    /// Whether the outcome belongs to the text alone, so that it may be cached.
    fn is_cacheable(&self) -> bool {
        matches!(self, CompileOutcome::Js(_) | CompileOutcome::Error(_))
    }
    fn bytes(&self) -> usize {
        match self {
            CompileOutcome::Js(js) => js.len(),
            CompileOutcome::Error(e) => e.message.len() + e.kind.len(),
            CompileOutcome::Timeout | CompileOutcome::OutOfMemory => 0,
        }
    }
}

impl CompileCache {
    pub(crate) fn get(&self, key: &str) -> Option<Arc<CompileOutcome>> {
        self.map.lock().unwrap_or_else(PoisonError::into_inner).entries.get(key).cloned()
    }
    /// Keeps `value` for `key` if it belongs to the text alone (not a timeout or out of memory).
    pub(crate) fn put(&self, key: String, value: Arc<CompileOutcome>) {
        if !value.is_cacheable() {
            return;
        }
        let size = key.len() + value.bytes();
        if size > COMPILE_CACHE_BYTES / 4 {
            return;
        }
        let mut map = self.map.lock().unwrap_or_else(PoisonError::into_inner);
        if map.entries.len() >= COMPILE_CACHE_ENTRIES || map.bytes + size > COMPILE_CACHE_BYTES {
            map.entries.clear();
            map.bytes = 0;
        }
        if let Some(old) = map.entries.insert(key, value) {
            map.bytes = map.bytes.saturating_sub(old.bytes());
        }
        map.bytes += size;
    }
}

/// The cache key of a program: the text the compiler sees.
pub(crate) fn cache_key(source: &str) -> String {
    format!("{source}{END_LINE}")
}

/// `e` with a line the student's editor has. The harness's END line follows the
/// student's text, so an error found at the end of the input (`missing )`, an
/// unterminated string or block) is reported past the student's last line; it
/// goes on their last line that is not blank, where the unfinished text ends.
fn within_source(mut e: ProgramError, source: &str) -> ProgramError {
    let lines: Vec<&str> = source.split('\n').collect();
    if e.line.is_some_and(|l| l as usize > lines.len()) {
        let last = lines.iter().rposition(|l| !l.trim().is_empty()).unwrap_or(0);
        e.line = Some(last as u32 + 1);
        e.column = None;
    }
    e
}

/// Time left before `deadline`, or `None` once there is too little to start a call.
fn left(deadline: Instant) -> Option<Duration> {
    deadline.checked_duration_since(Instant::now()).filter(|d| *d >= Duration::from_millis(1))
}

/// The verdict of a check that passed its wall time without answering (its worker was killed).
pub(crate) fn timed_out(ms: f64) -> Verdict {
    Verdict { status: Status::Timeout, paper_success: false, language: Language::Coffeescript, error: None, ms, unchecked_load: None, drawing: None }
}

/// The verdict of a check whose runtime ran out of memory.
pub(crate) fn out_of_memory(ms: f64) -> Verdict {
    Verdict {
        status: Status::Error,
        paper_success: false,
        language: Language::Coffeescript,
        error: Some(out_of_memory_error()),
        ms,
        unchecked_load: None,
        drawing: None,
    }
}

fn out_of_memory_error() -> ProgramError {
    ProgramError { kind: "RangeError".into(), message: "out of memory".into(), line: None, column: None }
}

/// How one language's run ended.
enum RunEnd {
    Report(RunReport),
    Timeout,
    OutOfMemory,
}

impl RunEnd {
    fn from_call(r: Result<RunReport, CallError>) -> Result<RunEnd, SandboxError> {
        match r {
            Ok(rep) if rep.hung.is_some() => Ok(RunEnd::Timeout),
            Ok(rep) => Ok(RunEnd::Report(rep)),
            Err(CallError::Timeout) => Ok(RunEnd::Timeout),
            Err(CallError::OutOfMemory) => Ok(RunEnd::OutOfMemory),
            Err(CallError::Host(m)) => Err(SandboxError::Host(m)),
        }
    }
    /// The run's drawing, when the host's report has one within the caps.
    fn drawing(&self) -> Option<Drawing> {
        match self {
            RunEnd::Report(r) => r.drawing.as_ref().filter(|d| d.within_caps()).cloned(),
            _ => None,
        }
    }
    fn errors(&self) -> &[RawError] {
        match self {
            RunEnd::Report(r) => &r.errors,
            _ => &[],
        }
    }
    /// The run with failed resource loads taken out of its errors; the first one goes to `first`.
    fn without_resource_loads(mut self, first: &mut Option<RawError>) -> RunEnd {
        if let RunEnd::Report(r) = &mut self {
            let (loads, others): (Vec<RawError>, Vec<RawError>) =
                r.errors.drain(..).partition(|e| e.kind == RESOURCE_ERROR);
            r.errors = others;
            if first.is_none() {
                *first = loads.into_iter().next();
            }
        }
        self
    }
}

/// The error kind the runtime gives a resource that failed to load.
const RESOURCE_ERROR: &str = "ResourceError";

/// The CoffeeScript run succeeded: no error and the END line reached.
fn coffee_ran(run: &Option<RunEnd>) -> bool {
    matches!(run, Some(RunEnd::Report(r)) if r.errors.is_empty() && r.end_reached)
}

/// The JavaScript re-run succeeded: no error.
fn javascript_ran(run: &RunEnd) -> bool {
    matches!(run, RunEnd::Report(r) if r.errors.is_empty())
}

/// Whether the compile outcome of `source` is cached.
pub(crate) fn is_cached(cache: &CompileCache, source: &str) -> bool {
    cache.get(&cache_key(source)).is_some()
}

/// Compiles `source` into the cache unless it is there; true if it compiled now.
/// A later check of the same text then only runs it.
pub(crate) fn prepare(engine: &mut Engine, cache: &CompileCache, config: &SandboxConfig, source: &str) -> Result<bool, SandboxError> {
    let coffee_text = cache_key(source);
    if cache.get(&coffee_text).is_some() {
        return Ok(false);
    }
    compile_cached(engine, cache, config.wall_time, &coffee_text)?;
    Ok(true)
}

/// The compile outcome of `coffee_text`, from the cache or compiled now (and cached
/// unless it timed out or ran out of memory).
fn compile_cached(engine: &mut Engine, cache: &CompileCache, budget: Duration, coffee_text: &str) -> Result<Arc<CompileOutcome>, SandboxError> {
    if let Some(c) = cache.get(coffee_text) {
        return Ok(c);
    }
    if budget < Duration::from_millis(1) {
        return Ok(Arc::new(CompileOutcome::Timeout));
    }
    let outcome = match engine.compile(coffee_text, budget) {
        Ok(c) if c.ok => CompileOutcome::Js(c.js.unwrap_or_default()),
        Ok(c) => CompileOutcome::Error(c.error.unwrap_or(RawError {
            kind: "SyntaxError".into(),
            message: "compile failed".into(),
            line: None,
            column: None,
        })),
        Err(CallError::Timeout) => CompileOutcome::Timeout,
        Err(CallError::OutOfMemory) => CompileOutcome::OutOfMemory,
        Err(CallError::Host(m)) => return Err(SandboxError::Host(m)),
    };
    let outcome = Arc::new(outcome);
    cache.put(coffee_text.to_string(), Arc::clone(&outcome));
    Ok(outcome)
}

/// Checks one program on `engine`, as the paper's harness and the student see it.
pub(crate) fn check(
    engine: &mut Engine,
    cache: &CompileCache,
    config: &SandboxConfig,
    source: &str,
) -> Result<Verdict, SandboxError> {
    let started = Instant::now();
    // One deadline for the whole check: compile, CoffeeScript run, JavaScript re-run.
    let deadline = started + config.wall_time;
    let options = RunOptions {
        window_s: config.virtual_window.as_secs_f64(),
        absolute_urls_fail: config.absolute_urls_fail,
        max_turtle_ops: config.max_turtle_ops,
        max_events: config.max_timer_callbacks,
    };
    let coffee_text = cache_key(source);
    let compiled = compile_cached(engine, cache, left(deadline).unwrap_or_default(), &coffee_text)?;
    let run = |engine: &mut Engine, code: &str, language: &str| match left(deadline) {
        Some(budget) => RunEnd::from_call(engine.run(code, language, &options, budget)),
        None => Ok(RunEnd::Timeout),
    };

    // The CoffeeScript run: success needs no error and the END line reached.
    let coffee = match &*compiled {
        CompileOutcome::Js(js) => Some(run(engine, js, "coffeescript")?),
        _ => None,
    };
    let ran = |status, paper_success, language, unchecked_load: Option<RawError>, drawing| Verdict {
        status,
        paper_success,
        language,
        error: None,
        ms: elapsed_ms(started),
        unchecked_load: unchecked_load.map(to_program_error),
        drawing,
    };
    if coffee_ran(&coffee) {
        let drawing = coffee.as_ref().and_then(RunEnd::drawing);
        return Ok(ran(Status::Ok, true, Language::Coffeescript, None, drawing));
    }

    // The JavaScript re-run of the same text: success needs only no error.
    let js = run(engine, &coffee_text, "javascript")?;
    if javascript_ran(&js) {
        return Ok(ran(Status::Ok, true, Language::Javascript, None, js.drawing()));
    }

    // The paper's rule says the program failed. Unless failed loads count, the student's
    // status comes from the other errors: a load that fails only because the sandbox is
    // offline is not something the student can fix.
    let mut unchecked_load = None;
    let (coffee, js) = match config.resource_loads {
        ResourceLoads::Fail => (coffee, js),
        ResourceLoads::Unchecked => (
            coffee.map(|run| run.without_resource_loads(&mut unchecked_load)),
            js.without_resource_loads(&mut unchecked_load),
        ),
    };
    if unchecked_load.is_some() {
        if coffee_ran(&coffee) {
            let drawing = coffee.as_ref().and_then(RunEnd::drawing);
            return Ok(ran(Status::Ok, false, Language::Coffeescript, unchecked_load, drawing));
        }
        if javascript_ran(&js) {
            return Ok(ran(Status::Ok, false, Language::Javascript, unchecked_load, js.drawing()));
        }
    }

    // Failed both ways: tell the student about the language they wrote in.
    // A program the CoffeeScript compiler rejects but JavaScript parses is JavaScript;
    // so is one the compiler rejects at a JavaScript keyword (`function`, `var`), even if
    // it does not parse yet: the student is still writing JavaScript.
    let js_parsed = js.errors().first().is_none_or(|e| e.kind != "SyntaxError");
    let compile_failed = matches!(&*compiled, CompileOutcome::Error(_));
    let wrote_javascript = matches!(&*compiled, CompileOutcome::Error(e) if is_javascript_keyword_error(&e.message));
    let (language, status, error, drawing) = if compile_failed && (js_parsed || wrote_javascript) {
        let (status, error) = describe(&js, None, engine, deadline);
        (Language::Javascript, status, error, js.drawing())
    } else {
        match (&*compiled, coffee) {
            (CompileOutcome::Error(e), _) => (Language::Coffeescript, Status::Error, Some(to_program_error(e.clone())), None),
            (CompileOutcome::Timeout, _) => (Language::Coffeescript, Status::Timeout, None, None),
            (CompileOutcome::OutOfMemory, _) => (Language::Coffeescript, Status::Error, Some(out_of_memory_error()), None),
            (CompileOutcome::Js(_), Some(run)) => {
                let (status, error) = describe(&run, Some(&coffee_text), engine, deadline);
                (Language::Coffeescript, status, error, run.drawing())
            }
            (CompileOutcome::Js(_), None) => (Language::Coffeescript, Status::Error, None, None),
        }
    };
    Ok(Verdict {
        status,
        paper_success: false,
        language,
        error: error.map(|e| within_source(e, source)),
        ms: elapsed_ms(started),
        unchecked_load: unchecked_load.map(to_program_error),
        drawing,
    })
}

/// Student-facing status and first error of a failed run. `coffee_source` maps
/// positions in compiled code back to the CoffeeScript the student wrote (with time
/// until [`HOUSEKEEPING`] past the check's `deadline`).
fn describe(
    run: &RunEnd,
    coffee_source: Option<&str>,
    engine: &mut Engine,
    deadline: Instant,
) -> (Status, Option<ProgramError>) {
    match run {
        RunEnd::Timeout => (Status::Timeout, None),
        RunEnd::OutOfMemory => (Status::Error, Some(out_of_memory_error())),
        RunEnd::Report(r) => match r.errors.first() {
            Some(e) => {
                let mut err = to_program_error(e.clone());
                if let (Some(src), Some(line)) = (coffee_source, e.line) {
                    let position = left(deadline + HOUSEKEEPING)
                        .and_then(|budget| engine.source_position(src, line, e.column, named_identifier(&e.message), budget));
                    match position {
                        Some((l, c)) => {
                            err.line = Some(l);
                            err.column = Some(c);
                        }
                        None => {
                            err.line = None;
                            err.column = None;
                        }
                    }
                }
                (Status::Error, Some(err))
            }
            // No error and no END: blocked on input, or still animating when the window closed.
            None if r.waits_for_input => (Status::WaitsForInput, None),
            None => (Status::Ok, None),
        },
    }
}

/// CoffeeScript's complaint about a keyword only JavaScript has (`reserved word "function"`).
fn is_javascript_keyword_error(message: &str) -> bool {
    ["function", "var", "let", "const"].iter().any(|k| message.starts_with(&format!("reserved word \"{k}\"")))
}

/// The identifier an error message names (`x is not defined`, `t.wear is not a function` -> `wear`).
fn named_identifier(message: &str) -> Option<&str> {
    let subject = message
        .strip_suffix(" is not defined")
        .or_else(|| message.strip_suffix(" is not a function"))?;
    let last = subject.rsplit('.').next()?;
    let is_ident = !last.is_empty()
        && last.chars().all(|c| c.is_alphanumeric() || c == '_' || c == '$')
        && !last.starts_with(|c: char| c.is_ascii_digit());
    is_ident.then_some(last)
}

fn to_program_error(e: RawError) -> ProgramError {
    ProgramError { kind: e.kind, message: e.message, line: e.line, column: e.column }
}

fn elapsed_ms(started: Instant) -> f64 {
    started.elapsed().as_secs_f64() * 1000.0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn compile_timeouts_are_not_cached() {
        let mut engine = Engine::new(256 << 20, Duration::from_secs(30)).expect("engine starts");
        let cache = CompileCache::default();
        // Long enough that no machine compiles it in a millisecond.
        let key = cache_key(&"pen red\nfor i in [1..10]\n  fd i * 2\n  rt 90\n".repeat(400));
        let busy = compile_cached(&mut engine, &cache, Duration::from_millis(1), &key).expect("compile");
        assert!(matches!(*busy, CompileOutcome::Timeout), "{busy:?}");
        assert!(cache.get(&key).is_none(), "a timeout says nothing about the text: not cached");
        // With time to compile, the same text compiles (and that is cached).
        let calm = compile_cached(&mut engine, &cache, Duration::from_secs(30), &key).expect("compile");
        assert!(matches!(*calm, CompileOutcome::Js(_)), "{calm:?}");
        assert!(matches!(cache.get(&key).as_deref(), Some(CompileOutcome::Js(_))));
        // Neither is running out of memory.
        cache.put("x".into(), Arc::new(CompileOutcome::OutOfMemory));
        assert!(cache.get("x").is_none());
    }

    #[test]
    fn the_compile_cache_is_bounded_in_bytes() {
        let cache = CompileCache::default();
        let big = "x".repeat(COMPILE_CACHE_BYTES / 8);
        for i in 0..20 {
            cache.put(format!("{i}"), Arc::new(CompileOutcome::Js(big.clone())));
            let bytes = cache.map.lock().unwrap_or_else(PoisonError::into_inner).bytes;
            assert!(bytes <= COMPILE_CACHE_BYTES, "{bytes} bytes after {i} entries");
        }
        assert!(cache.get("19").is_some(), "the newest entry is kept");
    }
}
