//! Ratemap statistics and cross-map analyses (`shared/reference/neuro-gridcells-anchors.md`
//! §2.4–2.8).

/// Pearson correlation over bins valid (finite) in both maps; `NaN` if fewer than 3 such bins
/// or either is constant there.
pub fn map_correlation(a: &[f64], b: &[f64]) -> f64 {
    let pairs: Vec<(f64, f64)> = a
        .iter()
        .zip(b)
        .filter(|(x, y)| x.is_finite() && y.is_finite())
        .map(|(x, y)| (*x, *y))
        .collect();
    if pairs.len() < 3 {
        return f64::NAN;
    }
    let n = pairs.len() as f64;
    let (ma, mb) = (
        pairs.iter().map(|p| p.0).sum::<f64>() / n,
        pairs.iter().map(|p| p.1).sum::<f64>() / n,
    );
    let (mut sab, mut saa, mut sbb) = (0.0, 0.0, 0.0);
    for (x, y) in &pairs {
        sab += (x - ma) * (y - mb);
        saa += (x - ma).powi(2);
        sbb += (y - mb).powi(2);
    }
    if saa <= 1e-300 || sbb <= 1e-300 {
        return f64::NAN;
    }
    sab / (saa * sbb).sqrt()
}

/// Cross-environment stability of one cell: the mean of [`map_correlation`] over all pairs of
/// its maps in different environments (NaN pairs skipped; NaN if none is defined).
pub fn stability(maps: &[&[f64]]) -> f64 {
    mean_pairwise_correlation(maps)
}

/// Mean of [`map_correlation`] over all pairs of `maps` (undefined pairs skipped; NaN if none).
pub fn mean_pairwise_correlation(maps: &[&[f64]]) -> f64 {
    let mut v = Vec::new();
    for i in 0..maps.len() {
        for j in i + 1..maps.len() {
            let r = map_correlation(maps[i], maps[j]);
            if r.is_finite() {
                v.push(r);
            }
        }
    }
    if v.is_empty() {
        f64::NAN
    } else {
        v.iter().sum::<f64>() / v.len() as f64
    }
}

/// Population-vector correlation per bin: Pearson over cells between two stacks
/// (`a[cell][bin]`, `b[cell][bin]`); NaN where undefined.
pub fn population_vector_correlation(a: &[Vec<f64>], b: &[Vec<f64>]) -> Vec<f64> {
    let bins = a.first().map(|m| m.len()).unwrap_or(0);
    (0..bins)
        .map(|k| {
            let x: Vec<f64> = a.iter().map(|m| m[k]).collect();
            let y: Vec<f64> = b.iter().map(|m| m[k]).collect();
            map_correlation(&x, &y)
        })
        .collect()
}

/// Why [`skaggs`] cannot compute its statistics on a map.
#[derive(Debug, Clone, Copy, PartialEq, thiserror::Error)]
pub enum SkaggsError {
    /// Every bin is NaN (unvisited).
    #[error("map has no valid bin")]
    NoValidBin,
    /// A negative rate (Skaggs information is defined for rates ≥ 0).
    #[error("bin {bin} is negative ({value}); Skaggs information needs rates ≥ 0")]
    NegativeRate {
        /// The bin (row-major index).
        bin: usize,
        /// Its value.
        value: f64,
    },
}

