//! Plain-Rust linear models for the probe, all deterministic: feature
//! standardisation, L2-regularised logistic regression (Newton's method with
//! step halving) and ridge regression (closed form), both solved with a
//! Cholesky factorisation of a `(d + 1) x (d + 1)` system.

/// Per-feature mean and scale of a training set: `z = (x - mean) / scale`.
#[derive(Debug, Clone, PartialEq)]
pub struct Standardiser {
    /// Feature means.
    pub mean: Vec<f64>,
    /// Feature standard deviations; constant features get 1 so they map to 0.
    pub scale: Vec<f64>,
}

impl Standardiser {
    /// Fits mean and scale on `rows` (all of the same width).
    pub fn fit(rows: &[Vec<f32>]) -> Self {
        let d = rows.first().map_or(0, Vec::len);
        let n = rows.len().max(1) as f64;
        let mut mean = vec![0.0; d];
        for r in rows {
            for (m, &x) in mean.iter_mut().zip(r) {
                *m += f64::from(x);
            }
        }
        mean.iter_mut().for_each(|m| *m /= n);
        let mut var = vec![0.0; d];
        for r in rows {
            for ((v, &x), m) in var.iter_mut().zip(r).zip(&mean) {
                *v += (f64::from(x) - m).powi(2);
            }
        }
        // A (near-)constant feature carries nothing; scale 1 keeps it finite.
        let scale = var.iter().map(|v| (v / n).sqrt()).map(|s| if s > 1e-6 { s } else { 1.0 }).collect();
        Standardiser { mean, scale }
    }

    /// Standardises one row.
    pub fn apply(&self, row: &[f32]) -> Vec<f64> {
        row.iter().zip(&self.mean).zip(&self.scale).map(|((&x, m), s)| (f64::from(x) - m) / s).collect()
    }

    /// Standardises every row.
    pub fn apply_all(&self, rows: &[Vec<f32>]) -> Vec<Vec<f64>> {
        rows.iter().map(|r| self.apply(r)).collect()
    }
}

/// A linear function `weight · z + bias`.
#[derive(Debug, Clone, PartialEq)]
pub struct Linear {
    /// Weights.
    pub weight: Vec<f64>,
    /// Intercept (never penalised).
    pub bias: f64,
}

impl Linear {
    /// The function's value at `z`.
    pub fn score(&self, z: &[f64]) -> f64 {
        self.weight.iter().zip(z).map(|(w, x)| w * x).sum::<f64>() + self.bias
    }

    /// Values at every row.
    pub fn scores(&self, rows: &[Vec<f64>]) -> Vec<f64> {
        rows.iter().map(|z| self.score(z)).collect()
    }
}

/// The logistic function.
pub fn sigmoid(x: f64) -> f64 {
    if x >= 0.0 {
        1.0 / (1.0 + (-x).exp())
    } else {
        let e = x.exp();
        e / (1.0 + e)
    }
}

/// `ln(1 + e^x)` without overflow.
fn softplus(x: f64) -> f64 {
    if x > 30.0 {
        x
    } else {
        x.exp().ln_1p()
    }
}

/// Solves `a x = b` for a symmetric positive definite `a` (`n x n`, row
/// major) by Cholesky; `None` when `a` is not positive definite.
pub fn solve_spd(a: &[f64], b: &[f64]) -> Option<Vec<f64>> {
    let l = cholesky(a, b.len())?;
    Some(solve_factored(&l, b))
}

/// The lower Cholesky factor `l` (`a = l l^T`, row major) of an `n x n`
/// symmetric positive definite `a`; `None` when `a` is not positive definite.
fn cholesky(a: &[f64], n: usize) -> Option<Vec<f64>> {
    if a.len() != n * n {
        return None;
    }
    let mut l = vec![0.0; n * n];
    for i in 0..n {
        for j in 0..=i {
            let s: f64 = a[i * n + j] - (0..j).map(|k| l[i * n + k] * l[j * n + k]).sum::<f64>();
            if i == j {
                if s <= 0.0 || !s.is_finite() {
                    return None;
                }
                l[i * n + i] = s.sqrt();
            } else {
                l[i * n + j] = s / l[j * n + j];
            }
        }
    }
    Some(l)
}

