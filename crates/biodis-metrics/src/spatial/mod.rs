//! Spatial-cell analyses on arrays: ratemaps, autocorrelograms, grid scores (DeepMind mean and
//! min–max, fixed annulus, opexebo expanding radius), 90° scores, spacing/orientation, shuffle
//! nulls, the dominant wavelength of a map's power spectrum, cross-map stability,
//! population-vector correlation, Skaggs statistics, border score, object-centred maps, patch
//! correlation and readout-weight module separation — the analyses of the paper's grid-world
//! model (§4, Figs 6–7) and of anyone's recorded or simulated cells.
//!
//! Conventions: a map is an `n × n` row-major `&[f64]`, `NaN` = unvisited; lattice coordinates
//! are (column, row). Known pitfalls of the reference tools are fixed and tested: no
//! `nan_to_num` infinities in SACs, NaN (with a reason) for constant/empty maps instead of
//! garbage, and grid scores that work on 16×16 maps. [`gridcell`] makes the grid-cell call from
//! a grid score and its null.

pub mod gridcell;
pub mod gridscore;
pub mod maps;
pub mod null;
pub mod rotate;
pub mod sac;
pub mod spectrum;
pub mod stats;

pub use gridcell::{grid_cell_call, GridCellCriterion, NullLevel, NullPercentiles};
pub use gridscore::{
    grid_score_opexebo, spacing_orientation, DeepMindScorer, Form, GridScore, OpexeboError,
};
pub use sac::sac;
pub use spectrum::{dominant_wavelength, spectral_peak};
pub use stats::OvcFieldEvidence;

use crate::special::percentile;
use serde::Serialize;

/// Options of [`analyse_cell`].
#[derive(Debug, Clone, Copy)]
pub struct CellOptions {
    /// Shuffles for the per-cell null (0 = none).
    pub null: usize,
    pub null_kind: null::Null,
    pub seed: u64,
}

/// Every per-cell score of one `n × n` map. Scores are NaN (with `reason`) for empty or
/// constant maps.
#[derive(Debug, Clone, Serialize)]
pub struct CellReport {
    pub grid_score_deepmind_mean: f64,
    pub grid_score_deepmind_minmax: f64,
    pub grid_score_90: f64,
    pub best_ring_outer: f64,
    pub grid_score_annulus: f64,
    pub grid_score_opexebo: f64,
    pub spacing: f64,
    pub orientation: f64,
    /// Wavelength (bins) of the strongest plane wave in the map ([`dominant_wavelength`]; a
    /// hexagonal grid of spacing `s` peaks at `s·√3/2`).
    pub wavelength: f64,
    /// 95th / 99th percentile of the cell's null (DeepMind min–max form).
    pub null_p95: f64,
    pub null_p99: f64,
    pub info_rate: f64,
    pub info_content: f64,
    pub sparsity: f64,
    pub selectivity: f64,
    pub border_score: f64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

impl CellReport {
    /// The 95th / 99th percentiles of the cell's null (NaN without one).
    pub fn null_percentiles(&self) -> NullPercentiles {
        NullPercentiles {
            p95: self.null_p95,
            p99: self.null_p99,
        }
    }

    /// The grid-cell call ([`grid_cell_call`]) on the DeepMind min–max score and the cell's
    /// null.
    pub fn grid_cell_call(&self, c: &GridCellCriterion) -> Option<bool> {
        grid_cell_call(self.grid_score_deepmind_minmax, self.null_percentiles(), c)
    }
}

/// Scorers shared across cells of one size.
#[derive(Debug, Clone)]
pub struct Scorers {
    pub n: usize,
    pub mean: DeepMindScorer,
    pub minmax: DeepMindScorer,
    pub annulus: DeepMindScorer,
}

impl Scorers {
    pub fn new(n: usize) -> Self {
        Scorers {
            n,
            mean: DeepMindScorer::deepmind(n, Form::Mean),
            minmax: DeepMindScorer::deepmind(n, Form::MinMax),
            annulus: DeepMindScorer::annulus(n, 0.2, 0.5, Form::MinMax),
        }
    }
}

/// All analyses of one map (see [`CellReport`]).
pub fn analyse_cell(map: &[f64], sc: &Scorers, opts: CellOptions) -> CellReport {
    let n = sc.n;
    let nan = f64::NAN;
    let mut r = CellReport {
        grid_score_deepmind_mean: nan,
        grid_score_deepmind_minmax: nan,
        grid_score_90: nan,
        best_ring_outer: nan,
        grid_score_annulus: nan,
        grid_score_opexebo: nan,
        spacing: nan,
        orientation: nan,
        wavelength: nan,
        null_p95: nan,
        null_p99: nan,
        info_rate: nan,
        info_content: nan,
        sparsity: nan,
        selectivity: nan,
        border_score: nan,
        reason: None,
    };
    let valid: Vec<f64> = map.iter().copied().filter(|v| v.is_finite()).collect();
    if valid.len() < 3 {
        r.reason = Some("empty map (fewer than 3 visited bins)".into());
        return r;
    }
    let mn = valid.iter().cloned().fold(f64::INFINITY, f64::min);
    let mx = valid.iter().cloned().fold(f64::NEG_INFINITY, f64::max);
    if mx - mn <= 1e-12 * mx.abs().max(1e-300) {
        r.reason = Some("constant map (no spatial variance)".into());
        return r;
    }
    let s = sac(map, n, 1);
    let a = sc.mean.score_sac(&s);
    let b = sc.minmax.score_sac(&s);
    r.grid_score_deepmind_mean = a.score_60;
    r.grid_score_deepmind_minmax = b.score_60;
    r.grid_score_90 = a.score_90;
    r.best_ring_outer = b.best_ring.1;
    r.grid_score_annulus = sc.annulus.score_sac(&s).score_60;
    match grid_score_opexebo(map, n) {
        Ok(v) => r.grid_score_opexebo = v,
        Err(e) => r.reason = Some(format!("opexebo score: {e}")),
    }
    if let Some((sp, or)) = spacing_orientation(&s, n) {
        r.spacing = sp;
        r.orientation = or;
    }
    r.wavelength = dominant_wavelength(map, n);
    if opts.null > 0 {
        let v = null::null_scores(map, n, &sc.minmax, opts.null_kind, opts.null, opts.seed);
        r.null_p95 = percentile(&v, 95.0);
        r.null_p99 = percentile(&v, 99.0);
    }
    if mn >= 0.0 {
        if let Ok((ir, ic, sp, se)) = stats::skaggs(map, None) {
            r.info_rate = ir;
            r.info_content = ic;
            r.sparsity = sp;
            r.selectivity = se;
        }
        r.border_score = stats::border_score(map, n, 3);
    }
    r
}
