//! Study and run directories: their paths, `study.json` (kind and schema version), `runs.json`
//! (the run index) and each run's `status.json`.

use crate::{atomic_write, RunDirError, State, Status, SCHEMA_VERSION};
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};

/// The kind of a study: which trainer made its runs and how its files read.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Kind {
    /// Dense networks on factor tasks (Figs 2–4, 8, 9, 11).
    Dense,
    /// The grid-world cell-type model (Figs 6, 7, 14).
    Cells,
    /// The conv VAE on images (Figs 5, 12, 13).
    Vae,
}

impl Kind {
    /// The name written in `study.json`: `dense`, `cells` or `vae`.
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Dense => "dense",
            Kind::Cells => "cells",
            Kind::Vae => "vae",
        }
    }
    /// A name for messages: `dense`, `grid-world`, `VAE`.
    pub fn label(self) -> &'static str {
        match self {
            Kind::Dense => "dense",
            Kind::Cells => "grid-world",
            Kind::Vae => "VAE",
        }
    }
    fn parse(s: &str) -> Option<Kind> {
        match s.trim() {
            "dense" => Some(Kind::Dense),
            "cells" => Some(Kind::Cells),
            "vae" => Some(Kind::Vae),
            _ => None,
        }
    }
}

impl std::fmt::Display for Kind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.label())
    }
}

/// `study.json`: what a study directory is. Its `schema_version` is the layout version of every
/// file of the study (`runs.json`, `summary.csv`, the run directories).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StudyInfo {
    pub schema_version: u32,
    pub kind: Kind,
    /// The biodis version that created the study.
    #[serde(default)]
    pub created_by: String,
}

impl StudyInfo {
    /// A study of `kind` made by this build.
    pub fn new(kind: Kind) -> Self {
        StudyInfo {
            schema_version: SCHEMA_VERSION,
            kind,
            created_by: format!("biodis {}", env!("CARGO_PKG_VERSION")),
        }
    }
}

/// One entry of `runs.json`: a run's index (what `biodis run-one --index` and a Slurm array
/// task name) and its id (its folder).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RunEntry {
    pub index: usize,
    pub run_id: String,
}

/// Paths of a study directory.
#[derive(Debug, Clone)]
pub struct StudyDir {
    pub root: PathBuf,
}

impl StudyDir {
    pub fn new(root: impl Into<PathBuf>) -> Self {
        StudyDir { root: root.into() }
    }
    /// `study.json`.
    pub fn info_path(&self) -> PathBuf {
        self.root.join("study.json")
    }
    /// `runs.json`.
    pub fn index_path(&self) -> PathBuf {
        self.root.join("runs.json")
    }
    /// `summary.csv`.
    pub fn summary(&self) -> PathBuf {
        self.root.join("summary.csv")
    }
    /// `figures/`.
    pub fn figures(&self) -> PathBuf {
        self.root.join("figures")
    }
    /// `report.html`.
    pub fn report(&self) -> PathBuf {
        self.root.join("report.html")
    }
    /// `.biodis.lock`.
    pub fn lock_path(&self) -> PathBuf {
        self.root.join(".biodis.lock")
    }
    /// The directory of run `run_id`.
    pub fn run(&self, run_id: &str) -> RunDir {
        RunDir::new(self.root.join(run_id))
    }

    /// What the study is: `study.json`, else (studies made before it existed) the old `kind`
    /// file, else `dense` when `runs.json` exists. `Ok(None)`: not a study.
    pub fn info(&self) -> Result<Option<StudyInfo>, RunDirError> {
        let p = self.info_path();
        match std::fs::read_to_string(&p) {
            Ok(t) => {
                let v: serde_json::Value =
                    serde_json::from_str(&t).map_err(|e| RunDirError::damaged(&p, e))?;
                let found = v
                    .get("schema_version")
                    .and_then(|x| x.as_u64())
                    .unwrap_or(0) as u32;
                if found > SCHEMA_VERSION {
                    return Err(RunDirError::NewerSchema {
                        path: p,
                        found,
                        supported: SCHEMA_VERSION,
                    });
                }
                serde_json::from_value(v)
                    .map(Some)
                    .map_err(|e| RunDirError::damaged(&p, e))
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                if let Ok(k) = std::fs::read_to_string(self.root.join("kind")) {
                    let kind = Kind::parse(&k).ok_or_else(|| {
                        RunDirError::damaged(
                            self.root.join("kind"),
                            format!("'{}': expected dense, cells or vae", k.trim()),
                        )
                    })?;
                    return Ok(Some(StudyInfo {
                        schema_version: 1,
                        kind,
                        created_by: String::new(),
                    }));
                }
                if self.index_path().is_file() {
                    return Ok(Some(StudyInfo {
                        schema_version: 1,
                        kind: Kind::Dense,
                        created_by: String::new(),
                    }));
                }
                Ok(None)
            }
            Err(e) => Err(RunDirError::io(p, e)),
        }
    }

