//! The worker process: one runtime under kernel limits, serving its parent's
//! requests over stdin/stdout (see `wire.rs`).

use crate::containment::{self, Limits};
use crate::engine::Engine;
use crate::judge::{self, CompileCache};
use crate::pool::{guarded, STARTUP_BUDGET};
use crate::wire::{self, Init, Reply, Request};
use crate::SandboxConfig;
use std::io::{self, Read, Write};
use std::sync::Arc;
use std::time::Duration;

/// CPU time one worker may use in all before it retires (the kernel's `RLIMIT_CPU` sits just
/// above): about ten thousand checks; a fresh worker costs a few hundred milliseconds.
const CPU_LIFETIME_S: u64 = 60;

/// Serves one parent as a sandbox worker: reads its settings, sets the kernel limits,
/// loads the compiler, installs the system-call filter, then answers requests until
/// its input ends. Returns the process's exit code.
///
/// Call it from an executable's `main` when asked to (`pencil-lsp sandbox-worker`), with
/// nothing else running in the process; a [`crate::Sandbox`] with
/// [`crate::Isolation::Process`] starts such workers and is the only client.
pub fn serve_worker() -> i32 {
    containment::close_inherited_descriptors();
    let (mut input, mut output) = protocol_streams();
    let init = match wire::read_frame(&mut input).and_then(|f| f.ok_or_else(|| io::ErrorKind::UnexpectedEof.into())) {
        Ok(frame) => match wire::parse::<Init>(&frame) {
            Ok(init) if init.protocol == wire::PROTOCOL => init,
            Ok(init) => {
                let message = format!("protocol {:?}, this worker speaks {:?}", init.protocol, wire::PROTOCOL);
                let _ = wire::write_message(&mut output, &Reply::StartFailed(message));
                return 2;
            }
            Err(e) => {
                let _ = wire::write_message(&mut output, &Reply::StartFailed(format!("settings: {e}")));
                return 2;
            }
        },
        Err(_) => return 2,
    };
    let config = init.config;
    let limits = limits_for(&config);
    if let Err(e) = containment::before_engine(&limits, init.parent) {
        let _ = wire::write_message(&mut output, &Reply::StartFailed(format!("kernel limits: {e}")));
        return 2;
    }
    let engine = match Engine::new(config.memory_limit, STARTUP_BUDGET) {
        Ok(engine) => engine,
        Err(e) => {
            let _ = wire::write_message(&mut output, &Reply::StartFailed(e.to_string()));
            return 2;
        }
    };
    if let Err(e) = containment::lock_down() {
        eprintln!("{} {e}; running under memory and CPU limits only", crate::process::OWN_MESSAGE_PREFIX);
    }
    if wire::write_message(&mut output, &Reply::Ready).is_err() {
        return 2;
    }
    let retire_at = CPU_LIFETIME_S as f64 - 2.0 * (config.wall_time.as_secs_f64() + 1.0);
    let mut engine = Some(engine);
    loop {
        let request = match wire::read_frame(&mut input) {
            Ok(Some(frame)) => match wire::parse::<Request>(&frame) {
                Ok(request) => request,
                Err(_) => return 2,
            },
            // The parent is done with this worker (or gone).
            Ok(None) | Err(_) => return 0,
        };
        let mut reply = answer(&mut engine, &config, request);
        let spent = containment::cpu_seconds_used() > retire_at;
        match &mut reply {
            Reply::Checked { retire, .. } | Reply::Prepared { retire, .. } => *retire |= spent,
            _ => {}
        }
        let retire = matches!(reply, Reply::Checked { retire: true, .. } | Reply::Prepared { retire: true, .. });
        if wire::write_message(&mut output, &reply).is_err() || retire {
            return 0;
        }
    }
}

/// The kernel limits for a worker with `config`.
fn limits_for(config: &SandboxConfig) -> Limits {
    let cpu = CPU_LIFETIME_S.max(10 * (config.wall_time.as_secs() + 1));
    Limits { address_space: config.address_space_limit as u64, cpu_seconds: cpu }
}

/// Serves one request on the runtime; an emptied `engine` (retired, or panicked) retires the worker.
fn answer(engine: &mut Option<Engine>, config: &SandboxConfig, request: Request) -> Reply {
    let cache = CompileCache::default();
    match request {
        Request::Check { source, compiled } => {
            let key = judge::cache_key(&source);
            let had = compiled.is_some();
            if let Some(c) = compiled {
                cache.put(key.clone(), Arc::new(c));
            }
            let verdict = guarded(engine, |eng| judge::check(eng, &cache, config, &source));
            let compiled = if had { None } else { cache.get(&key).map(|c| (*c).clone()) };
            Reply::Checked { verdict: verdict.map_err(Into::into), compiled, retire: engine.is_none() }
        }
        Request::Prepare { source } => {
            let compiled_now = guarded(engine, |eng| judge::prepare(eng, &cache, config, &source));
            let compiled = cache.get(&judge::cache_key(&source)).map(|c| (*c).clone());
            Reply::Prepared { compiled_now: compiled_now.map_err(Into::into), compiled, retire: engine.is_none() }
        }
    }
}

/// The protocol's input and output. On Unix the output is a private copy of stdout,
/// and descriptor 1 then points at stderr: nothing else in the process can write into
/// the protocol by printing.
fn protocol_streams() -> (impl Read, impl Write) {
    let input = io::stdin();
    #[cfg(unix)]
    {
        use std::os::fd::FromRawFd;
        // SAFETY: fcntl duplicates descriptor 1, which is open (our stdout); the copy is
        // owned by the File alone. dup2 then only repoints descriptor 1.
        unsafe {
            let private = libc::fcntl(1, libc::F_DUPFD_CLOEXEC, 3);
            if private >= 0 {
                libc::dup2(2, 1);
                return (input, Output::File(io::BufWriter::new(std::fs::File::from_raw_fd(private))));
            }
        }
    }
    (input, Output::Stdout(io::stdout()))
}

enum Output {
    #[cfg_attr(not(unix), allow(dead_code))]
    File(io::BufWriter<std::fs::File>),
    Stdout(io::Stdout),
}

impl Write for Output {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match self {
            Output::File(f) => f.write(buf),
            Output::Stdout(s) => s.write(buf),
        }
    }
    fn flush(&mut self) -> io::Result<()> {
        match self {
            Output::File(f) => f.flush(),
            Output::Stdout(s) => s.flush(),
        }
    }
}

/// How long after its wall time a worker's answer may come before the parent kills it:
/// the host restores the page after an interrupted run (`engine::RESET_BUDGET`) and maps
/// an error back to the source (`judge::HOUSEKEEPING`), and the reply crosses a pipe.
pub(crate) const GRACE: Duration = Duration::from_millis(500);
