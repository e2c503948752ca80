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
pub fn sac(map: &[f64], n: usize, min_overlap: usize) -> Vec<f64> {
    let m = 2 * n - 1;
    let valid: Vec<bool> = map.iter().map(|v| v.is_finite()).collect();
    let vals: Vec<f64> = map
        .iter()
        .map(|v| if v.is_finite() { *v } else { 0.0 })
        .collect();
    let all_valid = valid.iter().all(|&v| v);
    // scale for the variance guard
    let nv = valid.iter().filter(|&&v| v).count().max(1) as f64;
    let mean = vals.iter().sum::<f64>() / nv;
    let var_map = vals
        .iter()
        .zip(&valid)
        .filter(|(_, &ok)| ok)
        .map(|(v, _)| (v - mean) * (v - mean))
        .sum::<f64>()
        / nv;
    let eps = 1e-12 * var_map.max(f64::MIN_POSITIVE);
    let mut out = vec![0.0; m * m];
    for dy in -(n as isize - 1)..=(n as isize - 1) {
        for dx in -(n as isize - 1)..=(n as isize - 1) {
            // overlap: bins (y, x) with (y − dy, x − dx) inside
            let (y0, y1) = ((dy.max(0)) as usize, (n as isize + dy.min(0)) as usize);
            let (x0, x1) = ((dx.max(0)) as usize, (n as isize + dx.min(0)) as usize);
            let (mut cnt, mut s1, mut s2, mut s11, mut s22, mut s12) =
                (0.0, 0.0, 0.0, 0.0, 0.0, 0.0);
            for y in y0..y1 {
                let yy = (y as isize - dy) as usize;
                for x in x0..x1 {
                    let xx = (x as isize - dx) as usize;
                    let (i, j) = (y * n + x, yy * n + xx);
                    if !all_valid && !(valid[i] && valid[j]) {
                        continue;
                    }
                    let (a, b) = (vals[i], vals[j]);
                    cnt += 1.0;
                    s1 += a;
                    s2 += b;
                    s11 += a * a;
                    s22 += b * b;
                    s12 += a * b;
                }
            }
            let idx = ((dy + n as isize - 1) as usize) * m + (dx + n as isize - 1) as usize;
            if (cnt as usize) < min_overlap.max(1) {
                continue;
            }
            // DeepMind's arithmetic: std = sqrt(Σx²/n − (Σx)²/n²), covar = Σxy/n − ΣxΣy/n²
            let v1 = s11 / cnt - s1 * s1 / (cnt * cnt);
            let v2 = s22 / cnt - s2 * s2 / (cnt * cnt);
            if !(v1 > eps && v2 > eps) {
                continue;
            }
            let cov = s12 / cnt - s1 * s2 / (cnt * cnt);
            out[idx] = cov / (v1.sqrt() * v2.sqrt());
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
