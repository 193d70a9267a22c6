//! Benchmark and agreement report over the Chromium oracle's labelled programs.
//!
//! `cargo run --release -p pencil-sandbox --example bench_oracle [-- --cold N] [--show-disagreements] [--in-process]`
//!
//! Reports programs/s on one core warm (one pooled runtime, compiler loaded,
//! compile cache cold on the first pass) and cold (a fresh runtime per program,
//! on a sample), agreement of `paper_success` with the oracle's `success`,
//! and resident memory per runtime. Runtimes run in worker processes under
//! kernel limits, as `pencil-lsp` runs them (this executable is its own worker:
//! `bench_oracle sandbox-worker`); `--in-process` runs them on threads of this
//! process instead, to measure what the process boundary costs.

use pencil_sandbox::{check_once, Isolation, Sandbox, SandboxConfig, WorkerCommand};
use std::io::BufRead;
use std::path::PathBuf;
use std::time::Instant;

/// Chromium oracle throughput from `shared/data/oracle/README.md` (one program at a time, and per core at 8 pages).
const ORACLE_SERIAL_PER_S: f64 = 0.17;
const ORACLE_PER_CORE_PER_S: f64 = 0.58;

#[derive(serde::Deserialize)]
struct Label {
    id: String,
    code: String,
    success: bool,
    class: String,
}

fn labels_path() -> PathBuf {
    std::env::var_os("PENCIL_ORACLE_LABELS").map(PathBuf::from).unwrap_or_else(|| {
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../shared/data/oracle/labels.jsonl.gz")
    })
}

/// Process ids of this process and of its children (the sandbox's workers).
fn family() -> Vec<String> {
    let me = std::process::id().to_string();
    let mut ids = vec![me.clone()];
    if let Ok(dir) = std::fs::read_dir("/proc") {
        for entry in dir.flatten() {
            let pid = entry.file_name().to_string_lossy().to_string();
            let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else { continue };
            let ppid = stat.rsplit(')').next().and_then(|rest| rest.split_whitespace().nth(1).map(str::to_string));
            if ppid.as_deref() == Some(me.as_str()) {
                ids.push(pid);
            }
        }
    }
    ids
}

/// Resident memory of this process and its workers, KiB.
fn rss_kib() -> u64 {
    family()
        .iter()
        .filter_map(|pid| std::fs::read_to_string(format!("/proc/{pid}/status")).ok())
        .filter_map(|s| {
            s.lines()
                .find(|l| l.starts_with("VmRSS:"))
                .and_then(|l| l.split_whitespace().nth(1).and_then(|v| v.parse::<u64>().ok()))
        })
        .sum()
}

/// CPU seconds this process and its workers have used (user + system): live ones from
/// /proc/PID/stat, ended ones (a worker retires after a minute of CPU, or is killed) from
/// `getrusage(RUSAGE_CHILDREN)`. On a shared machine this, not wall time, says what one
/// core achieves.
fn cpu_s() -> f64 {
    // SAFETY: getrusage fills the zeroed struct it is given.
    let mut ended: libc::rusage = unsafe { std::mem::zeroed() };
    let ended_s = if unsafe { libc::getrusage(libc::RUSAGE_CHILDREN, &mut ended) } == 0 {
        let secs = |t: libc::timeval| t.tv_sec as f64 + t.tv_usec as f64 / 1e6;
        secs(ended.ru_utime) + secs(ended.ru_stime)
    } else {
        0.0
    };
    ended_s + family()
        .iter()
        .filter_map(|pid| std::fs::read_to_string(format!("/proc/{pid}/stat")).ok())
        .filter_map(|s| {
            let after = s.rsplit(')').next()?.to_string();
            let f: Vec<&str> = after.split_whitespace().collect();
            let ticks: u64 = f.get(11)?.parse::<u64>().ok()? + f.get(12)?.parse::<u64>().ok()?;
            Some(ticks as f64 / 100.0)
        })
        .sum::<f64>()
}

