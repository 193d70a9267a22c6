//! Causal self-attention as one CPU op with its backward pass:
//! `softmax(scale * Q K^T + causal mask) V` for every head, read straight from
//! the `[b, t, 3c]` output of the QKV projection and written as `[b, t, c]`.
//!
//! The composed form copies Q, K and V out of that buffer, materialises the
//! `[b, h, t, t]` scores and probabilities (128 MiB each per layer for
//! `small`), and its backward walks them twice more. Here each (sequence,
//! head) is one rayon task that goes through the rows in blocks of
//! [`BLOCK`]: a block's scores exist only for the columns it can see (the
//! causal mask halves the work), in a buffer the task reuses. The backward
//! recomputes a block's probabilities instead of storing them (as
//! FlashAttention does): one more small product, no `t x t` tensor kept
//! alive between the passes. Other devices and dtypes use the composed form.

use candle_core::{CpuStorage, CustomOp1, CustomOp3, DType, Layout, Result, Shape, Tensor};
use rayon::prelude::*;

use super::fused;
use super::gemm::{self, View, Write};
use super::vector_math;

/// Query rows per block: a block's scores (`BLOCK x t`) stay in cache.
const BLOCK: usize = 64;

/// Causal self-attention of `qkv` `[b, t, 3c]` (queries, keys, values, each
/// `n_head` heads of `c / n_head`) -> `[b, t, c]` (heads side by side).
pub fn causal_attention(qkv: &Tensor, n_head: usize) -> Result<Tensor> {
    if qkv.device().is_cpu() && qkv.dtype() == DType::F32 {
        return qkv.contiguous()?.apply_op1(CausalAttention { n_head });
    }
    causal_attention_composed(qkv, n_head)
}

/// The same from candle ops (and the fused causal softmax where it applies).
pub fn causal_attention_composed(qkv: &Tensor, n_head: usize) -> Result<Tensor> {
    let (b, t, c, d) = shape(qkv.dims(), n_head)?;
    let qkv = qkv.reshape((b, t, 3, n_head, d))?.permute((2, 0, 3, 1, 4))?;
    let q = qkv.get(0)?.contiguous()?;
    let k = qkv.get(1)?.contiguous()?;
    let v = qkv.get(2)?.contiguous()?;
    let att = fused::causal_softmax(&q.matmul(&k.t()?)?, 1.0 / (d as f64).sqrt())?;
    att.matmul(&v)?.transpose(1, 2)?.reshape((b, t, c))
}

/// `(b, t, c, head_dim)` of a `[b, t, 3c]` input.
fn shape(dims: &[usize], n_head: usize) -> Result<(usize, usize, usize, usize)> {
    let &[b, t, c3] = dims else { candle_core::bail!("causal attention: input must be [b, t, 3c], got {dims:?}") };
    if c3 % 3 != 0 || n_head == 0 || (c3 / 3) % n_head != 0 || c3 == 0 {
        candle_core::bail!("causal attention: width {c3} is not 3 x {n_head} heads");
    }
    Ok((b, t, c3 / 3, c3 / 3 / n_head))
}

fn f32_slice<'a>(s: &'a CpuStorage, l: &Layout) -> Result<&'a [f32]> {
    let CpuStorage::F32(data) = s else { candle_core::bail!("fused attention: needs f32") };
    let Some((a, b)) = l.contiguous_offsets() else { candle_core::bail!("fused attention: needs contiguous inputs") };
    Ok(&data[a..b])
}

/// A pointer that tasks may share because each writes elements no other touches.
#[derive(Clone, Copy)]
struct Out(*mut f32);
// SAFETY: only used to write disjoint ranges from different tasks (see `put_rows`).
unsafe impl Send for Out {}
// SAFETY: as above.
unsafe impl Sync for Out {}

/// Writes `rows` rows of `width` from `src` (packed) to `dst` at `offset`,
/// row stride `stride`. `dst` must hold `len` elements.
///
/// # Safety
/// No other thread may read or write these ranges meanwhile.
unsafe fn put_rows(dst: Out, len: usize, offset: usize, stride: usize, src: &[f32], width: usize) {
    let rows = src.len() / width;
    assert!(rows == 0 || offset + (rows - 1) * stride + width <= len, "attention rows out of range");
    for (i, row) in src.chunks_exact(width).enumerate() {
        // SAFETY: in bounds (asserted above) and not shared (the caller's promise).
        unsafe { std::ptr::copy_nonoverlapping(row.as_ptr(), dst.0.add(offset + i * stride), width) };
    }
}

/// One head of one sequence: where its Q, K and V columns start in `qkv`.
struct Head {
    q: usize,
    k: usize,
    v: usize,
    /// Where its output columns start in `[b, t, c]`.
    y: usize,
}

impl Head {
    fn new(task: usize, n_head: usize, t: usize, c: usize, d: usize) -> Self {
        let (bi, hi) = (task / n_head, task % n_head);
        let q = bi * t * 3 * c + hi * d;
        Head { q, k: q + c, v: q + 2 * c, y: bi * t * c + hi * d }
    }
}

