//! MIR — the mutual information ratio of Whittington et al. (2023), App. A.1, Eqs. (5)–(6),
//! exactly as the authors compute it in their later code (`compute_mir` in
//! `djcrw/em-wm-slots` `cell_analyses.py` and `kylehkhsu/modular`
//! `disentangled_rnn_utils.py`; see `shared/reference/authors-code-and-algorithms.md` §2).
//!
//! Pipeline, for activations `A` (samples × neurons) and factors `F` (samples × factors):
//! 1. **Activity pre-filter.** `avg_n = mean_s |a_sn|` ([`ActivityStat::AbsMean`], as
//!    `modular`) or `mean_s a_sn` ([`ActivityStat::Mean`], as `em-wm-slots`); keep neuron `n`
//!    iff `avg_n > max_n avg_n / activity_threshold` (default 20).
//! 2. **Discretise** every neuron and every factor into `bins` (default 20) equal-width bins
//!    (see [`crate::discretize`]).
//! 3. **MI** `m[n,f]` = plug-in MI in nats (see [`crate::info`]), **normalised by the factor
//!    entropy** `H(f)` (a step the paper's formula omits but the code does).
//! 4. **MI cleaning.** Keep rows with `Σ_f m[n,f] > max_n Σ_f m[n,f] / mi_threshold`
//!    (default 20).
//! 5. `r_n = max_f m[n,f] / Σ_f m[n,f]`; `MIR = (mean_n r_n − 1/n_f) / (1 − 1/n_f)`.
//!
//! MIR = 1: every kept neuron carries information about one factor only. MIR = 0: every
//! kept neuron is spread uniformly over the factors. The metric id is `mir.whittington2023`.

use crate::discretize::histogram_discretize;
use crate::info::{entropy, MiScratch};
use crate::{check_finite, MetricError};
use ndarray::{Array1, Array2, ArrayView2};
use serde::{Deserialize, Serialize};

/// Versioned name of this definition, written next to every value it produces.
pub const MIR_ID: &str = "mir.whittington2023";

/// How a neuron's activity level is summarised for the inactive-neuron pre-filter.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum ActivityStat {
    /// `mean |a|` over samples (`kylehkhsu/modular`). Right for signed activity.
    #[default]
    AbsMean,
    /// plain `mean a` over samples (`djcrw/em-wm-slots`, written for ReLU activity).
    Mean,
}

/// Options of [`mir`]; the defaults are the authors'.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct MirOptions {
    /// Equal-width bins for neurons and factors (authors: 20).
    pub bins: usize,
    /// Keep a neuron iff its activity statistic exceeds the maximum over neurons divided by
    /// this (authors: 20).
    pub activity_threshold: f64,
    /// Keep a neuron iff its summed normalised MI exceeds the maximum divided by this
    /// (authors: 20).
    pub mi_threshold: f64,
    /// Activity statistic of the pre-filter.
    pub activity_stat: ActivityStat,
}

impl Default for MirOptions {
    fn default() -> Self {
        MirOptions {
            bins: 20,
            activity_threshold: 20.0,
            mi_threshold: 20.0,
            activity_stat: ActivityStat::AbsMean,
        }
    }
}

impl MirOptions {
    /// Checks the ranges: `bins` in `2..=`[`crate::options::MAX_BINS`]; both thresholds finite
    /// and > 1 (a neuron is kept when its statistic exceeds the maximum divided by the
    /// threshold, so a threshold ≤ 1 keeps no neuron at all). Errors name the option
    /// (`bins`, `activity_threshold`, `mi_threshold`), the value and the range.
    pub fn validate(&self) -> Result<(), MetricError> {
        use crate::options::*;
        check_bins("bins", self.bins)?;
        check_above("activity_threshold", self.activity_threshold, 1.0)?;
        check_above("mi_threshold", self.mi_threshold, 1.0)?;
        Ok(())
    }
}

