//! Studies: recipes (TOML, embedded paper experiments), the study kinds (dense, grid world,
//! VAE) behind one [`StudyKind`] trait, the run lifecycle written once over it (prepare,
//! extend, lock, train with exact resume, read back, summarise), and the local and Slurm
//! engines.
//!
//! The run-directory contract these write is `biodis-rundir` (DESIGN.md, "Run directory").

pub mod cells;
pub mod claims;
pub mod engine;
mod error;
pub mod kind;
pub mod mem;
pub mod recipe;
pub mod request;
pub mod slurm;
pub mod train;
pub mod vae;

pub use biodis_rundir as rundir;
pub use biodis_rundir::{fmt_mean_se, mean_se, Kind, RunDir, RunIdent, State, Status};
pub use error::{ConfigError, StudyError};
pub use kind::{Outcome, StudyKind};
pub use recipe::{
    expand, expand_variants, locate, override_warnings, paper_recipes, parse_override, split_scope,
    RecipeError, RecipeSource, RunConfig, EMBEDDED, PAPER_EXTRA, SYNTHETIC,
};
pub use train::{read_curve, read_result, CurveRow, Dense, RunResult};
