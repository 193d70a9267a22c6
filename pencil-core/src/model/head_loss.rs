//! The tied output head and the masked cross-entropy as one CPU op: the mean
//! loss of targets under `h W^T` without the `[n, vocab]` logits ever existing
//! whole.
//!
//! For `small` the logits are 8192 x 8192 floats (256 MiB) per step, and
//! their gradient as much again; candle's backward then adds a zero-filled
//! copy of each and reads them twice more for the two matrix products. Here
//! rows go through in chunks of [`CHUNK_ROWS`]: a chunk's logits, its loss,
//! its logit gradient (softmax minus one-hot) in place, and from that the
//! chunk's share of `dh` and `dW`, while the chunk is in cache. The
//! gradients are computed during the forward (the loss is the graph's end, so
//! nothing but a scalar scales them later) and only for inputs that need one:
//! with the weights frozen (adaptation) no `dW`, without a graph to
//! differentiate (evaluation) neither. With several threads, each takes a
//! contiguous group of rows (an even share, in chunks) with its own buffers.

use std::sync::Mutex;

use candle_core::{CpuStorage, CustomOp2, DType, Layout, Result, Shape, Tensor};
use rayon::prelude::*;

use super::cross_entropy::masked_cross_entropy;
use super::gemm::{self, View, Write};
use super::vector_math;

/// Rows per chunk: a chunk's logits (`CHUNK_ROWS x vocab`) are 8 MiB for an 8k vocabulary.
const CHUNK_ROWS: usize = 256;

/// Fewest rows per thread's group: below, one group whose products use gemm's threads.
const MIN_GROUP_ROWS: usize = 32;

/// Mean negative log-likelihood of `targets` `[n]` under logits `h W^T`
/// (`h` `[n, c]`, `w` `[vocab, c]`), over positions whose weight `[n]` is non-zero.
pub fn head_cross_entropy(h: &Tensor, w: &Tensor, targets: &Tensor, weights: &Tensor) -> Result<Tensor> {
    let fused = [h, w].iter().all(|t| t.device().is_cpu() && t.dtype() == DType::F32);
    if !fused {
        return masked_cross_entropy(&h.matmul(&w.t()?)?.to_dtype(DType::F32)?, targets, weights);
    }
    let total = weights.sum_all()?.to_dtype(DType::F32)?.to_scalar::<f32>()?.max(1.0);
    let op = HeadCrossEntropy {
        targets: targets.to_vec1::<u32>()?,
        weights: weights.to_dtype(DType::F32)?.to_vec1::<f32>()?,
        total,
        need_dh: h.track_op(),
        need_dw: w.track_op(),
        grads: Mutex::new(None),
    };
    h.contiguous()?.apply_op2(&w.contiguous()?, op)?.reshape(())
}

/// Gradients of the loss with respect to `h` and `W`, from the forward.
type Grads = (Option<Tensor>, Option<Tensor>);

struct HeadCrossEntropy {
    targets: Vec<u32>,
    weights: Vec<f32>,
    /// The weights' sum (at least 1): the mean's denominator.
    total: f32,
    need_dh: bool,
    need_dw: bool,
    /// Filled by the forward for the backward.
    grads: Mutex<Option<Grads>>,
}

fn f32_slice<'a>(s: &'a CpuStorage, l: &Layout) -> Result<&'a [f32]> {
    let CpuStorage::F32(data) = s else { candle_core::bail!("fused head loss: needs f32") };
    let Some((a, b)) = l.contiguous_offsets() else { candle_core::bail!("fused head loss: needs contiguous inputs") };
    Ok(&data[a..b])
}