/// Everything [`mir`] computed, for reports and re-analysis.
#[derive(Debug, Clone)]
pub struct MirResult {
    /// `mir.whittington2023`.
    pub id: &'static str,
    /// The MIR value in [0, 1].
    pub mir: f64,
    /// Entropy-normalised MI, neurons × factors (all neurons; rows of neurons removed by the
    /// pre-filter are zero).
    pub mi: Array2<f64>,
    /// Plug-in entropy of each discretised factor, nats.
    pub factor_entropy: Array1<f64>,
    /// Indices of neurons kept by both filters.
    pub kept: Vec<usize>,
    /// `r_n` of each kept neuron (same order as `kept`).
    pub preference: Vec<f64>,
    /// Options used.
    pub options: MirOptions,
}

/// Discretised columns of a samples × dims matrix.
pub(crate) fn discretize_columns(a: ArrayView2<f64>, bins: usize) -> Vec<Vec<u32>> {
    (0..a.ncols())
        .map(|j| {
            let col: Vec<f64> = a.column(j).iter().copied().collect();
            histogram_discretize(&col, bins)
        })
        .collect()
}

/// The highest MIR a representation can reach when the factors are the `k` one-hot indicators
/// of `k` equiprobable categories (Fig 11): a perfect one-category-per-neuron code still has
/// MI with the other indicators (firing for category i says they are all 0), c = I(n_i; f_j) /
/// H(f_j) = 1 − (k−1)/k · H(1/(k−1)) / H(1/k) with H the binary entropy, so
/// MIR = (1/(1 + (k−1)c) − 1/k)/(1 − 1/k) — 0.6743 for k = 6, not 1. `NaN` for `k < 2`.
pub fn mir_one_hot_ceiling(k: usize) -> f64 {
    if k < 2 {
        return f64::NAN;
    }
    let h = |p: f64| {
        if p <= 0.0 || p >= 1.0 {
            0.0
        } else {
            -(p * p.ln() + (1.0 - p) * (1.0 - p).ln())
        }
    };
    let kf = k as f64;
    let c = 1.0 - (kf - 1.0) / kf * h(1.0 / (kf - 1.0)) / h(1.0 / kf);
    (1.0 / (1.0 + (kf - 1.0) * c) - 1.0 / kf) / (1.0 - 1.0 / kf)
}

