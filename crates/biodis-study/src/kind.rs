//! The study kinds and the run lifecycle written once over them (DESIGN.md, "study kind").
//!
//! A [`StudyKind`] is the extension point, as ripgrep's `Sink` is for search: it names its
//! configuration and result types and says how to train one run (with checkpoint/resume),
//! estimate its memory, read its result back, and write its summary row and table. Everything
//! else — preparing a study directory, recording its kind, extending it with new runs,
//! locking, the worker pool, reading outcomes back from directories, choosing what `resume`
//! re-runs — is written here once, generic over the kind. Dense
//! ([`crate::train::Dense`]), grid-world ([`crate::cells::Cells`]) and VAE
//! ([`crate::vae::Vae`]) implement it; adding a fourth kind means one impl, one [`Kind`]
//! variant and its recipes.

use crate::engine::{plain_progress_wanted, say, steps_bar, PlainProgress};
use crate::StudyError;
use biodis_rundir::{
    atomic_write, clean_stale_temps, read_index, write_index, Kind, Lock, RunDir, RunIdent, State,
    StudyDir,
};
use rayon::prelude::*;
use serde::{de::DeserializeOwned, Serialize};
use std::path::{Path, PathBuf};

/// Progress callback: called with the number of steps just completed.
pub type Progress<'a> = &'a (dyn Fn(u64) + Sync);

/// One kind of study (dense, grid world, VAE).
pub trait StudyKind: Sync + 'static {
    /// The kind recorded in `study.json`.
    const KIND: Kind;
    /// One run's resolved configuration (its `recipe.toml`, with a `[run]` table).
    type Config: Serialize + DeserializeOwned + Clone + Send + Sync;
    /// One run's final numbers (its `result.json`).
    type Result: Send + Sync;

    /// The run's identity (variant, point, seed).
    fn ident(c: &Self::Config) -> &RunIdent;
    /// Training steps of the run (for progress).
    fn steps(c: &Self::Config) -> u64;
    /// Estimated peak memory of the run, in bytes.
    fn estimate_bytes(c: &Self::Config) -> u128;
    /// The run's memory check against `available` bytes (`None`: no check); the message says
    /// which keys to reduce.
    fn check_fits(c: &Self::Config, available: Option<u64>) -> Result<(), crate::mem::TooBig>;
    /// Trains the run into `dir` (or resumes it from its checkpoint, or returns its result when
    /// it is done). Every error leaves the run `failed` with its message.
    fn train(
        dir: &RunDir,
        c: &Self::Config,
        progress: Progress,
    ) -> Result<Self::Result, StudyError>;
    /// Reads a run's `result.json`: `None` when missing, an error when damaged.
    fn read_result(dir: &RunDir) -> Result<Option<Self::Result>, StudyError>;
    /// Writes the study's `summary.csv` (one row per run, `runs` and `outcomes` in index order).
    fn write_summary(
        study: &Path,
        runs: &[Self::Config],
        outcomes: &[Outcome<Self::Result>],
    ) -> Result<(), StudyError>;
    /// The per-variant table printed at the end of a study.
    fn summary_table(outcomes: &[Outcome<Self::Result>]) -> String;
    /// Runs at a time when `--jobs` is not given (`None`: one per core).
    fn default_jobs() -> Option<usize> {
        None
    }
}

/// The groups (variant plus sweep point) of `outcomes` in the order they first appear.
pub fn variant_order<R>(outcomes: &[Outcome<R>]) -> Vec<String> {
    let mut order: Vec<String> = Vec::new();
    for o in outcomes {
        if !order.contains(&o.variant) {
            order.push(o.variant.clone());
        }
    }
    order
}

/// Outcome of one run of a study.
#[derive(Debug)]
pub struct Outcome<R> {
    pub run_id: String,
    /// Aggregation group: the variant, plus the sweep point if any.
    pub variant: String,
    pub seed: u64,
    pub dir: PathBuf,
    pub result: Result<R, String>,
}

fn run_id<K: StudyKind>(c: &K::Config) -> String {
    K::ident(c).run_id()
}

