//! The statistics of a claim (issue #22): Student's t distribution, the one-sided Welch,
//! paired and one-sample t tests, a seed-level bootstrap, and the effect sizes.
//!
//! Conventions (those of `scipy.stats`, against which the tests check these on fixed numbers):
//! a one-sided test of H0 `effect ≤ margin` against H1 `effect > margin`, where the effect is
//! `mean(a) − mean(b)` (two samples), the mean of the paired differences `a_i − b_i`, or
//! `mean(a) − value`. Variances are over `n − 1`. `ttest_ind(a − margin, b, equal_var=False,
//! alternative="greater")` is [`welch`], `ttest_rel(a − margin, b, alternative="greater")` is
//! [`paired`], `ttest_1samp(a, value + margin, alternative="greater")` is [`one_sample`].

use rand::{Rng, SeedableRng};

/// The result of one test.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct TestResult {
    /// The estimated effect (`mean(a) − mean(b)`, the mean paired difference, or
    /// `mean(a) − value`), before the margin is subtracted.
    pub diff: f64,
    /// Two-sided 95 % interval of the effect.
    pub ci95: (f64, f64),
    /// The t statistic of `effect − margin` (NaN for the bootstrap).
    pub statistic: f64,
    /// Degrees of freedom (NaN for the bootstrap).
    pub df: f64,
    /// One-sided p-value of H0 `effect ≤ margin`.
    pub p: f64,
    /// Standardised effect: Hedges' g, d_z or Cohen's d (NaN when the spread is zero).
    pub effect_size: f64,
}

/// `ln Γ(x)` for `x > 0` (Lanczos, g = 7, 9 terms; relative error below 1e-14).
pub fn ln_gamma(x: f64) -> f64 {
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
        // reflection: Γ(x) Γ(1 − x) = π / sin(πx)
        let pi = std::f64::consts::PI;
        return (pi / (pi * x).sin()).ln() - ln_gamma(1.0 - x);
    }
    let x = x - 1.0;
    let mut a = C[0];
    let t = x + G + 0.5;
    for (i, c) in C.iter().enumerate().skip(1) {
        a += c / (x + i as f64);
    }
    0.5 * (2.0 * std::f64::consts::PI).ln() + (x + 0.5) * t.ln() - t + a.ln()
}

/// The continued fraction of the incomplete beta function (modified Lentz).
fn beta_cf(a: f64, b: f64, x: f64) -> f64 {
    const TINY: f64 = 1e-300;
    let (qab, qap, qam) = (a + b, a + 1.0, a - 1.0);
    let mut c = 1.0;
    let mut d = 1.0 - qab * x / qap;
    if d.abs() < TINY {
        d = TINY;
    }
    d = 1.0 / d;
    let mut h = d;
    for m in 1..=1000 {
        let m = m as f64;
        let m2 = 2.0 * m;
        // even step
        let aa = m * (b - m) * x / ((qam + m2) * (a + m2));
        d = 1.0 + aa * d;
        if d.abs() < TINY {
            d = TINY;
        }
        c = 1.0 + aa / c;
        if c.abs() < TINY {
            c = TINY;
        }
        d = 1.0 / d;
        h *= d * c;
        // odd step
        let aa = -(a + m) * (qab + m) * x / ((a + m2) * (qap + m2));
        d = 1.0 + aa * d;
        if d.abs() < TINY {
            d = TINY;
        }
        c = 1.0 + aa / c;
        if c.abs() < TINY {
            c = TINY;
        }
        d = 1.0 / d;
        let del = d * c;
        h *= del;
        if (del - 1.0).abs() < 1e-16 {
            break;
        }
    }
    h
}

/// The regularised incomplete beta function `I_x(a, b)`, `a, b > 0`, `0 ≤ x ≤ 1`.
pub fn reg_inc_beta(a: f64, b: f64, x: f64) -> f64 {
    if x <= 0.0 {
        return 0.0;
    }
    if x >= 1.0 {
        return 1.0;
    }
    let ln_front = ln_gamma(a + b) - ln_gamma(a) - ln_gamma(b) + a * x.ln() + b * (1.0 - x).ln();
    let front = ln_front.exp();
    if x < (a + 1.0) / (a + b + 2.0) {
        front * beta_cf(a, b, x) / a
    } else {
        1.0 - front * beta_cf(b, a, 1.0 - x) / b
    }
}

