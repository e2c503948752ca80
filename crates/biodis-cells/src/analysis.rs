//! Analyses of a trained grid-world model (Figs 6G–J, 7C, 14), built on `biodis-metrics`'
//! spatial library. Definitions (`shared/reference/neuro-gridcells-anchors.md` §2.4, §2.7–2.8):
//!
//! - **ratemap** of cell `i` in world `w`: `z_i(x)` over the `size × size` lattice (the model
//!   has no trajectories, so the map is the representation itself);
//! - **active** cell: its ratemap varies (max − min > 1e-6) in at least one evaluation world;
//!   silent cells get NaN scores and are excluded from every summary;
//! - **stability** (Fig 6G/I): mean Pearson correlation of the cell's ratemaps over all pairs of
//!   evaluation worlds (one world without objects plus `eval_worlds` with objects);
//! - **grid score** (Fig 6H): DeepMind's min–max 60° score of the SAC of the cell's map in the
//!   world without objects, with the best of 10 rings, and a per-cell bin-permutation null
//!   (95th/99th percentiles);
//! - **object-centred consistency** (Fig 6H): correlation between the cell's object-centred maps
//!   (`(2k+1)²` window, mean over objects) from the two halves of the object worlds, leaving out
//!   the object's own bin (`object_centred_consistency_around`);
//! - **module cosine distance** (Fig 6J): `1 − cos(u, v)` with `u_i = Σ_x |W_l[x, i]|` and
//!   `v_i = |W_o[i]|` (and the same with the action readout `W_t`);
//! - **patch correlation** (Fig 7C): per cell, the mean pairwise correlation of `(2k+1)²` patches
//!   centred on the objects of a world (unclipped patches only), averaged over worlds with ≥ 2
//!   objects, then over active cells; the baseline is the same statistic at random locations
//!   drawn with the objects' spacing rule (a world's object layout from an independent stream);
//! - **matched grid null**: each map's smoothness as the σ of a Gaussian-smoothed white-noise
//!   field with the same lag-1 autocorrelation ([`smoothness_sigma`]); grid scores of such
//!   smooth random fields give the cell's p95/p99 (the bin-permutation null is far too lenient
//!   for smooth maps: p95 ≈ 0.25 vs ≈ 0.6);
//! - **OVC call**: the mean object-centred map peaks ≥ 2 bins from the object
//!   ([`peak_offset`]) and [`ovc_consistency`] (object-centred consistency outside the object's
//!   3×3 neighbourhood) exceeds the 95th percentile of the same statistic with every world's objects
//!   moved to uniformly random bins (same count per world);
//! - **bimodality coefficient** (Sarle's, SAS): `b = (g² + 1) / (κ + 3(n−1)²/((n−2)(n−3)))` of the
//!   stability values, `g` skewness and `κ` excess kurtosis (sample-size corrected); `b > 5/9`
//!   (the value of a uniform distribution) suggests bimodality.

use biodis_data::gridworld::{World, WorldSpec};
use biodis_data::streams;
use biodis_metrics::spatial::null::{null_scores, null_scores_60_90, percentiles, Null};
use biodis_metrics::spatial::stats::{
    map_correlation, mean_pairwise_correlation, module_cosine_distance,
    object_centred_consistency_around, object_centred_map, patch_correlation,
};
use biodis_metrics::spatial::{
    dominant_wavelength, grid_cell_call, sac, spacing_orientation, DeepMindScorer, Form,
    GridCellCriterion, NullLevel, NullPercentiles,
};
use biodis_metrics::special::SplitMix64;
use serde::{Deserialize, Serialize};