/// The keys whose values differ between two run configurations, as
/// `key: a (in the study) vs b (now)`. `study.seeds` and `study.description` are not part of a
/// run's configuration (a study extended with more seeds keeps its runs).
pub fn config_diffs(old: &toml::Table, new: &toml::Table) -> Vec<String> {
    let flat = |t: &toml::Table| -> Vec<(String, String)> {
        crate::recipe::flatten(t, "")
            .into_iter()
            .map(|(k, v)| (k, v.to_string()))
            .collect()
    };
    let (a, b) = (flat(old), flat(new));
    let ignored = ["study.seeds", "study.description"];
    let mut keys: Vec<&String> = a.iter().chain(&b).map(|(k, _)| k).collect();
    keys.sort();
    keys.dedup();
    keys.into_iter()
        .filter(|k| !ignored.contains(&k.as_str()))
        .filter_map(|k| {
            let get =
                |v: &[(String, String)]| v.iter().find(|(x, _)| x == k).map(|(_, v)| v.clone());
            let (x, y) = (get(&a), get(&b));
            (x != y).then(|| {
                format!(
                    "{k}: {} (in the study) vs {} (now)",
                    x.unwrap_or_else(|| "unset".into()),
                    y.unwrap_or_else(|| "unset".into())
                )
            })
        })
        .collect()
}

/// Whether `existing` (a run's `recipe.toml`) is `text`'s configuration once read as a `C` —
/// serde's defaults filling the keys added after it was written — and written back. A damaged
/// or foreign file is not the same.
pub(crate) fn same_config<C: Serialize + DeserializeOwned>(existing: &str, text: &str) -> bool {
    toml::from_str::<C>(existing)
        .ok()
        .and_then(|c| toml::to_string_pretty(&c).ok())
        .is_some_and(|t| t == text)
}

/// Prepares `study` for `runs`: records the kind (`study.json`; a study of another kind is an
/// error), creates each run's directory with its `recipe.toml` (an existing run with another
/// configuration is [`StudyError::Conflict`] naming the keys) and a `queued` status where there
/// is none, and extends `runs.json`. Returns the study's full run list in index order (the
/// runs already there, then the new ones), read back from the directories.
pub fn prepare<K: StudyKind>(
    study: &Path,
    runs: &[K::Config],
) -> Result<Vec<K::Config>, StudyError> {
    let sd = StudyDir::new(study);
    std::fs::create_dir_all(study).map_err(|e| biodis_rundir::RunDirError::io(study, e))?;
    sd.init(K::KIND)?;
    for cfg in runs {
        let id = run_id::<K>(cfg);
        let rd = sd.run(&id);
        std::fs::create_dir_all(&rd.root)
            .map_err(|e| biodis_rundir::RunDirError::io(&rd.root, e))?;
        let text = toml::to_string_pretty(cfg).map_err(|e| StudyError::Config {
            path: rd.recipe(),
            msg: e.to_string(),
        })?;
        match std::fs::read_to_string(rd.recipe()) {
            // a recipe written by an older version lacks the keys added since (each defaulting
            // to the old behaviour): read through the configuration type, it is the same run
            Ok(existing) if existing != text && !same_config::<K::Config>(&existing, &text) => {
                let old: toml::Table =
                    existing
                        .parse()
                        .map_err(|e: toml::de::Error| StudyError::Config {
                            path: rd.recipe(),
                            msg: format!("damaged ({e})"),
                        })?;
                let new: toml::Table =
                    text.parse()
                        .map_err(|e: toml::de::Error| StudyError::Config {
                            path: rd.recipe(),
                            msg: e.to_string(),
                        })?;
                let diffs = config_diffs(&old, &new);
                if !diffs.is_empty() {
                    return Err(StudyError::Conflict {
                        dir: study.to_path_buf(),
                        run: id,
                        diffs: diffs.join("; "),
                    });
                }
            }
            Ok(_) => {}
            Err(_) => atomic_write(&rd.recipe(), text.as_bytes())?,
        }
        if rd.read_status().is_none() {
            rd.write_status(&biodis_rundir::Status::new(State::Queued, 0))?;
        }
    }
    let ids: Vec<String> = runs.iter().map(run_id::<K>).collect();
    write_index(study, &ids)?;
    load::<K>(study)
}

/// Reads a study's run configurations back (each run's `recipe.toml`, in `runs.json` order).
pub fn load<K: StudyKind>(study: &Path) -> Result<Vec<K::Config>, StudyError> {
    read_index(study)?
        .iter()
        .map(|e| {
            let p = study.join(&e.run_id).join("recipe.toml");
            let t = std::fs::read_to_string(&p).map_err(|err| {
                if err.kind() == std::io::ErrorKind::NotFound {
                    // a run directory deleted or not copied: say what the index claims and
                    // how to get the run back, rather than a bare "no such file"
                    StudyError::Config {
                        path: p.clone(),
                        msg: format!(
                            "missing: {} lists run `{}` but its directory has no recipe.toml \
                             (deleted or not copied?); request the run again (--variants / \
                             --seeds) to re-create it, or restore its directory",
                            study.join("runs.json").display(),
                            e.run_id
                        ),
                    }
                } else {
                    biodis_rundir::RunDirError::io(&p, err).into()
                }
            })?;
            toml::from_str::<K::Config>(&t).map_err(|err| StudyError::Config {
                path: p.clone(),
                msg: format!(
                    "not a {} run's configuration: {}",
                    K::KIND.label(),
                    err.to_string().trim()
                ),
            })
        })
        .collect()
}

