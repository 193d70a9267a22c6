//! The trainer's progress bars.

use indicatif::{ProgressBar, ProgressStyle};

/// A bar with position, rate, ETA and a message.
pub fn bar(len: u64, msg: &str) -> ProgressBar {
    let pb = ProgressBar::new(len);
    if let Ok(style) = ProgressStyle::with_template("{elapsed_precise} [{wide_bar}] {pos}/{len} eta {eta} {msg}") {
        pb.set_style(style.progress_chars("=> "));
    }
    pb.set_message(msg.to_string());
    pb
}
