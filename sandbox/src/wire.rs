//! The worker protocol: JSON messages in frames (a little-endian `u32` length, then
//! that many bytes) over the worker's stdin (requests) and stdout (replies). One
//! request at a time: the parent sends the next one only after the reply to the last.
//!
//! The parent does not trust what comes back: a frame longer than [`MAX_FRAME`] or a
//! message that does not parse ends the worker.

use crate::judge::CompileOutcome;
use crate::{SandboxConfig, SandboxError, Verdict};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use std::io::{self, Read, Write};

/// Changes whenever a message changes shape; a worker from another build refuses to start.
pub(crate) const PROTOCOL: &str = concat!("pencil-sandbox/1 ", env!("CARGO_PKG_VERSION"));
/// The largest frame either side accepts (a 1 MiB program and its compiled code fit many times).
pub(crate) const MAX_FRAME: usize = 64 << 20;

/// The first message to a worker.
#[derive(Serialize, Deserialize)]
pub(crate) struct Init {
    pub protocol: String,
    /// The parent's process id (the worker checks it is still its parent).
    pub parent: u32,
    pub config: SandboxConfig,
}

/// A job for a worker.
#[derive(Serialize, Deserialize)]
pub(crate) enum Request {
    /// Check a program; `compiled` is its compile outcome if the parent has it cached.
    Check { source: String, compiled: Option<CompileOutcome> },
    /// Compile a program (nothing runs).
    Prepare { source: String },
}

/// What a worker says.
#[derive(Serialize, Deserialize)]
pub(crate) enum Reply {
    /// Started: limits set, compiler loaded, filter installed (or refused, said on stderr).
    Ready,
    /// Could not start.
    StartFailed(String),
    /// `compiled`: a compile outcome made now, for the parent's cache. `retire`: the
    /// worker exits after this reply (its runtime could not be restored, or its CPU
    /// budget is nearly spent).
    Checked { verdict: Result<Verdict, WireError>, compiled: Option<CompileOutcome>, retire: bool },
    Prepared { compiled_now: Result<bool, WireError>, compiled: Option<CompileOutcome>, retire: bool },
}

/// A [`SandboxError`] on the wire.
#[derive(Serialize, Deserialize)]
pub(crate) enum WireError {
    Startup(String),
    Host(String),
    WorkerGone,
    Worker(String),
}

impl From<SandboxError> for WireError {
    fn from(e: SandboxError) -> WireError {
        match e {
            SandboxError::Startup(m) => WireError::Startup(m),
            SandboxError::Host(m) => WireError::Host(m),
            SandboxError::WorkerGone => WireError::WorkerGone,
            SandboxError::Worker(m) => WireError::Worker(m),
        }
    }
}

impl From<WireError> for SandboxError {
    fn from(e: WireError) -> SandboxError {
        match e {
            WireError::Startup(m) => SandboxError::Startup(m),
            WireError::Host(m) => SandboxError::Host(m),
            WireError::WorkerGone => SandboxError::WorkerGone,
            WireError::Worker(m) => SandboxError::Worker(m),
        }
    }
}

/// Writes one message as a frame and flushes.
pub(crate) fn write_message(out: &mut impl Write, message: &impl Serialize) -> io::Result<()> {
    let body = serde_json::to_vec(message).map_err(io::Error::other)?;
    if body.len() > MAX_FRAME {
        return Err(io::Error::other(format!("a message of {} bytes is over the frame limit", body.len())));
    }
    out.write_all(&(body.len() as u32).to_le_bytes())?;
    out.write_all(&body)?;
    out.flush()
}

/// Reads one frame; `None` at a clean end of input (between frames).
pub(crate) fn read_frame(input: &mut impl Read) -> io::Result<Option<Vec<u8>>> {
    let mut len = [0u8; 4];
    let mut got = 0;
    while got < len.len() {
        match input.read(&mut len[got..]) {
            Ok(0) if got == 0 => return Ok(None),
            Ok(0) => return Err(io::ErrorKind::UnexpectedEof.into()),
            Ok(n) => got += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    let len = u32::from_le_bytes(len) as usize;
    if len > MAX_FRAME {
        return Err(io::Error::other(format!("a frame of {len} bytes is over the limit")));
    }
    let mut body = vec![0; len];
    input.read_exact(&mut body)?;
    Ok(Some(body))
}

/// Parses a frame's message.
pub(crate) fn parse<T: DeserializeOwned>(frame: &[u8]) -> io::Result<T> {
    serde_json::from_slice(frame).map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frames_round_trip_and_oversized_ones_are_refused() {
        let mut buf = Vec::new();
        write_message(&mut buf, &Request::Prepare { source: "fd 100".into() }).expect("write");
        let mut input = &buf[..];
        let frame = read_frame(&mut input).expect("read").expect("a frame");
        assert!(matches!(parse::<Request>(&frame).expect("parse"), Request::Prepare { source } if source == "fd 100"));
        assert!(read_frame(&mut input).expect("clean end").is_none());
        let huge = ((MAX_FRAME + 1) as u32).to_le_bytes();
        assert!(read_frame(&mut &huge[..]).is_err(), "a length over the limit is refused before allocating");
        assert!(read_frame(&mut &[1u8, 0][..]).is_err(), "a torn length is an error, not a clean end");
    }
}
