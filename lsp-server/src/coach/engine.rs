//! The loaded trace model: one ONNX Runtime session behind a mutex, used only from
//! blocking threads (never the async executor). It answers two questions: the
//! probe's backtracking risk for a trace prefix, and sampled next program states.

use pencil_core::inference::manifest::MODEL_FILE;
use pencil_core::inference::{
    continuation_log_probs, next_state_prompt_from, prefix_before_last, prefix_prompt, EditSize, GenerationRequest, InferenceError, Manifest, ModelDir,
    PrefixMemos, ProbeOutput, Sample, SamplingParams, SessionOptions,
};
use pencil_core::model::TraceTokenizer;
use pencil_core::Trace;
use serde::Deserialize;
use std::path::{Path, PathBuf};
use std::sync::{Mutex, MutexGuard, RwLock, TryLockError};
use std::time::{Duration, Instant};

/// Whose style the sampled fixes imitate.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum StudentVector {
    /// The student's own vector: the one learned on their traces
    /// (`crate::adaptation`) once there is one, until then table row 0, the
    /// unseen-student vector (the local student was never in the training data).
    #[default]
    Mine,
    /// The strong student's vector (the paper's §J), from the model directory.
    Strong,
}

/// Nucleus sampling for fixes: the paper's p = 0.9, slightly cooled.
pub const FIX_SAMPLING: SamplingParams = SamplingParams { temperature: 0.9, top_p: 0.9 };

/// Longest a quick fix waits for the model to rank it (a risk reading takes tens
/// of milliseconds; sampling takes seconds, and then the rules' order stands).
const MODEL_WAIT_FOR_RANKING: Duration = Duration::from_millis(250);

/// Bytes of the newest states read per position of the context when the model
/// ranks quick fixes (see [`ModelEngine::next_state_log_probs`]).
const BYTES_PER_TOKEN_READ: usize = 8;

/// Trace prefixes whose model state is kept for the next risk: a few titles' worth.
const REMEMBERED_PREFIXES: usize = 4;

/// The opened model and what it has read lately, under one lock.
struct Loaded {
    dir: ModelDir,
    memos: PrefixMemos,
}

/// The student's learned vector and its soft token.
#[derive(Debug, Clone, PartialEq)]
struct OwnVector {
    vector: Vec<f32>,
    soft: Vec<f32>,
}

/// A model directory opened for the coach.
pub struct ModelEngine {
    dir: PathBuf,
    model: Mutex<Loaded>,
    manifest: Manifest,
    unseen_vector: Vec<f32>,
    unseen_soft: Vec<f32>,
    strong_soft: Vec<f32>,
    own: RwLock<Option<OwnVector>>,
    title_tokens: usize,
    n_positions: usize,
    probe_threshold: Option<f32>,
}

impl std::fmt::Debug for ModelEngine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ModelEngine").field("dir", &self.dir).field("probe_threshold", &self.probe_threshold).finish()
    }
}

impl ModelEngine {
    /// Opens `dir` (blocking: hashes every file, builds the session); errors name the file.
    pub fn open(dir: &Path, options: &SessionOptions) -> Result<ModelEngine, InferenceError> {
        let model = ModelDir::open(dir, options)?;
        let unseen_vector = model.students.row_vector(0)?;
        let unseen_soft = model.students.soft_token(&unseen_vector)?;
        let strong_soft = model.students.soft_token(&model.students.strong_vector()?)?;
        Ok(ModelEngine {
            dir: dir.to_path_buf(),
            title_tokens: model.manifest.config.title_tokens,
            n_positions: model.generator.n_positions(),
            probe_threshold: model.probe.as_ref().map(|p| p.hint_threshold),
            manifest: model.manifest.clone(),
            unseen_vector,
            unseen_soft,
            strong_soft,
            own: RwLock::new(None),
            model: Mutex::new(Loaded { dir: model, memos: PrefixMemos::new(REMEMBERED_PREFIXES) }),
        })
    }

    /// The directory it was loaded from.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Whether the model directory has a backtracking probe.
    pub fn has_probe(&self) -> bool {
        self.probe_threshold.is_some()
    }

