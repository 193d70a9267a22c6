//! The error classes students hit, each checked against what Pencil Code does
//! (the probes in `shared/reference/pencilcode-runtime.md`).

mod common;

use common::verdict;
use pencil_sandbox::{Language, Status};

/// Expected outcome: status, paper verdict, error kind and message part, 1-based line.
struct Want {
    status: Status,
    paper: bool,
    kind: Option<&'static str>,
    message: Option<&'static str>,
    line: Option<u32>,
}

const fn ok() -> Want {
    Want { status: Status::Ok, paper: true, kind: None, message: None, line: None }
}
const fn err(kind: &'static str, message: &'static str, line: u32) -> Want {
    Want { status: Status::Error, paper: false, kind: Some(kind), message: Some(message), line: Some(line) }
}

fn check(src: &str, want: Want) {
    let v = verdict(src);
    let ctx = format!("program {src:?} gave {v:?}");
    assert_eq!(v.status, want.status, "{ctx}");
    assert_eq!(v.paper_success, want.paper, "{ctx}");
    if let Some(kind) = want.kind {
        let e = v.error.as_ref().unwrap_or_else(|| panic!("no error: {ctx}"));
        assert_eq!(e.kind, kind, "{ctx}");
        if let Some(m) = want.message {
            assert!(e.message.contains(m), "{ctx}");
        }
        if want.line.is_some() {
            assert_eq!(e.line, want.line, "{ctx}");
        }
    } else {
        assert!(v.error.is_none(), "{ctx}");
    }
}

#[test]
fn unknown_color_fails_unless_quoted() {
    check("pen babyblue", err("ReferenceError", "babyblue is not defined", 1));
    check("pen skyblue", ok());
    check("pen 'babyblue'", ok());
    check("dot 'babyblue', 50", ok());
    check("fd 10\npen lightpurple\nfd 10", err("ReferenceError", "lightpurple is not defined", 2));
}

#[test]
fn tan_is_the_trig_function_and_still_a_pen() {
    check("pen tan", ok());
    check("write tan(0)", ok());
}

#[test]
fn unknown_or_truncated_commands() {
    check("fd100", err("ReferenceError", "fd100 is not defined", 1));
    check("foward 100", err("ReferenceError", "foward is not defined", 1));
    check("Fd 100", err("ReferenceError", "Fd is not defined", 1));
    check("repeat 4, ->\n  fd 100", err("ReferenceError", "repeat is not defined", 1));
    check("fd 100\nrt 90\nturnt", err("ReferenceError", "turnt is not defined", 3));
    check("for [1..4]\n  fd 50\n  rt 90\njum", err("ReferenceError", "jum is not defined", 4));
    check("x = y + 1", err("ReferenceError", "y is not defined", 1));
}

#[test]
fn unknown_names_in_callbacks_that_never_run_are_fine() {
    check("button 'go', ->\n  fdd 10", ok());
    check("keydown ->\n  colorwinner()", ok());
    check("read 'x?', (x) ->\n  nope x", ok());
}

#[test]
fn indentation_and_syntax_errors_come_from_the_compiler() {
    check("fd 100\n  rt 90", err("SyntaxError", "unexpected indentation", 2));
    check("fd 100 rt 90", err("SyntaxError", "unexpected", 1));
    check("for [1..4]\nfd 100", err("SyntaxError", "unexpected newline", 1));
}

#[test]
fn an_error_at_the_end_of_the_input_is_on_the_students_last_line() {
    // The compiler finds these where the input ends, which is the harness's END
    // line; the student is shown their own last line that has text.
    check("pen red\nfd (20\n", err("SyntaxError", "missing )", 2));
    check("pen red\nfd (20\n\n\n", err("SyntaxError", "missing )", 2));
    check("fd 10\nif true\n  rt (90\n", err("SyntaxError", "unmatched", 3));
}

#[test]
fn missing_comma() {
    check("moveto 100 100", err("SyntaxError", "unexpected 100", 1));
    check("fd 50\ndot red 50", err("TypeError", "red is not a function", 2));
}

