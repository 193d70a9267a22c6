//! Transports: stdio (default) and WebSocket for the browser editor. Both hand bare
//! message bodies to one server session (`serve_session`): stdio reads and writes
//! them through `codec`, and over WebSocket each text message carries one JSON-RPC
//! message without `Content-Length` framing (as browser LSP clients send them).
//! A WebSocket connection is admitted by `trust` (Host, Origin, token) before any
//! LSP byte is read, and its session runs as `Peer::WebSocket`.

use super::codec::{self, FrameReader};
use super::confirm_page::{self, Link, Registry};
use super::http::{self, HeadError, Replay};
use super::trust::{Admission, ListenPolicy, Peer, Refusal, RequestHead, Token};
use super::{service, wire_guard, ServerOptions};
use futures_util::{SinkExt, StreamExt};
use std::collections::HashSet;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{mpsc, OwnedSemaphorePermit, Semaphore};
use tokio_tungstenite::tungstenite::handshake::server::{ErrorResponse, Request, Response};
use tokio_tungstenite::tungstenite::http::header::{HeaderValue, SEC_WEBSOCKET_PROTOCOL};
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::WebSocketStream;
use tower_lsp_server::Server;

/// Why the WebSocket listener could not start.
#[derive(Debug, thiserror::Error)]
pub enum ListenError {
    /// A non-loopback address without `--allow-remote`.
    #[error("{0} is not a loopback address; pass --allow-remote to serve other machines")]
    NotLoopback(SocketAddr),
    /// Binding failed.
    #[error("could not listen on {addr}: {source}")]
    Bind {
        /// The address.
        addr: SocketAddr,
        /// The OS error.
        source: std::io::Error,
    },
}

/// Serves one client over stdin/stdout until it exits.
pub async fn run_stdio(options: ServerOptions) {
    let (incoming_tx, incoming) = mpsc::channel(16);
    let (outgoing, mut outgoing_rx) = mpsc::channel::<Vec<u8>>(16);
    let read = async move {
        let mut frames = FrameReader::new(tokio::io::stdin());
        while let Some(frame) = frames.next().await {
            if incoming_tx.send(frame).await.is_err() {
                break;
            }
        }
    };
    let write = async move {
        let mut stdout = tokio::io::stdout();
        while let Some(body) = outgoing_rx.recv().await {
            if codec::write_frame(&mut stdout, &body).await.is_err() {
                break;
            }
        }
    };
    let rest = async move {
        tokio::join!(serve_session(incoming, outgoing, options, Peer::Stdio, None), write);
    };
    tokio::pin!(read, rest);
    // After `exit` the server is done even if the client keeps its end open.
    tokio::select! {
        () = &mut rest => {}
        () = &mut read => rest.await,
    }
}

/// One server session behind the wire guard: client message bodies in, server
/// message bodies out (each transport frames them its own way). Ends when the
/// server's output ends: after `exit`, or once `incoming` has ended.
async fn serve_session(
    incoming: mpsc::Receiver<wire_guard::Incoming>,
    outgoing: mpsc::Sender<Vec<u8>>,
    options: ServerOptions,
    peer: Peer,
    link: Option<Link>,
) {
    let (to_server, server_in) = tokio::io::duplex(1 << 16);
    let (server_out, from_server) = tokio::io::duplex(1 << 16);
    let (replies_tx, replies_rx) = mpsc::channel(16);
    let (service, socket) = service(options, peer, link);
    let serve = async move {
        Server::new(server_in, server_out, socket).serve(service).await;
    };
    let guard = wire_guard::guard_input(incoming, to_server, replies_tx, peer);
    let rest = async move {
        tokio::join!(serve, wire_guard::merge_output(from_server, replies_rx, outgoing));
    };
    tokio::pin!(guard, rest);
    tokio::select! {
        () = &mut rest => {}
        () = &mut guard => rest.await,
    }
}

/// How the WebSocket listener admits clients (see `trust`).
#[derive(Debug, Clone)]
pub struct ListenConfig {
    /// Serve an address other machines can reach (`--allow-remote`).
    pub allow_remote: bool,
    /// Origins whose pages may connect besides the listener's own (`--allow-origin`).
    pub allow_origins: Vec<String>,
    /// This launch's secret.
    pub token: Token,
}

/// At most this many connections may be between accept and a decided handshake;
/// more are closed at once (each waits at most [`http::HEAD_TIMEOUT`]).
const MAX_PENDING_HANDSHAKES: usize = 64;

