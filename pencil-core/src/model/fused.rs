//! Fused CPU kernels for training: GELU, the causal attention softmax and
//! LayerNorm, each with its backward pass.
//!
//! candle composes these from element-wise ops (LayerNorm's differentiable
//! form is eight of them, GELU's backward seven, the softmax's five more with
//! the mask and scale), each allocating a full-size temporary and walking
//! memory once: in a profile of `small` they took over half of a training
//! step. Here each is one pass over a row for the forward and one for the
//! backward, split across rows on rayon's pool. Other devices and dtypes use
//! the composed forms, which the tests compare these against (value and
//! gradient).

use candle_core::{CpuStorage, CustomOp1, CustomOp2, CustomOp3, DType, Layout, Result, Shape, Tensor, D};
use rayon::prelude::*;

use super::vector_math;

/// Rows per rayon task: below this, splitting costs more than it saves.
const MIN_ELEMS_PER_TASK: usize = 16 * 1024;

fn fused_here(t: &Tensor) -> bool {
    t.device().is_cpu() && t.dtype() == DType::F32
}

fn contiguous_f32<'a>(s: &'a CpuStorage, l: &Layout, op: &str) -> Result<&'a [f32]> {
    let CpuStorage::F32(data) = s else { candle_core::bail!("{op}: needs f32") };
    let Some((a, b)) = l.contiguous_offsets() else { candle_core::bail!("{op}: needs a contiguous input") };
    Ok(&data[a..b])
}

/// Two contiguous f32 inputs of one length: a value and its gradient.
fn value_and_grad<'a>(s1: &'a CpuStorage, l1: &Layout, s2: &'a CpuStorage, l2: &Layout, op: &str) -> Result<(&'a [f32], &'a [f32])> {
    let (x, g) = (contiguous_f32(s1, l1, op)?, contiguous_f32(s2, l2, op)?);
    if x.len() != g.len() {
        candle_core::bail!("{op}: {} values, {} gradients", x.len(), g.len());
    }
    Ok((x, g))
}

/// Rows of `width` per task so that each task has enough work.
fn rows_per_task(width: usize) -> usize {
    (MIN_ELEMS_PER_TASK / width.max(1)).max(1)
}

// ---------------------------------------------------------------- GELU

/// GELU with the tanh approximation (as candle's `gelu`), fused on the CPU.
pub fn gelu(x: &Tensor) -> Result<Tensor> {
    if fused_here(x) {
        x.contiguous()?.apply_op1(Gelu)
    } else {
        x.gelu()
    }
}

struct Gelu;

impl CustomOp1 for Gelu {
    fn name(&self) -> &'static str {
        "fused-gelu"
    }

    fn cpu_fwd(&self, s: &CpuStorage, l: &Layout) -> Result<(CpuStorage, Shape)> {
        let x = contiguous_f32(s, l, "fused gelu")?;
        let mut out = vec![0f32; x.len()];
        out.par_chunks_mut(MIN_ELEMS_PER_TASK)
            .zip(x.par_chunks(MIN_ELEMS_PER_TASK))
            .for_each(|(o, x)| vector_math::gelu(x, o));
        Ok((CpuStorage::F32(out), l.shape().clone()))
    }

    fn bwd(&self, arg: &Tensor, _res: &Tensor, grad: &Tensor) -> Result<Option<Tensor>> {
        Ok(Some(arg.apply_op2_no_bwd(&grad.contiguous()?, &GeluGrad)?))
    }
}

/// `grad * gelu'(x)`.
struct GeluGrad;

impl CustomOp2 for GeluGrad {
    fn name(&self) -> &'static str {
        "fused-gelu-grad"
    }

    fn cpu_fwd(&self, s1: &CpuStorage, l1: &Layout, s2: &CpuStorage, l2: &Layout) -> Result<(CpuStorage, Shape)> {
        let (x, g) = value_and_grad(s1, l1, s2, l2, "fused gelu grad")?;
        let mut out = vec![0f32; x.len()];
        out.par_chunks_mut(MIN_ELEMS_PER_TASK)
            .zip(x.par_chunks(MIN_ELEMS_PER_TASK).zip(g.par_chunks(MIN_ELEMS_PER_TASK)))
            .for_each(|(o, (x, g))| vector_math::gelu_grad(x, g, o));
        Ok((CpuStorage::F32(out), l1.shape().clone()))
    }
}

// ---------------------------------------------------------------- causal softmax

