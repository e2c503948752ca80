//! The study layer never loses or overwrites a result (issue #19): each test is a repro of a
//! data loss found by using the CLI as a new user would, and fails on the study layer before
//! the `StudyKind` rebuild.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::{Duration, Instant};

/// The binary under test; `BIODIS_TEST_BIN` runs these repros against another build (e.g.
/// the study layer before the rebuild, on which every test here fails).
fn bin() -> Command {
    Command::new(
        std::env::var_os("BIODIS_TEST_BIN").unwrap_or_else(|| env!("CARGO_BIN_EXE_biodis").into()),
    )
}

fn run_ok(args: &[&str]) -> Output {
    let o = bin().args(args).output().expect("spawn biodis");
    assert!(
        o.status.success(),
        "biodis {args:?} failed:\nstdout:\n{}\nstderr:\n{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    );
    o
}

fn run_err(args: &[&str]) -> String {
    let o = bin().args(args).output().expect("spawn biodis");
    assert!(!o.status.success(), "biodis {args:?} should have failed");
    String::from_utf8_lossy(&o.stderr).to_string()
}

/// A two-variant dense recipe of `steps` steps (seconds per run).
fn recipe(dir: &Path, steps: u64) -> PathBuf {
    let text = format!(
        r#"
[study]
name = "safety"
seeds = 1
[data]
task = "supervised_linear"
n_samples = 4000
[model]
hidden = [32]
activation = "identity"
[constraints]
nonneg = "hinge"
beta_nonneg = 2.0
beta_activity = 1e-3
[train]
steps = {steps}
batch = 64
lr = 3e-3
eval_every = 200
eval_samples = 500
save_activations = 100
[[variant]]
name = "all"
[[variant]]
name = "none"
set = {{ "constraints.nonneg" = "none", "constraints.beta_activity" = 0.0 }}
"#
    );
    let p = dir.join("safety.toml");
    std::fs::write(&p, text).unwrap();
    p
}

fn wait_for(p: &Path, what: &str) {
    let t0 = Instant::now();
    while !p.exists() {
        assert!(
            t0.elapsed() < Duration::from_secs(120),
            "{what} did not appear"
        );
        std::thread::sleep(Duration::from_millis(5));
    }
}

fn run_ids(study: &Path) -> Vec<String> {
    let j: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(study.join("runs.json")).unwrap()).unwrap();
    j.as_array()
        .unwrap()
        .iter()
        .map(|e| e["run_id"].as_str().unwrap().to_string())
        .collect()
}

/// `kill -9` mid-way, then `resume` twice: `runs.json`, `status` and `summary.csv` keep every
/// run (the old `resume` rewrote `runs.json` with only the runs it resumed, then with none).
#[test]
fn resume_twice_keeps_every_run() {
    let d = tempfile::tempdir().unwrap();
    let p = recipe(d.path(), 30_000);
    let k = d.path().join("k");
    let ks = k.to_str().unwrap();
    let mut child = bin()
        .args([
            "run",
            p.to_str().unwrap(),
            "--out",
            ks,
            "--jobs",
            "1",
            "--quiet",
        ])
        .spawn()
        .unwrap();
    wait_for(&k.join("all-s0/checkpoint.safetensors"), "a checkpoint");
    child.kill().unwrap();
    child.wait().unwrap();
    for _ in 0..2 {
        run_ok(&["resume", ks, "--jobs", "1", "--quiet"]);
        assert_eq!(run_ids(&k), ["all-s0", "none-s0"]);
        let st = String::from_utf8_lossy(&run_ok(&["status", ks]).stdout).to_string();
        assert!(
            st.contains("all-s0") && st.contains("none-s0") && st.contains("2 done"),
            "{st}"
        );
        let summary = std::fs::read_to_string(k.join("summary.csv")).unwrap();
        assert_eq!(summary.lines().count(), 3, "{summary}");
    }
    // nothing left behind by the killed process
    for dir in [k.clone(), k.join("all-s0")] {
        for e in std::fs::read_dir(&dir).unwrap().flatten() {
            let n = e.file_name().to_string_lossy().to_string();
            assert!(
                !n.contains(".tmp") && n != ".lock" && n != ".biodis.lock",
                "{dir:?}: {n} left behind"
            );
        }
    }
}

