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
        } else if h.name.eq_ignore_ascii_case("sec-fetch-site") {
            once(&mut head.fetch_site, &mut head.repeated_header);
        } else if h.name.eq_ignore_ascii_case("sec-fetch-dest") {
            once(&mut head.fetch_dest, &mut head.repeated_header);
        } else if h.name.eq_ignore_ascii_case("content-type") {
            once(&mut head.content_type, &mut head.repeated_header);
        } else if h.name.eq_ignore_ascii_case("content-length") {
            let mut length = None;
            once(&mut length, &mut head.repeated_header);
            head.repeated_header |= head.content_length.is_some();
            // Not a number: no length, which a confirmation refuses.
            head.content_length = length.and_then(|l| l.parse().ok());
        } else if h.name.eq_ignore_ascii_case("transfer-encoding") {
            // Only Content-Length bodies are read; a chunked one is refused as malformed.
            head.repeated_header = true;
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
        410 => "Gone",
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
/// or sniffed, and the address (which may hold the token) is never sent on: the
/// referrer policy is `no-referrer` unless `extra` sets another.
pub async fn respond<S: AsyncRead + AsyncWrite + Unpin>(
    stream: &mut S,
    status: u16,
    content_type: &str,
    extra: &[(&str, String)],
    body: &str,
) {
    let mut head = format!(
        "HTTP/1.1 {status} {}\r\nContent-Type: {content_type}\r\nContent-Length: {}\r\nConnection: close\r\n\
         Cache-Control: no-store\r\nX-Content-Type-Options: nosniff\r\nX-Frame-Options: DENY\r\n",
        status_text(status),
        body.len()
    );
    if !extra.iter().any(|(name, _)| name.eq_ignore_ascii_case("Referrer-Policy")) {
        head.push_str("Referrer-Policy: no-referrer\r\n");
    }
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

/// The editor page (`editor-extensions/pencilcode`), bundled by `build.rs` at build time.
const PAGE_HTML: &str = include_str!(concat!(env!("OUT_DIR"), "/page/page.html"));
const PAGE_JS: &str = include_str!(concat!(env!("OUT_DIR"), "/page/page.js"));
const PAGE_CSS: &str = include_str!(concat!(env!("OUT_DIR"), "/page/page.css"));

/// The editor page at `/` for a request with the right token (its Host already checked).
/// It carries the token for its own WebSocket (`<meta name="pencil-lsp-token">`). Its
/// script and style are inline under a fresh nonce, so the Content-Security-Policy
/// allows no other script or style, no remote origin, and no socket but this listener.
pub async fn serve_page<S: AsyncRead + AsyncWrite + Unpin>(stream: &mut S, policy: &ListenPolicy, host: &str) {
    let Some(nonce) = page_nonce() else {
        refuse(stream, 503, "no random bytes for the page's nonce").await;
        return;
    };
    let csp = format!(
        "default-src 'none'; script-src 'nonce-{nonce}'; style-src 'nonce-{nonce}'; img-src data:; \
         connect-src ws://{host}; frame-ancestors 'none'; base-uri 'none'; form-action 'none'"
    );
    respond(stream, 200, "text/html; charset=utf-8", &[("Content-Security-Policy", csp)], &page_html(policy.token().expose(), &nonce)).await;
}

/// 128 random bits as hex, new for every page.
fn page_nonce() -> Option<String> {
    let mut bytes = [0u8; 16];
    getrandom::fill(&mut bytes).ok()?;
    Some(bytes.iter().map(|b| format!("{b:02x}")).collect())
}

/// The page with its token and nonce filled in. Both are `[A-Za-z0-9_-]` (see
/// `Token::parse`), safe in an attribute; the bundle goes in last, so nothing in it
/// is taken for a placeholder.
fn page_html(token: &str, nonce: &str) -> String {
    let head = PAGE_HTML.replace("{{TOKEN}}", token).replace("{{NONCE}}", nonce);
    let mut page = String::with_capacity(head.len() + PAGE_CSS.len() + PAGE_JS.len());
    let mut rest = head.as_str();
    for (placeholder, content) in [("{{CSS}}", PAGE_CSS), ("{{JS}}", PAGE_JS)] {
        let (before, after) = rest.split_once(placeholder).expect("page.html holds each placeholder once");
        page.push_str(before);
        page.push_str(content);
        rest = after;
    }
    page.push_str(rest);
    page
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_page_carries_token_nonce_and_bundle() {
        let token = "0123456789abcdef0123456789abcdef";
        let page = page_html(token, "n0nce");
        assert!(page.contains(&format!("<meta name=\"pencil-lsp-token\" content=\"{token}\">")));
        assert!(page.contains("<script nonce=\"n0nce\">") && page.contains("<style nonce=\"n0nce\">"));
        for placeholder in ["{{TOKEN}}", "{{NONCE}}", "{{CSS}}", "{{JS}}"] {
            assert_eq!(PAGE_HTML.matches(placeholder).count(), if placeholder == "{{NONCE}}" { 2 } else { 1 }, "{placeholder}");
            assert!(!page.contains(placeholder), "{placeholder} left in the page");
        }
        assert!(page.contains(PAGE_JS) && page.contains(PAGE_CSS));
        assert_eq!(page.matches("</script>").count(), 1, "the bundle must not close its script element");
        assert_ne!(page_nonce(), page_nonce());
    }
}
