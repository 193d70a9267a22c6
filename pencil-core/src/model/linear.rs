//! The linear layer `y = x W^T + b` as one CPU op whose backward computes only
//! the gradients the graph needs.
//!
//! candle's matmul backward always computes both operands' gradients: when a
//! student's vector is fitted with the transformer frozen, a third of every
//! step went into weight gradients nobody reads. Here a weight that is neither
//! a variable nor computed from one (`track_op`) gets none. The forward also
//! reads `W` transposed in place and starts from the bias, so neither a
//! transposed copy nor a separate bias pass is made. Other devices and dtypes
//! use candle's `Linear`.

use candle_core::{CpuStorage, CustomOp3, DType, Layout, Result, Shape, Tensor};
use candle_nn::Linear;

use super::gemm::{self, View, Write};

/// `x W^T + b` over the last dimension of `x`, with `W` `[out, in]` and `b` `[out]`.
pub fn linear(x: &Tensor, layer: &Linear) -> Result<Tensor> {
    let w = layer.weight();
    let fused = [x, w].iter().all(|t| t.device().is_cpu() && t.dtype() == DType::F32);
    match layer.bias() {
        Some(b) if fused && b.dtype() == DType::F32 => x.contiguous()?.apply_op3(&w.contiguous()?, &b.contiguous()?, LinearOp),
        _ => candle_core::Module::forward(layer, x),
    }
}

struct LinearOp;

fn f32_slice<'a>(s: &'a CpuStorage, l: &Layout) -> Result<&'a [f32]> {
    let CpuStorage::F32(data) = s else { candle_core::bail!("fused linear: needs f32") };
    let Some((a, b)) = l.contiguous_offsets() else { candle_core::bail!("fused linear: needs contiguous inputs") };
    Ok(&data[a..b])
}

impl CustomOp3 for LinearOp {
    fn name(&self) -> &'static str {
        "fused-linear"
    }

    fn cpu_fwd(&self, s1: &CpuStorage, l1: &Layout, s2: &CpuStorage, l2: &Layout, s3: &CpuStorage, l3: &Layout) -> Result<(CpuStorage, Shape)> {
        let (x, w, b) = (f32_slice(s1, l1)?, f32_slice(s2, l2)?, f32_slice(s3, l3)?);
        let (out, inp) = l2.shape().dims2()?;
        let dims = l1.shape().dims();
        if dims.last() != Some(&inp) || b.len() != out {
            candle_core::bail!("fused linear: input {:?}, weight [{out}, {inp}], bias [{}]", dims, b.len());
        }
        let rows = x.len() / inp.max(1);
        let mut y: Vec<f32> = Vec::with_capacity(rows * out);
        for _ in 0..rows {
            y.extend_from_slice(b);
        }
        // The current pool bounds it: adaptation runs inside a one-thread pool.
        let threads = candle_core::utils::get_num_threads().min(rayon::current_num_threads());
        gemm::matmul(&mut y, out, View::rows(x, rows, inp, inp), View::rows(w, out, inp, inp).t(), Write::Add, threads)?;
        let mut shape = dims.to_vec();
        if let Some(last) = shape.last_mut() {
            *last = out;
        }
        Ok((CpuStorage::F32(y), Shape::from(shape)))
    }

    fn bwd(&self, x: &Tensor, w: &Tensor, b: &Tensor, _res: &Tensor, grad: &Tensor) -> Result<(Option<Tensor>, Option<Tensor>, Option<Tensor>)> {
        let (out, inp) = w.dims2()?;
        let rows = x.elem_count() / inp.max(1);
        let g = grad.contiguous()?.reshape((rows, out))?;
        let dx = if x.track_op() { Some(g.matmul(w)?.reshape(x.shape())?) } else { None };
        let dw = if w.track_op() { Some(g.t()?.matmul(&x.reshape((rows, inp))?)?) } else { None };
        // The bias gradient as a product with ones: candle's sum over rows
        // walks the matrix column-strided on one thread (43 ms against 2 ms
        // for 8200 x 1024 in a measurement).
        let db = if b.track_op() { Some(Tensor::ones((1, rows), DType::F32, g.device())?.matmul(&g)?.reshape(out)?) } else { None };
        Ok((dx, dw, db))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::op_tests::{close, random, values};
    use candle_core::Module;

    #[test]
    fn matches_candles_linear_in_value_and_gradients() {
        let x = random(&[2, 5, 7], 1, 1.0);
        let (w, b) = (random(&[3, 7], 2, 1.0), random(&[3], 3, 1.0));
        let layer = Linear::new(w.as_tensor().clone(), Some(b.as_tensor().clone()));
        let fused = linear(x.as_tensor(), &layer).expect("fused");
        let composed = layer.forward(x.as_tensor()).expect("composed");
        close(&values(&fused), &values(&composed), 1e-4, "y");
        let wsum = random(&[2, 5, 3], 4, 1.0);
        let ga = (&fused * wsum.as_tensor()).and_then(|t| t.sum_all()).and_then(|l| l.backward()).expect("bwd");
        let gb = (&composed * wsum.as_tensor()).and_then(|t| t.sum_all()).and_then(|l| l.backward()).expect("bwd");
        for (v, what) in [(&x, "dx"), (&w, "dw"), (&b, "db")] {
            close(&values(ga.get(v.as_tensor()).expect("grad")), &values(gb.get(v.as_tensor()).expect("grad")), 1e-4, what);
        }
    }

    #[test]
    fn a_frozen_weight_gets_no_gradient() {
        let x = random(&[4, 7], 5, 1.0);
        let w = random(&[3, 7], 6, 1.0).as_tensor().detach();
        let b = random(&[3], 7, 1.0).as_tensor().detach();
        let y = linear(x.as_tensor(), &Linear::new(w.clone(), Some(b.clone()))).expect("fused");
        let grads = y.sum_all().and_then(|l| l.backward()).expect("bwd");
        assert!(grads.get(x.as_tensor()).is_some());
        assert!(grads.get(&w).is_none() && grads.get(&b).is_none());
    }
}
