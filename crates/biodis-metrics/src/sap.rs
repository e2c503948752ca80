//! SAP — Separated Attribute Predictability (Kumar et al. 2018), as disentanglement_lib
//! (`sap_score.py`): a score matrix `S[i, k]` of how well latent `i` alone predicts factor `k`,
//! then `SAP = mean_k (S_(1)k − S_(2)k)`.
//!
//! - discrete factors (`sap.dlib`): `S[i,k]` = test accuracy of a linear SVC (`C = 0.01`,
//!   balanced class weights) trained on latent `i` alone (see [`crate::svm`]);
//! - continuous factors (`sap_continuous.dlib`): `S[i,k] = cov(z_i, v_k)² / (var z_i · var v_k)`
//!   (0 when `var z_i ≤ 1e-12`), on the **training** part only — disentanglement_lib's
//!   `compute_score_matrix` with `continuous_factors=True` reads only the training draw and
//!   ignores the test draw it was given; so does this.
//!
//! Train/test: the first `n_train` samples train, the rest test (dlib samples 10 000 + 5 000).
//! The form is the caller's choice ([`SapForm`]), independent of how other metrics treat the
//! factors: the reference's continuous SAP can be asked for on class-label factors.

use crate::labels::unique_labels;
use crate::score::{check_pair, Score};
use crate::svm::LinearSvc;
use crate::MetricError;
use ndarray::ArrayView2;

/// Which of disentanglement_lib's two SAP score matrices to use.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SapForm {
    /// Squared correlation of each latent with each factor on the training draw
    /// (`sap_continuous.dlib`; dlib `continuous_factors=True`).
    Continuous,
    /// Test accuracy of a one-latent linear SVC per factor (`sap.dlib`; dlib
    /// `continuous_factors=False`); factors are class labels (distinct values).
    Discrete,
}

