//! The commands of `biodis`: argument parsing (clap) and each subcommand turned into library
//! calls. [`run`] is the whole program; `main.rs` and the Python console script call it.

use anyhow::{bail, Context, Result};
use clap::{Parser, Subcommand};
use std::path::PathBuf;

use crate::{bench, protocol, score, spatial};

#[derive(Parser)]
#[command(
    name = "biodis",
    version,
    about = "Disentanglement with biological constraints (Whittington et al., ICLR 2023): reproduce, train, score, report."
)]
struct Cli {
    #[command(subcommand)]
    cmd: Cmd,
}

#[derive(Subcommand)]
enum Cmd {
    /// List the embedded recipes (the paper's experiments).
    List,
    /// Run a study: every variant × seed of a recipe, then write the summary, figures and report.
    Run {
        /// An embedded recipe name (see `biodis list`), `synthetic` or `paper` (every figure,
        /// into runs/paper/<figure>/), or a path to a .toml recipe.
        recipe: String,
        /// Number of seeds per variant (overrides study.seeds).
        #[arg(long)]
        seeds: Option<u64>,
        /// Training steps per run (overrides train.steps).
        #[arg(long)]
        steps: Option<u64>,
        /// Override any recipe key, e.g. --set train.lr=1e-3 (repeatable). Applies to every
        /// variant that does not set the key itself (a variant's own value is kept, with a
        /// warning); --set VARIANT:key=value applies to one variant and wins over its settings.
        #[arg(long = "set", value_name = "KEY=VALUE")]
        set: Vec<String>,
        /// Only these variants (comma-separated names; default: all of the recipe's).
        #[arg(long, value_delimiter = ',')]
        variants: Vec<String>,
        /// Study directory (default: runs/<study name>).
        #[arg(long)]
        out: Option<PathBuf>,
        /// Runs at a time, one thread each (default: number of cores).
        #[arg(long)]
        jobs: Option<usize>,
        /// Print the resolved runs and exit without training.
        #[arg(long)]
        dry_run: bool,
        /// Hide progress bars.
        #[arg(long)]
        quiet: bool,
        #[command(flatten)]
        engine: EngineArgs,
        /// With --engine slurm: submit and return without waiting.
        #[arg(long)]
        detach: bool,
        /// VAE recipes (fig5, fig12, fig13): a scale preset of the recipe's [scales] table,
        /// `cpu` (default: minutes to an hour on a laptop) or `paper` (Table 1: needs a GPU).
        #[arg(long)]
        scale: Option<String>,
        /// VAE recipes: `cpu` (burn flex) or `gpu` (burn wgpu; needs a `--features gpu` build).
        /// Same as --set train.device=...
        #[arg(long)]
        device: Option<String>,
    },
    /// Generate a dataset file: `biodis data dsprites --out FILE.npz` writes the procedural
    /// dSprites in the official npz layout (imgs, latents_values, latents_classes).
    Data {
        /// `dsprites`.
        dataset: String,
        /// Output file (.npz).
        #[arg(long)]
        out: PathBuf,
        /// Keep the first k classes of each factor (color, shape, scale, orientation, posX,
        /// posY); default the full set 1,3,6,40,32,32 (737 280 images).
        #[arg(long, value_delimiter = ',')]
        sizes: Vec<usize>,
    },
    /// Run one run of a prepared study (what each Slurm array task executes).
    RunOne {
        /// The study directory.
        study: PathBuf,
        /// Run index (see the study's runs.json).
        #[arg(long)]
        index: usize,
    },
    /// Show each run's state; failures with their error and the end of their log.
    Status {
        /// The study directory.
        dir: PathBuf,
    },
    /// Re-run only the failed or unfinished runs of a study (resuming from checkpoints).
    Resume {
        /// The study directory.
        dir: PathBuf,
        /// Runs at a time, one thread each (default: number of cores).
        #[arg(long)]
        jobs: Option<usize>,
        /// Hide progress bars.
        #[arg(long)]
        quiet: bool,
        #[command(flatten)]
        engine: EngineArgs,
        /// With --engine slurm: submit and return without waiting.
        #[arg(long)]
        detach: bool,
    },
    /// Make the figures, summary table and report.html of a study directory.
    Report {
        /// The study directory (e.g. runs/fig2).
        dir: PathBuf,
    },
    /// Speed benchmarks against the PyTorch/JAX peers (bench/peers), on their data and weights.
    Bench(bench::BenchArgs),
    /// Score latents against ground-truth factors with MIR, MIG, DCI, SAP, … (arrays from any
    /// framework: .npy, .npz, .csv).
    Score(score::ScoreArgs),
    /// FactorVAE and BetaVAE scores (intervention-based, disentanglement_lib's protocol) of a
    /// representation on a built-in dataset's factor grid.
    ProtocolScore(protocol::ProtocolArgs),
    /// Spatial-cell analyses of ratemaps: grid scores (DeepMind, annulus, opexebo), nulls,
    /// spacing, Skaggs information, border score; a table and figures.
    Spatial(spatial::SpatialArgs),
    /// Check the paper's theorems numerically (Thm 1, Lemma A.3.2, Thm 2, A.3.4, A.3.5, A.7) and
    /// draw Fig 1.
    Theory {
        /// One check by name, or `all`.
        #[arg(long, default_value = "all")]
        check: String,
        /// Where the JSON table and the Fig 1 figure go.
        #[arg(long, default_value = "runs/theory")]
        out: PathBuf,
        /// Smaller samples and fewer restarts (seconds instead of tens of seconds).
        #[arg(long)]
        quick: bool,
        /// Seed of every random draw.
        #[arg(long, default_value_t = 0)]
        seed: u64,
        /// Print JSON instead of the table.
        #[arg(long)]
        json: bool,
    },
    /// Print an embedded recipe (to copy and edit).
    Show {
        /// Recipe name.
        recipe: String,
    },
}