/// `--out` into a folder that is not a biodis study is refused, naming what it holds, and
/// nothing in it is touched; `--force` writes into it. A stray folder with a `recipe.toml`
/// inside a study (not listed in `runs.json`) does not break its report.
#[test]
fn out_into_a_foreign_folder_is_refused() {
    let d = tempfile::tempdir().unwrap();
    let p = recipe(d.path(), 400);
    let mine = d.path().join("thesis");
    std::fs::create_dir_all(mine.join("all-s0")).unwrap();
    std::fs::write(mine.join("report.html"), "my own report").unwrap();
    std::fs::write(mine.join("all-s0/result.json"), "precious").unwrap();
    let e = run_err(&[
        "run",
        p.to_str().unwrap(),
        "--out",
        mine.to_str().unwrap(),
        "--quiet",
    ]);
    assert!(
        e.contains("is not a biodis study") && e.contains("report.html") && e.contains("--force"),
        "{e}"
    );
    assert_eq!(
        std::fs::read_to_string(mine.join("report.html")).unwrap(),
        "my own report"
    );
    assert_eq!(
        std::fs::read_to_string(mine.join("all-s0/result.json")).unwrap(),
        "precious"
    );
    assert!(!mine.join("summary.csv").exists() && !mine.join("runs.json").exists());
    // an empty folder is fine, and so is a study of the same recipe again
    let empty = d.path().join("empty");
    std::fs::create_dir_all(&empty).unwrap();
    run_ok(&[
        "run",
        p.to_str().unwrap(),
        "--out",
        empty.to_str().unwrap(),
        "--quiet",
    ]);
    let stray = empty.join("notes");
    std::fs::create_dir_all(&stray).unwrap();
    std::fs::write(stray.join("recipe.toml"), "this is not a run").unwrap();
    run_ok(&[
        "run",
        p.to_str().unwrap(),
        "--out",
        empty.to_str().unwrap(),
        "--quiet",
    ]);
    run_ok(&["report", empty.to_str().unwrap()]);
    // --force writes into a foreign folder (the user asked for it)
    let forced = d.path().join("forced");
    std::fs::create_dir_all(&forced).unwrap();
    std::fs::write(forced.join("README"), "x").unwrap();
    run_ok(&[
        "run",
        p.to_str().unwrap(),
        "--out",
        forced.to_str().unwrap(),
        "--quiet",
        "--force",
    ]);
    assert!(forced.join("summary.csv").is_file() && forced.join("README").is_file());
}

/// `kill -9` at random moments of `biodis report`: the report and every figure are always
/// whole (the previous good copy or the new one, never a 0-byte file); the next report cleans
/// the temporary files the killed ones left. A symlinked `report.html` is replaced, its target
/// untouched.
#[test]
fn interrupted_reports_never_leave_empty_files() {
    let d = tempfile::tempdir().unwrap();
    let p = recipe(d.path(), 400);
    let s = d.path().join("s");
    let ss = s.to_str().unwrap();
    run_ok(&["run", p.to_str().unwrap(), "--out", ss, "--quiet"]);
    let t0 = Instant::now();
    run_ok(&["report", ss]);
    let full = t0.elapsed();
    let files: Vec<PathBuf> = std::iter::once(s.join("report.html"))
        .chain(
            std::fs::read_dir(s.join("figures"))
                .unwrap()
                .flatten()
                .map(|e| e.path()),
        )
        .collect();
    assert!(files.len() > 3, "{files:?}");
    for k in 0..24u32 {
        let mut child = bin()
            .args(["report", ss])
            .stdout(std::process::Stdio::null())
            .spawn()
            .unwrap();
        std::thread::sleep(full.mul_f64(f64::from(k) / 24.0));
        let _ = child.kill();
        child.wait().unwrap();
        for f in &files {
            let n = std::fs::metadata(f).map(|m| m.len()).unwrap_or(0);
            assert!(
                n > 0,
                "{} is empty or missing after a kill -9 at {k}/24 of a report",
                f.display()
            );
        }
    }
    run_ok(&["report", ss]);
    for dir in [s.clone(), s.join("figures")] {
        for e in std::fs::read_dir(&dir).unwrap().flatten() {
            let n = e.file_name().to_string_lossy().to_string();
            assert!(!n.contains(".tmp"), "{} left behind", e.path().display());
        }
    }
    // a symlinked report.html is replaced, not written through
    let target = d.path().join("elsewhere.html");
    std::fs::write(&target, "keep me").unwrap();
    std::fs::remove_file(s.join("report.html")).unwrap();
    std::os::unix::fs::symlink(&target, s.join("report.html")).unwrap();
    run_ok(&["report", ss]);
    assert_eq!(std::fs::read_to_string(&target).unwrap(), "keep me");
    assert!(!std::fs::symlink_metadata(s.join("report.html"))
        .unwrap()
        .file_type()
        .is_symlink());
}