    /// The probe's hint threshold, when there is a probe.
    pub fn probe_threshold(&self) -> Option<f32> {
        self.probe_threshold
    }

    fn lock(&self) -> MutexGuard<'_, Loaded> {
        // A panic in an earlier request leaves the model itself intact.
        self.model.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// The model when it is free within `wait`: a quick fix must not wait for
    /// seconds of "Fix in my style" sampling to finish.
    fn lock_within(&self, wait: Duration) -> Option<MutexGuard<'_, Loaded>> {
        let deadline = Instant::now() + wait;
        loop {
            match self.model.try_lock() {
                Ok(guard) => return Some(guard),
                Err(TryLockError::Poisoned(p)) => return Some(p.into_inner()),
                Err(TryLockError::WouldBlock) if Instant::now() < deadline => std::thread::sleep(Duration::from_millis(5)),
                Err(TryLockError::WouldBlock) => return None,
            }
        }
    }

    /// The soft token of `vector`: for `Mine` the learned vector's when there is one.
    fn soft(&self, vector: StudentVector) -> Vec<f32> {
        match vector {
            StudentVector::Mine => self.read_own().as_ref().map_or_else(|| self.unseen_soft.clone(), |o| o.soft.clone()),
            StudentVector::Strong => self.strong_soft.clone(),
        }
    }

    fn read_own(&self) -> std::sync::RwLockReadGuard<'_, Option<OwnVector>> {
        self.own.read().unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// The model directory's manifest.
    pub fn manifest(&self) -> &Manifest {
        &self.manifest
    }

    /// What a learned vector is stored with: the sha256 of this model's `model.onnx`.
    pub fn model_sha256(&self) -> &str {
        self.manifest.files.get(MODEL_FILE).map_or("", |f| f.sha256.as_str())
    }

    /// The unseen-student vector (table row 0), where adaptation starts.
    pub fn unseen_vector(&self) -> &[f32] {
        &self.unseen_vector
    }

    /// The student's learned vector in use, if any.
    pub fn own_vector(&self) -> Option<Vec<f32>> {
        self.read_own().as_ref().map(|o| o.vector.clone())
    }

    /// Uses `vector` as the student's own from now on (`None`: the unseen-student
    /// vector again). Forgets the prefixes read with the old one.
    pub fn set_own_vector(&self, vector: Option<Vec<f32>>) -> Result<(), InferenceError> {
        let own = match vector {
            Some(v) if v.len() == self.unseen_vector.len() => {
                let soft = self.lock().dir.students.soft_token(&v)?;
                Some(OwnVector { vector: v, soft })
            }
            Some(v) => {
                return Err(InferenceError::Request(format!(
                    "a student vector of {} values, this model's have {}",
                    v.len(),
                    self.unseen_vector.len()
                )))
            }
            None => None,
        };
        let mut slot = self.own.write().unwrap_or_else(std::sync::PoisonError::into_inner);
        if *slot != own {
            *slot = own;
            drop(slot);
            self.lock().memos.clear();
        }
        Ok(())
    }

    /// The probe's reading of a trace prefix (every state so far, the newest last),
    /// with the student's own vector (learned, else the unseen-student one); `None` when the model has no probe. The model
    /// reads only what the prefixes it remembers do not cover (usually the newest
    /// state). Blocking.
    pub fn risk(&self, prefix: &Trace) -> Result<Option<ProbeOutput>, InferenceError> {
        let mut guard = self.lock();
        let Loaded { dir, memos } = &mut *guard;
        if dir.probe.is_none() {
            return Ok(None);
        }
        let ids = prefix_prompt(dir.generator.tokenizer(), prefix, self.title_tokens, self.n_positions - 1)?;
        let soft = self.soft(StudentVector::Mine);
        let (pooled, _) = memos.pooled_features(dir.probe_model(), &ids, &soft)?;
        dir.probe.as_ref().map(|p| p.predict(&pooled)).transpose()
    }

    /// Reads ahead of a run: the model reads `prefix` up to its last state (the
    /// program the student is about to run, whose time is not known yet), so the
    /// risk at the run reads only that state. Blocking; does nothing without a probe.
    pub fn prepare_risk(&self, prefix: &Trace) -> Result<(), InferenceError> {
        let mut guard = self.lock();
        let Loaded { dir, memos } = &mut *guard;
        if dir.probe.is_none() || prefix.programs.is_empty() {
            return Ok(());
        }
        if let Some(ids) = prefix_before_last(dir.generator.tokenizer(), prefix, self.title_tokens, self.n_positions - 1)? {
            let soft = self.soft(StudentVector::Mine);
            memos.pooled_features(dir.probe_model(), &ids, &soft)?;
        }
        Ok(())
    }

    /// Forgets the prefixes read so far (benchmarks measure a risk from nothing).
    pub fn forget_prefixes(&self) {
        self.lock().memos.clear();
    }

    /// Samples `n` next program states after `trace`'s last one, `size` later. Blocking.
    pub fn sample_next_states(
        &self,
        trace: &Trace,
        size: EditSize,
        vector: StudentVector,
        n: usize,
        seed: u64,
    ) -> Result<Vec<Sample>, InferenceError> {
        self.sample_next_states_with(trace, size, vector, n, seed, FIX_SAMPLING, "")
    }

    /// [`ModelEngine::sample_next_states`] with the given temperature and nucleus,
    /// the next state begun with `start` (the samples are what follows it). Blocking.
    #[allow(clippy::too_many_arguments)]
    pub fn sample_next_states_with(
        &self,
        trace: &Trace,
        size: EditSize,
        vector: StudentVector,
        n: usize,
        seed: u64,
        sampling: SamplingParams,
        start: &str,
    ) -> Result<Vec<Sample>, InferenceError> {
        let soft = self.soft(vector);
        let mut guard = self.lock();
        let current = trace.programs.last().map_or("", |p| p.code.as_str());
        let (prompt, max_new_tokens) =
            fix_prompt_from(guard.dir.generator.tokenizer(), trace, current, start, size, self.title_tokens, self.n_positions)?;
        let request = GenerationRequest {
            prompt: &prompt,
            soft_token: &soft,
            n_samples: n,
            max_new_tokens,
            sampling,
            seed,
        };
        guard.dir.generator.generate(&request)
    }

    /// How likely the student (their own vector) is to write each of
    /// `candidates` as the state after `trace`'s last one, a quick edit later:
    /// the model's log-probability of each whole next state, ending where the
    /// following state's header begins. Comparable across the candidates only.
    /// Blocking; one forward of the trace and one batch of the candidates.
    pub fn next_state_log_probs(&self, trace: &Trace, candidates: &[String]) -> Result<Vec<f64>, InferenceError> {
        let next = trace.programs.last().map_or(1, |p| p.n.saturating_add(1));
        // Only the newest states can reach the window: a token covers at least a
        // byte, and code averages several, so this many bytes (a header is about
        // 32) fill it; a long trace is not tokenized whole for every candidate.
        let room = self.n_positions.saturating_mul(BYTES_PER_TOKEN_READ);
        let mut used = 0usize;
        let newest = trace.programs.iter().rev().take_while(|p| {
            let fits = used < room;
            used = used.saturating_add(p.code.len() + 32);
            fits
        });
        let start = trace.programs.len() - newest.count();
        // Built field by field: `..trace.clone()` would copy every state first.
        let newest = Trace {
            student: trace.student.clone(),
            title: trace.title.clone(),
            programs: trace.programs[start..].to_vec(),
            eos: trace.eos,
            provenance: trace.provenance.clone(),
        };
        let soft = self.soft(StudentVector::Mine);
        let mut guard = self
            .lock_within(MODEL_WAIT_FOR_RANKING)
            .ok_or_else(|| InferenceError::Request("the model is busy (sampling); the rules' order stands".into()))?;
        let tok = guard.dir.generator.tokenizer();
        // Each candidate is the next state, written as a prompt's start up to the
        // following header; nothing is cut here, so all of them begin alike.
        let mut sequences = Vec::with_capacity(candidates.len());
        for code in candidates {
            let state = format!("{code}CODE {} (", next.saturating_add(1));
            sequences.push(next_state_prompt_from(tok, &newest, self.title_tokens, EditSize::Small, usize::MAX, &state)?);
        }
        // Too long for the context: every text loses the same oldest tokens
        // (as a prompt keeps its newest), so they still begin alike.
        let window = self.n_positions.saturating_sub(1);
        let longest = sequences.iter().map(Vec::len).max().unwrap_or(0);
        if longest > window {
            for ids in &mut sequences {
                let cut = (longest - window).min(ids.len());
                ids.drain(..cut);
            }
        }
        continuation_log_probs(guard.dir.generator.model(), self.n_positions, &sequences, &soft)
    }
}

