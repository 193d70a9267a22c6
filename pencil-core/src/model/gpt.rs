//! The trace model: a GPT-2-style decoder (pre-LayerNorm, learned positions,
//! GELU, tied input/output embeddings) reading a student's soft token followed
//! by the trace text's tokens.
//!
//! Position 0 holds the soft token; the hidden state at position `i` predicts
//! text token `i`. The same code trains (weights from a `VarMap`, `Mode::Train`
//! with differentiable ops) and infers (memory-mapped safetensors,
//! `Mode::Infer` with candle's fused kernels, which have no backward pass).

use candle_core::{DType, Module, Result, Tensor};
use candle_nn::{linear, Linear, VarBuilder, VarMap};

use super::config::ModelConfig;
use super::cross_entropy::masked_cross_entropy;
use super::attention::causal_attention;
use super::fused::{self, causal_mask};
use super::head_loss::head_cross_entropy;
use super::linear::linear as fused_linear;
use super::rng::SplitMix64;
use super::student::StudentEmbedding;

/// Which kernels to use: differentiable ones for training, fused ones for inference.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// Every op has a backward pass.
    Train,
    /// Fused softmax and LayerNorm (no gradients).
    Infer,
}

#[derive(Debug, Clone)]
struct LayerNorm {
    weight: Tensor,
    bias: Tensor,
    eps: f64,
}

impl LayerNorm {
    fn load(vb: VarBuilder, size: usize, eps: f64) -> Result<Self> {
        let weight = vb.get(size, "weight")?;
        let bias = vb.get(size, "bias")?;
        Ok(LayerNorm { weight, bias, eps })
    }

    fn forward(&self, x: &Tensor, mode: Mode) -> Result<Tensor> {
        match mode {
            Mode::Train => fused::layer_norm(x, &self.weight, &self.bias, self.eps as f32),
            Mode::Infer => candle_nn::ops::layer_norm(&x.contiguous()?, &self.weight, &self.bias, self.eps as f32),
        }
    }
}

/// A linear layer applied to `[b, t, c]` as one `[b*t, c]` matrix product:
/// candle's `Linear` broadcasts its weight over the batch instead, and its
/// backward pass then sums a weight-sized gradient per batch row. Training
/// goes through the fused op, whose backward skips frozen weights' gradients.
#[derive(Debug, Clone)]
struct Dense(Linear);

impl Dense {
    fn load(in_dim: usize, out_dim: usize, vb: VarBuilder) -> Result<Self> {
        Ok(Dense(linear(in_dim, out_dim, vb)?))
    }

    fn forward(&self, x: &Tensor, mode: Mode) -> Result<Tensor> {
        if mode == Mode::Train {
            // The fused op takes [b, t, c] as it is: reshapes here would be two
            // more graph nodes, each a zero-filled gradient plus an add in backprop.
            return fused_linear(x, &self.0);
        }
        let (b, t, c) = x.dims3()?;
        let y = self.0.forward(&x.reshape((b * t, c))?)?;
        let out = y.dim(1)?;
        y.reshape((b, t, out))
    }
}

#[derive(Debug, Clone)]
struct Attention {
    c_attn: Dense,
    c_proj: Dense,
    n_head: usize,
    head_dim: usize,
}

impl Attention {
    fn load(vb: VarBuilder, cfg: &ModelConfig) -> Result<Self> {
        Ok(Attention {
            c_attn: Dense::load(cfg.n_embd, 3 * cfg.n_embd, vb.pp("c_attn"))?,
            c_proj: Dense::load(cfg.n_embd, cfg.n_embd, vb.pp("c_proj"))?,
            n_head: cfg.n_head,
            head_dim: cfg.head_dim(),
        })
    }

    fn forward(&self, x: &Tensor, mode: Mode) -> Result<Tensor> {
        let (b, t, c) = x.dims3()?;
        let qkv = self.c_attn.forward(x, mode)?;
        let y = match mode {
            // One op from the QKV buffer to the heads' outputs (attention.rs).
            Mode::Train => causal_attention(&qkv, self.n_head)?,
            Mode::Infer => {
                let qkv = qkv.reshape((b, t, 3, self.n_head, self.head_dim))?.permute((2, 0, 3, 1, 4))?;
                let q = qkv.get(0)?.contiguous()?;
                let k = qkv.get(1)?.contiguous()?;
                let v = qkv.get(2)?.contiguous()?;
                let scale = 1.0 / (self.head_dim as f64).sqrt();
                let scores = (q.matmul(&k.t()?)? * scale)?.broadcast_add(&causal_mask(t, x.dtype(), x.device())?)?;
                candle_nn::ops::softmax_last_dim(&scores)?.matmul(&v)?.transpose(1, 2)?.reshape((b, t, c))?
            }
        };
        self.c_proj.forward(&y, mode)
    }
}