/// Per-cell results.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct CellStats {
    pub active: bool,
    #[serde(with = "biodis_rundir::nan::scalar")]
    pub mean_activity: f64,
    #[serde(with = "biodis_rundir::nan::scalar")]
    pub stability: f64,
    #[serde(with = "biodis_rundir::nan::scalar")]
    pub grid_score: f64,
    #[serde(with = "biodis_rundir::nan::scalar")]
    pub grid_null_p95: f64,
    #[serde(with = "biodis_rundir::nan::scalar")]
    pub grid_null_p99: f64,
    #[serde(with = "biodis_rundir::nan::scalar")]
    pub object_consistency: f64,
    /// [`ovc_consistency`]: split-half consistency of the object-centred map outside the
    /// object's 3×3 neighbourhood (a field at a fixed offset ≥ 2 bins from the objects).
    #[serde(default = "nan", with = "biodis_rundir::nan::scalar")]
    pub ovc_consistency: f64,
    /// 95th percentile of `ovc_consistency` with each world's objects moved to uniformly
    /// random locations (same count per world): the OVC null.
    #[serde(default = "nan", with = "biodis_rundir::nan::scalar")]
    pub ovc_null_p95: f64,
    /// Chebyshev offset (bins) of the peak of the mean object-centred map from the object.
    #[serde(default = "nan", with = "biodis_rundir::nan::scalar")]
    pub ovc_peak_offset: f64,
    /// [`ovc_field_prominence`] of the mean object-centred map: the largest bin at offset
    /// `2 ..= k − 1` from the object in s.d. above the map outside the object's 3×3
    /// neighbourhood (whether the map has a *field*, not only a consistent shape).
    #[serde(default = "nan", with = "biodis_rundir::nan::scalar")]
    pub ovc_field_prominence: f64,
    /// 95th percentile of `ovc_field_prominence` with the objects moved, as `ovc_null_p95`.
    #[serde(default = "nan", with = "biodis_rundir::nan::scalar")]
    pub ovc_field_null_p95: f64,
    /// Fraction of the object-free map's bins where the cell fires (rate > 0): a ReLU code's
    /// duty cycle (stripes sit near 0.5, a lattice of spots well below it).
    #[serde(default = "nan", with = "biodis_rundir::nan::scalar")]
    pub active_bins: f64,
    /// Smoothness of the map in the world without objects, as the σ (bins) of a Gaussian-
    /// smoothed white-noise field with the same lag-1 autocorrelation ([`smoothness_sigma`]).
    #[serde(default = "nan", with = "biodis_rundir::nan::scalar")]
    pub smooth_sigma: f64,
    /// 95th / 99th percentiles of the grid score of smooth random fields with that σ (the
    /// matched null).
    #[serde(default = "nan", with = "biodis_rundir::nan::scalar")]
    pub grid_smooth_p95: f64,
    #[serde(default = "nan", with = "biodis_rundir::nan::scalar")]
    pub grid_smooth_p99: f64,
    /// The 90° (square-lattice) score `c90 − (c45 + c135)/2` of the object-free map's SAC (the
    /// same DeepMind rings, maximised separately), and its 95th / 99th percentiles over the same
    /// smooth random fields as `grid_smooth_p95`: a lattice with four-fold rather than six-fold
    /// symmetry is called here, not as a grid cell.
    #[serde(default = "nan", with = "biodis_rundir::nan::scalar")]
    pub square_score: f64,
    #[serde(default = "nan", with = "biodis_rundir::nan::scalar")]
    pub square_smooth_p95: f64,
    #[serde(default = "nan", with = "biodis_rundir::nan::scalar")]
    pub square_smooth_p99: f64,
    /// Wavelength (bins) of the strongest plane wave in the object-free map
    /// ([`biodis_metrics::spatial::dominant_wavelength`]; a hexagonal grid of field spacing `s`
    /// has `s·√3/2`).
    #[serde(default = "nan", with = "biodis_rundir::nan::scalar")]
    pub wavelength: f64,
    /// Field spacing (bins) and orientation (degrees in `[0, 60)`) from the six SAC peaks
    /// nearest the centre ([`biodis_metrics::spatial::spacing_orientation`]); NaN with fewer
    /// than six peaks.
    #[serde(default = "nan", with = "biodis_rundir::nan::scalar")]
    pub grid_spacing: f64,
    #[serde(default = "nan", with = "biodis_rundir::nan::scalar")]
    pub grid_orientation: f64,
    #[serde(with = "biodis_rundir::nan::scalar")]
    pub patch_correlation: f64,
    /// `Σ_x |W_l[x, i]|` and `|W_o[i]|`, `Σ_a |W_t[a, i]|`.
    #[serde(with = "biodis_rundir::nan::scalar")]
    pub loc_weight: f64,
    #[serde(with = "biodis_rundir::nan::scalar")]
    pub obj_weight: f64,
    #[serde(with = "biodis_rundir::nan::scalar")]
    pub act_weight: f64,
}

/// Whole-population results of one evaluation.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct PopulationStats {
    pub n_active: usize,
    #[serde(with = "biodis_rundir::nan::scalar")]
    pub cosine_loc_obj: f64,
    #[serde(with = "biodis_rundir::nan::scalar")]
    pub cosine_loc_act: f64,
    /// Mean patch correlation over active cells, around objects and at random locations.
    #[serde(with = "biodis_rundir::nan::scalar")]
    pub patch_corr_objects: f64,
    #[serde(with = "biodis_rundir::nan::scalar")]
    pub patch_corr_random: f64,
    #[serde(with = "biodis_rundir::nan::scalar")]
    pub stability_mean: f64,
    #[serde(with = "biodis_rundir::nan::scalar")]
    pub bimodality: f64,
    /// Active cells whose grid score exceeds their own null's 95th percentile.
    #[serde(with = "biodis_rundir::nan::scalar")]
    pub frac_grid_above_p95: f64,
    /// Active cells whose grid score exceeds the 95th / 99th percentile of their matched
    /// smooth-field null (chance: 0.05 / 0.01).
    #[serde(default = "nan", with = "biodis_rundir::nan::scalar")]
    pub frac_grid_above_smooth_p95: f64,
    #[serde(default = "nan", with = "biodis_rundir::nan::scalar")]
    pub frac_grid_above_smooth_p99: f64,
    /// Active cells whose 90° (square) score exceeds the 95th / 99th percentile of the same
    /// smooth fields' 90° scores (chance: 0.05 / 0.01): square lattices, reported beside the
    /// hexagonal call.
    #[serde(default = "nan", with = "biodis_rundir::nan::scalar")]
    pub frac_square_above_smooth_p95: f64,
    #[serde(default = "nan", with = "biodis_rundir::nan::scalar")]
    pub frac_square_above_smooth_p99: f64,
    /// Active cells whose object-centred map peaks at an offset ≥ 2 bins from the object and
    /// whose `ovc_consistency` exceeds their OVC null's 95th percentile: the consistency-only
    /// call of sessions before 16, which also passes a wide, consistent dip at the object with a
    /// flat surround. Kept so that older runs read the same; the OVC call is `frac_ovc_field`.
    #[serde(default = "nan", with = "biodis_rundir::nan::scalar")]
    pub frac_ovc: f64,
    /// The OVC call (chance ≤ 0.05): the `frac_ovc` call, and the peak of the mean
    /// object-centred map lies inside the window (offset `2 ..= k − 1`, not on its outer ring,
    /// so that the field is sampled on every side), and its [`ovc_field_prominence`] exceeds the
    /// 95th percentile of the same prominence with the objects moved (`ovc_field_null_p95`).
    /// NaN in runs written before the field criterion existed, and without shuffles.
    #[serde(default = "nan", with = "biodis_rundir::nan::scalar")]
    pub frac_ovc_field: f64,
    /// Median over active cells of `active_bins`, the fraction of the object-free map where
    /// the cell fires.
    #[serde(default = "nan", with = "biodis_rundir::nan::scalar")]
    pub active_bins_median: f64,
    /// Median over active cells of the object-free map's dominant wavelength (bins).
    #[serde(default = "nan", with = "biodis_rundir::nan::scalar")]
    pub wavelength_median: f64,
    /// Median field spacing (bins) of the cells called grid cells against the smooth-field
    /// null's 95th percentile that have six SAC peaks; NaN when there are none.
    #[serde(default = "nan", with = "biodis_rundir::nan::scalar")]
    pub grid_spacing_median: f64,
}

