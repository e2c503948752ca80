//! InfoM (Hsu et al. 2023, "Disentanglement via latent quantization"; the same group's
//! better-than-MIR option): MIR's formula on a k-nearest-neighbour MI estimate that avoids
//! binning bias.
//!
//! - MI between each standardised latent and each discrete factor by the KSG-type estimator for
//!   continuous–discrete pairs (Ross 2014), exactly as scikit-learn's `mutual_info_classif`
//!   (`_compute_mi_cd`, `n_neighbors = 3`, a tiny seeded jitter of `1e-10 · max(1, mean|z|)`
//!   to break ties): `I = ψ(N) + ⟨ψ(k)⟩ − ⟨ψ(N_v)⟩ − ⟨ψ(m)⟩`, clipped at 0;
//! - normalised by the factor entropy `H(v)` and clipped to [0, 1];
//! - **active** latents: range > 0.1 × the largest range;
//! - `InfoM = (mean_i max_k Ĩ_ik / Σ_k Ĩ_ik − 1/K) / (1 − 1/K)` over active latents.

use crate::info::entropy;
use crate::labels::{column_labels, FactorKind};
use crate::score::{check_pair, constant_factor, Score};
use crate::special::{digamma, SplitMix64};
use crate::MetricError;
use ndarray::{Array2, ArrayView2};

/// Ross (2014) continuous–discrete MI estimate in nats (scikit-learn `_compute_mi_cd`).
pub fn mi_continuous_discrete(c: &[f64], d: &[u32], n_neighbors: usize) -> f64 {
    mi_cd_sorted(c, d, n_neighbors, &sort_order(c))
}

/// The indices of `c` in ascending order (a stable sort: ties keep their index order).
fn sort_order(c: &[f64]) -> Vec<usize> {
    let mut order: Vec<usize> = (0..c.len()).collect();
    order.sort_by(|&a, &b| c[a].total_cmp(&c[b]));
    order
}

/// [`mi_continuous_discrete`] given `order = sort_order(c)`, so that one sort of a latent
/// serves every factor: each label's points are taken from it already sorted.
fn mi_cd_sorted(c: &[f64], d: &[u32], n_neighbors: usize, order: &[usize]) -> f64 {
    let n = c.len();
    let mut radius = vec![0.0; n];
    let mut label_count = vec![0usize; n];
    let mut k_all = vec![0usize; n];
    let mut labels: Vec<u32> = d.to_vec();
    labels.sort_unstable();
    labels.dedup();
    // every label's points in ascending order of c (ties in index order)
    let mut groups: Vec<Vec<usize>> = vec![Vec::new(); labels.len()];
    for &i in order {
        let g = labels.binary_search(&d[i]).unwrap_or(0);
        groups[g].push(i);
    }
    let mut vals: Vec<f64> = Vec::new();
    for idx in &groups {
        let count = idx.len();
        if count > 1 {
            let k = n_neighbors.min(count - 1);
            vals.clear();
            vals.extend(idx.iter().map(|&i| c[i]));
            for p in 0..count {
                // k-th nearest other point in 1-D: merge outward from p
                let (mut lo, mut hi) = (p as isize - 1, p + 1);
                let mut dist = 0.0;
                for _ in 0..k {
                    let dl = if lo >= 0 {
                        vals[p] - vals[lo as usize]
                    } else {
                        f64::INFINITY
                    };
                    let dh = if hi < count {
                        vals[hi] - vals[p]
                    } else {
                        f64::INFINITY
                    };
                    if dl <= dh {
                        dist = dl;
                        lo -= 1;
                    } else {
                        dist = dh;
                        hi += 1;
                    }
                }
                let i = idx[p];
                radius[i] = next_toward_zero(dist);
                k_all[i] = k;
            }
        }
        for &i in idx {
            label_count[i] = count;
        }
    }
    let sorted: Vec<f64> = order
        .iter()
        .filter(|&&i| label_count[i] > 1)
        .map(|&i| c[i])
        .collect();
    let m = sorted.len();
    if m == 0 {
        return 0.0;
    }
    // neighbour counts in sorted order (nearby searches stay in cache), summed in index order
    // below exactly as before
    let mut within = vec![0usize; n];
    for &i in order {
        if label_count[i] <= 1 {
            continue;
        }
        // points with |x − c_i| ≤ r (the distance test itself, not shifted bounds, decides)
        let (r, ci) = (radius[i], c[i]);
        let mut lo = sorted.partition_point(|&v| v < ci - r);
        while lo > 0 && (ci - sorted[lo - 1]).abs() <= r {
            lo -= 1;
        }
        while lo < m && (ci - sorted[lo]).abs() > r && sorted[lo] < ci {
            lo += 1;
        }
        let mut hi = sorted.partition_point(|&v| v <= ci + r);
        while hi < m && (sorted[hi] - ci).abs() <= r {
            hi += 1;
        }
        while hi > 0 && (sorted[hi - 1] - ci).abs() > r && sorted[hi - 1] > ci {
            hi -= 1;
        }
        within[i] = hi - lo;
    }
    let (mut sk, mut sl, mut sm) = (0.0, 0.0, 0.0);
    for i in (0..n).filter(|&i| label_count[i] > 1) {
        sm += digamma(within[i] as f64);
        sk += digamma(k_all[i] as f64);
        sl += digamma(label_count[i] as f64);
    }
    let mf = m as f64;
    (digamma(mf) + sk / mf - sl / mf - sm / mf).max(0.0)
}

