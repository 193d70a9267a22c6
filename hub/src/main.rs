//! The `pencil-hub` binary: parses arguments and calls the library.

use std::net::SocketAddr;
use std::path::PathBuf;

use anyhow::{Context, Result};
use clap::{Parser, Subcommand};
use pencil_hub::server::{check_listen, serve, Config, TlsFiles};
use pencil_hub::sqlite::SqliteDb;
use pencil_hub::store::Store;

#[derive(Parser)]
#[command(
    name = "pencil-hub",
    about = "The teacher's hub for Pencil coach classrooms"
)]
struct Cli {
    /// Where the database lives (default: the user's data directory, pencil-hub/).
    #[arg(long, global = true)]
    data_dir: Option<PathBuf>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Serve the dashboard and the students' API.
    Serve {
        #[arg(long, default_value = "127.0.0.1:7070")]
        listen: SocketAddr,
        /// Allow a non-loopback --listen address (plain HTTP on the network).
        #[arg(long)]
        allow_remote: bool,
        /// Another Host name this hub is reached by (repeatable), e.g. hub.school.example:7070.
        #[arg(long = "host")]
        hosts: Vec<String>,
        /// Show a student as idle after this many seconds without an event.
        #[arg(long, default_value_t = 120)]
        idle_after_secs: i64,
        /// Serve HTTPS with this certificate chain (PEM); needs --tls-key.
        #[arg(long, requires = "tls_key")]
        tls_cert: Option<PathBuf>,
        /// The certificate's private key (PEM).
        #[arg(long, requires = "tls_cert")]
        tls_key: Option<PathBuf>,
    },
    /// Ingest load test on loopback against an in-process hub (uses a fresh --data-dir).
    Bench {
        #[arg(long, default_value_t = 300)]
        devices: usize,
        /// Events per second per device.
        #[arg(long, default_value_t = 0.5)]
        rate: f64,
        #[arg(long, default_value_t = 30)]
        seconds: u64,
    },
    /// Manage teacher accounts.
    Teacher {
        #[command(subcommand)]
        command: TeacherCommand,
    },
    /// Research studies offered to classes.
    Study {
        #[command(subcommand)]
        command: StudyCommand,
    },
}

#[derive(Subcommand)]
enum StudyCommand {
    /// Offer a researcher's signed study document (JSON) to a class; a bad signature is refused.
    Publish {
        /// The signed study document.
        file: PathBuf,
        /// The class id (as in the dashboard's address, /classes/ID).
        #[arg(long)]
        class: i64,
    },
}

#[derive(Subcommand)]
enum TeacherCommand {
    /// Create a teacher account (and its policy signing key).
    Add {
        #[arg(long)]
        name: String,
        /// Read the password from the first line of stdin instead of prompting.
        #[arg(long)]
        password_stdin: bool,
    },
}

fn data_dir(cli: Option<PathBuf>) -> Result<PathBuf> {
    match cli {
        Some(dir) => Ok(dir),
        None => Ok(dirs::data_dir()
            .context("no data directory for this user; pass --data-dir")?
            .join("pencil-hub")),
    }
}

fn main() -> Result<()> {
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into()),
        )
        .init();
    let cli = Cli::parse();
    let dir = data_dir(cli.data_dir)?;
    match cli.command {
        Command::Serve {
            listen,
            allow_remote,
            hosts,
            idle_after_secs,
            tls_cert,
            tls_key,
        } => {
            let tls = tls_cert
                .zip(tls_key)
                .map(|(cert, key)| TlsFiles { cert, key });
            check_listen(listen, allow_remote)?;
            let store = Store::start(Box::new(SqliteDb::open(&dir)?));
            let runtime = tokio::runtime::Runtime::new()?;
            runtime.block_on(serve(
                store,
                Config {
                    listen,
                    extra_hosts: hosts,
                    idle_after_secs,
                    tls,
                },
            ))
        }
        Command::Bench {
            devices,
            rate,
            seconds,
        } => {
            if dir.join(pencil_hub::sqlite::DB_FILE).exists() {
                anyhow::bail!(
                    "{} already holds a hub database; bench needs an empty --data-dir",
                    dir.display()
                );
            }
            let runtime = tokio::runtime::Runtime::new()?;
            runtime.block_on(pencil_hub::bench::run(
                &dir,
                pencil_hub::bench::BenchOptions {
                    devices,
                    rate,
                    seconds,
                },
            ))
        }
        Command::Study {
            command: StudyCommand::Publish { file, class },
        } => {
            let mut db = SqliteDb::open(&dir)?;
            println!("{}", pencil_hub::research::publish(&mut db, &file, class)?);
            Ok(())
        }
        Command::Teacher {
            command:
                TeacherCommand::Add {
                    name,
                    password_stdin,
                },
        } => {
            let password = pencil_hub::teacher::read_password(password_stdin)?;
            let mut db = SqliteDb::open(&dir)?;
            let id = pencil_hub::teacher::add(&mut db, &name, &password)?;
            eprintln!(
                "teacher '{}' added (id {id}) in {}",
                name.trim(),
                dir.display()
            );
            Ok(())
        }
    }
}
