//! `pencil-lsp bench --handshake`: what `pencil-lsp --listen` answers each kind of
//! client (Host x Origin x token, with the HTTP status each got, and the page at
//! `/`), and what the checks cost a WebSocket handshake on loopback: the same
//! client against a bare tungstenite accept (the listener before the checks) and
//! against the guarded listener, admitted and refused.

use crate::server::trust::{Token, TOKEN_PROTOCOL_PREFIX};
use crate::server::{run_websocket, ListenConfig, ServerOptions};
use std::io::Write;
use std::net::SocketAddr;
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::http::HeaderValue;
use tokio_tungstenite::tungstenite::Error as WsError;

/// Most handshakes per latency figure.
pub const MAX_HANDSHAKES: usize = 5000;

/// A handshake that has not finished by then counts as failed.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(5);

/// The origin the benchmark's listener lists with `--allow-origin`.
const LISTED_ORIGIN: &str = "https://pencil.example.org";

/// Prints the refusal matrix and the latency of `n` handshakes per configuration.
pub fn run(n: usize, out: &mut dyn Write) -> std::io::Result<()> {
    let n = n.clamp(1, MAX_HANDSHAKES);
    let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build()?;
    let data = tempfile::tempdir()?;
    let token = Token::generate().map_err(std::io::Error::other)?;
    let report = runtime.block_on(async {
        let guarded = start_guarded(token.clone(), data.path().to_path_buf()).await?;
        let bare = start_bare().await?;
        let mut report = Vec::new();
        matrix(&mut report, guarded, &token).await?;
        latency(&mut report, n, guarded, bare, &token).await?;
        Ok::<_, std::io::Error>(report)
    })?;
    runtime.shutdown_background();
    out.write_all(&report)
}

async fn start_guarded(token: Token, data_dir: std::path::PathBuf) -> std::io::Result<SocketAddr> {
    let (tx, rx) = tokio::sync::oneshot::channel();
    let config = ListenConfig { allow_remote: false, allow_origins: vec![LISTED_ORIGIN.to_string()], token };
    let options = ServerOptions { data_dir: Some(data_dir), model_dir: None };
    let addr: SocketAddr = ([127, 0, 0, 1], 0).into();
    tokio::spawn(async move {
        let result = run_websocket(addr, config, options, |policy| {
            let _ = tx.send(policy.bound());
        })
        .await;
        if let Err(e) = result {
            eprintln!("bench: the listener stopped: {e}");
        }
    });
    rx.await.map_err(|_| std::io::Error::other("the listener did not start"))
}

/// The listener as it was before the checks: accept every upgrade, then hang up.
async fn start_bare() -> std::io::Result<SocketAddr> {
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", 0)).await?;
    let addr = listener.local_addr()?;
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            tokio::spawn(async move {
                let _ = tokio_tungstenite::accept_async(stream).await;
            });
        }
    });
    Ok(addr)
}

/// One handshake: the HTTP status (101 when upgraded; 0 when none came) and its duration.
async fn handshake(addr: SocketAddr, host: &str, origin: Option<&str>, protocol: Option<&str>) -> (u16, Duration) {
    let started = Instant::now();
    let Ok(mut request) = format!("ws://{addr}/").into_client_request() else { return (0, started.elapsed()) };
    let headers = request.headers_mut();
    for (name, value) in [("Host", Some(host)), ("Origin", origin), ("Sec-WebSocket-Protocol", protocol)] {
        if let Some(v) = value.and_then(|v| HeaderValue::from_str(v).ok()) {
            headers.insert(name, v);
        }
    }
    let status = match tokio::time::timeout(HANDSHAKE_TIMEOUT, tokio_tungstenite::connect_async(request)).await {
        Ok(Ok(_)) => 101,
        Ok(Err(WsError::Http(response))) => response.status().as_u16(),
        Ok(Err(_)) | Err(_) => 0,
    };
    (status, started.elapsed())
}

/// A plain `GET` on the listener: the status.
async fn get(addr: SocketAddr, target: &str, host: &str) -> u16 {
    let exchange = async {
        let mut stream = tokio::net::TcpStream::connect(addr).await?;
        stream.write_all(format!("GET {target} HTTP/1.1\r\nHost: {host}\r\n\r\n").as_bytes()).await?;
        let mut response = Vec::new();
        stream.read_to_end(&mut response).await?;
        Ok::<_, std::io::Error>(String::from_utf8_lossy(&response).split(' ').nth(1).and_then(|s| s.parse().ok()).unwrap_or(0))
    };
    tokio::time::timeout(HANDSHAKE_TIMEOUT, exchange).await.ok().and_then(Result::ok).unwrap_or(0)
}

