//! A guard between the client's bytes and tower-lsp-server. The library ends its read
//! loop at the first undecodable frame (tokio-util's `FramedRead` stops after a codec
//! error), so one garbage message would silently end the session. The guard forwards
//! only well-formed JSON-RPC frames and answers everything else itself, with the
//! JSON-RPC error the specification prescribes; the server never sees garbage.

use super::trust::{method_access, MethodAccess, Peer};
use serde_json::{json, Value};
use tokio::io::{AsyncBufReadExt, AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, BufReader};
use tokio::sync::mpsc;

/// Frames larger than this are discarded unread (a document is capped far lower).
pub const MAX_FRAME_BYTES: usize = 64 << 20;

/// Header lines longer than this mean the stream is not LSP framing.
const MAX_HEADER_LINE: usize = 8 << 10;

/// A frame that failed the guard, and the error response it gets.
fn error_response(id: Value, code: i64, message: String) -> Vec<u8> {
    serde_json::to_vec(&json!({"jsonrpc": "2.0", "id": id, "error": {"code": code, "message": message}}))
        .unwrap_or_default()
}

/// Checks that `body` is one JSON-RPC 2.0 message tower-lsp-server will decode,
/// and that `peer` may call its method (`trust::method_access`). On failure returns
/// the error response to send back, or None for a notification to drop unanswered.
pub fn check_message(body: &[u8], peer: Peer) -> Result<(), Option<Vec<u8>>> {
    let message = check_json_rpc(body).map_err(Some)?;
    let Some(method) = message.get("method").and_then(Value::as_str) else { return Ok(()) };
    let why = match method_access(peer, &method) {
        MethodAccess::Allowed => return Ok(()),
        MethodAccess::Refused => "is not available over WebSocket",
        MethodAccess::NeedsConfirmation => "needs the student's confirmation in the page",
    };
    tracing::warn!("refused {method:?} from a {peer:?} client: it {why}");
    Err(message.get("id").map(|id| error_response(id.clone(), -32601, format!("Method not allowed: {method} {why}"))))
}

/// The message, when it is one JSON-RPC 2.0 message; else the error response.
fn check_json_rpc(body: &[u8]) -> Result<Value, Vec<u8>> {
    let value: Value = serde_json::from_slice(body)
        .map_err(|e| error_response(Value::Null, -32700, format!("Parse error: {e}")))?;
    let id = value.get("id").cloned().unwrap_or(Value::Null);
    let invalid = |why: &str| error_response(id.clone(), -32600, format!("Invalid request: {why}"));
    let Some(obj) = value.as_object() else { return Err(invalid("not a JSON object (batches are not supported)")) };
    if obj.get("jsonrpc") != Some(&json!("2.0")) {
        return Err(invalid("\"jsonrpc\" must be \"2.0\""));
    }
    let id_ok = |v: Option<&Value>| v.is_none_or(|v| v.is_string() || v.is_i64() || v.is_u64() || v.is_null());
    let shape = match obj.get("method") {
        Some(Value::String(_)) => {
            if !id_ok(obj.get("id")) {
                return Err(invalid("\"id\" must be a number or a string"));
            }
            if obj.get("params").is_some_and(|p| !(p.is_object() || p.is_array() || p.is_null())) {
                return Err(invalid("\"params\" must be an object or an array"));
            }
            Ok(())
        }
        Some(_) => Err(invalid("\"method\" must be a string")),
        None if obj.contains_key("id") && (obj.contains_key("result") || obj.contains_key("error")) && id_ok(obj.get("id")) => {
            Ok(())
        }
        None => Err(invalid("neither a request, a notification nor a response")),
    };
    shape.map(|()| value)
}

/// What reading one frame produced.
enum Frame {
    Body(Vec<u8>),
    /// A frame to answer with this error response and skip.
    Rejected(Vec<u8>),
    /// A notification to skip unanswered.
    Dropped,
    End,
}

async fn read_frame<R: AsyncRead + Unpin>(reader: &mut BufReader<R>, peer: Peer) -> Frame {
    let mut length: Option<Result<usize, String>> = None;
    let mut saw_header = false;
    loop {
        let mut line = Vec::new();
        let n = match (&mut *reader).take(MAX_HEADER_LINE as u64).read_until(b'\n', &mut line).await {
            Ok(n) => n,
            Err(_) => return Frame::End,
        };
        if n == 0 {
            return Frame::End;
        }
        let text = String::from_utf8_lossy(&line);
        let text = text.trim_end_matches(['\r', '\n']);
        if text.is_empty() {
            if saw_header {
                break;
            }
            continue; // blank lines between frames
        }
        saw_header = true;
        if let Some((name, value)) = text.split_once(':') {
            if name.trim().eq_ignore_ascii_case("content-length") {
                length = Some(value.trim().parse::<usize>().map_err(|e| format!("bad Content-Length {value:?}: {e}")));
            }
        }
    }
    match length {
        None => Frame::Rejected(error_response(Value::Null, -32700, "Parse error: a message without Content-Length".into())),
        Some(Err(why)) => Frame::Rejected(error_response(Value::Null, -32700, format!("Parse error: {why}"))),
        Some(Ok(len)) if len > MAX_FRAME_BYTES => {
            let skipped = tokio::io::copy(&mut (&mut *reader).take(len as u64), &mut tokio::io::sink()).await;
            if skipped.map_or(true, |s| s < len as u64) {
                return Frame::End;
            }
            Frame::Rejected(error_response(
                Value::Null,
                -32600,
                format!("Invalid request: a {len}-byte message exceeds the {MAX_FRAME_BYTES}-byte limit"),
            ))
        }
        Some(Ok(len)) => {
            let mut body = vec![0; len];
            if reader.read_exact(&mut body).await.is_err() {
                return Frame::End;
            }
            match check_message(&body, peer) {
                Ok(()) => Frame::Body(body),
                Err(Some(response)) => Frame::Rejected(response),
                Err(None) => Frame::Dropped,
            }
        }
    }
}

