//! `biodis bench`: the Rust side of the peer benchmarks in `bench/peers` (PyTorch eager and
//! JAX jit), on the identical initial weights and data pools written by `gen_data.py`, with the
//! same math (see `bench/peers/bench_torch.py`). Prints JSON lines in the peers' format, so the
//! ratio is taken between numbers measured side by side on the same machine.
//!
//! - `--mode time`: warm-up of n/4 + 1 steps, then `--reps` repeats of n steps; median steps/s.
//! - `--mode check`: the loss at steps 0, 1, 10, 50, 100, 199 (compare with the peers' check).

use anyhow::{bail, Context, Result};
use biodis_nn::{Activation, Adam, Constraints, Head, Layers, Mlp, MlpSpec, Nonneg, Reduction};
use std::path::{Path, PathBuf};
use std::time::Instant;

#[derive(clap::Args)]
pub struct BenchArgs {
    /// B1 (6-188-6, Fig 2), B2 (deep supervised, Fig 3), B3 (deep autoencoder, Fig 4), B4 (conv
    /// VAE, Fig 5), or
    /// `metrics` (MIR + MIG and DCI timings), `peak` (this machine's f32 GEMM rate, one core and
    /// all), or `explain` (the CPU and the kernels picked for it).
    bench: String,
    /// `time` or `check`.
    #[arg(long, default_value = "time")]
    mode: String,
    /// Timed repeats.
    #[arg(long, default_value_t = 7)]
    reps: usize,
    /// Directory written by bench/peers/gen_data.py (default: $BENCH_DATA or /tmp/biodis-bench-data).
    /// For `metrics`: where to write the benchmark arrays (z.npy, f.npy) for bench/dci_sklearn.py.
    #[arg(long)]
    data: Option<PathBuf>,
    /// Threads of a step: B4's native engine splits the batch (burn: its rayon pool); B1–B3
    /// split their larger products (as a lone run of a study does).
    #[arg(long, default_value_t = 1)]
    threads: usize,
    /// B4's engine: `cpu` (biodis's native engine), `burn_cpu` (burn flex, the reference) or
    /// `gpu` (burn wgpu; needs a `--features gpu` build).
    #[arg(long, default_value = "cpu")]
    engine: String,
}

