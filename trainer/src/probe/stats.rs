//! Summaries over the probe's seeds of the split: mean, standard error, and
//! the paired t-test on per-seed differences (the paper's §4.2 compares the
//! probe with its controls over several splits). The Student t distribution
//! is computed here (regularised incomplete beta by its continued fraction)
//! rather than taken from a crate: it is forty lines and tested against
//! tabulated values.

use serde::Serialize;

/// Mean of `v` (0 for none).
pub fn mean(v: &[f64]) -> f64 {
    if v.is_empty() {
        0.0
    } else {
        v.iter().sum::<f64>() / v.len() as f64
    }
}

/// Sample standard deviation (`n - 1` in the denominator; 0 below two values).
pub fn sample_sd(v: &[f64]) -> f64 {
    if v.len() < 2 {
        return 0.0;
    }
    let m = mean(v);
    (v.iter().map(|x| (x - m).powi(2)).sum::<f64>() / (v.len() - 1) as f64).sqrt()
}

/// Standard error of the mean (`sd / sqrt(n)`; 0 below two values).
pub fn standard_error(v: &[f64]) -> f64 {
    if v.len() < 2 {
        0.0
    } else {
        sample_sd(v) / (v.len() as f64).sqrt()
    }
}

/// Mean and standard error of one measure over the seeds.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, serde::Deserialize)]
pub struct MeanSe {
    /// Mean over the seeds.
    pub mean: f64,
    /// Standard error of that mean.
    pub se: f64,
    /// Number of seeds.
    pub n: usize,
}

impl MeanSe {
    /// Summarises `v`.
    pub fn of(v: &[f64]) -> Self {
        MeanSe { mean: mean(v), se: standard_error(v), n: v.len() }
    }
}

/// A paired t-test of `a - b` over the seeds.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct PairedTest {
    /// Mean of the per-seed differences `a - b`.
    pub mean_difference: f64,
    /// Standard error of that mean.
    pub se: f64,
    /// The t statistic (infinite when every difference is the same non-zero value).
    pub t: f64,
    /// Degrees of freedom (`n - 1`).
    pub df: usize,
    /// Two-sided p-value of "mean difference = 0".
    pub p_two_sided: f64,
    /// One-sided p-value of "a is not above b" (small when a > b).
    pub p_one_sided: f64,
}

/// Paired t-test of `a` against `b` (same seeds, same order); `None` below two pairs.
pub fn paired_t_test(a: &[f64], b: &[f64]) -> Option<PairedTest> {
    if a.len() != b.len() || a.len() < 2 {
        return None;
    }
    let d: Vec<f64> = a.iter().zip(b).map(|(x, y)| x - y).collect();
    let (m, se) = (mean(&d), standard_error(&d));
    let df = d.len() - 1;
    let t = if se > 0.0 {
        m / se
    } else if m == 0.0 {
        0.0
    } else {
        m.signum() * f64::INFINITY
    };
    let upper = student_t_sf(t, df as f64);
    Some(PairedTest { mean_difference: m, se, t, df, p_two_sided: (2.0 * upper.min(1.0 - upper)).min(1.0), p_one_sided: upper })
}

/// `P(T > t)` for Student's t with `df` degrees of freedom.
pub fn student_t_sf(t: f64, df: f64) -> f64 {
    if t.is_infinite() {
        return if t > 0.0 { 0.0 } else { 1.0 };
    }
    // P(|T| > |t|) = I_{df / (df + t^2)}(df / 2, 1 / 2).
    let tail = 0.5 * regularized_incomplete_beta(df / (df + t * t), df / 2.0, 0.5);
    if t >= 0.0 {
        tail
    } else {
        1.0 - tail
    }
}

/// `ln Γ(x)` for `x > 0` (Lanczos, g = 7, nine coefficients; ~1e-15 relative).
fn ln_gamma(x: f64) -> f64 {
    const G: f64 = 7.0;
    const C: [f64; 9] = [
        0.999_999_999_999_809_9,
        676.520_368_121_885_1,
        -1_259.139_216_722_402_8,
        771.323_428_777_653_1,
        -176.615_029_162_140_6,
        12.507_343_278_686_905,
        -0.138_571_095_265_720_12,
        9.984_369_578_019_572e-6,
        1.505_632_735_149_311_6e-7,
    ];
    if x < 0.5 {
        // Reflection keeps the series in its accurate range.
        return (std::f64::consts::PI / (std::f64::consts::PI * x).sin()).ln() - ln_gamma(1.0 - x);
    }
    let x = x - 1.0;
    let mut a = C[0];
    let t = x + G + 0.5;
    for (i, c) in C.iter().enumerate().skip(1) {
        a += c / (x + i as f64);
    }
    0.5 * (2.0 * std::f64::consts::PI).ln() + (x + 0.5) * t.ln() - t + a.ln()
}

