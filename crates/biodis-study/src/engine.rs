//! Progress reporting of the engines: one progress bar in training steps over a study's runs
//! on a terminal, periodic plain-text lines elsewhere (a log file, `nohup`, Slurm).
//!
//! The engines themselves are written once over [`crate::StudyKind`] in [`crate::kind`]
//! (the local worker pool) and [`crate::slurm`] (job arrays).

use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};

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
pub(crate) fn say(bar: &ProgressBar, msg: String) {
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_read_well() {
        assert_eq!(fmt_secs(42.2), "42 s");
        assert_eq!(fmt_secs(600.0), "10 min");
        assert_eq!(fmt_secs(9000.0), "2.5 h");
    }
}

#[cfg(test)]
mod write_failure_tests {
    use biodis_rundir::{RunDir, State};

    /// A write that fails mid-run (here: `curve.csv` cannot be replaced because a folder with
    /// files has taken its place, as a write fails on a full disk) leaves the run `failed` with
    /// the file named, not `running` (which `biodis status` shows `interrupted`).
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
        let curve = rd.curve();
        // (progress is reported every 500 steps: the first report comes before the eval at 600)
        let block = move |_: u64| {
            let _ = std::fs::remove_file(&curve);
            let _ = std::fs::create_dir_all(curve.join("in-the-way"));
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