/// Runs the `biodis` command line on `args` (the program name first, as `std::env::args_os`)
/// and returns the process exit status: 0 on success, 2 on an error (printed on stderr as
/// `error: ...`), clap's own status for `--help`, `--version` and usage errors.
pub fn run<I, T>(args: I) -> i32
where
    I: IntoIterator<Item = T>,
    T: Into<std::ffi::OsString> + Clone,
{
    let cli = match Cli::try_parse_from(args) {
        Ok(c) => c,
        Err(e) => {
            // --help / --version print on stdout with status 0; usage errors on stderr with 2
            let _ = e.print();
            return e.exit_code();
        }
    };
    match real_main(cli) {
        Ok(()) => 0,
        Err(e) => {
            eprintln!("error: {}", error_text(&e));
            2
        }
    }
}

/// An error and its causes joined by `: `, leaving out a cause whose text the message already
/// holds (typed errors often show their source in their own message), so nothing prints twice.
fn error_text(e: &anyhow::Error) -> String {
    let mut msg = e.to_string();
    for cause in e.chain().skip(1) {
        let t = cause.to_string();
        if !msg.contains(&t) {
            msg.push_str(": ");
            msg.push_str(&t);
        }
    }
    msg
}

fn real_main(cli: Cli) -> Result<()> {
    match cli.cmd {
        Cmd::List => {
            for (name, text) in biodis_study::EMBEDDED {
                let src = biodis_study::RecipeSource {
                    name: name.to_string(),
                    text: text.to_string(),
                };
                let desc = src
                    .text
                    .parse::<toml::Table>()
                    .ok()
                    .and_then(|t| {
                        t.get("study")?
                            .get("description")?
                            .as_str()
                            .map(|s| s.to_string())
                    })
                    .unwrap_or_default();
                println!("{name:<16} {desc}");
            }
            println!(
                "{:<16} every synthetic experiment in one run: {}",
                "synthetic",
                biodis_study::SYNTHETIC.join(", ")
            );
            println!(
                "{:<16} every figure of the paper in one run: synthetic, then {}",
                "paper",
                biodis_study::PAPER_EXTRA.join(", ")
            );
            Ok(())
        }
        Cmd::Show { recipe } => {
            let src = biodis_study::locate(&recipe)?;
            print!("{}", src.text);
            Ok(())
        }
        Cmd::Run {
            recipe,
            seeds,
            steps,
            set,
            variants,
            out,
            jobs,
            dry_run,
            quiet,
            engine,
            detach,
            scale,
            device,
        } => {
            let mut set = set;
            if let Some(d) = device {
                if d != "cpu" && d != "gpu" {
                    bail!("--device {d}: expected cpu or gpu");
                }
                if scale.is_none()
                    && !biodis_study::vae::is_vae_recipe(&biodis_study::locate(&recipe)?)
                {
                    bail!("--device applies to VAE recipes (fig5, fig12, fig13) only");
                }
                set.push(format!("train.device=\"{d}\""));
            }
            let overrides = set
                .iter()
                .map(|s| biodis_study::parse_override(s))
                .collect::<Result<Vec<_>, _>>()?;
            let jobs = jobs.unwrap_or_else(|| {
                std::thread::available_parallelism()
                    .map(|n| n.get())
                    .unwrap_or(1)
            });
            if jobs == 0 {
                bail!("--jobs 0: expected at least 1");
            }
            if recipe == "synthetic" || recipe == "paper" {
                let members: Vec<&str> = if recipe == "paper" {
                    biodis_study::paper_recipes()
                } else {
                    biodis_study::SYNTHETIC.to_vec()
                };
                let parent = out.unwrap_or_else(|| PathBuf::from("runs").join(&recipe));
                let mut failed = Vec::new();
                let t0 = std::time::Instant::now();
                for (k, name) in members.iter().enumerate() {
                    eprintln!("== {name} ({}/{})", k + 1, members.len());
                    let src = biodis_study::locate(name)?;
                    let is_vae = biodis_study::vae::is_vae_recipe(&src);
                    let r = run_recipe(
                        &src,
                        if is_vae { scale.as_deref() } else { None },
                        &overrides,
                        seeds,
                        steps,
                        &variants,
                        Some(parent.join(name)),
                        jobs,
                        dry_run,
                        quiet,
                        &engine,
                        detach,
                    );
                    if let Err(e) = r {
                        eprintln!("{name}: {e:#}");
                        failed.push(name.to_string());
                    }
                }
                if !dry_run {
                    write_group_index(&parent, &recipe, &members)?;
                    println!(
                        "{recipe}: wall time {:.1} s; index {}",
                        t0.elapsed().as_secs_f64(),
                        parent.join("index.html").display()
                    );
                }
                if !failed.is_empty() {
                    bail!("studies with failed runs: {}", failed.join(", "));
                }
                return Ok(());
            }
            let src = biodis_study::locate(&recipe)?;
            run_recipe(
                &src,
                scale.as_deref(),
                &overrides,
                seeds,
                steps,
                &variants,
                out,
                jobs,
                dry_run,
                quiet,
                &engine,
                detach,
            )
        }
        Cmd::Data {
            dataset,
            out,
            sizes,
        } => data_cmd(&dataset, &out, &sizes),
        Cmd::RunOne { study, .. } if biodis_study::vae::is_vae_study(&study) => bail!(
            "{}: VAE studies run on the local engine only; use `biodis resume {}`",
            study.display(),
            study.display()
        ),
        Cmd::Resume {
            dir, jobs, quiet, ..
        } if biodis_study::vae::is_vae_study(&dir) => {
            let all = biodis_study::vae::load_vae_study(&dir).map_err(anyhow::Error::msg)?;
            let jobs = jobs.unwrap_or(1);
            run_vae_dir(&dir, &all, jobs, quiet)
        }
        Cmd::Report { dir } if biodis_study::vae::is_vae_study(&dir) => {
            print_report(&dir, biodis_report::vae::report_vae(&dir))
        }
        Cmd::RunOne { study, .. } if biodis_study::cells::is_cells_study(&study) => bail!(
            "{}: grid-world studies run on the local engine only; use `biodis resume {}`",
            study.display(),
            study.display()
        ),
        Cmd::Resume {
            dir, jobs, quiet, ..
        } if biodis_study::cells::is_cells_study(&dir) => {
            let all = biodis_study::cells::load_cells_study(&dir).map_err(anyhow::Error::msg)?;
            let jobs = jobs.unwrap_or_else(|| {
                std::thread::available_parallelism()
                    .map(|n| n.get())
                    .unwrap_or(1)
            });
            run_cells_dir(&dir, &all, jobs, quiet)
        }
        Cmd::Report { dir } if biodis_study::cells::is_cells_study(&dir) => {
            print_report(&dir, biodis_report::cells::report_cells(&dir))
        }
        Cmd::RunOne { study, index } => {
            biodis_study::run_one(&study, index).map_err(anyhow::Error::msg)?;
            Ok(())
        }
        Cmd::Status { dir } => status(&dir),
        Cmd::Resume {
            dir,
            jobs,
            quiet,
            engine,
            detach,
        } => {
            let all = biodis_study::load_study(&dir).map_err(anyhow::Error::msg)?;
            let todo: Vec<biodis_study::RunConfig> = all
                .iter()
                .filter(|c| {
                    let rd = biodis_study::RunDir::new(dir.join(c.run_id()));
                    if !matches!(rd.read_status(), Some(st) if st.state == biodis_study::State::Done)
                    {
                        return true;
                    }
                    // a `done` run is trusted only with a result.json that reads back whole
                    match biodis_study::read_result(&rd) {
                        Ok(Some(_)) => false,
                        Ok(None) => {
                            eprintln!(
                                "warning: {}: done but {} is missing; re-running it",
                                c.run_id(),
                                rd.result().display()
                            );
                            true
                        }
                        Err(e) => {
                            eprintln!("warning: {}: {e}; re-running it", c.run_id());
                            true
                        }
                    }
                })
                .cloned()
                .collect();
            eprintln!(
                "{}: {} of {} runs to resume",
                dir.display(),
                todo.len(),
                all.len()
            );
            let jobs = jobs.unwrap_or_else(|| {
                std::thread::available_parallelism()
                    .map(|n| n.get())
                    .unwrap_or(1)
            });
            execute_subset(&dir, &all, &todo, jobs, quiet, &engine, detach)
        }
        Cmd::Report { dir } => {
            let rep = biodis_report::report_study(&dir)
                .with_context(|| format!("report for {}", dir.display()))?;
            println!("{}", rep.table);
            for f in &rep.files {
                println!("wrote {}", f.display());
            }
            Ok(())
        }
        Cmd::Bench(args) => bench::run(args),
        Cmd::Score(args) => score::run(args),
        Cmd::ProtocolScore(args) => protocol::run(args),
        Cmd::Spatial(args) => spatial::run(args),
        Cmd::Theory {
            check,
            out,
            quick,
            seed,
            json,
        } => theory(&check, &out, quick, seed, json),
    }
}

