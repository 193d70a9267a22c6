//! The sandbox's verdict on each released program, for the formats that
//! carry one (ProgSnap2's `Compile`/`Run.Program` results, Parquet's columns).
//!
//! Uploads carry program text only, so the hub runs each distinct text once
//! in `pencil-sandbox`, contained in worker processes of this executable
//! (`pencil-hub sandbox-worker`), exactly as a student's editor does. The
//! verdict is on the released (scrubbed) text: a scrub that turned a name in
//! code into `<UNK>` can make a program fail that ran for the student.

use std::collections::HashMap;
use std::sync::Mutex;

use pencil_sandbox::{Isolation, ResourceLoads, Sandbox, SandboxConfig, Status, Verdict, WorkerCommand};

use super::ReleaseError;

/// The hidden subcommand of `pencil-hub` that serves as a sandbox worker process.
pub const WORKER_SUBCOMMAND: &str = "sandbox-worker";

/// How a run ended, in ProgSnap2's `ExecutionResult` words.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RunResult {
    /// Ran to its end (or stopped, without error, waiting for input).
    Success,
    /// A compile or runtime error ended it.
    Error,
    /// It ran past the sandbox's time budget.
    Timeout,
}

impl RunResult {
    /// The ProgSnap2 enum value.
    pub fn as_str(self) -> &'static str {
        match self {
            RunResult::Success => "Success",
            RunResult::Error => "Error",
            RunResult::Timeout => "Timeout",
        }
    }
}

/// The first error of a program, where the sandbox found it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fault {
    /// The JavaScript error class (`SyntaxError`, `ReferenceError`, ...).
    pub kind: String,
    pub message: String,
    /// 1-based, in the released text, when known.
    pub line: Option<u32>,
    pub column: Option<u32>,
}

/// What a release says about one program.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Outcome {
    pub result: RunResult,
    /// The program did not compile (its error is a `SyntaxError`).
    pub compile_failed: bool,
    pub fault: Option<Fault>,
}

impl Outcome {
    /// The release's reading of a sandbox verdict.
    pub fn of(verdict: &Verdict) -> Outcome {
        let result = match verdict.status {
            Status::Ok | Status::WaitsForInput => RunResult::Success,
            Status::Error => RunResult::Error,
            Status::Timeout => RunResult::Timeout,
        };
        let fault = verdict.error.as_ref().map(|e| Fault {
            kind: e.kind.clone(),
            message: e.message.clone(),
            line: e.line,
            column: e.column,
        });
        let compile_failed = result == RunResult::Error && fault.as_ref().is_some_and(|f| f.kind == "SyntaxError");
        Outcome { result, compile_failed, fault }
    }
}

/// Gives verdicts; shared by the threads of [`Verdicts::judge_all`].
pub trait Judge: Sync {
    /// The verdict on one program text.
    fn judge(&self, code: &str) -> Result<Outcome, ReleaseError>;
}

/// `pencil-sandbox`, contained in worker processes of this executable.
pub struct SandboxJudge {
    sandbox: Sandbox,
}

impl SandboxJudge {
    /// Starts `jobs` workers (`pencil-hub sandbox-worker`), with the settings
    /// a student's editor uses: a resource that cannot load offline is not the
    /// program's error.
    pub fn start(jobs: usize) -> Result<SandboxJudge, ReleaseError> {
        let config = SandboxConfig {
            resource_loads: ResourceLoads::Unchecked,
            isolation: Isolation::Process(WorkerCommand::current_exe([WORKER_SUBCOMMAND])),
            pool_size: jobs.max(1),
            ..SandboxConfig::default()
        };
        Ok(SandboxJudge { sandbox: Sandbox::new(config).map_err(|e| ReleaseError::Sandbox(e.to_string()))? })
    }
}

impl Judge for SandboxJudge {
    fn judge(&self, code: &str) -> Result<Outcome, ReleaseError> {
        let verdict = self.sandbox.check(code).map_err(|e| ReleaseError::Sandbox(e.to_string()))?;
        Ok(Outcome::of(&verdict))
    }
}

/// Verdicts by program text: each distinct text is judged once, however
/// many subjects, states or formats share it.
pub struct Verdicts<'j> {
    judge: &'j dyn Judge,
    known: HashMap<String, Outcome>,
    jobs: usize,
}

impl<'j> Verdicts<'j> {
    /// An empty table over `judge`, judging on `jobs` threads.
    pub fn new(judge: &'j dyn Judge, jobs: usize) -> Self {
        Verdicts { judge, known: HashMap::new(), jobs: jobs.max(1) }
    }

    /// Judges every text not judged before.
    pub fn judge_all(&mut self, codes: &[&str]) -> Result<(), ReleaseError> {
        let todo: Vec<&str> = codes.iter().copied().filter(|c| !self.known.contains_key(*c)).collect();
        let next = Mutex::new(0usize);
        let found = Mutex::new(Vec::with_capacity(todo.len()));
        let judge = self.judge;
        std::thread::scope(|scope| -> Result<(), ReleaseError> {
            let workers: Vec<_> = (0..self.jobs)
                .map(|_| {
                    scope.spawn(|| -> Result<(), ReleaseError> {
                        loop {
                            let i = {
                                let mut n = next.lock().unwrap_or_else(|p| p.into_inner());
                                let i = *n;
                                *n += 1;
                                i
                            };
                            let Some(code) = todo.get(i) else { return Ok(()) };
                            let outcome = judge.judge(code)?;
                            found.lock().unwrap_or_else(|p| p.into_inner()).push((code.to_string(), outcome));
                        }
                    })
                })
                .collect();
            for w in workers {
                w.join().map_err(|_| ReleaseError::Sandbox("a judging thread panicked".into()))??;
            }
            Ok(())
        })?;
        self.known.extend(found.into_inner().unwrap_or_else(|p| p.into_inner()));
        Ok(())
    }

    /// The verdict on a text given to [`Self::judge_all`].
    pub fn get(&self, code: &str) -> Result<&Outcome, ReleaseError> {
        self.known.get(code).ok_or_else(|| ReleaseError::Sandbox("a program was released without a verdict".into()))
    }

    /// Distinct texts judged so far.
    pub fn len(&self) -> usize {
        self.known.len()
    }

    /// Whether nothing was judged yet.
    pub fn is_empty(&self) -> bool {
        self.known.is_empty()
    }
}

/// The judge of a format that carries no verdicts: never asked.
pub struct Unused;

impl Judge for Unused {
    fn judge(&self, _code: &str) -> Result<Outcome, ReleaseError> {
        Err(ReleaseError::Sandbox("this format carries no verdicts".into()))
    }
}