/// Solves `l l^T x = b` with a factor from [`cholesky`].
fn solve_factored(l: &[f64], b: &[f64]) -> Vec<f64> {
    let n = b.len();
    let mut y = vec![0.0; n];
    for i in 0..n {
        y[i] = (b[i] - (0..i).map(|k| l[i * n + k] * y[k]).sum::<f64>()) / l[i * n + i];
    }
    let mut x = vec![0.0; n];
    for i in (0..n).rev() {
        x[i] = (y[i] - (i + 1..n).map(|k| l[k * n + i] * x[k]).sum::<f64>()) / l[i * n + i];
    }
    x
}

/// `sum_r w_r [z_r, 1] [z_r, 1]^T`: the weighted Gram matrix of the rows
/// extended by a constant column (row major, `(d + 1) x (d + 1)`).
///
/// Computed as one f64 matrix product with candle (gemm), because this is
/// where fitting spends its time: a Newton step of the logistic head and
/// every ridge fit need one, and the probe fits hundreds of heads.
fn weighted_gram(rows: &[Vec<f64>], weights: &[f64]) -> Option<Vec<f64>> {
    let d = rows.first().map_or(0, Vec::len) + 1;
    let n = rows.len();
    let mut ext = Vec::with_capacity(n * d);
    let mut weighted = Vec::with_capacity(n * d);
    for (z, &w) in rows.iter().zip(weights) {
        ext.extend_from_slice(z);
        ext.push(1.0);
        weighted.extend(z.iter().map(|x| w * x));
        weighted.push(w);
    }
    use candle_core::{Device, Tensor};
    // Fails only on a shape mismatch, which the construction above rules out.
    let x = Tensor::from_vec(ext, (n, d), &Device::Cpu).ok()?;
    let xw = Tensor::from_vec(weighted, (n, d), &Device::Cpu).ok()?;
    x.t().ok()?.matmul(&xw).ok()?.flatten_all().ok()?.to_vec1::<f64>().ok()
}

/// L2-regularised logistic regression on standardised rows:
/// minimises `sum_r ln(1 + e^{-s_r f(z_r)}) + l2/2 |w|^2` (bias unpenalised).
pub fn fit_logistic(rows: &[Vec<f64>], labels: &[bool], l2: f64) -> Option<Linear> {
    let d = rows.first().map_or(0, Vec::len);
    if rows.is_empty() || rows.len() != labels.len() {
        return None;
    }
    let loss = |m: &Linear| -> f64 {
        let data: f64 = rows
            .iter()
            .zip(labels)
            .map(|(z, &y)| {
                let s = m.score(z);
                if y {
                    softplus(-s)
                } else {
                    softplus(s)
                }
            })
            .sum();
        data + 0.5 * l2 * m.weight.iter().map(|w| w * w).sum::<f64>()
    };
    let mut model = Linear { weight: vec![0.0; d], bias: 0.0 };
    let mut current = loss(&model);
    for _ in 0..100 {
        let p: Vec<f64> = rows.iter().map(|z| sigmoid(model.score(z))).collect();
        let mut grad = vec![0.0; d + 1];
        for ((z, &y), &pr) in rows.iter().zip(labels).zip(&p) {
            let r = pr - if y { 1.0 } else { 0.0 };
            for (g, x) in grad.iter_mut().zip(z) {
                *g += r * x;
            }
            grad[d] += r;
        }
        for (g, w) in grad.iter_mut().zip(&model.weight) {
            *g += l2 * w;
        }
        let curvature: Vec<f64> = p.iter().map(|p| (p * (1.0 - p)).max(1e-10)).collect();
        let mut h = weighted_gram(rows, &curvature)?;
        for i in 0..d {
            h[i * (d + 1) + i] += l2;
        }
        // A whisker on the bias keeps the system definite when every point is saturated.
        h[d * (d + 1) + d] += 1e-9;
        let step = solve_spd(&h, &grad)?;
        // Newton's step, halved until the loss goes down (it always can: the step is a descent direction).
        let mut t = 1.0;
        let mut accepted = None;
        for _ in 0..30 {
            let cand = Linear {
                weight: model.weight.iter().zip(&step).map(|(w, s)| w - t * s).collect(),
                bias: model.bias - t * step[d],
            };
            let l = loss(&cand);
            if l <= current {
                accepted = Some((cand, l));
                break;
            }
            t *= 0.5;
        }
        let Some((next, l)) = accepted else { break };
        let moved = step.iter().map(|s| (t * s).abs()).fold(0.0, f64::max);
        let improved = current - l;
        model = next;
        current = l;
        if moved < 1e-7 || improved < 1e-10 * (1.0 + current.abs()) {
            break;
        }
    }
    Some(model)
}