fn theory(check: &str, out: &std::path::Path, quick: bool, seed: u64, json: bool) -> Result<()> {
    let t0 = std::time::Instant::now();
    let res = biodis_theory::run(check, biodis_theory::Config { quick, seed })
        .map_err(anyhow::Error::msg)?;
    std::fs::create_dir_all(out).with_context(|| format!("{}: cannot create", out.display()))?;
    let j = serde_json::to_string_pretty(&res)?;
    std::fs::write(out.join("theory.json"), &j)
        .with_context(|| format!("{}: cannot write", out.display()))?;
    let panels = biodis_theory::checks::fig1_data(3000, seed);
    let files = biodis_report::fig1(out, &panels)?;
    if json {
        println!("{j}");
    } else {
        for c in &res {
            println!("{} {}", if c.pass { "PASS" } else { "FAIL" }, c.name);
            println!("     statement: {}", c.statement);
            println!("     expected:  {}", c.expected);
            println!("     measured:  {}", c.measured);
        }
        let passed = res.iter().filter(|c| c.pass).count();
        println!(
            "\n{passed} of {} checks passed in {:.1} s",
            res.len(),
            t0.elapsed().as_secs_f64()
        );
        println!("wrote {}", out.join("theory.json").display());
        for f in files {
            println!("wrote {}", f.display());
        }
    }
    if res.iter().any(|c| !c.pass) {
        bail!("{} check(s) failed", res.iter().filter(|c| !c.pass).count());
    }
    Ok(())
}