    /// The study's kind, or an error saying the folder is not a study.
    pub fn kind(&self) -> Result<Kind, RunDirError> {
        self.info()?.map(|i| i.kind).ok_or_else(|| {
            RunDirError::damaged(
                self.index_path(),
                "not found: not a study directory made by `biodis run`",
            )
        })
    }

    /// Records the study's kind in `study.json`: a new study gets one; an existing study of
    /// another kind is [`RunDirError::WrongKind`]; a study of the same kind written before
    /// `study.json` existed gets one (its old `kind` file is kept for older readers).
    pub fn init(&self, kind: Kind) -> Result<StudyInfo, RunDirError> {
        match self.info()? {
            Some(i) if i.kind != kind => Err(RunDirError::WrongKind {
                dir: self.root.clone(),
                found: i.kind.label().into(),
                wanted: kind.label().into(),
            }),
            Some(i) if self.info_path().is_file() => Ok(i),
            _ => {
                let i = StudyInfo::new(kind);
                let j = serde_json::to_vec_pretty(&i)
                    .map_err(|e| RunDirError::damaged(self.info_path(), e))?;
                atomic_write(&self.info_path(), &j)?;
                Ok(i)
            }
        }
    }
}

/// Reads `runs.json` (the full run list, in index order).
pub fn read_index(study: &Path) -> Result<Vec<RunEntry>, RunDirError> {
    let p = study.join("runs.json");
    let text = std::fs::read_to_string(&p).map_err(|e| {
        RunDirError::io(
            &p,
            std::io::Error::new(
                e.kind(),
                format!("{e} (not a study directory made by `biodis run`?)"),
            ),
        )
    })?;
    let entries: Vec<RunEntry> =
        serde_json::from_str(&text).map_err(|e| RunDirError::damaged(&p, e))?;
    for (i, e) in entries.iter().enumerate() {
        if e.index != i {
            return Err(RunDirError::damaged(
                &p,
                format!("entry {i} has index {} (expected {i})", e.index),
            ));
        }
    }
    Ok(entries)
}

/// Writes `runs.json` whole: the existing entries keep their indices, and the ids of `runs`
/// not yet listed are appended in order (a study is only ever extended, never shrunk, so a
/// Slurm task's index always names the same run). Returns the full list.
pub fn write_index(study: &Path, runs: &[String]) -> Result<Vec<RunEntry>, RunDirError> {
    let p = study.join("runs.json");
    let mut entries = if p.exists() {
        read_index(study)?
    } else {
        Vec::new()
    };
    let before = entries.len();
    for id in runs {
        if !entries.iter().any(|e| &e.run_id == id) {
            entries.push(RunEntry {
                index: entries.len(),
                run_id: id.clone(),
            });
        }
    }
    if entries.len() != before || !p.exists() {
        let j = serde_json::to_vec_pretty(&entries).map_err(|e| RunDirError::damaged(&p, e))?;
        atomic_write(&p, &j)?;
    }
    Ok(entries)
}

/// Paths inside a run directory, and its `status.json`.
#[derive(Debug, Clone)]
pub struct RunDir {
    pub root: PathBuf,
}

impl RunDir {
    pub fn new(root: PathBuf) -> Self {
        RunDir { root }
    }
    /// `recipe.toml`: the run's resolved configuration.
    pub fn recipe(&self) -> PathBuf {
        self.root.join("recipe.toml")
    }
    /// `status.json`.
    pub fn status(&self) -> PathBuf {
        self.root.join("status.json")
    }
    /// `curve.csv`.
    pub fn curve(&self) -> PathBuf {
        self.root.join("curve.csv")
    }
    /// `result.json`.
    pub fn result(&self) -> PathBuf {
        self.root.join("result.json")
    }
    /// `arrays/`.
    pub fn arrays(&self) -> PathBuf {
        self.root.join("arrays")
    }
    /// `checkpoint.safetensors`: the resume point.
    pub fn checkpoint(&self) -> PathBuf {
        self.root.join("checkpoint.safetensors")
    }
    /// The final model parameters of a finished VAE run (`p0`, `p1`, … and `n_params`, `step`).
    pub fn weights(&self) -> PathBuf {
        self.root.join("weights.safetensors")
    }
    /// `.lock`: held while a process trains the run.
    pub fn lock_path(&self) -> PathBuf {
        self.root.join(".lock")
    }

