//! Spatial autocorrelogram (Hafting et al. 2005; Sargolini et al. 2006), the overlap-normalised
//! form that DeepMind's and Sorscher's `calculate_sac` compute: for every lag `τ` of an
//! `N × N` map (output `(2N−1) × (2N−1)`, centre at `(N−1, N−1)`), the Pearson correlation of
//! the map with its shifted copy over the `n` bins valid in both,
//!
//! `r(τ) = [n Σλ₁λ₂ − Σλ₁ Σλ₂] / (√(n Σλ₁² − (Σλ₁)²) √(n Σλ₂² − (Σλ₂)²))`.
//!
//! NaN bins are unvisited. **Guards** (DeepMind's `nan_to_num` turns 0/0 and x/0 into 0 and
//! ±1.8e308, which poisons grid scores): a lag with fewer than `min_overlap` bins, or with an
//! overlap variance ≤ 1e-12 × the map's variance, gets `r = 0` (DeepMind's value for the 0/0
//! case), never an infinity.

/// SAC of an `n × n` map (`NaN` = unvisited). Returns `(2n−1)²` values, row-major.
///
/// Every overlap sum is a sum of products of contiguous row slices (vectorised dot products);
/// for maps without `NaN` the single-map sums come from integral images in O(1) per lag.
pub fn sac(map: &[f64], n: usize, min_overlap: usize) -> Vec<f64> {
    let m = 2 * n - 1;
    let ok: Vec<f64> = map
        .iter()
        .map(|v| if v.is_finite() { 1.0 } else { 0.0 })
        .collect();
    let a: Vec<f64> = map
        .iter()
        .map(|v| if v.is_finite() { *v } else { 0.0 })
        .collect();
    let a2: Vec<f64> = a.iter().map(|v| v * v).collect();
    let all_valid = ok.iter().all(|&v| v == 1.0);
    // scale for the variance guard
    let nv = ok.iter().sum::<f64>().max(1.0);
    let mean = a.iter().sum::<f64>() / nv;
    let var_map = a
        .iter()
        .zip(&ok)
        .map(|(v, o)| o * (v - mean) * (v - mean))
        .sum::<f64>()
        / nv;
    let eps = 1e-12 * var_map.max(f64::MIN_POSITIVE);
    // integral images (all-valid case): I[(y)(n+1) + x] = Σ_{r<y, c<x}
    let integral = |v: &[f64]| -> Vec<f64> {
        let w = n + 1;
        let mut t = vec![0.0; w * w];
        for y in 0..n {
            let mut row = 0.0;
            for x in 0..n {
                row += v[y * n + x];
                t[(y + 1) * w + x + 1] = t[y * w + x + 1] + row;
            }
        }
        t
    };
    let (ia, ia2) = if all_valid {
        (integral(&a), integral(&a2))
    } else {
        (Vec::new(), Vec::new())
    };
    let rect = |t: &[f64], y0: usize, y1: usize, x0: usize, x1: usize| -> f64 {
        let w = n + 1;
        t[y1 * w + x1] - t[y0 * w + x1] - t[y1 * w + x0] + t[y0 * w + x0]
    };
    #[inline(always)]
    fn dot(x: &[f64], y: &[f64]) -> f64 {
        let mut acc = [0.0f64; 4];
        let mut xc = x.chunks_exact(4);
        let mut yc = y.chunks_exact(4);
        for (p, q) in (&mut xc).zip(&mut yc) {
            for k in 0..4 {
                acc[k] += p[k] * q[k];
            }
        }
        let mut s = acc[0] + acc[1] + acc[2] + acc[3];
        for (p, q) in xc.remainder().iter().zip(yc.remainder()) {
            s += p * q;
        }
        s
    }
    let mut out = vec![0.0; m * m];
    // r(τ) = r(−τ): compute the half-plane dy > 0 or (dy = 0, dx ≥ 0) and mirror it
    for dy in 0..=(n as isize - 1) {
        for dx in -(n as isize - 1)..=(n as isize - 1) {
            if dy == 0 && dx < 0 {
                continue;
            }
            // overlap: bins (y, x) of map 1 with (y − dy, x − dx) inside map 2
            let (y0, y1) = ((dy.max(0)) as usize, (n as isize + dy.min(0)) as usize);
            let (x0, x1) = ((dx.max(0)) as usize, (n as isize + dx.min(0)) as usize);
            let (sy0, sx0) = ((y0 as isize - dy) as usize, (x0 as isize - dx) as usize);
            let w = x1 - x0;
            let (cnt, s1, s2, s11, s22) = if all_valid {
                let (sy1, sx1) = (sy0 + (y1 - y0), sx0 + w);
                (
                    ((y1 - y0) * w) as f64,
                    rect(&ia, y0, y1, x0, x1),
                    rect(&ia, sy0, sy1, sx0, sx1),
                    rect(&ia2, y0, y1, x0, x1),
                    rect(&ia2, sy0, sy1, sx0, sx1),
                )
            } else {
                let (mut c, mut p1, mut p2, mut q1, mut q2) = (0.0, 0.0, 0.0, 0.0, 0.0);
                for y in y0..y1 {
                    let r1 = y * n + x0;
                    let r2 = (sy0 + y - y0) * n + sx0;
                    c += dot(&ok[r1..r1 + w], &ok[r2..r2 + w]);
                    p1 += dot(&a[r1..r1 + w], &ok[r2..r2 + w]);
                    p2 += dot(&ok[r1..r1 + w], &a[r2..r2 + w]);
                    q1 += dot(&a2[r1..r1 + w], &ok[r2..r2 + w]);
                    q2 += dot(&ok[r1..r1 + w], &a2[r2..r2 + w]);
                }
                (c, p1, p2, q1, q2)
            };
            let idx = ((dy + n as isize - 1) as usize) * m + (dx + n as isize - 1) as usize;
            if cnt < min_overlap.max(1) as f64 || cnt == 0.0 {
                continue;
            }
            // DeepMind's arithmetic: std = sqrt(Σx²/n − (Σx)²/n²), covar = Σxy/n − ΣxΣy/n²
            let v1 = s11 / cnt - s1 * s1 / (cnt * cnt);
            let v2 = s22 / cnt - s2 * s2 / (cnt * cnt);
            if !(v1 > eps && v2 > eps) {
                continue;
            }
            let mut s12 = 0.0;
            for y in y0..y1 {
                let r1 = y * n + x0;
                let r2 = (sy0 + y - y0) * n + sx0;
                s12 += dot(&a[r1..r1 + w], &a[r2..r2 + w]);
            }
            let cov = s12 / cnt - s1 * s2 / (cnt * cnt);
            let r = cov / (v1.sqrt() * v2.sqrt());
            out[idx] = r;
            out[m * m - 1 - idx] = r;
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn centre_is_one_and_symmetric() {
        let n = 6;
        let map: Vec<f64> = (0..n * n).map(|i| ((i * 37) % 11) as f64).collect();
        let s = sac(&map, n, 1);
        let m = 2 * n - 1;
        assert!((s[(n - 1) * m + n - 1] - 1.0).abs() < 1e-12);
        for i in 0..m * m {
            assert!((s[i] - s[m * m - 1 - i]).abs() < 1e-12, "point symmetry");
            assert!(s[i].is_finite() && s[i].abs() <= 1.0 + 1e-9);
        }
    }

    #[test]
    fn constant_map_gives_zeros_not_infinities() {
        let s = sac(&[2.0; 16], 4, 1);
        assert!(s.iter().all(|v| *v == 0.0));
    }
}