fn nan() -> f64 {
    f64::NAN
}

/// The σ (bins) of a Gaussian-smoothed white-noise field whose lag-1 autocorrelation equals the
/// map's (`n × n`, row-major). Such a field has correlation `exp(−d²/4σ²)` at lag `d`, so
/// `σ = (−4 ln ρ₁)^{−1/2}`, with `ρ₁` the correlation of horizontally and vertically adjacent
/// bins (mean removed; pairs inside the map). `ρ₁ ≤ 0` gives 0 (white noise); σ is capped at
/// `n / 4`. NaN for a constant map.
pub fn smoothness_sigma(map: &[f64], n: usize) -> f64 {
    let m = map.iter().sum::<f64>() / map.len() as f64;
    let var: f64 = map.iter().map(|v| (v - m).powi(2)).sum::<f64>() / map.len() as f64;
    if var <= 0.0 {
        return f64::NAN;
    }
    let (mut c, mut k) = (0.0, 0usize);
    for r in 0..n {
        for col in 0..n {
            let v = map[r * n + col] - m;
            if col + 1 < n {
                c += v * (map[r * n + col + 1] - m);
                k += 1;
            }
            if r + 1 < n {
                c += v * (map[(r + 1) * n + col] - m);
                k += 1;
            }
        }
    }
    let rho = c / k as f64 / var;
    let cap = n as f64 / 4.0;
    if rho <= 0.0 {
        0.0
    } else if rho >= 1.0 {
        cap
    } else {
        (-1.0 / (4.0 * rho.ln())).sqrt().min(cap)
    }
}

/// Sarle's bimodality coefficient of the finite values (NaN with fewer than 4).
pub fn bimodality_coefficient(v: &[f64]) -> f64 {
    let x: Vec<f64> = v.iter().copied().filter(|a| a.is_finite()).collect();
    let n = x.len() as f64;
    if x.len() < 4 {
        return f64::NAN;
    }
    let m = x.iter().sum::<f64>() / n;
    let m2 = x.iter().map(|a| (a - m).powi(2)).sum::<f64>() / n;
    if m2 <= 0.0 {
        return f64::NAN;
    }
    let m3 = x.iter().map(|a| (a - m).powi(3)).sum::<f64>() / n;
    let m4 = x.iter().map(|a| (a - m).powi(4)).sum::<f64>() / n;
    let g1 = m3 / m2.powf(1.5);
    let g2 = m4 / (m2 * m2) - 3.0;
    // sample-size corrected skewness and excess kurtosis
    let skew = g1 * (n * (n - 1.0)).sqrt() / (n - 2.0);
    let kurt = (n - 1.0) / ((n - 2.0) * (n - 3.0)) * ((n + 1.0) * g2 + 6.0);
    (skew * skew + 1.0) / (kurt + 3.0 * (n - 1.0).powi(2) / ((n - 2.0) * (n - 3.0)))
}

/// `(column, row)` of each object (the spatial library's convention).
pub fn object_xy(world: &World, size: usize) -> Vec<(usize, usize)> {
    world
        .objects
        .iter()
        .map(|&o| (o % size, o / size))
        .collect()
}

/// Ratemap of cell `i` from `z` (`n_l × n_c`).
pub fn ratemap(z: &[f32], nc: usize, i: usize) -> Vec<f64> {
    z.iter().skip(i).step_by(nc).map(|&v| v as f64).collect()
}

/// Inputs of [`analyse`].
pub struct EvalSet<'a> {
    pub world: &'a WorldSpec,
    /// `worlds[0]` has no objects; the rest have objects.
    pub worlds: &'a [World],
    pub zs: &'a [Vec<f32>],
    /// Worlds for the patch correlation (the training world in the entangled task) and their `z`.
    pub patch_worlds: &'a [World],
    pub patch_zs: &'a [Vec<f32>],
    /// Random "object" layouts for the patch-correlation baseline, and the `z` each is read on
    /// (the patch worlds' `z`; in the entangled task, the one training world's `z` every time).
    pub random_layouts: &'a [World],
    pub random_zs: &'a [Vec<f32>],
    pub nc: usize,
    pub object_k: usize,
    pub patch_k: usize,
    pub null_shuffles: usize,
    pub seed: u64,
}

