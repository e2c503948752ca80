//! Turning factor (or code) columns into discrete labels, the shared first step of the
//! discrete metrics.
//!
//! - **Discrete factors** (`FactorKind::Discrete`, the dlib convention: factors are class
//!   indices): each distinct value becomes a label, in sorted order (`np.unique`).
//! - **Continuous factors** (`FactorKind::Continuous`): binned into `bins` equal-width bins with
//!   [`crate::discretize::histogram_discretize`] (the authors' MIR convention).

use crate::discretize::histogram_discretize;
use ndarray::ArrayView2;
use serde::{Deserialize, Serialize};

/// How factor columns are turned into labels.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum FactorKind {
    /// Distinct values are classes.
    Discrete,
    /// Values are binned (20 equal-width bins by default).
    #[default]
    Continuous,
}

/// Dense labels `0..k` of the distinct values of `v`, in sorted order.
pub fn unique_labels(v: &[f64]) -> Vec<u32> {
    let mut u: Vec<f64> = v.to_vec();
    u.sort_by(|a, b| a.total_cmp(b));
    u.dedup();
    v.iter()
        .map(|x| u.partition_point(|y| y < x) as u32)
        .collect()
}

/// Labels of every column of `a` (samples × columns).
pub fn column_labels(a: ArrayView2<f64>, kind: FactorKind, bins: usize) -> Vec<Vec<u32>> {
    (0..a.ncols())
        .map(|j| {
            let col: Vec<f64> = a.column(j).iter().copied().collect();
            match kind {
                FactorKind::Discrete => unique_labels(&col),
                FactorKind::Continuous => histogram_discretize(&col, bins),
            }
        })
        .collect()
}

/// Number of distinct labels (labels are dense from 0 or 1).
pub fn n_classes(l: &[u32]) -> usize {
    let mut u: Vec<u32> = l.to_vec();
    u.sort_unstable();
    u.dedup();
    u.len()
}

/// Re-labels to dense `0..k`.
pub fn dense(l: &[u32]) -> (Vec<u32>, usize) {
    let mut u: Vec<u32> = l.to_vec();
    u.sort_unstable();
    u.dedup();
    (
        l.iter()
            .map(|x| u.binary_search(x).unwrap_or(0) as u32)
            .collect(),
        u.len(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    #[test]
    fn unique_is_sorted_dense() {
        assert_eq!(unique_labels(&[3.0, -1.0, 3.0, 0.5]), vec![2, 0, 2, 1]);
        assert_eq!(dense(&[5, 9, 5, 7]), (vec![0, 2, 0, 1], 3));
    }
}