/// `P(T > t)` for Student's t with `df > 0` degrees of freedom (`scipy.stats.t.sf`).
pub fn t_sf(t: f64, df: f64) -> f64 {
    if t.is_nan() || df.is_nan() || df <= 0.0 {
        return f64::NAN;
    }
    if t == f64::INFINITY {
        return 0.0;
    }
    if t == f64::NEG_INFINITY {
        return 1.0;
    }
    let x = df / (df + t * t);
    let tail = 0.5 * reg_inc_beta(0.5 * df, 0.5, x);
    if t > 0.0 {
        tail
    } else {
        1.0 - tail
    }
}

/// The `q` quantile of Student's t (`scipy.stats.t.ppf`), by bisection on [`t_sf`]
/// (absolute error below 1e-10).
pub fn t_ppf(q: f64, df: f64) -> f64 {
    if !(0.0..=1.0).contains(&q) || df.is_nan() || df <= 0.0 {
        return f64::NAN;
    }
    if q == 0.5 {
        return 0.0;
    }
    if q < 0.5 {
        return -t_ppf(1.0 - q, df);
    }
    let target = 1.0 - q; // sf at the answer
    let (mut lo, mut hi) = (0.0, 1.0);
    while t_sf(hi, df) > target {
        hi *= 2.0;
        if hi > 1e12 {
            return f64::INFINITY;
        }
    }
    for _ in 0..200 {
        let mid = 0.5 * (lo + hi);
        if t_sf(mid, df) > target {
            lo = mid;
        } else {
            hi = mid;
        }
        if hi - lo < 1e-12 * hi.max(1.0) {
            break;
        }
    }
    0.5 * (lo + hi)
}

fn mean(v: &[f64]) -> f64 {
    v.iter().sum::<f64>() / v.len() as f64
}

fn var(v: &[f64]) -> f64 {
    let m = mean(v);
    v.iter().map(|x| (x - m).powi(2)).sum::<f64>() / (v.len() as f64 - 1.0)
}

/// p-value and statistic of `(est − margin) / se` with `df` degrees of freedom; a zero
/// standard error gives p = 0 when the estimate exceeds the margin and 1 otherwise.
fn t_test(est: f64, margin: f64, se: f64, df: f64) -> (f64, f64) {
    if se > 0.0 {
        let t = (est - margin) / se;
        (t, t_sf(t, df))
    } else if est > margin {
        (f64::INFINITY, 0.0)
    } else {
        (f64::NAN, 1.0)
    }
}

/// One-sided Welch test (unequal variances) of `mean(a) − mean(b) > margin`; needs ≥ 2 values
/// on each side. The effect size is Hedges' g (pooled s.d., small-sample corrected).
pub fn welch(a: &[f64], b: &[f64], margin: f64) -> TestResult {
    let (na, nb) = (a.len() as f64, b.len() as f64);
    let (va, vb) = (var(a), var(b));
    let diff = mean(a) - mean(b);
    let (qa, qb) = (va / na, vb / nb);
    let se = (qa + qb).sqrt();
    let df = (qa + qb).powi(2) / (qa * qa / (na - 1.0) + qb * qb / (nb - 1.0));
    let (statistic, p) = t_test(diff, margin, se, df);
    let half = t_ppf(0.975, df) * se;
    let pooled = (((na - 1.0) * va + (nb - 1.0) * vb) / (na + nb - 2.0)).sqrt();
    let j = 1.0 - 3.0 / (4.0 * (na + nb) - 9.0);
    TestResult {
        diff,
        ci95: if se > 0.0 {
            (diff - half, diff + half)
        } else {
            (diff, diff)
        },
        statistic,
        df: if se > 0.0 { df } else { f64::NAN },
        p,
        effect_size: if pooled > 0.0 {
            diff / pooled * j
        } else {
            f64::NAN
        },
    }
}

