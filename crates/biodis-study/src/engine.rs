//! The local engine: runs every run of a study on a pool of worker threads (one thread per
//! run, `--jobs N` runs at a time), with progress bars, then writes `summary.csv`.
//!
//! A failed run (non-finite loss, I/O error) is recorded in its `status.json` and in the
//! summary; the other runs continue. Re-running the same command skips finished runs and
//! resumes interrupted ones from their checkpoints.
//!
//! Every study directory holds `runs.json` (run index → run id): the contract that lets
//! `biodis run-one STUDY --index I` (a Slurm array task), `biodis status` and `biodis resume`
//! find a run from its directory alone.

use crate::recipe::RunConfig;
use crate::rundir::{atomic_write, RunDir};
use crate::train::{run, RunResult};
use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};
use rayon::prelude::*;
use std::path::{Path, PathBuf};

/// Outcome of one run in a study.
#[derive(Debug)]
pub struct Outcome {
    pub run_id: String,
    /// Aggregation group: the variant, plus the sweep point if any.
    pub variant: String,
    pub seed: u64,
    pub dir: PathBuf,
    pub result: Result<RunResult, String>,
}

/// Options of [`run_study`].
#[derive(Debug, Clone)]
pub struct EngineOptions {
    /// Runs at a time (each single-threaded).
    pub jobs: usize,
    /// Show progress bars (stderr).
    pub progress: bool,
}

/// One entry of `runs.json`.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct RunEntry {
    pub index: usize,
    pub run_id: String,
}

/// Creates every run directory with its resolved `recipe.toml` and a `queued` status (runs
/// already present with the same configuration keep their state; a different configuration is
/// an error), and writes `runs.json` (kept as it is when it already lists every run, so running
/// a subset of a study never shrinks its index).
pub fn prepare_study(study_dir: &Path, runs: &[RunConfig]) -> Result<(), String> {
    prepare_runs(study_dir, runs, |c| c.run_id())
}

/// [`prepare_study`] for any run configuration type (dense or grid-world): one directory per
/// run named by `id`, its `recipe.toml` (an existing different one is an error), a `queued`
/// status where there is none, and `runs.json`.
pub fn prepare_runs<C: serde::Serialize>(
    study_dir: &Path,
    runs: &[C],
    id: impl Fn(&C) -> String,
) -> Result<(), String> {
    std::fs::create_dir_all(study_dir).map_err(|e| format!("{}: {e}", study_dir.display()))?;
    let mut entries = Vec::new();
    for (i, cfg) in runs.iter().enumerate() {
        let rd = RunDir::new(study_dir.join(id(cfg)));
        std::fs::create_dir_all(&rd.root).map_err(|e| format!("{}: {e}", rd.root.display()))?;
        let text = toml::to_string_pretty(cfg).map_err(|e| e.to_string())?;
        match std::fs::read_to_string(rd.recipe()) {
            Ok(existing) if existing != text => {
                return Err(format!(
                    "{} holds a run with a different configuration; use another --out directory or remove it",
                    rd.root.display()
                ))
            }
            Ok(_) => {}
            Err(_) => atomic_write(&rd.recipe(), text.as_bytes()).map_err(|e| e.to_string())?,
        }
        if rd.read_status().is_none() {
            rd.write_status(&crate::rundir::Status::new(crate::rundir::State::Queued, 0))
                .map_err(|e| format!("{}: {e}", rd.status().display()))?;
        }
        entries.push(RunEntry {
            index: i,
            run_id: id(cfg),
        });
    }
    // a subset of an existing study (what `resume` runs) keeps the study's whole index
    let existing: Option<Vec<RunEntry>> = std::fs::read_to_string(study_dir.join("runs.json"))
        .ok()
        .and_then(|t| serde_json::from_str(&t).ok());
    if let Some(ex) = existing {
        if entries
            .iter()
            .all(|e| ex.iter().any(|x| x.run_id == e.run_id))
        {
            return Ok(());
        }
    }
    let j = serde_json::to_vec_pretty(&entries).map_err(|e| e.to_string())?;
    atomic_write(&study_dir.join("runs.json"), &j).map_err(|e| e.to_string())
}

