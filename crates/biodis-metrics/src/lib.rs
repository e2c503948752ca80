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
//! - [`mir::mir`] — the mutual information ratio, exactly as the authors compute it.

pub mod discretize;
pub mod info;
pub mod mir;

pub use mir::{mir, ActivityStat, MirOptions, MirResult};

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