/// `softmax(scale * scores + causal mask)` over the last dimension of
/// `scores` `[.., t, t]`: row `i` of each `t x t` matrix sees columns `0..=i`.
pub fn causal_softmax(scores: &Tensor, scale: f64) -> Result<Tensor> {
    let t = scores.dim(D::Minus1)?;
    if scores.dim(D::Minus2)? != t {
        candle_core::bail!("causal softmax: scores must be square in their last two dimensions, got {:?}", scores.dims());
    }
    if fused_here(scores) {
        return scores.contiguous()?.apply_op1(CausalSoftmax { scale: scale as f32 });
    }
    let mask = causal_mask(t, scores.dtype(), scores.device())?;
    candle_nn::ops::softmax(&(scores * scale)?.broadcast_add(&mask)?, D::Minus1)
}

/// Additive causal mask `[t, t]`: 0 on and below the diagonal, -inf above.
pub fn causal_mask(t: usize, dtype: DType, device: &candle_core::Device) -> Result<Tensor> {
    let data: Vec<f32> = (0..t).flat_map(|i| (0..t).map(move |j| if j > i { f32::NEG_INFINITY } else { 0.0 })).collect();
    Tensor::from_vec(data, (t, t), device)?.to_dtype(dtype)
}

struct CausalSoftmax {
    scale: f32,
}

impl CustomOp1 for CausalSoftmax {
    fn name(&self) -> &'static str {
        "fused-causal-softmax"
    }

    fn cpu_fwd(&self, s: &CpuStorage, l: &Layout) -> Result<(CpuStorage, Shape)> {
        let x = contiguous_f32(s, l, "fused causal softmax")?;
        let t = l.shape().dims().last().copied().unwrap_or(1).max(1);
        let mut out = vec![0f32; x.len()];
        let per = rows_per_task(t);
        out.par_chunks_mut(per * t).zip(x.par_chunks(per * t)).enumerate().for_each(|(task, (o, x))| {
            for (k, (o, x)) in o.chunks_exact_mut(t).zip(x.chunks_exact(t)).enumerate() {
                let i = (task * per + k) % t;
                let (seen, o) = (&x[..=i], &mut o[..=i]);
                let m = vector_math::max(seen) * self.scale;
                let sum = vector_math::exp_into(seen, o, self.scale, m);
                vector_math::scale(o, 1.0 / sum);
            }
        });
        Ok((CpuStorage::F32(out), l.shape().clone()))
    }

    fn bwd(&self, _arg: &Tensor, res: &Tensor, grad: &Tensor) -> Result<Option<Tensor>> {
        Ok(Some(res.apply_op2_no_bwd(&grad.contiguous()?, &SoftmaxGrad { scale: self.scale })?))
    }
}

/// `scale * y * (g - sum(g * y))` row by row, from the softmax `y` and its gradient `g`.
struct SoftmaxGrad {
    scale: f32,
}

impl CustomOp2 for SoftmaxGrad {
    fn name(&self) -> &'static str {
        "fused-causal-softmax-grad"
    }

    fn cpu_fwd(&self, s1: &CpuStorage, l1: &Layout, s2: &CpuStorage, l2: &Layout) -> Result<(CpuStorage, Shape)> {
        let (y, g) = value_and_grad(s1, l1, s2, l2, "fused softmax grad")?;
        let t = l1.shape().dims().last().copied().unwrap_or(1).max(1);
        let per = rows_per_task(t);
        let mut out = vec![0f32; y.len()];
        out.par_chunks_mut(per * t)
            .zip(y.par_chunks(per * t).zip(g.par_chunks(per * t)))
            .enumerate()
            .for_each(|(task, (o, (y, g)))| {
                for (k, ((o, y), g)) in o.chunks_exact_mut(t).zip(y.chunks_exact(t)).zip(g.chunks_exact(t)).enumerate() {
                    // Row i's softmax is zero past column i, and so is its gradient.
                    let i = (task * per + k) % t;
                    let (y, g) = (&y[..=i], &g[..=i]);
                    vector_math::softmax_grad(y, g, &mut o[..=i], self.scale, vector_math::dot(y, g));
                }
            });
        Ok((CpuStorage::F32(out), l1.shape().clone()))
    }
}

// ---------------------------------------------------------------- LayerNorm

