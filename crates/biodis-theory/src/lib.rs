//! The paper's theorems checked numerically (Whittington et al. 2023, §2 and App. A.3, A.7).
//!
//! Each check states what it tests, what it expects, what it measured and whether it passed,
//! and justifies its tolerance in its doc comment. Where the paper argues by intuition only
//! (A.3.5 without simplifications) the check reports what it found instead of asserting.
//!
//! Notation (paper): task factors `e ∈ R^k`, independent, mean 0, variance σ², range [−a, a];
//! a representation `z = F e + b` (`M` in Thm 1); read-out `x = W z + b_x` of data `x = D e`.

// Index loops mirror the matrix formulas of the appendix and are kept for readability.
#![allow(clippy::needless_range_loop)]

pub mod checks;
pub mod linalg;
pub mod objective;

pub use checks::{run, Check, Config, Fig1Panel, UnknownCheck, CHECK_NAMES};