/// The mutual information ratio (see the module docs for the exact definition).
///
/// `activations`: samples × neurons. `factors`: samples × factors (continuous or discrete;
/// both are re-binned, as the authors do).
///
/// Errors: fewer than 2 samples, sample-count mismatch, non-finite values, fewer than 2
/// factors, a constant factor (zero entropy: the normalisation would divide by zero), or no
/// neuron passing the filters.
pub fn mir(
    activations: ArrayView2<f64>,
    factors: ArrayView2<f64>,
    opts: &MirOptions,
) -> Result<MirResult, MetricError> {
    let (n_s, n_n) = activations.dim();
    let (f_s, n_f) = factors.dim();
    if n_s < 2 {
        return Err(MetricError::TooFewSamples {
            what: "activations".into(),
            min: 2,
            got: n_s,
        });
    }
    if n_s != f_s {
        return Err(MetricError::SampleMismatch {
            a_name: "activations".into(),
            a: n_s,
            b_name: "factors".into(),
            b: f_s,
        });
    }
    if n_f < 2 {
        return Err(MetricError::Invalid {
            what: "factors".into(),
            msg: format!("MIR needs at least 2 factors, got {n_f}"),
        });
    }
    if n_n == 0 {
        return Err(MetricError::Invalid {
            what: "activations".into(),
            msg: "no neurons (0 columns)".into(),
        });
    }
    opts.validate()?;
    check_finite("activations", activations)?;
    check_finite("factors", factors)?;

    // 1. activity pre-filter
    let avg: Vec<f64> = (0..n_n)
        .map(|j| {
            let c = activations.column(j);
            let s: f64 = match opts.activity_stat {
                ActivityStat::AbsMean => c.iter().map(|v| v.abs()).sum(),
                ActivityStat::Mean => c.iter().sum(),
            };
            s / n_s as f64
        })
        .collect();
    let max_avg = avg.iter().cloned().fold(f64::NEG_INFINITY, f64::max);
    let active: Vec<usize> = (0..n_n)
        .filter(|&j| avg[j] > max_avg / opts.activity_threshold)
        .collect();

    // 2. discretise factors (all) and active neurons
    let fac = discretize_columns(factors, opts.bins);
    let h: Vec<f64> = fac.iter().map(|f| entropy(f)).collect();
    if let Some(k) = h.iter().position(|&x| x <= 0.0) {
        return Err(MetricError::Invalid {
            what: "factors".into(),
            msg: format!(
                "factor {k} is constant (entropy 0); MIR normalises by factor entropy, remove it"
            ),
        });
    }
    // 3. normalised MI
    let mut mi = Array2::<f64>::zeros((n_n, n_f));
    let mut scratch = MiScratch::default();
    let mut col = vec![0f64; n_s];
    for &j in &active {
        for (c, v) in col.iter_mut().zip(activations.column(j)) {
            *c = *v;
        }
        let code = histogram_discretize(&col, opts.bins);
        for (f, fl) in fac.iter().enumerate() {
            mi[[j, f]] = scratch.mutual_info(fl, &code) / h[f];
        }
    }
    // 4. MI cleaning
    let sums: Vec<f64> = (0..n_n).map(|j| mi.row(j).sum()).collect();
    let max_sum = active
        .iter()
        .map(|&j| sums[j])
        .fold(f64::NEG_INFINITY, f64::max);
    let kept: Vec<usize> = active
        .iter()
        .copied()
        .filter(|&j| sums[j] > max_sum / opts.mi_threshold && sums[j] > 0.0)
        .collect();
    if kept.is_empty() {
        return Err(MetricError::Invalid {
            what: "activations".into(),
            msg: "no neuron carries information about the factors (all inactive or MI = 0); MIR is undefined".into(),
        });
    }
    // 5. preference and MIR
    let preference: Vec<f64> = kept
        .iter()
        .map(|&j| {
            let row = mi.row(j);
            row.iter().cloned().fold(f64::NEG_INFINITY, f64::max) / sums[j]
        })
        .collect();
    let mean_r = preference.iter().sum::<f64>() / preference.len() as f64;
    let inv = 1.0 / n_f as f64;
    let value = (mean_r - inv) / (1.0 - inv);
    Ok(MirResult {
        id: MIR_ID,
        mir: value,
        mi,
        factor_entropy: Array1::from(h),
        kept,
        preference,
        options: *opts,
    })
}