fn framed(body: &[u8]) -> Vec<u8> {
    let mut out = format!("Content-Length: {}\r\n\r\n", body.len()).into_bytes();
    out.extend_from_slice(body);
    out
}

/// Pumps client bytes from `input` into `to_server`, forwarding good frames and sending
/// error responses for bad ones to `replies`. Ends (closing `to_server`) at end of input.
pub async fn guard_input<R, W>(input: R, mut to_server: W, replies: mpsc::Sender<Vec<u8>>, peer: Peer)
where
    R: AsyncRead + Unpin,
    W: AsyncWrite + Unpin,
{
    let mut reader = BufReader::new(input);
    loop {
        match read_frame(&mut reader, peer).await {
            Frame::End => break,
            Frame::Dropped => {}
            Frame::Body(body) => {
                if to_server.write_all(&framed(&body)).await.is_err() || to_server.flush().await.is_err() {
                    break;
                }
            }
            Frame::Rejected(response) => {
                tracing::warn!("rejected a malformed message: {}", String::from_utf8_lossy(&response));
                if replies.send(response).await.is_err() {
                    break;
                }
            }
        }
    }
    let _ = to_server.shutdown().await;
}

/// Copies whole frames from the server's output and the guard's replies to `output`,
/// never interleaving two frames. Ends when the server's output ends.
pub async fn merge_output<R, W>(from_server: R, mut replies: mpsc::Receiver<Vec<u8>>, mut output: W)
where
    R: AsyncRead + Unpin,
    W: AsyncWrite + Unpin,
{
    // Frames are read whole in their own future; the writer only selects between two
    // channels, whose `recv` is cancel-safe, so no partially read frame is ever lost.
    let (frames_tx, mut frames) = mpsc::channel::<Vec<u8>>(16);
    let read = async move {
        let mut reader = BufReader::new(from_server);
        while let Frame::Body(body) = read_frame(&mut reader, Peer::Stdio).await {
            if frames_tx.send(body).await.is_err() {
                break;
            }
        }
    };
    let write = async move {
        let mut replies_done = false;
        loop {
            let body = tokio::select! {
                frame = frames.recv() => match frame {
                    Some(body) => body,
                    None => {
                        // Replies already queued still go out; later ones have no session.
                        while let Ok(body) = replies.try_recv() {
                            if output.write_all(&framed(&body)).await.is_err() {
                                break;
                            }
                        }
                        let _ = output.flush().await;
                        break;
                    }
                },
                reply = replies.recv(), if !replies_done => match reply {
                    Some(body) => body,
                    None => {
                        replies_done = true;
                        continue;
                    }
                },
            };
            if output.write_all(&framed(&body)).await.is_err() || output.flush().await.is_err() {
                break;
            }
        }
    };
    tokio::join!(read, write);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_json_rpc_messages_pass() {
        let check_message = |body: &[u8]| check_message(body, Peer::Stdio).map_err(|e| e.expect("a response"));
        assert!(check_message(br#"{"jsonrpc":"2.0","id":1,"method":"initialize","params":{}}"#).is_ok());
        assert!(check_message(br#"{"jsonrpc":"2.0","method":"exit"}"#).is_ok());
        assert!(check_message(br#"{"jsonrpc":"2.0","id":"a","result":null}"#).is_ok());
        for (bad, code) in [
            (&b"not json"[..], -32700),
            (&b"\xff\xfe"[..], -32700),
            (&br#"{"hello":1}"#[..], -32600),
            (&br#"[{"jsonrpc":"2.0","method":"x"}]"#[..], -32600),
            (&br#"{"jsonrpc":"2.0","id":{},"method":"x"}"#[..], -32600),
            (&br#"{"jsonrpc":"2.0","id":3,"method":"x","params":"str"}"#[..], -32600),
        ] {
            let response: Value = serde_json::from_slice(&check_message(bad).expect_err("rejected")).expect("json");
            assert_eq!(response["error"]["code"], code, "{}", String::from_utf8_lossy(bad));
        }
        let response: Value =
            serde_json::from_slice(&check_message(br#"{"jsonrpc":"1.0","id":7,"method":"x"}"#).expect_err("rejected")).expect("json");
        assert_eq!(response["id"], 7);
    }

    #[test]
    fn websocket_peers_call_only_listed_methods() {
        let ws = |body: &[u8]| check_message(body, Peer::WebSocket);
        assert!(ws(br#"{"jsonrpc":"2.0","id":1,"method":"pencil/run","params":{}}"#).is_ok());
        assert!(ws(br#"{"jsonrpc":"2.0","id":"a","result":null}"#).is_ok());
        let refused = ws(br#"{"jsonrpc":"2.0","id":4,"method":"workspace/symbol","params":{}}"#).expect_err("refused");
        let response: Value = serde_json::from_slice(&refused.expect("answered")).expect("json");
        assert_eq!((response["id"].clone(), response["error"]["code"].clone()), (json!(4), json!(-32601)));
        assert!(matches!(ws(br#"{"jsonrpc":"2.0","method":"pencil/secret","params":{}}"#), Err(None)));
        assert!(check_message(br#"{"jsonrpc":"2.0","id":4,"method":"workspace/symbol"}"#, Peer::Stdio).is_ok());
    }
}