#[test]
fn calling_a_non_function() {
    check("dot red 50", err("TypeError", "red is not a function", 1));
    check("x = 5\nx()", err("TypeError", "x is not a function", 2));
    check("t = Turtle\nt.wear red", err("TypeError", "t.wear is not a function", 2));
    check("t = Turtle()\nt.fd 10", err("TypeError", "", 2));
    check("t = new Turtle\nt.fd 10\nt.wear red", ok());
}

#[test]
fn javascript_in_coffeescript_falls_back_to_javascript() {
    let v = verdict("var x = 10;\nfor (var i = 0; i < 4; i++) {\n  fd(x);\n  rt(90);\n}");
    assert!(v.paper_success, "{v:?}");
    assert_eq!(v.language, Language::Javascript);
    let v = verdict("function f() {\n  fd(10);\n}\nf();\nfoo();");
    assert!(!v.paper_success);
    assert_eq!(v.language, Language::Javascript, "{v:?}");
    assert_eq!(v.error.as_ref().map(|e| (e.kind.as_str(), e.line)), Some(("ReferenceError", Some(5))), "{v:?}");
    // Not JavaScript either: the student wrote CoffeeScript, show its error.
    let v = verdict("fd 100\n  rt 90");
    assert_eq!(v.language, Language::Coffeescript);
}

#[test]
fn end_line_absorbs_a_trailing_operator() {
    check("fd 10 +", ok());
}

#[test]
fn resource_loads_from_a_file_page_fail() {
    check("wear 'squidward'", err("ResourceError", "pencilcode.net/img/squidward", 0).without_line());
    check("img 'https://example.com/cat.png'", err("ResourceError", "example.com", 0).without_line());
    check("recolor '/img/ir.png'", err("ResourceError", "/img/ir.png", 0).without_line());
    check("write '<img src=\"/img/taco\">'", err("ResourceError", "/img/taco", 0).without_line());
    check("wear 'pencil'", ok());
    check("wear 'red turtle'", ok());
    check("wear red", ok());
    check("wear '40x40'", ok());
}

#[test]
fn queued_wear_after_the_window_never_loads() {
    // 8 moves at 1 move/s: the queue reaches `wear` after the 5.5 s window.
    check("for [1..4]\n  fd 10\n  rt 90\nwear 'apple'", ok());
    check("speed Infinity\nfor [1..4]\n  fd 10\n  rt 90\nwear 'apple'", err("ResourceError", "apple", 0).without_line());
}

#[test]
fn waiting_for_input_is_not_an_error() {
    let v = verdict("await read 'name?', defer name\nwrite name");
    assert_eq!(v.status, Status::WaitsForInput, "{v:?}");
    assert!(!v.paper_success);
    assert!(v.error.is_none());
    let v = verdict("await readnum 'n?', defer n");
    assert_eq!(v.status, Status::WaitsForInput, "{v:?}");
    let v = verdict("send 'x', 5\nawait recv 'x', defer v\nfd v");
    assert_eq!(v.status, Status::Ok, "{v:?}");
    assert!(v.paper_success);
}

#[test]
fn await_done_follows_the_virtual_clock() {
    check("fd 100\nawait done defer()\nwrite 'done'", ok());
    check("speed 10\nfor [1..40]\n  fd 1\nawait done defer()", ok());
    // 8 moves at the default speed take 8 s, past the window: no END, not an error.
    let v = verdict("for [1..4]\n  fd 100\n  rt 90\nawait done defer()");
    assert!(!v.paper_success, "{v:?}");
    assert_eq!(v.status, Status::Ok);
    check("speed Infinity\nfor [1..400]\n  fd 1\nawait done defer()", ok());
}

#[test]
fn errors_in_timer_callbacks_count() {
    check("forever ->\n  fdd 1", err("ReferenceError", "fdd is not defined", 2));
    check("tick ->\n  nope()", err("ReferenceError", "nope is not defined", 2));
    check("setTimeout (-> bad()), 100", err("ReferenceError", "bad is not defined", 1));
    check("c = 0\nforever ->\n  c += 1\n  if c > 5 then stop()", ok());
}

#[test]
fn browser_names_that_make_odd_code_pass() {
    check("write name", ok());
    check("write length", ok());
    check("x = prompt 'hi'\nalert x", ok());
    check("write window.innerWidth", ok());
}

