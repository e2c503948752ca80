//! DCI — Disentanglement, Completeness, Informativeness (Eastwood & Williams 2018) as
//! disentanglement_lib computes it (`dci.py`): an importance matrix `R` (latents × factors) from
//! one gradient-boosted classifier per factor ([`crate::gbdt`]), then
//!
//! - `D = Σ_i ρ_i (1 − H_K(R_i·))`, `ρ_i = Σ_k R_ik / Σ R` (entropy base K = #factors);
//! - `C = Σ_k ρ_k (1 − H_D(R_·k))`, `ρ_k = Σ_i R_ik / Σ R` (base D = #latents);
//! - informativeness = mean over factors of classification **accuracy** (train and test).
//!
//! Entropies normalise each row/column after adding 1e-11 (scipy `entropy`); an all-zero `R`
//! uses uniform weights. Continuous factors are discretised into 20 bins to be classes.

use crate::gbdt::{Gbdt, GbdtOptions};
use crate::labels::{column_labels, dense, FactorKind};
use crate::score::{check_pair, Score};
use crate::MetricError;
use ndarray::{Array2, ArrayView2};

fn entropy_base(p: &[f64], base: f64) -> f64 {
    let q: Vec<f64> = p.iter().map(|v| v + 1e-11).collect();
    let s: f64 = q.iter().sum();
    -q.iter()
        .map(|v| v / s)
        .map(|v| if v > 0.0 { v * v.ln() } else { 0.0 })
        .sum::<f64>()
        / base.ln()
}

/// `(D, C)` from an importance matrix (latents × factors).
pub fn dci_from_importance(r: &Array2<f64>) -> (f64, f64) {
    let (d, k) = r.dim();
    let tot: f64 = r.sum();
    let w = if tot == 0.0 {
        Array2::ones((d, k))
    } else {
        r.clone()
    };
    let wt: f64 = w.sum();
    let mut dis = 0.0;
    for i in 0..d {
        let row: Vec<f64> = r.row(i).to_vec();
        let h = if k > 1 {
            entropy_base(&row, k as f64)
        } else {
            0.0
        };
        dis += (1.0 - h) * w.row(i).sum() / wt;
    }
    let mut comp = 0.0;
    for j in 0..k {
        let col: Vec<f64> = r.column(j).to_vec();
        let h = if d > 1 {
            entropy_base(&col, d as f64)
        } else {
            0.0
        };
        comp += (1.0 - h) * w.column(j).sum() / wt;
    }
    (dis, comp)
}