/// Runs every analysis; `w_loc` (`n_l × n_c`), `w_obj` (`n_c`), `w_act` (`4 × n_c`).
pub fn analyse(
    e: &EvalSet,
    w_loc: &[f32],
    w_obj: &[f32],
    w_act: &[f32],
) -> (Vec<CellStats>, PopulationStats) {
    let n = e.world.size;
    let nc = e.nc;
    let scorer = DeepMindScorer::deepmind(n, Form::MinMax);
    let objs: Vec<Vec<(usize, usize)>> = e.worlds[1..].iter().map(|w| object_xy(w, n)).collect();
    let mut cells = Vec::with_capacity(nc);
    for i in 0..nc {
        let maps: Vec<Vec<f64>> = e.zs.iter().map(|z| ratemap(z, nc, i)).collect();
        let varies = |m: &Vec<f64>| {
            let (lo, hi) = m.iter().fold((f64::INFINITY, f64::NEG_INFINITY), |a, &v| {
                (a.0.min(v), a.1.max(v))
            });
            hi - lo > 1e-6
        };
        let active = maps.iter().any(varies);
        let mean_activity =
            maps.iter().flatten().sum::<f64>() / (maps.len() * maps[0].len()) as f64;
        let lw: f64 = (0..e.world.n_locations())
            .map(|x| w_loc[x * nc + i].abs() as f64)
            .sum();
        let aw: f64 = (0..4).map(|a| w_act[a * nc + i].abs() as f64).sum();
        let mut c = CellStats {
            active,
            mean_activity,
            stability: f64::NAN,
            grid_score: f64::NAN,
            grid_null_p95: f64::NAN,
            grid_null_p99: f64::NAN,
            object_consistency: f64::NAN,
            ovc_consistency: f64::NAN,
            ovc_null_p95: f64::NAN,
            ovc_field_prominence: f64::NAN,
            ovc_field_null_p95: f64::NAN,
            ovc_peak_offset: f64::NAN,
            active_bins: f64::NAN,
            smooth_sigma: f64::NAN,
            grid_smooth_p95: f64::NAN,
            grid_smooth_p99: f64::NAN,
            square_score: f64::NAN,
            square_smooth_p95: f64::NAN,
            square_smooth_p99: f64::NAN,
            wavelength: f64::NAN,
            grid_spacing: f64::NAN,
            grid_orientation: f64::NAN,
            patch_correlation: f64::NAN,
            loc_weight: lw,
            obj_weight: w_obj[i].abs() as f64,
            act_weight: aw,
        };
        if active {
            // every active cell, a silent or flat object-free map included (0 or 1)
            c.active_bins =
                maps[0].iter().filter(|&&v| v > 0.0).count() as f64 / maps[0].len() as f64;
            let refs: Vec<&[f64]> = maps.iter().map(|m| m.as_slice()).collect();
            c.stability = mean_pairwise_correlation(&refs);
            if varies(&maps[0]) {
                let s = sac(&maps[0], n, 1);
                let scored = scorer.score_sac(&s);
                c.grid_score = scored.score_60;
                c.square_score = scored.score_90;
                c.wavelength = dominant_wavelength(&maps[0], n);
                if let Some((sp, or)) = spacing_orientation(&s, n) {
                    c.grid_spacing = sp;
                    c.grid_orientation = or;
                }
                if e.null_shuffles > 0 && c.grid_score.is_finite() {
                    let nul = null_scores(
                        &maps[0],
                        n,
                        &scorer,
                        Null::BinPermutation,
                        e.null_shuffles,
                        streams::cells::grid_null(e.seed, i),
                    );
                    if !nul.is_empty() {
                        let (_, p95, p99) = percentiles(&nul);
                        c.grid_null_p95 = p95;
                        c.grid_null_p99 = p99;
                    }
                    c.smooth_sigma = smoothness_sigma(&maps[0], n);
                    let (sm, sq) = null_scores_60_90(
                        &maps[0],
                        n,
                        &scorer,
                        Null::SmoothField(c.smooth_sigma),
                        e.null_shuffles,
                        streams::cells::smooth_null(e.seed, i),
                    );
                    if !sm.is_empty() {
                        let (_, p95, p99) = percentiles(&sm);
                        c.grid_smooth_p95 = p95;
                        c.grid_smooth_p99 = p99;
                    }
                    if !sq.is_empty() {
                        let (_, p95, p99) = percentiles(&sq);
                        c.square_smooth_p95 = p95;
                        c.square_smooth_p99 = p99;
                    }
                }
            }
            // without the object's own bin: every cell whose object weight is non-zero gets the
            // object update at the object itself, so that bin alone would make almost any cell
            // look consistent
            c.object_consistency =
                object_centred_consistency_around(&refs[1..], &objs, n, e.object_k);
            c.ovc_consistency = ovc_consistency(&refs[1..], &objs, n, e.object_k);
            let omap = object_centred_map(&refs[1..], &objs, n, e.object_k);
            c.ovc_peak_offset = peak_offset(&omap, e.object_k);
            c.ovc_field_prominence = ovc_field_prominence(&omap, e.object_k);
            if e.null_shuffles > 0 && c.ovc_consistency.is_finite() {
                // one draw of moved objects per shuffle serves both nulls (the consistency's
                // draws, and so its percentiles, are those of the runs before the field null)
                let mut rng = SplitMix64(streams::cells::ovc_null(e.seed, i));
                let (mut nul, mut pnul) = (Vec::new(), Vec::new());
                for _ in 0..e.null_shuffles {
                    let moved: Vec<Vec<(usize, usize)>> = objs
                        .iter()
                        .map(|o| o.iter().map(|_| (rng.below(n), rng.below(n))).collect())
                        .collect();
                    nul.push(ovc_consistency(&refs[1..], &moved, n, e.object_k));
                    pnul.push(ovc_field_prominence(
                        &object_centred_map(&refs[1..], &moved, n, e.object_k),
                        e.object_k,
                    ));
                }
                nul.retain(|v| v.is_finite());
                pnul.retain(|v| v.is_finite());
                if !nul.is_empty() {
                    c.ovc_null_p95 = percentiles(&nul).1;
                }
                if !pnul.is_empty() {
                    c.ovc_field_null_p95 = percentiles(&pnul).1;
                }
            }
            c.patch_correlation = patch_mean(e.patch_worlds, e.patch_zs, nc, i, n, e.patch_k);
        }
        cells.push(c);
    }
    let active: Vec<&CellStats> = cells.iter().filter(|c| c.active).collect();
    let mean_of = |f: &dyn Fn(&CellStats) -> f64| finite_mean(active.iter().map(|c| f(c)));
    let rand_pc = finite_mean(
        (0..nc)
            .filter(|&i| cells[i].active)
            .map(|i| patch_mean(e.random_layouts, e.random_zs, nc, i, n, e.patch_k)),
    );
    let col = |w: &[f32], rows: usize| -> Vec<Vec<f64>> {
        (0..rows)
            .map(|r| w[r * nc..(r + 1) * nc].iter().map(|&v| v as f64).collect())
            .collect()
    };
    let frac = |sel: &dyn Fn(&CellStats) -> Option<bool>| -> f64 {
        let v: Vec<bool> = active.iter().filter_map(|c| sel(c)).collect();
        if v.is_empty() {
            f64::NAN
        } else {
            v.iter().filter(|&&b| b).count() as f64 / v.len() as f64
        }
    };
    // the grid-cell call against a null (no call for a cell without a score or a null)
    let above = |null: fn(&CellStats) -> NullPercentiles, level: NullLevel| {
        move |c: &CellStats| {
            grid_cell_call(c.grid_score, null(c), &GridCellCriterion::null_only(level))
        }
    };
    let shuffled = |c: &CellStats| NullPercentiles {
        p95: c.grid_null_p95,
        p99: c.grid_null_p99,
    };
    let smooth = |c: &CellStats| NullPercentiles {
        p95: c.grid_smooth_p95,
        p99: c.grid_smooth_p99,
    };
    let frac_grid_above_smooth_p95 = frac(&above(smooth, NullLevel::P95));
    let frac_grid_above_smooth_p99 = frac(&above(smooth, NullLevel::P99));
    let square = |level: NullLevel| {
        move |c: &CellStats| {
            let null = NullPercentiles {
                p95: c.square_smooth_p95,
                p99: c.square_smooth_p99,
            };
            grid_cell_call(c.square_score, null, &GridCellCriterion::null_only(level))
        }
    };
    let frac_square_above_smooth_p95 = frac(&square(NullLevel::P95));
    let frac_square_above_smooth_p99 = frac(&square(NullLevel::P99));
    let frac_ovc = frac(&|c: &CellStats| {
        (c.ovc_consistency.is_finite() && c.ovc_null_p95.is_finite())
            .then_some(c.ovc_consistency > c.ovc_null_p95 && c.ovc_peak_offset >= 2.0)
    });
    // the same denominator as frac_ovc (a cell whose map has no measurable field is not an
    // OVC); NaN when no cell has a field null at all (no shuffles)
    let field_measured = active.iter().any(|c| c.ovc_field_null_p95.is_finite());
    let frac_ovc_field = if field_measured {
        frac(&|c: &CellStats| {
            let ev = ovc_evidence(c);
            ev.is_judged().then_some(ev.called(e.object_k))
        })
    } else {
        f64::NAN
    };
    let call95 = above(smooth, NullLevel::P95);
    let grid_spacing_median = finite_median(
        active
            .iter()
            .filter(|c| call95(c) == Some(true))
            .map(|c| c.grid_spacing),
    );
    let pop = PopulationStats {
        wavelength_median: finite_median(active.iter().map(|c| c.wavelength)),
        active_bins_median: finite_median(active.iter().map(|c| c.active_bins)),
        grid_spacing_median,
        frac_grid_above_smooth_p95,
        frac_grid_above_smooth_p99,
        frac_square_above_smooth_p95,
        frac_square_above_smooth_p99,
        frac_ovc,
        frac_ovc_field,
        n_active: active.len(),
        cosine_loc_obj: module_cosine_distance(&col(w_loc, e.world.n_locations()), &col(w_obj, 1)),
        cosine_loc_act: module_cosine_distance(&col(w_loc, e.world.n_locations()), &col(w_act, 4)),
        patch_corr_objects: mean_of(&|c| c.patch_correlation),
        patch_corr_random: rand_pc,
        stability_mean: mean_of(&|c| c.stability),
        bimodality: bimodality_coefficient(&active.iter().map(|c| c.stability).collect::<Vec<_>>()),
        frac_grid_above_p95: frac(&above(shuffled, NullLevel::P95)),
    };
    (cells, pop)
}

