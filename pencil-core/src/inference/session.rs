//! One exported trace model in an ort session: a forward step with a KV cache.
//!
//! The graph's contract (written by `pencil-trainer export`): inputs
//! `input_ids` `[b, t]` i64, `soft_token` `[b, n_embd]`, `past_key_values.{i}.key|value`
//! `[b, heads, past, head_dim]`; outputs `logits` `[b, new, vocab]`,
//! `present.{i}.key|value`, `pooled` `[b, n_embd]`. The soft token is only
//! used when the past is empty (then `new = t + 1`, else `new = t`). The
//! probe's feature graph (`features.onnx`) keeps that contract without `logits`.

use std::path::{Path, PathBuf};

use ort::session::{builder::GraphOptimizationLevel, Session, SessionInputValue};
use ort::value::{DynValue, Tensor, ValueType};

use super::error::InferenceError;
use super::runtime;

/// How to open a session.
#[derive(Debug, Clone, Default)]
pub struct SessionOptions {
    /// The ONNX Runtime library, when not found by the usual search.
    pub library: Option<PathBuf>,
    /// Threads for one operator (`None`: ONNX Runtime's choice, one per core).
    pub intra_threads: Option<usize>,
    /// Let idle worker threads spin-wait for work. Off by default: on a
    /// 2-core machine shared with the editor, spinning workers fight the
    /// thread that feeds them and decoding gets several times slower.
    pub spin: bool,
}

/// Sizes read from the graph's own input and output declarations.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct GraphDims {
    /// Transformer blocks (pairs of past key/value inputs).
    pub n_layer: usize,
    /// Attention heads.
    pub n_head: usize,
    /// Width of one head.
    pub head_dim: usize,
    /// Residual width (the soft token's length).
    pub n_embd: usize,
    /// Vocabulary size (the logits' last dimension); 0 for a feature graph, which has no logits.
    pub vocab_size: usize,
}

/// Keys and values of every layer for the positions seen so far, batch-major.
pub struct KvCache {
    layers: Vec<(DynValue, DynValue)>,
    batch: usize,
    len: usize,
}

impl KvCache {
    /// Positions cached (the soft token included).
    pub fn len(&self) -> usize {
        self.len
    }

    /// True when nothing is cached yet (the next step prepends the soft token).
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Rows in the batch.
    pub fn batch(&self) -> usize {
        self.batch
    }
}

/// What one forward step returns.
pub struct StepOutput {
    /// Logits `[batch, positions, vocab]`, row-major (empty from a feature graph).
    pub logits: Vec<f32>,
    /// Positions computed in this step.
    pub positions: usize,
    /// Mean final hidden state over this step's positions, `[batch, n_embd]`.
    pub pooled: Vec<f32>,
    /// The cache extended by this step's positions.
    pub cache: KvCache,
}

impl StepOutput {
    /// The logits of the last position of batch row `row`.
    pub fn last_logits(&self, row: usize, vocab: usize) -> &[f32] {
        let start = (row * self.positions + self.positions - 1) * vocab;
        &self.logits[start..start + vocab]
    }
}

/// An exported trace model, ready to run.
pub struct OnnxModel {
    session: Session,
    dims: GraphDims,
    path: PathBuf,
}

impl std::fmt::Debug for OnnxModel {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OnnxModel").field("path", &self.path).field("dims", &self.dims).finish()
    }
}

impl OnnxModel {
    /// Opens `model.onnx`; errors name the file (missing, corrupt, or not a trace model).
    pub fn load(path: &Path, options: &SessionOptions) -> Result<Self, InferenceError> {
        let file_err = |reason: String| InferenceError::ModelFile { path: path.to_path_buf(), reason };
        if !path.is_file() {
            return Err(file_err("model file is missing".into()));
        }
        let env = runtime::environment(options.library.as_deref())?;
        let mut builder = Session::builder(&env)
            .map_err(|e| file_err(e.to_string()))?
            .with_optimization_level(GraphOptimizationLevel::Level3)
            .map_err(|e| file_err(e.to_string()))?;
        builder = builder.with_intra_op_spinning(options.spin).map_err(|e| file_err(e.to_string()))?;
        if let Some(n) = options.intra_threads {
            builder = builder.with_intra_threads(n).map_err(|e| file_err(e.to_string()))?;
        }
        let session = builder.commit_from_file(path).map_err(|e| file_err(format!("cannot load the ONNX graph: {e}")))?;
        let dims = read_dims(&session).map_err(|reason| InferenceError::Interface { path: path.to_path_buf(), reason })?;
        Ok(OnnxModel { session, dims, path: path.to_path_buf() })
    }

    /// The graph's sizes.
    pub fn dims(&self) -> GraphDims {
        self.dims
    }

    /// The file the session was loaded from.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// A cache with no positions, for the first step of `batch` rows.
    pub fn empty_cache(&self, batch: usize) -> Result<KvCache, InferenceError> {
        let d = self.dims;
        let shape = [batch, d.n_head, 0, d.head_dim];
        let empty = || -> Result<DynValue, InferenceError> {
            Ok(Tensor::from_array((shape, Vec::<f32>::new())).map_err(InferenceError::run)?.into_dyn())
        };
        let layers = (0..d.n_layer).map(|_| Ok((empty()?, empty()?))).collect::<Result<_, InferenceError>>()?;
        Ok(KvCache { layers, batch, len: 0 })
    }

