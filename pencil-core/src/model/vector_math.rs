//! Slice kernels for the fused training ops: `exp`, softmax rows and GELU,
//! written so that the compiler vectorises them, and compiled for AVX-512 and
//! AVX2 as well as the baseline, picked at run time.
//!
//! libm's `expf` and `tanhf` are scalar calls; in a profile of `small` they
//! were a fifth of a training step. Here `exp` is a branch-free range
//! reduction and a degree-6 polynomial (relative error below 3e-7 on the
//! range that matters), `tanh` follows from it, and every reduction keeps 16
//! partial sums so that it vectorises too (so sums differ from a sequential
//! one in the last bits).

const LOG2E: f32 = std::f32::consts::LOG2_E;
const LN2_HI: f32 = 0.693_145_75;
const LN2_LO: f32 = 1.428_606_8e-6;
/// 1.5 * 2^23: adding it rounds to an integer held in the low mantissa bits.
const ROUNDER: f32 = 12_582_912.0;
const LANES: usize = 16;

/// `e^x`, branch-free. Saturates: below -87 it returns about 1e-38 (not 0),
/// above 88 about 1.6e38 (not infinity).
#[inline(always)]
pub fn exp(x: f32) -> f32 {
    let x = x.clamp(-87.0, 88.0);
    let t = x * LOG2E + ROUNDER;
    let n = t.to_bits().wrapping_sub(ROUNDER.to_bits()) as i32;
    let nf = t - ROUNDER;
    let r = x - nf * LN2_HI - nf * LN2_LO;
    let p = 1.0 + r * (1.0 + r * (0.5 + r * (1.0 / 6.0 + r * (1.0 / 24.0 + r * (1.0 / 120.0 + r * (1.0 / 720.0))))));
    f32::from_bits(((n + 127) as u32) << 23) * p
}

/// `tanh(x)` from [`exp`]: absolute error below 1e-6.
#[inline(always)]
pub fn tanh(x: f32) -> f32 {
    1.0 - 2.0 / (exp(2.0 * x) + 1.0)
}

const SQRT_2_OVER_PI: f32 = 0.797_884_6;
const GELU_A: f32 = 0.044_715;

#[inline(always)]
fn gelu_value(x: f32) -> f32 {
    0.5 * x * (1.0 + tanh(SQRT_2_OVER_PI * x * (1.0 + GELU_A * x * x)))
}

#[inline(always)]
fn gelu_slope(x: f32) -> f32 {
    let t = tanh(SQRT_2_OVER_PI * x * (1.0 + GELU_A * x * x));
    0.5 * (1.0 + t) + 0.5 * x * (1.0 - t * t) * SQRT_2_OVER_PI * (1.0 + 3.0 * GELU_A * x * x)
}

#[inline(always)]
fn sum_impl(xs: &[f32]) -> f32 {
    let mut acc = [0f32; LANES];
    let chunks = xs.chunks_exact(LANES);
    let rest = chunks.remainder();
    for c in chunks {
        for (a, &x) in acc.iter_mut().zip(c) {
            *a += x;
        }
    }
    acc.iter().sum::<f32>() + rest.iter().sum::<f32>()
}

#[inline(always)]
fn max_impl(xs: &[f32]) -> f32 {
    let mut acc = [f32::NEG_INFINITY; LANES];
    let chunks = xs.chunks_exact(LANES);
    let rest = chunks.remainder();
    for c in chunks {
        for (a, &x) in acc.iter_mut().zip(c) {
            *a = if x > *a { x } else { *a };
        }
    }
    acc.iter().chain(rest).fold(f32::NEG_INFINITY, |m, &x| if x > m { x } else { m })
}

#[inline(always)]
fn dot_impl(a: &[f32], b: &[f32]) -> f32 {
    let mut acc = [0f32; LANES];
    let (ca, cb) = (a.chunks_exact(LANES), b.chunks_exact(LANES));
    let rest: f32 = ca.remainder().iter().zip(cb.remainder()).map(|(x, y)| x * y).sum();
    for (x, y) in ca.zip(cb) {
        for ((s, &x), &y) in acc.iter_mut().zip(x).zip(y) {
            *s += x * y;
        }
    }
    acc.iter().sum::<f32>() + rest
}

/// `out[j] = exp(scale * x[j] - shift)`; returns their sum.
#[inline(always)]
fn exp_into_impl(x: &[f32], out: &mut [f32], scale: f32, shift: f32) -> f32 {
    for (o, &a) in out.iter_mut().zip(x) {
        *o = exp(a * scale - shift);
    }
    sum_impl(&out[..x.len().min(out.len())])
}

/// `x[j] = exp(x[j] - shift)`; returns their sum.
#[inline(always)]
fn exp_in_place_impl(xs: &mut [f32], shift: f32) -> f32 {
    for x in xs.iter_mut() {
        *x = exp(*x - shift);
    }
    sum_impl(xs)
}

#[inline(always)]
fn scale_impl(xs: &mut [f32], k: f32) {
    for x in xs {
        *x *= k;
    }
}

/// `out[j] = scale * y[j] * (g[j] - dot)`.
#[inline(always)]
fn softmax_grad_impl(y: &[f32], g: &[f32], out: &mut [f32], scale: f32, dot: f32) {
    for ((o, &y), &g) in out.iter_mut().zip(y).zip(g) {
        *o = scale * y * (g - dot);
    }
}

