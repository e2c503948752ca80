//! Metrics on the discretised MI matrix: MIG (`mig.dlib`), modularity
//! (`modularity.dlib`) and the mean pairwise MI between latents (`mean_pairwise_mi.dlib`), as in
//! disentanglement_lib (`mig.py`, `modularity_explicitness.py`, `unsupervised_metrics.py`).
//!
//! Codes are discretised into `bins` (20) equal-width bins; factors are class labels
//! (discrete) or binned (continuous), see [`crate::labels`]. MI is plug-in, in nats.

use crate::discretize::histogram_discretize;
use crate::info::{entropy, MiScratch};
use crate::labels::{column_labels, FactorKind};
use crate::score::{check_pair, constant_factor, Score};
use crate::MetricError;
use ndarray::{Array2, ArrayView2};

/// MI matrix `m[i, k] = I(code_i; factor_k)` (nats) and factor entropies.
pub fn mi_matrix(
    codes: ArrayView2<f64>,
    factor_labels: &[Vec<u32>],
    bins: usize,
) -> (Array2<f64>, Vec<f64>) {
    let mut m = Array2::zeros((codes.ncols(), factor_labels.len()));
    let mut s = MiScratch::default();
    for i in 0..codes.ncols() {
        let col: Vec<f64> = codes.column(i).iter().copied().collect();
        let c = histogram_discretize(&col, bins);
        for (k, f) in factor_labels.iter().enumerate() {
            m[[i, k]] = s.mutual_info(f, &c);
        }
    }
    let h = factor_labels.iter().map(|f| entropy(f)).collect();
    (m, h)
}

/// MIG (Chen et al. 2018, as disentanglement_lib computes it):
/// `MIG = mean_k (m_(1)k − m_(2)k) / H_k`, the gap between the two codes with the most
/// information about factor k, normalised by its entropy.
///
/// Errors: fewer than 2 codes (no gap), a constant factor, bad shapes or values.
pub fn mig(
    codes: ArrayView2<f64>,
    factors: ArrayView2<f64>,
    kind: FactorKind,
    bins: usize,
) -> Result<Score, MetricError> {
    crate::options::check_bins("bins", bins)?;
    check_pair(codes, factors, 2)?;
    if codes.ncols() < 2 {
        return Err(MetricError::Invalid {
            what: "latents".into(),
            msg: "MIG needs at least 2 latent dimensions".into(),
        });
    }
    let fl = column_labels(factors, kind, bins);
    let (m, h) = mi_matrix(codes, &fl, bins);
    let mut gaps = Vec::new();
    for (k, &hk) in h.iter().enumerate() {
        if hk <= 0.0 {
            return Err(constant_factor(k, "MIG"));
        }
        let mut col: Vec<f64> = m.column(k).to_vec();
        col.sort_by(|a, b| b.total_cmp(a));
        gaps.push((col[0] - col[1]) / hk);
    }
    let v = gaps.iter().sum::<f64>() / gaps.len() as f64;
    let mut s = Score::new("mig.dlib", v)
        .param("bins", bins)
        .param("factors", format!("{kind:?}").to_lowercase());
    for (k, g) in gaps.iter().enumerate() {
        s = s.part(&format!("gap_factor{k}"), *g);
    }
    Ok(s)
}

/// Modularity (Ridgeway & Mozer 2018, disentanglement_lib): per code
/// `1 − (Σ_k m_ik² − max_k m_ik²) / (max_k m_ik² (K − 1))`, 0 when the code carries no
/// information (dead codes pull the mean down), averaged over codes.
pub fn modularity(
    codes: ArrayView2<f64>,
    factors: ArrayView2<f64>,
    kind: FactorKind,
    bins: usize,
) -> Result<Score, MetricError> {
    crate::options::check_bins("bins", bins)?;
    check_pair(codes, factors, 2)?;
    if factors.ncols() < 2 {
        return Err(MetricError::Invalid {
            what: "factors".into(),
            msg: "modularity needs at least 2 factors".into(),
        });
    }
    let fl = column_labels(factors, kind, bins);
    let (m, _) = mi_matrix(codes, &fl, bins);
    Ok(Score::new("modularity.dlib", modularity_from_mi(&m)).param("bins", bins))
}