/// LayerNorm over the last dimension with gain `w` and bias `b` `[c]`.
pub fn layer_norm(x: &Tensor, w: &Tensor, b: &Tensor, eps: f32) -> Result<Tensor> {
    if fused_here(x) && fused_here(w) && fused_here(b) {
        return x.contiguous()?.apply_op3(&w.contiguous()?, &b.contiguous()?, LayerNorm { eps });
    }
    candle_nn::ops::layer_norm_slow(x, w, b, eps)
}

struct LayerNorm {
    eps: f32,
}

/// Mean and 1/sqrt(variance + eps) of a row (variance over the row, as PyTorch).
fn moments(x: &[f32], eps: f32) -> (f32, f32) {
    let n = x.len() as f32;
    let mean = x.iter().sum::<f32>() / n;
    let var = x.iter().map(|&a| (a - mean) * (a - mean)).sum::<f32>() / n;
    (mean, 1.0 / (var + eps).sqrt())
}

fn check_ln(x: &[f32], w: &[f32], b: &[f32]) -> Result<usize> {
    let c = w.len();
    if c == 0 || b.len() != c || !x.len().is_multiple_of(c) {
        candle_core::bail!("fused layer norm: {} values for {} gains and {} biases", x.len(), c, b.len());
    }
    Ok(c)
}

impl CustomOp3 for LayerNorm {
    fn name(&self) -> &'static str {
        "fused-layer-norm"
    }

    fn cpu_fwd(&self, s1: &CpuStorage, l1: &Layout, s2: &CpuStorage, l2: &Layout, s3: &CpuStorage, l3: &Layout) -> Result<(CpuStorage, Shape)> {
        let x = contiguous_f32(s1, l1, "fused layer norm")?;
        let w = contiguous_f32(s2, l2, "fused layer norm")?;
        let b = contiguous_f32(s3, l3, "fused layer norm")?;
        let c = check_ln(x, w, b)?;
        let per = rows_per_task(c);
        let mut out = vec![0f32; x.len()];
        out.par_chunks_mut(per * c).zip(x.par_chunks(per * c)).for_each(|(o, x)| {
            for (o, x) in o.chunks_exact_mut(c).zip(x.chunks_exact(c)) {
                let (mean, rstd) = moments(x, self.eps);
                for (((o, &x), &w), &b) in o.iter_mut().zip(x).zip(w).zip(b) {
                    *o = (x - mean) * rstd * w + b;
                }
            }
        });
        Ok((CpuStorage::F32(out), l1.shape().clone()))
    }

    fn bwd(&self, x: &Tensor, w: &Tensor, _b: &Tensor, _res: &Tensor, grad: &Tensor) -> Result<(Option<Tensor>, Option<Tensor>, Option<Tensor>)> {
        // One pass gives all three gradients, packed as rows: dx, then dw, then db.
        let c = w.dim(0)?;
        let rows = x.elem_count() / c.max(1);
        let packed = x.apply_op3_no_bwd(w, &grad.contiguous()?, &LayerNormGrad { eps: self.eps })?;
        let dx = packed.narrow(0, 0, rows)?.reshape(x.shape())?;
        let dw = packed.narrow(0, rows, 1)?.reshape(c)?;
        let db = packed.narrow(0, rows + 1, 1)?.reshape(c)?;
        Ok((Some(dx), Some(dw), Some(db)))
    }
}

/// LayerNorm's backward from `x`, `w` and the output gradient `g`: a
/// `[rows + 2, c]` tensor holding dx, then dw, then db.
struct LayerNormGrad {
    eps: f32,
}