/// Reads a study back from its directory: every run's configuration, in index order.
pub fn load_study(study_dir: &Path) -> Result<Vec<RunConfig>, String> {
    load_configs(study_dir)
}

/// Reads a study's run configurations back (each run's `recipe.toml`, in `runs.json` order),
/// whatever the study kind.
pub fn load_configs<C: serde::de::DeserializeOwned>(study_dir: &Path) -> Result<Vec<C>, String> {
    let rp = study_dir.join("runs.json");
    let text = std::fs::read_to_string(&rp).map_err(|e| {
        format!(
            "{}: {e} (not a study directory made by `biodis run`?)",
            rp.display()
        )
    })?;
    let entries: Vec<RunEntry> =
        serde_json::from_str(&text).map_err(|e| format!("{}: {e}", rp.display()))?;
    entries
        .iter()
        .map(|e| {
            let p = study_dir.join(&e.run_id).join("recipe.toml");
            let t = std::fs::read_to_string(&p).map_err(|err| format!("{}: {err}", p.display()))?;
            toml::from_str::<C>(&t).map_err(|err| format!("{}: {err}", p.display()))
        })
        .collect()
}

/// True when `study_dir`'s `kind` file names `kind` (studies of the in-process kinds).
pub fn is_kind_study(study_dir: &Path, kind: &str) -> bool {
    std::fs::read_to_string(study_dir.join("kind"))
        .map(|s| s.trim() == kind)
        .unwrap_or(false)
}

/// Runs run `index` of the study in `study_dir` in this process (a Slurm array task).
pub fn run_one(study_dir: &Path, index: usize) -> Result<RunResult, String> {
    let runs = load_study(study_dir)?;
    let cfg = runs.get(index).ok_or_else(|| {
        format!(
            "{}: no run with index {index} (the study has {})",
            study_dir.display(),
            runs.len()
        )
    })?;
    let rd = RunDir::new(study_dir.join(cfg.run_id()));
    crate::slurm::record_task(&rd.root, study_dir);
    run(&rd, cfg, &|_| {}).map_err(|e| e.to_string())
}

/// Outcomes read from the run directories (for engines whose workers are other processes).
pub fn outcomes_from_dirs(study_dir: &Path, runs: &[RunConfig]) -> Vec<Outcome> {
    runs.iter()
        .map(|cfg| {
            let dir = study_dir.join(cfg.run_id());
            let rd = RunDir::new(dir.clone());
            let result = match rd.read_status() {
                Some(st) if st.state == crate::rundir::State::Done => {
                    std::fs::read_to_string(rd.result())
                        .map_err(|e| e.to_string())
                        .and_then(|t| {
                            serde_json::from_str::<RunResult>(&t).map_err(|e| e.to_string())
                        })
                }
                Some(st) if st.state == crate::rundir::State::Failed => {
                    Err(st.error.unwrap_or_else(|| "failed".into()))
                }
                Some(st) => Err(
                    format!("did not finish ({:?} at step {})", st.state, st.step).to_lowercase(),
                ),
                None => Err("no status.json".into()),
            };
            Outcome {
                run_id: cfg.run_id(),
                variant: cfg.group(),
                seed: cfg.run.seed,
                dir,
                result,
            }
        })
        .collect()
}

/// Seconds between plain-text progress lines ([`PlainProgress`]): `BIODIS_PROGRESS_SECS` if set
/// (a positive number), else 30.
pub fn progress_interval() -> std::time::Duration {
    let secs = std::env::var("BIODIS_PROGRESS_SECS")
        .ok()
        .and_then(|v| v.trim().parse::<f64>().ok())
        .filter(|v| v.is_finite() && *v > 0.0)
        .unwrap_or(30.0);
    std::time::Duration::from_secs_f64(secs)
}