/// The prompt for the state after `trace` and the token budget of one sample. A
/// fix rewrites the whole program, so the budget is one and a half times the
/// current program plus slack, but the prompt keeps room for the current program
/// itself and its headers ([`PROMPT_RESERVE`]); the prompt keeps its newest tokens.
/// A program too long to be read and written again in the context is refused.
pub fn fix_prompt(
    tok: &TraceTokenizer,
    trace: &Trace,
    current: &str,
    size: EditSize,
    title_tokens: usize,
    n_positions: usize,
) -> Result<(Vec<u32>, usize), InferenceError> {
    fix_prompt_from(tok, trace, current, "", size, title_tokens, n_positions)
}

/// [`fix_prompt`] with the next state begun with `start` (the first lines of the
/// current program the fix keeps): the budget covers only the rest of the program.
pub fn fix_prompt_from(
    tok: &TraceTokenizer,
    trace: &Trace,
    current: &str,
    start: &str,
    size: EditSize,
    title_tokens: usize,
    n_positions: usize,
) -> Result<(Vec<u32>, usize), InferenceError> {
    let window = n_positions.saturating_sub(1);
    let current_tokens = tok.encode(current)?.len();
    let start_tokens = if start.is_empty() { 0 } else { tok.encode(start)?.len() };
    let rest_tokens = current_tokens.saturating_sub(start_tokens);
    let reserve = title_tokens + 1 + current_tokens + PROMPT_RESERVE;
    // The model reads the program and writes it again (changed): both in one window.
    if reserve + current_tokens <= window {
        // Begun near the mistake, a sample still needs room to finish the state
        // after the edit, even when few of the student's lines are left to rejoin.
        let floor = if start.is_empty() { MIN_NEW_TOKENS } else { LONG_EDIT_TOKENS };
        let max_new_tokens = (rest_tokens * 3 / 2 + 16).max(floor).min(window - reserve).max(MIN_NEW_TOKENS.min(window / 2));
        let prompt = next_state_prompt_from(tok, trace, title_tokens, size, window - max_new_tokens, start)?;
        return Ok((prompt, max_new_tokens));
    }
    // Too long for that, but a sample begun near the mistake need not write the rest
    // again: it rejoins the student's own lines (`style_fix::splice`). The window
    // then holds the start, the edit, and as much of the program before the header
    // as is left (the prompt keeps its newest tokens, as training's sliding windows
    // begin mid-trace too).
    let fixed = title_tokens + 1 + PROMPT_RESERVE + start_tokens;
    if start.is_empty() || fixed + LONG_EDIT_TOKENS + LONG_CONTEXT_TOKENS > window {
        return Err(InferenceError::Request(format!(
            "the program is {current_tokens} tokens; this model's context of {window} tokens fits programs of at most {} tokens for a fix",
            window.saturating_sub(title_tokens + 1 + PROMPT_RESERVE) / 2
        )));
    }
    let max_new_tokens = (rest_tokens * 3 / 2 + 16).clamp(LONG_EDIT_TOKENS, window - fixed - LONG_CONTEXT_TOKENS);
    let prompt = next_state_prompt_from(tok, trace, title_tokens, size, window - max_new_tokens, start)?;
    Ok((prompt, max_new_tokens))
}

