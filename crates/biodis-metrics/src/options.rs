//! Validation of metric options. Every metric checks its numeric options before touching the
//! data and refuses a value outside its range with [`MetricError::BadOption`], which names the
//! option, the value and the accepted range (a bad option is never turned into a NaN score or
//! an endless loop).

use crate::MetricError;

/// The most bins any metric accepts. More bins than this only spread the samples over empty
/// bins (each MI estimate is then dominated by its bias), and the bin edges and counts grow
/// with the bin count (10⁸ bins allocate gigabytes per column).
pub const MAX_BINS: usize = 65_536;

fn bad(option: &str, value: impl ToString, expected: &str) -> MetricError {
    MetricError::BadOption {
        option: option.to_string(),
        value: value.to_string(),
        expected: expected.to_string(),
    }
}

/// Equal-width bins for discretising codes or factors: `2..=MAX_BINS` (one bin carries no
/// information, zero bins are undefined).
pub fn check_bins(option: &str, bins: usize) -> Result<(), MetricError> {
    if (2..=MAX_BINS).contains(&bins) {
        Ok(())
    } else {
        Err(bad(
            option,
            bins,
            &format!("an integer from 2 to {MAX_BINS}"),
        ))
    }
}

/// A count that must be at least `min`.
pub fn check_at_least(option: &str, value: usize, min: usize) -> Result<(), MetricError> {
    if value >= min {
        Ok(())
    } else {
        Err(bad(option, value, &format!("an integer >= {min}")))
    }
}

/// A finite number strictly greater than `lo`.
pub fn check_above(option: &str, value: f64, lo: f64) -> Result<(), MetricError> {
    if value.is_finite() && value > lo {
        Ok(())
    } else {
        Err(bad(option, value, &format!("a finite number > {lo}")))
    }
}

/// A finite number in `[lo, hi]`.
pub fn check_closed(option: &str, value: f64, lo: f64, hi: f64) -> Result<(), MetricError> {
    if value.is_finite() && (lo..=hi).contains(&value) {
        Ok(())
    } else {
        Err(bad(option, value, &format!("a number in [{lo}, {hi}]")))
    }
}

/// A finite number in `(lo, hi]`.
pub fn check_half_open(option: &str, value: f64, lo: f64, hi: f64) -> Result<(), MetricError> {
    if value.is_finite() && value > lo && value <= hi {
        Ok(())
    } else {
        Err(bad(option, value, &format!("a number in ({lo}, {hi}]")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bins_range_and_message() {
        for b in [0, 1, MAX_BINS + 1, 100_000_000] {
            let e = check_bins("bins", b).unwrap_err();
            assert_eq!(
                e.to_string(),
                format!("bins = {b}: expected an integer from 2 to {MAX_BINS}")
            );
        }
        assert!(check_bins("bins", 2).is_ok() && check_bins("bins", MAX_BINS).is_ok());
        assert!(check_above("t", f64::NAN, 1.0).is_err());
        assert!(check_above("t", 1.0, 1.0).is_err());
        assert!(check_half_open("q", 0.0, 0.0, 1.0).is_err());
        assert!(check_half_open("q", 1.0, 0.0, 1.0).is_ok());
        assert!(check_closed("p", -0.1, 0.0, 1.0).is_err());
    }
}