/// Periodic plain-text progress lines on stderr, for when it is not a terminal (a log file,
/// `nohup`, Slurm), where a progress bar draws nothing: every [`progress_interval`] a line
/// `progress: runs 3/10 done, steps 12000/50000 (24%), 850 steps/s, ETA 45 s`, and one at the
/// end. Stops when dropped.
pub struct PlainProgress {
    stop: std::sync::Arc<std::sync::atomic::AtomicBool>,
    handle: Option<std::thread::JoinHandle<()>>,
}

impl PlainProgress {
    /// Starts the reporter over `bar`'s position (steps) and `runs_done` of `n_runs`.
    pub fn start(
        label: String,
        bar: ProgressBar,
        runs_done: std::sync::Arc<std::sync::atomic::AtomicUsize>,
        n_runs: usize,
    ) -> Self {
        use std::sync::atomic::Ordering;
        let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let st = stop.clone();
        let interval = progress_interval();
        let handle = std::thread::spawn(move || {
            let t0 = std::time::Instant::now();
            let start_pos = bar.position();
            let line = |fin: bool| {
                let (pos, len) = (bar.position(), bar.length().unwrap_or(0));
                let secs = t0.elapsed().as_secs_f64().max(1e-9);
                let rate = (pos - start_pos.min(pos)) as f64 / secs;
                let left = len.saturating_sub(pos) as f64;
                let eta = if fin {
                    "done".to_string()
                } else if rate > 0.0 {
                    format!("ETA {}", fmt_secs(left / rate))
                } else {
                    "ETA unknown".to_string()
                };
                eprintln!(
                    "progress{label}: runs {}/{n_runs} done, steps {pos}/{len} ({:.0}%), {rate:.0} steps/s, {eta}",
                    runs_done.load(Ordering::Relaxed),
                    if len > 0 { 100.0 * pos as f64 / len as f64 } else { 100.0 },
                );
            };
            let mut next = interval;
            loop {
                std::thread::sleep(std::time::Duration::from_millis(50).min(interval));
                if st.load(Ordering::Relaxed) {
                    line(true);
                    return;
                }
                if t0.elapsed() >= next {
                    line(false);
                    next += interval;
                }
            }
        });
        PlainProgress {
            stop,
            handle: Some(handle),
        }
    }
}

impl Drop for PlainProgress {
    fn drop(&mut self) {
        self.stop.store(true, std::sync::atomic::Ordering::Relaxed);
        if let Some(h) = self.handle.take() {
            let _ = h.join();
        }
    }
}

/// `s` seconds as `42 s`, `7 min` or `3.5 h`.
fn fmt_secs(s: f64) -> String {
    if s < 120.0 {
        format!("{s:.0} s")
    } else if s < 7200.0 {
        format!("{:.0} min", s / 60.0)
    } else {
        format!("{:.1} h", s / 3600.0)
    }
}

/// True when progress is wanted (`show`) but stderr is not a terminal: then the bar is hidden
/// and [`PlainProgress`] prints lines instead.
pub fn plain_progress_wanted(show: bool) -> bool {
    use std::io::IsTerminal;
    show && !std::io::stderr().is_terminal()
}

/// A message above the progress bar, or on stderr when the bar is not drawn (so a failure is
/// never swallowed by a hidden bar).
fn say(bar: &ProgressBar, msg: String) {
    if bar.is_hidden() {
        eprintln!("{msg}");
    } else {
        bar.println(msg);
    }
}

/// The study's progress bar over `total` training steps (drawn only if `show` and stderr is a
/// terminal; see [`PlainProgress`] otherwise); keep the returned `MultiProgress` alive while the
/// bar is used.
pub fn steps_bar(total: u64, show: bool) -> (MultiProgress, ProgressBar) {
    let show = show && !plain_progress_wanted(show);
    let mp = MultiProgress::with_draw_target(if show {
        ProgressDrawTarget::stderr()
    } else {
        ProgressDrawTarget::hidden()
    });
    let bar = mp.add(ProgressBar::new(total));
    bar.set_style(
        ProgressStyle::with_template(
            "{spinner} [{elapsed_precise}] {bar:40.cyan/blue} {percent:>3}% steps {human_pos}/{human_len} ({per_sec}, eta {eta}) {msg}",
        )
        .unwrap_or_else(|_| ProgressStyle::default_bar()),
    );
    (mp, bar)
}

