//! Shuffle nulls for grid scores: a cell is called a grid cell when its score exceeds a high
//! percentile of scores of matched random maps (Barry & Burgess 2017). On 16×16 maps fixed
//! thresholds (0.3, 0.37) are far too lenient (reference notes §2.3), so biodis derives them.
//!
//! - **bin permutation** of the cell's own map (keeps the rate distribution, destroys
//!   structure);
//! - **smooth random fields** (white noise, periodic Gaussian smoothing with σ bins), the
//!   matched null for smooth model maps.

use super::gridscore::DeepMindScorer;
use super::maps::random_field;
use crate::special::{percentile, SplitMix64};

/// Which null.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Null {
    /// Permute the bins of the map itself.
    BinPermutation,
    /// Gaussian-smoothed white noise with σ bins (0 = white noise).
    SmoothField(f64),
}

/// Scores (60° score of `scorer`) of `count` null maps for `map` (`n × n`); non-finite scores
/// are skipped.
pub fn null_scores(
    map: &[f64],
    n: usize,
    scorer: &DeepMindScorer,
    null: Null,
    count: usize,
    seed: u64,
) -> Vec<f64> {
    null_scores_60_90(map, n, scorer, null, count, seed).0
}

/// The 60° and the 90° (square) scores of the same `count` null maps as [`null_scores`] (same
/// seed, same maps): the null of a hexagonal and of a square lattice call at no extra cost.
/// Non-finite scores are skipped in each list separately.
pub fn null_scores_60_90(
    map: &[f64],
    n: usize,
    scorer: &DeepMindScorer,
    null: Null,
    count: usize,
    seed: u64,
) -> (Vec<f64>, Vec<f64>) {
    let mut rng = SplitMix64(seed);
    let (mut s60, mut s90) = (Vec::with_capacity(count), Vec::with_capacity(count));
    let mut m = map.to_vec();
    for _ in 0..count {
        let sample = match null {
            Null::BinPermutation => {
                for i in (1..m.len()).rev() {
                    let j = rng.below(i + 1);
                    m.swap(i, j);
                }
                m.clone()
            }
            Null::SmoothField(s) => random_field(n, s, &mut rng),
        };
        let g = scorer.score_map(&sample);
        if g.score_60.is_finite() {
            s60.push(g.score_60);
        }
        if g.score_90.is_finite() {
            s90.push(g.score_90);
        }
    }
    (s60, s90)
}

/// `(p50, p95, p99)` of a set of scores.
pub fn percentiles(v: &[f64]) -> (f64, f64, f64) {
    (
        percentile(v, 50.0),
        percentile(v, 95.0),
        percentile(v, 99.0),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::spatial::gridscore::Form;
    use crate::spatial::maps::{hex_map, square_map};

    #[test]
    fn the_square_null_separates_square_from_hexagonal_lattices() {
        let n = 16;
        let scorer = DeepMindScorer::deepmind(n, Form::MinMax);
        let null = Null::SmoothField(1.5);
        // the 60° list is null_scores' (same seed, same maps)
        let sq = square_map(n, 6.0);
        let (s60, s90) = null_scores_60_90(&sq, n, &scorer, null, 100, 3);
        assert_eq!(s60, null_scores(&sq, n, &scorer, null, 100, 3));
        assert_eq!(s90.len(), 100);
        let (_, p95_60, _) = percentiles(&s60);
        let (_, p95_90, _) = percentiles(&s90);
        let square = scorer.score_map(&sq);
        assert!(square.score_90 > p95_90, "{square:?} vs p95 {p95_90}");
        assert!(square.score_60 < p95_60, "{square:?} vs p95 {p95_60}");
        let hex = scorer.score_map(&hex_map(n, 6.0, 0.3, (0.0, 0.0)));
        assert!(hex.score_60 > p95_60, "{hex:?} vs p95 {p95_60}");
        assert!(hex.score_90 < p95_90, "{hex:?} vs p95 {p95_90}");
    }
}
