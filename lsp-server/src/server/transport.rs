//! Transports: stdio (default) and WebSocket for the browser editor. Over WebSocket
//! each text message carries one JSON-RPC message without `Content-Length` framing
//! (as browser LSP clients send them); the bridge adds and strips the framing.

use super::{service, wire_guard, ServerOptions};
use futures_util::{SinkExt, StreamExt};
use std::net::SocketAddr;
use tokio::io::{AsyncBufReadExt, AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, BufReader};
use tokio::net::{TcpListener, TcpStream};
use tokio_tungstenite::tungstenite::Message;
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
    serve_guarded(tokio::io::stdin(), tokio::io::stdout(), options).await;
}

/// Serves one client over a framed byte stream, with the wire guard in front of the
/// server so malformed messages are answered instead of ending the session.
async fn serve_guarded<R, W>(input: R, output: W, options: ServerOptions)
where
    R: AsyncRead + Unpin,
    W: AsyncWrite + Unpin,
{
    let (to_server, server_in) = tokio::io::duplex(1 << 16);
    let (server_out, from_server) = tokio::io::duplex(1 << 16);
    let (replies_tx, replies_rx) = tokio::sync::mpsc::channel(16);
    let (service, socket) = service(options);
    let serve = async move {
        Server::new(server_in, server_out, socket).serve(service).await;
    };
    let guard = wire_guard::guard_input(input, to_server, replies_tx);
    let rest = async move {
        tokio::join!(serve, wire_guard::merge_output(from_server, replies_rx, output));
    };
    tokio::pin!(guard, rest);
    // After `exit` the server is done even if the client keeps its end open.
    tokio::select! {
        () = &mut rest => {}
        () = &mut guard => rest.await,
    }
}

/// Serves LSP over WebSocket on `addr`, one server session per connection. Calls
/// `on_ready` with the bound address (port 0 picks a free port).
pub async fn run_websocket(
    addr: SocketAddr,
    allow_remote: bool,
    options: ServerOptions,
    on_ready: impl FnOnce(SocketAddr),
) -> Result<(), ListenError> {
    if !addr.ip().is_loopback() && !allow_remote {
        return Err(ListenError::NotLoopback(addr));
    }
    let listener = TcpListener::bind(addr).await.map_err(|source| ListenError::Bind { addr, source })?;
    let bound = listener.local_addr().map_err(|source| ListenError::Bind { addr, source })?;
    on_ready(bound);
    loop {
        let (stream, peer) = match listener.accept().await {
            Ok(conn) => conn,
            Err(e) => {
                tracing::warn!("accept failed: {e}");
                continue;
            }
        };
        let options = options.clone();
        tokio::spawn(async move {
            tracing::info!("websocket client {peer} connected");
            if let Err(e) = serve_connection(stream, options).await {
                tracing::warn!("websocket client {peer}: {e}");
            }
            tracing::info!("websocket client {peer} disconnected");
        });
    }
}

async fn serve_connection(stream: TcpStream, options: ServerOptions) -> Result<(), String> {
    let ws = tokio_tungstenite::accept_async(stream).await.map_err(|e| e.to_string())?;
    let (mut ws_tx, mut ws_rx) = ws.split();
    let (mut to_guard, guard_in) = tokio::io::duplex(1 << 16);
    let (guard_out, from_guard) = tokio::io::duplex(1 << 16);

    let inbound = async move {
        while let Some(msg) = ws_rx.next().await {
            let body: Vec<u8> = match msg {
                Ok(Message::Text(t)) => t.as_bytes().to_vec(),
                Ok(Message::Binary(b)) => b.to_vec(),
                Ok(Message::Close(_)) | Err(_) => break,
                Ok(_) => continue,
            };
            let framed = if body.starts_with(b"Content-Length:") {
                body
            } else {
                let mut f = format!("Content-Length: {}\r\n\r\n", body.len()).into_bytes();
                f.extend_from_slice(&body);
                f
            };
            if to_guard.write_all(&framed).await.is_err() {
                break;
            }
        }
        // Dropping `to_guard` ends the server's input, which ends the session.
    };
    let outbound = async move {
        let mut reader = BufReader::new(from_guard);
        while let Some(body) = read_framed(&mut reader).await {
            let Ok(text) = String::from_utf8(body) else { continue };
            if ws_tx.send(Message::text(text)).await.is_err() {
                break;
            }
        }
        let _ = ws_tx.close().await;
    };
    tokio::join!(inbound, outbound, serve_guarded(guard_in, guard_out, options));
    Ok(())
}

/// Reads one `Content-Length`-framed message body; None at end of stream.
async fn read_framed<R: tokio::io::AsyncBufRead + Unpin>(reader: &mut R) -> Option<Vec<u8>> {
    let mut length = None;
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line).await.ok()? == 0 {
            return None;
        }
        let line = line.trim_end();
        if line.is_empty() {
            break;
        }
        if let Some(v) = line.strip_prefix("Content-Length:") {
            length = v.trim().parse::<usize>().ok();
        }
    }
    let mut body = vec![0; length?];
    reader.read_exact(&mut body).await.ok()?;
    Some(body)
}
