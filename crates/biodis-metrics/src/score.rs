//! The result type shared by every metric: a versioned id, the value, named parts and the
//! parameters that produced it — so a number always says which definition it is.

use crate::{check_finite, MetricError};
use ndarray::ArrayView2;
use serde::Serialize;
use std::collections::BTreeMap;

/// One metric's result.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Score {
    /// Versioned metric id, e.g. `mig.dlib`, `mir.whittington2023`.
    pub id: String,
    /// The headline value.
    pub value: f64,
    /// Named sub-scores (e.g. DCI's disentanglement / completeness / informativeness).
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub parts: BTreeMap<String, f64>,
    /// Parameters of the computation.
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub params: BTreeMap<String, String>,
    /// Bootstrap confidence interval `(lo, hi)` when requested.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ci: Option<(f64, f64)>,
}

impl Score {
    /// A score `value` of the definition `id`, without parts or parameters.
    pub fn new(id: &str, value: f64) -> Self {
        Score {
            id: id.to_string(),
            value,
            parts: BTreeMap::new(),
            params: BTreeMap::new(),
            ci: None,
        }
    }
    /// With the named sub-score `k`.
    pub fn part(mut self, k: &str, v: f64) -> Self {
        self.parts.insert(k.to_string(), v);
        self
    }
    /// With the parameter `k` of the computation.
    pub fn param(mut self, k: &str, v: impl ToString) -> Self {
        self.params.insert(k.to_string(), v.to_string());
        self
    }
}

/// Validates a codes/factors pair: equal sample counts, at least `min` samples, finite values,
/// at least one column each.
pub fn check_pair(
    codes: ArrayView2<f64>,
    factors: ArrayView2<f64>,
    min: usize,
) -> Result<(), MetricError> {
    if codes.nrows() != factors.nrows() {
        return Err(MetricError::SampleMismatch {
            a_name: "latents".into(),
            a: codes.nrows(),
            b_name: "factors".into(),
            b: factors.nrows(),
        });
    }
    if codes.nrows() < min {
        return Err(MetricError::TooFewSamples {
            what: "latents".into(),
            min,
            got: codes.nrows(),
        });
    }
    if codes.ncols() == 0 {
        return Err(MetricError::Invalid {
            what: "latents".into(),
            msg: "no columns".into(),
        });
    }
    if factors.ncols() == 0 {
        return Err(MetricError::Invalid {
            what: "factors".into(),
            msg: "no columns".into(),
        });
    }
    check_finite("latents", codes)?;
    check_finite("factors", factors)?;
    Ok(())
}

/// Error for a constant factor (zero entropy), which metrics normalising by entropy cannot use.
pub fn constant_factor(k: usize, metric: &str) -> MetricError {
    MetricError::Invalid {
        what: "factors".into(),
        msg: format!("factor {k} is constant (entropy 0); {metric} divides by factor entropy — remove that column"),
    }
}

/// Every metric `biodis score` (and `biodis.score` in Python) computes, by name, in the order
/// `all` expands to.
pub const ALL_METRICS: [&str; 10] = [
    "mir",
    "mig",
    "dci",
    "sap",
    "modularity",
    "explicitness",
    "irs",
    "infom",
    "tc",
    "mpmi",
];

/// Metric names as a user wrote them: trimmed, lower-cased, and `all` expanded to
/// [`ALL_METRICS`].
pub fn metric_names(requested: &[String]) -> Vec<String> {
    let names: Vec<String> = requested
        .iter()
        .map(|m| m.trim().to_ascii_lowercase())
        .collect();
    if names.iter().any(|m| m == "all") {
        ALL_METRICS.iter().map(|s| s.to_string()).collect()
    } else {
        names
    }
}
