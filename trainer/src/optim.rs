//! AdamW with decoupled weight decay, global-norm gradient clipping, f32
//! master weights for low-precision models, and a state that can be saved and
//! restored exactly (candle's own AdamW keeps its moments private, so a
//! resumed run could not continue bit for bit).

use std::collections::HashMap;

use candle_core::backprop::GradStore;
use candle_core::{DType, Tensor, Var};
use pencil_core::model::adamw::{self, AdamWStep};

/// Hyper-parameters.
#[derive(Debug, Clone, Copy, serde::Serialize, serde::Deserialize)]
pub struct AdamWParams {
    /// First-moment decay.
    pub beta1: f64,
    /// Second-moment decay.
    pub beta2: f64,
    /// Denominator epsilon.
    pub eps: f64,
    /// Decoupled weight decay, applied to matrices and embeddings only.
    pub weight_decay: f64,
    /// Gradients are scaled so that their global norm is at most this.
    pub clip_norm: f64,
}

impl Default for AdamWParams {
    fn default() -> Self {
        AdamWParams { beta1: 0.9, beta2: 0.95, eps: 1e-8, weight_decay: 0.1, clip_norm: 1.0 }
    }
}

struct Slot {
    name: String,
    var: Var,
    master: Tensor,
    m: Tensor,
    v: Tensor,
    decay: bool,
}

impl Slot {
    /// The update as one parallel pass ([`adamw::update`]), bit for bit
    /// the tensor form's result.
    fn update_in_one_pass(&mut self, g: &Tensor, k: &AdamWStep) -> candle_core::Result<()> {
        let shape = self.master.shape().clone();
        let host = |t: &Tensor| t.flatten_all()?.to_vec1::<f32>();
        let (mut m, mut v, mut master) = (host(&self.m)?, host(&self.v)?, host(&self.master)?);
        adamw::update(k, &host(g)?, &mut m, &mut v, &mut master)?;
        let dev = self.master.device().clone();
        self.m = Tensor::from_vec(m, &shape, &dev)?;
        self.v = Tensor::from_vec(v, &shape, &dev)?;
        self.master = Tensor::from_vec(master, &shape, &dev)?;
        self.var.set(&self.master.to_dtype(self.var.dtype())?)
    }
}

/// The optimizer.
pub struct AdamW {
    slots: Vec<Slot>,
    step: usize,
    params: AdamWParams,
    /// One pass per f32 CPU parameter instead of the tensor ops (off only to test one against the other).
    fused: bool,
}

impl AdamW {
    /// An optimizer over named variables (sorted by name for a stable order).
    pub fn new(mut vars: Vec<(String, Var)>, params: AdamWParams) -> candle_core::Result<Self> {
        vars.sort_by(|a, b| a.0.cmp(&b.0));
        let slots = vars
            .into_iter()
            .map(|(name, var)| {
                // Detached: a master copied from a Var would record the copy op, and
                // every later update would chain onto it, keeping every step's
                // weights alive (a leak of one model's size per step).
                let master = var.as_tensor().to_dtype(DType::F32)?.copy()?.detach();
                let m = master.zeros_like()?;
                let v = master.zeros_like()?;
                let decay = var.rank() >= 2 && !name.starts_with("student.table");
                Ok(Slot { name, var, master, m, v, decay })
            })
            .collect::<candle_core::Result<Vec<_>>>()?;
        Ok(AdamW { slots, step: 0, params, fused: true })
    }

    /// Steps taken.
    pub fn steps(&self) -> usize {
        self.step
    }

