//! The commands of `biodis`: argument parsing (clap) and each subcommand turned into library
//! calls. [`run`] is the whole program; `main.rs` and the Python console script call it.

use anyhow::{bail, Context, Result};
use clap::{Parser, Subcommand};
use std::path::PathBuf;

use crate::{bench, protocol, score, spatial};
use biodis_rundir::Kind;
use biodis_study::request::{is_vae, Engine, ExecOptions, RunRequest};

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
        #[arg(long, value_enum)]
        device: Option<DeviceArg>,
        /// Write into --out even when it is a non-empty folder that is not a biodis study
        /// (by default that is refused, so that a typo cannot overwrite a user's files).
        #[arg(long)]
        force: bool,
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
    /// Run runs of a prepared study in this process, one after another (what each Slurm
    /// array task executes).
    RunOne {
        /// The study directory.
        study: PathBuf,
        /// Run index (see the study's runs.json); repeatable.
        #[arg(long, required = true)]
        index: Vec<usize>,
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
    /// Test the paper's claims (and every study's own) against the run directories under ROOT:
    /// per claim both sides' mean ± s.e. and n, the difference with its 95 % interval, the
    /// effect size, a one-sided test and HOLDS / FAILS / TOO FEW SEEDS / NOT RUN. Prints a
    /// table; writes ROOT/claims.json and ROOT/claims.html.
    Claims {
        /// The folder of study directories (searched 4 levels deep), or one study.
        #[arg(default_value = "runs")]
        root: PathBuf,
        /// A ledger of claims to test instead of the paper's (`experiments/claims.toml`, embedded);
        /// repeatable. The studies' own `claims.toml` are always added.
        #[arg(long)]
        ledger: Vec<PathBuf>,
        /// Only the claims whose id or study contains one of these (comma-separated).
        #[arg(long, value_delimiter = ',')]
        only: Vec<String>,
        /// Print the JSON instead of the table.
        #[arg(long, conflicts_with = "markdown")]
        json: bool,
        /// Print the table, the counts and the notes of the claims that ran as the Markdown
        /// block the README's ledger is (`scripts/update-readme-ledger.sh` splices it in).
        #[arg(long)]
        markdown: bool,
        /// End with an error (exit status 2) when a claim FAILS, for scripts and CI.
        #[arg(long)]
        check: bool,
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
    // a BIODIS_KERNELS this CPU cannot honour is refused before any work (biodis_nn::kernels)
    biodis_nn::kernels::check_env()?;
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
        Cmd::Claims {
            root,
            ledger,
            only,
            json,
            markdown,
            check,
        } => claims(&root, &ledger, &only, json, markdown, check),
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
            force,
        } => {
            let overrides = set
                .iter()
                .map(|s| biodis_study::parse_override(s))
                .collect::<Result<Vec<_>, _>>()?;
            let opts = ExecOptions {
                jobs,
                progress: !quiet,
                engine: engine.engine()?,
                detach,
                force,
            };
            let request = |src: biodis_study::RecipeSource, out: Option<PathBuf>| RunRequest {
                scale: scale.clone(),
                device: device.map(DeviceArg::device),
                recipe: src,
                overrides: overrides.clone(),
                seeds,
                steps,
                variants: variants.clone(),
                out,
            };
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
                    let mut req = request(src, Some(parent.join(name)));
                    // --scale and --device apply to the group's VAE members only
                    if !is_vae(&req.recipe) {
                        req.device = None;
                        req.scale = None;
                    }
                    if let Err(e) = run_planned(&req, &opts, dry_run) {
                        eprintln!("{name}: {}", error_text(&e));
                        failed.push(name.to_string());
                    }
                }
                if !dry_run {
                    // the paper's claims over the group's studies: parent/claims.{json,html}
                    claims(&parent, &[], &[], false, false, false)?;
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
            run_planned(&request(src, out), &opts, dry_run)
        }
        Cmd::Data {
            dataset,
            out,
            sizes,
        } => data_cmd(&dataset, &out, &sizes),
        Cmd::RunOne { study, index } => {
            biodis_study::request::run_one(&study, &index)?;
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
            let opts = ExecOptions {
                jobs,
                progress: !quiet,
                engine: engine.engine()?,
                detach,
                force: false,
            };
            let run = biodis_study::request::resume(&dir, &opts)?;
            finish_study(run)
        }
        Cmd::Report { dir } => {
            let kind = biodis_rundir::StudyDir::new(&dir).kind()?;
            print_report(&dir, report(kind, &dir))
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

/// The report of a study of `kind`, with its claims: the ledger's and the study's own claims
/// that involve it are evaluated (against it and its sibling studies), written to the study's
/// `claims.json` and shown in a "Claims" section of `report.html`.
fn report(
    kind: Kind,
    dir: &std::path::Path,
) -> Result<biodis_report::Report, biodis_report::ReportError> {
    // temporary files of reports that were killed mid-way
    biodis_rundir::clean_stale_temps(dir);
    biodis_rundir::clean_stale_temps(&dir.join("figures"));
    let mut rep = match kind {
        Kind::Dense => biodis_report::report_study(dir),
        Kind::Cells => biodis_report::cells::report_cells(dir),
        Kind::Vae => biodis_report::vae::report_vae(dir),
    }?;
    let cf = biodis_study::claims::evaluate_study(dir)
        .map_err(|e| biodis_report::ReportError::Plot(format!("claims: {e}")))?;
    let jp = dir.join(biodis_rundir::claims::CLAIMS_JSON);
    let j = serde_json::to_vec_pretty(&cf)
        .map_err(|e| biodis_report::ReportError::Plot(e.to_string()))?;
    biodis_rundir::atomic_write(&jp, &j)
        .map_err(|e| biodis_report::ReportError::Plot(e.to_string()))?;
    biodis_report::claims::insert_section(&dir.join("report.html"), &cf)?;
    if !cf.claims.is_empty() {
        let mut t = String::from("\nclaims:\n");
        for c in &cf.claims {
            t.push_str(&format!("  {:<13} {}\n", c.verdict.as_str(), c.id));
        }
        rep.table.push_str(&t);
        rep.extra.push_str(&t);
    }
    rep.files.push(jp);
    Ok(rep)
}

/// `biodis claims`: evaluates the ledgers against the studies under `root`, prints the table
/// (or JSON) and writes `root/claims.json` and `root/claims.html`.
fn claims(
    root: &std::path::Path,
    ledgers: &[PathBuf],
    only: &[String],
    json: bool,
    markdown: bool,
    check: bool,
) -> Result<()> {
    let mut texts = Vec::new();
    if ledgers.is_empty() {
        texts.push((
            "experiments/claims.toml (embedded)".to_string(),
            biodis_study::claims::PAPER_LEDGER.to_string(),
        ));
    }
    for p in ledgers {
        let t = std::fs::read_to_string(p)
            .with_context(|| format!("{}: cannot read the ledger", p.display()))?;
        texts.push((p.display().to_string(), t));
    }
    let f = biodis_study::claims::evaluate(root, &texts, only)?;
    let jp = root.join(biodis_rundir::claims::CLAIMS_JSON);
    let hp = root.join("claims.html");
    // never overwrite a file of the same name that biodis did not write
    let ours_json = |t: &str| serde_json::from_str::<biodis_rundir::claims::ClaimsFile>(t).is_ok();
    let ours_html = |t: &str| t.contains("<title>biodis — claims</title>");
    for (p, ours) in [
        (&jp, &ours_json as &dyn Fn(&str) -> bool),
        (&hp, &ours_html as &dyn Fn(&str) -> bool),
    ] {
        if p.exists() && !std::fs::read_to_string(p).is_ok_and(|t| ours(&t)) {
            bail!(
                "{}: exists and was not written by `biodis claims`; refusing to overwrite it (move it, or give another ROOT)",
                p.display()
            );
        }
    }
    if json {
        println!("{}", serde_json::to_string_pretty(&f)?);
    } else if markdown {
        print!("{}", biodis_study::claims::format_markdown(&f));
    } else {
        print!("{}", biodis_study::claims::format_table(&f));
    }
    biodis_rundir::atomic_write(&jp, &serde_json::to_vec_pretty(&f)?)?;
    biodis_rundir::atomic_write(&hp, biodis_report::claims::page_html(&f).as_bytes())?;
    if markdown {
        // stdout is the Markdown block alone
        eprintln!("wrote {}\nwrote {}", jp.display(), hp.display());
    } else if !json {
        println!("wrote {}\nwrote {}", jp.display(), hp.display());
    }
    let fails = f
        .claims
        .iter()
        .filter(|c| c.verdict == biodis_rundir::claims::Verdict::Fails)
        .count();
    if check && fails > 0 {
        bail!("{fails} claim(s) FAIL (see {})", jp.display());
    }
    Ok(())
}

/// Plans a request, prints the plan (and its run ids on a dry run), executes it and reports.
fn run_planned(req: &RunRequest, opts: &ExecOptions, dry_run: bool) -> Result<()> {
    let plan = biodis_study::request::plan(req)?;
    for w in &plan.warnings {
        eprintln!("{w}");
    }
    let jobs = opts.jobs.unwrap_or_else(biodis_study::request::cores);
    eprintln!("{}", plan.describe(jobs));
    if dry_run {
        for id in plan.run_ids() {
            println!("{id}");
        }
        return Ok(());
    }
    finish_study(biodis_study::request::execute(&plan, opts)?)
}

/// Prints a study's table and wall time (or the job ids of a detached Slurm submission),
/// writes its report, and fails when runs failed.
fn finish_study(run: biodis_study::request::StudyRun) -> Result<()> {
    if let Some(jobs) = &run.detached {
        println!("{}", jobs.join(","));
        return Ok(());
    }
    if let Some(t) = &run.table {
        println!("{t}");
    }
    println!("wall time {:.1} s", run.wall_s);
    let rep =
        report(run.kind, &run.dir).with_context(|| format!("report for {}", run.dir.display()))?;
    if !rep.extra.is_empty() {
        println!("{}", rep.extra.trim_end());
    }
    for f in rep
        .files
        .iter()
        .filter(|f| f.extension().is_some_and(|e| e != "svg"))
    {
        println!("wrote {}", f.display());
    }
    if run.failed > 0 {
        bail!(
            "{} of {} runs failed or did not finish (see `biodis status {}`)",
            run.failed,
            run.n_runs,
            run.dir.display()
        );
    }
    Ok(())
}

fn theory(check: &str, out: &std::path::Path, quick: bool, seed: u64, json: bool) -> Result<()> {
    let t0 = std::time::Instant::now();
    let res = biodis_theory::run(check, biodis_theory::Config { quick, seed })
        .map_err(anyhow::Error::msg)?;
    let j = serde_json::to_string_pretty(&res)?;
    biodis_rundir::atomic_write(&out.join("theory.json"), j.as_bytes())?;
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

/// `--engine`.
#[derive(clap::ValueEnum, Debug, Clone, Copy, PartialEq, Eq)]
enum EngineKind {
    /// A worker pool on this machine.
    Local,
    /// sbatch job arrays.
    Slurm,
}

/// `--device` of VAE recipes.
#[derive(clap::ValueEnum, Debug, Clone, Copy, PartialEq, Eq)]
enum DeviceArg {
    Cpu,
    Gpu,
}

impl DeviceArg {
    fn device(self) -> biodis_study::request::Device {
        match self {
            DeviceArg::Cpu => biodis_study::request::Device::Cpu,
            DeviceArg::Gpu => biodis_study::request::Device::Gpu,
        }
    }
}

/// Where runs execute.
#[derive(clap::Args, Debug, Clone)]
struct EngineArgs {
    /// Where runs execute: a worker pool on this machine, or Slurm job arrays.
    #[arg(long, value_enum, default_value_t = EngineKind::Local)]
    engine: EngineKind,
    /// Slurm partition.
    #[arg(long)]
    partition: Option<String>,
    /// Slurm time limit per task (e.g. 0:30:00).
    #[arg(long)]
    time: Option<String>,
    /// Slurm memory per task (e.g. 2G).
    #[arg(long)]
    mem: Option<String>,
    /// Slurm CPUs per task.
    #[arg(long)]
    cpus_per_task: Option<usize>,
    /// Slurm array throttle: at most this many tasks at once.
    #[arg(long)]
    max_parallel: Option<usize>,
    /// The cluster's MaxArraySize (arrays are split to fit).
    #[arg(long, default_value_t = 1001)]
    max_array_size: usize,
    /// Slurm: runs per array task, run one after another (for clusters that cap array sizes
    /// or discourage many short jobs).
    #[arg(long, default_value_t = 1)]
    runs_per_task: usize,
    /// Extra sbatch argument (repeatable), e.g. --sbatch-arg=--qos=short.
    #[arg(long = "sbatch-arg", allow_hyphen_values = true)]
    sbatch_arg: Vec<String>,
}

impl EngineArgs {
    /// The engine these arguments choose (Slurm options given with `--engine local` are an
    /// error, not silently ignored).
    fn engine(&self) -> Result<Engine> {
        let slurm_opts = self.partition.is_some()
            || self.time.is_some()
            || self.mem.is_some()
            || self.cpus_per_task.is_some()
            || self.max_parallel.is_some()
            || self.runs_per_task != 1
            || !self.sbatch_arg.is_empty();
        match self.engine {
            EngineKind::Local if slurm_opts => bail!(
                "--partition, --time, --mem, --cpus-per-task, --max-parallel, --runs-per-task and --sbatch-arg need --engine slurm"
            ),
            EngineKind::Local => Ok(Engine::Local),
            EngineKind::Slurm => {
                if self.runs_per_task == 0 {
                    bail!("--runs-per-task 0: expected at least 1");
                }
                Ok(Engine::Slurm(biodis_study::slurm::SlurmOptions {
                    partition: self.partition.clone(),
                    time: self.time.clone(),
                    mem: self.mem.clone(),
                    cpus_per_task: self.cpus_per_task,
                    max_parallel: self.max_parallel,
                    extra: self.sbatch_arg.clone(),
                    max_array_size: self.max_array_size,
                    runs_per_task: self.runs_per_task,
                }))
            }
        }
    }
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
    biodis_rundir::clean_stale_temps_of(out);
    // written to a temporary file beside `out` and renamed: a killed or failed write never
    // leaves a truncated npz at the final path
    let mut written = 0;
    let mut inner: Option<anyhow::Error> = None;
    let res = biodis_rundir::atomic_write_with(out, |tmp| {
        match biodis_data::images::npz::write_dsprites_npz(tmp, &DSprites::default(), sizes, |k| {
            bar.set_position(k as u64)
        }) {
            Ok(n) => {
                written = n;
                Ok(())
            }
            Err(e) => {
                inner = Some(e.into());
                Err(std::io::Error::other("the dSprites writer failed"))
            }
        }
    });
    if let Some(e) = inner {
        return Err(e.context(format!("writing {}", out.display())));
    }
    res?;
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
    let runs = biodis_study::request::status(dir)?;
    let mut counts = std::collections::BTreeMap::new();
    println!("{:<40} {:<12} {:>10}  detail", "run", "state", "step");
    for r in &runs {
        *counts.entry(r.state.clone()).or_insert(0usize) += 1;
        println!(
            "{:<40} {:<12} {:>10}  {}",
            r.run_id, r.state, r.step, r.error
        );
        if r.state == "failed" || r.state == "interrupted" {
            if let Some(log) = &r.log {
                if let Ok(t) = std::fs::read_to_string(log) {
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

/// `runs/synthetic/index.html` or `runs/paper/index.html`: one section per study with its
/// final-MIR table (dense studies) and a link to its report.
fn write_group_index(parent: &std::path::Path, group: &str, members: &[&str]) -> Result<()> {
    let what = if group == "paper" {
        "The paper's figures"
    } else {
        "The paper's synthetic experiments"
    };
    let mut h = format!("<!doctype html><html><head><meta charset=\"utf-8\"><title>biodis — {what}</title><style>body{{font-family:sans-serif;max-width:1100px;margin:2em auto}}pre{{background:#f7f7f7;padding:.6em}}</style></head><body><h1>{what}</h1>");
    if parent.join("claims.html").is_file() {
        h.push_str("<p><a href=\"claims.html\">The paper's claims, tested against these runs</a> (<code>biodis claims</code>)</p>");
    }
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
    biodis_rundir::atomic_write(&parent.join("index.html"), h.as_bytes())?;
    Ok(())
}
