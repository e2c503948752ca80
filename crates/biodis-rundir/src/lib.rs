//! The run-directory contract of biodis (DESIGN.md, "Run directory"): what training writes and
//! everything downstream (the engines, `status`, `resume`, the report, the Python loader) reads.
//!
//! ```text
//! <study>/study.json           kind (dense | cells | vae) and schema version
//! <study>/runs.json            the full run list (index → run id); only extended or rewritten whole
//! <study>/.biodis.lock         held while a process works on the study (pid, host)
//! <study>/<run-id>/recipe.toml the run's fully resolved configuration ([run] = its identity)
//! <study>/<run-id>/status.json queued | running | done | failed (+ error)
//! <study>/<run-id>/curve.csv   step, loss terms, metrics at evaluation steps
//! <study>/<run-id>/result.json final metrics (dense: [`dense::RunResult`])
//! <study>/summary.csv          one row per run; figures/, report.html
//! ```
//!
//! Every file is written by [`atomic_write`] or [`atomic_write_with`] (a temporary file in the
//! same folder, fsync, rename; a symlink at the destination is replaced, never followed), so a
//! crash leaves either the old file or the new one, never a truncated one. This crate has no
//! numerical dependencies: it is the vocabulary shared by `biodis-study` (the writing side) and
//! `biodis-report` (the reading side).

pub mod claims;
pub mod dense;
mod error;
mod guard;
mod ident;
mod lock;
pub mod nan;
mod stats;
mod status;
mod study;
mod write;

pub use dense::LossTerms;
pub use error::RunDirError;
pub use guard::{check_out_dir, OutDir};
pub use ident::RunIdent;
pub use lock::{hostname, pid_alive, Lock, LockHolder};
pub use stats::{fmt_mean_se, mean_se, MeanSe};
pub use status::{State, Status};
pub use study::{read_index, write_index, Kind, RunDir, RunEntry, StudyDir, StudyInfo};
pub use write::{
    atomic_write, atomic_write_with, clean_stale_temps, clean_stale_temps_of, temp_path_for,
};

/// Flattens a TOML table of nested tables into `(dotted.path, value)` pairs in key order (how a
/// run's `recipe.toml` is compared and read key by key).
pub fn flatten_toml(t: &toml::Table, prefix: &str) -> Vec<(String, toml::Value)> {
    let mut out = Vec::new();
    for (k, v) in t {
        let key = if prefix.is_empty() {
            k.clone()
        } else {
            format!("{prefix}.{k}")
        };
        match v {
            toml::Value::Table(inner) => out.extend(flatten_toml(inner, &key)),
            _ => out.push((key, v.clone())),
        }
    }
    out
}

/// Version of the run-directory layout written by this build. Readers accept every version
/// up to this one; a newer one is refused with [`RunDirError::NewerSchema`].
pub const SCHEMA_VERSION: u32 = 1;
