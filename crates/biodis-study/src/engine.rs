//! The local engine: runs every run of a study on a pool of worker threads (one thread per
//! run, `--jobs N` runs at a time), with progress bars, then writes `summary.csv`.
//!
//! A failed run (non-finite loss, I/O error) is recorded in its `status.json` and in the
//! summary; the other runs continue. Re-running the same command skips finished runs and
//! resumes interrupted ones from their checkpoints.

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

/// Runs all `runs` into `study_dir/<run-id>/` and writes `study_dir/summary.csv`.
pub fn run_study(
    study_dir: &Path,
    runs: &[RunConfig],
    opts: &EngineOptions,
) -> Result<Vec<Outcome>, String> {
    std::fs::create_dir_all(study_dir).map_err(|e| format!("{}: {e}", study_dir.display()))?;
    let total_steps: u64 = runs.iter().map(|r| r.train.steps).sum();
    let mp = MultiProgress::with_draw_target(if opts.progress {
        ProgressDrawTarget::stderr()
    } else {
        ProgressDrawTarget::hidden()
    });
    let bar = mp.add(ProgressBar::new(total_steps));
    bar.set_style(
        ProgressStyle::with_template(
            "{spinner} [{elapsed_precise}] {bar:40.cyan/blue} {percent:>3}% steps {human_pos}/{human_len} ({per_sec}, eta {eta}) {msg}",
        )
        .unwrap_or_else(|_| ProgressStyle::default_bar()),
    );
    let done = std::sync::atomic::AtomicUsize::new(0);
    let n_runs = runs.len();
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
                    bar.println(format!("run {} failed: {e}", cfg.run_id()));
                }
                let k = done.fetch_add(1, std::sync::atomic::Ordering::Relaxed) + 1;
                bar.set_message(format!("runs {k}/{n_runs}"));
                Outcome {
                    run_id: cfg.run_id(),
                    variant: cfg.run.variant.clone(),
                    seed: cfg.run.seed,
                    dir,
                    result: res,
                }
            })
            .collect()
    });
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
    s.push_str(",r2,loss,neg_frac,wall_s,error\n");
    for o in outcomes {
        match &o.result {
            Ok(r) => {
                let mir_last = r.last.mir.last().copied().unwrap_or(f64::NAN);
                s.push_str(&format!(
                    "{},{},{},done,{},{}",
                    o.run_id, o.variant, o.seed, r.steps, mir_last
                ));
                for l in 0..n_h {
                    let m = r.last.mir.get(l).copied().unwrap_or(f64::NAN);
                    let a = r.last.active.get(l).copied().unwrap_or(0);
                    s.push_str(&format!(",{m},{a}"));
                }
                s.push_str(&format!(
                    ",{},{},{},{:.3},\n",
                    r.last.r2, r.last.loss.total, r.last.neg_frac, r.wall_s
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
    atomic_write(&study_dir.join("summary.csv"), s.as_bytes())
        .map_err(|e| format!("{}: {e}", study_dir.display()))
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
            .map(|r| r.last.mir.last().copied().unwrap_or(f64::NAN))
            .collect();
        let r2s: Vec<f64> = ok.iter().map(|r| r.last.r2).collect();
        let act: Vec<f64> = ok
            .iter()
            .map(|r| r.last.active.last().copied().unwrap_or(0) as f64)
            .collect();
        let (m, se, _) = mean_se(&mirs);
        let (r, rse, _) = mean_se(&r2s);
        let (a, _, _) = mean_se(&act);
        s.push_str(&format!(
            "{:<16} {:>6} {:>6} {:>18} {:>16} {:>10.1}\n",
            v,
            ok.len(),
            failed,
            format!("{m:.3} ± {se:.3}"),
            format!("{r:.4} ± {rse:.4}"),
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
    fn mean_se_known() {
        let (m, se, n) = mean_se(&[1.0, 2.0, 3.0, f64::NAN]);
        assert_eq!((m, n), (2.0, 3));
        assert!((se - (1.0f64 / 3.0).sqrt()).abs() < 1e-12);
    }
}
