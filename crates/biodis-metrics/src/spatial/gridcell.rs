//! The grid-cell call: whether a cell's grid score makes it a grid cell, judged against the
//! cell's own null distribution (shuffled or smooth-field maps, see [`super::null`]) or, without
//! a null, against a fixed threshold. `biodis spatial` (per cell) and the grid-world analyses of
//! `biodis-cells` (fractions of active cells) make the call with [`grid_cell_call`].

/// Which percentile of the cell's null its grid score must exceed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NullLevel {
    /// The 95th percentile.
    P95,
    /// The 99th percentile.
    P99,
}

/// The 95th and 99th percentiles of a cell's null grid scores (NaN when no null was computed,
/// or it yielded no finite score).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct NullPercentiles {
    /// 95th percentile.
    pub p95: f64,
    /// 99th percentile.
    pub p99: f64,
}

/// The thresholds of the grid-cell call.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct GridCellCriterion {
    /// The percentile of the cell's null the grid score must exceed.
    pub null_level: NullLevel,
    /// The threshold used instead when that percentile is not finite (no null was computed);
    /// `None`: such a cell is not called either way.
    pub fixed_threshold: Option<f64>,
}

impl GridCellCriterion {
    /// `biodis spatial`'s call: above the cell's null p99, or above 0.8 without a null (fixed,
    /// conservative for small maps).
    pub const SPATIAL: GridCellCriterion = GridCellCriterion {
        null_level: NullLevel::P99,
        fixed_threshold: Some(0.8),
    };

    /// Above the cell's null at `level`; no call for a cell without one.
    pub const fn null_only(level: NullLevel) -> GridCellCriterion {
        GridCellCriterion {
            null_level: level,
            fixed_threshold: None,
        }
    }

    /// The threshold for a cell with these null percentiles: the chosen percentile when it is
    /// finite, else the fixed threshold.
    pub fn threshold(&self, null: NullPercentiles) -> Option<f64> {
        let p = match self.null_level {
            NullLevel::P95 => null.p95,
            NullLevel::P99 => null.p99,
        };
        if p.is_finite() {
            Some(p)
        } else {
            self.fixed_threshold
        }
    }
}

/// Calls a cell with grid score `score` and null percentiles `null` a grid cell:
/// `Some(score > threshold)` with the criterion's [threshold](GridCellCriterion::threshold);
/// `None` (no call) when the score is not finite (an empty or constant map) or there is no
/// threshold.
pub fn grid_cell_call(score: f64, null: NullPercentiles, c: &GridCellCriterion) -> Option<bool> {
    if !score.is_finite() {
        return None;
    }
    c.threshold(null).map(|t| score > t)
}

#[cfg(test)]
mod tests {
    use super::*;

    const NONE: NullPercentiles = NullPercentiles {
        p95: f64::NAN,
        p99: f64::NAN,
    };

    #[test]
    fn above_the_null_percentile_or_the_fixed_threshold() {
        let null = NullPercentiles { p95: 0.3, p99: 0.5 };
        let sp = GridCellCriterion::SPATIAL;
        assert_eq!(grid_cell_call(0.6, null, &sp), Some(true));
        assert_eq!(grid_cell_call(0.4, null, &sp), Some(false));
        // strictly above
        assert_eq!(grid_cell_call(0.5, null, &sp), Some(false));
        // without a null: the fixed 0.8
        assert_eq!(grid_cell_call(0.7, NONE, &sp), Some(false));
        assert_eq!(grid_cell_call(0.81, NONE, &sp), Some(true));
        // no score, no call
        assert_eq!(grid_cell_call(f64::NAN, null, &sp), None);
        let p95 = GridCellCriterion::null_only(NullLevel::P95);
        assert_eq!(grid_cell_call(0.4, null, &p95), Some(true));
        assert_eq!(grid_cell_call(0.9, NONE, &p95), None);
        assert_eq!(p95.threshold(null), Some(0.3));
        assert_eq!(sp.threshold(NONE), Some(0.8));
    }
}
