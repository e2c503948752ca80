//! Ratemaps and synthetic ground-truth maps.
//!
//! Maps are `n × n` row-major `Vec<f64>` with `NaN` for unvisited bins. Lattice coordinates:
//! `xs` = column index, `ys` = row index (0..n−1), as DESIGN.md's grid-score conventions.

use crate::special::SplitMix64;

/// Mean activity per spatial bin from samples: `positions` are `(x, y)` in `[0, extent)`,
/// `activity` one value per sample. Unvisited bins are `NaN` (DeepMind's convention).
pub fn ratemap(
    positions: &[(f64, f64)],
    activity: &[f64],
    bins: usize,
    extent: (f64, f64),
) -> Vec<f64> {
    let mut sum = vec![0.0; bins * bins];
    let mut cnt = vec![0usize; bins * bins];
    for (&(x, y), &a) in positions.iter().zip(activity) {
        if !(x.is_finite() && y.is_finite() && a.is_finite()) {
            continue;
        }
        let c =
            ((x / extent.0 * bins as f64).floor() as isize).clamp(0, bins as isize - 1) as usize;
        let r =
            ((y / extent.1 * bins as f64).floor() as isize).clamp(0, bins as isize - 1) as usize;
        sum[r * bins + c] += a;
        cnt[r * bins + c] += 1;
    }
    sum.iter()
        .zip(&cnt)
        .map(|(s, &c)| if c > 0 { s / c as f64 } else { f64::NAN })
        .collect()
}

/// Gaussian smoothing (σ in bins, kernel truncated at 4σ) of a map with `NaN` bins, in the
/// **opexebo order** (smooth the ratemap, normalised by the kernel mass over valid bins, so
/// unvisited bins neither pull values to 0 nor get filled).
pub fn smooth(map: &[f64], n: usize, sigma: f64) -> Vec<f64> {
    if sigma <= 0.0 {
        return map.to_vec();
    }
    let r = (4.0 * sigma).ceil() as isize;
    let k: Vec<f64> = (-r..=r)
        .map(|d| (-(d * d) as f64 / (2.0 * sigma * sigma)).exp())
        .collect();
    let mut out = vec![f64::NAN; n * n];
    for y in 0..n as isize {
        for x in 0..n as isize {
            if !map[(y * n as isize + x) as usize].is_finite() {
                continue;
            }
            let (mut s, mut w) = (0.0, 0.0);
            for dy in -r..=r {
                for dx in -r..=r {
                    let (yy, xx) = (y + dy, x + dx);
                    if yy < 0 || xx < 0 || yy >= n as isize || xx >= n as isize {
                        continue;
                    }
                    let v = map[(yy * n as isize + xx) as usize];
                    if v.is_finite() {
                        let kw = k[(dy + r) as usize] * k[(dx + r) as usize];
                        s += kw * v;
                        w += kw;
                    }
                }
            }
            out[(y * n as isize + x) as usize] = s / w;
        }
    }
    out
}

/// Smoothing in the **spatial-maps order**: smooth the summed activity and the occupancy
/// separately, then divide (`occupancy` counts per bin, `sum` the summed activity).
pub fn smooth_then_divide(sum: &[f64], occupancy: &[f64], n: usize, sigma: f64) -> Vec<f64> {
    let s = smooth(
        &sum.iter()
            .map(|v| if v.is_finite() { *v } else { 0.0 })
            .collect::<Vec<_>>(),
        n,
        sigma,
    );
    let o = smooth(occupancy, n, sigma);
    s.iter()
        .zip(&o)
        .zip(occupancy)
        .map(|((a, b), &occ)| {
            if occ > 0.0 && *b > 0.0 {
                a / b
            } else {
                f64::NAN
            }
        })
        .collect()
}

/// The three-cosine hexagonal pattern `Σ_{j=0..2} cos(k (cos a_j (x−p0) + sin a_j (y−p1)))`,
/// `a_j = θ + jπ/3`, `k = 4π/(√3·period)`.
pub fn hex_raw(n: usize, period: f64, theta: f64, phase: (f64, f64)) -> Vec<f64> {
    let k = 4.0 * std::f64::consts::PI / (3f64.sqrt() * period);
    (0..n * n)
        .map(|p| {
            let (ys, xs) = ((p / n) as f64, (p % n) as f64);
            (0..3)
                .map(|j| {
                    let a = theta + j as f64 * std::f64::consts::PI / 3.0;
                    (k * (a.cos() * (xs - phase.0) + a.sin() * (ys - phase.1))).cos()
                })
                .sum()
        })
        .collect()
}