#[test]
fn read_back_state_is_plausible() {
    check("fd 100\n[x, y] = getxy()\nif y != 100 then throw new Error 'moved wrong'", ok());
    check("rt 90\nif direction() != 90 then throw new Error 'turned wrong'", ok());
    check("r = random 10\nif r < 0 or r >= 10 then throw new Error 'range'", ok());
    check("t = table 3, 3\nt.cell(1, 1).text 'x'", ok());
    // Styles read back as set on the same cell: Pencil Code's maze example depends on it.
    check("t = table 3, 3\nt.cell(0, 1).css 'borderTop', 'none'\nif not /none/.test(t.cell(0, 1).css 'borderTop') then throw new Error 'lost'\nif /none/.test(t.cell(1, 1).css 'borderTop') then throw new Error 'shared'", ok());
    let maze = "[w, h] = [5, 5]\ngrid = table(w, h).home()\nsides = [\n  {dx: 0, dy: -1, ob: 'borderTop', ib: 'borderBottom'}\n  {dx: 1, dy: 0, ob: 'borderRight', ib: 'borderLeft'}\n  {dx: 0, dy: 1, ob: 'borderBottom', ib: 'borderTop'}\n  {dx: -1, dy: 0, ob: 'borderLeft', ib: 'borderRight'}\n]\nisopen = (x, y, side) -> /none/.test(grid.cell(y, x).css side.ob)\nisbox = (x, y) ->\n  return false unless 0 <= x < w and 0 <= y < h\n  for s in sides\n    if isopen x, y, s then return false\n  true\nmakemaze = (x, y) ->\n  loop\n    adj = (s for s in sides when isbox x + s.dx, y + s.dy)\n    if adj.length is 0 then return\n    c = random adj\n    grid.cell(y, x).css c.ob, 'none'\n    grid.cell(y + c.dy, x + c.dx).css c.ib, 'none'\n    makemaze x + c.dx, y + c.dy\nmakemaze 0, 0";
    check(maze, ok());
    check("t = new Turtle red\nt.fd 50\nif t.touches(blue) then write 'hit'", ok());
}

impl Want {
    fn without_line(mut self) -> Want {
        self.line = None;
        self
    }
}

#[test]
fn unchecked_resource_loads_leave_the_status_to_the_other_errors() {
    use pencil_sandbox::{ResourceLoads, Sandbox, SandboxConfig};
    let sandbox = Sandbox::new(SandboxConfig { resource_loads: ResourceLoads::Unchecked, ..common::contained() })
        .expect("sandbox starts");
    let check = |src: &str| sandbox.check(src).expect("the sandbox answers");

    // Only a load fails: the student's program runs; the paper's verdict still fails it.
    let v = check("wear 'squidward'\nfd 10");
    assert_eq!(v.status, Status::Ok, "{v:?}");
    assert!(!v.paper_success);
    assert!(v.error.is_none());
    let load = v.unchecked_load.expect("the load is reported");
    assert_eq!(load.kind, "ResourceError");
    assert!(load.message.contains("pencilcode.net/img/squidward"), "{}", load.message);

    // A load and a real error: the real error is the student's, at its line.
    let v = check("recolor '/img/ir.png'\nfd 10\nfdd 10");
    assert_eq!(v.status, Status::Error, "{v:?}");
    let e = v.error.expect("an error");
    assert_eq!((e.kind.as_str(), e.line), ("ReferenceError", Some(3)));
    assert!(v.unchecked_load.is_some());

    // socket.io's client connects (and fails offline) rather than being missing.
    let v = check("socket = io.connect()\nsocket.on 'message', (c) -> fd 10\nsocket.send 'red'\nfd 10");
    assert_eq!(v.status, Status::Ok, "{v:?}");
    assert!(!v.paper_success);
    assert!(v.unchecked_load.expect("the socket's request is reported").message.contains("socket.io"));

    // A program that loads nothing is judged as before, and reports no load.
    let v = check("fd 10");
    assert_eq!((v.status, v.paper_success, v.unchecked_load), (Status::Ok, true, None));
}