/// Fewest tokens a sample of a program too long to be written again may write:
/// room for the edit and the lines that bring it back onto the student's program.
pub const LONG_EDIT_TOKENS: usize = 96;

/// Fewest tokens of the program before the next header such a prompt keeps: the
/// model sees the lines around the mistake as they were.
pub const LONG_CONTEXT_TOKENS: usize = 128;

/// Tokens kept for the two `CODE n (time):` headers around the current program.
pub const PROMPT_RESERVE: usize = 32;

/// The smallest token budget of a sample.
pub const MIN_NEW_TOKENS: usize = 16;

#[cfg(test)]
mod tests {
    use super::*;
    use pencil_core::ProgramState;

    fn tokenizer() -> TraceTokenizer {
        let texts: Vec<String> =
            (0..20).map(|i| format!("house<mask><start>CODE {i} (2020-01-01 00:00:00):\npen red\nfd 100\n<|endoftext|>")).collect();
        TraceTokenizer::from_tokenizer(pencil_trainer::bpe::train_bpe(&texts, 300).expect("bpe")).expect("specials")
    }

    fn trace(code: &str) -> Trace {
        Trace {
            student: "s".into(),
            title: "house".into(),
            programs: vec![ProgramState { n: 1, time: "2020-01-01 00:00:00".into(), code: code.into() }],
            eos: false,
            provenance: Default::default(),
        }
    }

