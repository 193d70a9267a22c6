//! What the fused ops' tests share: seeded inputs and the comparison against
//! candle's composed form, so every op is held to the same check.

use candle_core::{Device, Tensor, Var};

/// A `shape` variable of seeded normal values with standard deviation `std`.
pub fn random(shape: &[usize], seed: u64, std: f64) -> Var {
    let mut rng = super::rng::SplitMix64::new(seed);
    let data: Vec<f32> = (0..shape.iter().product()).map(|_| (rng.normal() * std) as f32).collect();
    Var::from_vec(data, shape, &Device::Cpu).expect("var")
}

/// Every value of `t`, flattened.
pub fn values(t: &Tensor) -> Vec<f32> {
    t.flatten_all().and_then(|t| t.to_vec1::<f32>()).expect("values")
}

/// Asserts `a` equals `b` within `tol` relative to `1 + |b|`, naming `what` on failure.
pub fn close(a: &[f32], b: &[f32], tol: f32, what: &str) {
    assert_eq!(a.len(), b.len(), "{what}: lengths");
    for (i, (p, q)) in a.iter().zip(b).enumerate() {
        assert!((p - q).abs() <= tol * (1.0 + q.abs()), "{what}[{i}]: {p} vs {q}");
    }
}