#[test]
fn unfinished_javascript_gets_its_javascript_error() {
    // The compiler stops at `function`; the student is writing JavaScript, unfinished.
    let v = verdict("function square() {\n  fd(10);\n  rt(90);\n\nsquare();\n");
    assert_eq!((v.status, v.language), (Status::Error, Language::Javascript), "{v:?}");
    assert_eq!(v.error.as_ref().map(|e| e.kind.as_str()), Some("SyntaxError"), "{v:?}");
    let v = verdict("var n = 4;\nfor (var i = 0; i < n; i++) {\n  fd(10);\n");
    assert_eq!(v.language, Language::Javascript, "{v:?}");
}

#[test]
fn a_synchronous_request_fails_offline_as_in_the_real_runtime() {
    use pencil_sandbox::{ResourceLoads, Sandbox, SandboxConfig};
    // Offline, Chromium's synchronous send() throws a NetworkError (it used to pass here),
    // after the console's "Failed to load resource".
    let sync = "x = new XMLHttpRequest()\nx.open 'GET', 'http://example.com/data.json', false\nx.send()\nwrite x.responseText";
    let v = verdict(sync);
    assert_eq!((v.status, v.paper_success), (Status::Error, false), "{v:?}");
    assert_eq!(v.error.as_ref().map(|e| e.kind.as_str()), Some("ResourceError"), "{v:?}");
    // Loads left unchecked (as the editor shows it): the exception stopped the program at line 3.
    let student = Sandbox::new(SandboxConfig { resource_loads: ResourceLoads::Unchecked, ..common::contained() }).expect("sandbox starts");
    let v = student.check(sync).expect("verdict");
    assert_eq!((v.status, v.paper_success), (Status::Error, false), "{v:?}");
    let e = v.error.expect("an error");
    assert_eq!((e.kind.as_str(), e.line), ("NetworkError", Some(3)), "{e:?}");
    assert!(e.message.contains("Failed to load 'http://example.com/data.json'"), "{}", e.message);
    assert!(v.unchecked_load.is_some(), "no unchecked load reported");
    // Caught, the program goes on; the failed load still fails the paper's rule.
    let v = verdict("x = new XMLHttpRequest()\nx.open 'GET', 'data.txt', false\ntry\n  x.send()\ncatch e\n  write e.name\nfd 10");
    assert!(!v.paper_success, "{v:?}");
    assert_eq!(v.error.as_ref().map(|e| e.kind.as_str()), Some("ResourceError"), "{v:?}");
    // Asynchronous: no throw; the error events fire later, with status 0.
    let v = student.check("x = new XMLHttpRequest()\nx.onerror = -> throw new Error 'status ' + x.status + ' ' + x.readyState\nx.open 'GET', 'data.txt'\nx.send()").expect("verdict");
    let e = v.error.expect("the handler's error");
    assert_eq!(e.message, "status 0 4", "{e:?}");
    // Sending twice, or before open, is the page's InvalidStateError.
    let v = verdict("x = new XMLHttpRequest()\nx.send()");
    assert_eq!(v.error.as_ref().map(|e| e.kind.as_str()), Some("InvalidStateError"), "{v:?}");

    // Online (absolute loads succeed), the synchronous request returns.
    let online = Sandbox::new(SandboxConfig { absolute_urls_fail: false, ..common::contained() }).expect("sandbox starts");
    let v = online.check("x = new XMLHttpRequest()\nx.open 'GET', 'https://example.com/data.json', false\nx.send()\nfd 10").expect("verdict");
    assert!(v.paper_success, "{v:?}");
    // A program cannot change the request object for the next one.
    let v = online.check("XMLHttpRequest.prototype.send = -> 1\nXMLHttpRequest.prototype.sneaky = 1\nfd 10").expect("verdict");
    assert!(v.paper_success, "{v:?}");
    let v = online.check("x = new XMLHttpRequest()\nif x.sneaky? then throw new Error 'polluted'\nx.open 'GET', 'data.txt', false\nx.send()").expect("verdict");
    // (A replaced send() would neither fail the load nor throw.)
    assert_eq!((v.paper_success, v.error.as_ref().map(|e| e.kind.as_str())), (false, Some("ResourceError")), "{v:?}");
}
