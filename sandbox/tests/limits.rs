//! Runaway programs are stopped within their limits, runs do not see each
//! other, and programs cannot reach the host.

mod common;

use common::{sandbox, verdict};
use pencil_sandbox::{Sandbox, SandboxConfig, Status};
use std::time::{Duration, Instant};

#[test]
fn infinite_loops_time_out_within_the_wall_time() {
    // In worker processes and on threads of this process alike.
    for base in [common::contained(), SandboxConfig::default()] {
        let sb = Sandbox::new(SandboxConfig { wall_time: Duration::from_millis(300), ..base }).expect("sandbox");
        for src in ["while true\n  x = 1", "loop\n  y = 2", "f = -> f2()\nf2 = -> loop then 1\nf()", "for (;;) {}"] {
            let t = Instant::now();
            let v = sb.check(src).expect("verdict");
            assert_eq!(v.status, Status::Timeout, "{src:?}: {v:?}");
            assert!(!v.paper_success);
            // One budget for the check (CoffeeScript run and JavaScript re-run together), and
            // the page restored after it.
            assert!(t.elapsed() < Duration::from_millis(1000), "{src:?} took {:?}", t.elapsed());
        }
        // The runtime is still usable afterwards.
        assert!(sb.check("fd 100").expect("verdict").paper_success);
    }
}

#[test]
fn endless_turtle_loops_hang_like_the_page_does() {
    let v = verdict("while true\n  fd 1\n  rt 1");
    assert_eq!(v.status, Status::Timeout, "{v:?}");
    let v = verdict("for [1..1000000]\n  fd 1");
    assert_eq!(v.status, Status::Timeout, "{v:?}");
    // Long but finite work is not a hang (the oracle's retry lets it finish).
    let v = verdict("for [1..10000]\n  moveto random(position)");
    assert!(v.paper_success, "{v:?}");
}

#[test]
fn huge_allocations_are_stopped_by_the_memory_limit() {
    let sb = Sandbox::new(SandboxConfig {
        memory_limit: 64 << 20,
        wall_time: Duration::from_secs(10),
        ..common::contained()
    })
    .expect("sandbox");
    for src in [
        "a = []\nloop\n  a.push new Array(100000).join('x')",
        "s = 'x'\nloop\n  s = s + s",
        "a = []\nfor i in [1..100000000]\n  a.push {i: i, j: [i, i, i]}",
    ] {
        let t = Instant::now();
        let v = sb.check(src).expect("verdict");
        assert!(!v.paper_success, "{src:?}: {v:?}");
        assert!(matches!(v.status, Status::Error | Status::Timeout), "{src:?}: {v:?}");
        assert!(t.elapsed() < Duration::from_secs(25), "{src:?} took {:?}", t.elapsed());
        // A fresh or recovered runtime answers the next program correctly.
        assert!(sb.check("fd 100").expect("verdict").paper_success);
    }
}

#[test]
fn deep_recursion_is_an_error_not_a_crash() {
    let v = verdict("f = (n) -> f(n + 1)\nf(0)");
    assert_eq!(v.status, Status::Error, "{v:?}");
    assert_eq!(v.error.as_ref().map(|e| e.kind.as_str()), Some("RangeError"), "{v:?}");
}

#[test]
fn runs_are_isolated_from_each_other() {
    // JavaScript top-level names become globals on a real page; here they must not outlive the run.
    assert!(verdict("var leaked = 1;\nwindow.alsoLeaked = 2;\nfd = null;\nMath.random = null;").paper_success);
    let v = verdict("write leaked");
    assert_eq!(v.error.as_ref().map(|e| e.message.as_str()), Some("leaked is not defined"), "{v:?}");
    let v = verdict("write alsoLeaked");
    assert_eq!(v.status, Status::Error, "{v:?}");
    assert!(verdict("fd 100\nwrite Math.random()").paper_success);
    // Prototype pollution retires the runtime; the next run sees clean built-ins.
    assert!(verdict("Array.prototype.sneaky = -> 1\nfd 1").paper_success);
    for _ in 0..3 {
        let v = verdict("if [].sneaky? then throw new Error 'polluted'");
        assert!(v.paper_success, "{v:?}");
    }
    // Turtle state starts afresh: position and speed.
    assert!(verdict("speed Infinity\nfd 500").paper_success);
    let v = verdict("[x, y] = getxy()\nif y != 0 then throw new Error 'moved'");
    assert!(v.paper_success, "{v:?}");
}

#[test]
fn the_host_is_out_of_reach() {
    let attempts = [
        "require('fs')",
        "process.exit(1)",
        "Deno.readTextFileSync('/etc/passwd')",
        "std.loadFile('/etc/passwd')",
        "os.exec(['ls'])",
        "Deno.core.ops.op_read_file('/etc/passwd')",
    ];
    for src in attempts {
        let v = verdict(src);
        assert!(!v.paper_success, "{src:?} should fail: {v:?}");
        assert_eq!(v.status, Status::Error, "{src:?}: {v:?}");
    }
    // Network and file loads never leave the process; they fail like an offline file:// page.
    for src in ["await $.get 'http://example.com/x', defer r", "fetch 'file:///etc/passwd'", "loadscript '/etc/passwd'"] {
        let v = verdict(src);
        assert!(!v.paper_success, "{src:?}: {v:?}");
    }
    // Whatever the engine itself exposes cannot read files: no op does so.
    let v = verdict("if Deno?.core?.ops? then for k of Deno.core.ops\n  if /file|read|open|net|fetch|env|exec|spawn/i.test(k) then throw new Error k");
    assert!(v.paper_success, "{v:?}");
}

#[test]
fn the_pool_is_shared_across_threads() {
    let sb = sandbox().clone();
    let handles: Vec<_> = (0..4)
        .map(|i| {
            let sb = sb.clone();
            std::thread::spawn(move || sb.check(&format!("fd {i}\nrt 90")).expect("verdict"))
        })
        .collect();
    for h in handles {
        assert!(h.join().expect("thread").paper_success);
    }
}

#[test]
fn preparing_compiles_once_and_never_runs_the_program() {
    let sandbox = Sandbox::new(common::contained()).expect("sandbox starts");
    // An endless loop: compiling it must not run it (this returns at once, not at the wall time).
    let endless = "while true\n  x = 1\n";
    assert!(sandbox.prepare(endless).expect("prepare"), "compiled now");
    assert!(!sandbox.prepare(endless).expect("prepare"), "then cached");
    // A prepared program is judged exactly as an unprepared one.
    let programs = ["pen red\nfd 100\nrt 90\n", "fd 100\n  rt 90\n", "pen red\nfdd 10\n", endless];
    let fresh = Sandbox::new(common::contained()).expect("sandbox starts");
    for p in programs {
        sandbox.prepare(p).expect("prepare");
        let (a, b) = (sandbox.check(p).expect("check"), fresh.check(p).expect("check"));
        assert_eq!((a.status, a.paper_success, a.language, &a.error), (b.status, b.paper_success, b.language, &b.error), "{p:?}");
    }
}
