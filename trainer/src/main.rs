//! `pencil-trainer` (being built).
fn main() {}