/// Leaves the run in `dir` `failed` with the error's message when `r` is an error and the
/// trainer has not already recorded the failure (a non-finite loss records its loss terms), so
/// that no error leaves a run `running` (shown `interrupted`). Returns `r`.
pub fn leave_failed_on_error<R, E: std::fmt::Display>(
    dir: &RunDir,
    r: Result<R, E>,
) -> Result<R, E> {
    if let Err(e) = &r {
        let st = dir.read_status();
        if !matches!(&st, Some(s) if s.state == State::Failed) {
            let step = st.map(|s| s.step).unwrap_or(0);
            let _ = dir.write_status(&biodis_rundir::Status::failed(step, e.to_string()));
        }
    }
    r
}

/// Runs one run under its lock: a run that another live process is training is left alone
/// (an error, its status untouched); a done run with a readable result is not trained again.
pub fn run_locked<K: StudyKind>(
    dir: &RunDir,
    cfg: &K::Config,
    progress: Progress,
) -> Result<K::Result, StudyError> {
    let _lock = Lock::acquire(&dir.lock_path(), "the run")?;
    clean_stale_temps(&dir.root);
    clean_stale_temps(&dir.arrays());
    if dir.is_done() {
        if let Ok(Some(r)) = K::read_result(dir) {
            progress(K::steps(cfg));
            return Ok(r);
        }
    }
    K::train(dir, cfg, progress)
}

/// The local engine: trains `todo` (runs of the prepared study) on `jobs` worker threads (one
/// thread per run) with one progress bar in steps. A failed run is reported and does not stop
/// the others. Returns each run's outcome, in the order of `todo`.
pub fn run_local<K: StudyKind>(
    study: &Path,
    todo: &[K::Config],
    jobs: usize,
    show_progress: bool,
) -> Result<Vec<Outcome<K::Result>>, StudyError> {
    let total: u64 = todo.iter().map(K::steps).sum();
    let (_mp, bar) = steps_bar(total, show_progress);
    let done = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let n_runs = todo.len();
    let plain = plain_progress_wanted(show_progress)
        .then(|| PlainProgress::start(String::new(), bar.clone(), done.clone(), n_runs));
    bar.set_message(format!("runs 0/{n_runs}"));
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(jobs.max(1))
        .build()
        .map_err(|e| StudyError::Usage(format!("cannot start {jobs} worker threads: {e}")))?;
    let out = pool.install(|| {
        todo.par_iter()
            .map(|cfg| {
                let id = run_id::<K>(cfg);
                let dir = study.join(&id);
                let pb = bar.clone();
                let res = run_locked::<K>(&RunDir::new(dir.clone()), cfg, &move |n| pb.inc(n))
                    .map_err(|e| e.to_string());
                if let Err(e) = &res {
                    say(&bar, format!("run {id} failed: {e}"));
                }
                let k = done.fetch_add(1, std::sync::atomic::Ordering::Relaxed) + 1;
                bar.set_message(format!("runs {k}/{n_runs}"));
                let ident = K::ident(cfg);
                Outcome {
                    run_id: id,
                    variant: ident.group(),
                    seed: ident.seed,
                    dir,
                    result: res,
                }
            })
            .collect()
    });
    drop(plain);
    bar.finish_and_clear();
    Ok(out)
}

/// Every run's outcome read back from its directory (for the summary after any engine).
pub fn outcomes<K: StudyKind>(study: &Path, runs: &[K::Config]) -> Vec<Outcome<K::Result>> {
    runs.iter()
        .map(|cfg| {
            let id = run_id::<K>(cfg);
            let rd = RunDir::new(study.join(&id));
            let result = match rd.read_status() {
                Some(st) if st.state == State::Done => match K::read_result(&rd) {
                    Ok(Some(r)) => Ok(r),
                    Ok(None) => Err(format!("done but {} is missing", rd.result().display())),
                    Err(e) => Err(e.to_string()),
                },
                Some(st) if st.state == State::Failed => {
                    Err(st.error.unwrap_or_else(|| "failed".into()))
                }
                Some(st) => Err(format!(
                    "did not finish ({} at step {})",
                    st.shown_state(),
                    st.step
                )),
                None => Err("no status.json".into()),
            };
            let ident = K::ident(cfg);
            Outcome {
                run_id: id,
                variant: ident.group(),
                seed: ident.seed,
                dir: rd.root,
                result,
            }
        })
        .collect()
}

