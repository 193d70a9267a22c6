//! A guard between the client's messages and tower-lsp-server. The library ends its
//! read loop at the first undecodable frame (tokio-util's `FramedRead` stops after a
//! codec error), so one garbage message would silently end the session. The guard
//! forwards only well-formed JSON-RPC messages the peer may send (`trust`) and
//! answers everything else itself, with the JSON-RPC error the specification
//! prescribes; the server never sees garbage. Both transports hand it bare message
//! bodies and take bare bodies back; framing is `codec`'s alone.

use super::codec::{self, FrameError, FrameReader};
use super::trust::{method_access, MethodAccess, Peer};
use serde_json::{json, Value};
use tokio::io::{AsyncRead, AsyncWrite, AsyncWriteExt};
use tokio::sync::mpsc;

/// One message from the client as its transport read it: the body, or why the
/// frame it came in could not be read.
pub type Incoming = Result<Vec<u8>, FrameError>;

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
    let why = match method_access(peer, method) {
        // A guarded method's handler files a confirmation instead of acting (`confirm`).
        MethodAccess::Allowed | MethodAccess::NeedsConfirmation => return Ok(()),
        MethodAccess::Refused => "is not available over WebSocket",
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

/// The error response to a frame the codec could not read.
fn frame_error_response(e: &FrameError) -> Vec<u8> {
    match e {
        FrameError::NoLength | FrameError::BadLength(_) => error_response(Value::Null, -32700, format!("Parse error: {e}")),
        FrameError::TooLarge(_) => error_response(Value::Null, -32600, format!("Invalid request: {e}")),
    }
}

/// Forwards the client's good messages to `to_server` (framed for tower-lsp-server)
/// and sends the error responses for bad ones to `replies`. Ends, closing
/// `to_server`, when `incoming` ends.
pub async fn guard_input<W>(mut incoming: mpsc::Receiver<Incoming>, mut to_server: W, replies: mpsc::Sender<Vec<u8>>, peer: Peer)
where
    W: AsyncWrite + Unpin,
{
    while let Some(message) = incoming.recv().await {
        let verdict = match message {
            Ok(body) => check_message(&body, peer).map(|()| body),
            Err(e) => Err(Some(frame_error_response(&e))),
        };
        match verdict {
            Ok(body) => {
                if codec::write_frame(&mut to_server, &body).await.is_err() {
                    break;
                }
            }
            Err(Some(response)) => {
                tracing::warn!("rejected a malformed message: {}", String::from_utf8_lossy(&response));
                if replies.send(response).await.is_err() {
                    break;
                }
            }
            Err(None) => {}
        }
    }
    let _ = to_server.shutdown().await;
}

/// Sends whole messages from the server's output and the guard's replies to
/// `output`. Ends when the server's output ends (replies already queued still go).
/// A frame of the server's that cannot be read is skipped and the next one goes out.
pub async fn merge_output<R>(from_server: R, mut replies: mpsc::Receiver<Vec<u8>>, output: mpsc::Sender<Vec<u8>>)
where
    R: AsyncRead + Unpin,
{
    // Frames are read whole in their own future; the writer only selects between two
    // channels, whose `recv` is cancel-safe, so no partially read frame is ever lost.
    let (frames_tx, mut frames) = mpsc::channel::<Vec<u8>>(16);
    let read = async move {
        let mut reader = FrameReader::new(from_server);
        while let Some(frame) = reader.next().await {
            match frame {
                Ok(body) => {
                    if frames_tx.send(body).await.is_err() {
                        break;
                    }
                }
                Err(e) => tracing::error!("skipped a frame of the server's own output: {e}"),
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
                            if output.send(body).await.is_err() {
                                break;
                            }
                        }
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
            if output.send(body).await.is_err() {
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

    /// Before the shared codec, the first frame of the server's that failed the
    /// client-side checks ended the forwarding for good: this test's output was empty.
    #[tokio::test]
    async fn server_output_goes_on_after_a_frame_it_cannot_use() {
        let log = br#"{"jsonrpc":"2.0","method":"window/logMessage","params":{"type":3,"message":"hi"}}"#;
        let mut from_server = codec::encode(b"{ not json");
        from_server.extend_from_slice(b"Content-Length: nine\r\n\r\n");
        from_server.extend_from_slice(&codec::encode(log));
        let (replies_tx, replies) = mpsc::channel(1);
        replies_tx.send(b"reply".to_vec()).await.expect("queued");
        let (output, mut sent) = mpsc::channel(8);
        merge_output(&from_server[..], replies, output).await;
        let mut bodies = Vec::new();
        while let Ok(body) = sent.try_recv() {
            bodies.push(body);
        }
        bodies.sort();
        assert_eq!(bodies, vec![b"reply".to_vec(), b"{ not json".to_vec(), log.to_vec()]);
    }

    #[tokio::test]
    async fn bad_frames_and_refused_methods_are_answered_by_the_guard() {
        let (incoming_tx, incoming) = mpsc::channel(8);
        let (replies_tx, mut replies) = mpsc::channel(8);
        let run = br#"{"jsonrpc":"2.0","id":1,"method":"pencil/run","params":{}}"#.to_vec();
        for message in [
            Err(FrameError::NoLength),
            Err(FrameError::TooLarge(codec::MAX_FRAME_BYTES + 1)),
            Ok(br#"{"jsonrpc":"2.0","id":2,"method":"workspace/symbol","params":{}}"#.to_vec()),
            Ok(br#"{"jsonrpc":"2.0","method":"pencil/unlisted"}"#.to_vec()),
            Ok(run.clone()),
        ] {
            incoming_tx.send(message).await.expect("send");
        }
        drop(incoming_tx);
        let mut to_server = Vec::new();
        guard_input(incoming, &mut to_server, replies_tx, Peer::WebSocket).await;
        assert_eq!(to_server, codec::encode(&run), "only the listed method reaches the server, framed once");
        let mut codes = Vec::new();
        while let Ok(reply) = replies.try_recv() {
            let reply: Value = serde_json::from_slice(&reply).expect("json");
            codes.push((reply["id"].clone(), reply["error"]["code"].as_i64()));
        }
        assert_eq!(codes, vec![(Value::Null, Some(-32700)), (Value::Null, Some(-32600)), (json!(2), Some(-32601))]);
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