/// Softmax probabilities of a block of rows `r0..r0 + m` over the `n`
/// columns the block's last row sees: `p` `[m, n]`, zero past each row's diagonal.
#[allow(clippy::too_many_arguments)]
fn block_probs(qkv: &[f32], h: &Head, r0: usize, m: usize, n: usize, c: usize, d: usize, scale: f32, s: &mut [f32], p: &mut [f32]) -> Result<()> {
    let c3 = 3 * c;
    gemm::matmul(s, n, View::rows(&qkv[h.q + r0 * c3..], m, d, c3), View::rows(&qkv[h.k..], n, d, c3).t(), Write::Set, 1)?;
    for i in 0..m {
        let seen = r0 + i + 1;
        let (s, p) = (&s[i * n..i * n + seen], &mut p[i * n..(i + 1) * n]);
        let shift = vector_math::max(s) * scale;
        let sum = vector_math::exp_into(s, &mut p[..seen], scale, shift);
        vector_math::scale(&mut p[..seen], 1.0 / sum);
        p[seen..].fill(0.0);
    }
    Ok(())
}

struct CausalAttention {
    n_head: usize,
}

impl CustomOp1 for CausalAttention {
    fn name(&self) -> &'static str {
        "fused-causal-attention"
    }

    fn cpu_fwd(&self, s: &CpuStorage, l: &Layout) -> Result<(CpuStorage, Shape)> {
        let qkv = f32_slice(s, l)?;
        let (b, t, c, d) = shape(l.shape().dims(), self.n_head)?;
        let scale = 1.0 / (d as f32).sqrt();
        let mut y = vec![0f32; b * t * c];
        let (out, len) = (Out(y.as_mut_ptr()), y.len());
        let scratch = || (vec![0f32; BLOCK * t], vec![0f32; BLOCK * t], vec![0f32; BLOCK * d]);
        (0..b * self.n_head).into_par_iter().try_for_each_init(scratch, |(s, p, o), task| -> Result<()> {
            let h = Head::new(task, self.n_head, t, c, d);
            for r0 in (0..t).step_by(BLOCK) {
                let (m, n) = ((t - r0).min(BLOCK), (r0 + BLOCK).min(t));
                block_probs(qkv, &h, r0, m, n, c, d, scale, s, p)?;
                gemm::matmul(o, d, View::rows(p, m, n, n), View::rows(&qkv[h.v..], n, d, 3 * c), Write::Set, 1)?;
                // SAFETY: this task alone writes head h's columns of rows r0..r0+m.
                unsafe { put_rows(out, len, h.y + r0 * c, c, &o[..m * d], d) };
            }
            Ok(())
        })?;
        Ok((CpuStorage::F32(y), Shape::from((b, t, c))))
    }

    fn bwd(&self, qkv: &Tensor, y: &Tensor, grad: &Tensor) -> Result<Option<Tensor>> {
        Ok(Some(qkv.apply_op3_no_bwd(y, &grad.contiguous()?, &CausalAttentionGrad { n_head: self.n_head })?))
    }
}

/// The gradient of [`CausalAttention`] with respect to `qkv`, from `qkv`, the
/// output `y` and its gradient `dy`.
struct CausalAttentionGrad {
    n_head: usize,
}

/// A backward task's buffers.
struct GradScratch {
    s: Vec<f32>,
    p: Vec<f32>,
    dp: Vec<f32>,
    ds: Vec<f32>,
    dq: Vec<f32>,
    dk: Vec<f32>,
    dv: Vec<f32>,
}

