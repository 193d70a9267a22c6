//! Masked cross-entropy over the vocabulary.
//!
//! On the CPU a fused op computes each row's loss in two passes and its
//! gradient (softmax minus one-hot) in one: the composed version
//! (log-softmax, gather, and their backward passes) allocates about ten
//! temporaries the size of the logits (4096 x 8k floats for `small`), which
//! dominated the non-matmul time of a training step. Other devices use the
//! composed version.

use candle_core::{CpuStorage, CustomOp1, DType, Layout, Result, Shape, Tensor, D};
use rayon::prelude::*;

use super::vector_math;

/// Rows of logits per rayon task.
const ROWS_PER_TASK: usize = 16;

/// Mean negative log-likelihood of `targets` `[n]` under `logits` `[n, v]`,
/// over positions whose weight `[n]` is non-zero.
pub fn masked_cross_entropy(logits: &Tensor, targets: &Tensor, weights: &Tensor) -> Result<Tensor> {
    let total = weights.sum_all()?.to_dtype(DType::F32)?.to_scalar::<f32>()?.max(1.0);
    if logits.device().is_cpu() && logits.dtype() == DType::F32 {
        let op = FusedCrossEntropy { targets: targets.to_vec1::<u32>()?, weights: weights.to_vec1::<f32>()? };
        let rows = logits.contiguous()?.apply_op1(op)?;
        return rows.sum_all()? / f64::from(total);
    }
    composed_cross_entropy(logits, targets, weights, total)
}

/// The composed form: log-softmax, gather, weight, mean.
fn composed_cross_entropy(logits: &Tensor, targets: &Tensor, weights: &Tensor, total: f32) -> Result<Tensor> {
    let logp = candle_nn::ops::log_softmax(logits, D::Minus1)?;
    let picked = logp.gather(&targets.unsqueeze(1)?, 1)?.squeeze(1)?;
    ((picked * weights.to_dtype(logp.dtype())?)?.sum_all()? * (-1.0 / f64::from(total)))?.to_dtype(DType::F32)
}

/// Per-row weighted loss `w_i * (logsumexp(x_i) - x_i[t_i])`, with its gradient.
struct FusedCrossEntropy {
    targets: Vec<u32>,
    weights: Vec<f32>,
}

impl FusedCrossEntropy {
    /// Refuses logits that are not `[targets, v]`.
    fn check(&self, x: &[f32], v: usize) -> Result<()> {
        if v == 0 || x.len() != v * self.targets.len() || self.weights.len() != self.targets.len() {
            candle_core::bail!("fused cross-entropy: {} logits for {} targets", x.len(), self.targets.len());
        }
        Ok(())
    }
}

/// The row's maximum, and the sum of `exp(a - max)` (written into `scratch`).
fn max_and_sum_exp(row: &[f32], scratch: &mut [f32]) -> (f32, f32) {
    let m = vector_math::max(row);
    (m, vector_math::exp_into(row, scratch, 1.0, m))
}

impl CustomOp1 for FusedCrossEntropy {
    fn name(&self) -> &'static str {
        "fused-masked-cross-entropy"
    }

    fn cpu_fwd(&self, storage: &CpuStorage, layout: &Layout) -> Result<(CpuStorage, Shape)> {
        let CpuStorage::F32(data) = storage else { candle_core::bail!("fused cross-entropy needs f32 logits") };
        let Some((o1, o2)) = layout.contiguous_offsets() else { candle_core::bail!("fused cross-entropy needs contiguous logits") };
        let (n, v) = layout.shape().dims2()?;
        self.check(&data[o1..o2], v)?;
        let logits = &data[o1..o2];
        let mut out = vec![0f32; n];
        out.par_chunks_mut(ROWS_PER_TASK).enumerate().for_each(|(task, out)| {
            let mut scratch = vec![0f32; v];
            for (k, o) in out.iter_mut().enumerate() {
                let i = task * ROWS_PER_TASK + k;
                let w = self.weights[i];
                if w == 0.0 {
                    continue;
                }
                let row = &logits[i * v..(i + 1) * v];
                let (m, s) = max_and_sum_exp(row, &mut scratch);
                let t = (self.targets[i] as usize).min(v - 1);
                *o = w * (m + s.ln() - row[t]);
            }
        });
        Ok((CpuStorage::F32(out), Shape::from(n)))
    }

    fn bwd(&self, arg: &Tensor, _res: &Tensor, grad_res: &Tensor) -> Result<Option<Tensor>> {
        let (n, v) = arg.dims2()?;
        let g = grad_res.to_dtype(DType::F32)?.to_vec1::<f32>()?;
        let x = arg.flatten_all()?.to_vec1::<f32>()?;
        self.check(&x, v)?;
        let mut out = vec![0f32; n * v];
        out.par_chunks_mut(v).zip(x.par_chunks(v)).enumerate().with_min_len(ROWS_PER_TASK).for_each(|(i, (dst, row))| {
            let scale = g[i] * self.weights[i];
            if scale == 0.0 {
                return;
            }
            let (_, s) = max_and_sum_exp(row, dst);
            vector_math::scale(dst, scale / s);
            dst[(self.targets[i] as usize).min(v - 1)] -= scale;
        });
        Ok(Some(Tensor::from_vec(out, (n, v), arg.device())?))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use candle_core::{Device, Var};

    #[test]
    fn fused_matches_composed_in_value_and_gradient() {
        let dev = Device::Cpu;
        let mut rng = super::super::rng::SplitMix64::new(5);
        let (n, v) = (7, 11);
        let data: Vec<f32> = (0..n * v).map(|_| (rng.normal() * 3.0) as f32).collect();
        let targets = Tensor::new(&[0u32, 3, 10, 5, 5, 1, 2], &dev).expect("targets");
        let weights = Tensor::new(&[1f32, 1., 0., 1., 1., 0., 1.], &dev).expect("weights");
        let x = Var::from_vec(data, (n, v), &dev).expect("var");
        let fused = masked_cross_entropy(x.as_tensor(), &targets, &weights).expect("fused");
        let composed = composed_cross_entropy(x.as_tensor(), &targets, &weights, 5.0).expect("composed");
        let (a, b) = (fused.to_scalar::<f32>().expect("a"), composed.to_scalar::<f32>().expect("b"));
        assert!((a - b).abs() < 1e-5, "{a} vs {b}");
        let ga = fused.backward().expect("bwd").get(x.as_tensor()).expect("grad").flatten_all().expect("flat").to_vec1::<f32>().expect("v");
        let gb = composed.backward().expect("bwd").get(x.as_tensor()).expect("grad").flatten_all().expect("flat").to_vec1::<f32>().expect("v");
        assert!(ga.iter().zip(&gb).all(|(p, q)| (p - q).abs() < 1e-5), "{ga:?}\n{gb:?}");
    }
}