    /// Reads `status.json`, if present and valid.
    pub fn read_status(&self) -> Option<Status> {
        let t = std::fs::read_to_string(self.status()).ok()?;
        serde_json::from_str(&t).ok()
    }

    /// True when the run is `done`.
    pub fn is_done(&self) -> bool {
        matches!(self.read_status(), Some(s) if s.state == State::Done)
    }

    /// Writes `status.json` atomically, with the schema version, and this process's id and host
    /// while `running`.
    pub fn write_status(&self, s: &Status) -> Result<(), RunDirError> {
        let mut s = s.clone();
        (s.pid, s.host) = if s.state == State::Running {
            (Some(std::process::id()), Some(crate::hostname()))
        } else {
            (None, None)
        };
        let mut v = serde_json::to_value(&s).map_err(|e| RunDirError::damaged(self.status(), e))?;
        if let Some(o) = v.as_object_mut() {
            o.insert("schema_version".into(), SCHEMA_VERSION.into());
        }
        let j =
            serde_json::to_vec_pretty(&v).map_err(|e| RunDirError::damaged(self.status(), e))?;
        atomic_write(&self.status(), &j).or_else(|e| {
            // The atomic write needs room for a second file: on a full disk (or when the
            // temporary file cannot be made) overwrite status.json in place, which the
            // truncation makes room for, so a failing run is never left `running` (and shown
            // `interrupted`). The original error is returned when that fails too.
            std::fs::write(self.status(), &j).map_err(|_| e)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `runs.json` is only ever extended: writing a subset keeps every run, new runs are
    /// appended with new indices, and the indices of old runs never move.
    #[test]
    fn the_index_is_only_extended() {
        let d = tempfile::tempdir().unwrap();
        let ids = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        write_index(d.path(), &ids(&["a-s0", "b-s0"])).unwrap();
        let e = write_index(d.path(), &ids(&["b-s0"])).unwrap();
        assert_eq!(e.len(), 2);
        let e = write_index(d.path(), &ids(&["a-s0", "a-s1", "b-s0", "b-s1"])).unwrap();
        let got: Vec<(usize, &str)> = e.iter().map(|e| (e.index, e.run_id.as_str())).collect();
        assert_eq!(got, [(0, "a-s0"), (1, "b-s0"), (2, "a-s1"), (3, "b-s1")]);
        assert_eq!(read_index(d.path()).unwrap(), e);
        let e = write_index(d.path(), &[]).unwrap();
        assert_eq!(e.len(), 4);
    }

    #[test]
    fn kinds_are_recorded_and_legacy_studies_read() {
        let d = tempfile::tempdir().unwrap();
        let s = StudyDir::new(d.path());
        assert!(s.info().unwrap().is_none());
        std::fs::write(d.path().join("kind"), "cells\n").unwrap();
        assert_eq!(s.kind().unwrap(), Kind::Cells);
        let e = s.init(Kind::Vae).unwrap_err().to_string();
        assert!(e.contains("holds a grid-world study, not a VAE one"), "{e}");
        s.init(Kind::Cells).unwrap();
        assert!(s.info_path().is_file());
        assert_eq!(s.kind().unwrap(), Kind::Cells);
        std::fs::write(s.info_path(), r#"{"schema_version": 99, "kind": "dense"}"#).unwrap();
        let e = s.info().unwrap_err().to_string();
        assert!(e.contains("schema version 99 is newer"), "{e}");
    }

    #[test]
    fn status_records_pid_host_and_schema_while_running() {
        let d = tempfile::tempdir().unwrap();
        let r = RunDir::new(d.path().join("r"));
        r.write_status(&Status::new(State::Running, 3)).unwrap();
        let t = std::fs::read_to_string(r.status()).unwrap();
        assert!(t.contains("\"schema_version\": 1"), "{t}");
        let s = r.read_status().unwrap();
        assert_eq!(s.pid, Some(std::process::id()));
        assert_eq!(s.shown_state(), "running");
        r.write_status(&Status::new(State::Done, 3)).unwrap();
        assert_eq!(r.read_status().unwrap().pid, None);
        assert!(r.is_done());
    }
}
