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
