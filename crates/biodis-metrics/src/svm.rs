//! A linear support-vector classifier as scikit-learn's `LinearSVC` (liblinear,
//! L2-regularised squared-hinge loss, dual coordinate descent, one-vs-rest, intercept as an
//! extra regularised feature with `intercept_scaling = 1`, `class_weight = "balanced"`).
//!
//! Written here rather than taken from a crate because SAP needs exactly liblinear's
//! formulation (C and class weights as liblinear applies them: in one-vs-rest the positive
//! class gets `C · w_k`, the rest `C`). liblinear visits coordinates in a random order; we use
//! a fixed-seed permutation, so results are deterministic and agree with scikit-learn's to its
//! tolerance (`tol = 1e-4`), which for SAP's accuracies means identically except for points
//! on the decision boundary.

use crate::special::SplitMix64;

/// A fitted one-vs-rest linear SVC.
#[derive(Debug, Clone)]
pub struct LinearSvc {
    /// `(w, b)` per class (one entry for binary problems: positive class = the larger label).
    pub coef: Vec<(Vec<f64>, f64)>,
    pub classes: Vec<u32>,
}

/// Solves one binary problem (`y = ±1`) in the dual; returns `(w, b)`.
fn train_one(
    x: &[Vec<f64>],
    y: &[f64],
    cp: f64,
    cn: f64,
    tol: f64,
    max_iter: usize,
) -> (Vec<f64>, f64) {
    let l = x.len();
    let d = x.first().map(|r| r.len()).unwrap_or(0);
    // augmented feature: [x, 1]
    let mut w = vec![0.0; d + 1];
    let mut alpha = vec![0.0; l];
    let diag: Vec<f64> = y
        .iter()
        .map(|&yi| if yi > 0.0 { 0.5 / cp } else { 0.5 / cn })
        .collect();
    let qd: Vec<f64> = (0..l)
        .map(|i| diag[i] + x[i].iter().map(|v| v * v).sum::<f64>() + 1.0)
        .collect();
    let mut index: Vec<usize> = (0..l).collect();
    let mut active = l;
    let mut pgmax_old = f64::INFINITY;
    let mut rng = SplitMix64(biodis_streams::fixed::SVM_COORDINATE_ORDER);
    for _ in 0..max_iter {
        let (mut pgmax_new, mut pgmin_new) = (f64::NEG_INFINITY, f64::INFINITY);
        for i in 0..active {
            let j = i + rng.below(active - i);
            index.swap(i, j);
        }
        let mut s = 0;
        while s < active {
            let i = index[s];
            let yi = y[i];
            let dot: f64 = x[i].iter().zip(&w).map(|(a, b)| a * b).sum::<f64>() + w[d];
            let g = yi * dot - 1.0 + alpha[i] * diag[i];
            let mut pg = 0.0;
            if alpha[i] == 0.0 {
                if g > pgmax_old {
                    active -= 1;
                    index.swap(s, active);
                    continue;
                } else if g < 0.0 {
                    pg = g;
                }
            } else {
                pg = g;
            }
            pgmax_new = pgmax_new.max(pg);
            pgmin_new = pgmin_new.min(pg);
            if pg.abs() > 1e-12 {
                let old = alpha[i];
                alpha[i] = (alpha[i] - g / qd[i]).max(0.0);
                let dd = (alpha[i] - old) * yi;
                for (wk, xk) in w.iter_mut().zip(&x[i]) {
                    *wk += dd * xk;
                }
                w[d] += dd;
            }
            s += 1;
        }
        if pgmax_new - pgmin_new <= tol {
            if active == l {
                break;
            }
            active = l;
            pgmax_old = f64::INFINITY;
            continue;
        }
        // (liblinear also tracks PGmin_old, used only by its L1-loss branch)
        pgmax_old = if pgmax_new <= 0.0 {
            f64::INFINITY
        } else {
            pgmax_new
        };
    }
    let b = w[d];
    w.truncate(d);
    (w, b)
}

impl LinearSvc {
    /// Fits on rows `x` with labels `y`, regularisation `c`, balanced class weights.
    pub fn fit_balanced(x: &[Vec<f64>], y: &[u32], c: f64) -> LinearSvc {
        let mut classes: Vec<u32> = y.to_vec();
        classes.sort_unstable();
        classes.dedup();
        let n = y.len() as f64;
        let k = classes.len() as f64;
        let weight: Vec<f64> = classes
            .iter()
            .map(|cl| n / (k * y.iter().filter(|&&v| v == *cl).count() as f64))
            .collect();
        let tol = 1e-4;
        let max_iter = 1000;
        let coef = if classes.len() <= 1 {
            vec![]
        } else if classes.len() == 2 {
            // liblinear: first class (in label order) is positive; sklearn flips so that the
            // decision function is positive for classes[1]. Fit with classes[1] positive.
            let yy: Vec<f64> = y
                .iter()
                .map(|&v| if v == classes[1] { 1.0 } else { -1.0 })
                .collect();
            vec![train_one(
                x,
                &yy,
                c * weight[1],
                c * weight[0],
                tol,
                max_iter,
            )]
        } else {
            classes
                .iter()
                .enumerate()
                .map(|(ci, cl)| {
                    let yy: Vec<f64> = y
                        .iter()
                        .map(|&v| if v == *cl { 1.0 } else { -1.0 })
                        .collect();
                    train_one(x, &yy, c * weight[ci], c, tol, max_iter)
                })
                .collect()
        };
        LinearSvc { coef, classes }
    }

    /// Predicted labels.
    pub fn predict(&self, x: &[Vec<f64>]) -> Vec<u32> {
        x.iter()
            .map(|r| {
                if self.classes.len() == 1 {
                    return self.classes[0];
                }
                let score =
                    |(w, b): &(Vec<f64>, f64)| r.iter().zip(w).map(|(a, b)| a * b).sum::<f64>() + b;
                if self.classes.len() == 2 {
                    if score(&self.coef[0]) > 0.0 {
                        self.classes[1]
                    } else {
                        self.classes[0]
                    }
                } else {
                    let mut best = 0;
                    let mut bv = f64::NEG_INFINITY;
                    for (i, c) in self.coef.iter().enumerate() {
                        let v = score(c);
                        if v > bv {
                            bv = v;
                            best = i;
                        }
                    }
                    self.classes[best]
                }
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    #[test]
    fn separates_1d_classes() {
        let x: Vec<Vec<f64>> = (0..300)
            .map(|i| vec![(i % 3) as f64 * 2.0 + (i as f64 * 0.001)])
            .collect();
        let y: Vec<u32> = (0..300).map(|i| (i % 3) as u32).collect();
        let m = LinearSvc::fit_balanced(&x, &y, 1.0);
        let p = m.predict(&x);
        let acc = p.iter().zip(&y).filter(|(a, b)| a == b).count() as f64 / 300.0;
        // one-vs-rest with a single feature cannot isolate the middle class perfectly, but the
        // outer ones are learned
        assert!(acc >= 0.66, "{acc}");
        let y2: Vec<u32> = (0..300)
            .map(|i| if x[i][0] > 2.5 { 1 } else { 0 })
            .collect();
        let m = LinearSvc::fit_balanced(&x, &y2, 1.0);
        assert_eq!(m.predict(&x), y2);
    }
}
