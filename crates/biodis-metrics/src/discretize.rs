//! Equal-width binning exactly as numpy's `np.digitize(v, np.histogram(v, bins)[1][:-1])`.
//!
//! This is the discretiser of disentanglement_lib (`_histogram_discretize`) and of the
//! authors' `compute_mir`. Edges follow numpy's `linspace`: `edge_i = i * step + min` with
//! `step = (max - min) / bins`, the last edge set to `max` exactly. The value `x` gets the
//! label `#{ i < bins : edge_i <= x }`, so labels run `1..=bins` and the maximum lands in
//! bin `bins`. A constant variable uses the range `[v - 0.5, v + 0.5]` (numpy's rule), so
//! every label is `bins / 2 + 1` (11 for 20 bins).
//!
//! Inputs are `f64`. (numpy computes the edges in `float32` when given `float32` data; we
//! cast to `f64` first, i.e. we match numpy run on `float64` arrays.)

/// Bin labels (1-based, as numpy's `digitize`) of `values` into `bins` equal-width bins
/// spanning the values' own `[min, max]`.
///
/// Panics never; an empty input returns an empty vector. Non-finite inputs must be rejected
/// by the caller (see [`crate::check_finite`]).
pub fn histogram_discretize(values: &[f64], bins: usize) -> Vec<u32> {
    if values.is_empty() || bins == 0 {
        return Vec::new();
    }
    let (mut lo, mut hi) = (f64::INFINITY, f64::NEG_INFINITY);
    for &v in values {
        lo = lo.min(v);
        hi = hi.max(v);
    }
    if lo == hi {
        lo -= 0.5;
        hi += 0.5;
    }
    let edges = linspace_edges(lo, hi, bins);
    // edges[..bins] are the left edges; label = number of left edges <= x.
    let left = &edges[..bins];
    values
        .iter()
        .map(|&x| left.partition_point(|&e| e <= x) as u32)
        .collect()
}

/// numpy `linspace(lo, hi, bins + 1)` in `f64`: `i * step + lo`, last element exactly `hi`.
pub fn linspace_edges(lo: f64, hi: f64, bins: usize) -> Vec<f64> {
    let step = (hi - lo) / bins as f64;
    let mut e: Vec<f64> = (0..=bins).map(|i| i as f64 * step + lo).collect();
    e[bins] = hi;
    e
}

#[cfg(test)]
mod tests {
    use super::*;

    // Golden vectors: shared/reference/disentanglement-metrics-datasets-anchors.md §2.9.
    #[test]
    fn golden_tenths() {
        let v = [0.0, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 1.0];
        assert_eq!(
            histogram_discretize(&v, 20),
            vec![1, 3, 5, 6, 9, 11, 12, 14, 17, 19, 20]
        );
    }

    #[test]
    fn golden_mixed() {
        assert_eq!(
            histogram_discretize(&[3.0, -1.0, 2.5, 2.5, 0.0], 20),
            vec![20, 1, 18, 18, 6]
        );
    }

    #[test]
    fn golden_constant() {
        assert_eq!(histogram_discretize(&[5.0, 5.0, 5.0], 20), vec![11, 11, 11]);
    }

    #[test]
    fn labels_in_range() {
        let v: Vec<f64> = (0..1000)
            .map(|i| ((i * 7919) % 1000) as f64 / 3.0)
            .collect();
        let l = histogram_discretize(&v, 20);
        assert!(l.iter().all(|&x| (1..=20).contains(&x)));
        assert!(l.contains(&1) && l.contains(&20));
    }
}