#[derive(Debug, Clone)]
struct Mlp {
    c_fc: Dense,
    c_proj: Dense,
}

impl Mlp {
    fn load(vb: VarBuilder, cfg: &ModelConfig) -> Result<Self> {
        Ok(Mlp {
            c_fc: Dense::load(cfg.n_embd, 4 * cfg.n_embd, vb.pp("c_fc"))?,
            c_proj: Dense::load(4 * cfg.n_embd, cfg.n_embd, vb.pp("c_proj"))?,
        })
    }

    fn forward(&self, x: &Tensor, mode: Mode) -> Result<Tensor> {
        let h = self.c_fc.forward(x, mode)?;
        let h = match mode {
            Mode::Train => fused::gelu(&h)?,
            Mode::Infer => h.gelu()?,
        };
        self.c_proj.forward(&h, mode)
    }
}

#[derive(Debug, Clone)]
struct Block {
    ln_1: LayerNorm,
    attn: Attention,
    ln_2: LayerNorm,
    mlp: Mlp,
}

impl Block {
    fn load(vb: VarBuilder, cfg: &ModelConfig) -> Result<Self> {
        Ok(Block {
            ln_1: LayerNorm::load(vb.pp("ln_1"), cfg.n_embd, cfg.layer_norm_eps)?,
            attn: Attention::load(vb.pp("attn"), cfg)?,
            ln_2: LayerNorm::load(vb.pp("ln_2"), cfg.n_embd, cfg.layer_norm_eps)?,
            mlp: Mlp::load(vb.pp("mlp"), cfg)?,
        })
    }

    fn forward(&self, x: &Tensor, mode: Mode) -> Result<Tensor> {
        let x = (x + self.attn.forward(&self.ln_1.forward(x, mode)?, mode)?)?;
        &x + self.mlp.forward(&self.ln_2.forward(&x, mode)?, mode)?
    }
}

/// The trace model with its student embedding module.
#[derive(Debug, Clone)]
pub struct TraceModel {
    wte: Tensor,
    wpe: Tensor,
    blocks: Vec<Block>,
    ln_f: LayerNorm,
    /// The student embedding module (table -> MLP -> soft token).
    pub student: StudentEmbedding,
    cfg: ModelConfig,
}

impl TraceModel {
    /// Builds the model from `vb` (weights named as in GPT-2: `wte`, `wpe`,
    /// `h.{i}.attn.c_attn`, ..., `ln_f`, plus `student.*`).
    pub fn load(vb: VarBuilder, cfg: &ModelConfig) -> Result<Self> {
        cfg.validate().map_err(candle_core::Error::msg)?;
        let wte = vb.pp("wte").get((cfg.vocab_size, cfg.n_embd), "weight")?;
        let wpe = vb.pp("wpe").get((cfg.n_positions(), cfg.n_embd), "weight")?;
        let blocks = (0..cfg.n_layer).map(|i| Block::load(vb.pp(format!("h.{i}")), cfg)).collect::<Result<Vec<_>>>()?;
        let ln_f = LayerNorm::load(vb.pp("ln_f"), cfg.n_embd, cfg.layer_norm_eps)?;
        let student = StudentEmbedding::load(vb.pp("student"), cfg)?;
        Ok(TraceModel { wte, wpe, blocks, ln_f, student, cfg: cfg.clone() })
    }

    /// The model's configuration.
    pub fn config(&self) -> &ModelConfig {
        &self.cfg
    }