/// Modularity from an MI matrix (codes × factors).
pub fn modularity_from_mi(m: &Array2<f64>) -> f64 {
    let kf = m.ncols() as f64;
    let per: Vec<f64> = m
        .outer_iter()
        .map(|row| {
            let sq: Vec<f64> = row.iter().map(|v| v * v).collect();
            let mx = sq.iter().cloned().fold(0.0, f64::max);
            if mx == 0.0 {
                0.0
            } else {
                1.0 - (sq.iter().sum::<f64>() - mx) / (mx * (kf - 1.0))
            }
        })
        .collect();
    per.iter().sum::<f64>() / per.len() as f64
}

/// Mean pairwise MI between discretised latents (off-diagonal mean), nats — an unsupervised
/// measure of how redundant the code is (disentanglement_lib `unsupervised_metrics`).
pub fn mean_pairwise_mi(codes: ArrayView2<f64>, bins: usize) -> Result<Score, MetricError> {
    crate::options::check_bins("bins", bins)?;
    crate::check_finite("latents", codes)?;
    let d = codes.ncols();
    if d < 2 || codes.nrows() < 2 {
        return Err(MetricError::Invalid {
            what: "latents".into(),
            msg: "need at least 2 samples and 2 dimensions".into(),
        });
    }
    let l = column_labels(codes, FactorKind::Continuous, bins);
    let mut s = MiScratch::default();
    let mut tot = 0.0;
    for i in 0..d {
        for j in 0..d {
            if i != j {
                tot += s.mutual_info(&l[i], &l[j]);
            }
        }
    }
    Ok(Score::new("mean_pairwise_mi.dlib", tot / (d * d - d) as f64).param("bins", bins))
}

