//! Studies: recipes (TOML, embedded paper experiments), run directories, training of one run
//! with exact resume, and the local engine (a pool of worker threads) with aggregation.
//!
//! See `DESIGN.md` for the run-directory contract this crate writes.

pub mod cells;
pub mod engine;
pub mod mem;
pub mod nan;
pub mod recipe;
pub mod rundir;
pub mod slurm;
pub mod train;
pub mod vae;

pub use engine::{
    load_study, mean_se, outcomes_from_dirs, prepare_study, run_one, run_study, summary_table,
    write_summary, EngineOptions, Outcome, RunEntry,
};
pub use recipe::{
    expand, expand_variants, locate, override_warnings, paper_recipes, parse_override, split_scope,
    RecipeError, RecipeSource, RunConfig, EMBEDDED, PAPER_EXTRA, SYNTHETIC,
};
pub use rundir::{RunDir, State, Status};
pub use train::{read_curve, read_result, CurveRow, RunResult};
