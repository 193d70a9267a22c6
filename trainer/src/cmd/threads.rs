//! CPU thread count for candle.
//!
//! candle's CPU pool spin-waits at a barrier after every parallel op; when the
//! threads outnumber the cores that are actually free (a 2-core machine, or
//! one shared with a compiler) the spinning costs more than it gains: on the
//! project's 2-core machine one thread trained 5x faster than two under load.
//! So the default is half the logical cores (one on a 2-core machine), and
//! `--threads` or `CANDLE_NUM_THREADS` override it.

/// Sets candle's thread count; must run before the first tensor operation.
pub fn configure(threads: Option<usize>) {
    let n = match (threads, std::env::var("CANDLE_NUM_THREADS").ok()) {
        (Some(n), _) => n.max(1),
        (None, Some(_)) => return,
        (None, None) => (std::thread::available_parallelism().map_or(1, |n| n.get()) / 2).max(1),
    };
    std::env::set_var("CANDLE_NUM_THREADS", n.to_string());
    std::env::set_var("RAYON_NUM_THREADS", n.to_string());
}
