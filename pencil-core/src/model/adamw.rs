//! AdamW's element-wise update as one pass over a parameter's f32 values,
//! split across rayon's pool, for the trainer's CPU optimizer.
//!
//! The tensor form is a dozen candle ops per parameter, each a fresh
//! allocation and a full pass on one thread (4% of a `small` training step
//! at two threads). Here every value goes through the same f32 operations in
//! the same order as the tensor form (candle's affine ops compute
//! `x * mul + add` with f32 constants), so the two agree bit for bit.

use candle_core::Result;
use rayon::prelude::*;

/// Values per rayon task.
const CHUNK: usize = 16 * 1024;

/// One step's constants, as the tensor form rounds them to f32.
#[derive(Debug, Clone, Copy)]
pub struct AdamWStep {
    /// Gradient scale (clipping).
    pub grad_scale: f32,
    /// First-moment decay and its complement.
    pub beta1: f32,
    /// `1 - beta1`.
    pub one_minus_beta1: f32,
    /// Second-moment decay.
    pub beta2: f32,
    /// `1 - beta2`.
    pub one_minus_beta2: f32,
    /// `1 / (1 - beta1^t)`.
    pub inv_bias1: f32,
    /// `1 / (1 - beta2^t)`.
    pub inv_bias2: f32,
    /// Denominator epsilon.
    pub eps: f32,
    /// Learning rate.
    pub lr: f32,
    /// `1 - lr * weight_decay` where the parameter decays.
    pub decay: Option<f32>,
}

impl AdamWStep {
    /// The constants from the f64 hyper-parameters, as candle converts them.
    #[allow(clippy::too_many_arguments)]
    pub fn new(grad_scale: f64, beta1: f64, beta2: f64, eps: f64, bias1: f64, bias2: f64, lr: f64, decay: Option<f64>) -> Self {
        AdamWStep {
            grad_scale: grad_scale as f32,
            beta1: beta1 as f32,
            one_minus_beta1: (1.0 - beta1) as f32,
            beta2: beta2 as f32,
            one_minus_beta2: (1.0 - beta2) as f32,
            inv_bias1: (1.0 / bias1) as f32,
            inv_bias2: (1.0 / bias2) as f32,
            eps: eps as f32,
            lr: lr as f32,
            decay: decay.map(|d| d as f32),
        }
    }
}

/// Updates the moments `m`, `v` and the weights `master` in place from the gradient `g`.
pub fn update(k: &AdamWStep, g: &[f32], m: &mut [f32], v: &mut [f32], master: &mut [f32]) -> Result<()> {
    if m.len() != g.len() || v.len() != g.len() || master.len() != g.len() {
        candle_core::bail!("adamw: {} gradients for {} / {} moments and {} weights", g.len(), m.len(), v.len(), master.len());
    }
    // `+ 0.0` where candle's affine adds its zero: it turns -0 into +0, so it is kept for identical bits.
    g.par_chunks(CHUNK).zip(m.par_chunks_mut(CHUNK)).zip(v.par_chunks_mut(CHUNK)).zip(master.par_chunks_mut(CHUNK)).for_each(|(((g, m), v), w)| {
        for (((&g, m), v), w) in g.iter().zip(m).zip(v).zip(w) {
            let g = g * k.grad_scale + 0.0;
            *m = (*m * k.beta1 + 0.0) + (g * k.one_minus_beta1 + 0.0);
            *v = (*v * k.beta2 + 0.0) + ((g * g) * k.one_minus_beta2 + 0.0);
            let step = (*m * k.inv_bias1 + 0.0) / ((*v * k.inv_bias2 + 0.0).sqrt() * 1.0 + k.eps);
            let decayed = match k.decay {
                Some(d) => *w * d + 0.0,
                None => *w,
            };
            *w = decayed - (step * k.lr + 0.0);
        }
    });
    Ok(())
}