    /// Runs `ids` (`[batch, t]`, row-major) after `cache`. `soft` (`[batch, n_embd]`)
    /// is prepended only when the cache is empty.
    pub fn forward(&mut self, ids: &[i64], soft: &[f32], cache: &KvCache) -> Result<StepOutput, InferenceError> {
        let d = self.dims;
        let batch = cache.batch;
        if batch == 0 || !ids.len().is_multiple_of(batch) || soft.len() != batch * d.n_embd {
            return Err(InferenceError::Request(format!(
                "{} ids and {} soft-token values do not fit a batch of {batch} (n_embd {})",
                ids.len(),
                soft.len(),
                d.n_embd
            )));
        }
        let t = ids.len() / batch;
        if t == 0 && !cache.is_empty() {
            return Err(InferenceError::Request("a step after the first needs at least one token".into()));
        }
        let mut inputs: Vec<(String, SessionInputValue<'_>)> = Vec::with_capacity(2 + 2 * d.n_layer);
        let ids_t = Tensor::from_array(([batch, t], ids.to_vec())).map_err(InferenceError::run)?;
        let soft_t = Tensor::from_array(([batch, d.n_embd], soft.to_vec())).map_err(InferenceError::run)?;
        inputs.push(("input_ids".into(), ids_t.into()));
        inputs.push(("soft_token".into(), soft_t.into()));
        for (i, (k, v)) in cache.layers.iter().enumerate() {
            inputs.push((format!("past_key_values.{i}.key"), k.into()));
            inputs.push((format!("past_key_values.{i}.value"), v.into()));
        }
        let mut out = self.session.run(inputs).map_err(InferenceError::run)?;
        let logits_v = out.remove("logits");
        let mut take = |name: &str| out.remove(name).ok_or_else(|| InferenceError::Run(format!("the graph gave no {name:?} output")));
        let pooled_v = take("pooled")?;
        let mut layers = Vec::with_capacity(d.n_layer);
        for i in 0..d.n_layer {
            layers.push((take(&format!("present.{i}.key"))?, take(&format!("present.{i}.value"))?));
        }
        drop(out);
        let positions = t + usize::from(cache.is_empty());
        let logits = match logits_v {
            Some(v) => v.try_extract_tensor::<f32>().map_err(InferenceError::run)?.1.to_vec(),
            None if d.vocab_size == 0 => Vec::new(),
            None => return Err(InferenceError::Run("the graph gave no \"logits\" output".into())),
        };
        let (_, pooled) = pooled_v.try_extract_tensor::<f32>().map_err(InferenceError::run)?;
        Ok(StepOutput { logits, positions, pooled: pooled.to_vec(), cache: KvCache { layers, batch, len: cache.len + positions } })
    }

    /// A cache of `n` rows, each a copy of row 0 of `cache` (to sample `n`
    /// continuations of one prompt after running it once).
    pub fn repeat_cache(&self, cache: &KvCache, n: usize) -> Result<KvCache, InferenceError> {
        let tile = |v: &DynValue| -> Result<DynValue, InferenceError> {
            let (shape, data) = v.try_extract_tensor::<f32>().map_err(InferenceError::run)?;
            let dims: Vec<usize> = shape.iter().map(|&x| usize::try_from(x).unwrap_or(0)).collect();
            let row = dims.iter().skip(1).product::<usize>();
            let first = data.get(..row).ok_or_else(|| InferenceError::Run("cache smaller than one row".into()))?;
            let tiled: Vec<f32> = (0..n).flat_map(|_| first.iter().copied()).collect();
            let mut new_dims = dims.clone();
            new_dims[0] = n;
            Ok(Tensor::from_array((new_dims, tiled)).map_err(InferenceError::run)?.into_dyn())
        };
        let layers = cache.layers.iter().map(|(k, v)| Ok((tile(k)?, tile(v)?))).collect::<Result<_, InferenceError>>()?;
        Ok(KvCache { layers, batch: n, len: cache.len })
    }
}

fn tensor_dims(ty: &ValueType) -> Option<Vec<i64>> {
    match ty {
        ValueType::Tensor { shape, .. } => Some(shape.iter().copied().collect()),
        _ => None,
    }
}

/// Reads the sizes from the declared inputs/outputs, checking the contract.
fn read_dims(session: &Session) -> Result<GraphDims, String> {
    let input = |name: &str| {
        session.inputs().iter().find(|o| o.name() == name).and_then(|o| tensor_dims(o.dtype())).ok_or(format!("no tensor input {name:?}"))
    };
    let output = |name: &str| {
        session.outputs().iter().find(|o| o.name() == name).and_then(|o| tensor_dims(o.dtype())).ok_or(format!("no tensor output {name:?}"))
    };
    input("input_ids")?;
    let soft = input("soft_token")?;
    let past = input("past_key_values.0.key")?;
    // A feature graph has no logits.
    let logits = output("logits").ok();
    output("pooled")?;
    let n_layer = session.inputs().iter().filter(|o| o.name().starts_with("past_key_values.") && o.name().ends_with(".key")).count();
    for i in 0..n_layer {
        for kind in ["key", "value"] {
            input(&format!("past_key_values.{i}.{kind}"))?;
            output(&format!("present.{i}.{kind}"))?;
        }
    }
    let fixed = |v: Option<&i64>, what: &str| usize::try_from(*v.unwrap_or(&-1)).map_err(|_| format!("{what} is not a fixed dimension"));
    Ok(GraphDims {
        n_layer,
        n_head: fixed(past.get(1), "past key heads")?,
        head_dim: fixed(past.get(3), "past key head width")?,
        n_embd: fixed(soft.get(1), "soft token width")?,
        vocab_size: match logits {
            Some(l) => fixed(l.get(2), "logits vocabulary")?,
            None => 0,
        },
    })
}