/// One run's directory and its outcome.
pub type PoolResult<R> = (PathBuf, Result<R, String>);

/// The local engine of the study kinds that train in-process (grid world, VAE): prepares the
/// study directory (marked by a `kind` file), then trains every run into
/// `study_dir/<run-id>/` on `jobs` worker threads with one shared progress bar in steps.
/// Returns each run's directory and result, in the order of `runs`; a failed run is reported
/// on the bar and does not stop the others.
#[allow(clippy::too_many_arguments)]
pub fn run_local_pool<C, R>(
    study_dir: &Path,
    kind: &str,
    runs: &[C],
    jobs: usize,
    show_progress: bool,
    id: impl Fn(&C) -> String + Sync,
    steps: impl Fn(&C) -> u64,
    run: impl Fn(&RunDir, &C, &(dyn Fn(u64) + Sync)) -> Result<R, String> + Sync,
) -> Result<Vec<PoolResult<R>>, String>
where
    C: serde::Serialize + Sync,
    R: Send,
{
    prepare_runs(study_dir, runs, &id)?;
    atomic_write(&study_dir.join("kind"), format!("{kind}\n").as_bytes())
        .map_err(|e| e.to_string())?;
    let total: u64 = runs.iter().map(&steps).sum();
    let (_mp, bar) = steps_bar(total, show_progress);
    let done = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let plain = plain_progress_wanted(show_progress)
        .then(|| PlainProgress::start(String::new(), bar.clone(), done.clone(), runs.len()));
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(jobs.max(1))
        .build()
        .map_err(|e| format!("cannot start {jobs} worker threads: {e}"))?;
    let out = pool.install(|| {
        runs.par_iter()
            .map(|cfg| {
                let dir = study_dir.join(id(cfg));
                let pb = bar.clone();
                let res = run(&RunDir::new(dir.clone()), cfg, &move |n| pb.inc(n));
                if let Err(e) = &res {
                    say(&bar, format!("run {} failed: {e}", id(cfg)));
                }
                done.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                (dir, res)
            })
            .collect()
    });
    drop(plain);
    bar.finish_and_clear();
    Ok(out)
}

/// Runs all `runs` into `study_dir/<run-id>/` and writes `study_dir/summary.csv`.
pub fn run_study(
    study_dir: &Path,
    runs: &[RunConfig],
    opts: &EngineOptions,
) -> Result<Vec<Outcome>, String> {
    prepare_study(study_dir, runs)?;
    let total_steps: u64 = runs.iter().map(|r| r.train.steps).sum();
    let (_mp, bar) = steps_bar(total_steps, opts.progress);
    let done = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let n_runs = runs.len();
    let plain = plain_progress_wanted(opts.progress)
        .then(|| PlainProgress::start(String::new(), bar.clone(), done.clone(), n_runs));
    bar.set_message(format!("runs 0/{n_runs}"));
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(opts.jobs.max(1))
        .build()
        .map_err(|e| format!("cannot start {} worker threads: {e}", opts.jobs))?;
    let outcomes: Vec<Outcome> = pool.install(|| {
        runs.par_iter()
            .map(|cfg| {
                let dir = study_dir.join(cfg.run_id());
                let rd = RunDir::new(dir.clone());
                let pb = bar.clone();
                let res = run(&rd, cfg, &move |n| pb.inc(n)).map_err(|e| e.to_string());
                if let Err(e) = &res {
                    say(&bar, format!("run {} failed: {e}", cfg.run_id()));
                }
                let k = done.fetch_add(1, std::sync::atomic::Ordering::Relaxed) + 1;
                bar.set_message(format!("runs {k}/{n_runs}"));
                Outcome {
                    run_id: cfg.run_id(),
                    variant: cfg.group(),
                    seed: cfg.run.seed,
                    dir,
                    result: res,
                }
            })
            .collect()
    });
    drop(plain);
    bar.finish_and_clear();
    write_summary(study_dir, &outcomes)?;
    Ok(outcomes)
}