/// The runs `resume` trains again: every run not `done`, and every `done` run whose
/// `result.json` is missing or damaged (with a warning on stderr).
pub fn unfinished<K: StudyKind>(study: &Path, runs: &[K::Config]) -> Vec<K::Config> {
    runs.iter()
        .filter(|c| {
            let id = run_id::<K>(c);
            let rd = RunDir::new(study.join(&id));
            if !rd.is_done() {
                return true;
            }
            match K::read_result(&rd) {
                Ok(Some(_)) => false,
                Ok(None) => {
                    eprintln!(
                        "warning: {id}: done but {} is missing; re-running it",
                        rd.result().display()
                    );
                    true
                }
                Err(e) => {
                    eprintln!("warning: {id}: {e}; re-running it");
                    true
                }
            }
        })
        .cloned()
        .collect()
}

/// The end of a study: reads every run's outcome back, writes `summary.csv`, and returns the
/// table and the number of runs that failed or did not finish.
pub fn finish<K: StudyKind>(
    study: &Path,
    all: &[K::Config],
) -> Result<(String, usize), StudyError> {
    let outs = outcomes::<K>(study, all);
    K::write_summary(study, all, &outs)?;
    let failed = outs.iter().filter(|o| o.result.is_err()).count();
    Ok((K::summary_table(&outs), failed))
}

/// Refuses a study whose largest run cannot fit in this machine's memory, before any run
/// starts (each run checks again when it starts); warns when `jobs` runs at a time may not.
pub fn check_memory<K: StudyKind>(runs: &[K::Config], jobs: usize) -> Result<(), StudyError> {
    let avail = crate::mem::available_bytes();
    let Some(r) = runs.iter().max_by_key(|r| K::estimate_bytes(r)) else {
        return Ok(());
    };
    K::check_fits(r, avail).map_err(|source| StudyError::Memory {
        run: run_id::<K>(r),
        source,
    })?;
    if let Some(a) = avail {
        let est = K::estimate_bytes(r);
        let par = jobs.min(runs.len()) as u128;
        if par > 1 && est.saturating_mul(par) > a as u128 {
            eprintln!(
                "warning: {par} runs at a time may need about {} of memory ({} each) but {} is available; consider a smaller --jobs",
                crate::mem::fmt_bytes(est.saturating_mul(par)),
                crate::mem::fmt_bytes(est),
                crate::mem::fmt_bytes(a as u128)
            );
        }
    }
    Ok(())
}

/// Runs the runs `indices` of a prepared study in this process, one after another (what a
/// Slurm array task executes: one index, or several with `--runs-per-task`). Every run is
/// tried; the error lists those that failed.
pub fn run_indices<K: StudyKind>(study: &Path, indices: &[usize]) -> Result<(), StudyError> {
    let runs = load::<K>(study)?;
    let mut failed = Vec::new();
    for &index in indices {
        let cfg = runs.get(index).ok_or_else(|| StudyError::NoSuchIndex {
            dir: study.to_path_buf(),
            index,
            n: runs.len(),
        })?;
        let rd = RunDir::new(study.join(run_id::<K>(cfg)));
        crate::slurm::record_task(&rd.root, study);
        if let Err(e) = run_locked::<K>(&rd, cfg, &|_| {}) {
            eprintln!("run {} (index {index}) failed: {e}", run_id::<K>(cfg));
            failed.push(run_id::<K>(cfg));
        }
    }
    if failed.is_empty() {
        Ok(())
    } else {
        Err(StudyError::run(
            &failed.join(", "),
            "failed (see their status.json)",
        ))
    }
}

/// Reads a JSON file of type `T`: `None` when it is missing, [`StudyError::RunDir`] naming the
/// file when it is damaged.
pub fn read_json<T: DeserializeOwned>(p: &Path) -> Result<Option<T>, StudyError> {
    match std::fs::read_to_string(p) {
        Ok(t) => serde_json::from_str(&t)
            .map(Some)
            .map_err(|e| biodis_rundir::RunDirError::damaged(p, e).into()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(biodis_rundir::RunDirError::io(p, e).into()),
    }
}
