//! What the turtles drew: a compact, versioned list of shapes in turtle coordinates,
//! for editors to show next to the verdict. The host records it while the program
//! runs (`js/host.js`, "the drawing"), as jquery-turtle would paint its canvas.

use serde::{Deserialize, Serialize};

/// Version of [`Drawing`]'s shape; bump on any incompatible change.
pub const DRAWING_VERSION: u32 = 1;
/// Most shapes one drawing holds; later ones are dropped and `truncated` set.
pub const MAX_OPS: usize = 20_000;
/// Most points (line and fill vertices, one per other shape) one drawing holds.
pub const MAX_POINTS: usize = 200_000;

/// The drawing of one run. Coordinates: origin at the centre of a `width` x `height`
/// page, x right, y up; headings in degrees, 0 = north, clockwise.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Drawing {
    /// [`DRAWING_VERSION`].
    pub version: u32,
    /// Page width in pixels.
    pub width: u32,
    /// Page height in pixels.
    pub height: u32,
    /// A page background color the program set (CSS), else none (white).
    #[serde(default)]
    pub background: Option<String>,
    /// Shapes in drawing order.
    pub ops: Vec<DrawOp>,
    /// Where each turtle ended, the main turtle first.
    pub turtles: Vec<TurtleEnd>,
    /// The program drew more than [`MAX_OPS`] / [`MAX_POINTS`]; later shapes are missing.
    pub truncated: bool,
}

/// One shape. Colors are CSS color strings as the program gave them.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "op", rename_all = "lowercase")]
pub enum DrawOp {
    /// A pen stroke: polyline `[x0, y0, x1, y1, ...]`, round caps and joins; color
    /// `"erase"` clears what lies under it (`pen erase`).
    Line { color: String, width: f64, points: Vec<f64> },
    /// A closed polygon filled with the nonzero rule (`pen path` ... `fill color`).
    Fill { color: String, points: Vec<f64> },
    /// A filled circle; no diameter: the whole page (`dot color, Infinity`).
    Dot { x: f64, y: f64, color: String, diameter: Option<f64> },
    /// A filled square of side `size` centred at x, y, turned by `heading`; no size: the whole page.
    Box { x: f64, y: f64, color: String, size: Option<f64>, heading: f64 },
    /// Plain text centred at x, y (font size in pixels), turned by `heading`.
    Label { x: f64, y: f64, text: String, color: String, size: f64, heading: f64 },
}

/// Where a turtle ended.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TurtleEnd {
    /// Position.
    pub x: f64,
    /// Position (y up).
    pub y: f64,
    /// Heading in degrees, 0 = north, clockwise, in [0, 360).
    pub heading: f64,
    /// Shown (`st`) or hidden (`ht`).
    pub visible: bool,
}

impl Drawing {
    /// Whether anything was drawn (a background counts).
    pub fn is_empty(&self) -> bool {
        self.ops.is_empty() && self.background.is_none()
    }

    /// Checks what the host sent against the caps, so a broken or hostile host
    /// (the worker process is not trusted) cannot hand editors an unbounded drawing.
    pub(crate) fn within_caps(&self) -> bool {
        let points: usize = self
            .ops
            .iter()
            .map(|op| match op {
                DrawOp::Line { points, .. } | DrawOp::Fill { points, .. } => points.len() / 2,
                _ => 1,
            })
            .sum();
        self.ops.len() <= MAX_OPS && points <= MAX_POINTS && self.turtles.len() <= 100
    }
}
