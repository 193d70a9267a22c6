//! The parent's side of one worker process: start it, send it a job, wait for the
//! reply no longer than the job's deadline, kill it.

use crate::wire::{self, Init, Reply, Request};
use crate::{SandboxConfig, SandboxError, WorkerCommand};
use std::process::{Child, ChildStdin, Command, ExitStatus, Stdio};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError};
use std::time::{Duration, Instant};

/// A running worker, ready for a job.
pub(crate) struct Worker {
    child: Child,
    stdin: ChildStdin,
    /// Frames from the worker's stdout, read by a thread of their own; closed at its end.
    replies: Receiver<std::io::Result<Vec<u8>>>,
}

/// Why a job got no reply.
pub(crate) enum Ended {
    /// It passed its deadline; the worker was killed.
    Overran,
    /// The worker died during the job.
    Died(ExitStatus),
    /// The worker broke the protocol; it was killed.
    Broken(String),
}

impl Worker {
    /// Starts a worker and waits (up to `startup`) until it has loaded the compiler.
    pub(crate) fn start(command: &WorkerCommand, config: &SandboxConfig, startup: Duration) -> Result<Worker, SandboxError> {
        let mut cmd = Command::new(&command.program);
        cmd.args(&command.args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            // Piped and filtered (see `forward_own_messages`): the engine prints some
            // errors to stderr, and those quote the student's code.
            .stderr(Stdio::piped())
            // One heap arena per thread would map 64 MiB each against the address-space limit.
            .env("MALLOC_ARENA_MAX", "2");
        #[cfg(target_os = "linux")]
        {
            use std::os::unix::process::CommandExt;
            // SAFETY: between fork and exec only prctl runs, which is async-signal-safe.
            unsafe {
                cmd.pre_exec(|| {
                    // The worker dies with this thread (the pool's, which lives as long as the pool).
                    if libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL as libc::c_ulong, 0, 0, 0) != 0 {
                        return Err(std::io::Error::last_os_error());
                    }
                    Ok(())
                });
            }
        }
        let mut child = cmd.spawn().map_err(|e| {
            SandboxError::Startup(format!("could not start the sandbox worker {}: {e}", command.program.display()))
        })?;
        let (Some(stdin), Some(mut stdout)) = (child.stdin.take(), child.stdout.take()) else {
            let _ = child.kill();
            let _ = child.wait();
            return Err(SandboxError::Startup("the sandbox worker has no pipes".into()));
        };
        if let Some(stderr) = child.stderr.take() {
            forward_own_messages(stderr);
        }
        let (frames, replies) = mpsc::channel();
        let reader = std::thread::Builder::new().name("pencil-sandbox-reply".into()).spawn(move || loop {
            match wire::read_frame(&mut stdout) {
                Ok(Some(frame)) => {
                    if frames.send(Ok(frame)).is_err() {
                        return;
                    }
                }
                Ok(None) => return,
                Err(e) => {
                    let _ = frames.send(Err(e));
                    return;
                }
            }
        });
        if let Err(e) = reader {
            let _ = child.kill();
            let _ = child.wait();
            return Err(SandboxError::Startup(e.to_string()));
        }
        let mut worker = Worker { child, stdin, replies };
        let init = Init { protocol: wire::PROTOCOL.to_string(), parent: std::process::id(), config: config.clone() };
        if let Err(e) = wire::write_message(&mut worker.stdin, &init) {
            return Err(worker.start_failed(format!("settings not sent: {e}")));
        }
        match worker.receive(Instant::now() + startup) {
            Ok(Reply::Ready) => Ok(worker),
            Ok(Reply::StartFailed(m)) => Err(worker.start_failed(m)),
            Ok(_) => Err(worker.start_failed("unexpected first reply".into())),
            Err(Ended::Overran) => Err(SandboxError::Startup(format!("the sandbox worker did not start within {startup:?}"))),
            Err(Ended::Died(status)) => Err(SandboxError::Startup(format!("the sandbox worker exited at start-up ({status})"))),
            Err(Ended::Broken(m)) => Err(SandboxError::Startup(format!("the sandbox worker: {m}"))),
        }
    }

    fn start_failed(mut self, message: String) -> SandboxError {
        self.kill();
        SandboxError::Startup(format!("the sandbox worker could not start: {message}"))
    }

    /// Sends `request` and waits for the reply until `deadline`. On any error the
    /// worker is dead (killed if need be) and reaped.
    pub(crate) fn call(&mut self, request: &Request, deadline: Instant) -> Result<Reply, Ended> {
        if wire::write_message(&mut self.stdin, request).is_err() {
            // It is gone: its exit status says why.
            return Err(self.receive(deadline).err().unwrap_or_else(|| {
                self.kill();
                Ended::Broken("refused a request".into())
            }));
        }
        self.receive(deadline)
    }

    fn receive(&mut self, deadline: Instant) -> Result<Reply, Ended> {
        let left = deadline.saturating_duration_since(Instant::now());
        match self.replies.recv_timeout(left) {
            Ok(Ok(frame)) => wire::parse::<Reply>(&frame).map_err(|e| {
                self.kill();
                Ended::Broken(format!("unreadable reply: {e}"))
            }),
            Ok(Err(e)) => {
                self.kill();
                Err(Ended::Broken(format!("broken reply: {e}")))
            }
            Err(RecvTimeoutError::Timeout) => {
                self.kill();
                Err(Ended::Overran)
            }
            Err(RecvTimeoutError::Disconnected) => Err(self.exited(deadline)),
        }
    }

    /// The worker closed its output: wait (until `deadline`) for it to exit.
    fn exited(&mut self, deadline: Instant) -> Ended {
        loop {
            match self.child.try_wait() {
                Ok(Some(status)) => return Ended::Died(status),
                Ok(None) if Instant::now() < deadline => std::thread::sleep(Duration::from_millis(2)),
                _ => {
                    self.kill();
                    return Ended::Overran;
                }
            }
        }
    }

    /// Kills and reaps the worker (it holds no state worth a polite end).
    pub(crate) fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Worker {
    fn drop(&mut self) {
        self.kill();
    }
}

/// The worker's own messages (prefixed `pencil-sandbox worker:`) go on to this
/// process's stderr; everything else the worker's engine prints is dropped, since
/// it can quote the student's program and logs never carry student code.
fn forward_own_messages(stderr: std::process::ChildStderr) {
    let spawned = std::thread::Builder::new().name("pencil-sandbox-stderr".into()).spawn(move || {
        use std::io::BufRead;
        for line in std::io::BufReader::new(stderr).lines() {
            let Ok(line) = line else { return };
            if line.starts_with(OWN_MESSAGE_PREFIX) {
                eprintln!("{line}");
            }
        }
    });
    // Without the thread the pipe fills and the worker blocks on a write; it is then
    // killed at its deadline like any stuck worker, so a failed spawn is not fatal.
    drop(spawned);
}

/// How the worker's own stderr messages begin.
pub(crate) const OWN_MESSAGE_PREFIX: &str = "pencil-sandbox worker:";
