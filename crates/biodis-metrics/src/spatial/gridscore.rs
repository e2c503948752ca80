//! Grid scores of a spatial autocorrelogram (SAC), every variant explicit by name
//! (`shared/reference/neuro-gridcells-anchors.md` §2.3):
//!
//! - **DeepMind** (`google-deepmind/grid-cells` `scores.py`, used by Banino et al. 2018 and
//!   Sorscher et al. 2019): 10 ring masks, inner radius 0.2·N, outer radii linspace(0.4, 1.0, 10)·N
//!   (SAC pixels, `≤` circles, N = map side); the SAC is rotated by 30°…150° with a cubic spline
//!   (scipy `rotate(order=3)`, constant 0, see [`super::rotate`]); on each ring
//!   `c_α = Σ_M (A − μ)(A_α − μ) / (Σ_M (A − μ)² + 1e-5·|M|)` with μ the *unrotated* ring mean;
//!   the score is the maximum over rings of either the **mean form**
//!   `(c60 + c120)/2 − (c30 + c90 + c150)/3` (`grid_score.deepmind_mean`) or the **min–max form**
//!   `min(c60, c120) − max(c30, c90, c150)` (`grid_score.deepmind_minmax`); the 90° (square)
//!   score is `c90 − (c45 + c135)/2`, maximised over rings separately.
//! - **Fixed annulus** (`grid_score.annulus`): the DeepMind computation on one ring 0.2–0.5·N.
//! - **opexebo / BNT expanding radius** (`grid_score.opexebo`): SAC normalised by its max; a
//!   central-field radius `r_c = ⌊√(area/π)⌋`; masks `{d > r_c} ∧ {d < R}` for integer radii
//!   R = max(3, r_c+1)…⌊(2N−1)/2⌋ with 1-based distances to ⌈shape/2⌉; bilinear rotation
//!   (skimage); Pearson correlations; min–max form per radius; the score is the maximum of the
//!   3-radius sliding mean. The central field is the 4-connected region around the centre
//!   with SAC ≥ 0.3·max — a documented stand-in for opexebo's `place_field` search (threshold
//!   0.95 with its own field-growing rules, not ported); any threshold in 0.1–0.3 reproduces
//!   opexebo 0.7.2's reference values to ±0.001 on the reference maps (tests), 0.4 and above
//!   lose the narrow central field of period-4 grids.

use super::rotate::{rotate_bilinear, spline_coefficients};
use super::sac::sac;
use serde::Serialize;

/// Angles at which the DeepMind scorer correlates the SAC with itself.
const ANGLES: [f64; 7] = [30.0, 45.0, 60.0, 90.0, 120.0, 135.0, 150.0];

/// Result of the DeepMind-style scorers.
#[derive(Debug, Clone, Copy, Serialize, PartialEq)]
pub struct GridScore {
    /// 60° score (max over rings).
    pub score_60: f64,
    /// 90° (square) score (max over rings).
    pub score_90: f64,
    /// Ring (inner, outer) in units of N where the 60° score peaked.
    pub best_ring: (f64, f64),
    /// Index of that ring.
    pub best_ring_index: usize,
}

/// The 60° score's form.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Form {
    /// `(c60 + c120)/2 − (c30 + c90 + c150)/3` (DeepMind default).
    Mean,
    /// `min(c60, c120) − max(c30, c90, c150)` (Sargolini 2006).
    MinMax,
}

/// A DeepMind-style scorer for `n × n` maps: precomputed ring masks.
#[derive(Debug, Clone)]
pub struct DeepMindScorer {
    n: usize,
    form: Form,
    rings: Vec<((f64, f64), Vec<usize>)>,
    /// Pixels inside any ring (the only ones rotated).
    union: Vec<usize>,
    /// Position of each SAC pixel in `union` (`usize::MAX` outside).
    slot: Vec<usize>,
    /// Precomputed cubic-spline taps per angle: for each union pixel 16 (coefficient index,
    /// weight) pairs (weight 0 where the sample falls outside the SAC). The sample positions
    /// depend only on the SAC size and the angle, so every map reuses them.
    taps: Vec<Vec<(u32, f64)>>,
    /// When all rings share one inner radius (DeepMind's), the number of union pixels (sorted
    /// by distance from the centre) inside each ring: ring sums are then prefix sums.
    nested: Option<Vec<usize>>,
    /// For union slot `j`, the earlier slot holding its point mirror (rotations of a
    /// point-symmetric SAC are point-symmetric, so half the gathers suffice).
    mirror_of: Vec<Option<usize>>,
}