/// Where runs execute.
#[derive(clap::Args, Debug, Clone)]
struct EngineArgs {
    /// `local` (a worker pool on this machine) or `slurm` (sbatch job arrays).
    #[arg(long, default_value = "local")]
    engine: String,
    /// Slurm partition.
    #[arg(long)]
    partition: Option<String>,
    /// Slurm time limit per run (e.g. 0:30:00).
    #[arg(long)]
    time: Option<String>,
    /// Slurm memory per run (e.g. 2G).
    #[arg(long)]
    mem: Option<String>,
    /// Slurm CPUs per run.
    #[arg(long)]
    cpus_per_task: Option<usize>,
    /// Slurm array throttle: at most this many runs at once.
    #[arg(long)]
    max_parallel: Option<usize>,
    /// The cluster's MaxArraySize (arrays are split to fit).
    #[arg(long, default_value_t = 1001)]
    max_array_size: usize,
    /// Extra sbatch argument (repeatable), e.g. --sbatch-arg=--qos=short.
    #[arg(long = "sbatch-arg", allow_hyphen_values = true)]
    sbatch_arg: Vec<String>,
}

fn execute(
    dir: &std::path::Path,
    runs: &[biodis_study::RunConfig],
    jobs: usize,
    quiet: bool,
    engine: &EngineArgs,
    detach: bool,
) -> Result<()> {
    execute_subset(dir, runs, runs, jobs, quiet, engine, detach)
}

