//! What `hub.rs` and `release.rs` share: which database a test's hubs use,
//! and a throwaway PostgreSQL cluster for the PostgreSQL runs.
//!
//! Each test body runs twice (see [`both!`]): once on SQLite in a temporary
//! data directory, once on a PostgreSQL cluster of its own, made by `initdb`
//! in a temporary directory and reachable only on a Unix socket there (no TCP
//! port, trust authentication for that socket only). PostgreSQL is required:
//! without it the PostgreSQL runs fail and say how to install it.
//!
//! `initdb` refuses to run as root. As root (CI containers, this project's
//! build machines) the cluster is made and run as the `postgres` user that
//! Debian's package creates, or as `nobody`: its directory is handed to that
//! user, and the tests, as root, can still reach its socket.
#![allow(dead_code)] // Each test file uses its own part of this module.

use std::cell::Cell;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::Command;

use tempfile::TempDir;

/// The database behind the hubs a test starts.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

thread_local! {
    // Each test runs on its own thread: the backend is the test's.
    static BACKEND: Cell<Backend> = const { Cell::new(Backend::Sqlite) };
}

/// The backend of the running test (SQLite unless [`run_on`] said otherwise).
pub fn backend() -> Backend {
    BACKEND.with(Cell::get)
}

/// Runs a test body with its hubs on `backend`.
pub fn run_on(backend: Backend, test: fn()) {
    BACKEND.with(|b| b.set(backend));
    test();
}

