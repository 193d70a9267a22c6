//! The linear layer `y = x W^T + b` as one CPU op whose backward computes only
//! the gradients the graph needs.
//!
//! candle's matmul backward always computes both operands' gradients: when a
//! student's vector is fitted with the transformer frozen, a third of every
//! step went into weight gradients nobody reads. Here a weight that is neither
//! a variable nor computed from one (`track_op`) gets none. The forward also
//! reads `W` transposed in place and starts from the bias, so neither a
//! transposed copy nor a separate bias pass is made. The products split
//! their rows among the pool's threads themselves (see
//! `gemm::matmul_split_rows`). Other devices and dtypes use candle's
//! `Linear`.

use candle_core::{CpuStorage, CustomOp2, CustomOp3, DType, Layout, Result, Shape, Tensor};
use candle_nn::Linear;
use rayon::prelude::*;

use super::gemm::{self, View, Write};

/// `x W^T + b` over the last dimension of `x` (any leading dimensions), with
/// `W` `[out, in]` and `b` `[out]`.
pub fn linear(x: &Tensor, layer: &Linear) -> Result<Tensor> {
    let w = layer.weight();
    let fused = [x, w].iter().all(|t| t.device().is_cpu() && t.dtype() == DType::F32);
    match layer.bias() {
        Some(b) if fused && b.dtype() == DType::F32 => x.contiguous()?.apply_op3(&w.contiguous()?, &b.contiguous()?, LinearOp),
        _ => {
            // As one [rows, in] product: candle's `Linear` would broadcast the
            // weight over a leading batch dimension and sum its gradient per row.
            let dims = x.dims();
            let inp = dims.last().copied().unwrap_or(1);
            let y = candle_core::Module::forward(layer, &x.reshape((x.elem_count() / inp.max(1), inp))?)?;
            let mut shape = dims.to_vec();
            if let Some(last) = shape.last_mut() {
                *last = y.dim(1)?;
            }
            y.reshape(shape)
        }
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
        let a = View::rows(x, rows, inp, inp);
        gemm::matmul_split_rows(&mut y, out, a, View::rows(w, out, inp, inp).t(), Write::Add, gemm::pool_threads())?;
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
        let dx = if x.track_op() { Some(g.apply_op2_no_bwd(w, &LinearGrad::Input)?.reshape(x.shape())?) } else { None };
        let dw = if w.track_op() { Some(g.apply_op2_no_bwd(&x.reshape((rows, inp))?, &LinearGrad::Weight)?) } else { None };
        // The bias gradient as a product with ones: candle's sum over rows
        // walks the matrix column-strided on one thread (43 ms against 2 ms
        // for 8200 x 1024 in a measurement).
        let db = if b.track_op() { Some(Tensor::ones((1, rows), DType::F32, g.device())?.matmul(&g)?.reshape(out)?) } else { None };
        Ok((dx, dw, db))
    }
}

/// The linear layer's input and weight gradients from the output gradient
/// `g` `[rows, out]`, as products on the threads of the current pool
/// (candle's `matmul` leaves the threading to `gemm`; see
/// [`gemm::matmul_split_rows`]).
enum LinearGrad {
    /// `dx = g W` `[rows, in]` from `(g, W)`.
    Input,
    /// `dW = g^T x` `[out, in]` from `(g, x)`.
    Weight,
}

impl CustomOp2 for LinearGrad {
    fn name(&self) -> &'static str {
        match self {
            LinearGrad::Input => "fused-linear-grad-input",
            LinearGrad::Weight => "fused-linear-grad-weight",
        }
    }

    fn cpu_fwd(&self, s1: &CpuStorage, l1: &Layout, s2: &CpuStorage, l2: &Layout) -> Result<(CpuStorage, Shape)> {
        let (g, other) = (f32_slice(s1, l1)?, f32_slice(s2, l2)?);
        let (rows, out) = l1.shape().dims2()?;
        let (d0, inp) = l2.shape().dims2()?;
        let threads = gemm::pool_threads();
        match self {
            LinearGrad::Input => {
                if d0 != out {
                    candle_core::bail!("fused linear grad: gradient [{rows}, {out}], weight [{d0}, {inp}]");
                }
                let mut dx = vec![0f32; rows * inp];
                gemm::matmul_split_rows(&mut dx, inp, View::rows(g, rows, out, out), View::rows(other, out, inp, inp), Write::Set, threads)?;
                Ok((CpuStorage::F32(dx), Shape::from((rows, inp))))
            }
            LinearGrad::Weight => {
                if d0 != rows {
                    candle_core::bail!("fused linear grad: gradient [{rows}, {out}], input [{d0}, {inp}]");
                }
                Ok((CpuStorage::F32(weight_grad(g, other, rows, out, inp, threads)?), Shape::from((out, inp))))
            }
        }
    }
}