/// Runs `todo` (a subset of the study's `all` runs) on the chosen engine, then writes the
/// summary and report for the whole study.
fn execute_subset(
    dir: &std::path::Path,
    all: &[biodis_study::RunConfig],
    todo: &[biodis_study::RunConfig],
    jobs: usize,
    quiet: bool,
    engine: &EngineArgs,
    detach: bool,
) -> Result<()> {
    let t0 = std::time::Instant::now();
    match engine.engine.as_str() {
        "local" => {
            if detach {
                bail!("--detach needs --engine slurm");
            }
            biodis_study::prepare_study(dir, all).map_err(anyhow::Error::msg)?;
            biodis_study::run_study(
                dir,
                todo,
                &biodis_study::EngineOptions {
                    jobs,
                    progress: !quiet,
                },
            )
            .map_err(anyhow::Error::msg)?;
        }
        "slurm" => {
            biodis_study::prepare_study(dir, all).map_err(anyhow::Error::msg)?;
            let ids: Vec<String> = todo.iter().map(|c| c.run_id()).collect();
            let indices: Vec<usize> = all
                .iter()
                .enumerate()
                .filter(|(_, c)| ids.contains(&c.run_id()))
                .map(|(i, _)| i)
                .collect();
            let exe = std::env::current_exe().context("locating the biodis binary")?;
            let opts = biodis_study::slurm::SlurmOptions {
                partition: engine.partition.clone(),
                time: engine.time.clone(),
                mem: engine.mem.clone(),
                cpus_per_task: engine.cpus_per_task,
                max_parallel: engine.max_parallel,
                extra: engine.sbatch_arg.clone(),
                max_array_size: engine.max_array_size,
            };
            let subs = biodis_study::slurm::submit(dir, &indices, &exe, &opts)
                .map_err(anyhow::Error::msg)?;
            let job_ids: Vec<String> = subs.iter().map(|s| s.job_id.clone()).collect();
            eprintln!(
                "submitted {} runs as Slurm job(s) {}",
                indices.len(),
                job_ids.join(", ")
            );
            if detach {
                println!("{}", job_ids.join(","));
                return Ok(());
            }
            let total = indices.len();
            let last = std::cell::Cell::new(usize::MAX);
            biodis_study::slurm::wait(&job_ids, &|active| {
                let done = all
                    .iter()
                    .filter(|c| ids.contains(&c.run_id()))
                    .filter(|c| {
                        matches!(biodis_study::RunDir::new(dir.join(c.run_id())).read_status(), Some(st) if st.state == biodis_study::State::Done || st.state == biodis_study::State::Failed)
                    })
                    .count();
                if !quiet && done != last.get() {
                    eprintln!("[{:>6.1} s] {done}/{total} runs finished, {active} Slurm tasks active", t0.elapsed().as_secs_f64());
                    last.set(done);
                }
            })
            .map_err(anyhow::Error::msg)?;
        }
        other => bail!("--engine {other}: expected local or slurm"),
    }
    let outcomes = biodis_study::outcomes_from_dirs(dir, all);
    biodis_study::write_summary(dir, &outcomes).map_err(anyhow::Error::msg)?;
    println!("{}", biodis_study::summary_table(&outcomes));
    println!("wall time {:.1} s", t0.elapsed().as_secs_f64());
    let rep = biodis_report::report_study(dir)
        .with_context(|| format!("report for {}", dir.display()))?;
    for f in &rep.files {
        println!("wrote {}", f.display());
    }
    let failed = outcomes.iter().filter(|o| o.result.is_err()).count();
    if failed > 0 {
        bail!(
            "{failed} of {} runs failed or did not finish (see `biodis status {}`)",
            outcomes.len(),
            dir.display()
        );
    }
    Ok(())
}

/// `biodis data dsprites --out FILE.npz [--sizes ...]`.
fn data_cmd(dataset: &str, out: &std::path::Path, sizes: &[usize]) -> Result<()> {
    use biodis_data::images::dsprites::{DSprites, LATENT_SIZES};
    if dataset != "dsprites" {
        bail!("unknown dataset '{dataset}': expected dsprites (Shapes3D cannot be regenerated; its look-alike is rendered on the fly)");
    }
    let sizes: [usize; 6] = if sizes.is_empty() {
        LATENT_SIZES
    } else {
        sizes.try_into().map_err(|_| {
            anyhow::anyhow!(
                "--sizes {:?}: expected 6 numbers (color, shape, scale, orientation, posX, posY)",
                sizes
            )
        })?
    };
    let n: usize = sizes.iter().product();
    let bar = indicatif::ProgressBar::new(n as u64);
    bar.set_style(
        indicatif::ProgressStyle::with_template(
            "{bar:40} {pos}/{len} images  {elapsed} (eta {eta})",
        )
        .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
    );
    let t0 = std::time::Instant::now();
    let written =
        biodis_data::images::npz::write_dsprites_npz(out, &DSprites::default(), sizes, |k| {
            bar.set_position(k as u64)
        })?;
    bar.finish_and_clear();
    let md5 = biodis_data::images::npz::md5_file(out)?;
    println!(
        "wrote {} ({written} images, dSprites-procedural (approximate), {:.1} s, md5 {md5})",
        out.display(),
        t0.elapsed().as_secs_f64()
    );
    Ok(())
}

