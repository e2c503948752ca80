//! The errors of the VAE experiments: a recipe value out of its range, a backend this build
//! lacks, parameters or optimiser state of the wrong size, and an evaluation that cannot score.
//! Messages name the recipe key or the parameter, the value and what is expected.

use biodis_metrics::MetricError;

/// Why a VAE cannot be built, restored or evaluated.
#[derive(Debug, PartialEq, thiserror::Error)]
pub enum VaeError {
    /// A `[train]` or `[vae]` value out of its range.
    #[error("{section}.{key} = {value}: expected {expected}")]
    Invalid {
        /// The recipe table (`train`, `vae`).
        section: &'static str,
        /// The key in it.
        key: &'static str,
        /// The value given.
        value: String,
        /// What is accepted.
        expected: &'static str,
    },
    /// The GPU backend asked of a build without the `gpu` cargo feature.
    #[error(
        "{key} = \"gpu\" needs a build with the `gpu` feature: \
         cargo build --release --features gpu (see the README, GPU section)"
    )]
    NoGpu {
        /// The setting that asked for it (`train.device`, `device`).
        key: &'static str,
    },
    /// A parameter array whose length does not fit the model's parameter.
    #[error("{name}: {got} values, expected {expected} for shape {shape:?}")]
    ParamLength {
        /// The parameter (`conv0.weight`, `enc_fc.bias`, …).
        name: String,
        /// Values given.
        got: usize,
        /// Values of the shape.
        expected: usize,
        /// The parameter's shape.
        shape: Vec<usize>,
    },
    /// Another number of parameter arrays than the model has.
    #[error("{got} parameter arrays, expected {expected}")]
    ParamCount {
        /// Arrays given.
        got: usize,
        /// Arrays of the model.
        expected: usize,
    },
    /// Another number of Adam moment arrays than the model has parameters.
    #[error("{got} Adam moment arrays, expected {expected}")]
    MomentCount {
        /// Arrays given.
        got: usize,
        /// Parameters of the model.
        expected: usize,
    },
    /// Adam moments whose length does not fit their parameter.
    #[error("Adam moments of parameter {index}: expected {expected} values")]
    MomentLength {
        /// The parameter's index.
        index: usize,
        /// Its number of values.
        expected: usize,
    },
    /// A batch whose images or noise do not fit the model.
    #[error("{what}: {got} values, expected {expected}")]
    BatchShape {
        /// What was given (`images`, `eps`, `latents`).
        what: &'static str,
        /// Values given.
        got: usize,
        /// Values the model expects.
        expected: String,
    },
    /// The encoder's means are not finite.
    #[error("the encoder produced NaN/inf means (training diverged)")]
    Diverged,
    /// MIG refused the evaluation sample.
    #[error("MIG: {0}")]
    Mig(#[from] MetricError),
}

impl VaeError {
    /// A [`VaeError::Invalid`] for `section.key = value`.
    pub(crate) fn invalid(
        section: &'static str,
        key: &'static str,
        value: impl ToString,
        expected: &'static str,
    ) -> VaeError {
        VaeError::Invalid {
            section,
            key,
            value: value.to_string(),
            expected,
        }
    }
}