/// `biodis bench B4`: the paper's conv VAE (β-VAE loss with β = 4, no constraints, as
/// `bench_torch.py` B4) on the engine of `--engine` (the native one by default), from the
/// shared initial weights and batches
/// (4 pools × 64 images, 64×64×3), Adam lr 1e-4. Reports ms per step.
fn b4_bench(a: &BenchArgs, dir: &Path) -> Result<()> {
    use biodis_vae::model::Nonneg;
    use biodis_vae::{Backend, VaeSpec, VaeTrain, VaeTrainer};
    rayon::ThreadPoolBuilder::new()
        .num_threads(a.threads.max(1))
        .build_global()
        .context("starting the thread pool")?;
    let (device, fw) = match a.engine.as_str() {
        "cpu" => (Backend::Cpu, "biodis"),
        "burn_cpu" => (Backend::BurnCpu, "biodis-burn-flex"),
        "gpu" => (Backend::Gpu, "biodis-burn-wgpu"),
        e => bail!(
            "--engine {e}: expected cpu (the native engine), burn_cpu (burn flex) or gpu (burn wgpu; a --features gpu build)"
        ),
    };
    let man = read_manifest(dir)?;
    let mut names: Vec<String> = Vec::new();
    for l in 0..4 {
        names.push(format!("b4_c{l}_w"));
        names.push(format!("b4_c{l}_b"));
    }
    for n in ["b4_e0", "b4_e1", "b4_d0", "b4_d1"] {
        names.push(format!("{n}_w"));
        names.push(format!("{n}_b"));
    }
    for l in 0..4 {
        names.push(format!("b4_t{l}_w"));
        names.push(format!("b4_t{l}_b"));
    }
    let params: Vec<Vec<f32>> = names
        .iter()
        .map(|n| load(dir, &man, n))
        .collect::<Result<_>>()?;
    let x = load(dir, &man, "b4_x")?;
    let eps = load(dir, &man, "b4_eps")?;
    let spec = VaeSpec {
        nonneg: Nonneg::None,
        beta_vae: 4.0,
        beta_weight: 0.0,
        ..VaeSpec::default()
    };
    let train = VaeTrain {
        steps: 1,
        batch: 64,
        lr: 1e-4,
        log_every: 1,
        eval_every: 0,
        mig_samples: 10_000,
        r2_samples: 1000,
        checkpoint_every: u64::MAX,
        device,
        threads: a.threads.max(1),
    };
    let mut t = VaeTrainer::new(spec, train, 3, 0)?;
    t.set_params(&params)?;
    let (px, pe) = (64 * 3 * 64 * 64, 64 * 10);
    let mut step = |i: usize| -> Result<f64> {
        let p = i % 4;
        let l = t.step_on(
            x[p * px..(p + 1) * px].to_vec(),
            eps[p * pe..(p + 1) * pe].to_vec(),
            3,
        )?;
        if i == 0 && a.mode == "check" {
            eprintln!("step 0: rec {} kl {}", l.rec, l.kl);
        }
        Ok(l.total)
    };
    if a.mode == "check" {
        let mut out = Vec::new();
        for i in 0..200 {
            let l = step(i)?;
            if [0, 1, 10, 50, 100, 199].contains(&i) {
                out.push(serde_json::json!([i, l]));
            }
        }
        println!(
            "{}",
            serde_json::json!({"fw": fw, "bench": "B4", "mode": "check", "losses": out})
        );
        return Ok(());
    }
    if a.mode != "time" {
        bail!("--mode {}: expected time or check", a.mode);
    }
    let n = 4;
    let t0 = Instant::now();
    for i in 0..2 {
        step(i)?;
    }
    let warm = t0.elapsed().as_secs_f64();
    let mut ms = Vec::new();
    let mut i = 2;
    for _ in 0..a.reps.max(1) {
        let t0 = Instant::now();
        for _ in 0..n {
            std::hint::black_box(step(i)?);
            i += 1;
        }
        ms.push(t0.elapsed().as_secs_f64() * 1e3 / n as f64);
    }
    let mut sorted = ms.clone();
    sorted.sort_by(|a, b| a.total_cmp(b));
    let median = sorted[sorted.len() / 2];
    println!(
        "{}",
        serde_json::json!({"fw": fw, "bench": "B4", "threads": a.threads, "mode": "time", "steps": n,
            "warm_s": warm, "median_ms": median, "median": 1e3 / median, "ms": ms})
    );
    Ok(())
}

/// `biodis bench metrics`: MIR + MIG on 10 000 samples × 10 latents × 6 factors, and DCI on the
/// same (scikit-learn side: `bench/dci_sklearn.py` on the arrays written to `--data`).
fn metrics_bench(a: &BenchArgs) -> Result<()> {
    use biodis_metrics::special::SplitMix64;
    let (n, d) = (10_000usize, 10usize);
    let sizes = [2usize, 3, 4, 5, 6, 4];
    let k = sizes.len();
    let mut rng = SplitMix64(biodis_data::streams::fixed::BENCH_METRICS_DATA);
    let f = ndarray::Array2::from_shape_fn((n, k), |(_, j)| rng.below(sizes[j]) as f64);
    let mix: Vec<f64> = (0..d * k).map(|_| rng.normal()).collect();
    let z = ndarray::Array2::from_shape_fn((n, d), |(s, i)| {
        let mut v = 0.0;
        for j in 0..k {
            // latent i follows factor i % k strongly, the others weakly
            let w = if i % k == j {
                1.0
            } else {
                0.15 * mix[i * k + j]
            };
            v += w * f[[s, j]] / sizes[j] as f64;
        }
        v
    });
    let z = &z + &ndarray::Array2::from_shape_fn((n, d), |_| 0.05 * rng.normal());
    if let Some(dir) = &a.data {
        std::fs::create_dir_all(dir)?;
        let mut b = Vec::new();
        ndarray_npy::WriteNpyExt::write_npy(&z, &mut b)?;
        biodis_rundir::atomic_write(&dir.join("z.npy"), &b)?;
        let mut b = Vec::new();
        ndarray_npy::WriteNpyExt::write_npy(&f, &mut b)?;
        biodis_rundir::atomic_write(&dir.join("f.npy"), &b)?;
    }
    let reps = a.reps.max(1);
    let mut t = Vec::new();
    let mut last = (0.0, 0.0);
    for _ in 0..reps {
        let t0 = Instant::now();
        let m = biodis_metrics::mir(z.view(), f.view(), &Default::default())?;
        let g = biodis_metrics::discrete::mig(
            z.view(),
            f.view(),
            biodis_metrics::FactorKind::Discrete,
            20,
        )?;
        t.push(t0.elapsed().as_secs_f64() * 1e3);
        last = (m.mir, g.value);
    }
    t.sort_by(|a, b| a.total_cmp(b));
    println!(
        "{}",
        serde_json::json!({"fw": "biodis", "bench": "mir+mig", "samples": n, "latents": d, "factors": k,
        "median_ms": t[t.len() / 2], "min_ms": t[0], "mir": last.0, "mig": last.1})
    );
    let n_train = 2 * n / 3;
    let t0 = Instant::now();
    let (s, _) = biodis_metrics::dci::dci(
        z.view(),
        f.view(),
        biodis_metrics::FactorKind::Discrete,
        20,
        n_train,
        Default::default(),
    )?;
    println!(
        "{}",
        serde_json::json!({"fw": "biodis", "bench": "dci", "samples": n, "n_train": n_train, "seconds": t0.elapsed().as_secs_f64(),
        "disentanglement": s.parts["disentanglement"], "completeness": s.parts["completeness"], "informativeness_test": s.parts["informativeness_test"]})
    );
    Ok(())
}