fn status(dir: &std::path::Path) -> Result<()> {
    let ids: Vec<String> = if biodis_study::vae::is_vae_study(dir) {
        biodis_study::vae::load_vae_study(dir)
            .map_err(anyhow::Error::msg)?
            .iter()
            .map(|c| c.run_id())
            .collect()
    } else if biodis_study::cells::is_cells_study(dir) {
        biodis_study::cells::load_cells_study(dir)
            .map_err(anyhow::Error::msg)?
            .iter()
            .map(|c| c.run_id())
            .collect()
    } else {
        biodis_study::load_study(dir)
            .map_err(anyhow::Error::msg)?
            .iter()
            .map(|c| c.run_id())
            .collect()
    };
    let mut counts = std::collections::BTreeMap::new();
    println!("{:<40} {:<12} {:>10}  detail", "run", "state", "step");
    for id in &ids {
        let rd = biodis_study::RunDir::new(dir.join(id));
        let (state, step, detail) = match rd.read_status() {
            None => ("missing".to_string(), 0, String::new()),
            Some(st) => {
                let mut state = format!("{:?}", st.state).to_lowercase();
                if st.state == biodis_study::State::Running {
                    if let Some(pid) = st.pid {
                        if !biodis_study::rundir::pid_alive(pid) {
                            state = "interrupted".into();
                        }
                    }
                }
                (state, st.step, st.error.unwrap_or_default())
            }
        };
        *counts.entry(state.clone()).or_insert(0usize) += 1;
        println!("{:<40} {:<12} {:>10}  {}", id, state, step, detail);
        if state == "failed" || state == "interrupted" {
            if let Some(log) = biodis_study::slurm::task_log(&rd.root) {
                if let Ok(t) = std::fs::read_to_string(&log) {
                    let lines: Vec<&str> = t.lines().collect();
                    for l in &lines[lines.len().saturating_sub(5)..] {
                        println!("    | {l}");
                    }
                    println!("    (log: {})", log.display());
                }
            }
        }
    }
    println!(
        "\n{}",
        counts
            .iter()
            .map(|(k, v)| format!("{v} {k}"))
            .collect::<Vec<_>>()
            .join(", ")
    );
    Ok(())
}

#[allow(clippy::too_many_arguments)]
fn run_recipe(
    src: &biodis_study::RecipeSource,
    scale: Option<&str>,
    overrides: &[(String, toml::Value)],
    seeds: Option<u64>,
    steps: Option<u64>,
    variants: &[String],
    out: Option<PathBuf>,
    jobs: usize,
    dry_run: bool,
    quiet: bool,
    engine: &EngineArgs,
    detach: bool,
) -> Result<()> {
    // a global --set never overrides a key that a variant sets itself: say so for each
    for w in biodis_study::override_warnings(src, overrides, variants)? {
        eprintln!("{w}");
    }
    let study_dir = |name: Option<&String>| -> (String, PathBuf) {
        let study = name.cloned().unwrap_or_else(|| "study".into());
        let dir = out
            .clone()
            .unwrap_or_else(|| PathBuf::from("runs").join(&study));
        (study, dir)
    };
    if biodis_study::vae::is_vae_recipe(src) {
        // a VAE study (fig5, fig12, fig13 or a user's recipe with a [vae] table)
        let mut all =
            biodis_study::vae::scale_overrides(src, scale.unwrap_or("cpu")).or_else(|e| {
                if scale.is_none() {
                    Ok(Vec::new())
                } else {
                    Err(e)
                }
            })?;
        let mut only: Vec<String> = variants.to_vec();
        if let Some(pos) = all.iter().position(|(k, _)| k == "variants") {
            let (_, v) = all.remove(pos);
            if only.is_empty() {
                only = v
                    .as_array()
                    .map(|a| {
                        a.iter()
                            .filter_map(|x| x.as_str().map(String::from))
                            .collect()
                    })
                    .unwrap_or_default();
            }
        }
        all.extend(overrides.iter().cloned());
        let runs = biodis_study::vae::expand_vae(src, &all, seeds, steps, &only)?;
        let (study, dir) = study_dir(runs.first().map(|r| &r.study.name));
        let label = format!("VAE study {study} (scale {})", scale.unwrap_or("cpu"));
        if !launch_local(&label, &runs, jobs, &dir, dry_run, engine, detach)? {
            return Ok(());
        }
        return run_vae_dir(&dir, &runs, jobs, quiet);
    }
    if scale.is_some() {
        bail!("--scale applies to VAE recipes (fig5, fig12, fig13) only");
    }
    if biodis_study::recipe::is_cells_recipe(src) {
        // a grid-world study (fig6, fig7, fig14 or a user's recipe with a [cells] table): the
        // local engine, then the summary table, figures and report
        let runs = biodis_study::cells::expand_cells(src, overrides, seeds, steps, variants)?;
        let (study, dir) = study_dir(runs.first().map(|r| &r.study.name));
        let label = format!("grid-world study {study}");
        if !launch_local(&label, &runs, jobs, &dir, dry_run, engine, detach)? {
            return Ok(());
        }
        return run_cells_dir(&dir, &runs, jobs, quiet);
    }
    let runs = biodis_study::expand_variants(src, overrides, seeds, steps, variants)?;
    let (study, dir) = study_dir(runs.first().map(|r| &r.study.name));
    let n_var = runs
        .iter()
        .map(|r| r.group())
        .collect::<std::collections::BTreeSet<_>>()
        .len();
    eprintln!(
        "study {study}: {} runs ({} variants/sweep points × {} seeds), {} steps each, {jobs} at a time -> {}",
        runs.len(),
        n_var,
        runs.len() / n_var.max(1),
        runs.first().map(|r| r.train.steps).unwrap_or(0),
        dir.display()
    );
    if dry_run {
        for r in &runs {
            println!("{}", r.run_id());
        }
        return Ok(());
    }
    if engine.engine == "local" {
        // a run that cannot fit is refused before any is started (each run checks again)
        let avail = biodis_study::mem::available_bytes();
        if let Some(r) = runs
            .iter()
            .max_by_key(|r| biodis_study::mem::estimate_dense(r))
        {
            biodis_study::mem::check_fits(r, avail)
                .map_err(|m| anyhow::anyhow!("run {}: {m}", r.run_id()))?;
            if let Some(a) = avail {
                let est = biodis_study::mem::estimate_dense(r);
                let par = jobs.min(runs.len()) as u128;
                if est.saturating_mul(par) > a as u128 {
                    eprintln!(
                        "warning: {par} runs at a time may need about {} of memory ({} each) but {} is available; consider a smaller --jobs",
                        biodis_study::mem::fmt_bytes(est.saturating_mul(par)),
                        biodis_study::mem::fmt_bytes(est),
                        biodis_study::mem::fmt_bytes(a as u128)
                    );
                }
            }
        }
    }
    execute(&dir, &runs, jobs, quiet, engine, detach)
}

