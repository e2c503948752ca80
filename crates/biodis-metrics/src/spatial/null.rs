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
    let mut rng = SplitMix64(seed);
    let mut out = Vec::with_capacity(count);
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
        let g = scorer.score_map(&sample).score_60;
        if g.is_finite() {
            out.push(g);
        }
    }
    out
}

/// `(p50, p95, p99)` of a set of scores.
pub fn percentiles(v: &[f64]) -> (f64, f64, f64) {
    (
        percentile(v, 50.0),
        percentile(v, 95.0),
        percentile(v, 99.0),
    )
}