impl CustomOp3 for LayerNormGrad {
    fn name(&self) -> &'static str {
        "fused-layer-norm-grad"
    }

    fn cpu_fwd(&self, s1: &CpuStorage, l1: &Layout, s2: &CpuStorage, l2: &Layout, s3: &CpuStorage, l3: &Layout) -> Result<(CpuStorage, Shape)> {
        let (x, g) = value_and_grad(s1, l1, s3, l3, "fused layer norm grad")?;
        let w = contiguous_f32(s2, l2, "fused layer norm grad")?;
        let c = check_ln(x, w, w)?;
        let rows = x.len() / c;
        let per = rows_per_task(c);
        let mut out = vec![0f32; (rows + 2) * c];
        let (dx, sums) = out.split_at_mut(rows * c);
        let partial: Vec<Vec<f32>> = dx
            .par_chunks_mut(per * c)
            .zip(x.par_chunks(per * c).zip(g.par_chunks(per * c)))
            .map(|(dx, (x, g))| {
                // dw then db, summed over this task's rows.
                let mut acc = vec![0f32; 2 * c];
                let mut xhat = vec![0f32; c];
                for ((dx, x), g) in dx.chunks_exact_mut(c).zip(x.chunks_exact(c)).zip(g.chunks_exact(c)) {
                    let (mean, rstd) = moments(x, self.eps);
                    let (mut mean_gw, mut mean_gw_xhat) = (0f32, 0f32);
                    for (k, ((&x, &g), &w)) in x.iter().zip(g).zip(w).enumerate() {
                        let h = (x - mean) * rstd;
                        xhat[k] = h;
                        acc[k] += g * h;
                        acc[c + k] += g;
                        mean_gw += g * w;
                        mean_gw_xhat += g * w * h;
                    }
                    mean_gw /= c as f32;
                    mean_gw_xhat /= c as f32;
                    for (((dx, &g), &w), &h) in dx.iter_mut().zip(g).zip(w).zip(&xhat) {
                        *dx = rstd * (g * w - mean_gw - h * mean_gw_xhat);
                    }
                }
                acc
            })
            .collect();
        for acc in partial {
            for (s, a) in sums.iter_mut().zip(acc) {
                *s += a;
            }
        }
        Ok((CpuStorage::F32(out), Shape::from((rows + 2, c))))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::op_tests::{close, random, values};
    use candle_core::Device;

    /// A loss that weighs every output differently, so every gradient entry matters.
    fn weighted_sum(y: &Tensor, seed: u64) -> Tensor {
        let w = random(y.dims(), seed, 1.0);
        (y * w.as_tensor()).and_then(|p| p.sum_all()).expect("loss")
    }

    #[test]
    fn gelu_matches_candles_in_value_and_gradient() {
        let x = random(&[3, 5, 70], 1, 2.5);
        let (fused, composed) = (gelu(x.as_tensor()).expect("fused"), x.as_tensor().gelu().expect("composed"));
        close(&values(&fused), &values(&composed), 1e-5, "gelu");
        let ga = weighted_sum(&fused, 9).backward().expect("bwd");
        let gb = weighted_sum(&composed, 9).backward().expect("bwd");
        close(&values(ga.get(x.as_tensor()).expect("grad")), &values(gb.get(x.as_tensor()).expect("grad")), 1e-4, "gelu grad");
    }

    #[test]
    fn causal_softmax_matches_masked_softmax_in_value_and_gradient() {
        let s = random(&[2, 3, 9, 9], 2, 3.0);
        let scale = 0.3;
        let fused = causal_softmax(s.as_tensor(), scale).expect("fused");
        let mask = causal_mask(9, DType::F32, &Device::Cpu).expect("mask");
        let composed = candle_nn::ops::softmax(&(s.as_tensor() * scale).and_then(|x| x.broadcast_add(&mask)).expect("masked"), D::Minus1).expect("composed");
        close(&values(&fused), &values(&composed), 1e-6, "softmax");
        let ga = weighted_sum(&fused, 8).backward().expect("bwd");
        let gb = weighted_sum(&composed, 8).backward().expect("bwd");
        close(&values(ga.get(s.as_tensor()).expect("grad")), &values(gb.get(s.as_tensor()).expect("grad")), 1e-5, "softmax grad");
    }

    #[test]
    fn layer_norm_matches_the_composed_form_in_value_and_gradients() {
        // Enough rows that the backward splits into several tasks and sums their partial dw/db.
        let x = random(&[4, 300, 64], 3, 1.5);
        let w = random(&[64], 4, 1.0);
        let b = random(&[64], 5, 1.0);
        let fused = layer_norm(x.as_tensor(), w.as_tensor(), b.as_tensor(), 1e-5).expect("fused");
        let composed = candle_nn::ops::layer_norm_slow(x.as_tensor(), w.as_tensor(), b.as_tensor(), 1e-5).expect("composed");
        close(&values(&fused), &values(&composed), 1e-5, "layer norm");
        let ga = weighted_sum(&fused, 7).backward().expect("bwd");
        let gb = weighted_sum(&composed, 7).backward().expect("bwd");
        for (v, what) in [(&x, "dx"), (&w, "dw"), (&b, "db")] {
            close(&values(ga.get(v.as_tensor()).expect("grad")), &values(gb.get(v.as_tensor()).expect("grad")), 2e-4, what);
        }
    }
}
