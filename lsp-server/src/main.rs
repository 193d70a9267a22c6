//! `pencil-lsp`: the coach's language server, plus `check` and `replay` tools.
//! This file is only the routing table; each tool lives in its own module.

use clap::{Parser, Subcommand};
use pencil_lsp::server::{self, ListenArgs, ServerOptions};
use std::path::PathBuf;

#[derive(Parser)]
#[command(name = "pencil-lsp", version, about = "Pencil Code coach: language server and tools")]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
    #[command(flatten)]
    listen: ListenArgs,
    /// Store directory (default: $PENCIL_DATA_DIR, else the platform's user data directory).
    #[arg(long)]
    data_dir: Option<PathBuf>,
    /// Trace model directory (default: $PENCIL_MODEL_DIR, else models/default beside the executable).
    #[arg(long)]
    model: Option<PathBuf>,
    /// Accepted for editors that pass it; stdio is the default transport.
    #[arg(long, hide = true)]
    stdio: bool,
}

#[derive(Subcommand)]
enum Command {
    /// Feed corpus traces through the coach and print what the student would see.
    Replay(pencil_lsp::replay::ReplayArgs),
    /// Measure run latency and quick-fix reach over corpus programs.
    Bench(pencil_lsp::bench::BenchArgs),
    /// Run programs in the sandbox and print one verdict per file.
    Check(pencil_lsp::check::Args),
    /// Your own data: show what is stored, export it, or delete it.
    Data(pencil_lsp::data::Args),
    /// The style vector learned from your own traces: show it or forget it.
    Student(pencil_lsp::student::Args),
    /// Classroom mode: join a teacher's class, show its policy, leave it.
    Class(pencil_lsp::class::Args),
    /// Research studies: show one, consent, preview and upload exactly what leaves, revoke; `scrub` a corpus file.
    Research(pencil_lsp::research::Args),
    /// A sandbox worker process: the sandbox starts these itself (framed requests on stdin).
    #[command(name = "sandbox-worker", hide = true)]
    SandboxWorker,
}

fn main() -> anyhow::Result<()> {
    // Before any thread starts: adaptation's candle workers sleep soon when idle.
    pencil_core::model::cpu_pool::limit_idle_spinning();
    let cli = Cli::parse();
    if let Some(Command::SandboxWorker) = cli.command {
        // Before anything else starts in this process: the worker sets its own limits.
        std::process::exit(pencil_sandbox::serve_worker());
    }
    // The tools print their report on stdout; logs (stderr) only when asked for.
    if cli.command.is_some() && std::env::var_os("RUST_LOG").is_some() {
        server::init_logging();
    }
    match cli.command {
        None => serve(cli.listen, ServerOptions { data_dir: cli.data_dir, model_dir: cli.model }),
        Some(Command::Replay(args)) => {
            pencil_lsp::replay::replay(&args, &mut std::io::stdout().lock())?;
            Ok(())
        }
        Some(Command::Bench(args)) => Ok(pencil_lsp::bench::bench(&args, &mut std::io::stdout().lock())?),
        Some(Command::Check(args)) => pencil_lsp::check::run(&args, &mut std::io::stdout().lock()),
        Some(Command::Data(args)) => pencil_lsp::data::run(&args, &mut std::io::stdout().lock()),
        Some(Command::Student(args)) => pencil_lsp::student::run(&args, &mut std::io::stdout().lock()),
        Some(Command::Class(args)) => pencil_lsp::class::run(&args, &mut std::io::stdout().lock()),
        Some(Command::Research(args)) => pencil_lsp::research::run(&args, &mut std::io::stdout().lock()),
        Some(Command::SandboxWorker) => unreachable!("served above"),
    }
}

fn serve(listen: ListenArgs, options: ServerOptions) -> anyhow::Result<()> {
    server::init_logging();
    let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build()?;
    let served = runtime.block_on(async move {
        match listen.listen {
            None => {
                server::run_stdio(options).await;
                Ok(())
            }
            Some(addr) => Ok(server::run_listen(addr, &listen, options).await?),
        }
    });
    // Tokio reads stdin on a blocking thread that cannot be interrupted; do not wait for it.
    runtime.shutdown_background();
    served
}
