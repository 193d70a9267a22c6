//! Containment by the operating system: runtimes in worker processes under kernel
//! limits. Programs that allocate or loop inside one native call (where the engine's
//! heap limit and interrupt do not reach) each get one verdict within the wall time
//! plus a small margin, the parent's memory does not grow, the pool keeps serving
//! while one program runs away, and a worker can reach neither files nor the network.
//!
//! Every sandbox in this file runs in worker processes, so that this process's
//! memory is the parent's alone.

mod common;

use pencil_sandbox::{Isolation, Sandbox, SandboxConfig, Status, WorkerCommand, DEFAULT_ADDRESS_SPACE_LIMIT};
use std::sync::mpsc;
use std::time::{Duration, Instant};

/// How long after the wall time a runaway's verdict may come: the pool's grace before it
/// kills a worker (0.5 s) and scheduling on a loaded two-core machine.
const MARGIN: Duration = Duration::from_millis(1250);
/// How much the parent's peak memory may pass its idle size.
const PARENT_GROWTH_KIB: u64 = 512 * 1024;

fn status_kib(field: &str) -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with(field))
                .and_then(|l| l.split_whitespace().nth(1).and_then(|v| v.parse().ok()))
        })
        .expect("a /proc/self/status field")
}

/// Largest peak resident size among this process's children that have ended, KiB.
fn ended_children_peak_kib() -> u64 {
    // SAFETY: getrusage fills the zeroed struct it is given.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    assert_eq!(unsafe { libc::getrusage(libc::RUSAGE_CHILDREN, &mut usage) }, 0);
    usage.ru_maxrss as u64
}

/// Programs that allocate or compute inside one native call.
const HOSTILE: [&str; 14] = [
    "a = new Array(2000000000).fill(7)",
    "a = new Array(200000000).fill(7)",
    "s = 'x'.repeat(2**29)",
    "s = 'xy'.repeat(2**28)\nt = s + s",
    "a = new Float64Array(2**28)",
    "a = new Uint8Array(1500000000)\na.fill(1)",
    "s = new Array(500000000).join('xx')",
    "a = new Array(10000000).fill(1)\nb = a.concat(a, a, a, a, a, a, a, a, a)",
    "a = new Array(30000000).fill(0).map(Math.random)\na.sort()",
    "a = (i for i in [1..3000000])\na.sort((x, y) -> y - x)\na.reverse().sort()",
    "f = (n) -> f(n + 1)\nf(0)",
    "a = []\nfor i in [1..200000]\n  a = [a]\nJSON.stringify(a)",
    "a = []\nfor i in [1..200000]\n  a = [a]\nString(a)",
    "/(a+)+$/.test('a'.repeat(40) + 'b')",
];

#[test]
fn programs_that_run_away_in_one_native_call_get_one_verdict_in_time() {
    let wall = Duration::from_secs(1);
    let sb = Sandbox::new(SandboxConfig { wall_time: wall, pool_size: 2, ..common::contained() }).expect("sandbox");
    let idle_kib = status_kib("VmRSS:");
    for src in HOSTILE {
        let t = Instant::now();
        let v = sb.check(src).expect("a verdict, not a sandbox failure");
        let took = t.elapsed();
        eprintln!("{:>7.0} ms  {:?}  {:?}: {src:?}", took.as_secs_f64() * 1e3, v.status, v.error.as_ref().map(|e| &e.message));
        assert!(took < wall + MARGIN, "{src:?} took {took:?}: {v:?}");
        assert!(!v.paper_success, "{src:?}: {v:?}");
        assert!(matches!(v.status, Status::Error | Status::Timeout), "{src:?}: {v:?}");
        if v.status == Status::Error {
            let e = v.error.as_ref().expect("an error");
            assert!(
                e.message.contains("out of memory") || matches!(e.kind.as_str(), "RangeError" | "InternalError"),
                "{src:?}: {v:?}"
            );
        }
        // The next program is judged as usual.
        assert!(sb.check("fd 100").expect("verdict").paper_success, "after {src:?}");
    }
    let grown = status_kib("VmHWM:").saturating_sub(idle_kib);
    let workers = ended_children_peak_kib();
    eprintln!("parent: idle {idle_kib} KiB, peak +{grown} KiB; largest ended worker peak {workers} KiB");
    assert!(grown < PARENT_GROWTH_KIB, "the parent grew by {grown} KiB");
    assert!(workers <= (DEFAULT_ADDRESS_SPACE_LIMIT >> 10) as u64, "a worker held {workers} KiB");
}