/// DCI (`dci.dlib`); the first `n_train` samples train the classifiers, the rest test them.
/// Returns the score and the importance matrix.
///
/// Exactly tied splits are broken by a seeded random feature order per tree node, as
/// scikit-learn does ([`crate::gbdt`]); factor `k`'s classifier uses seed `opts.seed + k`, so
/// the result is deterministic given `opts.seed`. Duplicated latents therefore share the
/// importance (completeness ≈ 0.77 when every latent appears twice, as disentanglement_lib).
///
/// `opts.splitter` chooses the tree learner's split search: [`crate::gbdt::Splitter::Exact`]
/// (default, scikit-learn's `GradientBoostingClassifier`) or the histogram splitter (binned,
/// much faster on large inputs; equal to the exact one up to rounding-level ties when every
/// latent has at most `max_bins` distinct values). The score records it as `splitter`.
pub fn dci(
    codes: ArrayView2<f64>,
    factors: ArrayView2<f64>,
    kind: FactorKind,
    bins: usize,
    n_train: usize,
    opts: GbdtOptions,
) -> Result<(Score, Array2<f64>), MetricError> {
    crate::options::check_bins("bins", bins)?;
    opts.validate()?;
    check_pair(codes, factors, 4)?;
    let (n, d) = codes.dim();
    if n_train < 2 || n_train >= n {
        return Err(MetricError::Invalid {
            what: "DCI".into(),
            msg: format!("train split {n_train} must leave test samples (have {n})"),
        });
    }
    let kf = factors.ncols();
    let fl = column_labels(factors, kind, bins);
    let xcols: Vec<Vec<f64>> = (0..d)
        .map(|j| codes.column(j).iter().take(n_train).copied().collect())
        .collect();
    let rows =
        |a: usize, b: usize| -> Vec<Vec<f64>> { (a..b).map(|s| codes.row(s).to_vec()).collect() };
    let (rtr, rte) = (rows(0, n_train), rows(n_train, n));
    // one classifier per factor, the factors on the available cores; each is fitted exactly as
    // it would be serially and the sums below run in factor order
    let items: Vec<(usize, &Vec<u32>)> = fl.iter().enumerate().collect();
    let per_factor = crate::par::map_ordered(&items, |&(k, f)| {
        let (y, _) = dense(f);
        // one tie-breaking stream per factor, all from the caller's seed
        let o = GbdtOptions {
            seed: biodis_streams::metrics::dci_factor(opts.seed, k),
            ..opts
        };
        let g = Gbdt::fit(&xcols, &y[..n_train], o);
        let acc = |p: Vec<u32>, t: &[u32]| {
            p.iter().zip(t).filter(|(a, b)| a == b).count() as f64 / t.len() as f64
        };
        let imp: Vec<f64> = g.feature_importances.iter().map(|v| v.abs()).collect();
        (
            imp,
            acc(g.predict(&rtr), &y[..n_train]),
            acc(g.predict(&rte), &y[n_train..]),
        )
    });
    let mut r = Array2::zeros((d, kf));
    let (mut acc_tr, mut acc_te) = (0.0, 0.0);
    for (k, (imp, tr, te)) in per_factor.into_iter().enumerate() {
        for i in 0..d {
            r[[i, k]] = imp[i];
        }
        acc_tr += tr;
        acc_te += te;
    }
    let (dis, comp) = dci_from_importance(&r);
    let s = Score::new("dci.dlib", dis)
        .part("disentanglement", dis)
        .part("completeness", comp)
        .part("informativeness_train", acc_tr / kf as f64)
        .part("informativeness_test", acc_te / kf as f64)
        .param("n_train", n_train)
        .param("n_estimators", opts.n_estimators)
        .param("max_depth", opts.max_depth)
        .param("seed", opts.seed)
        .param("splitter", opts.splitter.label());
    Ok((s, r))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn golden_importance_matrices() {
        // anchors §2.9: identity 4×4 -> D = C = 0.9999999994; all-ones -> 0
        let (d, c) = dci_from_importance(&Array2::eye(4));
        assert!(
            (d - 0.9999999994).abs() < 1e-9 && (c - 0.9999999994).abs() < 1e-9,
            "{d} {c}"
        );
        let (d, c) = dci_from_importance(&Array2::ones((4, 4)));
        assert!(d.abs() < 1e-9 && c.abs() < 1e-9);
    }

    #[test]
    fn dci_of_perfect_code_is_high() {
        let n = 900;
        let f = Array2::from_shape_fn((n, 2), |(s, j)| ((s / (1 + 4 * j)) % 4) as f64);
        let c = Array2::from_shape_fn((n, 3), |(s, j)| {
            if j < 2 {
                f[[s, j]] * 2.0 + 0.1
            } else {
                ((s * 7) % 13) as f64
            }
        });
        let (s, r) = dci(
            c.view(),
            f.view(),
            FactorKind::Discrete,
            20,
            600,
            GbdtOptions {
                n_estimators: 20,
                ..Default::default()
            },
        )
        .unwrap();
        assert!(s.parts["informativeness_test"] > 0.99);
        assert!(s.parts["disentanglement"] > 0.9, "{s:?} {r:?}");
        assert!(s.parts["completeness"] > 0.9);
    }
}