/// Skaggs statistics with occupancy probabilities `p` (uniform when `None`): information rate
/// `Σ p λ log₂(λ/λ̄)` (bits per unit time; terms with λ ≤ 0 contribute 0, i.e. pynapple's
/// convention, documented), content = rate/λ̄ (bits per spike), sparsity `(Σpλ)²/Σpλ²`,
/// selectivity `max λ / λ̄`. Requires nonnegative maps: [`SkaggsError::NegativeRate`] names the
/// first negative bin.
pub fn skaggs(map: &[f64], p: Option<&[f64]>) -> Result<(f64, f64, f64, f64), SkaggsError> {
    let idx: Vec<usize> = (0..map.len()).filter(|&i| map[i].is_finite()).collect();
    if idx.is_empty() {
        return Err(SkaggsError::NoValidBin);
    }
    if let Some(&i) = idx.iter().find(|&&i| map[i] < 0.0) {
        return Err(SkaggsError::NegativeRate {
            bin: i,
            value: map[i],
        });
    }
    let w: Vec<f64> = match p {
        Some(p) => idx.iter().map(|&i| p[i]).collect(),
        None => vec![1.0; idx.len()],
    };
    let wt: f64 = w.iter().sum();
    let lam: Vec<f64> = idx.iter().map(|&i| map[i]).collect();
    let mean: f64 = lam.iter().zip(&w).map(|(l, w)| l * w).sum::<f64>() / wt;
    if mean <= 0.0 {
        return Ok((0.0, f64::NAN, f64::NAN, f64::NAN));
    }
    let info: f64 = lam
        .iter()
        .zip(&w)
        .filter(|(l, _)| **l > 0.0)
        .map(|(l, w)| w / wt * l * (l / mean).log2())
        .sum();
    let m2: f64 = lam.iter().zip(&w).map(|(l, w)| w / wt * l * l).sum();
    let mx = lam.iter().cloned().fold(0.0, f64::max);
    Ok((info, info / mean, mean * mean / m2, mx / mean))
}

/// Solstad et al. (2008) border score `(C_M − D_M)/(C_M + D_M)` on an `n × n` map: fields are
/// 4-connected regions with rate > 0.3·peak and at least `min_bins` bins; `C_M` the largest
/// fraction of one wall's bins covered by one field; `D_M` the rate-weighted mean distance of
/// field bins to the nearest wall (Chebyshev-to-wall in bins), normalised by half the side.
/// NaN when the map has no field.
pub fn border_score(map: &[f64], n: usize, min_bins: usize) -> f64 {
    let peak = map
        .iter()
        .cloned()
        .filter(|v| v.is_finite())
        .fold(f64::NEG_INFINITY, f64::max);
    if !(peak > 0.0) {
        return f64::NAN;
    }
    let thr = 0.3 * peak;
    let mut label = vec![0usize; n * n];
    let mut fields: Vec<Vec<usize>> = Vec::new();
    for start in 0..n * n {
        if label[start] != 0 || !(map[start] > thr) {
            continue;
        }
        let id = fields.len() + 1;
        let mut stack = vec![start];
        label[start] = id;
        let mut f = Vec::new();
        while let Some(p) = stack.pop() {
            f.push(p);
            let (r, c) = (p / n, p % n);
            for (rr, cc) in [
                (r.wrapping_sub(1), c),
                (r + 1, c),
                (r, c.wrapping_sub(1)),
                (r, c + 1),
            ] {
                if rr < n && cc < n {
                    let q = rr * n + cc;
                    if label[q] == 0 && map[q] > thr {
                        label[q] = id;
                        stack.push(q);
                    }
                }
            }
        }
        fields.push(f);
    }
    let fields: Vec<Vec<usize>> = fields.into_iter().filter(|f| f.len() >= min_bins).collect();
    if fields.is_empty() {
        return f64::NAN;
    }
    let walls: [Box<dyn Fn(usize, usize) -> bool>; 4] = [
        Box::new(|r, _| r == 0),
        Box::new(move |_, c| c == n - 1),
        Box::new(move |r, _| r == n - 1),
        Box::new(|_, c| c == 0),
    ];
    let mut cm: f64 = 0.0;
    for f in &fields {
        for w in &walls {
            let cov = f.iter().filter(|&&p| w(p / n, p % n)).count() as f64 / n as f64;
            cm = cm.max(cov);
        }
    }
    let (mut num, mut den) = (0.0, 0.0);
    for f in &fields {
        for &p in f {
            let (r, c) = (p / n, p % n);
            let d = r.min(c).min(n - 1 - r).min(n - 1 - c) as f64;
            num += map[p] * d;
            den += map[p];
        }
    }
    let dm = num / den / (n as f64 / 2.0);
    (cm - dm) / (cm + dm)
}

