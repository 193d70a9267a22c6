//! What the turtles drew: shapes, positions and pen rules as jquery-turtle paints them.

mod common;

use common::verdict;
use pencil_sandbox::{DrawOp, Drawing, Status};

fn drawing(src: &str) -> Drawing {
    let v = verdict(src);
    match v.drawing {
        Some(d) => d,
        None => panic!("no drawing for {src:?}: status {:?}, error {:?}", v.status, v.error),
    }
}

fn near(a: &[f64], b: &[f64]) -> bool {
    a.len() == b.len() && a.iter().zip(b).all(|(x, y)| (x - y).abs() < 0.02)
}

#[test]
fn a_square_is_one_polyline_in_turtle_coordinates() {
    let d = drawing("pen red, 3\nfor i in [1..4]\n  fd 100\n  rt 90\n");
    assert_eq!((d.version, d.width, d.height), (1, 1280, 720));
    assert_eq!(d.ops.len(), 1, "{d:?}");
    let DrawOp::Line { color, width, points } = &d.ops[0] else { panic!("{d:?}") };
    assert_eq!((color.as_str(), *width), ("red", 3.0));
    // North first, then east (y up, clockwise headings).
    assert!(near(points, &[0.0, 0.0, 0.0, 100.0, 100.0, 100.0, 100.0, 0.0, 0.0, 0.0]), "{points:?}");
    assert_eq!(d.turtles.len(), 1);
    assert!(near(&[d.turtles[0].x, d.turtles[0].y, d.turtles[0].heading], &[0.0, 0.0, 0.0]));
    assert!(!d.truncated);
}

#[test]
fn pen_up_jumps_and_new_pens_break_the_line() {
    let d = drawing("pen blue\nfd 50\npu()\nfd 50\npd()\nfd 50\njump 0, 20\nfd 10\npen green\nfd 10\n");
    let lines: Vec<(&str, &[f64])> = d
        .ops
        .iter()
        .map(|op| match op {
            DrawOp::Line { color, points, .. } => (color.as_str(), points.as_slice()),
            other => panic!("{other:?}"),
        })
        .collect();
    assert_eq!(lines.len(), 4, "{lines:?}");
    assert!(near(lines[0].1, &[0.0, 0.0, 0.0, 50.0]));
    assert!(near(lines[1].1, &[0.0, 100.0, 0.0, 150.0]));
    assert!(near(lines[2].1, &[0.0, 170.0, 0.0, 180.0]));
    assert_eq!(lines[3].0, "green");
}

#[test]
fn an_arc_ends_where_the_turtle_ends() {
    let d = drawing("pen black\nrt 90, 50\n");
    let DrawOp::Line { points, .. } = &d.ops[0] else { panic!("{d:?}") };
    let n = points.len();
    assert!(n > 10, "an arc is drawn as many chords: {points:?}");
    assert!(near(&points[n - 2..], &[50.0, 50.0]), "{points:?}");
    assert!(near(&[d.turtles[0].x, d.turtles[0].y, d.turtles[0].heading], &[50.0, 50.0, 90.0]));
}

#[test]
fn dots_boxes_fills_labels_and_background() {
    let src = "pen purple\ndot()\ndot 20, 'orange'\nbox green, 30\npen path\nfd 50\nrt 120\nfd 50\nrt 120\nfd 50\nfill pink\nlabel 'Hi <b>there</b>'\n$('body').css 'background', 'lightyellow'\ndot black, Infinity\n";
    let d = drawing(src);
    assert_eq!(d.background.as_deref(), Some("lightyellow"));
    let kinds: Vec<String> = d.ops.iter().map(|op| format!("{op:?}").split_whitespace().next().unwrap_or("").to_string()).collect();
    assert_eq!(kinds, ["Dot", "Dot", "Box", "Fill", "Label", "Dot"], "{d:?}");
    assert!(matches!(&d.ops[0], DrawOp::Dot { color, diameter: Some(dm), .. } if color == "purple" && (*dm - 8.8).abs() < 1e-9));
    assert!(matches!(&d.ops[1], DrawOp::Dot { color, diameter: Some(dm), .. } if color == "orange" && *dm == 20.0));
    assert!(matches!(&d.ops[2], DrawOp::Box { color, size: Some(s), .. } if color == "green" && *s == 30.0));
    assert!(matches!(&d.ops[3], DrawOp::Fill { color, points } if color == "pink" && points.len() == 8));
    assert!(matches!(&d.ops[4], DrawOp::Label { text, .. } if text == "Hi there"));
    assert!(matches!(&d.ops[5], DrawOp::Dot { diameter: None, .. }), "Infinity fills the page");
}

#[test]
fn clearing_the_screen_drops_what_was_drawn() {
    let d = drawing("pen red\nfd 100\ncs()\npen blue\nfd 10\n");
    assert_eq!(d.ops.len(), 1, "{d:?}");
    assert!(matches!(&d.ops[0], DrawOp::Line { color, .. } if color == "blue"));
}

#[test]
fn a_drawing_that_never_ends_is_capped_and_says_so() {
    let d = drawing("pen red\nfor i in [1..60000]\n  fd 1\n  jump 0, 1\n");
    assert!(d.truncated);
    assert!(d.ops.len() <= pencil_sandbox::drawing::MAX_OPS);
}

#[test]
fn a_failing_program_keeps_what_it_drew_before_the_error_and_a_compile_error_has_none() {
    let v = verdict("pen red\nfd 100\nfdd 50\n");
    assert_eq!(v.status, Status::Error);
    let d = v.drawing.expect("the drawing up to the error");
    assert_eq!(d.ops.len(), 1);
    let v = verdict("pen red\nfd 100\nrt 90 +\n  )\n");
    assert_eq!(v.status, Status::Error);
    assert!(v.drawing.is_none(), "{v:?}");
}

#[test]
fn moving_to_a_mouse_event_before_any_mouse_stays_put() {
    // jquery-turtle's lastclick is an event with no position until the mouse moves.
    let d = drawing("pen red\nfd 10\nmoveto lastclick\nturnto lastmousemove\nfd 10\n");
    let DrawOp::Line { points, .. } = &d.ops[0] else { panic!("{d:?}") };
    assert!(near(points, &[0.0, 0.0, 0.0, 10.0, 0.0, 20.0]), "{points:?}");
}