/// Reads `manifest.json` (array shapes) written by `bench/peers/gen_data.py`.
fn read_manifest(dir: &Path) -> Result<serde_json::Value> {
    let mp = dir.join("manifest.json");
    serde_json::from_str(&std::fs::read_to_string(&mp).with_context(|| {
        format!(
            "reading {} (run `python3 bench/peers/gen_data.py` first; it writes $BENCH_DATA, default /tmp/biodis-bench-data)",
            mp.display()
        )
    })?)
    .with_context(|| format!("parsing {}", mp.display()))
}

/// Reads `name.bin` (raw little-endian f32) with the shape from `manifest.json`.
fn load(dir: &Path, man: &serde_json::Value, name: &str) -> Result<Vec<f32>> {
    let shape = man
        .get(name)
        .and_then(|v| v.as_array())
        .with_context(|| format!("{}/manifest.json has no entry {name}", dir.display()))?;
    let n: usize = shape
        .iter()
        .map(|v| v.as_u64().unwrap_or(0) as usize)
        .product();
    let p = dir.join(format!("{name}.bin"));
    let bytes = std::fs::read(&p).with_context(|| format!("reading {}", p.display()))?;
    if bytes.len() != 4 * n {
        bail!(
            "{}: {} bytes, expected {} (shape {:?})",
            p.display(),
            bytes.len(),
            4 * n,
            shape
        );
    }
    Ok(bytes
        .chunks_exact(4)
        .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
        .collect())
}

/// The network, constraints, lr, data pools and step count of a peer benchmark.
pub struct Setup {
    pub net: Mlp<f32>,
    pub c: Constraints,
    pub lr: f64,
    pub x: Vec<f32>,
    pub y: Vec<f32>,
    pub batch: usize,
    pub pools: usize,
    pub nsteps: usize,
}