#[test]
fn the_pool_keeps_serving_while_one_program_runs_away() {
    let wall = Duration::from_secs(2);
    let sb = Sandbox::new(SandboxConfig { wall_time: wall, pool_size: 2, ..common::contained() }).expect("sandbox");
    let runaway = {
        let sb = sb.clone();
        std::thread::spawn(move || {
            let t = Instant::now();
            (sb.check("a = new Array(2000000000).fill(7)").expect("verdict"), t.elapsed())
        })
    };
    std::thread::sleep(Duration::from_millis(300));
    for i in 0..10 {
        let t = Instant::now();
        let v = sb.check(&format!("fd {i}\nrt 90")).expect("verdict");
        assert!(v.paper_success, "{v:?}");
        assert!(t.elapsed() < Duration::from_millis(700), "a quick program waited {:?} behind the runaway", t.elapsed());
    }
    assert!(!runaway.is_finished(), "the runaway was still running meanwhile");
    // Whether the address-space limit or the wall time ends it first depends on how
    // fast this machine fills memory; either is one clear verdict.
    let stopped = |v: &pencil_sandbox::Verdict| {
        v.status == Status::Timeout
            || (v.status == Status::Error && v.error.as_ref().is_some_and(|e| e.message == "out of memory"))
    };
    let (v, took) = runaway.join().expect("runaway thread");
    assert!(stopped(&v), "{v:?}");
    assert!(took < wall + MARGIN, "took {took:?}");
    // The killed worker was replaced: the same program again, then an ordinary one.
    let t = Instant::now();
    let again = sb.check("a = new Array(2000000000).fill(7)").expect("verdict");
    assert!(stopped(&again), "{again:?}");
    assert!(t.elapsed() < wall + MARGIN + Duration::from_secs(1), "took {:?}", t.elapsed());
    assert!(sb.check("pen red\nfd 100").expect("verdict").paper_success);
}

/// Worker processes that are children of this process, with their /proc status and limits.
fn workers() -> Vec<(String, String)> {
    let me = std::process::id().to_string();
    let exe = std::fs::canonicalize(env!("CARGO_BIN_EXE_pencil-sandbox-worker")).expect("worker path");
    let mut found = Vec::new();
    for entry in std::fs::read_dir("/proc").expect("/proc").flatten() {
        let pid = entry.file_name().to_string_lossy().to_string();
        let Ok(status) = std::fs::read_to_string(format!("/proc/{pid}/status")) else { continue };
        let parent = status.lines().find_map(|l| l.strip_prefix("PPid:")).map(str::trim);
        let is_worker = std::fs::read_link(format!("/proc/{pid}/exe")).is_ok_and(|p| p == exe);
        if parent == Some(me.as_str()) && is_worker {
            let limits = std::fs::read_to_string(format!("/proc/{pid}/limits")).unwrap_or_default();
            found.push((status, limits));
        }
    }
    found
}

/// Runs the test `name` alone in a child process of this test binary with `flag` set, so
/// that what it looks at (its own worker processes, its own system calls) is its alone.
fn in_child_process(name: &str, flag: &str, done: &str) {
    let out = std::process::Command::new(std::env::current_exe().expect("test binary"))
        .args(["--exact", name, "--nocapture", "--test-threads=1"])
        .env(flag, "1")
        .output()
        .expect("run the test binary");
    let text = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    assert!(out.status.success() && text.contains(done), "{text}");
}

#[test]
fn workers_run_under_kernel_limits_and_a_system_call_filter() {
    if std::env::var_os("PENCIL_SANDBOX_LIMITS_PROBE").is_none() {
        return in_child_process("workers_run_under_kernel_limits_and_a_system_call_filter", "PENCIL_SANDBOX_LIMITS_PROBE", "limits: as expected");
    }
    let sb = Sandbox::new(SandboxConfig { pool_size: 2, ..common::contained() }).expect("sandbox");
    assert!(sb.check("fd 100").expect("verdict").paper_success);
    let workers = workers();
    assert_eq!(workers.len(), 2, "one worker per runtime");
    for (status, limits) in workers {
        let field = |name: &str| status.lines().find_map(|l| l.strip_prefix(name)).map(str::trim).unwrap_or("").to_string();
        assert_eq!(field("NoNewPrivs:"), "1", "{status}");
        assert_eq!(field("Seccomp:"), "2", "a filter is installed: {status}");
        let limit = |name: &str| {
            limits.lines().find(|l| l.starts_with(name)).map(|l| l[name.len()..].split_whitespace().map(str::to_string).collect::<Vec<_>>()).unwrap_or_default()
        };
        let address_space = DEFAULT_ADDRESS_SPACE_LIMIT.to_string();
        assert_eq!(limit("Max address space"), [address_space.as_str(), address_space.as_str(), "bytes"], "{limits}");
        let cpu = limit("Max cpu time");
        assert!(cpu.first().and_then(|v| v.parse::<u64>().ok()).is_some_and(|s| s <= 600), "{limits}");
        assert_eq!(limit("Max core file size").first().map(String::as_str), Some("0"), "{limits}");
    }
    eprintln!("limits: as expected");
}