impl DeepMindScorer {
    /// The DeepMind 10-ring scorer.
    pub fn deepmind(n: usize, form: Form) -> Self {
        let rings: Vec<(f64, f64)> = (0..10).map(|i| (0.2, 0.4 + 0.6 * i as f64 / 9.0)).collect();
        Self::with_rings(n, form, &rings)
    }

    /// One fixed annulus (e.g. 0.2–0.5).
    pub fn annulus(n: usize, inner: f64, outer: f64, form: Form) -> Self {
        Self::with_rings(n, form, &[(inner, outer)])
    }

    /// Arbitrary rings `(inner, outer)` in units of N.
    pub fn with_rings(n: usize, form: Form, rings: &[(f64, f64)]) -> Self {
        let m = 2 * n - 1;
        let h = (m / 2) as f64;
        let dist = |p: usize| -> f64 {
            let (r, c) = ((p / m) as f64 - h, (p % m) as f64 - h);
            (r * r + c * c).sqrt()
        };
        let rings: Vec<((f64, f64), Vec<usize>)> = rings
            .iter()
            .map(|&(a, b)| {
                (
                    (a, b),
                    (0..m * m)
                        .filter(|&p| dist(p) <= b * n as f64 && !(dist(p) <= a * n as f64))
                        .collect(),
                )
            })
            .collect();
        let mut union: Vec<usize> = rings.iter().flat_map(|r| r.1.iter().copied()).collect();
        union.sort_unstable();
        union.dedup();
        // order the union by distance (ties by index) so nested rings are prefixes
        union.sort_by(|&p, &q| dist(p).total_cmp(&dist(q)).then(p.cmp(&q)));
        let same_inner = rings.windows(2).all(|w| w[0].0 .0 == w[1].0 .0);
        let nested = if same_inner {
            let counts: Vec<usize> = rings.iter().map(|r| r.1.len()).collect();
            // verify each ring is exactly the first `count` union pixels
            let ok = rings.iter().all(|r| {
                let mut a: Vec<usize> = union[..r.1.len()].to_vec();
                a.sort_unstable();
                let mut b = r.1.clone();
                b.sort_unstable();
                a == b
            });
            if ok {
                Some(counts)
            } else {
                None
            }
        } else {
            None
        };
        let mut slot = vec![usize::MAX; m * m];
        for (k, &p) in union.iter().enumerate() {
            slot[p] = k;
        }
        let taps = ANGLES
            .iter()
            .map(|&a| super::rotate::cubic_taps(m, a, &union))
            .collect();
        let mirror_of = union
            .iter()
            .enumerate()
            .map(|(j, &p)| {
                let q = m * m - 1 - p;
                let k = slot[q];
                if k != usize::MAX && k < j {
                    Some(k)
                } else {
                    None
                }
            })
            .collect();
        DeepMindScorer {
            n,
            form,
            rings,
            union,
            slot,
            taps,
            nested,
            mirror_of,
        }
    }

