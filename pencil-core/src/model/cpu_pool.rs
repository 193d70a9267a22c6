//! How long candle's idle CPU workers spin before they sleep.
//!
//! candle runs element-wise ops on its own pool of workers, while the matrix
//! products and this crate's fused kernels run on rayon's threads. After each
//! element-wise op candle's workers spin 25,000 times by default before they
//! sleep, holding a core the next product's threads need; on a 2-core machine
//! that is most of the machine. With a limit of 1,000 spins, at two threads on
//! the project's 2-core CPU: training 37,200 against 29,900 tokens/s (`tiny`,
//! means of 2 and 4 `bench-train` runs) and 2,660 against 2,540 (`small`);
//! learning a student's vector from one trace 1.63 against 1.81 s (medians of
//! six `pencil-lsp bench --adapt` runs; 1.48 s with the head loss's even row
//! split as well). On a student's machine the spinning is also
//! CPU time taken from the editor for nothing.

/// The variable candle reads, once, when its element-wise pool starts.
pub const SPIN_LIMIT_ENV: &str = "CANDLE_BARRIER_POOL_SPIN_LIMIT";

/// Spins of candle's idle workers before they sleep (see the module docs).
pub const SPIN_LIMIT: u32 = 1_000;

/// Sets [`SPIN_LIMIT`] unless the environment already names one. Call it at
/// the start of `main`, before any thread starts and before the first tensor
/// operation (candle reads the variable once).
pub fn limit_idle_spinning() {
    if std::env::var_os(SPIN_LIMIT_ENV).is_none() {
        std::env::set_var(SPIN_LIMIT_ENV, SPIN_LIMIT.to_string());
    }
}
