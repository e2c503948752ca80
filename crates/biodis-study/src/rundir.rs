//! The run-directory contract (DESIGN.md): every run is a directory, written atomically, that
//! everything downstream (report, aggregation, resume) reads.
//!
//! ```text
//! <study>/<run-id>/recipe.toml  status.json  curve.csv  result.json  arrays/*.npy  checkpoint.safetensors
//! ```

use serde::{Deserialize, Serialize};
use std::io::Write;
use std::path::{Path, PathBuf};

/// State of a run in `status.json`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum State {
    Queued,
    Running,
    Done,
    Failed,
}

/// Contents of `status.json`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Status {
    pub state: State,
    /// Last step reached (for `failed`, the step that failed).
    #[serde(default)]
    pub step: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// Loss terms at the failure, when a loss became non-finite.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub loss_terms: Option<biodis_nn::LossTerms>,
    /// Process id of the worker while `running` (filled in by [`RunDir::write_status`]), so
    /// `biodis status` can tell a live run from an interrupted one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pid: Option<u32>,
}

impl Status {
    /// A status with only a state and step.
    pub fn new(state: State, step: u64) -> Self {
        Status {
            state,
            step,
            error: None,
            loss_terms: None,
            pid: None,
        }
    }
}

/// Writes `bytes` to `path` atomically (temporary file in the same directory, fsync, rename).
/// An error names the file (`runs/x/curve.csv: No space left on device`), not just the folder.
pub fn atomic_write(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    atomic_write_inner(path, bytes)
        .map_err(|e| std::io::Error::new(e.kind(), format!("{}: {e}", path.display())))
}

fn atomic_write_inner(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let dir = path.parent().unwrap_or(Path::new("."));
    std::fs::create_dir_all(dir)?;
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().to_string())
        .unwrap_or_default();
    let tmp = dir.join(format!(".{name}.tmp{}", std::process::id()));
    {
        let mut f = std::fs::File::create(&tmp)?;
        f.write_all(bytes)?;
        f.sync_all()?;
    }
    std::fs::rename(&tmp, path).inspect_err(|_| {
        let _ = std::fs::remove_file(&tmp);
    })
}

#[cfg(test)]
mod tests {
    #[test]
    fn write_errors_name_the_file() {
        let d = tempfile::tempdir().unwrap();
        let blocker = d.path().join("file");
        std::fs::write(&blocker, b"x").unwrap();
        // a folder that cannot exist: its parent is a file
        let p = blocker.join("sub").join("result.json");
        let e = super::atomic_write(&p, b"{}").unwrap_err().to_string();
        assert!(e.contains("sub/result.json"), "{e}");
    }
}

/// Paths inside a run directory.
#[derive(Debug, Clone)]
pub struct RunDir {
    pub root: PathBuf,
}

impl RunDir {
    pub fn new(root: PathBuf) -> Self {
        RunDir { root }
    }
    pub fn recipe(&self) -> PathBuf {
        self.root.join("recipe.toml")
    }
    pub fn status(&self) -> PathBuf {
        self.root.join("status.json")
    }
    pub fn curve(&self) -> PathBuf {
        self.root.join("curve.csv")
    }
    pub fn result(&self) -> PathBuf {
        self.root.join("result.json")
    }
    pub fn arrays(&self) -> PathBuf {
        self.root.join("arrays")
    }
    pub fn checkpoint(&self) -> PathBuf {
        self.root.join("checkpoint.safetensors")
    }
    /// The final model parameters of a finished VAE run (`p0`, `p1`, … and `n_params`, `step`).
    pub fn weights(&self) -> PathBuf {
        self.root.join("weights.safetensors")
    }

    /// Reads `status.json`, if present and valid.
    pub fn read_status(&self) -> Option<Status> {
        let t = std::fs::read_to_string(self.status()).ok()?;
        serde_json::from_str(&t).ok()
    }

    /// Writes `status.json` atomically (recording this process's id while running).
    pub fn write_status(&self, s: &Status) -> std::io::Result<()> {
        let mut s = s.clone();
        s.pid = if s.state == State::Running {
            Some(std::process::id())
        } else {
            None
        };
        let j = serde_json::to_vec_pretty(&s).map_err(std::io::Error::other)?;
        atomic_write(&self.status(), &j).or_else(|e| {
            // The atomic write needs room for a second file: on a full disk (or when the
            // temporary file cannot be made) overwrite status.json in place, which the
            // truncation makes room for, so a failing run is never left `running` (and shown
            // `interrupted`). The original error is returned when that fails too.
            std::fs::write(self.status(), &j).map_err(|_| e)
        })
    }
}

/// True if a process with this id exists on this machine (Linux `/proc`).
pub fn pid_alive(pid: u32) -> bool {
    Path::new(&format!("/proc/{pid}")).exists()
}