/// Split-half consistency of a cell's object-centred maps (`(2k+1)²` window, means over the
/// first and second halves of `maps`) with the object's 3×3 neighbourhood (Chebyshev offset ≤ 1)
/// left out: whether the cell has a field at a fixed offset of ≥ 2 bins from the objects — an
/// object-*vector* response, not the bump the object update puts at every object. NaN with
/// fewer than two worlds.
pub fn ovc_consistency(
    maps: &[&[f64]],
    objects: &[Vec<(usize, usize)>],
    n: usize,
    k: usize,
) -> f64 {
    let h = maps.len() / 2;
    if h == 0 || k < 2 {
        return f64::NAN;
    }
    let mut a = object_centred_map(&maps[..h], &objects[..h], n, k);
    let mut b = object_centred_map(&maps[h..], &objects[h..], n, k);
    let w = 2 * k + 1;
    for dy in k - 1..=k + 1 {
        for dx in k - 1..=k + 1 {
            a[dy * w + dx] = f64::NAN;
            b[dy * w + dx] = f64::NAN;
        }
    }
    map_correlation(&a, &b)
}

/// The OVC call on one cell's statistics, all finite ([`PopulationStats::frac_ovc_field`]): a
/// consistent object-centred map (`ovc_consistency` above its moved-object null's p95) whose
/// peak lies at offset `2 ..= k − 1` from the object and stands out as a field
/// (`ovc_field_prominence` above its moved-object null's p95).
/// A NaN anywhere (no field inside the ring, a flat map) is not a call.
pub fn ovc_field_call(c: &CellStats, k: usize) -> bool {
    ovc_evidence(c).called(k)
}

