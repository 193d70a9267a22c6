//! The sandbox's verdict on each released program, for the formats that
//! carry one (ProgSnap2's `Compile`/`Run.Program` results, Parquet's columns).
//!
//! Uploads carry program text only, so the hub runs each distinct text once
//! in `pencil-sandbox`, contained in worker processes of this executable
//! (`pencil-hub sandbox-worker`), exactly as a student's editor does. The
//! verdict is on the released (scrubbed) text: a scrub that turned a name in
//! code into `<UNK>` can make a program fail that ran for the student.
//!
//! Judging a whole collection takes minutes, so the verdicts of a study's last
//! release are kept in the store by program digest ([`Verdicts::judge_all_kept`])
//! and reused by the next release, but only by the same judge: the key is the
//! SHA-256 of the hub executable whose workers judged, so a rebuilt or upgraded
//! hub (a different sandbox) judges again.

use std::collections::HashMap;
use std::sync::Mutex;

use serde::{Deserialize, Serialize};
use sha2::Digest as _;

use crate::store::Db;

use pencil_sandbox::{Isolation, ResourceLoads, Sandbox, SandboxConfig, Status, Verdict, WorkerCommand};

use super::ReleaseError;

/// The hidden subcommand of `pencil-hub` that serves as a sandbox worker process.
pub const WORKER_SUBCOMMAND: &str = "sandbox-worker";

/// How a run ended, in ProgSnap2's `ExecutionResult` words.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
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
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Fault {
    /// The JavaScript error class (`SyntaxError`, `ReferenceError`, ...).
    pub kind: String,
    pub message: String,
    /// 1-based, in the released text, when known.
    pub line: Option<u32>,
    pub column: Option<u32>,
}

/// What a release says about one program.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
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

    /// Names this judge's behaviour for the kept verdicts: verdicts kept under
    /// another name are judged again. None keeps nothing.
    fn cache_key(&self) -> Option<&str> {
        None
    }
}

/// `pencil-sandbox`, contained in worker processes of this executable.
pub struct SandboxJudge {
    sandbox: Sandbox,
    key: String,
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
        let exe = std::env::current_exe()?;
        let (exe_sha256, _) = super::file_sha256(&exe)?;
        Ok(SandboxJudge {
            sandbox: Sandbox::new(config).map_err(|e| ReleaseError::Sandbox(e.to_string()))?,
            key: format!("pencil-hub sha256:{exe_sha256}; resource loads unchecked"),
        })
    }
}

impl Judge for SandboxJudge {
    fn judge(&self, code: &str) -> Result<Outcome, ReleaseError> {
        let verdict = self.sandbox.check(code).map_err(|e| ReleaseError::Sandbox(e.to_string()))?;
        Ok(Outcome::of(&verdict))
    }

    fn cache_key(&self) -> Option<&str> {
        Some(&self.key)
    }
}

/// Verdicts by program text: each distinct text is judged once, however
/// many subjects, states or formats share it.
pub struct Verdicts<'j> {
    judge: &'j dyn Judge,
    known: HashMap<String, Outcome>,
    jobs: usize,
    judged: usize,
    reused: usize,
}

impl<'j> Verdicts<'j> {
    /// An empty table over `judge`, judging on `jobs` threads.
    pub fn new(judge: &'j dyn Judge, jobs: usize) -> Self {
        Verdicts { judge, known: HashMap::new(), jobs: jobs.max(1), judged: 0, reused: 0 }
    }

    /// [`Self::judge_all`], first taking the verdicts the store kept from the
    /// study's last release by this judge, then keeping this set for the next.
    pub fn judge_all_kept(&mut self, db: &mut dyn Db, study_id: &str, codes: &[&str]) -> Result<(), ReleaseError> {
        let Some(key) = self.judge.cache_key() else { return self.judge_all(codes) };
        let kept: HashMap<String, String> = db.cached_verdicts(study_id, key)?.into_iter().collect();
        let digests: Vec<String> = codes.iter().map(|code| code_sha256(code)).collect();
        for (code, digest) in codes.iter().zip(&digests) {
            if self.known.contains_key(*code) {
                continue;
            }
            // A row that no longer parses (an older hub's format) is judged again.
            let outcome = kept.get(digest).and_then(|json| serde_json::from_str::<Outcome>(json).ok());
            if let Some(outcome) = outcome {
                self.known.insert(code.to_string(), outcome);
                self.reused += 1;
            }
        }
        self.judge_all(codes)?;
        let rows = codes
            .iter()
            .zip(digests)
            .map(|(code, digest)| Ok((digest, serde_json::to_string(self.get(code)?)?)))
            .collect::<Result<Vec<_>, ReleaseError>>()?;
        db.replace_cached_verdicts(study_id, key, &rows)?;
        Ok(())
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
        let found = found.into_inner().unwrap_or_else(|p| p.into_inner());
        self.judged += found.len();
        self.known.extend(found);
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

    /// Programs the judge ran (not counting verdicts reused).
    pub fn judged(&self) -> usize {
        self.judged
    }

    /// Verdicts taken from the study's last release instead of judging.
    pub fn reused(&self) -> usize {
        self.reused
    }
}

/// Lowercase hex SHA-256 of a program text: the key of a kept verdict.
fn code_sha256(code: &str) -> String {
    sha2::Sha256::digest(code.as_bytes()).iter().map(|b| format!("{b:02x}")).collect()
}

/// The judge of a format that carries no verdicts: never asked.
pub struct Unused;

impl Judge for Unused {
    fn judge(&self, _code: &str) -> Result<Outcome, ReleaseError> {
        Err(ReleaseError::Sandbox("this format carries no verdicts".into()))
    }
}