/// Prints a report's table and the files it wrote.
fn print_report(
    dir: &std::path::Path,
    rep: Result<biodis_report::Report, biodis_report::ReportError>,
) -> Result<()> {
    let rep = rep.with_context(|| format!("report for {}", dir.display()))?;
    println!("{}", rep.table);
    for f in &rep.files {
        println!("wrote {}", f.display());
    }
    Ok(())
}

/// The shared preamble of the study kinds that run on the local engine only (grid world,
/// VAE): announce the study, list the runs on `--dry-run`, refuse other engines.
/// What launching a grid-world or VAE study needs of its runs.
trait LocalRun {
    fn id(&self) -> String;
    fn steps(&self) -> u64;
    /// Estimated peak memory in bytes.
    fn estimate(&self) -> u128;
    /// The run's own memory check against `available` bytes.
    fn fits(&self, available: Option<u64>) -> Result<(), String>;
}

impl LocalRun for biodis_study::cells::CellsRunConfig {
    fn id(&self) -> String {
        self.run_id()
    }
    fn steps(&self) -> u64 {
        self.train.steps
    }
    fn estimate(&self) -> u128 {
        biodis_study::cells::estimate_cells(self)
    }
    fn fits(&self, available: Option<u64>) -> Result<(), String> {
        biodis_study::cells::check_cells_fits(self, available)
    }
}

impl LocalRun for biodis_study::vae::VaeRunConfig {
    fn id(&self) -> String {
        self.run_id()
    }
    fn steps(&self) -> u64 {
        self.train.steps
    }
    fn estimate(&self) -> u128 {
        biodis_study::vae::estimate_vae(self)
    }
    fn fits(&self, available: Option<u64>) -> Result<(), String> {
        biodis_study::vae::check_vae_fits(self, available)
    }
}

/// The launch of a grid-world or VAE study: the local-engine check and the plan line, the dry
/// run (`Ok(false)`: nothing to run), and the refusal of a study whose largest run cannot fit
/// in memory before any run is started (each run checks again). `Ok(true)`: run it.
fn launch_local<R: LocalRun>(
    label: &str,
    runs: &[R],
    jobs: usize,
    dir: &std::path::Path,
    dry_run: bool,
    engine: &EngineArgs,
    detach: bool,
) -> Result<bool> {
    let steps_each = runs.first().map(|r| r.steps()).unwrap_or(0);
    let ids: Vec<String> = runs.iter().map(|r| r.id()).collect();
    local_only(label, &ids, steps_each, jobs, dir, dry_run, engine, detach)?;
    if dry_run {
        return Ok(false);
    }
    if let Some(r) = runs.iter().max_by_key(|r| r.estimate()) {
        r.fits(biodis_study::mem::available_bytes())
            .map_err(|m| anyhow::anyhow!("run {}: {m}", r.id()))?;
    }
    Ok(true)
}