/// At most this many WebSocket sessions are served at once; one more is refused
/// with 503. Each session is a whole server session, and each may hold
/// [`super::confirm::MAX_PER_SESSION`] confirmations, so a page that opens sessions
/// in a loop can neither exhaust memory nor fill [`super::confirm::MAX_PENDING`].
pub const MAX_SESSIONS: usize = 16;

// A page that opened every session could still keep every confirmation slot.
const _: () = assert!(MAX_SESSIONS * super::confirm::MAX_PER_SESSION < super::confirm::MAX_PENDING);

/// Serves LSP over WebSocket on `addr`, one server session per admitted connection,
/// and the page at `/`. Calls `on_ready` with the listener's rules once bound (port 0
/// picks a free port).
pub async fn run_websocket(
    addr: SocketAddr,
    config: ListenConfig,
    options: ServerOptions,
    on_ready: impl FnOnce(&ListenPolicy),
) -> Result<(), ListenError> {
    if !addr.ip().is_loopback() && !config.allow_remote {
        return Err(ListenError::NotLoopback(addr));
    }
    let listener = TcpListener::bind(addr).await.map_err(|source| ListenError::Bind { addr, source })?;
    let bound = listener.local_addr().map_err(|source| ListenError::Bind { addr, source })?;
    let policy = Arc::new(ListenPolicy::new(bound, config.allow_remote, config.allow_origins, config.token));
    on_ready(&policy);
    let pending = Arc::new(Semaphore::new(MAX_PENDING_HANDSHAKES));
    let sessions = Arc::new(Semaphore::new(MAX_SESSIONS));
    let refusals = Arc::new(RefusalLog::default());
    let confirmations = Arc::new(Registry::default());
    loop {
        let (stream, peer) = match listener.accept().await {
            Ok(conn) => conn,
            Err(e) => {
                tracing::warn!("accept failed: {e}");
                continue;
            }
        };
        let Ok(permit) = Arc::clone(&pending).try_acquire_owned() else {
            tracing::debug!("{peer}: too many pending handshakes; closed");
            continue;
        };
        let (options, policy, refusals) = (options.clone(), Arc::clone(&policy), Arc::clone(&refusals));
        let (confirmations, sessions) = (Arc::clone(&confirmations), Arc::clone(&sessions));
        tokio::spawn(async move {
            let admitted = handshake(stream, peer, &policy, &refusals, &confirmations, &sessions).await;
            drop(permit);
            if let Some((ws, base_url, requester, session)) = admitted {
                tracing::info!("websocket client {peer} connected");
                let link = Link::new(confirmations, base_url, requester);
                serve_connection(ws, options, link).await;
                drop(session);
                tracing::info!("websocket client {peer} disconnected");
            }
        });
    }
}

/// Reads the request head and decides it (`ListenPolicy::admit`): refusals, the page
/// and the confirmation pages are answered here; an admitted upgrade becomes a
/// WebSocket echoing the token's subprotocol, returned with the address of the
/// confirmation pages for its client, who it is in words (`requester`) and its
/// place among the [`MAX_SESSIONS`]. No LSP byte is read before this returns a socket.
// The echo callback's error type is tungstenite's (`ErrorResponse`, an HTTP response).
#[allow(clippy::result_large_err)]
async fn handshake(
    mut stream: TcpStream,
    peer: SocketAddr,
    policy: &ListenPolicy,
    refusals: &RefusalLog,
    confirmations: &Registry,
    sessions: &Arc<Semaphore>,
) -> Option<(WebSocketStream<Replay<TcpStream>>, String, String, OwnedSemaphorePermit)> {
    let (head, read) = match tokio::time::timeout(http::HEAD_TIMEOUT, http::read_head(&mut stream)).await {
        Ok(Ok(parts)) => parts,
        Ok(Err(HeadError::TooLarge)) => {
            http::refuse(&mut stream, 431, "the request head is too large").await;
            return None;
        }
        Ok(Err(HeadError::Malformed)) => {
            http::refuse(&mut stream, 400, Refusal::Malformed.reason()).await;
            return None;
        }
        Ok(Err(HeadError::Closed | HeadError::Io(_))) => return None,
        Err(_) => {
            http::refuse(&mut stream, 408, "the request head took too long").await;
            return None;
        }
    };
    match policy.admit(&head) {
        Admission::Refused(why) => {
            refusals.note(why, &head, peer);
            http::refuse(&mut stream, why.status(), why.reason()).await;
            None
        }
        Admission::Page => {
            http::serve_page(&mut stream, policy, head.host.as_deref().unwrap_or_default()).await;
            None
        }
        Admission::ConfirmPage { id } => {
            confirm_page::serve_page(&mut stream, confirmations, &id).await;
            None
        }
        Admission::ConfirmPost { id } => {
            confirm_page::serve_post(&mut stream, confirmations, &id, read, head.content_length.unwrap_or(0)).await;
            None
        }
        Admission::WebSocket { protocol } => {
            let Ok(session) = Arc::clone(sessions).try_acquire_owned() else {
                tracing::debug!("{peer}: {MAX_SESSIONS} sessions are open; refused");
                http::refuse(&mut stream, 503, "too many editor connections are open: close one first").await;
                return None;
            };
            let protocol = HeaderValue::from_str(&protocol).ok()?;
            let echo = move |_: &Request, mut response: Response| -> Result<Response, ErrorResponse> {
                response.headers_mut().insert(SEC_WEBSOCKET_PROTOCOL, protocol);
                Ok(response)
            };
            let upgrade = tokio_tungstenite::accept_hdr_async(Replay::new(read, stream), echo);
            // The Host was checked: the confirmation pages are on it, the origin the page's own.
            let base_url = format!("http://{}", head.host.as_deref().unwrap_or_default());
            let requester = match head.origin.as_deref() {
                None => "An editor connected to the coach".to_string(),
                Some(o) if o.eq_ignore_ascii_case(&base_url) => "The coach's page in your browser".to_string(),
                Some(o) => format!("The page at {o}"),
            };
            match tokio::time::timeout(http::HEAD_TIMEOUT, upgrade).await {
                Ok(Ok(ws)) => Some((ws, base_url, requester, session)),
                Ok(Err(e)) => {
                    tracing::warn!("websocket client {peer}: handshake failed: {e}");
                    None
                }
                Err(_) => None,
            }
        }
    }
}

