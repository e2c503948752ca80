//! Dense networks with the biological constraints of Whittington et al. (2023).
//!
//! - [`constraints`]: `nonneg` (relu | hinge | none), `activity_energy`, `weight_energy`, and the
//!   comparison terms `sparsity_l1`, `weight_l1` (paper §2–3, App. A.5, A.6).
//! - [`mlp`]: sequential MLPs with hand-derived gradients (no autodiff framework: the
//!   project's measured bake-off, whose notes are not in this repository, shows this path
//!   2–5× faster than JAX on the paper's small networks).
//! - [`optim`]: Adam as PyTorch and the learning-rate schedules.
//! - [`kernels`]: which GEMM kernels and elementwise code paths this CPU runs, and threads per
//!   product.
//! - [`checkpoint`]: safetensors checkpoints for exact resume.
//! - [`mechanism`]: the activity energy's cross term (App. A.3.1) against the minibatch
//!   gradient noise, measured along training.
//!
//! Everything is generic over [`scalar::Scalar`] (`f32` for training, `f64` for gradient
//! checks).

pub mod checkpoint;
pub mod constraints;
pub mod kernels;
pub mod mechanism;
#[allow(unsafe_code, reason = "AVX2/FMA kernels; the raw-pointer gemm crate")]
pub mod mlp;
#[allow(unsafe_code, reason = "AVX2/FMA kernels; the raw-pointer gemm crate")]
pub mod optim;
#[allow(unsafe_code, reason = "AVX2/FMA kernels; the raw-pointer gemm crate")]
pub mod scalar;

pub use constraints::{Constraints, Layers, Nonneg, Normalisation};
pub use mlp::{Activation, Head, LossTerms, Mlp, MlpSpec, Reduction};
pub use optim::{Adam, Schedule};
pub use scalar::Scalar;

#[cfg(test)]
mod gradcheck;