/// `p50 / p90 / p99` of latencies in milliseconds, as the caller sees them.
fn percentiles(ms: &mut [f64]) -> String {
    ms.sort_by(f64::total_cmp);
    let at = |q: f64| ms.get(((ms.len() as f64 - 1.0) * q).round() as usize).copied().unwrap_or(0.0);
    format!("p50 {:.2} ms, p90 {:.2} ms, p99 {:.2} ms", at(0.5), at(0.9), at(0.99))
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().collect();
    if args.get(1).map(String::as_str) == Some("sandbox-worker") {
        std::process::exit(pencil_sandbox::serve_worker());
    }
    let flag = |name: &str| args.iter().position(|a| a == name).and_then(|i| args.get(i + 1)).and_then(|v| v.parse::<usize>().ok());
    let cold_n = flag("--cold").unwrap_or(100);
    let show = args.iter().any(|a| a == "--show-disagreements");
    let isolation = if args.iter().any(|a| a == "--in-process") {
        Isolation::InProcess
    } else {
        Isolation::Process(WorkerCommand::current_exe(["sandbox-worker"]))
    };
    let base = SandboxConfig { isolation, ..SandboxConfig::default() };
    println!(
        "runtimes: {}",
        if matches!(base.isolation, Isolation::InProcess) { "threads of this process" } else { "worker processes" }
    );

    let file = std::fs::File::open(labels_path())?;
    let reader = std::io::BufReader::new(flate2::read::GzDecoder::new(file));
    let mut labels = Vec::new();
    for line in reader.lines() {
        labels.push(serde_json::from_str::<Label>(&line?)?);
    }
    println!("labelled programs: {}", labels.len());

    let rss0 = rss_kib();
    let started = Instant::now();
    let sandbox = Sandbox::new(base.clone())?;
    let startup = started.elapsed();
    let rss1 = rss_kib();
    println!("warm runtime start-up (compiler loaded): {:.0} ms, RSS +{} MiB", startup.as_secs_f64() * 1e3, (rss1.saturating_sub(rss0)) / 1024);

    let mut agree = 0usize;
    let mut disagreements = Vec::new();
    let mut slowest = Vec::new();
    let mut latencies = Vec::with_capacity(labels.len());
    let t = Instant::now();
    let cpu0 = cpu_s();
    for l in &labels {
        let call = Instant::now();
        let v = sandbox.check(&l.code)?;
        latencies.push(call.elapsed().as_secs_f64() * 1e3);
        slowest.push((v.ms, l.id.clone(), v.status));
        if v.paper_success == l.success {
            agree += 1;
        } else {
            disagreements.push((l, v));
        }
    }
    let warm_s = t.elapsed().as_secs_f64();
    let warm_cpu = cpu_s() - cpu0;
    slowest.sort_by(|a, b| b.0.total_cmp(&a.0));
    if show {
        println!("slowest: {:?}", &slowest[..10.min(slowest.len())]);
    }
    let warm_rate = labels.len() as f64 / warm_s;
    println!("warm, first pass (compile cache cold): {:.1} programs/s wall ({:.2} ms/program); {:.1} programs per CPU-second", warm_rate, 1e3 * warm_s / labels.len() as f64, labels.len() as f64 / warm_cpu);
    println!("  per-check latency, first pass: {}", percentiles(&mut latencies));
    latencies.clear();
    let t = Instant::now();
    let cpu0 = cpu_s();
    for l in &labels {
        let call = Instant::now();
        sandbox.check(&l.code)?;
        latencies.push(call.elapsed().as_secs_f64() * 1e3);
    }
    let cached_s = t.elapsed().as_secs_f64();
    println!("warm, second pass (compile cache hot): {:.1} programs/s wall; {:.1} programs per CPU-second", labels.len() as f64 / cached_s, labels.len() as f64 / (cpu_s() - cpu0));
    println!("  per-check latency, second pass: {}", percentiles(&mut latencies));
    println!("RSS after warm passes: {} MiB", rss_kib() / 1024);
    println!(
        "agreement with the Chromium oracle: {agree}/{} = {:.2}%",
        labels.len(),
        100.0 * agree as f64 / labels.len() as f64
    );
    let warm_cpu_rate = labels.len() as f64 / warm_cpu;
    println!(
        "speed-up (warm, first pass) vs Chromium: wall {:.0}x one-at-a-time ({ORACLE_SERIAL_PER_S}/s), {:.0}x per core ({ORACLE_PER_CORE_PER_S}/s); per CPU-second {:.0}x / {:.0}x",
        warm_rate / ORACLE_SERIAL_PER_S,
        warm_rate / ORACLE_PER_CORE_PER_S,
        warm_cpu_rate / ORACLE_SERIAL_PER_S,
        warm_cpu_rate / ORACLE_PER_CORE_PER_S
    );

    let step = (labels.len() / cold_n.max(1)).max(1);
    let sample: Vec<&Label> = labels.iter().step_by(step).take(cold_n).collect();
    let config = base.clone();
    let t = Instant::now();
    let cpu0 = cpu_s();
    for l in &sample {
        check_once(&config, &l.code)?;
    }
    let cold_s = t.elapsed().as_secs_f64();
    let cold_cpu = cpu_s() - cpu0;
    let cold_rate = sample.len() as f64 / cold_s;
    println!(
        "cold (fresh runtime + compiler load per program, {} programs): {:.2} programs/s wall ({:.0} ms/program), {:.2} per CPU-second; {:.0}x vs Chromium one-at-a-time",
        sample.len(),
        cold_rate,
        1e3 * cold_s / sample.len() as f64,
        sample.len() as f64 / cold_cpu,
        cold_rate / ORACLE_SERIAL_PER_S
    );

    drop(sandbox);
    let before = rss_kib();
    let four = Sandbox::new(SandboxConfig { pool_size: 4, ..base.clone() })?;
    for l in labels.iter().take(200) {
        four.check(&l.code)?;
    }
    println!("memory per warm runtime (pool of 4, after 200 programs): {:.1} MiB RSS", (rss_kib().saturating_sub(before)) as f64 / 4.0 / 1024.0);
    drop(four);

    let mut by_class = std::collections::BTreeMap::<String, usize>::new();
    for (l, _) in &disagreements {
        *by_class.entry(l.class.chars().take(50).collect()).or_default() += 1;
    }
    println!("disagreements by oracle class: {by_class:?}");
    if show {
        for (l, v) in &disagreements {
            println!("--- {} oracle={} class={:?}\n{}\n>>> ours: {}", l.id, l.success, l.class, l.code, serde_json::to_string(v)?);
        }
    }
    Ok(())
}