/// One cell's OVC statistics as the evidence the field call is made from.
pub fn ovc_evidence(c: &CellStats) -> biodis_metrics::spatial::OvcFieldEvidence {
    biodis_metrics::spatial::OvcFieldEvidence {
        consistency: c.ovc_consistency,
        consistency_null_p95: c.ovc_null_p95,
        peak_offset: c.ovc_peak_offset,
        prominence: c.ovc_field_prominence,
        prominence_null_p95: c.ovc_field_null_p95,
    }
}

/// Prominence of an object-vector field in a mean object-centred map (`(2k+1)²`, row-major,
/// object at the centre): the largest finite bin at Chebyshev offset `2 ..= k − 1` — off the
/// object's 3×3 neighbourhood, where every cell with an object weight has the object update,
/// and off the window's outer ring, where a field cannot be told from a gradient running out of
/// the window — in standard deviations above the mean of all finite bins at offset ≥ 2
/// (population s.d.). A cell with a field at a fixed vector from the objects scores high; a
/// wide dip at the object with a flat surround scores near the maximum of its noise. NaN when
/// `k < 3`, the map is not `(2k+1)²`, fewer than two bins at offset ≥ 2 are finite, none inside
/// the ring is, or those bins are flat.
pub fn ovc_field_prominence(map: &[f64], k: usize) -> f64 {
    let w = 2 * k + 1;
    if k < 3 || map.len() != w * w {
        return f64::NAN;
    }
    let mut ring = Vec::with_capacity(w * w);
    let mut peak: Option<f64> = None;
    for (i, &v) in map.iter().enumerate() {
        let d = ((i / w) as i64 - k as i64)
            .abs()
            .max(((i % w) as i64 - k as i64).abs()) as usize;
        if !v.is_finite() || d < 2 {
            continue;
        }
        ring.push(v);
        if d < k && peak.is_none_or(|p| v > p) {
            peak = Some(v);
        }
    }
    let Some(p) = peak else {
        return f64::NAN;
    };
    if ring.len() < 2 {
        return f64::NAN;
    }
    let mean = ring.iter().sum::<f64>() / ring.len() as f64;
    let sd = (ring.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / ring.len() as f64).sqrt();
    // a flat map (up to rounding) has no field
    let scale = ring.iter().fold(0.0f64, |m, v| m.max(v.abs()));
    if sd <= 1e-12 * scale {
        return f64::NAN;
    }
    (p - mean) / sd
}

/// Chebyshev offset from the centre of the largest finite bin of an object-centred map
/// (`(2k+1)²`); NaN when no bin is finite.
pub fn peak_offset(map: &[f64], k: usize) -> f64 {
    let w = 2 * k + 1;
    let mut best: Option<(f64, usize)> = None;
    for (i, &v) in map.iter().enumerate() {
        if v.is_finite() && best.is_none_or(|(b, _)| v > b) {
            best = Some((v, i));
        }
    }
    best.map_or(f64::NAN, |(_, i)| {
        let (dy, dx) = ((i / w) as i64 - k as i64, (i % w) as i64 - k as i64);
        dy.abs().max(dx.abs()) as f64
    })
}

/// Mean over `worlds` (with ≥ 2 objects) of cell `i`'s patch correlation around their objects.
fn patch_mean(worlds: &[World], zs: &[Vec<f32>], nc: usize, i: usize, n: usize, k: usize) -> f64 {
    finite_mean(
        worlds
            .iter()
            .zip(zs)
            .filter(|(w, _)| w.objects.len() >= 2)
            .map(|(w, z)| patch_correlation(&ratemap(z, nc, i), &object_xy(w, n), n, k)),
    )
}

/// Mean of the finite values (NaN if there is none).
/// Median of the finite values (mean of the middle two for an even count); NaN when none.
fn finite_median(v: impl Iterator<Item = f64>) -> f64 {
    let x: Vec<f64> = v.filter(|x| x.is_finite()).collect();
    biodis_metrics::special::percentile(&x, 50.0)
}

fn finite_mean(v: impl Iterator<Item = f64>) -> f64 {
    let (mut s, mut c) = (0.0, 0usize);
    for x in v.filter(|x| x.is_finite()) {
        s += x;
        c += 1;
    }
    if c == 0 {
        f64::NAN
    } else {
        s / c as f64
    }
}