/// SAP of `codes` (samples × latents) against `factors` (samples × factors); the first `n_train`
/// samples are the training draw, the rest the test draw (used by the discrete form only).
///
/// Errors: fewer than 2 latents, a split leaving no test samples, a constant factor (for the
/// continuous form: constant on the training draw, whose variance it divides by).
pub fn sap(
    codes: ArrayView2<f64>,
    factors: ArrayView2<f64>,
    form: SapForm,
    n_train: usize,
) -> Result<Score, MetricError> {
    let continuous = form == SapForm::Continuous;
    check_pair(codes, factors, 4)?;
    let n = codes.nrows();
    if codes.ncols() < 2 {
        return Err(MetricError::Invalid {
            what: "latents".into(),
            msg: "SAP needs at least 2 latent dimensions".into(),
        });
    }
    if n_train < 2 || n_train >= n {
        return Err(MetricError::Invalid {
            what: "SAP".into(),
            msg: format!("train split {n_train} must leave test samples (have {n} samples)"),
        });
    }
    let (d, kf) = (codes.ncols(), factors.ncols());
    for k in 0..kf {
        let col = factors.column(k);
        let part = if continuous { n_train } else { n };
        if col.iter().take(part).all(|v| *v == col[0]) {
            return Err(crate::score::constant_factor(k, "SAP"));
        }
    }
    let mut s = vec![vec![0.0; kf]; d];
    if continuous {
        for i in 0..d {
            for k in 0..kf {
                // the training draw, as the reference
                let z: Vec<f64> = codes.column(i).iter().take(n_train).copied().collect();
                let v: Vec<f64> = factors.column(k).iter().take(n_train).copied().collect();
                let m = z.len() as f64;
                let (mz, mv) = (z.iter().sum::<f64>() / m, v.iter().sum::<f64>() / m);
                let cov = z
                    .iter()
                    .zip(&v)
                    .map(|(a, b)| (a - mz) * (b - mv))
                    .sum::<f64>()
                    / (m - 1.0);
                let vz = z.iter().map(|a| (a - mz).powi(2)).sum::<f64>() / (m - 1.0);
                let vv = v.iter().map(|b| (b - mv).powi(2)).sum::<f64>() / (m - 1.0);
                s[i][k] = if vz > 1e-12 {
                    cov * cov / (vz * vv)
                } else {
                    0.0
                };
            }
        }
    } else {
        for k in 0..kf {
            let y = unique_labels(&factors.column(k).to_vec());
            let (ytr, yte) = (&y[..n_train], &y[n_train..]);
            for i in 0..d {
                let col = codes.column(i);
                let xtr: Vec<Vec<f64>> = col.iter().take(n_train).map(|&v| vec![v]).collect();
                let xte: Vec<Vec<f64>> = col.iter().skip(n_train).map(|&v| vec![v]).collect();
                let m = LinearSvc::fit_balanced(&xtr, ytr, 0.01);
                let p = m.predict(&xte);
                s[i][k] =
                    p.iter().zip(yte).filter(|(a, b)| a == b).count() as f64 / yte.len() as f64;
            }
        }
    }
    let mut gaps = 0.0;
    for k in 0..kf {
        let mut col: Vec<f64> = (0..d).map(|i| s[i][k]).collect();
        col.sort_by(|a, b| b.total_cmp(a));
        gaps += col[0] - col[1];
    }
    let id = if continuous {
        "sap_continuous.dlib"
    } else {
        "sap.dlib"
    };
    let sc = Score::new(id, gaps / kf as f64).param("n_train", n_train);
    Ok(if continuous {
        sc.param("score_matrix_on", "train")
    } else {
        sc.param("svm_c", 0.01)
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::Array2;

    #[test]
    fn perfect_code_scores_high_continuous_and_discrete() {
        let n = 600;
        let f = Array2::from_shape_fn((n, 2), |(s, j)| {
            if j == 0 {
                (s % 4) as f64
            } else {
                ((s / 4) % 2) as f64
            }
        });
        let c = Array2::from_shape_fn((n, 3), |(s, j)| if j < 2 { f[[s, j]] * 1.5 } else { 0.0 });
        let sc = sap(c.view(), f.view(), SapForm::Continuous, 400)
            .unwrap()
            .value;
        assert!((sc - 1.0).abs() < 1e-9, "{sc}");
        // discrete: a 1-D linear SVC cannot isolate the middle classes of a 4-class factor, but
        // the binary factor is learned perfectly and the other latents are at chance
        let sd = sap(c.view(), f.view(), SapForm::Discrete, 400)
            .unwrap()
            .value;
        assert!(sd > 0.4, "{sd}");
        // swapping the latents does not change SAP
        let p = Array2::from_shape_fn((n, 3), |(s, j)| c[[s, 2 - j]]);
        assert!(
            (sap(p.view(), f.view(), SapForm::Continuous, 400)
                .unwrap()
                .value
                - sc)
                .abs()
                < 1e-12
        );
    }

    #[test]
    fn continuous_form_reads_the_training_draw_only() {
        // latent 0 equals the factor on the training draw and is noise after it; latent 1 the
        // reverse. On the training draw S = [[1, ·], [≈0, ·]] → SAP ≈ 1; scored on the test
        // draw it would be ≈ 1 for latent 1 instead, with the same gap — so make the test draw
        // carry no signal at all and check the value is the training-draw one.
        let (n, nt) = (400, 300);
        let f = Array2::from_shape_fn((n, 1), |(s, _)| ((s * 7) % 11) as f64);
        let c = Array2::from_shape_fn((n, 2), |(s, j)| {
            let noise = ((s * 31 + j * 17) % 13) as f64;
            if s < nt {
                if j == 0 {
                    f[[s, 0]]
                } else {
                    noise
                }
            } else {
                noise
            }
        });
        let v = sap(c.view(), f.view(), SapForm::Continuous, nt)
            .unwrap()
            .value;
        // training-draw value computed independently: corr(latent0, f)² = 1, minus latent 1's
        let z1: Vec<f64> = (0..nt).map(|s| c[[s, 1]]).collect();
        let y: Vec<f64> = (0..nt).map(|s| f[[s, 0]]).collect();
        let r = corr(&z1, &y);
        assert!((v - (1.0 - r * r)).abs() < 1e-12, "{v} vs {}", 1.0 - r * r);
        assert!(v > 0.9, "{v}");
    }

    fn corr(a: &[f64], b: &[f64]) -> f64 {
        let m = a.len() as f64;
        let (ma, mb) = (a.iter().sum::<f64>() / m, b.iter().sum::<f64>() / m);
        let cov: f64 = a.iter().zip(b).map(|(x, y)| (x - ma) * (y - mb)).sum();
        let va: f64 = a.iter().map(|x| (x - ma).powi(2)).sum();
        let vb: f64 = b.iter().map(|y| (y - mb).powi(2)).sum();
        cov / (va * vb).sqrt()
    }
}