    /// One update at learning rate `lr`; returns the gradient norm before clipping.
    pub fn step(&mut self, grads: &GradStore, lr: f64) -> candle_core::Result<f64> {
        let mut sq = Vec::with_capacity(self.slots.len());
        for s in &self.slots {
            if let Some(g) = grads.get(s.var.as_tensor()) {
                sq.push(g.to_dtype(DType::F32)?.sqr()?.sum_all()?);
            }
        }
        let norm = if sq.is_empty() { 0.0 } else { f64::from(Tensor::stack(&sq, 0)?.sum_all()?.to_scalar::<f32>()?).sqrt() };
        let scale = if norm > self.params.clip_norm { self.params.clip_norm / (norm + 1e-6) } else { 1.0 };
        self.step += 1;
        let p = self.params;
        let t = i32::try_from(self.step).unwrap_or(i32::MAX);
        let bc1 = 1.0 - p.beta1.powi(t);
        let bc2 = 1.0 - p.beta2.powi(t);
        for s in &mut self.slots {
            let Some(g) = grads.get(s.var.as_tensor()) else { continue };
            if self.fused && g.device().is_cpu() && g.dtype() == DType::F32 {
                let decay = s.decay.then_some(1.0 - lr * p.weight_decay);
                let k = AdamWStep::new(scale, p.beta1, p.beta2, p.eps, bc1, bc2, lr, decay);
                s.update_in_one_pass(g, &k)?;
                continue;
            }
            let g = (g.to_dtype(DType::F32)? * scale)?;
            let g = g.detach();
            s.m = ((&s.m * p.beta1)? + (&g * (1.0 - p.beta1))?)?.detach();
            s.v = ((&s.v * p.beta2)? + (g.sqr()? * (1.0 - p.beta2))?)?.detach();
            let update = ((&s.m / bc1)? / ((&s.v / bc2)?.sqrt()? + p.eps)?)?;
            let decayed = if s.decay { (&s.master * (1.0 - lr * p.weight_decay))? } else { s.master.clone() };
            s.master = (decayed - (update * lr)?)?.detach();
            s.var.set(&s.master.to_dtype(s.var.dtype())?)?;
        }
        Ok(norm)
    }

    /// The state as named tensors (`m.NAME`, `v.NAME`, `master.NAME`, `step`).
    pub fn state(&self) -> candle_core::Result<HashMap<String, Tensor>> {
        let mut out = HashMap::new();
        for s in &self.slots {
            out.insert(format!("m.{}", s.name), s.m.clone());
            out.insert(format!("v.{}", s.name), s.v.clone());
            out.insert(format!("master.{}", s.name), s.master.clone());
        }
        let dev = self.slots.first().map(|s| s.m.device().clone()).unwrap_or(candle_core::Device::Cpu);
        out.insert("step".to_string(), Tensor::new(&[self.step as u32], &dev)?);
        Ok(out)
    }

    /// Restores a state saved by [`AdamW::state`].
    pub fn load_state(&mut self, state: &HashMap<String, Tensor>) -> candle_core::Result<()> {
        let get = |k: String| state.get(&k).cloned().ok_or_else(|| candle_core::Error::msg(format!("optimizer state has no {k}")));
        for s in &mut self.slots {
            let dev = s.m.device().clone();
            s.m = get(format!("m.{}", s.name))?.to_device(&dev)?;
            s.v = get(format!("v.{}", s.name))?.to_device(&dev)?;
            s.master = get(format!("master.{}", s.name))?.to_device(&dev)?.detach();
            s.var.set(&s.master.to_dtype(s.var.dtype())?)?;
        }
        self.step = get("step".to_string())?.to_vec1::<u32>()?.first().copied().unwrap_or(0) as usize;
        Ok(())
    }
}

