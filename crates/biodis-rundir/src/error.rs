//! The one error type of the run-directory contract.

use std::path::PathBuf;

/// Errors reading or writing a run directory; every message names the file.
#[derive(Debug, thiserror::Error)]
pub enum RunDirError {
    /// An I/O error on `path`.
    #[error("{}: {source}", path.display())]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// A file that does not parse as what the contract says it holds.
    #[error("{}: damaged ({msg})", path.display())]
    Damaged { path: PathBuf, msg: String },
    /// A file written by a newer biodis.
    #[error("{}: schema version {found} is newer than this biodis understands ({supported}); upgrade biodis", path.display())]
    NewerSchema {
        path: PathBuf,
        found: u32,
        supported: u32,
    },
    /// Another process holds the lock of a study or run directory.
    #[error("{}: {what} is in use by pid {} on host {} since {} (`{}`); wait for it to finish, or, if that process is gone, remove {}", path.display(), holder.pid, holder.host, holder.since, holder.command, path.display())]
    Locked {
        path: PathBuf,
        what: &'static str,
        holder: crate::LockHolder,
    },
    /// `--out` names a folder that is neither empty nor a biodis study.
    #[error("{}: exists and is not a biodis study (it holds {listing}); choose another --out, empty the folder, or pass --force to write into it anyway", dir.display())]
    NotAStudy { dir: PathBuf, listing: String },
    /// A study directory of a different kind than the one asked for.
    #[error("{}: holds a {found} study, not a {wanted} one; choose another --out", dir.display())]
    WrongKind {
        dir: PathBuf,
        found: String,
        wanted: String,
    },
}

impl RunDirError {
    /// An I/O error on `path`.
    pub fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        RunDirError::Io {
            path: path.into(),
            source,
        }
    }
    /// A damaged file at `path`.
    pub fn damaged(path: impl Into<PathBuf>, msg: impl std::fmt::Display) -> Self {
        RunDirError::Damaged {
            path: path.into(),
            msg: msg.to_string(),
        }
    }
}
