//! Disentanglement metrics as pure functions on `ndarray` arrays.
//!
//! This crate has no tensor-backend dependency: anyone can score arrays exported from
//! PyTorch or JAX. Each metric is one function with one documented definition, and every
//! result names the versioned definition that produced it (e.g. `mir.whittington2023`).
//!
//! Conventions: arrays are **samples × dimensions** (rows are samples). Accumulation is
//! in `f64`; information is in **nats**.
//!
//! Implemented here (paper App. A.1 and the authors' later code, see
//! `shared/reference/authors-code-and-algorithms.md` §2):
//! - [`discretize::histogram_discretize`] — numpy `histogram` + `digitize` binning.
//! - [`info::mutual_info_score`], [`info::entropy`] — plug-in MI / entropy (scikit-learn's
//!   `mutual_info_score`).
//! - [`mir::mir`] — the mutual information ratio, exactly as the authors compute it, and
//!   [`mir::mir_weights`], its weight-based variant.
//! - disentanglement_lib's metrics, exact to its definitions (anchors §2): [`discrete::mig`],
//!   [`dci::dci`], [`sap::sap`], [`discrete::modularity`], [`explicitness::explicitness`],
//!   [`irs::irs`], [`protocol::factor_vae_score`], [`protocol::beta_vae_score`], and the
//!   unsupervised [`discrete::gaussian_total_correlation`], [`discrete::mean_pairwise_mi`];
//! - [`infom::infom`] (Hsu et al. 2023): MIR's formula on a k-NN MI estimate.
//! - [`bootstrap`]: percentile confidence intervals over samples for any of them.
//! - [`registry`]: every metric above that scores codes against factors, by id, with one call
//!   shape (what `biodis score` and the Python `biodis.score` run).
//! - [`options`]: range checks of every metric option ([`MetricError::BadOption`] names the
//!   option, the value and the accepted range).
//!
//! The learning parts (gradient-boosted trees for DCI, a linear SVC for SAP, logistic regression
//! for BetaVAE/explicitness) are small implementations of scikit-learn's exact formulations
//! (modules [`gbdt`], [`svm`], [`logistic`]), because the available Rust crates do not expose
//! the same objectives and impurity-based importances; each module says where it can differ.

// Index loops mirror the reference formulas (sums over i, k) and are kept for readability.
#![allow(clippy::needless_range_loop)]
// `!(x > 0.0)` is deliberate: it is also true for NaN, which must take the guarded branch.
#![allow(clippy::neg_cmp_op_on_partial_ord, clippy::nonminimal_bool)]

pub mod dci;
pub mod discrete;
pub mod discretize;
pub mod explicitness;
pub mod gbdt;
pub mod info;
pub mod infom;
pub mod irs;
pub mod labels;
pub mod logistic;
pub mod mir;
pub mod options;
pub mod par;
pub mod protocol;
pub mod registry;
pub mod sap;
pub mod score;
pub mod spatial;
pub mod special;
pub mod subsample;
pub mod svm;

pub use labels::FactorKind;
pub use mir::{mir, ActivityStat, MirOptions, MirResult};
pub use score::Score;

/// Errors raised by metric functions on bad input. Messages name what is wrong.
#[derive(Debug, thiserror::Error, PartialEq)]
pub enum MetricError {
    #[error("{what}: expected at least {min} samples, got {got}")]
    TooFewSamples {
        what: String,
        min: usize,
        got: usize,
    },
    #[error("sample counts differ: {a_name} has {a} samples but {b_name} has {b}")]
    SampleMismatch {
        a_name: String,
        a: usize,
        b_name: String,
        b: usize,
    },
    #[error("{what} contains a non-finite value (NaN or Inf) at sample {row}, column {col}")]
    NonFinite {
        what: String,
        row: usize,
        col: usize,
    },
    #[error("{what}: {msg}")]
    Invalid { what: String, msg: String },
    /// A metric option outside its range (see [`options`]).
    #[error("{option} = {value}: expected {expected}")]
    BadOption {
        option: String,
        value: String,
        expected: String,
    },
    /// A metric id that is not in the registry (see [`registry::lookup`]).
    #[error("unknown metric '{id}'; available: {available}")]
    UnknownMetric {
        /// The id asked for.
        id: String,
        /// The valid ids, comma-separated.
        available: String,
    },
}

/// Checks that every entry of `a` is finite, naming `what` and the first bad position.
pub fn check_finite(what: &str, a: ndarray::ArrayView2<f64>) -> Result<(), MetricError> {
    for ((r, c), v) in a.indexed_iter() {
        if !v.is_finite() {
            return Err(MetricError::NonFinite {
                what: what.to_string(),
                row: r,
                col: c,
            });
        }
    }
    Ok(())
}

/// Percentile bootstrap confidence interval of a metric over samples: the metric is
/// recomputed on `n_boot` resamples (rows drawn with replacement, seeded), and the
/// `(α/2, 1 − α/2)` percentiles of the values are returned (resamples on which the metric
/// fails are skipped; `None` if all fail).
pub fn bootstrap<F>(
    codes: ndarray::ArrayView2<f64>,
    factors: ndarray::ArrayView2<f64>,
    n_boot: usize,
    alpha: f64,
    seed: u64,
    metric: F,
) -> Option<(f64, f64)>
where
    F: Fn(ndarray::ArrayView2<f64>, ndarray::ArrayView2<f64>) -> Option<f64>,
{
    let n = codes.nrows();
    let mut rng = special::SplitMix64(seed);
    let mut vals = Vec::new();
    for _ in 0..n_boot {
        let idx: Vec<usize> = (0..n).map(|_| rng.below(n)).collect();
        let c = codes.select(ndarray::Axis(0), &idx);
        let f = factors.select(ndarray::Axis(0), &idx);
        if let Some(v) = metric(c.view(), f.view()) {
            if v.is_finite() {
                vals.push(v);
            }
        }
    }
    if vals.is_empty() {
        return None;
    }
    Some((
        special::percentile(&vals, 100.0 * alpha / 2.0),
        special::percentile(&vals, 100.0 * (1.0 - alpha / 2.0)),
    ))
}