/// Ridge regression on standardised rows: minimises
/// `sum_r (f(z_r) - y_r)^2 + l2 |w|^2` (bias unpenalised), in closed form.
pub fn fit_ridge(rows: &[Vec<f64>], targets: &[f64], l2: f64) -> Option<Linear> {
    let d = rows.first().map_or(0, Vec::len);
    if rows.is_empty() || rows.len() != targets.len() {
        return None;
    }
    let mut a = weighted_gram(rows, &vec![1.0; rows.len()])?;
    for i in 0..d {
        a[i * (d + 1) + i] += l2;
    }
    let mut b = vec![0.0; d + 1];
    for (z, &y) in rows.iter().zip(targets) {
        for (bi, x) in b.iter_mut().zip(z) {
            *bi += y * x;
        }
        b[d] += y;
    }
    let x = solve_spd(&a, &b)?;
    Some(Linear { weight: x[..d].to_vec(), bias: x[d] })
}

/// Ridge regressions of several targets on the same rows (one Cholesky
/// factorisation for all): `targets[r][c]` is target `c` of row `r`. The
/// one-vs-rest least-squares classifier of the multiclass probe.
pub fn fit_ridge_multi(rows: &[Vec<f64>], targets: &[Vec<f64>], l2: f64) -> Option<Vec<Linear>> {
    let d = rows.first().map_or(0, Vec::len);
    let c = targets.first().map_or(0, Vec::len);
    if rows.is_empty() || rows.len() != targets.len() || targets.iter().any(|t| t.len() != c) {
        return None;
    }
    let mut a = weighted_gram(rows, &vec![1.0; rows.len()])?;
    for i in 0..d {
        a[i * (d + 1) + i] += l2;
    }
    let l = cholesky(&a, d + 1)?;
    let mut out = Vec::with_capacity(c);
    for k in 0..c {
        let mut b = vec![0.0; d + 1];
        for (z, t) in rows.iter().zip(targets) {
            let y = t[k];
            for (bi, x) in b.iter_mut().zip(z) {
                *bi += y * x;
            }
            b[d] += y;
        }
        let x = solve_factored(&l, &b);
        out.push(Linear { weight: x[..d].to_vec(), bias: x[d] });
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use pencil_core::model::rng::SplitMix64;

    #[test]
    fn cholesky_solves_a_known_system() {
        // [[4, 2], [2, 3]] x = [2, 1]  =>  x = [0.5, 0]
        let x = solve_spd(&[4.0, 2.0, 2.0, 3.0], &[2.0, 1.0]).expect("definite");
        assert!((x[0] - 0.5).abs() < 1e-12 && x[1].abs() < 1e-12, "{x:?}");
        assert!(solve_spd(&[1.0, 2.0, 2.0, 1.0], &[1.0, 1.0]).is_none(), "indefinite matrix refused");
    }

    #[test]
    fn standardiser_centres_and_scales_and_keeps_constants_finite() {
        let rows = vec![vec![1.0, 5.0], vec![3.0, 5.0]];
        let s = Standardiser::fit(&rows);
        assert_eq!(s.mean, vec![2.0, 5.0]);
        assert_eq!(s.scale, vec![1.0, 1.0]);
        assert_eq!(s.apply(&[3.0, 5.0]), vec![1.0, 0.0]);
        let s = Standardiser::fit(&[vec![0.0], vec![4.0]]);
        assert_eq!(s.apply(&[4.0]), vec![1.0]);
    }

    #[test]
    fn logistic_regression_separates_a_separable_set() {
        let mut rng = SplitMix64::new(3);
        let mut rows = Vec::new();
        let mut labels = Vec::new();
        for _ in 0..200 {
            let (a, b, noise) = (rng.normal(), rng.normal(), rng.normal());
            // The label is the side of the line a + 2b = 0.3, with a margin.
            let side = a + 2.0 * b - 0.3;
            if side.abs() < 0.2 {
                continue;
            }
            rows.push(vec![a, b, noise]);
            labels.push(side > 0.0);
        }
        let m = fit_logistic(&rows, &labels, 0.01).expect("fits");
        let correct = rows.iter().zip(&labels).filter(|(z, &y)| (m.score(z) > 0.0) == y).count();
        assert_eq!(correct, rows.len(), "every training point on its side: {m:?}");
        // The direction found is the true one, and the noise feature barely counts.
        assert!((m.weight[1] / m.weight[0] - 2.0).abs() < 0.5, "{m:?}");
        assert!(m.weight[2].abs() < 0.2 * m.weight[0].abs(), "{m:?}");

        // Strong regularisation shrinks the weights towards zero.
        let shrunk = fit_logistic(&rows, &labels, 1e4).expect("fits");
        assert!(shrunk.weight[0].abs() < m.weight[0].abs() * 0.1);
    }

    #[test]
    fn logistic_regression_recovers_calibrated_probabilities() {
        // Labels drawn from a known logistic model: the fit recovers its weights.
        let mut rng = SplitMix64::new(9);
        let (w, b) = ([1.5, -0.5], 0.25);
        let mut rows = Vec::new();
        let mut labels = Vec::new();
        for _ in 0..20000 {
            let z = vec![rng.normal(), rng.normal()];
            let p = sigmoid(w[0] * z[0] + w[1] * z[1] + b);
            labels.push(rng.next_f64() < p);
            rows.push(z);
        }
        let m = fit_logistic(&rows, &labels, 1e-3).expect("fits");
        assert!((m.weight[0] - w[0]).abs() < 0.1 && (m.weight[1] - w[1]).abs() < 0.1 && (m.bias - b).abs() < 0.1, "{m:?}");
    }

    #[test]
    fn ridge_recovers_a_known_linear_map() {
        let mut rng = SplitMix64::new(1);
        let truth = Linear { weight: vec![2.0, -1.0, 0.5], bias: 3.0 };
        let rows: Vec<Vec<f64>> = (0..500).map(|_| vec![rng.normal(), rng.normal(), rng.normal()]).collect();
        let y: Vec<f64> = rows.iter().map(|z| truth.score(z) + 0.01 * rng.normal()).collect();
        let m = fit_ridge(&rows, &y, 1e-6).expect("fits");
        for (got, want) in m.weight.iter().zip(&truth.weight) {
            assert!((got - want).abs() < 0.01, "{m:?}");
        }
        assert!((m.bias - 3.0).abs() < 0.01, "{m:?}");
        // Heavy regularisation pulls the weights to zero and the bias to the mean.
        let flat = fit_ridge(&rows, &y, 1e9).expect("fits");
        assert!(flat.weight.iter().all(|w| w.abs() < 1e-3));
        let mean = y.iter().sum::<f64>() / y.len() as f64;
        assert!((flat.bias - mean).abs() < 0.05, "{} vs {mean}", flat.bias);
    }

    #[test]
    fn the_weighted_gram_matches_its_definition() {
        let mut rng = SplitMix64::new(8);
        let rows: Vec<Vec<f64>> = (0..37).map(|_| (0..5).map(|_| rng.normal()).collect()).collect();
        let w: Vec<f64> = (0..37).map(|_| rng.next_f64()).collect();
        let g = weighted_gram(&rows, &w).expect("gram");
        let d = 6;
        for i in 0..d {
            for j in 0..d {
                let want: f64 = rows
                    .iter()
                    .zip(&w)
                    .map(|(z, wr)| wr * z.get(i).copied().unwrap_or(1.0) * z.get(j).copied().unwrap_or(1.0))
                    .sum();
                assert!((g[i * d + j] - want).abs() < 1e-9, "({i}, {j}): {} vs {want}", g[i * d + j]);
            }
        }
    }

    #[test]
    fn multi_target_ridge_equals_one_ridge_per_target() {
        let mut rng = SplitMix64::new(6);
        let rows: Vec<Vec<f64>> = (0..200).map(|_| vec![rng.normal(), rng.normal(), rng.normal()]).collect();
        let targets: Vec<Vec<f64>> = rows.iter().map(|z| vec![z[0] - z[2], 2.0 * z[1] + 0.5, rng.normal()]).collect();
        let multi = fit_ridge_multi(&rows, &targets, 3.0).expect("fits");
        assert_eq!(multi.len(), 3);
        for (c, m) in multi.iter().enumerate() {
            let y: Vec<f64> = targets.iter().map(|t| t[c]).collect();
            let single = fit_ridge(&rows, &y, 3.0).expect("fits");
            for (a, b) in m.weight.iter().chain([&m.bias]).zip(single.weight.iter().chain([&single.bias])) {
                assert!((a - b).abs() < 1e-9, "target {c}: {m:?} vs {single:?}");
            }
        }
        assert!(fit_ridge_multi(&rows, &targets[..10], 1.0).is_none(), "row counts differ");
    }
}