/// Object-centred map of cell `i` over the object worlds (`(2k+1)²`, row-major).
pub fn object_map(
    worlds: &[World],
    zs: &[Vec<f32>],
    nc: usize,
    i: usize,
    n: usize,
    k: usize,
) -> Vec<f64> {
    let maps: Vec<Vec<f64>> = zs.iter().map(|z| ratemap(z, nc, i)).collect();
    let refs: Vec<&[f64]> = maps.iter().map(|m| m.as_slice()).collect();
    let objs: Vec<Vec<(usize, usize)>> = worlds.iter().map(|w| object_xy(w, n)).collect();
    object_centred_map(&refs, &objs, n, k)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn undefined_statistics_survive_a_json_round_trip() {
        // JSON has no NaN: an undefined statistic (no grid-called cell has a spacing, a
        // one-cell bimodality) is written as null and must read back as NaN, not fail
        let pop = PopulationStats {
            n_active: 3,
            cosine_loc_obj: 0.5,
            cosine_loc_act: f64::NAN,
            patch_corr_objects: f64::NAN,
            patch_corr_random: 0.1,
            stability_mean: 0.7,
            bimodality: f64::NAN,
            frac_grid_above_p95: 0.0,
            frac_grid_above_smooth_p95: f64::NAN,
            frac_grid_above_smooth_p99: f64::NAN,
            frac_square_above_smooth_p95: f64::NAN,
            frac_square_above_smooth_p99: 0.0,
            frac_ovc: 0.25,
            frac_ovc_field: f64::NAN,
            wavelength_median: 16.0,
            active_bins_median: f64::NAN,
            grid_spacing_median: f64::NAN,
        };
        let j = serde_json::to_string(&pop).unwrap();
        assert!(j.contains("\"grid_spacing_median\":null"), "{j}");
        let back: PopulationStats = serde_json::from_str(&j).unwrap();
        assert!(back.grid_spacing_median.is_nan() && back.bimodality.is_nan());
        assert_eq!(back.frac_ovc, 0.25);
        assert_eq!(back.wavelength_median, 16.0);
        // fields added later default to NaN in older files
        let old = j.replace(",\"wavelength_median\":16.0", "");
        let back: PopulationStats = serde_json::from_str(&old).unwrap();
        assert!(back.wavelength_median.is_nan());
    }

    #[test]
    fn ovc_consistency_sees_offset_fields_not_object_bumps() {
        let n = 16;
        let mut rng = SplitMix64(5);
        let objs: Vec<Vec<(usize, usize)>> = (0..8)
            .map(|_| vec![(3 + rng.below(6), 3 + rng.below(10))])
            .collect();
        let field = |o: &(usize, usize), dx: i64, noise: &mut SplitMix64| -> Vec<f64> {
            (0..n * n)
                .map(|b| {
                    let (x, y) = ((b % n) as f64, (b / n) as f64);
                    let (cx, cy) = (o.0 as f64 + dx as f64, o.1 as f64);
                    (-((x - cx).powi(2) + (y - cy).powi(2)) / 2.0).exp() + 0.01 * noise.normal()
                })
                .collect()
        };
        let ovc: Vec<Vec<f64>> = objs.iter().map(|o| field(&o[0], 3, &mut rng)).collect();
        let bump: Vec<Vec<f64>> = objs.iter().map(|o| field(&o[0], 0, &mut rng)).collect();
        fn r(m: &[Vec<f64>]) -> Vec<&[f64]> {
            m.iter().map(|v| v.as_slice()).collect()
        }
        let c_ovc = ovc_consistency(&r(&ovc), &objs, n, 4);
        let c_bump = ovc_consistency(&r(&bump), &objs, n, 4);
        assert!(c_ovc > 0.9, "offset field: {c_ovc}");
        assert!(c_bump.is_finite());
        // the bump's tail is consistent too; the peak offset tells the two apart
        let om = |m: &[Vec<f64>]| object_centred_map(&r(m), &objs, n, 4);
        assert_eq!(peak_offset(&om(&ovc), 4), 3.0);
        assert_eq!(peak_offset(&om(&bump), 4), 0.0);
        // moving the objects destroys it
        let moved: Vec<Vec<(usize, usize)>> =
            (0..8).map(|_| vec![(rng.below(n), rng.below(n))]).collect();
        let c_null = ovc_consistency(&r(&ovc), &moved, n, 4);
        assert!(c_null < 0.5, "moved objects: {c_null}");
    }

    #[test]
    fn ovc_field_prominence_calls_a_field_not_a_dip_with_a_flat_surround() {
        let k = 4;
        let w = 2 * k + 1;
        let mut rng = SplitMix64(9);
        let at = |i: usize| ((i % w) as f64 - k as f64, (i / w) as f64 - k as f64);
        // a field 3 bins east of the object, on noise
        let field: Vec<f64> = (0..w * w)
            .map(|i| {
                let (x, y) = at(i);
                (-((x - 3.0).powi(2) + y * y) / 2.0).exp() + 0.02 * rng.normal()
            })
            .collect();
        // a wide dip at the object (σ 2 bins) with a flat, noisy surround: consistent across
        // worlds, but with no field (the fig6-big false positives)
        let dip: Vec<f64> = (0..w * w)
            .map(|i| {
                let (x, y) = at(i);
                1.0 - (-(x * x + y * y) / 8.0).exp() + 0.02 * rng.normal()
            })
            .collect();
        let pf = ovc_field_prominence(&field, k);
        let pd = ovc_field_prominence(&dip, k);
        assert!(pf > 4.0, "field: {pf}");
        assert!(pd < 2.0, "dip: {pd}");
        // a field on the window's outer ring is not measured (cannot be told from a gradient)
        let edge: Vec<f64> = (0..w * w)
            .map(|i| {
                let (x, y) = at(i);
                (-((x - 4.0).powi(2) + y * y) / 0.5).exp()
            })
            .collect();
        let pe = ovc_field_prominence(&edge, k);
        assert!(pe < 1.5 && pe < pf / 3.0, "edge: {pe}");
        // hand-computed: bins at offset >= 2 are 0 except one inside the ring at 1
        let mut one = vec![0.0; w * w];
        one[(k + 2) * w + k] = 1.0;
        let n_ring = w * w - 9;
        let mean = 1.0 / n_ring as f64;
        let sd = (mean * (1.0 - mean)).sqrt();
        assert!((ovc_field_prominence(&one, k) - (1.0 - mean) / sd).abs() < 1e-12);
        // undefined cases
        assert!(ovc_field_prominence(&vec![0.5; w * w], k).is_nan());
        assert!(ovc_field_prominence(&[0.5; 25], 2).is_nan());
        assert!(ovc_field_prominence(&field[..10], k).is_nan());
        // the call needs all four parts
        let mut c: CellStats = serde_json::from_str(
            r#"{"active": true, "mean_activity": 0.1, "stability": null, "grid_score": null,
                "grid_null_p95": null, "grid_null_p99": null, "object_consistency": null,
                "patch_correlation": null, "loc_weight": 1, "obj_weight": 1, "act_weight": 1}"#,
        )
        .unwrap();
        c.ovc_consistency = 0.8;
        c.ovc_null_p95 = 0.3;
        c.ovc_peak_offset = 3.0;
        c.ovc_field_prominence = pf;
        c.ovc_field_null_p95 = 3.0;
        assert!(ovc_field_call(&c, k));
        c.ovc_peak_offset = 4.0;
        assert!(!ovc_field_call(&c, k), "peak on the outer ring");
        c.ovc_peak_offset = 1.0;
        assert!(!ovc_field_call(&c, k), "the object's own bump");
        c.ovc_peak_offset = 3.0;
        c.ovc_field_prominence = pd;
        assert!(!ovc_field_call(&c, k), "no field");
        c.ovc_field_prominence = pf;
        c.ovc_consistency = 0.2;
        assert!(!ovc_field_call(&c, k), "not consistent");
        c.ovc_consistency = 0.8;
        c.ovc_field_prominence = f64::NAN;
        assert!(!ovc_field_call(&c, k), "no measurable field");
    }

    #[test]
    fn smoothness_sigma_recovers_the_sigma_of_smooth_fields() {
        use biodis_metrics::spatial::maps::random_field;
        let n = 32;
        for sigma in [0.8, 1.5, 2.5] {
            let mut rng = SplitMix64(11);
            let est: f64 = (0..30)
                .map(|_| smoothness_sigma(&random_field(n, sigma, &mut rng), n))
                .sum::<f64>()
                / 30.0;
            assert!(
                (est - sigma).abs() < 0.2 * sigma,
                "σ {sigma}: estimated {est}"
            );
        }
        // white noise: ≈ 0; a constant map: NaN
        let mut rng = SplitMix64(3);
        assert!(smoothness_sigma(&random_field(n, 0.0, &mut rng), n) < 0.4);
        assert!(smoothness_sigma(&vec![1.0; n * n], n).is_nan());
    }
    use rand::SeedableRng;

    #[test]
    fn bimodality_of_known_shapes() {
        // two well separated clusters: high; a bell-shaped sample: below 5/9
        let mut two = vec![0.0; 50];
        two.extend(vec![1.0; 50]);
        for (i, v) in two.iter_mut().enumerate() {
            *v += (i % 7) as f64 * 0.01;
        }
        assert!(bimodality_coefficient(&two) > 0.8);
        let bell: Vec<f64> = (0..1000)
            .map(|i| {
                let u = (i as f64 + 0.5) / 1000.0;
                // inverse-CDF-ish of a logistic distribution (bell shaped, heavy-ish tails)
                (u / (1.0 - u)).ln()
            })
            .collect();
        assert!(bimodality_coefficient(&bell) < 5.0 / 9.0);
        assert!(bimodality_coefficient(&[1.0, 1.0, 1.0, 1.0]).is_nan());
    }

    #[test]
    fn analyses_separate_stable_place_codes_from_object_codes() {
        // synthetic population: cell 0 = fixed place field, cell 1 = field at each world's
        // objects, cell 2 silent
        let ws = WorldSpec::default();
        let n = 16;
        let mut worlds = vec![ws.world_with(vec![])];
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(5);
        while worlds.len() < 9 {
            let w = ws.sample(&mut rng);
            if w.objects.len() >= 2 {
                worlds.push(w);
            }
        }
        let nc = 3;
        let zs: Vec<Vec<f32>> = worlds
            .iter()
            .map(|w| {
                let mut z = vec![0f32; 256 * nc];
                for x in 0..256 {
                    let (c, r) = ((x % n) as f64, (x / n) as f64);
                    z[x * nc] = (-((c - 5.0).powi(2) + (r - 9.0).powi(2)) / 8.0).exp() as f32;
                    let mut o = 0.0;
                    for &ob in &w.objects {
                        let (oc, or) = ((ob % n) as f64, (ob / n) as f64);
                        o += (-((c - oc - 1.0).powi(2) + (r - or).powi(2)) / 2.0).exp();
                    }
                    z[x * nc + 1] = o as f32;
                }
                z
            })
            .collect();
        let e = EvalSet {
            world: &ws,
            worlds: &worlds,
            zs: &zs,
            patch_worlds: &worlds[1..],
            patch_zs: &zs[1..],
            random_layouts: &worlds[1..],
            random_zs: &zs[1..],
            nc,
            object_k: 4,
            patch_k: 2,
            null_shuffles: 50,
            seed: 1,
        };
        let w_loc = [1.0f32, 0.0, 0.0].repeat(256);
        let (cells, pop) = analyse(&e, &w_loc, &[0.0, 1.0, 0.0], &[0.0; 12]);
        assert!(cells[0].active && cells[1].active && !cells[2].active);
        assert!(cells[0].stability > 0.99);
        assert!(cells[1].stability < 0.2, "{}", cells[1].stability);
        assert!(cells[1].object_consistency > 0.9);
        assert!(cells[1].patch_correlation > 0.9);
        assert!(cells[0].stability.is_finite() && cells[2].stability.is_nan());
        assert_eq!(pop.n_active, 2);
        // readouts on disjoint cells: cosine distance 1
        assert!((pop.cosine_loc_obj - 1.0).abs() < 1e-12);
    }
}
