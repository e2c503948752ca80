//! The grid-world cell-type model of Whittington et al. (2023), §4 and App. A.9: a population
//! code per location, inferred per world by pattern-forming Euler dynamics and learned across
//! worlds, under the biological constraints (nonnegativity, activity and weight energy).
//!
//! - [`model`]: parameters, inference (eqs. 54–55), the weight-step loss (eqs. 45–52) and its
//!   gradient;
//! - [`unroll`]: the weight step through the inference (exact reverse-mode gradients);
//! - [`diag`]: diagnostics of inference and transitions;
//! - [`train`]: the two-stage optimisation over batches of worlds (factorised or entangled task);
//! - [`error`]: [`CellsError`], what setting up a model can refuse;
//! - [`analysis`]: the paper's analyses of a trained model (ratemaps, cross-world stability,
//!   grid scores, object-centred consistency, module cosine distance, patch correlation).

pub mod analysis;
pub mod diag;
pub mod error;
pub mod model;
pub mod train;
pub mod unroll;

pub use error::CellsError;
pub use model::{
    location_fit, location_targets, target_wavelength, CellActivation, CellLoss, CellModel,
    CellsSpec, InferStats, Layout, LocationLoss, LocationTarget, NormMode, Stepper, TransInit,
    WeightStep, ZInit,
};
