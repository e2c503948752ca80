//! The error type of the study layer.

use biodis_rundir::RunDirError;
use std::path::PathBuf;

/// Errors of studies: recipes, run directories, engines. Messages name the file, key or value
/// and what was expected; sources are kept in the chain.
#[derive(Debug, thiserror::Error)]
pub enum StudyError {
    #[error(transparent)]
    Recipe(#[from] crate::recipe::RecipeError),
    #[error(transparent)]
    RunDir(#[from] RunDirError),
    /// A run of the study already exists with another configuration.
    #[error("{}: holds run {run} with a different configuration: {diffs}; use another --out, or remove that run's folder to re-run it", dir.display())]
    Conflict {
        dir: PathBuf,
        run: String,
        /// `key: old (in the study) vs new (now)`, `; `-separated.
        diffs: String,
    },
    /// A run's `recipe.toml` that does not read as this kind's configuration.
    #[error("{}: {msg}", path.display())]
    Config { path: PathBuf, msg: String },
    /// A run that cannot fit in memory (refused before anything is allocated).
    #[error("run {run}: {source}")]
    Memory {
        run: String,
        #[source]
        source: crate::mem::TooBig,
    },
    /// A run that failed (its `status.json` says why).
    #[error("{run}: {msg}")]
    Run { run: String, msg: String },
    /// The dense trainer's own error (non-finite loss, divergence).
    #[error(transparent)]
    Dense(#[from] crate::train::RunError),
    /// `run-one --index` out of range.
    #[error("{}: no run with index {index} (the study has {n})", dir.display())]
    NoSuchIndex {
        dir: PathBuf,
        index: usize,
        n: usize,
    },
    /// The Slurm engine.
    #[error("slurm: {0}")]
    Slurm(String),
    /// A claims ledger (a recipe's `[[claim]]` tables, a study's `claims.toml`).
    #[error(transparent)]
    Claims(#[from] crate::claims::ClaimError),
    /// An engine option that does not apply.
    #[error("{0}")]
    Usage(String),
}

impl StudyError {
    /// A failed run's error.
    pub fn run(run: &str, msg: impl std::fmt::Display) -> Self {
        StudyError::Run {
            run: run.to_string(),
            msg: msg.to_string(),
        }
    }
}

/// A run configuration that its types cannot rule out (zero steps, a batch larger than the
/// dataset, a world without objects …): either a value named by its key, or the error of the
/// model crate that checked its own table (kept as the cause).
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// `key = value: expected …`.
    #[error("{0}")]
    Value(String),
    #[error(transparent)]
    Data(#[from] biodis_data::DataError),
    #[error(transparent)]
    World(#[from] biodis_data::gridworld::WorldSpecError),
    #[error(transparent)]
    Constraints(#[from] biodis_nn::constraints::ConstraintError),
    #[error(transparent)]
    Cells(#[from] biodis_cells::CellsError),
    #[error(transparent)]
    Vae(#[from] biodis_vae::VaeError),
    /// The `[metrics]` table (named as written: `metrics.bins = 0: …`).
    #[error("metrics.{0}")]
    Metrics(#[source] biodis_metrics::MetricError),
}

impl From<String> for ConfigError {
    fn from(s: String) -> Self {
        ConfigError::Value(s)
    }
}

impl From<&str> for ConfigError {
    fn from(s: &str) -> Self {
        ConfigError::Value(s.to_string())
    }
}
