//! `pencil-hub bench`: ingest load on loopback. A hub is started in this
//! process on a fresh data directory (SQLite) or on `--database` (PostgreSQL),
//! or with `--hubs N` N `pencil-hub serve` processes share that database; N
//! simulated devices join over HTTP (device `i` through hub `i % N`), then each
//! sends one-event batches at the given rate on its own keep-alive connection.
//! Reports latency percentiles, throughput, and checks that every
//! acknowledged event is in the database exactly once.

use std::io::BufRead;
use std::net::SocketAddr;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use pencil_core::classroom::{EventAck, JoinResponse};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;

use crate::postgres::Database;
use crate::security::new_join_code;
use crate::server::{now, router, Config};
use crate::store::Store;

/// Each device succeeds on every third run.
const STATUSES: [&str; 3] = ["ok", "error", "error"];

pub struct BenchOptions {
    pub devices: usize,
    /// Hub processes on one PostgreSQL database; 1: a hub in this process.
    pub hubs: usize,
    pub rate: f64,
    pub seconds: u64,
}

/// A minimal HTTP/1.1 client on one keep-alive connection: enough for the
/// hub's JSON answers, which always carry Content-Length.
struct Conn {
    stream: BufReader<TcpStream>,
    host: String,
}

impl Conn {
    async fn open(addr: SocketAddr) -> Result<Conn> {
        let stream = TcpStream::connect(addr).await?;
        stream.set_nodelay(true)?;
        Ok(Conn {
            stream: BufReader::new(stream),
            host: addr.to_string(),
        })
    }

    async fn post(
        &mut self,
        path: &str,
        token: Option<&str>,
        body: &[u8],
    ) -> Result<(u16, Vec<u8>)> {
        let auth = token
            .map(|t| format!("Authorization: Bearer {t}\r\n"))
            .unwrap_or_default();
        let head = format!(
            "POST {path} HTTP/1.1\r\nHost: {}\r\n{auth}Content-Type: application/json\r\nContent-Length: {}\r\n\r\n",
            self.host,
            body.len()
        );
        let s = self.stream.get_mut();
        s.write_all(head.as_bytes()).await?;
        s.write_all(body).await?;
        let mut line = String::new();
        self.stream.read_line(&mut line).await?;
        let status: u16 = line
            .split(' ')
            .nth(1)
            .and_then(|s| s.parse().ok())
            .context("bad status line")?;
        let mut length = 0usize;
        loop {
            line.clear();
            self.stream.read_line(&mut line).await?;
            let l = line.trim_end();
            if l.is_empty() {
                break;
            }
            if let Some((k, v)) = l.split_once(':') {
                if k.eq_ignore_ascii_case("content-length") {
                    length = v.trim().parse()?;
                }
            }
        }
        let mut body = vec![0; length];
        self.stream.read_exact(&mut body).await?;
        Ok((status, body))
    }
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    sorted[((sorted.len() - 1) as f64 * p).round() as usize]
}

/// `pencil-hub serve` processes started for `--hubs`, killed when dropped.
struct HubProcesses(Vec<Child>);

