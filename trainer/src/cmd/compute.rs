//! Where the work runs: flags shared by every subcommand that trains or
//! evaluates a model, and the process-wide CPU settings they imply.

/// `--cpu` and `--threads`, flattened into a subcommand's arguments.
#[derive(clap::Args)]
pub struct ComputeArgs {
    /// Use the CPU even when a GPU is present.
    #[arg(long)]
    pub cpu: bool,
    /// CPU threads (default: half the logical cores; see pencil_trainer::cpu).
    #[arg(long)]
    pub threads: Option<usize>,
}

impl ComputeArgs {
    /// Sets the thread count and allocator thresholds for this process.
    pub fn apply(&self) {
        pencil_trainer::cpu::configure_threads(self.threads);
        pencil_trainer::cpu::tune_allocator();
    }
}
