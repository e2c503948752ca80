//! IRS — Interventional Robustness Score (Suter et al. 2019), as disentanglement_lib
//! (`irs.py`, `scalable_disentanglement_score`, `diff_quantile = 0.99`): factors are
//! re-discretised into 20 bins (so dSprites' 40 orientations merge into 20), constant latents are
//! dropped, and
//!
//! `IRS = Σ_i w_i max_k (1 − E_v[ q₀.₉₉ |z_i − E[z_i | v_k = v]| ] / max|z_i − mean z_i|)` with
//! weights `w_i ∝ max|z_i − mean z_i|`.

use crate::labels::{column_labels, FactorKind};
use crate::score::{check_pair, Score};
use crate::special::percentile;
use crate::MetricError;
use ndarray::ArrayView2;

/// IRS (`irs.dlib`); `bins` is the factor discretisation (dlib: 20).
pub fn irs(
    codes: ArrayView2<f64>,
    factors: ArrayView2<f64>,
    bins: usize,
    diff_quantile: f64,
) -> Result<Score, MetricError> {
    crate::options::check_bins("bins", bins)?;
    crate::options::check_half_open("diff_quantile", diff_quantile, 0.0, 1.0)?;
    check_pair(codes, factors, 2)?;
    let n = codes.nrows();
    let fl = column_labels(factors, FactorKind::Continuous, bins);
    // drop constant latents (std > 0)
    let active: Vec<usize> = (0..codes.ncols())
        .filter(|&j| {
            let c = codes.column(j);
            let m = c.sum() / n as f64;
            c.iter().any(|v| (v - m).abs() > 0.0)
        })
        .collect();
    if active.is_empty() {
        return Ok(Score::new("irs.dlib", 0.0).param("note", "all latents constant"));
    }
    let mut scores = Vec::new();
    let mut weights = Vec::new();
    for &j in &active {
        let z: Vec<f64> = codes.column(j).to_vec();
        let mean = z.iter().sum::<f64>() / n as f64;
        let max_dev = z.iter().map(|v| (v - mean).abs()).fold(0.0, f64::max);
        let mut best = f64::NEG_INFINITY;
        for f in &fl {
            let mut vals: Vec<u32> = f.clone();
            vals.sort_unstable();
            vals.dedup();
            let mut cum = 0.0;
            for v in &vals {
                let grp: Vec<f64> = z
                    .iter()
                    .zip(f)
                    .filter(|(_, l)| *l == v)
                    .map(|(x, _)| *x)
                    .collect();
                let e = grp.iter().sum::<f64>() / grp.len() as f64;
                let diffs: Vec<f64> = grp.iter().map(|x| (x - e).abs()).collect();
                cum += percentile(&diffs, diff_quantile * 100.0);
            }
            cum /= vals.len() as f64;
            best = best.max(1.0 - cum / max_dev);
        }
        scores.push(best);
        weights.push(max_dev);
    }
    let wsum: f64 = weights.iter().sum();
    let v = if wsum > 0.0 {
        scores.iter().zip(&weights).map(|(s, w)| s * w).sum::<f64>() / wsum
    } else {
        scores.iter().sum::<f64>() / scores.len() as f64
    };
    Ok(Score::new("irs.dlib", v)
        .param("bins", bins)
        .param("diff_quantile", diff_quantile)
        .part("num_active_dims", active.len() as f64))
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::Array2;

    #[test]
    fn perfect_code_is_one_and_noise_is_lower() {
        let n = 2000;
        let f = Array2::from_shape_fn((n, 2), |(s, j)| ((s / (1 + 9 * j)) % 10) as f64);
        let c = Array2::from_shape_fn((n, 2), |(s, j)| f[[s, j]] * 0.3);
        let v = irs(c.view(), f.view(), 20, 0.99).unwrap().value;
        assert!((v - 1.0).abs() < 1e-12, "{v}");
        let m = Array2::from_shape_fn((n, 2), |(s, _)| f[[s, 0]] + f[[s, 1]]);
        assert!(irs(m.view(), f.view(), 20, 0.99).unwrap().value < 0.8);
    }
}