/// Gaussian total correlation of the latents, `½(Σ log diag Σ − log det Σ)` with `Σ` the
/// sample covariance (`ddof = 1`), nats. Errors when `Σ` is singular (e.g. a constant latent).
pub fn gaussian_total_correlation(codes: ArrayView2<f64>) -> Result<Score, MetricError> {
    crate::check_finite("latents", codes)?;
    let (n, d) = codes.dim();
    if n < 2 || d < 1 {
        return Err(MetricError::Invalid {
            what: "latents".into(),
            msg: "need at least 2 samples".into(),
        });
    }
    let mean: Vec<f64> = (0..d).map(|j| codes.column(j).sum() / n as f64).collect();
    let mut cov = vec![0.0; d * d];
    for r in codes.outer_iter() {
        for a in 0..d {
            let da = r[a] - mean[a];
            for b in 0..=a {
                cov[a * d + b] += da * (r[b] - mean[b]);
            }
        }
    }
    for a in 0..d {
        for b in 0..=a {
            cov[a * d + b] /= (n - 1) as f64;
            cov[b * d + a] = cov[a * d + b];
        }
    }
    let logdiag: f64 = (0..d).map(|a| cov[a * d + a].ln()).sum();
    // Cholesky for log det
    let mut l = vec![0.0; d * d];
    for i in 0..d {
        for j in 0..=i {
            let mut s = cov[i * d + j];
            for k in 0..j {
                s -= l[i * d + k] * l[j * d + k];
            }
            if i == j {
                if s <= 0.0 {
                    return Err(MetricError::Invalid {
                        what: "latents".into(),
                        msg: format!("covariance is singular (latent {i} is constant or a combination of others); total correlation is infinite"),
                    });
                }
                l[i * d + i] = s.sqrt();
            } else {
                l[i * d + j] = s / l[j * d + j];
            }
        }
    }
    let logdet: f64 = (0..d).map(|i| 2.0 * l[i * d + i].ln()).sum();
    Ok(Score::new(
        "gaussian_total_correlation.dlib",
        0.5 * (logdiag - logdet),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Golden B1 (anchors §2.9): full grid of factors with sizes (10, 8, 4, 15), N = 4800; codes
    /// are an affine map of each factor plus 2 constant latents: MIG = 1, modularity = 0.6667.
    fn golden_b1() -> (Array2<f64>, Array2<f64>) {
        let sizes = [10usize, 8, 4, 15];
        let n: usize = sizes.iter().product();
        let f = Array2::from_shape_fn((n, 4), |(s, j)| {
            let stride: usize = sizes[j + 1..].iter().product();
            ((s / stride) % sizes[j]) as f64
        });
        let c = Array2::from_shape_fn(
            (n, 6),
            |(s, j)| if j < 4 { 0.7 * f[[s, j]] - 3.0 } else { 2.5 },
        );
        (c, f)
    }

    #[test]
    #[allow(clippy::approx_constant)] // the golden values as printed in the reference notes
    fn golden_b1_mig_and_modularity() {
        let (c, f) = golden_b1();
        let m = mig(c.view(), f.view(), FactorKind::Discrete, 20).unwrap();
        assert!((m.value - 1.0).abs() < 1e-9, "{}", m.value);
        let md = modularity(c.view(), f.view(), FactorKind::Discrete, 20).unwrap();
        assert!((md.value - 2.0 / 3.0).abs() < 1e-9, "{}", md.value);
        let (_, h) = mi_matrix(
            c.view(),
            &column_labels(f.view(), FactorKind::Discrete, 20),
            20,
        );
        for (a, b) in h.iter().zip([2.302585, 2.079442, 1.386294, 2.708050]) {
            assert!((a - b).abs() < 1e-6);
        }
    }

    #[test]
    fn mig_duplicated_code_is_zero_and_permutation_invariant() {
        let (c, f) = golden_b1();
        // duplicate every factor's code: the gap is 0 (a known dlib property)
        let d = Array2::from_shape_fn((c.nrows(), 8), |(s, j)| c[[s, j % 4]] * (1.0 + j as f64));
        let m = mig(d.view(), f.view(), FactorKind::Discrete, 20).unwrap();
        assert!(m.value.abs() < 1e-12);
        // permutation of latents and affine rescaling do not change MIG
        let p = Array2::from_shape_fn((c.nrows(), 6), |(s, j)| -2.0 * c[[s, 5 - j]] + 1.0);
        let a = mig(c.view(), f.view(), FactorKind::Discrete, 20)
            .unwrap()
            .value;
        let b = mig(p.view(), f.view(), FactorKind::Discrete, 20)
            .unwrap()
            .value;
        assert!((a - b).abs() < 1e-12);
    }

    #[test]
    fn constant_factor_is_an_error() {
        let (c, mut f) = golden_b1();
        f.column_mut(2).fill(1.0);
        let e = mig(c.view(), f.view(), FactorKind::Discrete, 20).unwrap_err();
        assert!(e.to_string().contains("factor 2 is constant"));
    }

    #[test]
    fn total_correlation_of_independent_and_correlated() {
        let (c, _) = golden_b1();
        let ind = c.slice(ndarray::s![.., 0..4]).to_owned();
        let tc = gaussian_total_correlation(ind.view()).unwrap().value;
        assert!(tc.abs() < 1e-9, "full grid is uncorrelated: {tc}");
        let corr = Array2::from_shape_fn((ind.nrows(), 2), |(s, j)| {
            ind[[s, 0]] + if j == 1 { ind[[s, 1]] } else { 0.0 }
        });
        assert!(gaussian_total_correlation(corr.view()).unwrap().value > 0.1);
        assert!(gaussian_total_correlation(c.view()).is_err());
    }
}