#[allow(clippy::too_many_arguments)]
fn local_only(
    label: &str,
    ids: &[String],
    steps_each: u64,
    jobs: usize,
    dir: &std::path::Path,
    dry_run: bool,
    engine: &EngineArgs,
    detach: bool,
) -> Result<()> {
    eprintln!(
        "{label}: {} runs, {steps_each} steps each, {jobs} at a time -> {}",
        ids.len(),
        dir.display()
    );
    if dry_run {
        ids.iter().for_each(|i| println!("{i}"));
        return Ok(());
    }
    if engine.engine != "local" || detach {
        bail!(
            "{label} runs on the local engine only (got --engine {}{}); run it with --engine local",
            engine.engine,
            if detach { " --detach" } else { "" }
        );
    }
    Ok(())
}

/// Prints the summary table and wall time, writes the report, and fails if a run failed.
fn finish_local(
    dir: &std::path::Path,
    table: String,
    t0: std::time::Instant,
    failed: usize,
    report: Result<biodis_report::Report, biodis_report::ReportError>,
) -> Result<()> {
    println!("{table}");
    println!("wall time {:.1} s", t0.elapsed().as_secs_f64());
    let rep = report.with_context(|| format!("report for {}", dir.display()))?;
    for f in rep
        .files
        .iter()
        .filter(|f| f.extension().is_some_and(|e| e != "svg"))
    {
        println!("wrote {}", f.display());
    }
    if failed > 0 {
        bail!(
            "{failed} run(s) failed (see above and `biodis status {}`)",
            dir.display()
        );
    }
    Ok(())
}

fn run_vae_dir(
    dir: &std::path::Path,
    runs: &[biodis_study::vae::VaeRunConfig],
    jobs: usize,
    quiet: bool,
) -> Result<()> {
    let t0 = std::time::Instant::now();
    let outcomes =
        biodis_study::vae::run_vae_study(dir, runs, jobs, !quiet).map_err(anyhow::Error::msg)?;
    let failed = outcomes.iter().filter(|o| o.result.is_err()).count();
    let table = biodis_study::vae::vae_summary_table(&outcomes);
    finish_local(dir, table, t0, failed, biodis_report::vae::report_vae(dir))
}

fn run_cells_dir(
    dir: &std::path::Path,
    runs: &[biodis_study::cells::CellsRunConfig],
    jobs: usize,
    quiet: bool,
) -> Result<()> {
    let t0 = std::time::Instant::now();
    let outcomes = biodis_study::cells::run_cells_study(dir, runs, jobs, !quiet)
        .map_err(anyhow::Error::msg)?;
    let failed = outcomes.iter().filter(|o| o.result.is_err()).count();
    let table = biodis_study::cells::cells_summary_table(&outcomes);
    finish_local(
        dir,
        table,
        t0,
        failed,
        biodis_report::cells::report_cells(dir),
    )
}

/// `runs/synthetic/index.html` or `runs/paper/index.html`: one section per study with its
/// final-MIR table (dense studies) and a link to its report.
fn write_group_index(parent: &std::path::Path, group: &str, members: &[&str]) -> Result<()> {
    let what = if group == "paper" {
        "The paper's figures"
    } else {
        "The paper's synthetic experiments"
    };
    let mut h = format!("<!doctype html><html><head><meta charset=\"utf-8\"><title>biodis — {what}</title><style>body{{font-family:sans-serif;max-width:1100px;margin:2em auto}}pre{{background:#f7f7f7;padding:.6em}}</style></head><body><h1>{what}</h1>");
    for name in members {
        let d = parent.join(name);
        if let Ok(rep) = biodis_report::read_study(&d) {
            if !rep.runs.is_empty() {
                h.push_str(&format!(
                    "<h2><a href=\"{name}/report.html\">{name}</a></h2><pre>{}</pre>",
                    biodis_report::final_table(&rep).replace('<', "&lt;")
                ));
                continue;
            }
        }
        if d.join("report.html").exists() {
            h.push_str(&format!(
                "<h2><a href=\"{name}/report.html\">{name}</a></h2>"
            ));
        } else if d.is_dir() {
            h.push_str(&format!("<h2>{name}</h2><p>no report (see {name}/)</p>"));
        }
    }
    h.push_str("</body></html>\n");
    std::fs::write(parent.join("index.html"), h)
        .with_context(|| format!("{}: cannot write index.html", parent.display()))?;
    Ok(())
}