/// Learning rate at `step`: linear warm-up over `warmup` steps to `peak`, then
/// linear decay to `peak * final_fraction` at `total`.
pub fn learning_rate(step: usize, warmup: usize, total: usize, peak: f64, final_fraction: f64) -> f64 {
    if step < warmup {
        return peak * (step + 1) as f64 / warmup as f64;
    }
    let span = total.saturating_sub(warmup).max(1) as f64;
    let done = ((step - warmup) as f64 / span).min(1.0);
    peak * (1.0 - done * (1.0 - final_fraction))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn schedule_warms_up_then_decays() {
        assert!((learning_rate(0, 10, 100, 1.0, 0.1) - 0.1).abs() < 1e-12);
        assert!((learning_rate(9, 10, 100, 1.0, 0.1) - 1.0).abs() < 1e-12);
        assert!((learning_rate(100, 10, 100, 1.0, 0.1) - 0.1).abs() < 1e-12);
        assert!(learning_rate(50, 10, 100, 1.0, 0.1) < 1.0);
    }

    #[test]
    fn minimises_a_quadratic_with_clipping() {
        let dev = candle_core::Device::Cpu;
        let x = Var::new(&[3.0f32, -2.0], &dev).expect("var");
        let mut opt = AdamW::new(vec![("x".into(), x.clone())], AdamWParams { weight_decay: 0.0, ..Default::default() })
            .expect("opt");
        for _ in 0..300 {
            let loss = x.as_tensor().sqr().expect("sqr").sum_all().expect("sum");
            let norm = opt.step(&loss.backward().expect("backward"), 0.05).expect("step");
            assert!(norm.is_finite());
        }
        let v = x.as_tensor().to_vec1::<f32>().expect("vec");
        assert!(v.iter().all(|a| a.abs() < 0.1), "{v:?}");
    }

    #[test]
    fn the_one_pass_update_gives_the_tensor_forms_bits() {
        // A matrix that decays and a vector that does not, gradients large
        // enough to be clipped, several steps.
        let dev = candle_core::Device::Cpu;
        let run = |fused: bool| {
            let w = Var::from_vec((0..40_000).map(|i| ((i * 7919) % 1000) as f32 / 300.0 - 1.5).collect::<Vec<_>>(), (200, 200), &dev).expect("var");
            let b = Var::from_vec((0..200).map(|i| i as f32 / 100.0).collect::<Vec<_>>(), 200, &dev).expect("var");
            let mut opt = AdamW::new(vec![("w".into(), w.clone()), ("b".into(), b.clone())], AdamWParams::default()).expect("opt");
            opt.fused = fused;
            for step in 0..4 {
                let loss = (w.as_tensor().sqr().and_then(|t| t.sum_all()).expect("w") + b.as_tensor().sum_all().expect("b")).expect("loss");
                opt.step(&loss.backward().expect("backward"), 0.01 * (step + 1) as f64).expect("step");
            }
            let state = opt.state().expect("state");
            let mut names: Vec<&String> = state.keys().collect();
            names.sort();
            names.iter().map(|k| state[*k].flatten_all().and_then(|t| t.to_dtype(DType::F32)).and_then(|t| t.to_vec1::<f32>()).expect("values")).collect::<Vec<_>>()
        };
        let (one_pass, tensors) = (run(true), run(false));
        for (a, b) in one_pass.iter().zip(&tensors) {
            assert_eq!(a.iter().map(|x| x.to_bits()).collect::<Vec<_>>(), b.iter().map(|x| x.to_bits()).collect::<Vec<_>>());
        }
    }

    #[test]
    fn optimizer_state_keeps_no_autograd_history() {
        // A tracked master or moment would chain every step's tensors together
        // (the leak that grew a small-preset run by ~1 GB a minute).
        let dev = candle_core::Device::Cpu;
        let x = Var::new(&[3.0f32, -2.0], &dev).expect("var");
        let mut opt = AdamW::new(vec![("x".into(), x.clone())], AdamWParams::default()).expect("opt");
        for _ in 0..3 {
            let loss = x.as_tensor().sqr().expect("sqr").sum_all().expect("sum");
            opt.step(&loss.backward().expect("backward"), 0.05).expect("step");
        }
        for s in &opt.slots {
            for (what, t) in [("master", &s.master), ("m", &s.m), ("v", &s.v)] {
                assert!(!t.track_op(), "{what} of {} records autograd ops", s.name);
            }
        }
    }
}