impl CustomOp3 for CausalAttentionGrad {
    fn name(&self) -> &'static str {
        "fused-causal-attention-grad"
    }

    fn cpu_fwd(&self, s1: &CpuStorage, l1: &Layout, s2: &CpuStorage, l2: &Layout, s3: &CpuStorage, l3: &Layout) -> Result<(CpuStorage, Shape)> {
        let (qkv, y, dy) = (f32_slice(s1, l1)?, f32_slice(s2, l2)?, f32_slice(s3, l3)?);
        let (b, t, c, d) = shape(l1.shape().dims(), self.n_head)?;
        if y.len() != b * t * c || dy.len() != y.len() {
            candle_core::bail!("fused attention grad: {} outputs and {} gradients for [{b}, {t}, {c}]", y.len(), dy.len());
        }
        let (c3, scale) = (3 * c, 1.0 / (d as f32).sqrt());
        let mut dqkv = vec![0f32; qkv.len()];
        let (out, len) = (Out(dqkv.as_mut_ptr()), dqkv.len());
        let scratch = || GradScratch {
            s: vec![0f32; BLOCK * t],
            p: vec![0f32; BLOCK * t],
            dp: vec![0f32; BLOCK * t],
            ds: vec![0f32; BLOCK * t],
            dq: vec![0f32; BLOCK * d],
            dk: vec![0f32; t * d],
            dv: vec![0f32; t * d],
        };
        (0..b * self.n_head).into_par_iter().try_for_each_init(scratch, |w, task| -> Result<()> {
            let h = Head::new(task, self.n_head, t, c, d);
            w.dk.fill(0.0);
            w.dv.fill(0.0);
            for r0 in (0..t).step_by(BLOCK) {
                let (m, n) = ((t - r0).min(BLOCK), (r0 + BLOCK).min(t));
                block_probs(qkv, &h, r0, m, n, c, d, scale, &mut w.s, &mut w.p)?;
                let dy_blk = View::rows(&dy[h.y + r0 * c..], m, d, c);
                // dV[..n] += P^T dY and dP = dY V^T.
                gemm::matmul(&mut w.dv, d, View::rows(&w.p, m, n, n).t(), dy_blk, Write::Add, 1)?;
                gemm::matmul(&mut w.dp, n, dy_blk, View::rows(&qkv[h.v..], n, d, c3).t(), Write::Set, 1)?;
                // dS = scale * P * (dP - rowsum(dY * Y)): the softmax's backward.
                for i in 0..m {
                    let (seen, row) = (r0 + i + 1, h.y + (r0 + i) * c);
                    let dot = vector_math::dot(&dy[row..row + d], &y[row..row + d]);
                    let (p, dp) = (&w.p[i * n..i * n + seen], &w.dp[i * n..i * n + seen]);
                    let ds = &mut w.ds[i * n..(i + 1) * n];
                    vector_math::softmax_grad(p, dp, &mut ds[..seen], scale, dot);
                    ds[seen..].fill(0.0);
                }
                // dQ = dS K and dK[..n] += dS^T Q.
                let ds = View::rows(&w.ds, m, n, n);
                gemm::matmul(&mut w.dq, d, ds, View::rows(&qkv[h.k..], n, d, c3), Write::Set, 1)?;
                gemm::matmul(&mut w.dk, d, ds.t(), View::rows(&qkv[h.q + r0 * c3..], m, d, c3), Write::Add, 1)?;
                // SAFETY: this task alone writes head h's query columns of these rows.
                unsafe { put_rows(out, len, h.q + r0 * c3, c3, &w.dq[..m * d], d) };
            }
            // SAFETY: this task alone writes head h's key and value columns.
            unsafe {
                put_rows(out, len, h.k, c3, &w.dk, d);
                put_rows(out, len, h.v, c3, &w.dv, d);
            }
            Ok(())
        })?;
        Ok((CpuStorage::F32(dqkv), l1.shape().clone()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::op_tests::{close, random, values};
    use candle_core::{Device, D};

    /// Attention from candle's own ops only (masked softmax), the reference.
    fn reference(qkv: &Tensor, n_head: usize) -> Tensor {
        let (b, t, c, d) = shape(qkv.dims(), n_head).expect("shape");
        let qkv = qkv.reshape((b, t, 3, n_head, d)).and_then(|x| x.permute((2, 0, 3, 1, 4))).expect("split");
        let part = |i: usize| qkv.get(i).and_then(|x| x.contiguous()).expect("part");
        let (q, k, v) = (part(0), part(1), part(2));
        let mask = fused::causal_mask(t, DType::F32, &Device::Cpu).expect("mask");
        let scores = q.matmul(&k.t().expect("t")).and_then(|s| s * (1.0 / (d as f64).sqrt())).and_then(|s| s.broadcast_add(&mask)).expect("scores");
        let att = candle_nn::ops::softmax(&scores, D::Minus1).expect("softmax");
        att.matmul(&v).and_then(|y| y.transpose(1, 2)).and_then(|y| y.reshape((b, t, c))).expect("y")
    }

    fn check(b: usize, t: usize, n_head: usize, d: usize, seed: u64) {
        let qkv = random(&[b, t, 3 * n_head * d], seed, 1.5);
        let fused = causal_attention(qkv.as_tensor(), n_head).expect("fused");
        let want = reference(qkv.as_tensor(), n_head);
        close(&values(&fused), &values(&want), 1e-5, &format!("y (t={t})"));
        let weights = random(&[b, t, n_head * d], seed + 100, 1.0);
        let loss = |y: &Tensor| (y * weights.as_tensor()).and_then(|p| p.sum_all()).and_then(|l| l.backward()).expect("bwd");
        let (ga, gb) = (loss(&fused), loss(&want));
        close(&values(ga.get(qkv.as_tensor()).expect("grad")), &values(gb.get(qkv.as_tensor()).expect("grad")), 1e-4, &format!("dqkv (t={t})"));
    }

    #[test]
    fn matches_candles_attention_in_value_and_gradient() {
        // One block, a block and a partial one, and several whole blocks.
        check(2, 9, 3, 4, 1);
        check(1, BLOCK + 7, 2, 8, 2);
        check(2, 3 * BLOCK, 2, 16, 3);
    }

    #[test]
    fn the_composed_fallback_agrees() {
        let qkv = random(&[2, 20, 24], 4, 1.0);
        let a = values(&causal_attention(qkv.as_tensor(), 2).expect("fused"));
        let b = values(&causal_attention_composed(qkv.as_tensor(), 2).expect("composed"));
        close(&a, &b, 1e-5, "y");
    }
}