impl Drop for HubProcesses {
    fn drop(&mut self) {
        for child in &mut self.0 {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// Starts `n` hubs of this binary on the database; answers their addresses.
fn spawn_hubs(url: &str, n: usize, processes: &mut HubProcesses) -> Result<Vec<SocketAddr>> {
    let exe = std::env::current_exe().context("finding the pencil-hub binary")?;
    let mut addrs = Vec::with_capacity(n);
    for _ in 0..n {
        let mut child = Command::new(&exe)
            .args(["--database", url, "serve", "--listen", "127.0.0.1:0"])
            .env("RUST_LOG", "warn")
            .stdout(Stdio::piped())
            .spawn()
            .context("starting a hub process")?;
        let stdout = child.stdout.take().context("the hub's stdout")?;
        processes.0.push(child);
        let mut line = String::new();
        std::io::BufReader::new(stdout).read_line(&mut line)?;
        let addr = line
            .trim()
            .strip_prefix("pencil-hub listening on http://")
            .with_context(|| format!("a hub process said {line:?}"))?;
        addrs.push(addr.parse()?);
    }
    Ok(addrs)
}

pub async fn run(database: &Database, options: BenchOptions) -> Result<()> {
    if options.rate <= 0.0 || options.devices == 0 || options.hubs == 0 {
        bail!("--devices, --hubs and --rate must be positive");
    }
    if options.hubs > 1 && matches!(database, Database::Sqlite(_)) {
        bail!("--hubs needs --database postgres://...: hubs share a PostgreSQL database");
    }
    // Blocking database calls stay off the executor (the PostgreSQL client
    // runs a runtime of its own, which cannot start inside this one).
    let setup = database.clone();
    let (db, class, code) = tokio::task::spawn_blocking(move || {
        let mut db = setup.open()?;
        let code = new_join_code()?;
        // A name of its own: a PostgreSQL database may have seen a bench before.
        let teacher = crate::teacher::add(db.as_mut(), &format!("bench {code}"), "bench password")?;
        let class = db
            .create_class(teacher, "bench", &code, now() + 3600, now())?
            .context("code in use")?;
        anyhow::Ok((db, class, code))
    })
    .await??;
    let store = Store::start(db);
    let mut processes = HubProcesses(Vec::new());
    let addrs = match database {
        Database::Postgres(url) if options.hubs > 1 => {
            tokio::task::block_in_place(|| spawn_hubs(url, options.hubs, &mut processes))?
        }
        _ => {
            let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
            let addr = listener.local_addr()?;
            let config = Config {
                listen: addr,
                extra_hosts: vec![],
                idle_after_secs: 120,
                tls: None,
                trusted_proxies: vec![],
            };
            let app = router(store.clone(), addr, &config);
            tokio::spawn(async move {
                axum::serve(
                    listener,
                    app.into_make_service_with_connect_info::<SocketAddr>(),
                )
                .await
            });
            vec![addr]
        }
    };

    let mut tokens = Vec::with_capacity(options.devices);
    let mut joins = Vec::with_capacity(addrs.len());
    for addr in &addrs {
        joins.push(Conn::open(*addr).await?);
    }
    for i in 0..options.devices {
        let body =
            serde_json::json!({"code": code, "display_name": format!("student {i}")}).to_string();
        let conn = &mut joins[i % addrs.len()];
        let (status, answer) = conn.post("/api/v1/join", None, body.as_bytes()).await?;
        if status != 200 {
            bail!("join {i}: {status} {}", String::from_utf8_lossy(&answer));
        }
        tokens.push(serde_json::from_slice::<JoinResponse>(&answer)?.device_token);
    }
    eprintln!(
        "{} devices joined class {class} on {database} through {} hub(s); sending for {} s at {} events/s each",
        options.devices,
        addrs.len(),
        options.seconds,
        options.rate
    );

    // Connect every device before the clock starts: thousands of connects at
    // once would overflow the listen backlog and measure that instead.
    let mut conns = Vec::with_capacity(tokens.len());
    for i in 0..tokens.len() {
        conns.push(Conn::open(addrs[i % addrs.len()]).await?);
    }
    let period = Duration::from_secs_f64(1.0 / options.rate);
    let start = Instant::now();
    let end = start + Duration::from_secs(options.seconds);
    let mut tasks = Vec::new();
    for (i, (token, mut conn)) in tokens.into_iter().zip(conns).enumerate() {
        tasks.push(tokio::spawn(async move {
            let mut latencies = Vec::new();
            let mut errors = 0u64;
            // Spread the devices evenly over one period so they do not send in lockstep.
            let mut next = start + period.mul_f64(i as f64 / options.devices as f64);
            let mut n = 0u64;
            while next < end {
                tokio::time::sleep_until(next.into()).await;
                let body = serde_json::json!({"events": [{"id": format!("d{i}-{n}"), "time": "2026-12-06T12:00:00Z",
                    "title": "car", "status": STATUSES[(n % 3) as usize], "risk_bucket": "low"}]})
                .to_string();
                let sent = Instant::now();
                let (status, answer) = conn.post("/api/v1/events", Some(&token), body.as_bytes()).await?;
                let ack: Option<EventAck> = serde_json::from_slice(&answer).ok();
                if status == 200 && ack.is_some_and(|a| a.acknowledged.len() == 1) {
                    latencies.push(sent.elapsed());
                } else {
                    errors += 1;
                }
                n += 1;
                next += period;
            }
            anyhow::Ok((latencies, errors))
        }));
    }
    let mut latencies = Vec::new();
    let mut errors = 0;
    for task in tasks {
        let (l, e) = task.await??;
        latencies.extend(l);
        errors += e;
    }
    let elapsed = start.elapsed().as_secs_f64();
    latencies.sort();
    let acked = latencies.len();
    let stored: i64 = store
        .call(move |db| {
            let summary = db.class_summary(class)?;
            Ok(summary.iter().map(|d| d.runs as i64).sum())
        })
        .await?;
    drop(processes);
    println!(
        "devices: {}  rate: {} events/s each  duration: {:.1} s  hubs: {}  database: {}",
        options.devices,
        options.rate,
        elapsed,
        addrs.len(),
        match database {
            Database::Sqlite(_) => "SQLite",
            Database::Postgres(_) => "PostgreSQL",
        }
    );
    println!(
        "events acknowledged: {acked}  errors: {errors}  stored: {stored}  lost: {}",
        acked as i64 - stored
    );
    println!(
        "ingest latency p50: {:.2} ms  p99: {:.2} ms  max: {:.2} ms  throughput: {:.1} events/s",
        percentile(&latencies, 0.5).as_secs_f64() * 1e3,
        percentile(&latencies, 0.99).as_secs_f64() * 1e3,
        latencies.last().copied().unwrap_or_default().as_secs_f64() * 1e3,
        acked as f64 / elapsed
    );
    Ok(())
}