/// Run in a child process of the test binary (see the test below): lock down, then try.
fn locked_down_probe() {
    pencil_sandbox::lock_down_for_test(1 << 30).expect("lock down");
    let denied = |what: &str, r: std::io::Result<()>| match r {
        Ok(()) => panic!("{what} was allowed"),
        Err(e) => assert_eq!(e.raw_os_error(), Some(libc::EPERM), "{what}: {e}"),
    };
    denied("reading a file", std::fs::read("/etc/hostname").map(drop));
    denied("creating a file", std::fs::write(std::env::temp_dir().join("pencil-sandbox-probe"), b"x"));
    denied("a TCP connection", std::net::TcpStream::connect("127.0.0.1:9").map(drop));
    denied("a UDP socket", std::net::UdpSocket::bind("127.0.0.1:0").map(drop));
    assert!(std::process::Command::new("/bin/true").status().is_err(), "starting a process was allowed");
    // SAFETY: plain system calls on this process; their results are only compared.
    unsafe {
        assert_ne!(libc::kill(1, 0), 0, "signalling another process was allowed");
        let exec = libc::mmap(std::ptr::null_mut(), 4096, libc::PROT_READ | libc::PROT_EXEC, libc::MAP_PRIVATE | libc::MAP_ANONYMOUS, -1, 0);
        assert_eq!(exec, libc::MAP_FAILED, "executable memory was allowed");
        let raise = libc::rlimit { rlim_cur: libc::RLIM_INFINITY, rlim_max: libc::RLIM_INFINITY };
        assert_ne!(libc::setrlimit(libc::RLIMIT_AS, &raise), 0, "raising a limit was allowed");
        assert_ne!(libc::ioctl(2, libc::TIOCSTI, c"x".as_ptr()), 0, "ioctl was allowed");
    }
    // What a runtime needs still works: threads, memory within the limit, clocks, pipes held.
    let t = std::thread::spawn(|| vec![1u8; 64 << 20].iter().map(|&b| b as u64).sum::<u64>());
    assert_eq!(t.join().expect("thread"), 64 << 20);
    let mut big: Vec<u8> = Vec::new();
    assert!(big.try_reserve_exact(2 << 30).is_err(), "2 GiB fit under a 1 GiB address space");
    let _ = Instant::now();
    eprintln!("probe: locked down as expected");
}

#[test]
fn a_locked_down_worker_cannot_open_files_sockets_or_processes() {
    if std::env::var_os("PENCIL_SANDBOX_LOCKDOWN_PROBE").is_some() {
        return locked_down_probe();
    }
    in_child_process("a_locked_down_worker_cannot_open_files_sockets_or_processes", "PENCIL_SANDBOX_LOCKDOWN_PROBE", "probe: locked down as expected");
}

#[test]
fn a_pool_whose_second_runtime_cannot_start_says_so_and_returns() {
    // The first worker to start takes the lock directory; the second finds it taken and fails.
    let lock = tempfile::tempdir().expect("tempdir");
    let lock_dir = lock.path().join("first");
    let command = WorkerCommand {
        program: "/bin/sh".into(),
        args: vec![
            "-c".into(),
            "mkdir \"$0\" 2>/dev/null && exec \"$1\"; exit 3".into(),
            lock_dir.into_os_string(),
            env!("CARGO_BIN_EXE_pencil-sandbox-worker").into(),
        ],
    };
    let config = SandboxConfig { pool_size: 2, isolation: Isolation::Process(command), ..SandboxConfig::default() };
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let _ = tx.send(Sandbox::new(config).map(drop).map_err(|e| e.to_string()));
    });
    let answer = rx.recv_timeout(Duration::from_secs(60)).expect("Sandbox::new returned (it used to hang in Drop)");
    let error = answer.expect_err("one runtime could not start");
    assert!(error.contains("exited at start-up"), "{error}");
}

#[test]
fn a_compile_that_timed_out_is_compiled_again_next_time() {
    // A 1 ms wall time: the compile of a long program times out (as on a busy machine).
    let sb = Sandbox::new(SandboxConfig { wall_time: Duration::from_millis(1), ..common::contained() }).expect("sandbox");
    let long = "pen red\nfor i in [1..10]\n  fd i * 2\n  rt 90\n".repeat(400);
    assert!(sb.prepare(&long).expect("prepare"), "compiled (and timed out) now");
    assert!(!sb.is_prepared(&long), "a timeout is not cached");
    assert_eq!(sb.check(&long).expect("verdict").status, Status::Timeout);
    assert!(!sb.is_prepared(&long), "a timeout is not cached");
}

#[test]
fn a_worker_from_another_executable_that_is_not_a_worker_fails_to_start() {
    let config = SandboxConfig {
        isolation: Isolation::Process(WorkerCommand { program: "/bin/true".into(), args: Vec::new() }),
        ..SandboxConfig::default()
    };
    let error = Sandbox::new(config).map(drop).expect_err("not a worker");
    assert!(error.to_string().contains("start"), "{error}");
}
