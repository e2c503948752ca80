//! The one definition of mean ± standard error used by every table, figure and the report.

/// Mean, standard error and count of the finite values of a sample.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct MeanSe {
    /// Mean of the finite values (NaN when there are none).
    pub mean: f64,
    /// `sd / √n` with `sd` over `n − 1`; NaN when `n < 2` (a standard error needs two values).
    pub se: f64,
    /// Number of finite values.
    pub n: usize,
}

impl MeanSe {
    /// The standard error, or 0 where it is undefined (`n < 2`): for drawing an error bar of
    /// no width, never for a number shown as a standard error.
    pub fn se_or_zero(&self) -> f64 {
        if self.se.is_finite() {
            self.se
        } else {
            0.0
        }
    }
}

/// Mean and standard error of the finite values in `v` (NaN and ±∞ are left out).
pub fn mean_se(v: &[f64]) -> MeanSe {
    let f: Vec<f64> = v.iter().copied().filter(|x| x.is_finite()).collect();
    let n = f.len();
    if n == 0 {
        return MeanSe {
            mean: f64::NAN,
            se: f64::NAN,
            n,
        };
    }
    let m = f.iter().sum::<f64>() / n as f64;
    if n == 1 {
        return MeanSe {
            mean: m,
            se: f64::NAN,
            n,
        };
    }
    let var = f.iter().map(|x| (x - m).powi(2)).sum::<f64>() / (n - 1) as f64;
    MeanSe {
        mean: m,
        se: (var / n as f64).sqrt(),
        n,
    }
}

/// `mean ± s.e.` of the finite values of `v` with `prec` decimals; a single value is shown as
/// `m (n=1)` (a standard error needs two values), none as `n/a`.
pub fn fmt_mean_se(v: &[f64], prec: usize) -> String {
    let s = mean_se(v);
    match s.n {
        0 => "n/a".to_string(),
        1 => format!("{:.prec$} (n=1)", s.mean),
        _ => format!("{:.prec$} ± {:.prec$}", s.mean, s.se),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_values() {
        let s = mean_se(&[1.0, 2.0, 3.0, f64::NAN]);
        assert_eq!((s.mean, s.n), (2.0, 3));
        assert!((s.se - (1.0f64 / 3.0).sqrt()).abs() < 1e-12);
        let one = mean_se(&[0.5]);
        assert!(one.se.is_nan() && one.se_or_zero() == 0.0 && one.n == 1);
        assert!(mean_se(&[]).mean.is_nan());
    }

    #[test]
    fn one_seed_shows_n_not_a_nan_error() {
        assert_eq!(fmt_mean_se(&[0.918], 3), "0.918 (n=1)");
        assert_eq!(fmt_mean_se(&[f64::NAN], 3), "n/a");
        assert_eq!(fmt_mean_se(&[1.0, 2.0, 3.0], 1), "2.0 ± 0.6");
    }
}