/// `kill -9` during `biodis data dsprites`: the previous file is kept whole (the old writer
/// left a truncated npz at the final path); the next write cleans the temporary file.
#[test]
fn interrupted_dataset_write_keeps_the_old_file() {
    let d = tempfile::tempdir().unwrap();
    let out = d.path().join("dsprites.npz");
    std::fs::write(&out, b"the previous complete file").unwrap();
    let mut child = bin()
        .args(["data", "dsprites", "--out", out.to_str().unwrap()])
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    std::thread::sleep(Duration::from_millis(1500));
    let _ = child.kill();
    child.wait().unwrap();
    let kept = std::fs::read(&out).unwrap();
    assert!(
        kept == b"the previous complete file",
        "the previous file was replaced by {} bytes of a killed write",
        kept.len()
    );
    run_ok(&[
        "data",
        "dsprites",
        "--out",
        out.to_str().unwrap(),
        "--sizes",
        "1,1,1,2,2,2",
    ]);
    assert!(std::fs::metadata(&out).unwrap().len() > 100);
    let left: Vec<String> = std::fs::read_dir(d.path())
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().to_string())
        .collect();
    assert_eq!(left, ["dsprites.npz"], "{left:?}");
}

/// A second `biodis run` on a study another process is running is refused, naming the
/// holder's pid; after that process is killed the study is taken over.
#[test]
fn two_runs_on_one_study_are_refused() {
    let d = tempfile::tempdir().unwrap();
    let p = recipe(d.path(), 60_000);
    let s = d.path().join("s");
    let ss = s.to_str().unwrap();
    let mut child = bin()
        .args([
            "run",
            p.to_str().unwrap(),
            "--out",
            ss,
            "--jobs",
            "1",
            "--quiet",
        ])
        .spawn()
        .unwrap();
    wait_for(&s.join("all-s0/curve.csv"), "the first run's curve");
    let e = run_err(&[
        "run",
        p.to_str().unwrap(),
        "--out",
        ss,
        "--jobs",
        "1",
        "--quiet",
    ]);
    assert!(e.contains(&format!("in use by pid {}", child.id())), "{e}");
    let e = run_err(&["resume", ss, "--quiet"]);
    assert!(e.contains("in use by pid"), "{e}");
    child.kill().unwrap();
    child.wait().unwrap();
    let st = String::from_utf8_lossy(&run_ok(&["status", ss]).stdout).to_string();
    assert!(st.contains("interrupted"), "{st}");
}

/// A study is extended with more seeds (only the new runs train) and more variants; a real
/// conflict names the key and both values.
#[test]
fn a_study_is_extended_and_a_conflict_names_the_key() {
    let d = tempfile::tempdir().unwrap();
    let p = recipe(d.path(), 400);
    let ps = p.to_str().unwrap();
    let s = d.path().join("s");
    let ss = s.to_str().unwrap();
    run_ok(&["run", ps, "--out", ss, "--quiet", "--variants", "all"]);
    let first = std::fs::read(s.join("all-s0/result.json")).unwrap();
    let m0 = std::fs::metadata(s.join("all-s0/result.json"))
        .unwrap()
        .modified()
        .unwrap();
    run_ok(&["run", ps, "--out", ss, "--quiet", "--seeds", "2"]);
    assert_eq!(run_ids(&s), ["all-s0", "all-s1", "none-s0", "none-s1"]);
    assert_eq!(std::fs::read(s.join("all-s0/result.json")).unwrap(), first);
    assert_eq!(
        std::fs::metadata(s.join("all-s0/result.json"))
            .unwrap()
            .modified()
            .unwrap(),
        m0
    );
    let summary = std::fs::read_to_string(s.join("summary.csv")).unwrap();
    assert_eq!(summary.lines().count(), 5, "{summary}");
    let e = run_err(&["run", ps, "--out", ss, "--quiet", "--set", "train.lr=1e-3"]);
    assert!(
        e.contains("train.lr: 0.003 (in the study) vs 0.001 (now)"),
        "{e}"
    );
    // a study of another kind in the same folder is refused by kind
    let e = run_err(&["run", "fig6", "--out", ss, "--quiet", "--steps", "2"]);
    assert!(
        e.contains("holds a dense study, not a grid-world one"),
        "{e}"
    );
}