/// One-sample t test of `mean(a) − value > margin`; needs ≥ 2 values. Effect: Cohen's d.
pub fn one_sample(a: &[f64], value: f64, margin: f64) -> TestResult {
    let n = a.len() as f64;
    let sd = var(a).sqrt();
    let diff = mean(a) - value;
    let se = sd / n.sqrt();
    let df = n - 1.0;
    let (statistic, p) = t_test(diff, margin, se, df);
    let half = t_ppf(0.975, df) * se;
    TestResult {
        diff,
        ci95: (diff - half, diff + half),
        statistic,
        df,
        p,
        effect_size: if sd > 0.0 { diff / sd } else { f64::NAN },
    }
}

/// Paired t test of the mean of `a_i − b_i` being above `margin` (`a`, `b` matched by
/// position); needs ≥ 2 pairs. Effect: d_z (mean difference over its s.d.).
pub fn paired(a: &[f64], b: &[f64], margin: f64) -> TestResult {
    let d: Vec<f64> = a.iter().zip(b).map(|(x, y)| x - y).collect();
    one_sample(&d, 0.0, margin)
}

/// Bootstrap resamples drawn by [`bootstrap`].
pub const BOOTSTRAP_RESAMPLES: usize = 10_000;

/// Seed-level bootstrap of the effect: `resamples` times, each side's seeds (or, `paired`,
/// the seed pairs; with `b = None`, only `a`'s) are drawn with replacement and the effect
/// recomputed. The one-sided p-value is `(1 + #{effect* ≤ margin}) / (resamples + 1)` (the
/// percentile bootstrap: H0 is rejected at α exactly when the margin lies below the α
/// percentile of the effect*), the interval the 2.5 and 97.5 percentiles. Deterministic for a
/// given `seed`. The effect size is the two-sample / paired / one-sample one of the t tests.
pub fn bootstrap(
    a: &[f64],
    b: Option<&[f64]>,
    value: f64,
    paired_seeds: bool,
    margin: f64,
    resamples: usize,
    seed: u64,
) -> TestResult {
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed);
    let mut draws = Vec::with_capacity(resamples);
    let pick = |v: &[f64], rng: &mut rand_chacha::ChaCha8Rng| -> f64 {
        let n = v.len();
        (0..n).map(|_| v[rng.gen_range(0..n)]).sum::<f64>() / n as f64
    };
    let (diff, effect_size) = match b {
        Some(b) if paired_seeds => {
            let d: Vec<f64> = a.iter().zip(b).map(|(x, y)| x - y).collect();
            for _ in 0..resamples {
                draws.push(pick(&d, &mut rng));
            }
            let t = paired(a, b, margin);
            (t.diff, t.effect_size)
        }
        Some(b) => {
            for _ in 0..resamples {
                let x = pick(a, &mut rng);
                let y = pick(b, &mut rng);
                draws.push(x - y);
            }
            let t = welch(a, b, margin);
            (t.diff, t.effect_size)
        }
        None => {
            for _ in 0..resamples {
                draws.push(pick(a, &mut rng) - value);
            }
            let t = one_sample(a, value, margin);
            (t.diff, t.effect_size)
        }
    };
    let below = draws.iter().filter(|&&d| d <= margin).count();
    let p = (1 + below) as f64 / (resamples + 1) as f64;
    draws.sort_by(f64::total_cmp);
    let q = |f: f64| draws[((f * (resamples - 1) as f64).round() as usize).min(resamples - 1)];
    TestResult {
        diff,
        ci95: (q(0.025), q(0.975)),
        statistic: f64::NAN,
        df: f64::NAN,
        p,
        effect_size,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::claims::scipy_reference as r;

    fn close(a: f64, b: f64, tol: f64) -> bool {
        (a - b).abs() <= tol * b.abs().max(1e-300) || (a - b).abs() < 1e-300
    }

    #[test]
    fn t_distribution_matches_scipy() {
        for &(t, df, sf) in r::T_SF {
            let got = t_sf(t, df);
            assert!(close(got, sf, 1e-9), "t_sf({t}, {df}) = {got}, scipy {sf}");
        }
        for &(q, df, x) in r::T_PPF {
            let got = t_ppf(q, df);
            assert!(
                (got - x).abs() < 1e-8 * x.abs().max(1.0),
                "t_ppf({q}, {df}) = {got}, scipy {x}"
            );
        }
    }

    #[test]
    fn tests_match_scipy_on_fixed_numbers() {
        for c in r::CASES {
            let got = match c.test {
                "welch" => welch(c.a, c.b, c.margin),
                "paired" => paired(c.a, c.b, c.margin),
                "one_sample" => one_sample(c.a, c.value, c.margin),
                other => panic!("unknown test {other}"),
            };
            let what = format!("{} {:?} {:?} margin {}", c.test, c.a, c.b, c.margin);
            assert!(
                close(got.statistic, c.statistic, 1e-10),
                "{what}: t {} vs {}",
                got.statistic,
                c.statistic
            );
            assert!(close(got.p, c.p, 1e-8), "{what}: p {} vs {}", got.p, c.p);
            assert!(
                close(got.df, c.df, 1e-10),
                "{what}: df {} vs {}",
                got.df,
                c.df
            );
            assert!(
                close(got.ci95.0, c.ci_low, 1e-8) && close(got.ci95.1, c.ci_high, 1e-8),
                "{what}: ci {:?} vs ({}, {})",
                got.ci95,
                c.ci_low,
                c.ci_high
            );
            assert!(
                close(got.effect_size, c.effect, 1e-10),
                "{what}: effect {} vs {}",
                got.effect_size,
                c.effect
            );
        }
    }

    /// The Monte Carlo bootstrap's p-value against the exact bootstrap distribution, which for
    /// three seeds a side can be enumerated (27 × 27 equally likely resamples).
    #[test]
    fn bootstrap_p_matches_exact_enumeration() {
        let a = [0.91, 0.94, 0.88];
        let b = [0.85, 0.92, 0.80];
        let margin = 0.05;
        let m = |v: &[f64], i: usize| (v[i % 3] + v[(i / 3) % 3] + v[(i / 9) % 3]) / 3.0;
        let mut below = 0usize;
        for i in 0..27 {
            for j in 0..27 {
                if m(&a, i) - m(&b, j) <= margin {
                    below += 1;
                }
            }
        }
        let exact = below as f64 / 729.0;
        let n = 40_000;
        let got = bootstrap(&a, Some(&b), 0.0, false, margin, n, 7);
        let se = (exact * (1.0 - exact) / n as f64).sqrt();
        assert!(
            (got.p - exact).abs() < 4.0 * se + 1.0 / n as f64,
            "bootstrap p {} vs exact {exact}",
            got.p
        );
        // and the paired version against its own enumeration (27 resamples of the pairs)
        let d: Vec<f64> = a.iter().zip(&b).map(|(x, y)| x - y).collect();
        let exact_p = (0..27).filter(|&i| m(&d, i) <= margin).count() as f64 / 27.0;
        let got = bootstrap(&a, Some(&b), 0.0, true, margin, n, 7);
        let se = (exact_p * (1.0 - exact_p) / n as f64).sqrt();
        assert!(
            (got.p - exact_p).abs() < 4.0 * se + 1.0 / n as f64,
            "paired bootstrap p {} vs exact {exact_p}",
            got.p
        );
        // deterministic for a seed
        let (x, y) = (
            bootstrap(&a, Some(&b), 0.0, false, margin, 500, 3),
            bootstrap(&a, Some(&b), 0.0, false, margin, 500, 3),
        );
        assert_eq!((x.p, x.ci95), (y.p, y.ci95));
    }

    #[test]
    fn separated_samples_reach_the_smallest_bootstrap_p() {
        let got = bootstrap(&[1.0, 1.1, 1.2], None, 0.0, false, 0.5, 999, 1);
        assert_eq!(got.p, 1.0 / 1000.0);
        assert!(got.ci95.0 >= 1.0 && got.ci95.1 <= 1.2);
    }

    #[test]
    fn zero_spread_is_decided_by_the_means() {
        let t = welch(&[0.674, 0.674, 0.674], &[0.032, 0.032, 0.032], 0.1);
        assert_eq!(t.p, 0.0);
        let t = welch(&[0.5, 0.5], &[0.5, 0.5], 0.0);
        assert_eq!(t.p, 1.0);
        assert!(t.effect_size.is_nan());
    }
}