/// Object-centred map of one cell: mean of `map[x_obj + Δ]` over objects (and over the maps
/// given, e.g. worlds), for `Δ` in a `(2k+1)²` window; out-of-bounds positions are skipped;
/// NaN where no object contributed. `objects[w]` are the (column, row) objects of map `w`.
pub fn object_centred_map(
    maps: &[&[f64]],
    objects: &[Vec<(usize, usize)>],
    n: usize,
    k: usize,
) -> Vec<f64> {
    let w = 2 * k + 1;
    let mut s = vec![0.0; w * w];
    let mut c = vec![0usize; w * w];
    for (m, objs) in maps.iter().zip(objects) {
        for &(ox, oy) in objs {
            for dy in -(k as isize)..=(k as isize) {
                for dx in -(k as isize)..=(k as isize) {
                    let (x, y) = (ox as isize + dx, oy as isize + dy);
                    if x < 0 || y < 0 || x >= n as isize || y >= n as isize {
                        continue;
                    }
                    let v = m[(y as usize) * n + x as usize];
                    if v.is_finite() {
                        let i = ((dy + k as isize) as usize) * w + (dx + k as isize) as usize;
                        s[i] += v;
                        c[i] += 1;
                    }
                }
            }
        }
    }
    s.iter()
        .zip(&c)
        .map(|(a, &b)| if b > 0 { a / b as f64 } else { f64::NAN })
        .collect()
}

/// Object-centred consistency: Pearson correlation between the object-centred maps computed on
/// the first and second halves of the worlds (high for object-vector cells).
pub fn object_centred_consistency(
    maps: &[&[f64]],
    objects: &[Vec<(usize, usize)>],
    n: usize,
    k: usize,
) -> f64 {
    split_half_consistency(maps, objects, n, k, false)
}

/// [`object_centred_consistency`] with the object's own bin (Δ = 0) left out: whether the
/// response *around* the object repeats across worlds, not just a response at the object.
pub fn object_centred_consistency_around(
    maps: &[&[f64]],
    objects: &[Vec<(usize, usize)>],
    n: usize,
    k: usize,
) -> f64 {
    split_half_consistency(maps, objects, n, k, true)
}

fn split_half_consistency(
    maps: &[&[f64]],
    objects: &[Vec<(usize, usize)>],
    n: usize,
    k: usize,
    skip_centre: bool,
) -> f64 {
    let h = maps.len() / 2;
    if h == 0 {
        return f64::NAN;
    }
    let mut a = object_centred_map(&maps[..h], &objects[..h], n, k);
    let mut b = object_centred_map(&maps[h..], &objects[h..], n, k);
    if skip_centre {
        let c = k * (2 * k + 1) + k;
        a[c] = f64::NAN;
        b[c] = f64::NAN;
    }
    map_correlation(&a, &b)
}

/// Patch correlation around objects (phase-locking, Fig 7): mean pairwise Pearson correlation
/// of the `(2k+1)²` patches of a map centred on different objects, skipping patches clipped by
/// the border. NaN with fewer than two unclipped patches.
pub fn patch_correlation(map: &[f64], objects: &[(usize, usize)], n: usize, k: usize) -> f64 {
    let patches: Vec<Vec<f64>> = objects
        .iter()
        .filter(|&&(x, y)| x >= k && y >= k && x + k < n && y + k < n)
        .map(|&(x, y)| {
            let mut p = Vec::new();
            for yy in y - k..=y + k {
                for xx in x - k..=x + k {
                    p.push(map[yy * n + xx]);
                }
            }
            p
        })
        .collect();
    let refs: Vec<&[f64]> = patches.iter().map(|p| p.as_slice()).collect();
    mean_pairwise_correlation(&refs)
}

