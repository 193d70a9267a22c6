//! One module per subcommand.
pub mod metrics;
pub mod bench_train;
pub mod compute;
pub mod dataset;
pub mod progress;
pub mod synthesize;
pub mod tokenizer;
pub mod train;
pub mod export;
pub mod bench_generate;
pub mod bench_scrub;
pub mod evaluate;
pub mod probe;
pub mod eval_adapt;
pub mod eval_recovery;
pub mod eval_args;
pub mod eval_variants;
