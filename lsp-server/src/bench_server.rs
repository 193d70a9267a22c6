//! Resident memory of a real language server: `bench` starts this executable as a
//! stdio server with the same model, drives one failing program through
//! `pencil/run` and a code action (so the model has sampled), and reads the child's
//! `VmRSS`/`VmHWM` from /proc. The bench process itself holds the whole corpus, so
//! its own memory says nothing about what a student's editor pays.

use serde_json::{json, Value};
use std::io::{BufRead, BufReader, Read, Write};
use std::path::Path;
use std::process::{Child, ChildStdin, ChildStdout, Command, Stdio};

/// Memory of the server process, in MB.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ServerMemory {
    /// Resident set size after the requests.
    pub rss_mb: f64,
    /// Peak resident set size.
    pub hwm_mb: f64,
}

struct Client {
    child: Child,
    stdin: ChildStdin,
    stdout: BufReader<ChildStdout>,
    next_id: i64,
}

impl Client {
    fn send(&mut self, message: &Value) -> std::io::Result<()> {
        let body = message.to_string();
        write!(self.stdin, "Content-Length: {}\r\n\r\n{body}", body.len())?;
        self.stdin.flush()
    }

    fn read(&mut self) -> std::io::Result<Value> {
        let mut length = None;
        loop {
            let mut line = String::new();
            if self.stdout.read_line(&mut line)? == 0 {
                return Err(std::io::Error::new(std::io::ErrorKind::UnexpectedEof, "the server closed its output"));
            }
            let line = line.trim_end();
            if line.is_empty() {
                break;
            }
            if let Some(v) = line.strip_prefix("Content-Length:") {
                length = v.trim().parse::<usize>().ok();
            }
        }
        let length = length.ok_or_else(|| std::io::Error::other("a frame without Content-Length"))?;
        let mut body = vec![0; length];
        self.stdout.read_exact(&mut body)?;
        serde_json::from_slice(&body).map_err(std::io::Error::other)
    }

    /// Sends a request and waits for its response, answering server requests meanwhile.
    fn request(&mut self, method: &str, params: Value) -> std::io::Result<Value> {
        let id = self.next_id;
        self.next_id += 1;
        self.send(&json!({"jsonrpc": "2.0", "id": id, "method": method, "params": params}))?;
        loop {
            let msg = self.read()?;
            match (msg.get("method"), msg.get("id")) {
                (Some(_), Some(server_id)) => {
                    let answer = json!({"jsonrpc": "2.0", "id": server_id, "result": null});
                    self.send(&answer)?;
                }
                (None, Some(got)) if got == &json!(id) => return Ok(msg),
                _ => {}
            }
        }
    }

    fn notify(&mut self, method: &str, params: Value) -> std::io::Result<()> {
        self.send(&json!({"jsonrpc": "2.0", "method": method, "params": params}))
    }
}

impl Drop for Client {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn status_mb(pid: u32, key: &str) -> Option<f64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = status.lines().find(|l| l.starts_with(key))?;
    let kb: f64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb / 1024.0)
}

/// Starts `exe` as a stdio server (store in `data_dir`, model `model` or the usual
/// search), runs `program` (expected to fail) and asks for code actions, then
/// measures the server's memory.
pub fn measure(exe: &Path, data_dir: &Path, model: Option<&Path>, program: &str) -> std::io::Result<ServerMemory> {
    let mut command = Command::new(exe);
    command.env("PENCIL_DATA_DIR", data_dir).env("RUST_LOG", "off");
    if let Some(m) = model {
        command.arg("--model").arg(m);
    }
    let mut child = command.stdin(Stdio::piped()).stdout(Stdio::piped()).stderr(Stdio::null()).spawn()?;
    let stdin = child.stdin.take().ok_or_else(|| std::io::Error::other("no stdin"))?;
    let stdout = BufReader::new(child.stdout.take().ok_or_else(|| std::io::Error::other("no stdout"))?);
    let pid = child.id();
    let mut client = Client { child, stdin, stdout, next_id: 1 };
    client.request("initialize", json!({"processId": null, "rootUri": null, "capabilities": {}}))?;
    client.notify("initialized", json!({}))?;
    let uri = "file:///bench/memory.coffee";
    client.notify("textDocument/didOpen", json!({"textDocument": {"uri": uri, "languageId": "coffeescript", "version": 1, "text": program}}))?;
    client.request("pencil/run", json!({"textDocument": {"uri": uri}}))?;
    let zero = json!({"line": 0, "character": 0});
    client.request(
        "textDocument/codeAction",
        json!({"textDocument": {"uri": uri}, "range": {"start": zero, "end": zero}, "context": {"diagnostics": []}}),
    )?;
    let memory = match (status_mb(pid, "VmRSS:"), status_mb(pid, "VmHWM:")) {
        (Some(rss_mb), Some(hwm_mb)) => ServerMemory { rss_mb, hwm_mb },
        _ => return Err(std::io::Error::other(format!("/proc/{pid}/status is not readable"))),
    };
    let _ = client.request("shutdown", Value::Null);
    let _ = client.notify("exit", Value::Null);
    Ok(memory)
}