/// Patch correlation that keeps objects near the border: for every pair of objects, the Pearson
/// correlation of the map over the offsets `Δ ∈ [−k, k]²` at which both `o₁ + Δ` and `o₂ + Δ`
/// lie inside the `n × n` map (at least 3), averaged over pairs. Equals [`patch_correlation`]
/// when no patch is clipped. NaN with fewer than two objects or no defined pair.
pub fn patch_correlation_overlap(
    map: &[f64],
    objects: &[(usize, usize)],
    n: usize,
    k: usize,
) -> f64 {
    let inside = |x: isize, y: isize| x >= 0 && y >= 0 && x < n as isize && y < n as isize;
    let k = k as isize;
    let mut rs = Vec::new();
    for i in 0..objects.len() {
        for j in i + 1..objects.len() {
            let (a, b) = (objects[i], objects[j]);
            let (mut pa, mut pb) = (Vec::new(), Vec::new());
            for dy in -k..=k {
                for dx in -k..=k {
                    let (ax, ay) = (a.0 as isize + dx, a.1 as isize + dy);
                    let (bx, by) = (b.0 as isize + dx, b.1 as isize + dy);
                    if inside(ax, ay) && inside(bx, by) {
                        pa.push(map[ay as usize * n + ax as usize]);
                        pb.push(map[by as usize * n + bx as usize]);
                    }
                }
            }
            let r = map_correlation(&pa, &pb);
            if r.is_finite() {
                rs.push(r);
            }
        }
    }
    if rs.is_empty() {
        f64::NAN
    } else {
        rs.iter().sum::<f64>() / rs.len() as f64
    }
}

