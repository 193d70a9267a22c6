//! The `pencil-hub` binary: parses arguments and calls the library.

use std::net::SocketAddr;
use std::path::PathBuf;

use anyhow::{Context, Result};
use clap::{Parser, Subcommand};
use pencil_hub::postgres::Database;
use pencil_hub::release::verdicts::{SandboxJudge, Verdicts};
use pencil_hub::release::{write_release, Format, ReleaseRequest};
use pencil_hub::server::{check_listen, serve, Config, TlsFiles};
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
    /// Keep the data in PostgreSQL instead (postgres://USER@HOST/DB, or
    /// postgresql:///DB?host=/run/postgresql for a Unix socket); several hubs
    /// may serve one database. Without it: SQLite in --data-dir.
    #[arg(long, global = true, value_name = "URL")]
    database: Option<String>,
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
        /// A load balancer's address (repeatable): behind it, per-address sign-in and
        /// join limits key on the client address it adds to X-Forwarded-For.
        #[arg(long = "trusted-proxy")]
        trusted_proxies: Vec<std::net::IpAddr>,
        /// Serve HTTPS with this certificate chain (PEM); needs --tls-key.
        #[arg(long, requires = "tls_key")]
        tls_cert: Option<PathBuf>,
        /// The certificate's private key (PEM).
        #[arg(long, requires = "tls_cert")]
        tls_key: Option<PathBuf>,
    },
    /// Ingest load test on loopback against an in-process hub (a fresh --data-dir,
    /// or --database; --hubs N starts N `serve` processes on that database instead);
    /// with --release, export time and size of each release format for a corpus file.
    Bench {
        #[arg(long, default_value_t = 300)]
        devices: usize,
        /// Hub processes sharing the --database (devices are spread over them).
        #[arg(long, default_value_t = 1)]
        hubs: usize,
        /// Events per second per device.
        #[arg(long, default_value_t = 0.5)]
        rate: f64,
        #[arg(long, default_value_t = 30)]
        seconds: u64,
        /// Measure releases instead: load --corpus as one study's uploads, write every format to --out.
        #[arg(long, requires_all = ["corpus", "out"])]
        release: bool,
        /// The corpus file (JSON Lines, gzipped or not) to load as uploads.
        #[arg(long, requires = "release")]
        corpus: Option<PathBuf>,
        /// Where the releases go (one folder per format).
        #[arg(long, requires = "release")]
        out: Option<PathBuf>,
        /// Only the first N traces of the corpus.
        #[arg(long, requires = "release")]
        limit: Option<usize>,
        /// Sandbox workers judging programs.
        #[arg(long, default_value_t = 1)]
        jobs: usize,
    },
    /// Write a release of a study's collection for its researchers (or, with
    /// --deletions, the deletion manifests of its revocations); each is audited.
    Release {
        #[arg(long)]
        study: String,
        #[arg(long, value_enum, required_unless_present = "deletions")]
        format: Option<Format>,
        /// A new directory for the release (with --deletions: manifests go to OUT/deletions/).
        #[arg(long)]
        out: PathBuf,
        /// Write every deletion manifest of the study instead of a release.
        #[arg(long, conflicts_with = "format")]
        deletions: bool,
        /// Sandbox workers judging programs (ProgSnap2 and Parquet carry verdicts).
        #[arg(long, default_value_t = 1)]
        jobs: usize,
    },
    /// Print a study's audit log: every release, deletion manifest and revocation.
    Audit {
        #[arg(long)]
        study: String,
    },
    /// A sandbox worker process: releases start these themselves (framed requests on stdin).
    #[command(name = "sandbox-worker", hide = true)]
    SandboxWorker,
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

fn unix_now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64)
}