    /// Final hidden states `[b, t+1, n_embd]` for token ids `[b, t]` (u32)
    /// after soft tokens `[b, n_embd]`.
    pub fn hidden(&self, ids: &Tensor, soft: &Tensor, mode: Mode) -> Result<Tensor> {
        let (b, t) = ids.dims2()?;
        let len = t + 1;
        if len > self.cfg.n_positions() {
            candle_core::bail!("sequence of {t} tokens exceeds the context of {}", self.cfg.context);
        }
        let tok = self.wte.index_select(&ids.flatten_all()?, 0)?.reshape((b, t, self.cfg.n_embd))?;
        let soft = soft.reshape((b, 1, self.cfg.n_embd))?.to_dtype(tok.dtype())?;
        let x = Tensor::cat(&[&soft, &tok], 1)?;
        let mut x = x.broadcast_add(&self.wpe.narrow(0, 0, len)?)?;
        for block in &self.blocks {
            x = block.forward(&x, mode)?;
        }
        self.ln_f.forward(&x, mode)
    }

    /// Next-token logits `[b, t+1, vocab]`: position `i` predicts text token `i`.
    pub fn logits(&self, ids: &Tensor, soft: &Tensor, mode: Mode) -> Result<Tensor> {
        let h = self.hidden(ids, soft, mode)?;
        self.logits_of_hidden(&h)
    }

    /// Logits from hidden states `[b, t, n_embd]` through the tied embedding.
    pub fn logits_of_hidden(&self, h: &Tensor) -> Result<Tensor> {
        let (b, t, c) = h.dims3()?;
        h.reshape((b * t, c))?.matmul(&self.wte.t()?)?.reshape((b, t, self.cfg.vocab_size))
    }

    /// Mean cross-entropy of a window batch: `ids` `[b, t]` are the text tokens,
    /// `rows` `[b]` the student table rows, `weights` `[b, t]` (f32) 1 where a
    /// token counts in the loss and 0 where it does not (padding).
    /// The model reads `ids[.., ..t-1]` after the soft token and predicts all `t`.
    pub fn loss(&self, ids: &Tensor, rows: &Tensor, weights: &Tensor, mode: Mode) -> Result<Tensor> {
        let soft = self.student.soft_token_for_rows(rows)?;
        self.loss_with_soft(ids, &soft, weights, mode)
    }

    /// As [`TraceModel::loss`], with soft tokens `[b, n_embd]` given directly
    /// (for fitting a new student's vector).
    pub fn loss_with_soft(&self, ids: &Tensor, soft: &Tensor, weights: &Tensor, mode: Mode) -> Result<Tensor> {
        let (b, t) = ids.dims2()?;
        let inputs = ids.narrow(1, 0, t - 1)?;
        if mode == Mode::Train {
            // Head and loss as one op: the [b*t, vocab] logits never exist whole (head_loss.rs).
            let h = self.hidden(&inputs, soft, mode)?.reshape((b * t, self.cfg.n_embd))?;
            return head_cross_entropy(&h, &self.wte, &ids.flatten_all()?, &weights.flatten_all()?);
        }
        let logits = self.logits(&inputs, soft, mode)?.reshape((b * t, self.cfg.vocab_size))?;
        masked_cross_entropy(&logits.to_dtype(DType::F32)?, &ids.flatten_all()?, &weights.flatten_all()?)
    }
}

/// Sets every weight of a freshly built model to GPT-2's initialisation,
/// reproducibly from `seed`: normal(0, 0.02) for matrices and embeddings,
/// scaled by 1/sqrt(2 n_layer) for residual projections, zero biases, unit
/// LayerNorm gains. Variables are visited in name order.
pub fn init_weights(varmap: &VarMap, cfg: &ModelConfig, seed: u64) -> Result<()> {
    let data = varmap.data().lock().map_err(|_| candle_core::Error::msg("variable map lock poisoned"))?;
    let mut names: Vec<&String> = data.keys().collect();
    names.sort();
    let mut rng = SplitMix64::for_purpose(seed, "init");
    let residual_std = 0.02 / (2.0 * cfg.n_layer as f64).sqrt();
    for name in names {
        let Some(var) = data.get(name) else { continue };
        let shape = var.shape().clone();
        let n = shape.elem_count();
        let is_ln = name.contains("ln_");
        let values: Vec<f32> = if name.ends_with(".bias") {
            vec![0.0; n]
        } else if is_ln {
            vec![1.0; n]
        } else {
            let std = if name.ends_with("c_proj.weight") { residual_std } else { 0.02 };
            (0..n).map(|_| (rng.normal() * std) as f32).collect()
        };
        let t = Tensor::from_vec(values, shape, var.device())?.to_dtype(var.dtype())?;
        var.set(&t)?;
    }
    Ok(())
}