    /// `c_α` for the 7 angles (30, 45, 60, 90, 120, 135, 150) on every ring.
    pub fn ring_correlations(&self, s: &[f64]) -> Vec<[f64; 7]> {
        let m = 2 * self.n - 1;
        let coef = spline_coefficients(s, m);
        let u = self.union.len();
        let mut rot = vec![0.0; 7 * u];
        for (k, taps) in self.taps.iter().enumerate() {
            for (j, t) in taps.chunks_exact(16).enumerate() {
                rot[k * u + j] = match self.mirror_of[j] {
                    Some(src) => rot[k * u + src],
                    None => t.iter().map(|&(i, w)| w * coef[i as usize]).sum(),
                };
            }
        }
        if let Some(counts) = &self.nested {
            // prefix sums over the distance-sorted union
            let sv: Vec<f64> = self.union.iter().map(|&p| s[p]).collect();
            let mut out = Vec::with_capacity(counts.len());
            let (mut ss, mut sss) = (0.0, 0.0);
            let mut sr = [0.0f64; 7];
            let mut ssr = [0.0f64; 7];
            let mut at = 0;
            for &cnt in counts {
                while at < cnt {
                    let v = sv[at];
                    ss += v;
                    sss += v * v;
                    for k in 0..7 {
                        let r = rot[k * u + at];
                        sr[k] += r;
                        ssr[k] += v * r;
                    }
                    at += 1;
                }
                let area = cnt as f64;
                let mut c = [f64::NAN; 7];
                if cnt > 0 {
                    let mean = ss / area;
                    let var = (sss - 2.0 * mean * ss + area * mean * mean) / area + 1e-5;
                    for k in 0..7 {
                        let cross = ssr[k] - mean * sr[k] - mean * ss + area * mean * mean;
                        c[k] = cross / area / var;
                    }
                }
                out.push(c);
            }
            return out;
        }
        self.rings
            .iter()
            .map(|(_, mask)| {
                let area = mask.len() as f64;
                let mut c = [f64::NAN; 7];
                if area == 0.0 {
                    return c;
                }
                let mean = mask.iter().map(|&p| s[p]).sum::<f64>() / area;
                let var = mask.iter().map(|&p| (s[p] - mean).powi(2)).sum::<f64>() / area + 1e-5;
                for (k, ck) in c.iter_mut().enumerate() {
                    let r = &rot[k * u..(k + 1) * u];
                    *ck = mask
                        .iter()
                        .map(|&p| (s[p] - mean) * (r[self.slot[p]] - mean))
                        .sum::<f64>()
                        / area
                        / var;
                }
                c
            })
            .collect()
    }

    /// Mean-form and min–max-form results from one set of ring correlations.
    pub fn score_sac_both(&self, s: &[f64]) -> (GridScore, GridScore) {
        let cs = self.ring_correlations(s);
        (self.pick(&cs, Form::Mean), self.pick(&cs, Form::MinMax))
    }

    fn pick(&self, cs: &[[f64; 7]], form: Form) -> GridScore {
        let mut best60 = (f64::NEG_INFINITY, 0usize);
        let mut best90 = f64::NEG_INFINITY;
        for (ri, c) in cs.iter().enumerate() {
            // ANGLES: 30, 45, 60, 90, 120, 135, 150
            let g60 = match form {
                Form::Mean => (c[2] + c[4]) / 2.0 - (c[0] + c[3] + c[6]) / 3.0,
                Form::MinMax => c[2].min(c[4]) - c[0].max(c[3]).max(c[6]),
            };
            let g90 = c[3] - (c[1] + c[5]) / 2.0;
            if g60 > best60.0 {
                best60 = (g60, ri);
            }
            if g90 > best90 {
                best90 = g90;
            }
        }
        GridScore {
            score_60: best60.0,
            score_90: best90,
            best_ring: self.rings[best60.1].0,
            best_ring_index: best60.1,
        }
    }

    /// Scores an `n × n` map (computes its SAC first; `NaN` bins are unvisited).
    pub fn score_map(&self, map: &[f64]) -> GridScore {
        let s = sac(map, self.n, 1);
        self.score_sac(&s)
    }

    /// Scores a `(2n−1)²` SAC with this scorer's form.
    pub fn score_sac(&self, s: &[f64]) -> GridScore {
        let cs = self.ring_correlations(s);
        self.pick(&cs, self.form)
    }
}

fn pearson(a: &[f64], b: &[f64]) -> f64 {
    let n = a.len() as f64;
    let (ma, mb) = (a.iter().sum::<f64>() / n, b.iter().sum::<f64>() / n);
    let (mut sab, mut saa, mut sbb) = (0.0, 0.0, 0.0);
    for (x, y) in a.iter().zip(b) {
        sab += (x - ma) * (y - mb);
        saa += (x - ma) * (x - ma);
        sbb += (y - mb) * (y - mb);
    }
    if saa <= 0.0 || sbb <= 0.0 {
        return f64::NAN;
    }
    sab / (saa * sbb).sqrt()
}