/// Readout-weight module separation (Fig 6J): with `u_i = Σ_j |W_a[j][i]|` and
/// `v_i = Σ_k |W_b[k][i]|` (columns = cells), `1 − cos(u, v)`. Near 1 when each cell projects
/// to one readout family.
pub fn module_cosine_distance(w_a: &[Vec<f64>], w_b: &[Vec<f64>]) -> f64 {
    let cells = w_a.first().map(|r| r.len()).unwrap_or(0);
    let colsum = |w: &[Vec<f64>], i: usize| w.iter().map(|r| r[i].abs()).sum::<f64>();
    let u: Vec<f64> = (0..cells).map(|i| colsum(w_a, i)).collect();
    let v: Vec<f64> = (0..cells).map(|i| colsum(w_b, i)).collect();
    let dot: f64 = u.iter().zip(&v).map(|(a, b)| a * b).sum();
    let nu = u.iter().map(|a| a * a).sum::<f64>().sqrt();
    let nv = v.iter().map(|a| a * a).sum::<f64>().sqrt();
    if nu == 0.0 || nv == 0.0 {
        return f64::NAN;
    }
    1.0 - dot / (nu * nv)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::spatial::maps::{border_map, hex_map, object_vector_map, place_map};

    #[test]
    fn stability_of_same_and_shifted_maps() {
        let a = hex_map(16, 6.0, 0.0, (0.0, 0.0));
        let b = hex_map(16, 6.0, 0.0, (3.0, 0.0));
        assert!((stability(&[&a, &a, &a]) - 1.0).abs() < 1e-12);
        assert!(stability(&[&a, &b]) < 0.0);
        // constant maps are excluded (NaN), not scored as 0 or 1
        let c = vec![1.0; 256];
        assert!(stability(&[&c, &c]).is_nan());
        // PV correlation of a stack with itself is 1 where defined
        let stack = vec![a.clone(), b.clone(), place_map(16, 4.0, 4.0, 2.0)];
        assert!(population_vector_correlation(&stack, &stack)
            .iter()
            .all(|v| (v - 1.0).abs() < 1e-12));
    }

    #[test]
    fn skaggs_known_values() {
        // one bin active out of four, uniform occupancy: info = log2(4) = 2 bits/spike
        let (rate, content, sparsity, sel) = skaggs(&[4.0, 0.0, 0.0, 0.0], None).unwrap();
        assert!((content - 2.0).abs() < 1e-12 && (rate - 2.0).abs() < 1e-12);
        assert!((sparsity - 0.25).abs() < 1e-12 && (sel - 4.0).abs() < 1e-12);
        let (r, c, s, _) = skaggs(&[1.0; 4], None).unwrap();
        assert!(r.abs() < 1e-12 && c.abs() < 1e-12 && (s - 1.0).abs() < 1e-12);
        let e = skaggs(&[1.0, -0.5], None).unwrap_err();
        assert_eq!(
            e,
            SkaggsError::NegativeRate {
                bin: 1,
                value: -0.5
            }
        );
        assert!(e.to_string().contains("negative"));
    }

    #[test]
    fn border_cells_score_high_place_cells_low() {
        let b = border_score(&border_map(16, 3, 1.5), 16, 3);
        let p = border_score(&place_map(16, 8.0, 8.0, 1.5), 16, 3);
        assert!(b > 0.5 && p < 0.0, "border {b}, place {p}");
        assert!(border_score(&vec![0.0; 256], 16, 3).is_nan());
    }

    #[test]
    fn object_vector_cells_are_consistent_in_object_frame() {
        let n = 16;
        let worlds: Vec<Vec<(usize, usize)>> =
            vec![vec![(4, 4)], vec![(10, 9)], vec![(6, 11)], vec![(11, 4)]];
        let maps: Vec<Vec<f64>> = worlds
            .iter()
            .map(|o| {
                object_vector_map(
                    n,
                    &o.iter()
                        .map(|&(x, y)| (x as f64, y as f64))
                        .collect::<Vec<_>>(),
                    (2.0, 0.0),
                    1.0,
                )
            })
            .collect();
        let refs: Vec<&[f64]> = maps.iter().map(|m| m.as_slice()).collect();
        assert!(object_centred_consistency(&refs, &worlds, n, 3) > 0.9);
        assert!(object_centred_consistency_around(&refs, &worlds, n, 3) > 0.9);
        assert!(stability(&refs) < 0.3, "OVC fields move with objects");
        // a response only at the object itself: consistent with the centre bin, undefined
        // (flat) around it
        let spikes: Vec<Vec<f64>> = worlds
            .iter()
            .map(|o| {
                let mut m = vec![0.0; n * n];
                for &(x, y) in o {
                    m[y * n + x] = 1.0;
                }
                m
            })
            .collect();
        let sr: Vec<&[f64]> = spikes.iter().map(|m| m.as_slice()).collect();
        assert!(object_centred_consistency(&sr, &worlds, n, 3) > 0.99);
        assert!(object_centred_consistency_around(&sr, &worlds, n, 3).is_nan());
        // a grid cell is stable across worlds but not locked to objects
        let g = hex_map(n, 6.0, 0.0, (0.0, 0.0));
        assert!(stability(&[&g, &g]) > 0.99);
        // phase-locking: identical patches around objects -> 1
        let two = object_vector_map(n, &[(4.0, 4.0), (11.0, 10.0)], (0.0, 0.0), 1.0);
        assert!((patch_correlation(&two, &[(4, 4), (11, 10)], n, 3) - 1.0).abs() < 1e-9);
        // the overlap form agrees when nothing is clipped, and still works at the border
        let g2 = hex_map(n, 5.0, 0.3, (1.0, 2.0));
        let objs = [(4, 4), (11, 10), (8, 5)];
        assert!(
            (patch_correlation(&g2, &objs, n, 3) - patch_correlation_overlap(&g2, &objs, n, 3))
                .abs()
                < 1e-12
        );
        let edge = object_vector_map(n, &[(1.0, 1.0), (12.0, 14.0)], (0.0, 0.0), 1.0);
        assert!(patch_correlation(&edge, &[(1, 1), (12, 14)], n, 3).is_nan());
        assert!(patch_correlation_overlap(&edge, &[(1, 1), (12, 14)], n, 3) > 0.99);
    }

    #[test]
    fn module_separation() {
        // cells 0,1 read out by A only, cells 2,3 by B only -> distance 1
        let a = vec![vec![1.0, -2.0, 0.0, 0.0]];
        let b = vec![vec![0.0, 0.0, 3.0, 1.0]];
        assert!((module_cosine_distance(&a, &b) - 1.0).abs() < 1e-12);
        assert!(module_cosine_distance(&a, &a).abs() < 1e-12);
    }
}