fn main() -> Result<()> {
    let cli = Cli::parse();
    if let Command::SandboxWorker = cli.command {
        // Before anything else starts in this process: the worker sets its own limits.
        std::process::exit(pencil_sandbox::serve_worker());
    }
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into()),
        )
        .init();
    let cli_dir = cli.data_dir;
    let database = Database::choose(cli.database, || data_dir(cli_dir))?;
    match cli.command {
        Command::Serve {
            listen,
            allow_remote,
            hosts,
            idle_after_secs,
            trusted_proxies,
            tls_cert,
            tls_key,
        } => {
            let tls = tls_cert
                .zip(tls_key)
                .map(|(cert, key)| TlsFiles { cert, key });
            check_listen(listen, allow_remote)?;
            let store = Store::start(database.open()?);
            tracing::info!("database: {database}");
            let runtime = tokio::runtime::Runtime::new()?;
            runtime.block_on(serve(
                store,
                Config {
                    listen,
                    extra_hosts: hosts,
                    idle_after_secs,
                    trusted_proxies,
                    tls,
                },
            ))
        }
        Command::Bench {
            release: true,
            corpus: Some(corpus),
            out: Some(out),
            limit,
            jobs,
            ..
        } => {
            let Database::Sqlite(dir) = &database else {
                anyhow::bail!("bench --release measures SQLite only; leave out --database");
            };
            let judge = SandboxJudge::start(jobs)?;
            let report = pencil_hub::release::bench::run(
                &pencil_hub::release::bench::ReleaseBench {
                    data_dir: dir,
                    corpus: &corpus,
                    out: &out,
                    limit,
                    jobs,
                    actor: pencil_hub::audit::actor(std::env::args()),
                },
                &judge,
            )?;
            print!("{report}");
            Ok(())
        }
        Command::Bench {
            devices,
            hubs,
            rate,
            seconds,
            ..
        } => {
            if let Database::Sqlite(dir) = &database {
                if dir.join(pencil_hub::sqlite::DB_FILE).exists() {
                    anyhow::bail!(
                        "{} already holds a hub database; bench needs an empty --data-dir",
                        dir.display()
                    );
                }
            }
            let runtime = tokio::runtime::Runtime::new()?;
            runtime.block_on(pencil_hub::bench::run(
                &database,
                pencil_hub::bench::BenchOptions {
                    devices,
                    hubs,
                    rate,
                    seconds,
                },
            ))
        }
        Command::Release {
            study,
            format,
            out,
            deletions,
            jobs,
        } => {
            let mut db = database.open()?;
            let actor = pencil_hub::audit::actor(std::env::args());
            match format {
                None if deletions => {
                    let written = pencil_hub::release::deletions::write_manifests(
                        db.as_mut(),
                        &study,
                        &out,
                        &actor,
                        unix_now(),
                    )?;
                    for (path, m) in &written {
                        println!(
                            "{}: subject {} withdrew {}; {} row(s) to delete in {} earlier release(s)",
                            path.display(),
                            m.subject_id,
                            m.revoked_at,
                            m.rows(),
                            m.releases.len()
                        );
                    }
                    if written.is_empty() {
                        println!("no consent to study '{study}' has been withdrawn");
                    }
                    Ok(())
                }
                None => anyhow::bail!("--format or --deletions is needed"),
                Some(format) => {
                    let judge = if format.has_verdicts() {
                        Some(SandboxJudge::start(jobs)?)
                    } else {
                        None
                    };
                    let no_judge = pencil_hub::release::verdicts::Unused;
                    let judge: &dyn pencil_hub::release::verdicts::Judge = match &judge {
                        Some(j) => j,
                        None => &no_judge,
                    };
                    let mut verdicts = Verdicts::new(judge, jobs);
                    let m = write_release(
                        db.as_mut(),
                        &ReleaseRequest {
                            study_id: &study,
                            format,
                            out: &out,
                            actor,
                            now: unix_now(),
                        },
                        &mut verdicts,
                    )?;
                    println!(
                        "release {} of study '{}' ({}) written to {}: {} subjects, {} program states, {} rows",
                        m.release_id,
                        m.study_id,
                        m.format,
                        out.display(),
                        m.subject_ids.len(),
                        m.states,
                        m.rows
                    );
                    if format.has_verdicts() {
                        println!(
                            "sandbox verdicts: {} program(s) judged now, {} kept from the study's last release",
                            verdicts.judged(),
                            verdicts.reused()
                        );
                    }
                    Ok(())
                }
            }
        }
        Command::Audit { study } => {
            let mut db = database.open()?;
            if db.study(&study)?.is_none() {
                anyhow::bail!("there is no study '{study}' on this hub");
            }
            print!("{}", pencil_hub::audit::render(&db.audit(&study)?));
            Ok(())
        }
        Command::SandboxWorker => unreachable!("handled before logging starts"),
        Command::Study {
            command: StudyCommand::Publish { file, class },
        } => {
            let mut db = database.open()?;
            println!(
                "{}",
                pencil_hub::research::publish(db.as_mut(), &file, class)?
            );
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
            let mut db = database.open()?;
            let id = pencil_hub::teacher::add(db.as_mut(), &name, &password)?;
            eprintln!("teacher '{}' added (id {id}) in {database}", name.trim());
            Ok(())
        }
    }
}