/// Central-field radius `⌊√(area/π)⌋` of the 4-connected region around the SAC centre with
/// value ≥ `frac` × max (0 if the centre itself is below it).
pub fn central_field_radius(s: &[f64], m: usize, frac: f64) -> usize {
    let mx = s.iter().cloned().fold(f64::NEG_INFINITY, f64::max);
    let thr = frac * mx;
    let c = (m / 2) * m + m / 2;
    if s[c] < thr {
        return 0;
    }
    let mut seen = vec![false; m * m];
    let mut stack = vec![c];
    seen[c] = true;
    let mut area = 0usize;
    while let Some(p) = stack.pop() {
        area += 1;
        let (r, col) = (p / m, p % m);
        let nb = [
            (r.wrapping_sub(1), col),
            (r + 1, col),
            (r, col.wrapping_sub(1)),
            (r, col + 1),
        ];
        for (rr, cc) in nb {
            if rr < m && cc < m {
                let q = rr * m + cc;
                if !seen[q] && s[q] >= thr {
                    seen[q] = true;
                    stack.push(q);
                }
            }
        }
    }
    ((area as f64 / std::f64::consts::PI).sqrt()).floor() as usize
}

/// Why [`grid_score_opexebo`] has no score for a map.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum OpexeboError {
    /// The autocorrelogram's maximum is not positive (a constant or empty map).
    #[error("autocorrelogram has no positive peak")]
    NoPeak,
    /// No region around the centre exceeds the central-field threshold.
    #[error("no central field")]
    NoCentralField,
    /// The central field reaches past the autocorrelogram's edge.
    #[error("central field larger than the autocorrelogram")]
    CentralFieldTooLarge,
    /// No ring between the central field and the edge.
    #[error("no radius to score")]
    NoRadius,
    /// Every ring's rotational correlations are undefined (NaN).
    #[error("all correlations undefined")]
    Undefined,
}

/// The opexebo / BNT expanding-radius grid score of an `n × n` map; an [`OpexeboError`] says
/// why there is none (no central field, no valid radius, …).
pub fn grid_score_opexebo(map: &[f64], n: usize) -> Result<f64, OpexeboError> {
    grid_score_opexebo_with(map, n, CENTRAL_FIELD_THRESHOLD)
}

/// Threshold (fraction of the SAC maximum) of the central-field region; see the module docs.
pub const CENTRAL_FIELD_THRESHOLD: f64 = 0.3;