#[inline(always)]
fn gelu_impl(x: &[f32], out: &mut [f32]) {
    for (o, &x) in out.iter_mut().zip(x) {
        *o = gelu_value(x);
    }
}

#[inline(always)]
fn gelu_grad_impl(x: &[f32], g: &[f32], out: &mut [f32]) {
    for ((o, &x), &g) in out.iter_mut().zip(x).zip(g) {
        *o = g * gelu_slope(x);
    }
}

/// Defines a public function that runs `$impl` compiled for AVX-512F, AVX2+FMA
/// or the baseline, whichever the CPU has.
macro_rules! dispatch {
    ($(#[$doc:meta])* $name:ident($($arg:ident: $ty:ty),*) $(-> $ret:ty)? = $imp:ident) => {
        $(#[$doc])*
        pub fn $name($($arg: $ty),*) $(-> $ret)? {
            #[cfg(target_arch = "x86_64")]
            {
                #[target_feature(enable = "avx512f")]
                fn avx512($($arg: $ty),*) $(-> $ret)? { $imp($($arg),*) }
                #[target_feature(enable = "avx2,fma")]
                fn avx2($($arg: $ty),*) $(-> $ret)? { $imp($($arg),*) }
                if std::arch::is_x86_feature_detected!("avx512f") {
                    // SAFETY: the CPU has AVX-512F (checked on the line above).
                    return unsafe { avx512($($arg),*) };
                }
                if std::arch::is_x86_feature_detected!("avx2") && std::arch::is_x86_feature_detected!("fma") {
                    // SAFETY: the CPU has AVX2 and FMA (checked on the line above).
                    return unsafe { avx2($($arg),*) };
                }
            }
            $imp($($arg),*)
        }
    };
}

dispatch!(
    /// The largest element (negative infinity for an empty slice).
    max(xs: &[f32]) -> f32 = max_impl
);
dispatch!(
    /// The sum of `a[j] * b[j]`.
    dot(a: &[f32], b: &[f32]) -> f32 = dot_impl
);
dispatch!(
    /// `out[j] = exp(scale * x[j] - shift)` for `j < x.len()`; returns their sum.
    exp_into(x: &[f32], out: &mut [f32], scale: f32, shift: f32) -> f32 = exp_into_impl
);
dispatch!(
    /// `x[j] = exp(x[j] - shift)` in place; returns their sum.
    exp_in_place(xs: &mut [f32], shift: f32) -> f32 = exp_in_place_impl
);
dispatch!(
    /// Multiplies every element by `k`.
    scale(xs: &mut [f32], k: f32) = scale_impl
);
dispatch!(
    /// The softmax's backward for one row: `out[j] = scale * y[j] * (g[j] - dot)`.
    softmax_grad(y: &[f32], g: &[f32], out: &mut [f32], scale: f32, dot: f32) = softmax_grad_impl
);
dispatch!(
    /// GELU (tanh approximation) of every element.
    gelu(x: &[f32], out: &mut [f32]) = gelu_impl
);
dispatch!(
    /// `out[j] = g[j] * gelu'(x[j])`.
    gelu_grad(x: &[f32], g: &[f32], out: &mut [f32]) = gelu_grad_impl
);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exp_is_close_to_libm_over_the_range_that_matters() {
        let mut worst = 0f64;
        let mut x = -87.0f32;
        while x < 88.0 {
            let (a, b) = (f64::from(exp(x)), f64::from(x).exp());
            worst = worst.max(((a - b) / b).abs());
            x += 0.013;
        }
        assert!(worst < 3e-7, "worst relative error {worst}");
        assert!(exp(f32::NEG_INFINITY) < 1e-37 && exp(f32::NEG_INFINITY) >= 0.0);
        assert!(exp(1000.0).is_finite());
    }

    #[test]
    fn tanh_and_gelu_are_close_to_libm() {
        let mut x = -30.0f32;
        while x < 30.0 {
            assert!((tanh(x) - x.tanh()).abs() < 1e-6, "tanh({x})");
            x += 0.0071;
        }
        let xs: Vec<f32> = (0..1000).map(|i| (i as f32 - 500.0) / 50.0).collect();
        let mut out = vec![0f32; xs.len()];
        gelu(&xs, &mut out);
        for (&x, &y) in xs.iter().zip(&out) {
            let want = 0.5 * x * (1.0 + (SQRT_2_OVER_PI * x * (1.0 + GELU_A * x * x)).tanh());
            assert!((y - want).abs() < 1e-5, "gelu({x}) = {y}, want {want}");
        }
    }

    #[test]
    fn reductions_agree_with_sequential_ones_on_odd_lengths() {
        let xs: Vec<f32> = (0..37).map(|i| ((i * 7919) % 101) as f32 / 10.0 - 5.0).collect();
        let ys: Vec<f32> = xs.iter().map(|x| x * 0.5 + 1.0).collect();
        assert_eq!(max(&xs), xs.iter().copied().fold(f32::NEG_INFINITY, f32::max));
        assert!((dot(&xs, &ys) - xs.iter().zip(&ys).map(|(a, b)| a * b).sum::<f32>()).abs() < 1e-4);
        let mut out = vec![0f32; xs.len()];
        let s = exp_into(&xs, &mut out, 0.5, 1.0);
        let want: f32 = xs.iter().map(|x| (x * 0.5 - 1.0).exp()).sum();
        assert!((s - want).abs() < 1e-4 * want, "{s} vs {want}");
        assert!(max(&[]).is_infinite());
    }
}