    #[test]
    fn the_budget_fits_the_program_and_the_prompt_keeps_it_whole() {
        let tok = tokenizer();
        let code = "pen red\nfd 100\nrt 90\n";
        let (prompt, budget) = fix_prompt(&tok, &trace(code), code, EditSize::Small, 8, 129).expect("fits");
        let program_tokens = tok.encode(code).expect("encode").len();
        assert!(budget >= program_tokens && budget <= 64, "{budget}");
        assert!(prompt.len() + budget < 129);
        let text = tok.decode(&prompt).expect("decode");
        assert!(text.contains(code) && text.ends_with("CODE 2 (2020-01-01 00:00:01):\n"), "{text}");
    }

    #[test]
    fn a_program_too_long_for_the_context_is_refused_with_the_limit() {
        let tok = tokenizer();
        let code = "fd 100\nrt 90\n".repeat(40);
        let e = fix_prompt(&tok, &trace(&code), &code, EditSize::Small, 8, 129).expect_err("too long").to_string();
        assert!(e.contains("fits programs of at most"), "{e}");
    }

    #[test]
    fn a_long_program_is_sampled_from_near_its_mistake_in_the_newest_tokens() {
        let tok = tokenizer();
        let code = "fd 100\nrt 90\n".repeat(40);
        let n_positions = 700;
        assert!(fix_prompt(&tok, &trace(&code), &code, EditSize::Small, 8, n_positions).is_err(), "too long to write again");
        // Begun 60 lines in: the prompt ends with the header and those lines.
        let start = kept_start_of(&code, 60);
        let (prompt, budget) =
            fix_prompt_from(&tok, &trace(&code), &code, &start, EditSize::Small, 8, n_positions).expect("fits from the mistake");
        assert!(budget >= LONG_EDIT_TOKENS && prompt.len() + budget < n_positions, "{} + {budget}", prompt.len());
        let text = tok.decode(&prompt).expect("decode");
        assert!(text.ends_with(&format!("CODE 2 (2020-01-01 00:00:01):\n{start}")), "{text}");
        // The program before the header is there in part: at least the promised context.
        let before = &text[..text.len() - start.len()];
        assert!(tok.encode(before).expect("encode").len() >= LONG_CONTEXT_TOKENS, "{before}");
        // A start too long to leave room for an edit is refused.
        let late = kept_start_of(&code, 78);
        assert!(fix_prompt_from(&tok, &trace(&code), &code, &late, EditSize::Small, 8, 257).is_err());
    }

    fn kept_start_of(code: &str, lines: usize) -> String {
        code.lines().take(lines).collect::<Vec<_>>().join("\n")
    }
}