/// Makes each named test function (a plain `fn()`, without `#[test]`) two
/// tests: `sqlite::NAME` and `postgres::NAME`.
macro_rules! both {
    ($($name:ident),* $(,)?) => {
        mod sqlite {
            $(#[test] fn $name() { $crate::support::run_on($crate::support::Backend::Sqlite, super::$name) })*
        }
        mod postgres {
            $(#[test] fn $name() { $crate::support::run_on($crate::support::Backend::Postgres, super::$name) })*
        }
    };
}

/// Where a test's hubs keep their data: a temporary directory (the SQLite
/// file lives in its `data/`) and, on PostgreSQL, a cluster.
pub struct Site {
    // Dropped first: the cluster stops before its socket directory goes.
    pub pg: Option<PgCluster>,
    tmp: TempDir,
}

impl Site {
    /// A fresh site for the running test's backend.
    pub fn new() -> Site {
        Site {
            pg: (backend() == Backend::Postgres).then(PgCluster::start),
            tmp: tempfile::tempdir().expect("a temporary directory"),
        }
    }

    /// The temporary directory (the data directory is its `data/`).
    pub fn path(&self) -> &Path {
        self.tmp.path()
    }

    /// The options that put a `pencil-hub` command on this site's database.
    pub fn args(&self) -> Vec<String> {
        let mut args = vec![
            "--data-dir".to_string(),
            self.tmp.path().join("data").display().to_string(),
        ];
        if let Some(pg) = &self.pg {
            args.extend(["--database".to_string(), pg.url.clone()]);
        }
        args
    }
}

/// A PostgreSQL cluster in a temporary directory, on a Unix socket only;
/// stopped and removed when dropped.
pub struct PgCluster {
    /// `postgresql:///hub?host=<socket dir>&user=pencil`.
    pub url: String,
    bin: PathBuf,
    /// The (uid, gid) the server runs as when the tests run as root.
    owner: Option<(u32, u32)>,
    dir: TempDir,
}

/// The directory holding `initdb` and `pg_ctl`: PATH first, then Debian's
/// `/usr/lib/postgresql/<version>/bin`, newest version first.
fn postgres_bin() -> Option<PathBuf> {
    let on_path = std::env::var_os("PATH")
        .map(|p| std::env::split_paths(&p).collect::<Vec<_>>())
        .unwrap_or_default();
    let mut debian: Vec<(u32, PathBuf)> = std::fs::read_dir("/usr/lib/postgresql")
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| Some((e.file_name().to_str()?.parse().ok()?, e.path().join("bin"))))
        .collect();
    debian.sort_by_key(|d| std::cmp::Reverse(d.0));
    on_path
        .into_iter()
        .chain(debian.into_iter().map(|(_, dir)| dir))
        .find(|dir| dir.join("initdb").is_file() && dir.join("pg_ctl").is_file())
}

/// A number `id` prints, e.g. `id -u postgres`.
fn id(args: &[&str]) -> Option<u32> {
    let out = Command::new("id").args(args).output().ok()?;
    if !out.status.success() {
        return None;
    }
    String::from_utf8_lossy(&out.stdout).trim().parse().ok()
}

impl PgCluster {
    /// Makes and starts a cluster with an empty database `hub`.
    pub fn start() -> PgCluster {
        let bin = postgres_bin().unwrap_or_else(|| {
            panic!(
                "PostgreSQL is not installed: initdb and pg_ctl are neither on PATH nor in \
                 /usr/lib/postgresql/*/bin. The hub's tests run on PostgreSQL as well as SQLite; \
                 install Debian's `postgresql` package (scripts/setup.sh does)."
            )
        });
        let owner = if id(&["-u"]) == Some(0) {
            let user = ["postgres", "nobody"]
                .into_iter()
                .find(|u| id(&["-u", u]).is_some())
                .expect("running as root, and neither a `postgres` nor a `nobody` user to run PostgreSQL as");
            Some((
                id(&["-u", user]).expect("uid"),
                id(&["-g", user]).expect("gid"),
            ))
        } else {
            None
        };
        let dir = tempfile::Builder::new()
            .prefix("pencil-pg")
            .tempdir()
            .expect("a temporary directory");
        if let Some((uid, gid)) = owner {
            std::os::unix::fs::chown(dir.path(), Some(uid), Some(gid))
                .expect("handing the cluster directory over");
        }
        let cluster = PgCluster {
            url: format!(
                "postgresql:///hub?host={}&user=pencil",
                dir.path().display()
            ),
            bin,
            owner,
            dir,
        };
        let data = cluster.dir.path().join("data");
        let log = cluster.dir.path().join("log");
        // -N: no fsync of the new files; a throwaway cluster.
        cluster.run(
            "initdb",
            &[
                "-D".as_ref(),
                data.as_os_str(),
                "-U".as_ref(),
                "pencil".as_ref(),
                "-A".as_ref(),
                "trust".as_ref(),
                "-E".as_ref(),
                "UTF8".as_ref(),
                "--locale=C".as_ref(),
                "-N".as_ref(),
            ],
        );
        // The Unix socket in the cluster's directory, no TCP at all; fsync off
        // since the tests kill hubs, never the machine.
        let options = format!(
            "-k {} -c listen_addresses='' -c fsync=off",
            cluster.dir.path().display()
        );
        let started = cluster.try_run(
            "pg_ctl",
            &[
                "-D".as_ref(),
                data.as_os_str(),
                "-l".as_ref(),
                log.as_os_str(),
                "-w".as_ref(),
                "-t".as_ref(),
                "60".as_ref(),
                "-o".as_ref(),
                options.as_ref(),
                "start".as_ref(),
            ],
        );
        if let Err(e) = started {
            let log = std::fs::read_to_string(&log).unwrap_or_default();
            panic!("{e}\nPostgreSQL's log:\n{log}");
        }
        let admin = format!(
            "host={} user=pencil dbname=postgres",
            cluster.dir.path().display()
        );
        let mut client = postgres::Client::connect(&admin, postgres::NoTls)
            .expect("connecting to the test cluster");
        client
            .batch_execute("CREATE DATABASE hub")
            .expect("creating the test database");
        cluster
    }

    /// A client on the cluster's `hub` database, for checks behind the hub's back.
    pub fn client(&self) -> postgres::Client {
        postgres::Client::connect(&self.url, postgres::NoTls)
            .expect("connecting to the test database")
    }

    fn command(&self, program: &str) -> Command {
        let mut cmd = Command::new(self.bin.join(program));
        // The server's user may not enter the test's working directory.
        cmd.current_dir(self.dir.path());
        if let Some((uid, gid)) = self.owner {
            cmd.uid(uid).gid(gid);
        }
        cmd
    }

    fn try_run(&self, program: &str, args: &[&std::ffi::OsStr]) -> Result<(), String> {
        let out = self
            .command(program)
            .args(args)
            .output()
            .map_err(|e| format!("running {}: {e}", self.bin.join(program).display()))?;
        if out.status.success() {
            Ok(())
        } else {
            Err(format!(
                "{program} failed: {}{}",
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            ))
        }
    }

    fn run(&self, program: &str, args: &[&std::ffi::OsStr]) {
        if let Err(e) = self.try_run(program, args) {
            panic!("{e}");
        }
    }
}

impl Drop for PgCluster {
    fn drop(&mut self) {
        // Immediate: nothing here needs a clean shutdown, and it is quick.
        let data = self.dir.path().join("data");
        let _ = self
            .command("pg_ctl")
            .args([
                "-D".as_ref(),
                data.as_os_str(),
                "-m".as_ref(),
                "immediate".as_ref(),
                "-w".as_ref(),
                "stop".as_ref(),
            ])
            .output();
    }
}
