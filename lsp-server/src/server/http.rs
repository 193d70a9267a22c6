//! The listener's HTTP side: read one request head (bounded in size and time),
//! answer plain requests (the page at `/`, refusals) and hand WebSocket upgrades to
//! tungstenite with the bytes already read replayed in front of the socket.

use super::trust::{ListenPolicy, RequestHead};
use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, ReadBuf};

/// A request head larger than this is refused (431) unread.
pub const MAX_HEAD_BYTES: usize = 8 << 10;

/// Most header lines in a head.
const MAX_HEADERS: usize = 48;

/// The whole head must arrive within this time (slow clients hold no slot for long).
pub const HEAD_TIMEOUT: Duration = Duration::from_secs(10);

/// Why no request head was read.
#[derive(Debug, thiserror::Error)]
pub enum HeadError {
    /// Larger than [`MAX_HEAD_BYTES`] or [`MAX_HEADERS`].
    #[error("request head too large")]
    TooLarge,
    /// Not HTTP/1.1.
    #[error("not an HTTP request")]
    Malformed,
    /// The client went away before finishing it.
    #[error("closed before the request head ended")]
    Closed,
    /// Reading failed.
    #[error("{0}")]
    Io(#[from] io::Error),
}

/// Reads up to the end of one request head. Returns the head and every byte read
/// (the head and whatever followed it), for [`Replay`].
pub async fn read_head<S: AsyncRead + Unpin>(stream: &mut S) -> Result<(RequestHead, Vec<u8>), HeadError> {
    let mut buf = Vec::with_capacity(1024);
    let mut chunk = [0u8; 1024];
    loop {
        let n = stream.read(&mut chunk).await?;
        if n == 0 {
            return Err(HeadError::Closed);
        }
        let searched_from = buf.len().saturating_sub(3);
        buf.extend_from_slice(&chunk[..n]);
        if buf[searched_from..].windows(4).any(|w| w == b"\r\n\r\n") {
            break;
        }
        if buf.len() >= MAX_HEAD_BYTES {
            return Err(HeadError::TooLarge);
        }
    }
    let mut headers = [httparse::EMPTY_HEADER; MAX_HEADERS];
    let mut request = httparse::Request::new(&mut headers);
    let end = match request.parse(&buf) {
        Ok(httparse::Status::Complete(end)) => end,
        Err(httparse::Error::TooManyHeaders) => return Err(HeadError::TooLarge),
        Ok(httparse::Status::Partial) | Err(_) => return Err(HeadError::Malformed),
    };
    if end > MAX_HEAD_BYTES {
        return Err(HeadError::TooLarge);
    }
    let target = request.path.unwrap_or("");
    let (path, query) = match target.split_once('?') {
        Some((p, q)) => (p, Some(q.to_string())),
        None => (target, None),
    };
    let mut head = RequestHead { method: request.method.unwrap_or("").to_string(), path: path.to_string(), query, ..Default::default() };
    for h in request.headers.iter() {
        let value = || String::from_utf8_lossy(h.value).trim().to_string();
        let once = |slot: &mut Option<String>, repeated: &mut bool| {
            if slot.is_some() {
                *repeated = true;
            }
            *slot = Some(value());
        };
        if h.name.eq_ignore_ascii_case("host") {
            once(&mut head.host, &mut head.repeated_header);
        } else if h.name.eq_ignore_ascii_case("origin") {
            once(&mut head.origin, &mut head.repeated_header);
        } else if h.name.eq_ignore_ascii_case("upgrade") {
            head.upgrade |= value().split(',').any(|v| v.trim().eq_ignore_ascii_case("websocket"));
        } else if h.name.eq_ignore_ascii_case("sec-websocket-protocol") {
            head.protocols.extend(value().split(',').map(|p| p.trim().to_string()).filter(|p| !p.is_empty()));
        }
    }
    Ok((head, buf))
}

/// A stream that first yields bytes already read from `inner`, then `inner` itself,
/// so tungstenite reads the handshake the listener has already looked at.
pub struct Replay<S> {
    read: Vec<u8>,
    at: usize,
    inner: S,
}

impl<S> Replay<S> {
    /// `read` are the bytes taken from `inner` so far.
    pub fn new(read: Vec<u8>, inner: S) -> Replay<S> {
        Replay { read, at: 0, inner }
    }
}

impl<S: AsyncRead + Unpin> AsyncRead for Replay<S> {
    fn poll_read(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<io::Result<()>> {
        if self.at < self.read.len() {
            let n = buf.remaining().min(self.read.len() - self.at);
            let start = self.at;
            buf.put_slice(&self.read[start..start + n]);
            self.at += n;
            if self.at == self.read.len() {
                self.read = Vec::new();
                self.at = 0;
            }
            return Poll::Ready(Ok(()));
        }
        Pin::new(&mut self.inner).poll_read(cx, buf)
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for Replay<S> {
    fn poll_write(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write(cx, buf)
    }
    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }
    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}

fn status_text(status: u16) -> &'static str {
    match status {
        200 => "OK",
        400 => "Bad Request",
        401 => "Unauthorized",
        403 => "Forbidden",
        404 => "Not Found",
        405 => "Method Not Allowed",
        408 => "Request Timeout",
        431 => "Request Header Fields Too Large",
        503 => "Service Unavailable",
        _ => "Error",
    }
}

/// After a response, what the client still sends is read and dropped for at most this
/// long (and [`MAX_LINGER_BYTES`]) before closing, so the close does not reset the
/// connection under the response it has not read yet.
const LINGER: Duration = Duration::from_secs(2);
const MAX_LINGER_BYTES: usize = 64 << 10;

/// Writes one whole response and closes the connection. Nothing is cached, framed
/// or sniffed, and the address (which may hold the token) is never sent on.
pub async fn respond<S: AsyncRead + AsyncWrite + Unpin>(
    stream: &mut S,
    status: u16,
    content_type: &str,
    extra: &[(&str, String)],
    body: &str,
) {
    let mut head = format!(
        "HTTP/1.1 {status} {}\r\nContent-Type: {content_type}\r\nContent-Length: {}\r\nConnection: close\r\n\
         Cache-Control: no-store\r\nReferrer-Policy: no-referrer\r\nX-Content-Type-Options: nosniff\r\n\
         X-Frame-Options: DENY\r\n",
        status_text(status),
        body.len()
    );
    for (name, value) in extra {
        head.push_str(&format!("{name}: {value}\r\n"));
    }
    head.push_str("\r\n");
    let _ = stream.write_all(head.as_bytes()).await;
    let _ = stream.write_all(body.as_bytes()).await;
    let _ = stream.flush().await;
    let _ = stream.shutdown().await;
    let drain = async {
        let mut sink = [0u8; 4096];
        let mut total = 0;
        while let Ok(n @ 1..) = stream.read(&mut sink).await {
            total += n;
            if total > MAX_LINGER_BYTES {
                break;
            }
        }
    };
    let _ = tokio::time::timeout(LINGER, drain).await;
}

/// A refusal as plain text.
pub async fn refuse<S: AsyncRead + AsyncWrite + Unpin>(stream: &mut S, status: u16, reason: &str) {
    respond(stream, status, "text/plain; charset=utf-8", &[], &format!("pencil-lsp: {reason}\n")).await;
}

/// The page at `/` for a request with the right token (its Host already checked).
/// It carries the token for its own WebSocket (`<meta name="pencil-lsp-token">`) and,
/// until the editor page lands here, shows that the coach is running by connecting.
pub async fn serve_page<S: AsyncRead + AsyncWrite + Unpin>(stream: &mut S, policy: &ListenPolicy, host: &str) {
    let csp = format!(
        "default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; connect-src ws://{host}; \
         frame-ancestors 'none'; base-uri 'none'; form-action 'none'"
    );
    respond(stream, 200, "text/html; charset=utf-8", &[("Content-Security-Policy", csp)], &page_html(policy.token().expose())).await;
}

fn page_html(token: &str) -> String {
    format!(
        r#"<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="pencil-lsp-token" content="{token}">
<title>Pencil coach</title>
<style>body {{ font: 16px system-ui, sans-serif; margin: 3em auto; max-width: 36em; }}</style>
</head>
<body>
<h1>Pencil coach</h1>
<p id="status">The coach is running on this computer. Connecting…</p>
<script>
"use strict";
const token = document.querySelector('meta[name="pencil-lsp-token"]').content;
const status = document.getElementById("status");
const socket = new WebSocket("ws://" + location.host + "/", ["pencil-lsp.token." + token]);
socket.onopen = () => {{
  status.textContent = "The coach is running on this computer, and this page is connected to it.";
  socket.close();
}};
socket.onerror = () => {{
  status.textContent = "The coach did not accept this page's connection. Open the address pencil-lsp printed again.";
}};
</script>
</body>
</html>
"#
    )
}