pub fn setup(bench: &str, dir: &Path) -> Result<Setup> {
    let man = read_manifest(dir)?;
    let (prefix, dims, latent_only, head, nsteps, batch): (
        &str,
        Vec<usize>,
        Option<usize>,
        Head,
        usize,
        usize,
    ) = match bench {
        "B1" => ("b1", vec![6, 188, 6], None, Head::Mse, 2000, 128),
        "B2" => (
            "b2",
            vec![6, 188, 186, 184, 182, 180, 6],
            None,
            Head::Mse,
            300,
            128,
        ),
        "B3" => (
            "b3",
            vec![50, 500, 300, 100, 10, 100, 300, 500, 50],
            Some(3),
            Head::SigmoidCe,
            300,
            64,
        ),
        other => bail!(
            "unknown benchmark '{other}': expected one of {}",
            BENCHES.join(", ")
        ),
    };
    let mut params = Vec::new();
    for l in 0..dims.len() - 1 {
        params.extend(load(dir, &man, &format!("{prefix}_l{l}_w"))?);
        params.extend(load(dir, &man, &format!("{prefix}_l{l}_b"))?);
    }
    let (x, y) = if bench == "B3" {
        let x = load(dir, &man, "b3_x")?;
        (x.clone(), x)
    } else {
        (load(dir, &man, "b1_x")?, load(dir, &man, "b1_y")?)
    };
    let sel = match latent_only {
        Some(l) => Layers::List(vec![l]),
        None => Layers::all(),
    };
    let c = Constraints {
        nonneg: Nonneg::Hinge,
        beta_nonneg: 2.0,
        nonneg_layers: sel.clone(),
        beta_activity: 1e-3,
        activity_layers: sel,
        beta_weight: 1e-4,
        ..Constraints::default()
    };
    let spec = MlpSpec {
        activations: vec![Activation::Relu; dims.len() - 2],
        dims,
        head,
        reduction: Reduction::Mean,
        split: None,
    };
    let net = Mlp::with_params(spec, &c, params);
    Ok(Setup {
        net,
        c,
        lr: 1e-3,
        x,
        y,
        batch,
        pools: 16,
        nsteps,
    })
}

/// The benchmark names `biodis bench` knows.
pub const BENCHES: &[&str] = &["B1", "B2", "B3", "B4", "metrics", "peak", "explain"];

/// `biodis bench peak`: this machine's f32 GEMM rate with the kernels this build picked for it
/// (`biodis bench explain`), on one core and on every core, on 1024 × 1024 × 1024 products —
/// the denominator of every "fraction of peak" figure (numpy's sgemm is not: the environment
/// may pin OpenBLAS to a slower core type). GFLOP/s, median of `--reps`, each rep ≥ 2 GFLOP.
fn peak_bench(a: &BenchArgs) -> Result<()> {
    let n = 1024;
    let x: Vec<f32> = (0..n * n).map(|i| ((i % 97) as f32) * 0.01 - 0.5).collect();
    let y: Vec<f32> = (0..n * n).map(|i| ((i % 89) as f32) * 0.01 - 0.4).collect();
    let all = std::thread::available_parallelism().map_or(1, |v| v.get());
    let mut out = serde_json::Map::new();
    for threads in [1, all] {
        if threads == all && all == 1 && out.contains_key("gflops_1") {
            break;
        }
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .build()
            .context("starting the thread pool")?;
        let rates = pool.install(|| {
            biodis_nn::kernels::set_gemm_threads(threads);
            let mut z = vec![0.0f32; n * n];
            let mm = |z: &mut [f32]| {
                biodis_vae::native::gemm::mm(n, n, n, &x, (n, 1), &y, (n, 1), 0.0, z, (n, 1));
                std::hint::black_box(&*z);
            };
            mm(&mut z);
            let reps = (2e9 / (2.0 * (n * n * n) as f64)).ceil() as usize;
            let mut rates = Vec::new();
            for _ in 0..a.reps.max(1) {
                let t0 = Instant::now();
                for _ in 0..reps {
                    mm(&mut z);
                }
                rates.push(2.0 * (n * n * n * reps) as f64 / t0.elapsed().as_secs_f64() / 1e9);
            }
            rates
        });
        let mut sorted = rates.clone();
        sorted.sort_by(|a, b| a.total_cmp(b));
        out.insert(
            format!("median_gflops_{threads}"),
            serde_json::json!(sorted[sorted.len() / 2]),
        );
        out.insert(format!("gflops_{threads}"), serde_json::json!(rates));
    }
    let k = biodis_nn::kernels::choice();
    let mut line = serde_json::json!({"fw": "biodis-gemm", "bench": "peak", "size": n,
        "threads": all, "cpu_family": k.cpu.family, "cpu_model": k.cpu.model,
        "cpu": k.cpu.name, "microarchitecture": k.cpu.microarchitecture(), "gemm_kernels": k.gemm});
    if let Some(m) = line.as_object_mut() {
        m.extend(out);
        // the one-core figure under its old key, for scripts reading it
        if let Some(v) = m.get("median_gflops_1").cloned() {
            m.insert("median_gflops".into(), v);
        }
    }
    println!("{line}");
    Ok(())
}