/// Writes `summary.csv`: one row per run, the report's input.
pub fn write_summary(study_dir: &Path, outcomes: &[Outcome]) -> Result<(), String> {
    let n_h = outcomes
        .iter()
        .filter_map(|o| o.result.as_ref().ok())
        .map(|r| r.last.mir.len())
        .max()
        .unwrap_or(1);
    let mut s = String::from("run_id,variant,seed,status,steps,mir");
    for l in 0..n_h {
        s.push_str(&format!(",mir_h{l},active_h{l}"));
    }
    s.push_str(",r2,loss,neg_frac,error\n");
    for o in outcomes {
        match &o.result {
            Ok(r) => {
                let mir_last = r.last.mir.get(r.primary_layer).copied().unwrap_or(f64::NAN);
                s.push_str(&format!(
                    "{},{},{},done,{},{}",
                    o.run_id, o.variant, o.seed, r.steps, mir_last
                ));
                for l in 0..n_h {
                    let m = r.last.mir.get(l).copied().unwrap_or(f64::NAN);
                    let a = r.last.active.get(l).copied().unwrap_or(0);
                    s.push_str(&format!(",{m},{a}"));
                }
                // (no wall time here: summary.csv depends only on the numbers, so the same study
                // gives the same file on any engine)
                s.push_str(&format!(
                    ",{},{},{},\n",
                    r.last.r2, r.last.loss.total, r.last.neg_frac
                ));
            }
            Err(e) => {
                s.push_str(&format!("{},{},{},failed,,", o.run_id, o.variant, o.seed));
                for _ in 0..n_h {
                    s.push_str(",,");
                }
                s.push_str(&format!(",,,,\"{}\"\n", e.replace('"', "'")));
            }
        }
    }
    atomic_write(&study_dir.join("summary.csv"), s.as_bytes()).map_err(|e| e.to_string())
}

/// Mean and standard error of the finite values in `v` (`s.e. = sd / √n`, `sd` with `n − 1`).
pub fn mean_se(v: &[f64]) -> (f64, f64, usize) {
    let f: Vec<f64> = v.iter().copied().filter(|x| x.is_finite()).collect();
    let n = f.len();
    if n == 0 {
        return (f64::NAN, f64::NAN, 0);
    }
    let m = f.iter().sum::<f64>() / n as f64;
    if n == 1 {
        return (m, f64::NAN, 1);
    }
    let var = f.iter().map(|x| (x - m).powi(2)).sum::<f64>() / (n - 1) as f64;
    (m, (var / n as f64).sqrt(), n)
}

/// `mean ± s.e.` of the finite values of `v` with `prec` decimals; a single value is shown as
/// `m (n=1)` (a standard error needs two values), none as `n/a`.
pub fn fmt_mean_se(v: &[f64], prec: usize) -> String {
    match mean_se(v) {
        (_, _, 0) => "n/a".to_string(),
        (m, _, 1) => format!("{m:.prec$} (n=1)"),
        (m, se, _) => format!("{m:.prec$} ± {se:.prec$}"),
    }
}