/// The evidence for an object-vector field in one cell's object-centred maps, each value
/// measured against objects moved to random places (the moved-object null): the statistics the
/// OVC field call of the grid-world model (§4, Fig 6F) is made from.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct OvcFieldEvidence {
    /// Split-half consistency of the object-centred map outside the object's 3×3 neighbourhood.
    pub consistency: f64,
    /// 95th percentile of `consistency` with the objects moved.
    pub consistency_null_p95: f64,
    /// Chebyshev offset (bins) of the map's peak from the object.
    pub peak_offset: f64,
    /// The peak's prominence (s.d. above the bins at offset ≥ 2).
    pub prominence: f64,
    /// 95th percentile of `prominence` with the objects moved.
    pub prominence_null_p95: f64,
}

impl OvcFieldEvidence {
    /// The OVC field call with object window half-width `k` (the map is `(2k+1)²`): the map is
    /// consistent beyond its moved-object null's p95, its peak lies at offset `2 ..= k − 1`
    /// (off the object's own bump and off the window's outer ring), and the peak stands out
    /// beyond the moved-object null's p95 of the same prominence. A NaN anywhere (no field
    /// inside the ring, a flat map) is not a call.
    pub fn called(&self, k: usize) -> bool {
        self.consistency > self.consistency_null_p95
            && self.peak_offset >= 2.0
            && self.peak_offset <= k as f64 - 1.0
            && self.prominence > self.prominence_null_p95
    }

    /// Whether the cell can be judged at all: its object-centred consistency and that
    /// consistency's null were measured (finite). A judged cell whose map has no measurable
    /// field (NaN prominence) counts as not called, so the fraction of calls keeps the
    /// consistency-only call's denominator.
    pub fn is_judged(&self) -> bool {
        self.consistency.is_finite() && self.consistency_null_p95.is_finite()
    }
}

#[cfg(test)]
mod ovc_tests {
    use super::OvcFieldEvidence;

    #[test]
    fn the_field_call_needs_every_criterion() {
        let ok = OvcFieldEvidence {
            consistency: 0.6,
            consistency_null_p95: 0.3,
            peak_offset: 3.0,
            prominence: 3.5,
            prominence_null_p95: 2.2,
        };
        assert!(ok.called(4) && ok.is_judged());
        let with = |f: fn(&mut OvcFieldEvidence)| {
            let mut e = ok;
            f(&mut e);
            e
        };
        assert!(!with(|e| e.consistency = 0.2).called(4), "not consistent");
        assert!(
            !with(|e| e.peak_offset = 1.0).called(4),
            "the object's bump"
        );
        assert!(!with(|e| e.peak_offset = 4.0).called(4), "outer ring");
        assert!(
            with(|e| e.peak_offset = 4.0).called(5),
            "inside a wider window"
        );
        assert!(!with(|e| e.prominence = 2.0).called(4), "no field");
        let nan = with(|e| e.prominence = f64::NAN);
        assert!(
            !nan.called(4) && nan.is_judged(),
            "no measurable field: judged, not called"
        );
        assert!(!with(|e| e.consistency_null_p95 = f64::NAN).is_judged());
    }
}
