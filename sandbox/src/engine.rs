//! One JavaScript runtime (deno_core on QuickJS) with the compiler and the
//! turtle runtime loaded, and the calls the sandbox makes into it.

use crate::watchdog::Watchdog;
use crate::SandboxError;
use deno_core::{v8, JsRuntime, RuntimeOptions};
use serde::Deserialize;
use std::cell::Cell;
use std::rc::Rc;
use std::time::{Duration, Instant};

const HOST_JS: &str = include_str!("../js/host.js");
const COMPILER_MODULES_JS: &str = include_str!(concat!(env!("OUT_DIR"), "/compiler_modules.js"));
const TURTLE_GLOBALS_JSON: &str = include_str!("../data/turtle_globals.json");
const BROWSER_GLOBALS_JSON: &str = include_str!("../data/browser_globals_chromium.json");

/// Time restoring the page after an interrupted run may take, however little of the run's budget is left.
pub(crate) const RESET_BUDGET: Duration = Duration::from_millis(250);

/// Why a call into the runtime gave no answer.
#[derive(Debug)]
pub(crate) enum CallError {
    /// The wall-time limit interrupted it.
    Timeout,
    /// The heap limit was reached.
    OutOfMemory,
    /// The host code itself failed (a sandbox defect, not the student's).
    Host(String),
}

/// Settings of one run, passed to the JavaScript host.
#[derive(Debug, Clone, serde::Serialize)]
pub(crate) struct RunOptions {
    pub window_s: f64,
    pub absolute_urls_fail: bool,
    pub max_turtle_ops: u64,
    pub max_events: u64,
}

/// What the compiler said.
#[derive(Debug, Clone, Deserialize)]
pub(crate) struct Compiled {
    pub ok: bool,
    #[serde(default)]
    pub js: Option<String>,
    #[serde(default)]
    pub error: Option<RawError>,
}

/// An error as the host reports it (positions in the code it ran).
#[derive(Debug, Clone, Deserialize, serde::Serialize)]
pub(crate) struct RawError {
    pub kind: String,
    pub message: String,
    pub line: Option<u32>,
    pub column: Option<u32>,
}

/// What one run of a program did, on the virtual clock.
#[derive(Debug, Clone, Deserialize)]
pub(crate) struct RunReport {
    pub errors: Vec<RawError>,
    pub end_reached: bool,
    pub waits_for_input: bool,
    pub hung: Option<String>,
    pub dirty: bool,
    #[serde(default)]
    pub drawing: Option<crate::drawing::Drawing>,
}

/// A warm runtime: compiler loaded, globals defined, watchdog armed per call.
pub(crate) struct Engine {
    runtime: JsRuntime,
    watchdog: Watchdog,
    out_of_memory: Rc<Cell<bool>>,
    /// Set when the runtime should not be reused (leaked state, OOM).
    pub retired: bool,
}

impl Engine {
    /// Builds a runtime and loads the compiler and the turtle runtime into it.
    pub(crate) fn new(memory_limit: usize, startup_budget: Duration) -> Result<Engine, SandboxError> {
        let params = v8::CreateParams::default().heap_limits(0, memory_limit);
        let mut runtime = JsRuntime::try_new(RuntimeOptions {
            create_params: Some(params),
            ..Default::default()
        })
        .map_err(|e| SandboxError::Startup(e.to_string()))?;
        let handle = runtime.v8_isolate().thread_safe_handle();
        let watchdog = Watchdog::new(handle.clone()).map_err(|e| SandboxError::Startup(e.to_string()))?;
        let out_of_memory = Rc::new(Cell::new(false));
        let flag = Rc::clone(&out_of_memory);
        runtime.add_near_heap_limit_callback(move |current, _initial| {
            flag.set(true);
            handle.terminate_execution();
            // Headroom to unwind the terminated script; the engine is retired after.
            current.saturating_mul(2)
        });
        let mut engine = Engine { runtime, watchdog, out_of_memory, retired: false };
        // Student code is evaluated through this function; its script name
        // marks student frames in stack traces (see `stackPosition` in host.js).
        engine
            .runtime
            .execute_script("<input>", "globalThis.__pencil_eval__ = function (code) { return (0, eval)(code); };")
            .map_err(|e| SandboxError::Startup(e.to_string()))?;
        let boot = format!(
            "({HOST_JS})({COMPILER_MODULES_JS}, {TURTLE_GLOBALS_JSON}, {BROWSER_GLOBALS_JSON})"
        );
        match engine.call(boot, startup_budget) {
            Ok(s) if s == "ready" => Ok(engine),
            Ok(other) => Err(SandboxError::Startup(format!("host did not start: {other}"))),
            Err(e) => Err(SandboxError::Startup(format!("host did not start: {e:?}"))),
        }
    }

    /// Compiles CoffeeScript (`bare: true`) with Pencil Code's dialect.
    pub(crate) fn compile(&mut self, source: &str, budget: Duration) -> Result<Compiled, CallError> {
        let json = self.call_host(HostCall::Compile, &[source], budget)?;
        serde_json::from_str(&json).map_err(|e| CallError::Host(format!("compile reply: {e}")))
    }

