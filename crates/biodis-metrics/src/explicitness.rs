//! Explicitness (Ridgeway & Mozer 2018) as disentanglement_lib (`modularity_explicitness.py`):
//! codes are z-scored with the training statistics; per factor a logistic regression
//! (scikit-learn defaults, [`crate::logistic`]) predicts the factor's class from all codes and
//! the score is the macro ROC-AUC of its class probabilities against the one-hot labels; the
//! metric is the mean over factors (train and test).

use crate::labels::{column_labels, dense, FactorKind};
use crate::logistic::Logistic;
use crate::score::{check_pair, Score};
use crate::MetricError;
use ndarray::ArrayView2;

/// Binary ROC-AUC (Mann–Whitney, ties counted ½); `None` if a class is absent.
pub fn roc_auc(scores: &[f64], positive: &[bool]) -> Option<f64> {
    let mut idx: Vec<usize> = (0..scores.len()).collect();
    idx.sort_by(|&a, &b| scores[a].total_cmp(&scores[b]));
    let npos = positive.iter().filter(|&&p| p).count();
    let nneg = positive.len() - npos;
    if npos == 0 || nneg == 0 {
        return None;
    }
    // average ranks over ties
    let mut rank_sum = 0.0;
    let mut i = 0;
    while i < idx.len() {
        let mut j = i;
        while j + 1 < idx.len() && scores[idx[j + 1]] == scores[idx[i]] {
            j += 1;
        }
        let avg = (i + j) as f64 / 2.0 + 1.0;
        for &k in &idx[i..=j] {
            if positive[k] {
                rank_sum += avg;
            }
        }
        i = j + 1;
    }
    Some((rank_sum - npos as f64 * (npos as f64 + 1.0) / 2.0) / (npos as f64 * nneg as f64))
}

/// Explicitness (`explicitness.dlib`), value = test score.
pub fn explicitness(
    codes: ArrayView2<f64>,
    factors: ArrayView2<f64>,
    kind: FactorKind,
    bins: usize,
    n_train: usize,
) -> Result<Score, MetricError> {
    crate::options::check_bins("bins", bins)?;
    check_pair(codes, factors, 4)?;
    let (n, d) = codes.dim();
    if n_train < 2 || n_train >= n {
        return Err(MetricError::Invalid {
            what: "explicitness".into(),
            msg: format!("train split {n_train} must leave test samples (have {n})"),
        });
    }
    let mean: Vec<f64> = (0..d)
        .map(|j| codes.column(j).iter().take(n_train).sum::<f64>() / n_train as f64)
        .collect();
    let sd: Vec<f64> = (0..d)
        .map(|j| {
            let v = codes
                .column(j)
                .iter()
                .take(n_train)
                .map(|x| (x - mean[j]).powi(2))
                .sum::<f64>()
                / n_train as f64;
            if v > 0.0 {
                v.sqrt()
            } else {
                1.0
            }
        })
        .collect();
    let rows: Vec<Vec<f64>> = (0..n)
        .map(|s| (0..d).map(|j| (codes[[s, j]] - mean[j]) / sd[j]).collect())
        .collect();
    let fl = column_labels(factors, kind, bins);
    let (mut etr, mut ete) = (0.0, 0.0);
    for f in &fl {
        let (y, k) = dense(f);
        let m = Logistic::fit(&rows[..n_train], &y[..n_train], k, 1.0);
        let auc = |a: usize, b: usize| -> f64 {
            let probs: Vec<Vec<f64>> = rows[a..b].iter().map(|r| m.proba(r)).collect();
            let mut tot = 0.0;
            let mut cnt = 0.0;
            for c in 0..k {
                let sc: Vec<f64> = probs.iter().map(|p| p[c]).collect();
                let pos: Vec<bool> = y[a..b].iter().map(|&v| v as usize == c).collect();
                if let Some(v) = roc_auc(&sc, &pos) {
                    tot += v;
                    cnt += 1.0;
                }
            }
            if cnt > 0.0 {
                tot / cnt
            } else {
                f64::NAN
            }
        };
        etr += auc(0, n_train);
        ete += auc(n_train, n);
    }
    let kf = fl.len() as f64;
    Ok(Score::new("explicitness.dlib", ete / kf)
        .part("explicitness_train", etr / kf)
        .part("explicitness_test", ete / kf)
        .param("n_train", n_train))
}

#[cfg(test)]
mod tests {
    use super::*;
    #[test]
    fn auc_known() {
        assert_eq!(
            roc_auc(&[0.1, 0.4, 0.35, 0.8], &[false, false, true, true]),
            Some(0.75)
        );
        assert_eq!(roc_auc(&[0.5, 0.5], &[false, true]), Some(0.5));
        assert_eq!(roc_auc(&[0.5], &[true]), None);
    }
}