/// Weight-based MIR (`mir_weights.whittington2023`, `calc_mir` in `djcrw/em-wm-slots`): for a
/// weight matrix `w` (rows × columns, e.g. readout weights with one column per neuron), drop
/// columns in which no |w| exceeds max|w|/20, clip negative weights to 0, take each column's
/// max/sum over rows (a zero sum counts as 1), and normalise the mean with `1/n_rows` as MIR.
pub fn mir_weights(w: ArrayView2<f64>) -> Result<f64, MetricError> {
    check_finite("weights", w)?;
    let (r, c) = w.dim();
    if r < 2 || c == 0 {
        return Err(MetricError::Invalid {
            what: "weights".into(),
            msg: format!("need at least 2 rows and 1 column, got {r}×{c}"),
        });
    }
    let amax = w.iter().fold(0.0f64, |m, v| m.max(v.abs()));
    let cols: Vec<usize> = (0..c)
        .filter(|&j| w.column(j).iter().any(|v| v.abs() > amax / 20.0))
        .collect();
    if cols.is_empty() {
        return Err(MetricError::Invalid {
            what: "weights".into(),
            msg: "all weights are zero".into(),
        });
    }
    let mean = cols
        .iter()
        .map(|&j| {
            let col: Vec<f64> = w.column(j).iter().map(|v| v.max(0.0)).collect();
            let s: f64 = col.iter().sum();
            let s = if s == 0.0 { 1.0 } else { s };
            col.iter().cloned().fold(0.0, f64::max) / s
        })
        .sum::<f64>()
        / cols.len() as f64;
    let inv = 1.0 / r as f64;
    Ok((mean - inv) / (1.0 - inv))
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::Array2;

    #[test]
    fn weight_mir() {
        let w = Array2::from_shape_vec((2, 3), vec![1.0, 0.0, 0.5, 0.0, 2.0, 0.5]).unwrap();
        // columns: [1,0] -> 1, [0,2] -> 1, [0.5,0.5] -> 0.5; mean 5/6; (5/6 - 1/2)/(1/2) = 2/3
        assert!((mir_weights(w.view()).unwrap() - 2.0 / 3.0).abs() < 1e-12);
    }

    /// Deterministic pseudo-uniform numbers in [0, 1) (a small LCG; tests only).
    fn lcg(n: usize, seed: u64) -> Vec<f64> {
        let mut s = seed
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        (0..n)
            .map(|_| {
                s = s
                    .wrapping_mul(6364136223846793005)
                    .wrapping_add(1442695040888963407);
                (s >> 11) as f64 / (1u64 << 53) as f64
            })
            .collect()
    }

    fn factors(n: usize, k: usize) -> Array2<f64> {
        Array2::from_shape_vec((n, k), lcg(n * k, 7)).unwrap()
    }

    /// Full factorial grid of factor values with sizes (10, 8, 4, 15) — N = 4800 — so the
    /// empirical factors are exactly independent (plug-in MI between them is exactly 0).
    fn grid() -> Array2<f64> {
        let sizes = [10usize, 8, 4, 15];
        let n: usize = sizes.iter().product();
        Array2::from_shape_fn((n, 4), |(s, j)| {
            let stride: usize = sizes[j + 1..].iter().product();
            ((s / stride) % sizes[j]) as f64 / sizes[j] as f64
        })
    }

    #[test]
    fn perfect_code_scores_one() {
        let f = grid();
        let n = f.nrows();
        // each neuron an affine map of one factor, two neurons per factor
        let a = Array2::from_shape_fn((n, 8), |(s, j)| 2.0 * f[[s, j % 4]] + 0.3 * j as f64);
        let r = mir(a.view(), f.view(), &MirOptions::default()).unwrap();
        assert!((r.mir - 1.0).abs() < 1e-12, "mir = {}", r.mir);
        assert_eq!(r.kept.len(), 8);
        // entropies of the discretised factors = ln(sizes) (golden B1 of the anchors §2.9)
        for (h, want) in r
            .factor_entropy
            .iter()
            .zip([10f64.ln(), 8f64.ln(), 4f64.ln(), 15f64.ln()])
        {
            assert!((h - want).abs() < 1e-6);
        }
    }

    /// One-hot category factors (Fig 11) are not independent: a neuron that fires for exactly
    /// one category also tells which other one-hot factors are 0, so a perfect
    /// one-category-per-neuron code scores below 1. For k equiprobable categories,
    /// c = I(n_i; f_j)/H(f_j) = 1 − (k−1)/k · H(1/(k−1)) / H(1/k) (binary entropies H) and
    /// MIR = (1/(1 + (k−1)c) − 1/k)/(1 − 1/k): 0.6743 for k = 6 — the ceiling of Fig 11.
    #[test]
    fn perfect_category_code_has_the_one_hot_ceiling() {
        let k = 6;
        let n = 600;
        let f = Array2::from_shape_fn((n, k), |(s, j)| if s % k == j { 1.0 } else { 0.0 });
        let a = Array2::from_shape_fn((n, k), |(s, j)| if s % k == j { 1.5 } else { 0.0 });
        let r = mir(a.view(), f.view(), &MirOptions::default()).unwrap();
        let h = |p: f64| -(p * p.ln() + (1.0 - p) * (1.0 - p).ln());
        let kf = k as f64;
        let c = 1.0 - (kf - 1.0) / kf * h(1.0 / (kf - 1.0)) / h(1.0 / kf);
        let want = (1.0 / (1.0 + (kf - 1.0) * c) - 1.0 / kf) / (1.0 - 1.0 / kf);
        assert!((want - 0.6743).abs() < 1e-4, "closed form {want}");
        assert!((mir_one_hot_ceiling(k) - want).abs() < 1e-15);
        // two categories: the indicators are the same variable, so a perfect code scores 0
        assert!(mir_one_hot_ceiling(2).abs() < 1e-12);
        assert!(
            (r.mir - want).abs() < 1e-9,
            "mir {} vs closed form {want}",
            r.mir
        );
    }

    #[test]
    fn perfect_code_on_random_samples_is_near_one() {
        // With finite random samples the plug-in MI between independent binned variables is
        // positive (bias ~ (bins-1)^2 / 2N nats), so MIR is a little below 1.
        let f = factors(5000, 4);
        // each neuron an affine map of one factor, two neurons per factor
        let a = Array2::from_shape_fn((5000, 8), |(s, j)| 2.0 * f[[s, j % 4]] + 0.3 * j as f64);
        let r = mir(a.view(), f.view(), &MirOptions::default()).unwrap();
        assert!(r.mir > 0.9 && r.mir < 1.0, "mir = {}", r.mir);
        assert_eq!(r.kept.len(), 8);
    }

    #[test]
    fn mixed_code_scores_low_and_permutation_invariant() {
        let f = factors(5000, 3);
        let a = Array2::from_shape_fn((5000, 6), |(s, j)| {
            f[[s, 0]] * (1.0 + j as f64 * 0.1) + f[[s, 1]] * (1.5 - j as f64 * 0.2) + f[[s, 2]]
        });
        let r = mir(a.view(), f.view(), &MirOptions::default()).unwrap();
        assert!(r.mir < 0.3, "mixed code got {}", r.mir);
        // permuting neurons does not change MIR
        let mut p = a.clone();
        for j in 0..6 {
            p.column_mut(j).assign(&a.column(5 - j));
        }
        let rp = mir(p.view(), f.view(), &MirOptions::default()).unwrap();
        assert!((r.mir - rp.mir).abs() < 1e-12);
    }

    #[test]
    fn inactive_neurons_excluded() {
        let f = grid().slice(ndarray::s![.., 0..2]).to_owned();
        let n = f.nrows();
        let mut a = Array2::from_shape_fn((n, 3), |(s, j)| f[[s, j.min(1)]] + 0.05);
        // neuron 2: tiny mixed activity, far below max/20 -> filtered
        for s in 0..n {
            a[[s, 2]] = 1e-4 * (f[[s, 0]] + f[[s, 1]]);
        }
        let r = mir(a.view(), f.view(), &MirOptions::default()).unwrap();
        assert_eq!(r.kept, vec![0, 1]);
        assert!((r.mir - 1.0).abs() < 1e-12);
    }

    #[test]
    fn bad_input_is_an_error() {
        let f = factors(10, 2);
        let a = Array2::<f64>::zeros((9, 3));
        assert!(matches!(
            mir(a.view(), f.view(), &MirOptions::default()),
            Err(MetricError::SampleMismatch { .. })
        ));
        let mut a = Array2::<f64>::ones((10, 3));
        a[[4, 1]] = f64::NAN;
        assert!(matches!(
            mir(a.view(), f.view(), &MirOptions::default()),
            Err(MetricError::NonFinite { row: 4, col: 1, .. })
        ));
        let mut fc = f.clone();
        fc.column_mut(1).fill(0.5);
        let a = Array2::from_shape_fn((10, 2), |(s, _)| s as f64);
        let e = mir(a.view(), fc.view(), &MirOptions::default()).unwrap_err();
        assert!(e.to_string().contains("factor 1 is constant"), "{e}");
        let z = Array2::<f64>::zeros((10, 2));
        assert!(mir(z.view(), f.view(), &MirOptions::default()).is_err());
    }
}
