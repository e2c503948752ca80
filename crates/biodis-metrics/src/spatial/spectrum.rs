//! The spatial scale of a map from its power spectrum: the wavelength of the strongest plane
//! wave in it ([`dominant_wavelength`]). A hexagonal grid of field spacing `s` is three plane
//! waves of wavelength `s·√3/2`; a map with one field or a border gradient has its power at the
//! lowest frequencies the map holds. Used to test whether a model's cells take the spatial scale
//! its loss prefers (the grid-world search of §4 / App. A.9: the location target's own spectrum,
//! after Sorscher et al. 2019, who predict the grid period from the peak of the place-cell
//! covariance's spectrum).

/// Zero-padding factor of the spectrum: frequencies are evaluated every `1 / (PAD · n)` cycles
/// per bin, so the peak is located to within a quarter of the map's own frequency resolution.
pub const PAD: usize = 4;

/// The wavelength (bins) of the largest peak of the power spectrum `|Σ_x v(x) e^{−2πi k·x}|²` of
/// the `n × n` map `v` (row-major, mean over finite bins removed, unvisited `NaN` bins set to
/// the mean), over frequencies `1/n ≤ |k| ≤ 1/2` cycles per bin (at least one whole period on the
/// map, at most the Nyquist frequency), evaluated on a grid zero-padded [`PAD`]×. `NaN` for an
/// empty or constant map.
///
/// Conventions: `k = (k_col, k_row)` in cycles per bin; a plane wave `cos(2π x/λ)` with
/// `n/λ` a whole number returns `λ`, and other `λ` to within the padded grid's spacing.
pub fn dominant_wavelength(map: &[f64], n: usize) -> f64 {
    spectral_peak(map, n).map_or(f64::NAN, |(lambda, _)| lambda)
}

/// [`dominant_wavelength`] with the peak's direction: `(λ, θ)` with θ in degrees in `[0, 180)`
/// (the wave vector's angle from the column axis; `k` and `−k` are the same wave).
pub fn spectral_peak(map: &[f64], n: usize) -> Option<(f64, f64)> {
    if n < 2 || map.len() != n * n {
        return None;
    }
    let finite: Vec<f64> = map.iter().copied().filter(|v| v.is_finite()).collect();
    if finite.len() < 3 {
        return None;
    }
    let mean = finite.iter().sum::<f64>() / finite.len() as f64;
    let var = finite.iter().map(|v| (v - mean).powi(2)).sum::<f64>();
    if var <= 1e-24 * mean.abs().max(1.0) {
        return None;
    }
    let v: Vec<f64> = map
        .iter()
        .map(|&x| if x.is_finite() { x - mean } else { 0.0 })
        .collect();
    let m = PAD * n;
    let tau = std::f64::consts::TAU;
    // frequencies j / m for j in −m/2 ..= m/2 along columns; 0 ..= m/2 along rows (the other
    // half plane is the complex conjugate)
    let half = (m / 2) as i64;
    let kc: Vec<f64> = (-half..=half).map(|j| j as f64 / m as f64).collect();
    let kr: Vec<f64> = (0..=half).map(|j| j as f64 / m as f64).collect();
    // g[r][jc] = Σ_c v(r, c) e^{−2πi kc c}
    let mut g_re = vec![0.0; n * kc.len()];
    let mut g_im = vec![0.0; n * kc.len()];
    for r in 0..n {
        for (jc, &k) in kc.iter().enumerate() {
            let (mut re, mut im) = (0.0, 0.0);
            for c in 0..n {
                let a = tau * k * c as f64;
                let x = v[r * n + c];
                re += x * a.cos();
                im -= x * a.sin();
            }
            g_re[r * kc.len() + jc] = re;
            g_im[r * kc.len() + jc] = im;
        }
    }
    let (lo, hi) = (1.0 / n as f64, 0.5);
    let mut best: Option<(f64, f64, f64)> = None; // (power, |k|, angle)
    for &ky in &kr {
        for (jc, &kx) in kc.iter().enumerate() {
            let kn = (kx * kx + ky * ky).sqrt();
            if kn < lo - 1e-12 || kn > hi + 1e-12 || (ky == 0.0 && kx < 0.0) {
                continue;
            }
            let (mut re, mut im) = (0.0, 0.0);
            for r in 0..n {
                let a = tau * ky * r as f64;
                let (c, s) = (a.cos(), a.sin());
                let (gr, gi) = (g_re[r * kc.len() + jc], g_im[r * kc.len() + jc]);
                // (gr + i gi)(c − i s)
                re += gr * c + gi * s;
                im += gi * c - gr * s;
            }
            let p = re * re + im * im;
            if best.is_none_or(|(bp, _, _)| p > bp) {
                best = Some((p, kn, ky.atan2(kx).to_degrees().rem_euclid(180.0)));
            }
        }
    }
    best.map(|(_, k, th)| (1.0 / k, th))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::spatial::maps::{hex_map, place_map};

    fn plane(n: usize, lambda: f64, theta_deg: f64) -> Vec<f64> {
        let (c, s) = (theta_deg.to_radians().cos(), theta_deg.to_radians().sin());
        (0..n * n)
            .map(|p| {
                let (y, x) = ((p / n) as f64, (p % n) as f64);
                (std::f64::consts::TAU * (c * x + s * y) / lambda).cos()
            })
            .collect()
    }

    #[test]
    fn plane_waves_return_their_wavelength_and_direction() {
        for &(lambda, th) in &[(4.0, 0.0), (8.0, 90.0), (5.33, 0.0)] {
            let (l, t) = spectral_peak(&plane(16, lambda, th), 16).unwrap();
            assert!((l - lambda).abs() / lambda < 0.05, "λ {lambda}: got {l}");
            assert!(
                (t - th).abs() < 1.0 || (t - th).abs() > 179.0,
                "θ {th}: got {t}"
            );
        }
        // an oblique wave: the padded grid resolves it to within its spacing
        let l = dominant_wavelength(&plane(16, 6.0, 30.0), 16);
        assert!((l - 6.0).abs() < 0.5, "oblique: {l}");
    }

    #[test]
    fn hexagonal_maps_peak_at_the_plane_wave_of_their_spacing() {
        for &period in &[5.0, 6.0, 8.0] {
            let l = dominant_wavelength(&hex_map(16, period, 0.2, (1.0, 2.0)), 16);
            let want = period * 3f64.sqrt() / 2.0;
            assert!(
                (l - want).abs() / want < 0.1,
                "period {period}: {l} vs {want}"
            );
        }
    }

    #[test]
    fn a_single_field_has_its_power_at_the_longest_wavelength() {
        let l = dominant_wavelength(&place_map(16, 7.5, 7.5, 2.5), 16);
        assert!(l > 10.0, "place field: {l}");
    }

    #[test]
    fn undefined_for_constant_empty_or_misshaped_maps() {
        assert!(dominant_wavelength(&[1.0; 256], 16).is_nan());
        assert!(dominant_wavelength(&[f64::NAN; 256], 16).is_nan());
        assert!(dominant_wavelength(&[1.0; 10], 16).is_nan());
        // NaN bins are ignored, not propagated
        let mut m = plane(16, 4.0, 0.0);
        m[5] = f64::NAN;
        assert!((dominant_wavelength(&m, 16) - 4.0).abs() < 0.2);
    }
}