/// Logs each kind of refusal once per origin (or host), at `warn`; repeats go to
/// `debug`, so a page that keeps trying cannot flood the log. Nothing from the
/// request but the refused header, truncated, is logged.
#[derive(Debug, Default)]
struct RefusalLog {
    seen: Mutex<HashSet<(Refusal, String)>>,
}

impl RefusalLog {
    const MAX_REMEMBERED: usize = 256;

    fn note(&self, why: Refusal, head: &RequestHead, peer: SocketAddr) {
        let what = match why {
            Refusal::Host => format!("Host {}", shown(head.host.as_deref())),
            _ => format!("Origin {}", shown(head.origin.as_deref())),
        };
        let first = {
            let mut seen = self.seen.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
            seen.len() < Self::MAX_REMEMBERED && seen.insert((why, what.clone()))
        };
        let kind = if head.upgrade { "WebSocket" } else { "page request" };
        if first {
            tracing::warn!("refused a {kind} from {peer} ({what}) with {}: {}", why.status(), why.reason());
        } else {
            tracing::debug!("refused a {kind} from {peer} ({what}) with {}: {}", why.status(), why.reason());
        }
    }
}

/// A header value for the log: quoted, control characters escaped, at most 80 characters.
fn shown(value: Option<&str>) -> String {
    match value {
        Some(v) => format!("{:?}", v.chars().take(80).collect::<String>()),
        None => "none".into(),
    }
}

/// Bridges one admitted WebSocket to a server session: each text (or binary)
/// message is one JSON-RPC message, without `Content-Length` framing.
async fn serve_connection<S>(ws: WebSocketStream<S>, options: ServerOptions, link: Link)
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    let (mut ws_tx, mut ws_rx) = ws.split();
    let (incoming_tx, incoming) = mpsc::channel(16);
    let (outgoing, mut outgoing_rx) = mpsc::channel::<Vec<u8>>(16);
    let inbound = async move {
        while let Some(msg) = ws_rx.next().await {
            let body: Vec<u8> = match msg {
                Ok(Message::Text(t)) => t.as_bytes().to_vec(),
                Ok(Message::Binary(b)) => b.to_vec(),
                Ok(Message::Close(_)) | Err(_) => break,
                Ok(_) => continue,
            };
            if incoming_tx.send(Ok(body)).await.is_err() {
                break;
            }
        }
        // Dropping `incoming_tx` ends the server's input, which ends the session.
    };
    let outbound = async move {
        while let Some(body) = outgoing_rx.recv().await {
            let Ok(text) = String::from_utf8(body) else { continue };
            if ws_tx.send(Message::text(text)).await.is_err() {
                break;
            }
        }
        let _ = ws_tx.close().await;
    };
    tokio::join!(inbound, outbound, serve_session(incoming, outgoing, options, Peer::WebSocket, Some(link)));
}
