//! `pencil-lsp check FILE... [--json]`: runs each program through the sandbox
//! and prints its verdict. Programs that fail are results, not tool failures:
//! the exit code is non-zero only when the tool itself cannot do its job.

use anyhow::Context as _;
use pencil_sandbox::{ResourceLoads, Sandbox, SandboxConfig, Status, Verdict};
use std::io::{Read as _, Write};
use std::path::PathBuf;
use std::time::Duration;

/// Arguments of `pencil-lsp check`.
#[derive(clap::Args, Debug)]
pub struct Args {
    /// Program files to check; `-` reads one program from standard input.
    #[arg(required = true)]
    pub files: Vec<PathBuf>,
    /// One JSON object per file: file, status, paper_success, language, error, ms.
    #[arg(long)]
    pub json: bool,
    /// Wall-time limit per program (compiling it and both runs), in milliseconds.
    #[arg(long, default_value_t = 2000)]
    pub wall_time_ms: u64,
    /// Warm runtimes to check files in parallel.
    #[arg(long, default_value_t = 1)]
    pub jobs: usize,
    /// Count resources that cannot load offline (images, scripts, data) as errors, as the
    /// paper's offline oracle did; by default they are reported and left unchecked.
    #[arg(long)]
    pub offline_loads_fail: bool,
    /// With `--json`: add what the turtles drew (`drawing`, the shape `pencil/run` sends
    /// protocol-2 clients: see `pencil_sandbox::Drawing`).
    #[arg(long, requires = "json")]
    pub drawing: bool,
}

/// One line of `--json` output.
#[derive(serde::Serialize)]
struct Line<'a> {
    file: &'a str,
    #[serde(flatten)]
    verdict: &'a Verdict,
}

/// Checks every file and writes one verdict per file to `out`, in argument order.
pub fn run(args: &Args, out: &mut impl Write) -> anyhow::Result<()> {
    let config = SandboxConfig {
        wall_time: Duration::from_millis(args.wall_time_ms),
        pool_size: args.jobs.max(1),
        resource_loads: if args.offline_loads_fail { ResourceLoads::Fail } else { ResourceLoads::Unchecked },
        isolation: crate::checker::contained(),
        ..SandboxConfig::default()
    };
    let sandbox = Sandbox::new(config).context("starting the sandbox")?;
    let mut sources = Vec::with_capacity(args.files.len());
    for file in &args.files {
        sources.push(read_program(file)?);
    }
    let verdicts = check_all(&sandbox, &sources, args.jobs.max(1))?;
    for (file, verdict) in args.files.iter().zip(&verdicts) {
        let name = file.to_string_lossy();
        if args.json {
            let stripped;
            let verdict = if args.drawing || verdict.drawing.is_none() {
                verdict
            } else {
                stripped = Verdict { drawing: None, ..verdict.clone() };
                &stripped
            };
            serde_json::to_writer(&mut *out, &Line { file: &name, verdict })?;
            writeln!(out)?;
        } else {
            writeln!(out, "{}", human_line(&name, verdict))?;
        }
    }
    Ok(())
}

fn read_program(file: &PathBuf) -> anyhow::Result<String> {
    if file.as_os_str() == "-" {
        let mut s = String::new();
        std::io::stdin().read_to_string(&mut s).context("reading standard input")?;
        Ok(s)
    } else {
        std::fs::read_to_string(file).with_context(|| format!("reading {}", file.display()))
    }
}

/// Checks the sources on `jobs` threads sharing the pool; keeps the input order.
fn check_all(sandbox: &Sandbox, sources: &[String], jobs: usize) -> anyhow::Result<Vec<Verdict>> {
    let chunk = sources.len().div_ceil(jobs).max(1);
    std::thread::scope(|scope| {
        let handles: Vec<_> = sources
            .chunks(chunk)
            .map(|part| scope.spawn(move || part.iter().map(|s| sandbox.check(s)).collect::<Result<Vec<_>, _>>()))
            .collect();
        let mut all = Vec::with_capacity(sources.len());
        for h in handles {
            let part = h.join().map_err(|_| anyhow::anyhow!("a checking thread panicked"))??;
            all.extend(part);
        }
        Ok(all)
    })
}

/// `file:line:col: status kind: message (language, ms)`, the shape editors and terminals link.
fn human_line(file: &str, v: &Verdict) -> String {
    let status = match v.status {
        Status::Ok => "ok",
        Status::Error => "error",
        Status::Timeout => "timeout",
        Status::WaitsForInput => "waits for input",
    };
    let lang = match v.language {
        pencil_sandbox::Language::Coffeescript => "coffeescript",
        pencil_sandbox::Language::Javascript => "javascript",
    };
    let paper = if v.paper_success { "paper: success" } else { "paper: failure" };
    let paper = match &v.unchecked_load {
        Some(load) => format!("{paper}; unchecked offline: {}", load.message),
        None => paper.to_string(),
    };
    match &v.error {
        Some(e) => {
            let pos = match (e.line, e.column) {
                (Some(l), Some(c)) => format!(":{l}:{c}"),
                (Some(l), None) => format!(":{l}"),
                _ => String::new(),
            };
            format!("{file}{pos}: {status}: {}: {} ({lang}, {paper}, {:.1} ms)", e.kind, e.message, v.ms)
        }
        None => format!("{file}: {status} ({lang}, {paper}, {:.1} ms)", v.ms),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use pencil_sandbox::{Language, ProgramError};

    #[test]
    fn human_line_links_the_position() {
        let v = Verdict {
            status: Status::Error,
            paper_success: false,
            language: Language::Coffeescript,
            error: Some(ProgramError { kind: "ReferenceError".into(), message: "babyblue is not defined".into(), line: Some(2), column: Some(5) }),
            ms: 1.25,
            unchecked_load: None,
            drawing: None,
        };
        assert_eq!(
            human_line("a.coffee", &v),
            "a.coffee:2:5: error: ReferenceError: babyblue is not defined (coffeescript, paper: failure, 1.2 ms)"
        );
    }
}