/// The regularised incomplete beta `I_x(a, b)`, by its continued fraction
/// (modified Lentz), on the side where it converges fast.
pub fn regularized_incomplete_beta(x: f64, a: f64, b: f64) -> f64 {
    if x <= 0.0 {
        return 0.0;
    }
    if x >= 1.0 {
        return 1.0;
    }
    let ln_front = ln_gamma(a + b) - ln_gamma(a) - ln_gamma(b) + a * x.ln() + b * (1.0 - x).ln();
    if x < (a + 1.0) / (a + b + 2.0) {
        ln_front.exp() * beta_fraction(x, a, b) / a
    } else {
        1.0 - ln_front.exp() * beta_fraction(1.0 - x, b, a) / b
    }
}

fn beta_fraction(x: f64, a: f64, b: f64) -> f64 {
    const TINY: f64 = 1e-300;
    let (qab, qap, qam) = (a + b, a + 1.0, a - 1.0);
    let mut c = 1.0;
    let mut d = 1.0 - qab * x / qap;
    if d.abs() < TINY {
        d = TINY;
    }
    d = 1.0 / d;
    let mut h = d;
    for m in 1..300 {
        let m = f64::from(m);
        let m2 = 2.0 * m;
        let aa = m * (b - m) * x / ((qam + m2) * (a + m2));
        d = 1.0 + aa * d;
        d = if d.abs() < TINY { TINY } else { d };
        c = 1.0 + aa / c;
        c = if c.abs() < TINY { TINY } else { c };
        d = 1.0 / d;
        h *= d * c;
        let aa = -(a + m) * (qab + m) * x / ((a + m2) * (qap + m2));
        d = 1.0 + aa * d;
        d = if d.abs() < TINY { TINY } else { d };
        c = 1.0 + aa / c;
        c = if c.abs() < TINY { TINY } else { c };
        d = 1.0 / d;
        let del = d * c;
        h *= del;
        if (del - 1.0).abs() < 1e-15 {
            break;
        }
    }
    h
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn t_distribution_matches_tabulated_critical_values() {
        // (t, df, two-sided p) from standard t tables.
        for (t, df, p) in [(2.776, 4.0, 0.05), (4.604, 4.0, 0.01), (2.132, 4.0, 0.10), (12.706, 1.0, 0.05), (1.96, 1e6, 0.05), (2.228, 10.0, 0.05)] {
            let got = 2.0 * student_t_sf(t, df);
            // The tables round t to three decimals, so p agrees to about 1e-4.
            assert!((got - p).abs() < 5e-4, "t={t} df={df}: {got} vs {p}");
        }
        assert!((student_t_sf(0.0, 4.0) - 0.5).abs() < 1e-12);
        assert!((student_t_sf(-2.776, 4.0) - 0.975).abs() < 1e-4);
        // df = 1 is the Cauchy distribution: P(T > 1) = 1/4.
        assert!((student_t_sf(1.0, 1.0) - 0.25).abs() < 1e-10);
    }

    #[test]
    fn incomplete_beta_known_values() {
        // I_x(1, 1) = x; I_x(2, 1) = x^2; I_0.5(a, a) = 0.5.
        assert!((regularized_incomplete_beta(0.3, 1.0, 1.0) - 0.3).abs() < 1e-12);
        assert!((regularized_incomplete_beta(0.3, 2.0, 1.0) - 0.09).abs() < 1e-12);
        assert!((regularized_incomplete_beta(0.5, 3.5, 3.5) - 0.5).abs() < 1e-12);
        assert!((ln_gamma(5.0) - 24f64.ln()).abs() < 1e-12);
        assert!((ln_gamma(0.5) - std::f64::consts::PI.sqrt().ln()).abs() < 1e-12);
    }

    #[test]
    fn paired_test_of_hand_made_differences() {
        // Differences 0.05, 0.06, 0.04, 0.07, 0.03: mean 0.05, sd 0.0158, se 0.00707, t 7.07, df 4.
        let b = [0.60, 0.58, 0.61, 0.59, 0.62];
        let a: Vec<f64> = b.iter().zip([0.05, 0.06, 0.04, 0.07, 0.03]).map(|(x, d)| x + d).collect();
        let r = paired_t_test(&a, &b).expect("five pairs");
        assert!((r.mean_difference - 0.05).abs() < 1e-12);
        assert!((r.t - 7.0711).abs() < 1e-3, "{r:?}");
        assert_eq!(r.df, 4);
        // Two-sided p for t = 7.071 on 4 df is 0.00211.
        assert!((r.p_two_sided - 0.00211).abs() < 5e-5, "{r:?}");
        assert!((r.p_one_sided - r.p_two_sided / 2.0).abs() < 1e-12);
        // Swapped, the one-sided p says "not above".
        let s = paired_t_test(&b, &a).expect("five pairs");
        assert!(s.t < 0.0 && s.p_one_sided > 0.99 && (s.p_two_sided - r.p_two_sided).abs() < 1e-12);
        // Equal inputs: no difference; one pair: no test.
        assert_eq!(paired_t_test(&b, &b).map(|r| (r.t, r.p_two_sided)), Some((0.0, 1.0)));
        assert!(paired_t_test(&[1.0], &[0.0]).is_none());
        let m = MeanSe::of(&[1.0, 2.0, 3.0]);
        assert!((m.mean - 2.0).abs() < 1e-12 && (m.se - 1.0 / 3f64.sqrt()).abs() < 1e-12);
    }
}
