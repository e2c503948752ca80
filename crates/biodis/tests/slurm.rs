//! Integration test of the Slurm engine against a real single-node cluster
//! (`scripts/slurm/start.sh`, started by `.ci/run`). Ignored in the default test run; CI runs
//! it with `cargo test --release -p biodis --test slurm -- --ignored` after starting Slurm.

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

fn bin() -> Command {
    Command::new(env!("CARGO_BIN_EXE_biodis"))
}

fn recipe(dir: &Path, name: &str, body: &str) -> String {
    let p = dir.join(format!("{name}.toml"));
    std::fs::write(&p, body).unwrap();
    p.to_str().unwrap().to_string()
}

const BASE: &str = r#"
[study]
name = "slurm-it"
seeds = 2
[data]
task = "supervised_linear"
n_samples = 4000
[model]
hidden = [32]
[constraints]
nonneg = "hinge"
beta_nonneg = 2.0
beta_activity = 1e-3
[train]
steps = 1500
batch = 64
lr = 3e-3
eval_every = 500
eval_samples = 1000
save_activations = 100
"#;

fn without_wall(p: &Path) -> serde_json::Value {
    let mut j: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(p).unwrap()).unwrap();
    j.as_object_mut().unwrap().remove("wall_s");
    j
}

fn squeue_empty(job: &str) -> bool {
    let o = Command::new("squeue")
        .args(["-h", "-r", "-j", job, "-o", "%T"])
        .output()
        .unwrap();
    String::from_utf8_lossy(&o.stdout).lines().all(|l| {
        !matches!(
            l.trim(),
            "PENDING" | "RUNNING" | "COMPLETING" | "CONFIGURING"
        )
    })
}

