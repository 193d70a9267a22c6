//! CPU run-time settings for training: candle's thread count and the allocator.
//!
//! candle's CPU pool spin-waits at a barrier after every parallel op; when the
//! threads outnumber the cores that are actually free (a 2-core machine, or
//! one shared with a compiler) the spinning costs more than it gains: on the
//! project's 2-core machine one thread trained 5x faster than two under load.
//! So the default is half the logical cores (one on a 2-core machine), and
//! `--threads` or `CANDLE_NUM_THREADS` override it.
//!
//! candle's idle workers spin less than candle's default
//! ([`pencil_core::model::cpu_pool`]): they held the cores the matrix products need.
//!
//! Training allocates and frees the same large buffers every step; glibc
//! serves those with fresh `mmap`s whose pages fault in each time (15% of a
//! step in a profile). Raising glibc's mmap and trim thresholds keeps them in
//! the heap: +25-30% tokens/s on the tiny preset. The threshold cannot go
//! past 32 MiB, and `small` at context 1024 frees 100-270 MB buffers (logits,
//! attention) every step, so mmap is turned off altogether: page faults fell
//! from 4.1 M to 0.86 M and system time from 10.6 s to 1.5 s over the same
//! `bench-train` run, at the same peak memory. (jemalloc, tried instead,
//! faulted more: 13.7 M.)

/// Sets candle's thread count and its workers' spin limit; must run before the first tensor operation.
pub fn configure_threads(threads: Option<usize>) {
    pencil_core::model::cpu_pool::limit_idle_spinning();
    let n = match (threads, std::env::var("CANDLE_NUM_THREADS").ok()) {
        (Some(n), _) => n.max(1),
        (None, Some(_)) => return,
        (None, None) => (std::thread::available_parallelism().map_or(1, |n| n.get()) / 2).max(1),
    };
    std::env::set_var("CANDLE_NUM_THREADS", n.to_string());
    std::env::set_var("RAYON_NUM_THREADS", n.to_string());
}

/// Keeps large training buffers in the heap instead of fresh mappings (glibc only).
pub fn tune_allocator() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: mallopt only changes allocator parameters; called before training
    // allocates, and glibc accepts these values (32 MiB is its mmap threshold maximum).
    unsafe {
        libc::mallopt(libc::M_MMAP_THRESHOLD, 32 << 20);
        libc::mallopt(libc::M_MMAP_MAX, 0);
        libc::mallopt(libc::M_TRIM_THRESHOLD, 1 << 30);
        libc::mallopt(libc::M_TOP_PAD, 256 << 20);
    }
}
