//! SAP — Separated Attribute Predictability (Kumar et al. 2018), as disentanglement_lib
//! (`sap_score.py`): a score matrix `S[i, k]` of how well latent `i` alone predicts factor `k`,
//! then `SAP = mean_k (S_(1)k − S_(2)k)`.
//!
//! - discrete factors (`sap.dlib`): `S[i,k]` = test accuracy of a linear SVC (`C = 0.01`,
//!   balanced class weights) trained on latent `i` alone (see [`crate::svm`]);
//! - continuous factors (`sap_continuous.dlib`): `S[i,k] = cov(z_i, v_k)² / (var z_i · var v_k)`
//!   (0 when `var z_i ≤ 1e-12`), on the test part.
//!
//! Train/test: the first `n_train` samples train, the rest test (dlib samples 10 000 + 5 000).

use crate::labels::unique_labels;
use crate::score::{check_pair, Score};
use crate::svm::LinearSvc;
use crate::MetricError;
use ndarray::ArrayView2;

/// SAP with discrete factors (class labels = distinct values) or continuous factors.
pub fn sap(
    codes: ArrayView2<f64>,
    factors: ArrayView2<f64>,
    continuous: bool,
    n_train: usize,
) -> Result<Score, MetricError> {
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
        if col.iter().all(|v| *v == col[0]) {
            return Err(crate::score::constant_factor(k, "SAP"));
        }
    }
    let mut s = vec![vec![0.0; kf]; d];
    if continuous {
        for i in 0..d {
            for k in 0..kf {
                let z: Vec<f64> = codes.column(i).iter().skip(n_train).copied().collect();
                let v: Vec<f64> = factors.column(k).iter().skip(n_train).copied().collect();
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
    Ok(Score::new(id, gaps / kf as f64)
        .param("n_train", n_train)
        .param("svm_c", 0.01))
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
        let sc = sap(c.view(), f.view(), true, 400).unwrap().value;
        assert!((sc - 1.0).abs() < 1e-9, "{sc}");
        // discrete: a 1-D linear SVC cannot isolate the middle classes of a 4-class factor, but
        // the binary factor is learned perfectly and the other latents are at chance
        let sd = sap(c.view(), f.view(), false, 400).unwrap().value;
        assert!(sd > 0.4, "{sd}");
        // swapping the latents does not change SAP
        let p = Array2::from_shape_fn((n, 3), |(s, j)| c[[s, 2 - j]]);
        assert!((sap(p.view(), f.view(), true, 400).unwrap().value - sc).abs() < 1e-12);
    }
}