#[test]
#[ignore = "needs a running Slurm cluster: `bash scripts/slurm/start.sh` (as .ci/run does), then `cargo test --release -p biodis --test slurm -- --ignored`"]
fn slurm_engine_matches_local_reports_failures_and_resumes_a_cancelled_run() {
    let d = tempfile::tempdir().unwrap();
    let t0 = Instant::now();
    // 1. the same study on both engines: identical summary.csv, failures reported, exit non-zero
    let body = format!("{BASE}\n[[variant]]\nname = \"all\"\n[[variant]]\nname = \"blowup\"\nset = {{ \"train.lr\" = 1e30 }}\n[sweep.grid]\n\"constraints.beta_weight\" = [0.0, 1e-4]\n");
    let r = recipe(d.path(), "sweep", &body);
    let (a, b) = (d.path().join("local"), d.path().join("slurm"));
    let ol = bin()
        .args(["run", &r, "--out", a.to_str().unwrap(), "--quiet"])
        .output()
        .unwrap();
    let t_local = t0.elapsed();
    let os = bin()
        .args([
            "run",
            &r,
            "--out",
            b.to_str().unwrap(),
            "--quiet",
            "--engine",
            "slurm",
            "--max-parallel",
            "2",
            // forces the 8 runs into three arrays of at most 3 tasks (ids 0..2 + offsets)
            "--max-array-size",
            "4",
        ])
        .output()
        .unwrap();
    let t_slurm = t0.elapsed() - t_local;
    assert!(
        !ol.status.success() && !os.status.success(),
        "failing runs make both exit non-zero"
    );
    let sl = std::fs::read_to_string(a.join("summary.csv")).unwrap();
    let ss = std::fs::read_to_string(b.join("summary.csv")).unwrap();
    assert_eq!(sl, ss, "local and slurm summary.csv differ");
    assert_eq!(sl.lines().count(), 1 + 2 * 2 * 2);
    let st = bin()
        .args(["status", b.to_str().unwrap()])
        .output()
        .unwrap();
    let st = String::from_utf8_lossy(&st.stdout);
    assert!(st.contains("4 done, 4 failed"), "{st}");
    assert!(
        st.contains("non-finite loss") && st.contains("(log: "),
        "{st}"
    );
    let jobs: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(b.join("slurm/jobs.json")).unwrap()).unwrap();
    assert_eq!(
        jobs.as_array().unwrap().len(),
        3,
        "8 runs split into arrays of at most 3 tasks"
    );
    eprintln!(
        "sweep of 8 runs: local {:.1} s, slurm {:.1} s",
        t_local.as_secs_f64(),
        t_slurm.as_secs_f64()
    );

    // 2. a run cancelled mid-way (scancel) is resumed by `biodis resume`; nothing else re-runs
    let body = format!("{BASE}\n[[variant]]\nname = \"long\"\nset = {{ \"train.steps\" = 120000, \"train.eval_every\" = 200 }}\n[[variant]]\nname = \"short\"\nset = {{ \"train.steps\" = 300, \"train.eval_every\" = 100 }}\n");
    let r = recipe(d.path(), "cancel", &body);
    let c = d.path().join("cancel");
    let o = bin()
        .args([
            "run",
            &r,
            "--seeds",
            "1",
            "--out",
            c.to_str().unwrap(),
            "--engine",
            "slurm",
            "--detach",
        ])
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let job = String::from_utf8_lossy(&o.stdout).trim().to_string();
    let ck = c.join("long-s0/checkpoint.safetensors");
    let short_done = c.join("short-s0/result.json");
    let t1 = Instant::now();
    while !(ck.exists() && short_done.exists()) {
        assert!(
            t1.elapsed() < Duration::from_secs(120),
            "runs did not start"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    let short_mtime = std::fs::metadata(&short_done).unwrap().modified().unwrap();
    assert!(Command::new("scancel")
        .arg(&job)
        .status()
        .unwrap()
        .success());
    while !squeue_empty(&job) {
        assert!(
            t1.elapsed() < Duration::from_secs(120),
            "cancel did not finish"
        );
        std::thread::sleep(Duration::from_millis(200));
    }
    std::thread::sleep(Duration::from_millis(500));
    assert!(
        !c.join("long-s0/result.json").exists(),
        "the long run must have been interrupted"
    );
    let st = bin()
        .args(["status", c.to_str().unwrap()])
        .output()
        .unwrap();
    let st = String::from_utf8_lossy(&st.stdout).to_string();
    assert!(st.contains("interrupted") || st.contains("running"), "{st}");
    let t2 = Instant::now();
    let o = bin()
        .args([
            "resume",
            c.to_str().unwrap(),
            "--engine",
            "slurm",
            "--quiet",
        ])
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert!(String::from_utf8_lossy(&o.stderr).contains("1 of 2 runs to resume"));
    eprintln!(
        "cancel + resume: resume took {:.1} s",
        t2.elapsed().as_secs_f64()
    );
    assert_eq!(
        std::fs::metadata(&short_done).unwrap().modified().unwrap(),
        short_mtime,
        "the finished run was not re-run"
    );
    // same numbers as an uninterrupted local run
    let u = d.path().join("uninterrupted");
    let o = bin()
        .args([
            "run",
            &r,
            "--seeds",
            "1",
            "--variants",
            "long",
            "--out",
            u.to_str().unwrap(),
            "--quiet",
        ])
        .output()
        .unwrap();
    assert!(o.status.success());
    assert_eq!(
        without_wall(&c.join("long-s0/result.json")),
        without_wall(&u.join("long-s0/result.json"))
    );
    assert_eq!(
        std::fs::read_to_string(c.join("long-s0/curve.csv")).unwrap(),
        std::fs::read_to_string(u.join("long-s0/curve.csv")).unwrap()
    );
    eprintln!(
        "slurm integration test total {:.1} s",
        t0.elapsed().as_secs_f64()
    );
}

/// Every study kind runs under Slurm: a tiny grid-world study (4 runs, 3 per task: 2 tasks)
/// and a tiny VAE study (2 runs in one task) give the same numbers as the local engine.
#[test]
#[ignore = "needs a running Slurm cluster (.ci/run starts one with scripts/slurm/start.sh)"]
fn slurm_runs_grid_world_and_vae_studies_several_runs_per_task() {
    let d = tempfile::tempdir().unwrap();
    let kinds: [(&str, &[&str], usize, usize); 2] = [
        (
            "fig6",
            &[
                "--seeds",
                "2",
                "--steps",
                "10",
                "--set",
                "cells.n_cells=16",
                "--set",
                "train.eval_every=10",
                "--set",
                "train.eval_worlds=2",
            ],
            3,
            4,
        ),
        (
            "fig13",
            &[
                "--seeds",
                "1",
                "--steps",
                "3",
                "--variants",
                "bio_w1,bvae_b1",
                "--set",
                "train.batch=8",
                "--set",
                "train.mig_samples=200",
                "--set",
                "train.r2_samples=16",
            ],
            2,
            2,
        ),
    ];
    for (recipe, args, per_task, n_runs) in kinds {
        let (a, b) = (
            d.path().join(format!("{recipe}-local")),
            d.path().join(format!("{recipe}-slurm")),
        );
        let o = bin()
            .args(["run", recipe, "--quiet", "--out", a.to_str().unwrap()])
            .args(args)
            .output()
            .unwrap();
        assert!(
            o.status.success(),
            "{recipe} local: {}",
            String::from_utf8_lossy(&o.stderr)
        );
        let o = bin()
            .args([
                "run",
                recipe,
                "--quiet",
                "--engine",
                "slurm",
                "--out",
                b.to_str().unwrap(),
            ])
            .args(["--runs-per-task", &per_task.to_string()])
            .args(args)
            .output()
            .unwrap();
        assert!(
            o.status.success(),
            "{recipe} slurm: {}",
            String::from_utf8_lossy(&o.stderr)
        );
        // one task list with ceil(n_runs / per_task) lines, one array job
        let lists: Vec<_> = std::fs::read_dir(b.join("slurm"))
            .unwrap()
            .flatten()
            .filter(|e| e.file_name().to_string_lossy().starts_with("tasks-"))
            .collect();
        assert_eq!(lists.len(), 1, "{recipe}");
        let tasks = std::fs::read_to_string(lists[0].path()).unwrap();
        assert_eq!(
            tasks.lines().count(),
            n_runs.div_ceil(per_task),
            "{recipe}: {tasks}"
        );
        let st = String::from_utf8_lossy(
            &bin()
                .args(["status", b.to_str().unwrap()])
                .output()
                .unwrap()
                .stdout,
        )
        .to_string();
        assert!(st.contains(&format!("{n_runs} done")), "{recipe}: {st}");
        for id in std::fs::read_dir(&a)
            .unwrap()
            .flatten()
            .filter(|e| e.path().join("result.json").is_file())
        {
            let id = id.file_name();
            let mut ra = without_wall(&a.join(&id).join("result.json"));
            let mut rb = without_wall(&b.join(&id).join("result.json"));
            // timings differ between engines; every number of the model must not
            for k in [
                "steps_per_s",
                "euler_step_s",
                "train_s",
                "eval_s",
                "ms_per_step",
            ] {
                ra.as_object_mut().unwrap().remove(k);
                rb.as_object_mut().unwrap().remove(k);
            }
            assert_eq!(ra, rb, "{recipe} {id:?}: local and slurm results differ");
        }
        assert!(b.join("report.html").is_file(), "{recipe}: no report");
    }
}