/// [`grid_score_opexebo`] with an explicit central-field threshold.
pub fn grid_score_opexebo_with(
    map: &[f64],
    n: usize,
    central_frac: f64,
) -> Result<f64, OpexeboError> {
    let m = 2 * n - 1;
    let mut s = sac(map, n, 1);
    let mx = s.iter().cloned().fold(f64::NEG_INFINITY, f64::max);
    if !(mx > 0.0) {
        return Err(OpexeboError::NoPeak);
    }
    s.iter_mut().for_each(|v| *v /= mx);
    let rc = central_field_radius(&s, m, central_frac);
    if rc == 0 {
        return Err(OpexeboError::NoCentralField);
    }
    let half = (m as f64 / 2.0).ceil();
    let outer = m / 2;
    if outer < rc {
        return Err(OpexeboError::CentralFieldTooLarge);
    }
    let lo = 3.max(rc + 1);
    let nsteps = outer - rc;
    // np.linspace(lo, outer, outer − rc).astype(int)
    let radii: Vec<usize> = (0..nsteps)
        .map(|i| {
            if nsteps == 1 {
                lo as f64
            } else {
                lo as f64 + (outer as f64 - lo as f64) * i as f64 / (nsteps - 1) as f64
            }
        })
        .map(|v| v as usize)
        .collect();
    if radii.is_empty() {
        return Err(OpexeboError::NoRadius);
    }
    let rots: Vec<Vec<f64>> = [30.0, 60.0, 90.0, 120.0, 150.0]
        .iter()
        .map(|&a| rotate_bilinear(&s, m, a))
        .collect();
    let dist: Vec<f64> = (0..m * m)
        .map(|p| {
            let (r, c) = ((p / m) as f64 + 1.0, (p % m) as f64 + 1.0);
            ((c - half).powi(2) + (r - half).powi(2)).sqrt()
        })
        .collect();
    let mut gns = Vec::new();
    for &rad in &radii {
        let idx: Vec<usize> = (0..m * m)
            .filter(|&p| dist[p] > rc as f64 && dist[p] < rad as f64)
            .collect();
        let a: Vec<f64> = idx.iter().map(|&p| s[p]).collect();
        let c: Vec<f64> = rots
            .iter()
            .map(|r| pearson(&a, &idx.iter().map(|&p| r[p]).collect::<Vec<_>>()))
            .collect();
        gns.push(c[1].min(c[3]) - c[0].max(c[2]).max(c[4]));
    }
    let k = 3;
    let nstep = radii.len().saturating_sub(k).max(1);
    if nstep == 1 {
        let f: Vec<f64> = gns.iter().copied().filter(|v| v.is_finite()).collect();
        return if f.is_empty() {
            Err(OpexeboError::Undefined)
        } else {
            Ok(f.iter().sum::<f64>() / f.len() as f64)
        };
    }
    let mut best = f64::NEG_INFINITY;
    for i in 0..nstep {
        let w: Vec<f64> = gns[i..(i + k).min(gns.len())]
            .iter()
            .copied()
            .filter(|v| v.is_finite())
            .collect();
        if !w.is_empty() {
            best = best.max(w.iter().sum::<f64>() / w.len() as f64);
        }
    }
    if best.is_finite() {
        Ok(best)
    } else {
        Err(OpexeboError::Undefined)
    }
}

/// Grid spacing (bins) and orientation (degrees, in [0, 60)) from the six SAC peaks nearest the
/// centre (local maxima above 0.1 outside the central field), as opexebo's `grid_score_stats`
/// without the ellipse fit. `None` if fewer than 6 peaks.
pub fn spacing_orientation(s: &[f64], n: usize) -> Option<(f64, f64)> {
    let m = 2 * n - 1;
    let c = (m / 2) as isize;
    let rc = central_field_radius(s, m, CENTRAL_FIELD_THRESHOLD) as f64;
    let mut peaks: Vec<(f64, f64, f64)> = Vec::new(); // (dist, angle, value)
    for r in 1..m - 1 {
        for col in 1..m - 1 {
            let v = s[r * m + col];
            if v < 0.1 {
                continue;
            }
            let mut is_max = true;
            for dr in -1isize..=1 {
                for dc in -1isize..=1 {
                    if (dr, dc) != (0, 0)
                        && s[(r as isize + dr) as usize * m + (col as isize + dc) as usize] > v
                    {
                        is_max = false;
                    }
                }
            }
            let (y, x) = (r as isize - c, col as isize - c);
            let d = ((y * y + x * x) as f64).sqrt();
            if is_max && d > 1.5 * rc.max(1.0) {
                peaks.push((d, (y as f64).atan2(x as f64).to_degrees(), v));
            }
        }
    }
    peaks.sort_by(|a, b| a.0.total_cmp(&b.0));
    if peaks.len() < 6 {
        return None;
    }
    let six = &peaks[..6];
    let spacing = six.iter().map(|p| p.0).sum::<f64>() / 6.0;
    // orientation: circular mean of 6·angle, divided by 6 → in [0, 60)
    let (sx, sy) = six.iter().fold((0.0, 0.0), |(a, b), p| {
        (
            a + (6.0 * p.1.to_radians()).cos(),
            b + (6.0 * p.1.to_radians()).sin(),
        )
    });
    let o = (sy.atan2(sx).to_degrees() / 6.0).rem_euclid(60.0);
    Some((spacing, o))
}
