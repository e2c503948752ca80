//! Bounded train/test sets for the metrics that fit classifiers (DCI, SAP, explicitness).
//!
//! disentanglement_lib evaluates these metrics on a fixed number of points whatever the size of
//! the dataset: `dci.num_train = 10000`, `dci.num_test = 5000`, `sap_score.num_train = 10000`,
//! `sap_score.num_test = 5000`, and Ridgeway & Mozer's explicitness (`modularity_explicitness`)
//! 10000 / 5000 too. [`TrainTestCap`] does the same for samples given as a matrix: the training
//! part (the first `n_train` rows) and the test part (the rest) are each reduced, when larger
//! than their cap, to a seeded uniform subsample without replacement, kept in their original
//! order. A part at or below its cap is used whole, so inputs within both caps give exactly the
//! result of the uncapped metric.

use crate::special::SplitMix64;
use ndarray::{Array2, ArrayView2, Axis};

/// Caps on the training and test parts (disentanglement_lib's 10 000 / 5 000 by default);
/// `None` = no cap on that part.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TrainTestCap {
    /// Most training samples (dlib `num_train`, 10 000).
    pub max_train: Option<usize>,
    /// Most test samples (dlib `num_test`, 5 000).
    pub max_test: Option<usize>,
    /// Seed of the subsample.
    pub seed: u64,
}

impl Default for TrainTestCap {
    fn default() -> Self {
        TrainTestCap {
            max_train: Some(10_000),
            max_test: Some(5_000),
            seed: 0,
        }
    }
}

/// What [`TrainTestCap::apply`] did: the sizes used and the sizes available.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Split {
    pub n_train: usize,
    pub n_test: usize,
    pub of_train: usize,
    pub of_test: usize,
}

impl Split {
    /// Whether either part was subsampled.
    pub fn subsampled(&self) -> bool {
        self.n_train < self.of_train || self.n_test < self.of_test
    }
}

/// `k` of `0..m`, uniformly without replacement, in increasing order (`0..m` when `k >= m`).
pub fn choose_sorted(m: usize, k: usize, rng: &mut SplitMix64) -> Vec<usize> {
    let mut idx: Vec<usize> = (0..m).collect();
    if k >= m {
        return idx;
    }
    for i in 0..k {
        let j = i + rng.below(m - i);
        idx.swap(i, j);
    }
    idx.truncate(k);
    idx.sort_unstable();
    idx
}

impl TrainTestCap {
    /// Checks the caps: each at least 1 (a metric needs samples on both sides).
    pub fn validate(&self) -> Result<(), crate::MetricError> {
        if let Some(v) = self.max_train {
            crate::options::check_at_least("max_train", v, 1)?;
        }
        if let Some(v) = self.max_test {
            crate::options::check_at_least("max_test", v, 1)?;
        }
        Ok(())
    }

    /// Rows of `codes`/`factors` to use: `None` when both parts are within their caps (use the
    /// inputs as they are), else the subsampled matrices with the training rows first. The
    /// [`Split`] gives the new `n_train` and the sizes before and after.
    #[allow(clippy::type_complexity)]
    pub fn apply(
        &self,
        codes: ArrayView2<f64>,
        factors: ArrayView2<f64>,
        n_train: usize,
    ) -> (Option<(Array2<f64>, Array2<f64>)>, Split) {
        let n = codes.nrows();
        let n_train = n_train.min(n);
        let n_test = n - n_train;
        let kt = self.max_train.map_or(n_train, |c| c.min(n_train));
        let ke = self.max_test.map_or(n_test, |c| c.min(n_test));
        let split = Split {
            n_train: kt,
            n_test: ke,
            of_train: n_train,
            of_test: n_test,
        };
        if !split.subsampled() {
            return (None, split);
        }
        let mut rng = SplitMix64(self.seed);
        let mut rows = choose_sorted(n_train, kt, &mut rng);
        rows.extend(
            choose_sorted(n_test, ke, &mut rng)
                .into_iter()
                .map(|i| i + n_train),
        );
        (
            Some((codes.select(Axis(0), &rows), factors.select(Axis(0), &rows))),
            split,
        )
    }
}

/// The metrics that train a classifier on a train/test split and are capped by
/// [`TrainTestCap`] (DCI, SAP, explicitness), by their `biodis score` names.
pub const CAPPED_METRICS: [&str; 3] = ["dci", "sap", "explicitness"];

/// Runs the classifier metric `compute(codes, factors, n_train)` on at most the cap's samples
/// and records the sizes used (`n_train_used`, `n_test_used`) and available
/// (`train_available`, `test_available`) in the score's parameters — the one rule that
/// `biodis score` and the Python bindings share.
pub fn run_capped<E>(
    cap: &TrainTestCap,
    codes: ArrayView2<f64>,
    factors: ArrayView2<f64>,
    n_train: usize,
    compute: impl FnOnce(ArrayView2<f64>, ArrayView2<f64>, usize) -> Result<crate::Score, E>,
) -> Result<crate::Score, E> {
    let (sub, sp) = cap.apply(codes, factors, n_train);
    let s = match &sub {
        Some((zs, fs)) => compute(zs.view(), fs.view(), sp.n_train)?,
        None => compute(codes, factors, n_train.min(codes.nrows()))?,
    };
    Ok(s.param("n_train_used", sp.n_train)
        .param("n_test_used", sp.n_test)
        .param("train_available", sp.of_train)
        .param("test_available", sp.of_test))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn within_caps_is_untouched_above_is_a_seeded_subsample() {
        let c = Array2::from_shape_fn((300, 2), |(s, j)| (s * 3 + j) as f64);
        let f = Array2::from_shape_fn((300, 1), |(s, _)| s as f64);
        let cap = TrainTestCap {
            max_train: Some(200),
            max_test: Some(100),
            seed: 1,
        };
        let (m, sp) = cap.apply(c.view(), f.view(), 200);
        assert!(m.is_none() && !sp.subsampled() && sp.n_train == 200 && sp.n_test == 100);
        let cap = TrainTestCap {
            max_train: Some(50),
            max_test: Some(20),
            seed: 1,
        };
        let (m, sp) = cap.apply(c.view(), f.view(), 200);
        let (cc, ff) = m.unwrap();
        assert_eq!(
            (sp.n_train, sp.n_test, sp.of_train, sp.of_test),
            (50, 20, 200, 100)
        );
        assert_eq!(cc.nrows(), 70);
        // training rows come from the training part, test rows from the test part, in order,
        // without repeats, and codes stay paired with their factors
        let ids: Vec<usize> = ff.column(0).iter().map(|v| *v as usize).collect();
        assert!(ids[..50].iter().all(|&i| i < 200) && ids[50..].iter().all(|&i| i >= 200));
        assert!(ids.windows(2).all(|w| w[0] < w[1]));
        for (s, &i) in ids.iter().enumerate() {
            assert_eq!(cc[[s, 1]], (i * 3 + 1) as f64);
        }
        // deterministic in the seed, different for another
        let again = cap.apply(c.view(), f.view(), 200).0.unwrap().1;
        assert_eq!(again, ff);
        let other = TrainTestCap { seed: 2, ..cap }
            .apply(c.view(), f.view(), 200)
            .0
            .unwrap()
            .1;
        assert_ne!(other, ff);
        // one part over its cap only
        let (_, sp) = TrainTestCap {
            max_train: None,
            ..cap
        }
        .apply(c.view(), f.view(), 200);
        assert_eq!((sp.n_train, sp.n_test), (200, 20));
        assert!(TrainTestCap {
            max_test: Some(0),
            ..cap
        }
        .validate()
        .is_err());
    }
}
