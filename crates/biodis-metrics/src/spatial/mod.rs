//! Spatial-cell analyses on arrays: ratemaps, autocorrelograms, grid scores (DeepMind mean and
//! min–max, fixed annulus, opexebo expanding radius), 90° scores, spacing/orientation, shuffle
//! nulls, cross-map stability, population-vector correlation, Skaggs statistics, border score,
//! object-centred maps, patch correlation and readout-weight module separation — the analyses
//! of the paper's grid-world model (§4, Figs 6–7) and of anyone's recorded or simulated cells.
//!
//! Conventions: a map is an `n × n` row-major `&[f64]`, `NaN` = unvisited; lattice coordinates
//! are (column, row). Known pitfalls of the reference tools are fixed and tested: no
//! `nan_to_num` infinities in SACs, NaN (with a reason) for constant/empty maps instead of
//! garbage, and grid scores that work on 16×16 maps.

pub mod gridscore;
pub mod maps;
pub mod null;
pub mod rotate;
pub mod sac;
pub mod stats;

pub use gridscore::{grid_score_opexebo, spacing_orientation, DeepMindScorer, Form, GridScore};
pub use sac::sac;