/// `biodis bench explain`: the CPU and the kernel paths picked for it, with the reason
/// (`biodis_nn::kernels`; `BIODIS_KERNELS=auto|avx2|avx512` overrides).
fn explain() -> Result<()> {
    let k = biodis_nn::kernels::check_env()?;
    let mut v = serde_json::to_value(k)?;
    if let Some(m) = v.as_object_mut() {
        m.insert("microarchitecture".into(), k.cpu.microarchitecture().into());
    }
    println!("{}", serde_json::to_string_pretty(&v)?);
    Ok(())
}

pub fn run(a: BenchArgs) -> Result<()> {
    if !BENCHES.contains(&a.bench.as_str()) {
        bail!(
            "unknown benchmark '{}': expected one of {} (B5, the lockstep population, is not implemented in this build)",
            a.bench,
            BENCHES.join(", ")
        );
    }
    if a.bench == "metrics" {
        return metrics_bench(&a);
    }
    if a.bench == "peak" {
        return peak_bench(&a);
    }
    if a.bench == "explain" {
        return explain();
    }
    let dir = a
        .data
        .clone()
        .or_else(|| std::env::var_os("BENCH_DATA").map(PathBuf::from))
        .unwrap_or_else(|| PathBuf::from("/tmp/biodis-bench-data"));
    if a.bench == "B4" {
        return b4_bench(&a, &dir);
    }
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(a.threads.max(1))
        .build()
        .context("starting the thread pool")?;
    pool.install(|| {
        biodis_nn::kernels::set_gemm_threads(a.threads);
        dense_bench(&a, &dir)
    })
}

/// B1–B3: the dense trainer's step, its products on `--threads` threads.
fn dense_bench(a: &BenchArgs, dir: &Path) -> Result<()> {
    let mut s = setup(&a.bench, dir)?;
    let mut adam: Adam<f32> = Adam::new(s.net.params.len());
    let (dx, dy) = (s.net.spec.dims[0], *s.net.spec.dims.last().unwrap_or(&0));
    let b = s.batch;
    let mut step = |i: usize, s: &mut Setup| -> f64 {
        let p = i % s.pools;
        let (x, y) = (
            &s.x[p * b * dx..(p + 1) * b * dx],
            &s.y[p * b * dy..(p + 1) * b * dy],
        );
        let t = s.net.loss_and_grad(x, y, b, &s.c);
        adam.step(&mut s.net.params, &s.net.grads, s.lr);
        t.total
    };
    if a.mode == "check" {
        let mut out = Vec::new();
        for i in 0..200 {
            let l = step(i, &mut s);
            if [0, 1, 10, 50, 100, 199].contains(&i) {
                out.push(serde_json::json!([i, l]));
            }
        }
        println!(
            "{}",
            serde_json::json!({"fw": "biodis", "bench": a.bench, "mode": "check", "losses": out})
        );
        return Ok(());
    }
    if a.mode != "time" {
        bail!("--mode {}: expected time or check", a.mode);
    }
    let n = s.nsteps;
    let mut i = 0;
    let t0 = Instant::now();
    for _ in 0..(n / 4).max(2) + 1 {
        step(i, &mut s);
        i += 1;
    }
    let warm = t0.elapsed().as_secs_f64();
    let mut rates = Vec::new();
    for _ in 0..a.reps.max(1) {
        let t0 = Instant::now();
        for _ in 0..n {
            std::hint::black_box(step(i, &mut s));
            i += 1;
        }
        rates.push(n as f64 / t0.elapsed().as_secs_f64());
    }
    let mut sorted = rates.clone();
    sorted.sort_by(|a, b| a.total_cmp(b));
    let median = sorted[sorted.len() / 2];
    println!(
        "{}",
        serde_json::json!({"fw": "biodis", "bench": a.bench, "threads": a.threads, "mode": "time", "steps": n, "warm_s": warm,
            "median": median, "min": sorted[0], "max": sorted[sorted.len()-1], "rates": rates})
    );
    Ok(())
}
