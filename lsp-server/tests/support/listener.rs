//! A `pencil-lsp --listen` process and a WebSocket client for it, shared by the
//! listener's tests.

use futures_util::{SinkExt, StreamExt};
use serde_json::{json, Value};
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::http::HeaderValue;
use tokio_tungstenite::tungstenite::{Error as WsError, Message};

pub type Ws = tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

/// A `pencil-lsp --listen 127.0.0.1:0` process; its stderr is collected.
pub struct Listener {
    child: std::process::Child,
    /// `127.0.0.1:PORT`.
    pub addr: String,
    /// The per-launch token from the page's URL.
    pub token: String,
    log: Arc<Mutex<Vec<String>>>,
}

impl Drop for Listener {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Listener {
    /// Starts `pencil-lsp --listen 127.0.0.1:0` with `args` and `envs`, waiting for its address and token.
    pub fn start(data_dir: &Path, args: &[&str], envs: &[(&str, &str)]) -> Listener {
        let mut command = Command::new(env!("CARGO_BIN_EXE_pencil-lsp"));
        command
            .args(["--listen", "127.0.0.1:0"])
            .args(args)
            .env("PENCIL_DATA_DIR", data_dir)
            .env("PENCIL_MODEL_DIR", "")
            .env_remove("PENCIL_LSP_TOKEN")
            .env("RUST_LOG", "warn")
            .stderr(Stdio::piped());
        for (k, v) in envs {
            command.env(k, v);
        }
        let mut child = command.spawn().expect("start");
        let mut lines = BufReader::new(child.stderr.take().expect("stderr")).lines();
        let mut addr = None;
        let url = loop {
            let line = lines.next().expect("server exited").expect("line");
            if let Some(a) = line.strip_prefix("pencil-lsp: listening on ws://") {
                addr = Some(a.to_string());
            }
            if let Some(url) = line.strip_prefix("pencil-lsp: open ") {
                break url.to_string();
            }
        };
        let addr = addr.expect("the WebSocket address is printed first");
        assert_eq!(url.split("/?token=").next(), Some(format!("http://{addr}").as_str()), "{url}");
        let token = url.split("/?token=").nth(1).expect("a token in the URL").to_string();
        let log = Arc::new(Mutex::new(Vec::new()));
        let sink = Arc::clone(&log);
        std::thread::spawn(move || {
            for line in lines.map_while(Result::ok) {
                sink.lock().expect("log").push(line);
            }
        });
        Listener { child, addr, token, log }
    }

    /// The listener's port.
    pub fn port(&self) -> &str {
        self.addr.rsplit(':').next().expect("port")
    }

    /// The subprotocol that presents the token.
    pub fn protocol(&self) -> String {
        format!("pencil-lsp.token.{}", self.token)
    }

    /// Opens a WebSocket with these headers (None leaves a header out; Host is set to
    /// the listener's address unless given).
    pub async fn connect(&self, origin: Option<&str>, protocol: Option<&str>, host: Option<&str>) -> Result<Ws, WsError> {
        let mut request = format!("ws://{}/", self.addr).into_client_request().expect("request");
        let headers = request.headers_mut();
        if let Some(o) = origin {
            headers.insert("Origin", HeaderValue::from_str(o).expect("header"));
        }
        if let Some(p) = protocol {
            headers.insert("Sec-WebSocket-Protocol", HeaderValue::from_str(p).expect("header"));
        }
        if let Some(h) = host {
            headers.insert("Host", HeaderValue::from_str(h).expect("header"));
        }
        tokio_tungstenite::connect_async(request).await.map(|(ws, response)| {
            let echoed = response.headers().get("Sec-WebSocket-Protocol").and_then(|v| v.to_str().ok());
            assert_eq!(echoed, protocol, "the token's subprotocol is echoed");
            ws
        })
    }

    /// The HTTP status a WebSocket handshake with these headers gets (101 when admitted).
    pub async fn handshake_status(&self, origin: Option<&str>, protocol: Option<&str>, host: Option<&str>) -> u16 {
        match self.connect(origin, protocol, host).await {
            Ok(mut ws) => {
                let _ = ws.close(None).await;
                101
            }
            Err(WsError::Http(response)) => response.status().as_u16(),
            Err(e) => panic!("handshake failed without an HTTP answer: {e}"),
        }
    }

    /// A raw HTTP/1.1 request; returns the status and the body.
    pub fn http(&self, request: &str) -> (u16, String) {
        let (status, _, body) = self.http_full(request);
        (status, body)
    }

    /// A raw HTTP/1.1 request; returns the status, the response's head and its body.
    pub fn http_full(&self, request: &str) -> (u16, String, String) {
        let mut stream = TcpStream::connect(&self.addr).expect("connect");
        stream.set_read_timeout(Some(Duration::from_secs(60))).expect("timeout");
        stream.write_all(request.as_bytes()).expect("write");
        let mut response = String::new();
        stream.read_to_string(&mut response).expect("read");
        let status = response.split(' ').nth(1).and_then(|s| s.parse().ok()).unwrap_or_else(|| panic!("{response:?}"));
        let (head, body) = response.split_once("\r\n\r\n").unwrap_or((&response, ""));
        (status, head.to_string(), body.to_string())
    }

    /// Everything the server logged so far.
    pub fn log_text(&self) -> String {
        self.log.lock().expect("log").join("\n")
    }

    /// The server's log lines containing `needle`.
    pub fn log_lines(&self, needle: &str) -> Vec<String> {
        self.log.lock().expect("log").iter().filter(|l| l.contains(needle)).cloned().collect()
    }
}

/// The next text message, as JSON.
pub async fn next_json(ws: &mut Ws) -> Value {
    loop {
        let msg = tokio::time::timeout(Duration::from_secs(60), ws.next()).await.expect("timed out").expect("open").expect("frame");
        if let Message::Text(t) = msg {
            return serde_json::from_str(t.as_str()).expect("json");
        }
    }
}

/// Sends one JSON-RPC message.
pub async fn send(ws: &mut Ws, message: Value) {
    ws.send(Message::text(message.to_string())).await.expect("send");
}

/// Sends a request and returns its response, keeping the notifications that came before it.
pub async fn request(ws: &mut Ws, id: i64, method: &str, params: Value, notifications: &mut Vec<Value>) -> Value {
    send(ws, json!({"jsonrpc": "2.0", "id": id, "method": method, "params": params})).await;
    loop {
        let msg = next_json(ws).await;
        if msg.get("method").is_none() && msg["id"] == id {
            return msg;
        }
        notifications.push(msg);
    }
}