/// Reference hexagonal map ("shifted cosines"): `(2/3)(r/3 + 1/2)`.
pub fn hex_map(n: usize, period: f64, theta: f64, phase: (f64, f64)) -> Vec<f64> {
    hex_raw(n, period, theta, phase)
        .iter()
        .map(|r| (2.0 / 3.0) * (r / 3.0 + 0.5))
        .collect()
}

/// Rectified hexagonal map ("hexRect"): `max(r, 0)`.
pub fn hex_rect_map(n: usize, period: f64, theta: f64, phase: (f64, f64)) -> Vec<f64> {
    hex_raw(n, period, theta, phase)
        .iter()
        .map(|r| r.max(0.0))
        .collect()
}

/// Square grid: `cos(k x) + cos(k y)` shifted to [0, 1], `k = 2π/period`.
pub fn square_map(n: usize, period: f64) -> Vec<f64> {
    let k = 2.0 * std::f64::consts::PI / period;
    (0..n * n)
        .map(|p| (((k * (p % n) as f64).cos() + (k * (p / n) as f64).cos()) + 2.0) / 4.0)
        .collect()
}

/// Band (one plane wave) along angle θ: `(cos(k·u) + 1)/2`.
pub fn band_map(n: usize, period: f64, theta: f64) -> Vec<f64> {
    let k = 2.0 * std::f64::consts::PI / period;
    (0..n * n)
        .map(|p| {
            ((k * (theta.cos() * (p % n) as f64 + theta.sin() * (p / n) as f64)).cos() + 1.0) / 2.0
        })
        .collect()
}

/// One Gaussian place field at `(cx, cy)` (column, row) with width σ (bins).
pub fn place_map(n: usize, cx: f64, cy: f64, sigma: f64) -> Vec<f64> {
    (0..n * n)
        .map(|p| {
            (-(((p % n) as f64 - cx).powi(2) + ((p / n) as f64 - cy).powi(2))
                / (2.0 * sigma * sigma))
                .exp()
        })
        .collect()
}

/// Object-vector map: a Gaussian field at a fixed offset from each object (objects as
/// (column, row)); the maximum over objects.
pub fn object_vector_map(
    n: usize,
    objects: &[(f64, f64)],
    offset: (f64, f64),
    sigma: f64,
) -> Vec<f64> {
    let mut m = vec![0.0f64; n * n];
    for &(ox, oy) in objects {
        let f = place_map(n, ox + offset.0, oy + offset.1, sigma);
        for (a, b) in m.iter_mut().zip(f) {
            *a = a.max(b);
        }
    }
    m
}

/// Border map: firing decays with distance from one wall (0 = top row, 1 = right, 2 = bottom,
/// 3 = left), `exp(−d/width)`.
pub fn border_map(n: usize, wall: usize, width: f64) -> Vec<f64> {
    (0..n * n)
        .map(|p| {
            let (r, c) = ((p / n) as f64, (p % n) as f64);
            let d = match wall % 4 {
                0 => r,
                1 => n as f64 - 1.0 - c,
                2 => n as f64 - 1.0 - r,
                _ => c,
            };
            (-d / width).exp()
        })
        .collect()
}

/// Smooth random field: white noise smoothed with a periodic (wrap) Gaussian of σ bins —
/// the matched null of the reference notes. σ = 0 gives white noise.
pub fn random_field(n: usize, sigma: f64, rng: &mut SplitMix64) -> Vec<f64> {
    let w: Vec<f64> = (0..n * n).map(|_| rng.normal()).collect();
    if sigma <= 0.0 {
        return w;
    }
    let r = (4.0 * sigma).ceil() as isize;
    let k: Vec<f64> = (-r..=r)
        .map(|d| (-(d * d) as f64 / (2.0 * sigma * sigma)).exp())
        .collect();
    let ni = n as isize;
    // separable, wrap-around
    let mut tmp = vec![0.0; n * n];
    for y in 0..ni {
        for x in 0..ni {
            tmp[(y * ni + x) as usize] = (-r..=r)
                .map(|d| k[(d + r) as usize] * w[(y * ni + (x + d).rem_euclid(ni)) as usize])
                .sum();
        }
    }
    let mut out = vec![0.0; n * n];
    for y in 0..ni {
        for x in 0..ni {
            out[(y * ni + x) as usize] = (-r..=r)
                .map(|d| k[(d + r) as usize] * tmp[((y + d).rem_euclid(ni) * ni + x) as usize])
                .sum();
        }
    }
    out
}