impl HeadCrossEntropy {
    /// Rows `r0..r0 + len` in chunks, with `threads` threads per product:
    /// their summed loss and their share of dW (empty when not needed),
    /// writing their dh rows (`len * c`) when given.
    fn rows(&self, h: &[f32], w: &[f32], r0: usize, len: usize, mut dh: Option<&mut [f32]>, threads: usize) -> Result<(f64, Vec<f32>)> {
        // h is [n, c] and w [v, c] (checked by `cpu_fwd`).
        let c = h.len() / self.targets.len().max(1);
        let v = w.len() / c.max(1);
        let mut dw = if self.need_dw { vec![0f32; v * c] } else { Vec::new() };
        let mut logits = vec![0f32; CHUNK_ROWS.min(len) * v];
        let mut loss = 0f64;
        for start in (r0..r0 + len).step_by(CHUNK_ROWS) {
            let m = (r0 + len - start).min(CHUNK_ROWS);
            let hc = View::rows(&h[start * c..], m, c, c);
            let logits = &mut logits[..m * v];
            gemm::matmul(logits, v, hc, View::rows(w, v, c, c).t(), Write::Set, threads)?;
            // Each row's loss, then its logits become d(loss)/d(logits).
            let rows = (start..start + m).into_par_iter().zip(logits.par_chunks_mut(v));
            loss += rows
                .map(|(i, row)| {
                    let wi = self.weights[i];
                    if wi == 0.0 {
                        row.fill(0.0);
                        return 0.0;
                    }
                    let t = (self.targets[i] as usize).min(v - 1);
                    let target = row[t];
                    let max = vector_math::max(row);
                    let sum = vector_math::exp_in_place(row, max);
                    vector_math::scale(row, wi / (sum * self.total));
                    row[t] -= wi / self.total;
                    f64::from(wi * (max + sum.ln() - target))
                })
                .sum::<f64>();
            let g = View::rows(logits, m, v, v);
            if let Some(dh) = dh.as_deref_mut() {
                let at = (start - r0) * c;
                gemm::matmul(&mut dh[at..at + m * c], c, g, View::rows(w, v, c, c), Write::Set, threads)?;
            }
            if self.need_dw {
                gemm::matmul(&mut dw, c, g.t(), hc, Write::Add, threads)?;
            }
        }
        Ok((loss, dw))
    }
}