async fn matrix(out: &mut Vec<u8>, addr: SocketAddr, token: &Token) -> std::io::Result<()> {
    let port = addr.port();
    let right = format!("{TOKEN_PROTOCOL_PREFIX}{}", token.expose());
    let wrong = format!("{TOKEN_PROTOCOL_PREFIX}{}", "0".repeat(64));
    let page = format!("http://127.0.0.1:{port}");
    let hosts = [
        format!("127.0.0.1:{port}"),
        format!("localhost:{port}"),
        format!("[::1]:{port}"),
        format!("evil.example:{port}"),
        "127.0.0.1:1".to_string(),
    ];
    let rebinding = format!("http://evil.example:{port}");
    let origins: [(&str, Option<&str>); 6] = [
        ("none (an editor)", None),
        ("the page's own", Some(&page)),
        ("listed", Some(LISTED_ORIGIN)),
        ("foreign", Some("http://evil.example")),
        ("rebinding page", Some(&rebinding)),
        ("null", Some("null")),
    ];
    writeln!(out, "refusal matrix: pencil-lsp --listen {addr} --allow-origin {LISTED_ORIGIN}; HTTP status of each WebSocket handshake")?;
    writeln!(out, "  (101 = admitted; the page's own origin is {page}, the rebinding page's {rebinding})")?;
    writeln!(out, "  {:<20} {:<18} {:>11} {:>8} {:>11}", "Host", "Origin", "right token", "no token", "wrong token")?;
    for host in &hosts {
        for (label, origin) in &origins {
            let mut statuses = Vec::new();
            for protocol in [Some(right.as_str()), None, Some(wrong.as_str())] {
                statuses.push(handshake(addr, host, *origin, protocol).await.0);
            }
            writeln!(out, "  {host:<20} {label:<18} {:>11} {:>8} {:>11}", statuses[0], statuses[1], statuses[2])?;
        }
    }
    let with_token = format!("/?token={}", token.expose());
    let local = format!("127.0.0.1:{port}");
    let evil = format!("evil.example:{port}");
    writeln!(
        out,
        "page GET /?token=…: {} (Host {local}), {} (Host localhost:{port}), {} (Host {evil}); GET / without the token: {}; wrong token: {}; GET /other: {}",
        get(addr, &with_token, &local).await,
        get(addr, &with_token, &format!("localhost:{port}")).await,
        get(addr, &with_token, &evil).await,
        get(addr, "/", &local).await,
        get(addr, "/?token=guess", &local).await,
        get(addr, "/other", &local).await,
    )?;
    Ok(())
}

/// One latency figure: whom the client calls, with which headers, and the status it expects.
struct Setup<'a> {
    label: &'a str,
    addr: SocketAddr,
    host: &'a str,
    origin: Option<&'a str>,
    protocol: Option<&'a str>,
    expected: u16,
}

async fn latency(out: &mut Vec<u8>, n: usize, guarded: SocketAddr, bare: SocketAddr, token: &Token) -> std::io::Result<()> {
    let right = format!("{TOKEN_PROTOCOL_PREFIX}{}", token.expose());
    let page = format!("http://127.0.0.1:{}", guarded.port());
    let (guarded_host, bare_host) = (format!("127.0.0.1:{}", guarded.port()), format!("127.0.0.1:{}", bare.port()));
    writeln!(out, "handshake latency on loopback, {n} sequential handshakes each (TCP connect to the 101 or the refusal):")?;
    let configurations = [
        Setup { label: "without the checks (bare tungstenite accept)", addr: bare, host: &bare_host, origin: Some(&page), protocol: None, expected: 101 },
        Setup { label: "with the checks, admitted (page origin, token)", addr: guarded, host: &guarded_host, origin: Some(&page), protocol: Some(&right), expected: 101 },
        Setup { label: "with the checks, refused (foreign origin)", addr: guarded, host: &guarded_host, origin: Some("http://evil.example"), protocol: Some(&right), expected: 403 },
        Setup { label: "with the checks, refused (no token)", addr: guarded, host: &guarded_host, origin: Some(&page), protocol: None, expected: 401 },
    ];
    for Setup { label, addr, host, origin, protocol, expected } in configurations {
        for _ in 0..n.min(20) {
            handshake(addr, host, origin, protocol).await; // warm-up
        }
        let mut ms = Vec::with_capacity(n);
        let mut unexpected = 0;
        for _ in 0..n {
            let (status, took) = handshake(addr, host, origin, protocol).await;
            unexpected += usize::from(status != expected);
            ms.push(took.as_secs_f64() * 1e3);
        }
        ms.sort_by(f64::total_cmp);
        let at = |p: f64| ms[((p / 100.0) * (ms.len() - 1) as f64).round() as usize];
        writeln!(
            out,
            "  {label:<48} p50 {:.3} ms, p99 {:.3} ms, max {:.3} ms{}",
            at(50.0),
            at(99.0),
            ms[ms.len() - 1],
            if unexpected > 0 { format!(" ({unexpected} answers other than {expected}!)") } else { String::new() }
        )?;
    }
    Ok(())
}