/// `np.nextafter(r, 0)`.
fn next_toward_zero(r: f64) -> f64 {
    if r == 0.0 || !r.is_finite() {
        r
    } else {
        f64::from_bits(r.to_bits() - 1)
    }
}

/// InfoM (`infom.hsu2023`) with its normalised MI matrix (latents × factors) as parts.
pub fn infom(
    codes: ArrayView2<f64>,
    factors: ArrayView2<f64>,
    kind: FactorKind,
    bins: usize,
    seed: u64,
) -> Result<(Score, Array2<f64>), MetricError> {
    crate::options::check_bins("bins", bins)?;
    check_pair(codes, factors, 4)?;
    let (n, d) = codes.dim();
    let kf = factors.ncols();
    if kf < 2 {
        return Err(MetricError::Invalid {
            what: "factors".into(),
            msg: "InfoM needs at least 2 factors".into(),
        });
    }
    let fl = column_labels(factors, kind, bins);
    let h: Vec<f64> = fl.iter().map(|f| entropy(f)).collect();
    if let Some(k) = h.iter().position(|&v| v <= 0.0) {
        return Err(constant_factor(k, "InfoM"));
    }
    let ranges: Vec<f64> = (0..d)
        .map(|j| {
            let c = codes.column(j);
            c.iter().cloned().fold(f64::NEG_INFINITY, f64::max)
                - c.iter().cloned().fold(f64::INFINITY, f64::min)
        })
        .collect();
    let rmax = ranges.iter().cloned().fold(0.0, f64::max);
    let active: Vec<usize> = (0..d)
        .filter(|&j| ranges[j] > 0.1 * rmax && ranges[j] > 0.0)
        .collect();
    let mut nmi = Array2::zeros((d, kf));
    let mut rng = SplitMix64(seed);
    // the jittered, standardised latents, drawn in order from one seeded stream
    let zs: Vec<(usize, Vec<f64>)> = active
        .iter()
        .map(|&j| {
            let c = codes.column(j);
            let mean = c.sum() / n as f64;
            let sd = (c.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / (n - 1) as f64).sqrt();
            let mut z: Vec<f64> = c.iter().map(|v| v / sd).collect();
            let scale = 1e-10 * (z.iter().map(|v| v.abs()).sum::<f64>() / n as f64).max(1.0);
            for v in z.iter_mut() {
                *v += scale * rng.normal();
            }
            (j, z)
        })
        .collect();
    // one sort per latent serves every factor; latents on the available cores (the result
    // does not depend on the thread count)
    let rows = crate::par::map_ordered(&zs, |(j, z)| {
        let order = sort_order(z);
        let row: Vec<f64> = fl
            .iter()
            .zip(&h)
            .map(|(f, hk)| (mi_cd_sorted(z, f, 3, &order) / hk).clamp(0.0, 1.0))
            .collect();
        (*j, row)
    });
    for (j, row) in rows {
        for (k, v) in row.into_iter().enumerate() {
            nmi[[j, k]] = v;
        }
    }
    let mut ratios = Vec::new();
    for &j in &active {
        let row = nmi.row(j);
        let s: f64 = row.sum();
        if s > 0.0 {
            ratios.push(row.iter().cloned().fold(0.0, f64::max) / s);
        }
    }
    if ratios.is_empty() {
        return Err(MetricError::Invalid {
            what: "latents".into(),
            msg: "no active latent carries information; InfoM is undefined".into(),
        });
    }
    let inv = 1.0 / kf as f64;
    let v = (ratios.iter().sum::<f64>() / ratios.len() as f64 - inv) / (1.0 - inv);
    Ok((
        Score::new("infom.hsu2023", v)
            .param("n_neighbors", 3)
            .part("num_active", active.len() as f64),
        nmi,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ksg_estimate_of_a_deterministic_relation_is_near_entropy() {
        // c determines d (4 well separated clusters): I ≈ H(d) = ln 4
        let n = 4000;
        let mut rng = SplitMix64(5);
        let d: Vec<u32> = (0..n).map(|i| (i % 4) as u32).collect();
        let c: Vec<f64> = (0..n)
            .map(|i| (i % 4) as f64 * 10.0 + rng.uniform())
            .collect();
        let mi = mi_continuous_discrete(&c, &d, 3);
        assert!((mi - 4f64.ln()).abs() < 0.02, "{mi}");
        // independent: near 0
        let c2: Vec<f64> = (0..n).map(|_| rng.uniform()).collect();
        let d2: Vec<u32> = (0..n).map(|i| ((i / 500) % 2) as u32).collect();
        assert!(mi_continuous_discrete(&c2, &d2, 3) < 0.02);
    }

    #[test]
    fn infom_perfect_and_mixed() {
        let n = 1200;
        let f = Array2::from_shape_fn((n, 2), |(s, j)| ((s / (1 + 5 * j)) % 5) as f64);
        let c = Array2::from_shape_fn((n, 2), |(s, j)| {
            f[[s, j]] + 0.01 * ((s * 31 + j) % 7) as f64
        });
        let (s, _) = infom(c.view(), f.view(), FactorKind::Discrete, 20, 0).unwrap();
        assert!(s.value > 0.9, "{}", s.value);
        let m = Array2::from_shape_fn((n, 2), |(s, j)| f[[s, 0]] + f[[s, 1]] * (1.0 + j as f64));
        let (s2, _) = infom(m.view(), f.view(), FactorKind::Discrete, 20, 0).unwrap();
        assert!(s2.value < s.value - 0.3, "{}", s2.value);
    }
}