    /// Runs compiled CoffeeScript or raw JavaScript on the virtual clock.
    pub(crate) fn run(
        &mut self,
        code: &str,
        language: &str,
        options: &RunOptions,
        budget: Duration,
    ) -> Result<RunReport, CallError> {
        let opts = serde_json::to_string(options).map_err(|e| CallError::Host(e.to_string()))?;
        let outcome = self.call_host(HostCall::Run, &[code, language, &opts], budget);
        if outcome.is_err() && !self.retired {
            // Leave the host idle and the globals restored after an interrupted run (which
            // may have used its whole budget: restoring gets at least RESET_BUDGET).
            match self.call("__pencil_sandbox__.reset()".to_string(), budget.max(RESET_BUDGET)) {
                Ok(s) if s == "true" => {}
                _ => self.retired = true,
            }
        }
        let json = outcome?;
        let report: RunReport =
            serde_json::from_str(&json).map_err(|e| CallError::Host(format!("run reply: {e}")))?;
        if report.dirty {
            self.retired = true;
        }
        Ok(report)
    }

    /// Maps a (line, column) of compiled code back to the CoffeeScript source.
    pub(crate) fn source_position(
        &mut self,
        source: &str,
        line: u32,
        column: Option<u32>,
        name: Option<&str>,
        budget: Duration,
    ) -> Option<(u32, u32)> {
        let (line, column) = (line.to_string(), column.unwrap_or(1).to_string());
        let mut args = vec![source, line.as_str(), column.as_str()];
        args.extend(name);
        let json = self.call_host(HostCall::SourcePosition, &args, budget).ok()?;
        let pos: Option<(u32, u32)> = serde_json::from_str(&json).ok()?;
        pos
    }

    /// Calls the host with `args` handed over as string values, never spliced into
    /// script text: the engine keeps an on-disk bytecode cache keyed by script text,
    /// so a script that contained the student's program would leave a copy of it on
    /// disk. The scripts run here are constant; only their arguments change.
    fn call_host(&mut self, call: HostCall, args: &[&str], budget: Duration) -> Result<String, CallError> {
        self.set_args(args)?;
        self.call(call.script().to_string(), budget)
    }

    /// Sets `globalThis.__pencil_args__` to `args` (the host script takes and deletes it).
    fn set_args(&mut self, args: &[&str]) -> Result<(), CallError> {
        deno_core::scope!(scope, &mut self.runtime);
        let global = scope.get_current_context().global(scope);
        let array = v8::Array::new(scope, i32::try_from(args.len()).unwrap_or(i32::MAX));
        for (i, arg) in args.iter().enumerate() {
            let value = v8::String::new(scope, arg)
                .ok_or_else(|| CallError::Host("an argument is too long for the engine".into()))?;
            array.set_index(scope, u32::try_from(i).unwrap_or(u32::MAX), value.into());
        }
        let key = v8::String::new(scope, ARGS_GLOBAL).ok_or_else(|| CallError::Host("argument name".into()))?;
        match global.set(scope, key.into(), array.into()) {
            Some(true) => Ok(()),
            _ => Err(CallError::Host("could not hand the arguments to the host".into())),
        }
    }

    /// Runs a script under the wall-time budget and returns its value as a string.
    fn call(&mut self, script: String, budget: Duration) -> Result<String, CallError> {
        self.watchdog.arm(Instant::now() + budget);
        let result = self.runtime.execute_script("pencil-host", script);
        let fired = self.watchdog.disarm();
        let terminating = self.runtime.v8_isolate().is_execution_terminating();
        if fired || terminating {
            self.runtime.v8_isolate().cancel_terminate_execution();
        }
        let oom = self.out_of_memory.replace(false);
        if oom {
            self.retired = true;
        }
        match result {
            Ok(value) => {
                deno_core::scope!(scope, &mut self.runtime);
                let local = v8::Local::new(scope, value);
                Ok(local.to_rust_string_lossy(scope))
            }
            Err(_) if oom => Err(CallError::OutOfMemory),
            Err(_) if fired => Err(CallError::Timeout),
            Err(e) => {
                if e.message.as_deref().is_some_and(|m| m.contains("out of memory")) {
                    self.retired = true;
                    return Err(CallError::OutOfMemory);
                }
                Err(CallError::Host(e.exception_message.clone()))
            }
        }
    }
}

/// The global through which `call_host` hands arguments to the host.
const ARGS_GLOBAL: &str = "__pencil_args__";

/// The host functions Rust calls with arguments (see `call_host`).
#[derive(Debug, Clone, Copy)]
enum HostCall {
    /// `compile(source)`.
    Compile,
    /// `run(code, language, options_json)`.
    Run,
    /// `sourcePosition(source, line, column[, name])`.
    SourcePosition,
}

impl HostCall {
    /// The constant script for this call: it takes the arguments off the global
    /// before anything else runs, so no student program ever sees them.
    fn script(self) -> &'static str {
        match self {
            HostCall::Compile => {
                "(function () { var a = globalThis.__pencil_args__; delete globalThis.__pencil_args__; \
                 return __pencil_sandbox__.compile(a[0]); })()"
            }
            HostCall::Run => {
                "(function () { var a = globalThis.__pencil_args__; delete globalThis.__pencil_args__; \
                 return __pencil_sandbox__.run(a[0], a[1], a[2]); })()"
            }
            HostCall::SourcePosition => {
                "(function () { var a = globalThis.__pencil_args__; delete globalThis.__pencil_args__; \
                 return __pencil_sandbox__.sourcePosition(a[0], Number(a[1]), Number(a[2]), a.length > 3 ? a[3] : null); })()"
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn engine() -> Engine {
        Engine::new(256 << 20, Duration::from_secs(30)).expect("engine starts")
    }

    #[test]
    fn page_has_no_engine_specific_globals() {
        let mut e = engine();
        let stray = e.call("__pencil_sandbox__.strayGlobals()".into(), Duration::from_secs(5)).expect("call");
        assert_eq!(stray, "[]");
    }
}