impl CustomOp2 for HeadCrossEntropy {
    fn name(&self) -> &'static str {
        "fused-head-cross-entropy"
    }

    fn cpu_fwd(&self, s1: &CpuStorage, l1: &Layout, s2: &CpuStorage, l2: &Layout) -> Result<(CpuStorage, Shape)> {
        let (h, w) = (f32_slice(s1, l1)?, f32_slice(s2, l2)?);
        let (n, c) = l1.shape().dims2()?;
        let (v, c2) = l2.shape().dims2()?;
        if c != c2 || v == 0 || self.targets.len() != n || self.weights.len() != n {
            candle_core::bail!("fused head loss: h [{n}, {c}], W [{v}, {c2}], {} targets, {} weights", self.targets.len(), self.weights.len());
        }
        // Contiguous groups of rows, an even share per thread (even fewer rows
        // than a chunk: adaptation's one trace of ~225), each with its own
        // logits buffer and dW and single-threaded products: gemm's own
        // threading meets at a barrier after every depth block of every product
        // (and dh's is vocabulary-deep). The groups' dW are added in order, so
        // the result depends on the thread count, not on timing.
        let threads = gemm::pool_threads();
        let per = if threads > 1 && n >= threads * MIN_GROUP_ROWS { n.div_ceil(threads) } else { n };
        let mut dh = if self.need_dh { vec![0f32; n * c] } else { Vec::new() };
        let (loss, dw) = if n <= per {
            self.rows(h, w, 0, n, self.need_dh.then_some(&mut dh[..]), threads)?
        } else {
            let dh_parts: Vec<Option<&mut [f32]>> =
                if self.need_dh { dh.chunks_mut(per * c).map(Some).collect() } else { (0..n.div_ceil(per)).map(|_| None).collect() };
            let parts = dh_parts.into_par_iter().enumerate().map(|(i, dh)| self.rows(h, w, i * per, per.min(n - i * per), dh, 1)).collect::<Result<Vec<_>>>()?;
            let (losses, dws): (Vec<f64>, Vec<Vec<f32>>) = parts.into_iter().unzip();
            (losses.into_iter().sum(), gemm::add_in_order(dws))
        };
        let device = candle_core::Device::Cpu;
        let dh = if self.need_dh { Some(Tensor::from_vec(dh, (n, c), &device)?) } else { None };
        let dw = if self.need_dw { Some(Tensor::from_vec(dw, (v, c), &device)?) } else { None };
        *self.grads.lock().map_err(|_| candle_core::Error::msg("fused head loss: lock poisoned"))? = Some((dh, dw));
        Ok((CpuStorage::F32(vec![(loss / f64::from(self.total)) as f32]), Shape::from(1)))
    }

    fn bwd(&self, _h: &Tensor, _w: &Tensor, _res: &Tensor, grad: &Tensor) -> Result<(Option<Tensor>, Option<Tensor>)> {
        let Some((dh, dw)) = self.grads.lock().map_err(|_| candle_core::Error::msg("fused head loss: lock poisoned"))?.clone() else {
            candle_core::bail!("fused head loss: backward before forward");
        };
        let g = grad.to_dtype(DType::F32)?.flatten_all()?.to_vec1::<f32>()?.first().copied().unwrap_or(1.0);
        let scale = |t: Option<Tensor>| t.map(|t| if g == 1.0 { Ok(t) } else { t * f64::from(g) }).transpose();
        Ok((scale(dh)?, scale(dw)?))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::op_tests::{close, random, values};
    use candle_core::Device;

    #[test]
    fn matches_the_logits_then_cross_entropy_in_value_and_gradients() {
        // More rows than a chunk, so the per-chunk dW sums are checked too.
        let (n, c, v) = (CHUNK_ROWS + 37, 12, 50);
        let (h, w) = (random(&[n, c], 1, 1.0), random(&[v, c], 2, 1.0));
        let mut rng = super::super::rng::SplitMix64::new(3);
        let targets: Vec<u32> = (0..n).map(|_| rng.below(v) as u32).collect();
        let weights: Vec<f32> = (0..n).map(|i| if i % 7 == 3 { 0.0 } else { 1.0 }).collect();
        let targets = Tensor::from_vec(targets, n, &Device::Cpu).expect("targets");
        let weights = Tensor::from_vec(weights, n, &Device::Cpu).expect("weights");
        let fused = head_cross_entropy(h.as_tensor(), w.as_tensor(), &targets, &weights).expect("fused");
        let logits = h.as_tensor().matmul(&w.as_tensor().t().expect("t")).expect("logits");
        let composed = masked_cross_entropy(&logits, &targets, &weights).expect("composed");
        close(&values(&fused), &values(&composed), 1e-5, "loss");
        // A scale on the loss reaches both gradients.
        let ga = (&fused * 3.0).and_then(|l| l.backward()).expect("bwd");
        let gb = (&composed * 3.0).and_then(|l| l.backward()).expect("bwd");
        for (x, what) in [(&h, "dh"), (&w, "dW")] {
            close(&values(ga.get(x.as_tensor()).expect("grad")), &values(gb.get(x.as_tensor()).expect("grad")), 1e-5, what);
        }
    }

    /// The loss and both gradients of `n` random rows on `threads` threads match one
    /// thread's; targets step by `target_step` through a 30-word vocabulary.
    fn threads_match_one_thread(n: usize, seed: u64, target_step: u32, weights: Vec<f32>, threads: usize) {
        let (c, v) = (8, 30);
        let (h, w) = (random(&[n, c], seed, 1.0), random(&[v, c], seed + 1, 1.0));
        let targets = Tensor::from_vec((0..n as u32).map(|i| (i * target_step) % v as u32).collect::<Vec<_>>(), n, &Device::Cpu).expect("targets");
        let weights = Tensor::from_vec(weights, n, &Device::Cpu).expect("weights");
        let run = |threads: usize| {
            let pool = rayon::ThreadPoolBuilder::new().num_threads(threads).build().expect("pool");
            let loss = pool.install(|| head_cross_entropy(h.as_tensor(), w.as_tensor(), &targets, &weights)).expect("loss");
            let grads = loss.backward().expect("bwd");
            let g = |x: &candle_core::Var| values(grads.get(x.as_tensor()).expect("grad"));
            (values(&loss), g(&h), g(&w))
        };
        let (one, many) = (run(1), run(threads));
        close(&many.0, &one.0, 1e-6, "loss");
        close(&many.1, &one.1, 1e-6, "dh");
        close(&many.2, &one.2, 1e-5, "dW");
    }

    #[test]
    fn chunk_groups_on_several_threads_match_one_thread() {
        // Five chunks' rows over three threads: groups of 345, 345 and 343 rows, their dW added.
        let n = 4 * CHUNK_ROWS + 9;
        threads_match_one_thread(n, 6, 7, vec![1.0; n], 3);
    }

    #[test]
    fn fewer_rows_than_a_chunk_split_between_threads_match_one_thread() {
        // 100 rows (adaptation's one short trace): two groups of 50 on two threads.
        threads_match_one_thread(100, 8, 11, (0..100).map(|i| if i < 20 { 0.0 } else { 1.0 }).collect(), 2);
    }

    #[test]
    fn frozen_weights_get_no_gradient() {
        let (h, w) = (random(&[5, 4], 4, 1.0), random(&[9, 4], 5, 1.0).as_tensor().detach());
        let targets = Tensor::new(&[1u32, 2, 3, 4, 8], &Device::Cpu).expect("targets");
        let weights = Tensor::ones(5, DType::F32, &Device::Cpu).expect("weights");
        let grads = head_cross_entropy(h.as_tensor(), &w, &targets, &weights).and_then(|l| l.backward()).expect("bwd");
        assert!(grads.get(h.as_tensor()).is_some() && grads.get(&w).is_none());
    }
}