/// Rows of the batch per thread below which `dW` is not split by rows.
const MIN_ROWS_PER_BLOCK: usize = 512;

/// `g^T x` `[out, in]`, summed over `rows`. The output is too small to split
/// among threads (each would pack all of `x`), so with several threads each
/// sums a contiguous block of rows into its own `[out, in]`, and the blocks
/// are added in order: the result depends on the thread count, not on timing.
fn weight_grad(g: &[f32], x: &[f32], rows: usize, out: usize, inp: usize, threads: usize) -> Result<Vec<f32>> {
    let blocks = threads.min(rows / MIN_ROWS_PER_BLOCK).max(1);
    if blocks == 1 {
        let mut dw = vec![0f32; out * inp];
        gemm::matmul(&mut dw, inp, View::rows(g, rows, out, out).t(), View::rows(x, rows, inp, inp), Write::Set, threads)?;
        return Ok(dw);
    }
    let per = rows.div_ceil(blocks);
    let partial = (0..blocks)
        .into_par_iter()
        .map(|i| -> Result<Vec<f32>> {
            let r0 = (i * per).min(rows);
            let r = per.min(rows - r0);
            let mut dw = vec![0f32; out * inp];
            gemm::matmul(&mut dw, inp, View::rows(&g[r0 * out..], r, out, out).t(), View::rows(&x[r0 * inp..], r, inp, inp), Write::Set, 1)?;
            Ok(dw)
        })
        .collect::<Result<Vec<_>>>()?;
    Ok(gemm::add_in_order(partial))
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
    fn split_products_match_candles_linear_in_value_and_gradients() {
        // Enough rows for the products to split between two threads (dW by row blocks).
        let x = random(&[3, 700, 40], 11, 1.0);
        let (w, b) = (random(&[24, 40], 12, 1.0), random(&[24], 13, 1.0));
        let layer = Linear::new(w.as_tensor().clone(), Some(b.as_tensor().clone()));
        let pool = rayon::ThreadPoolBuilder::new().num_threads(2).build().expect("pool");
        let fused = pool.install(|| linear(x.as_tensor(), &layer)).expect("fused");
        let composed = layer.forward(&x.as_tensor().reshape((2100, 40)).expect("2d")).expect("composed");
        close(&values(&fused), &values(&composed), 1e-4, "y");
        let wsum = random(&[2100, 24], 14, 1.0);
        let ga = pool.install(|| (&fused.reshape((2100, 24))? * wsum.as_tensor())?.sum_all()?.backward()).expect("bwd");
        let gb = (&composed * wsum.as_tensor()).and_then(|t| t.sum_all()).and_then(|l| l.backward()).expect("bwd");
        for (v, what) in [(&x, "dx"), (&w, "dw"), (&b, "db")] {
            let want = gb.get(v.as_tensor()).expect("grad").reshape(v.shape()).expect("shape");
            close(&values(ga.get(v.as_tensor()).expect("grad")), &values(&want), 1e-4, what);
        }
    }

    #[test]
    fn other_dtypes_take_candles_linear_over_the_last_dimension() {
        let x = random(&[2, 5, 7], 15, 1.0).as_tensor().to_dtype(DType::F64).expect("f64");
        let (w, b) = (random(&[3, 7], 16, 1.0), random(&[3], 17, 1.0));
        let f64s = |t: &Tensor| t.to_dtype(DType::F64).expect("f64");
        let layer = Linear::new(f64s(w.as_tensor()), Some(f64s(b.as_tensor())));
        let y = linear(&x, &layer).expect("fallback");
        assert_eq!(y.dims(), &[2, 5, 3]);
        let want = layer.forward(&x).and_then(|y| y.to_dtype(DType::F32)).expect("composed");
        close(&values(&y.to_dtype(DType::F32).expect("f32")), &values(&want), 1e-6, "y");
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
