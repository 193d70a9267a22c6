//! The two verdicts: the paper's success rule and the student-facing status.

use crate::engine::{CallError, Engine, RawError, RunOptions, RunReport};
use crate::{Language, ProgramError, ResourceLoads, SandboxConfig, SandboxError, Status, Verdict};
use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Instant;

/// The line the paper's harness appends to every program.
const END_LINE: &str = "\nconsole.log(\"END_REACHED\");";
/// Compiled programs kept per sandbox; the cache is cleared when full.
const COMPILE_CACHE_ENTRIES: usize = 8192;

/// Compile results shared by the pool, keyed by the exact source.
#[derive(Default)]
pub(crate) struct CompileCache {
    map: Mutex<HashMap<String, Arc<CompileOutcome>>>,
}

/// What compiling a program gave.
#[derive(Debug)]
pub(crate) enum CompileOutcome {
    /// Compiled JavaScript.
    Js(String),
    /// A syntax error, with its position in the student's source.
    Error(RawError),
    /// The compiler ran past the wall-time limit.
    Timeout,
}

impl CompileCache {
    fn get(&self, key: &str) -> Option<Arc<CompileOutcome>> {
        self.map.lock().unwrap_or_else(PoisonError::into_inner).get(key).cloned()
    }
    fn put(&self, key: String, value: Arc<CompileOutcome>) {
        let mut map = self.map.lock().unwrap_or_else(PoisonError::into_inner);
        if map.len() >= COMPILE_CACHE_ENTRIES {
            map.clear();
        }
        map.insert(key, value);
    }
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
    cache.get(&format!("{source}{END_LINE}")).is_some()
}

/// Compiles `source` into the cache unless it is there; true if it compiled now.
/// A later check of the same text then only runs it.
pub(crate) fn prepare(engine: &mut Engine, cache: &CompileCache, config: &SandboxConfig, source: &str) -> Result<bool, SandboxError> {
    let coffee_text = format!("{source}{END_LINE}");
    if cache.get(&coffee_text).is_some() {
        return Ok(false);
    }
    compile_cached(engine, cache, config.wall_time, &coffee_text)?;
    Ok(true)
}

/// The compile outcome of `coffee_text`, from the cache or compiled now and cached.
fn compile_cached(engine: &mut Engine, cache: &CompileCache, budget: std::time::Duration, coffee_text: &str) -> Result<Arc<CompileOutcome>, SandboxError> {
    if let Some(c) = cache.get(coffee_text) {
        return Ok(c);
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
        Err(CallError::OutOfMemory) => CompileOutcome::Timeout,
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
    let budget = config.wall_time;
    let options = RunOptions {
        window_s: config.virtual_window.as_secs_f64(),
        absolute_urls_fail: config.absolute_urls_fail,
        max_turtle_ops: config.max_turtle_ops,
        max_events: config.max_timer_callbacks,
    };
    let coffee_text = format!("{source}{END_LINE}");
    let compiled = compile_cached(engine, cache, budget, &coffee_text)?;

    // The CoffeeScript run: success needs no error and the END line reached.
    let coffee = match &*compiled {
        CompileOutcome::Js(js) => Some(RunEnd::from_call(engine.run(js, "coffeescript", &options, budget))?),
        _ => None,
    };
    let ran = |status, paper_success, language, unchecked_load: Option<RawError>| Verdict {
        status,
        paper_success,
        language,
        error: None,
        ms: elapsed_ms(started),
        unchecked_load: unchecked_load.map(to_program_error),
    };
    if coffee_ran(&coffee) {
        return Ok(ran(Status::Ok, true, Language::Coffeescript, None));
    }

    // The JavaScript re-run of the same text: success needs only no error.
    let js = RunEnd::from_call(engine.run(&coffee_text, "javascript", &options, budget))?;
    if javascript_ran(&js) {
        return Ok(ran(Status::Ok, true, Language::Javascript, None));
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
            return Ok(ran(Status::Ok, false, Language::Coffeescript, unchecked_load));
        }
        if javascript_ran(&js) {
            return Ok(ran(Status::Ok, false, Language::Javascript, unchecked_load));
        }
    }

    // Failed both ways: tell the student about the language they wrote in.
    // A program the CoffeeScript compiler rejects but JavaScript parses is JavaScript;
    // so is one the compiler rejects at a JavaScript keyword (`function`, `var`), even if
    // it does not parse yet: the student is still writing JavaScript.
    let js_parsed = js.errors().first().is_none_or(|e| e.kind != "SyntaxError");
    let compile_failed = matches!(&*compiled, CompileOutcome::Error(_));
    let wrote_javascript = matches!(&*compiled, CompileOutcome::Error(e) if is_javascript_keyword_error(&e.message));
    let (language, status, error) = if compile_failed && (js_parsed || wrote_javascript) {
        let (status, error) = describe(&js, None, engine, config);
        (Language::Javascript, status, error)
    } else {
        match (&*compiled, coffee) {
            (CompileOutcome::Error(e), _) => (Language::Coffeescript, Status::Error, Some(to_program_error(e.clone()))),
            (CompileOutcome::Timeout, _) => (Language::Coffeescript, Status::Timeout, None),
            (CompileOutcome::Js(_), Some(run)) => {
                let (status, error) = describe(&run, Some(&coffee_text), engine, config);
                (Language::Coffeescript, status, error)
            }
            (CompileOutcome::Js(_), None) => (Language::Coffeescript, Status::Error, None),
        }
    };
    Ok(Verdict {
        status,
        paper_success: false,
        language,
        error,
        ms: elapsed_ms(started),
        unchecked_load: unchecked_load.map(to_program_error),
    })
}

/// Student-facing status and first error of a failed run. `coffee_source` maps
/// positions in compiled code back to the CoffeeScript the student wrote.
fn describe(
    run: &RunEnd,
    coffee_source: Option<&str>,
    engine: &mut Engine,
    config: &SandboxConfig,
) -> (Status, Option<ProgramError>) {
    match run {
        RunEnd::Timeout => (Status::Timeout, None),
        RunEnd::OutOfMemory => (
            Status::Error,
            Some(ProgramError {
                kind: "RangeError".into(),
                message: "out of memory".into(),
                line: None,
                column: None,
            }),
        ),
        RunEnd::Report(r) => match r.errors.first() {
            Some(e) => {
                let mut err = to_program_error(e.clone());
                if let (Some(src), Some(line)) = (coffee_source, e.line) {
                    match engine.source_position(src, line, e.column, named_identifier(&e.message), config.wall_time) {
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