/// A per-variant table of final MIR (mean ± s.e.), in the order variants first appear.
pub fn summary_table(outcomes: &[Outcome]) -> String {
    let mut order: Vec<String> = Vec::new();
    for o in outcomes {
        if !order.contains(&o.variant) {
            order.push(o.variant.clone());
        }
    }
    let mut s = format!(
        "{:<16} {:>6} {:>6} {:>18} {:>16} {:>10}\n",
        "variant", "done", "failed", "final MIR (±s.e.)", "R² (±s.e.)", "active"
    );
    for v in &order {
        let runs: Vec<&Outcome> = outcomes.iter().filter(|o| &o.variant == v).collect();
        let ok: Vec<&RunResult> = runs.iter().filter_map(|o| o.result.as_ref().ok()).collect();
        let failed = runs.len() - ok.len();
        let mirs: Vec<f64> = ok
            .iter()
            .map(|r| r.last.mir.get(r.primary_layer).copied().unwrap_or(f64::NAN))
            .collect();
        let r2s: Vec<f64> = ok.iter().map(|r| r.last.r2).collect();
        let act: Vec<f64> = ok
            .iter()
            .map(|r| r.last.active.get(r.primary_layer).copied().unwrap_or(0) as f64)
            .collect();
        let (a, _, _) = mean_se(&act);
        s.push_str(&format!(
            "{:<16} {:>6} {:>6} {:>18} {:>16} {:>10.1}\n",
            v,
            ok.len(),
            failed,
            fmt_mean_se(&mirs, 3),
            fmt_mean_se(&r2s, 4),
            a
        ));
    }
    let failed: Vec<&Outcome> = outcomes.iter().filter(|o| o.result.is_err()).collect();
    if !failed.is_empty() {
        s.push_str("\nfailed runs:\n");
        for o in failed {
            if let Err(e) = &o.result {
                s.push_str(&format!("  {}: {e}\n", o.run_id));
            }
        }
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_seed_shows_n_not_a_nan_error() {
        assert_eq!(fmt_mean_se(&[0.918], 3), "0.918 (n=1)");
        assert_eq!(fmt_mean_se(&[f64::NAN], 3), "n/a");
        assert_eq!(fmt_mean_se(&[1.0, 2.0, 3.0], 1), "2.0 ± 0.6");
    }

    #[test]
    fn durations_read_well() {
        assert_eq!(fmt_secs(42.2), "42 s");
        assert_eq!(fmt_secs(600.0), "10 min");
        assert_eq!(fmt_secs(9000.0), "2.5 h");
    }

    #[test]
    fn mean_se_known() {
        let (m, se, n) = mean_se(&[1.0, 2.0, 3.0, f64::NAN]);
        assert_eq!((m, n), (2.0, 3));
        assert!((se - (1.0f64 / 3.0).sqrt()).abs() < 1e-12);
    }
}

#[cfg(test)]
mod write_failure_tests {
    use crate::rundir::{RunDir, State};

    /// A write that fails mid-run (here: the temporary files of the atomic writes of
    /// `curve.csv` and `status.json` cannot be created, as on a full disk) leaves the run
    /// `failed` with the file named, not `running` (which `biodis status` shows `interrupted`).
    #[test]
    fn a_write_failure_mid_run_fails_the_run_naming_the_file() {
        let src = crate::locate("fig2").unwrap();
        let ov = [
            "train.eval_every=600",
            "train.eval_samples=200",
            "data.n_samples=1000",
        ]
        .map(|s| crate::parse_override(s).unwrap());
        let runs = crate::expand_variants(&src, &ov, Some(1), Some(1200), &[]).unwrap();
        let d = tempfile::tempdir().unwrap();
        let rd = RunDir::new(d.path().join(runs[0].run_id()));
        let root = rd.root.clone();
        let pid = std::process::id();
        // (progress is reported every 500 steps: the first report comes before the eval at 600)
        let block = move |_: u64| {
            for f in ["curve.csv", "status.json"] {
                let _ = std::fs::create_dir_all(root.join(format!(".{f}.tmp{pid}")));
            }
        };
        let e = crate::train::run(&rd, &runs[0], &block)
            .unwrap_err()
            .to_string();
        assert!(e.contains("curve.csv"), "{e}");
        let st = rd.read_status().expect("status.json");
        assert_eq!(st.state, State::Failed, "{st:?}");
        assert!(st.error.unwrap().contains("curve.csv"));
    }
}
