//! Whole-study requests, the library side of `biodis run`, `resume`, `run-one` and `status`:
//! a checked [`RunRequest`] becomes a [`Plan`] (the study's kind and runs, expanded from its
//! recipe), and [`execute`] / [`resume`] run it on the chosen [`Engine`] under the study's
//! lock, generic over the [`StudyKind`]. The binary only parses arguments, prints and makes
//! the report.

use crate::cells::{Cells, CellsRunConfig};
use crate::kind::{self, StudyKind};
use crate::recipe::RecipeSource;
use crate::slurm::SlurmOptions;
use crate::train::Dense;
use crate::vae::{Vae, VaeRunConfig};
use crate::{RunConfig, StudyError};
use biodis_rundir::{check_out_dir, Kind, Lock, StudyDir};
use std::path::{Path, PathBuf};
use std::time::Instant;

/// Where runs execute.
#[derive(Debug, Clone)]
pub enum Engine {
    /// A pool of worker threads on this machine.
    Local,
    /// `sbatch` job arrays.
    Slurm(SlurmOptions),
}

/// `--device` of VAE recipes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Device {
    /// The CPU engine.
    Cpu,
    /// The GPU backend (a `--features gpu` build).
    Gpu,
}

/// A checked request to run a recipe.
#[derive(Debug, Clone)]
pub struct RunRequest {
    pub recipe: RecipeSource,
    /// VAE recipes: a preset of the recipe's `[scales]` table (default `cpu`).
    pub scale: Option<String>,
    /// VAE recipes: `train.device`.
    pub device: Option<Device>,
    /// `--set` overrides, in order.
    pub overrides: Vec<(String, toml::Value)>,
    pub seeds: Option<u64>,
    pub steps: Option<u64>,
    /// Only these variants (all when empty).
    pub variants: Vec<String>,
    /// The study directory (default `runs/<study name>`).
    pub out: Option<PathBuf>,
}

/// How to execute a plan.
#[derive(Debug, Clone)]
pub struct ExecOptions {
    /// Runs at a time on the local engine (default: the number of cores).
    pub jobs: Option<usize>,
    pub progress: bool,
    pub engine: Engine,
    /// Slurm: submit and return without waiting.
    pub detach: bool,
    /// Write into a non-empty folder that is not a biodis study.
    pub force: bool,
}

/// The runs of a plan, by kind.
#[derive(Debug, Clone)]
pub enum Runs {
    Dense(Vec<RunConfig>),
    Cells(Vec<CellsRunConfig>),
    Vae(Vec<VaeRunConfig>),
}

/// A recipe expanded into its study: name, directory, kind and runs.
#[derive(Debug, Clone)]
pub struct Plan {
    pub study: String,
    pub dir: PathBuf,
    pub runs: Runs,
    /// The VAE scale used, if any.
    pub scale: Option<String>,
    /// Warnings of the expansion (a global `--set` that a variant's own value wins over).
    pub warnings: Vec<String>,
    /// The recipe's own `[[claim]]` tables (checked), as the study's `claims.toml`.
    pub claims: Option<String>,
}

/// The end of a study run.
#[derive(Debug, Clone)]
pub struct StudyRun {
    pub dir: PathBuf,
    pub kind: Kind,
    /// The per-variant table (`None` when detached).
    pub table: Option<String>,
    /// Runs in the study, and those that failed or did not finish.
    pub n_runs: usize,
    pub failed: usize,
    pub wall_s: f64,
    /// Slurm job ids when detached.
    pub detached: Option<Vec<String>>,
}

/// The number of cores (the default `--jobs`).
pub fn cores() -> usize {
    std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(1)
}

impl Plan {
    /// The study's kind.
    pub fn kind(&self) -> Kind {
        match &self.runs {
            Runs::Dense(_) => Kind::Dense,
            Runs::Cells(_) => Kind::Cells,
            Runs::Vae(_) => Kind::Vae,
        }
    }

    /// Run ids in order.
    pub fn run_ids(&self) -> Vec<String> {
        match &self.runs {
            Runs::Dense(r) => r.iter().map(|c| c.run_id()).collect(),
            Runs::Cells(r) => r.iter().map(|c| c.run_id()).collect(),
            Runs::Vae(r) => r.iter().map(|c| c.run_id()).collect(),
        }
    }

    /// Steps per run (of the first run).
    pub fn steps_each(&self) -> u64 {
        match &self.runs {
            Runs::Dense(r) => r.first().map(|c| c.train.steps),
            Runs::Cells(r) => r.first().map(|c| c.train.steps),
            Runs::Vae(r) => r.first().map(|c| c.train.steps),
        }
        .unwrap_or(0)
    }

    /// The plan line: `study fig2: 25 runs (5 variants/sweep points × 5 seeds), 300000 steps
    /// each, 2 at a time -> runs/fig2`.
    pub fn describe(&self, jobs: usize) -> String {
        let ids = self.run_ids();
        let groups: std::collections::BTreeSet<String> = match &self.runs {
            Runs::Dense(r) => r.iter().map(|c| c.group()).collect(),
            Runs::Cells(r) => r.iter().map(|c| c.group()).collect(),
            Runs::Vae(r) => r.iter().map(|c| c.group()).collect(),
        };
        let what = match (self.kind(), &self.scale) {
            (Kind::Dense, _) => "study".to_string(),
            (Kind::Cells, _) => "grid-world study".to_string(),
            (Kind::Vae, s) => format!("VAE study (scale {})", s.as_deref().unwrap_or("cpu")),
        };
        format!(
            "{what} {}: {} runs ({} variants/sweep points × {} seeds), {} steps each, {jobs} at a time -> {}",
            self.study,
            ids.len(),
            groups.len(),
            ids.len() / groups.len().max(1),
            self.steps_each(),
            self.dir.display()
        )
    }
}

/// True when the recipe is a VAE recipe (a `[vae]` table).
pub fn is_vae(src: &RecipeSource) -> bool {
    crate::vae::is_vae_recipe(src)
}

/// Expands a request into its plan: the recipe's kind (a `[vae]` table: VAE, `[cells]`: grid
/// world, neither: dense), its runs, its directory. `--scale` and `--device` are VAE-only; a
/// VAE recipe's scale preset (default `cpu`) is applied before the user's `--set`, and its
/// `variants` key chooses the variants unless `--variants` is given.
pub fn plan(req: &RunRequest) -> Result<Plan, StudyError> {
    let src = &req.recipe;
    let warnings = crate::recipe::override_warnings(src, &req.overrides, &req.variants)?;
    let vae = is_vae(src);
    if !vae && req.scale.is_some() {
        return Err(StudyError::Usage(
            "--scale applies to VAE recipes (fig5, fig12, fig13) only".into(),
        ));
    }
    if !vae && req.device.is_some() {
        return Err(StudyError::Usage(
            "--device applies to VAE recipes (fig5, fig12, fig13) only".into(),
        ));
    }
    let dir_of = |name: Option<&String>| -> (String, PathBuf) {
        let study = name.cloned().unwrap_or_else(|| "study".into());
        let dir = req
            .out
            .clone()
            .unwrap_or_else(|| PathBuf::from("runs").join(&study));
        (study, dir)
    };
    let (study, dir, runs) = if vae {
        let scale = req.scale.as_deref().unwrap_or("cpu");
        let mut all = crate::vae::scale_overrides(src, scale).or_else(|e| {
            if req.scale.is_none() {
                Ok(Vec::new())
            } else {
                Err(e)
            }
        })?;
        let mut only = req.variants.clone();
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
        all.extend(req.overrides.iter().cloned());
        if let Some(d) = req.device {
            let name = if d == Device::Gpu { "gpu" } else { "cpu" };
            all.push(("train.device".into(), toml::Value::String(name.into())));
        }
        let runs = crate::vae::expand_vae(src, &all, req.seeds, req.steps, &only)?;
        let (s, d) = dir_of(runs.first().map(|r| &r.study.name));
        (s, d, Runs::Vae(runs))
    } else if crate::recipe::is_cells_recipe(src) {
        let runs =
            crate::cells::expand_cells(src, &req.overrides, req.seeds, req.steps, &req.variants)?;
        let (s, d) = dir_of(runs.first().map(|r| &r.study.name));
        (s, d, Runs::Cells(runs))
    } else {
        let runs =
            crate::expand_variants(src, &req.overrides, req.seeds, req.steps, &req.variants)?;
        let (s, d) = dir_of(runs.first().map(|r| &r.study.name));
        (s, d, Runs::Dense(runs))
    };
    let claims = crate::claims::recipe_claims(&src.text, &src.name, &study)?;
    Ok(Plan {
        claims,
        study,
        dir,
        runs,
        scale: vae.then(|| req.scale.clone().unwrap_or_else(|| "cpu".into())),
        warnings,
    })
}

/// Runs a plan: refuses an `--out` that is neither new, empty nor a biodis study (unless
/// `force`), takes the study's lock, prepares (or extends) the study, trains the plan's runs
/// that are not done on the engine, then writes the summary of the whole study.
pub fn execute(plan: &Plan, opts: &ExecOptions) -> Result<StudyRun, StudyError> {
    check_out_dir(&plan.dir, opts.force)?;
    let done = match &plan.runs {
        Runs::Dense(r) => execute_kind::<Dense>(&plan.dir, Some(r), opts),
        Runs::Cells(r) => execute_kind::<Cells>(&plan.dir, Some(r), opts),
        Runs::Vae(r) => execute_kind::<Vae>(&plan.dir, Some(r), opts),
    };
    // the recipe's claims, kept beside the study once it exists (`biodis claims` reads them)
    if let Some(text) = &plan.claims {
        let sd = StudyDir::new(&plan.dir);
        if sd.info_path().is_file() {
            biodis_rundir::atomic_write(
                &plan.dir.join(biodis_rundir::claims::CLAIMS_TOML),
                text.as_bytes(),
            )?;
        }
    }
    done
}

/// Re-runs the failed or unfinished runs of the study in `dir` (resuming each from its
/// checkpoint), whatever its kind, then writes its summary.
pub fn resume(dir: &Path, opts: &ExecOptions) -> Result<StudyRun, StudyError> {
    match StudyDir::new(dir).kind()? {
        Kind::Dense => execute_kind::<Dense>(dir, None, opts),
        Kind::Cells => execute_kind::<Cells>(dir, None, opts),
        Kind::Vae => execute_kind::<Vae>(dir, None, opts),
    }
}

/// Runs the runs `indices` of the study in `dir` in this process (a Slurm array task).
pub fn run_one(dir: &Path, indices: &[usize]) -> Result<(), StudyError> {
    match StudyDir::new(dir).kind()? {
        Kind::Dense => kind::run_indices::<Dense>(dir, indices),
        Kind::Cells => kind::run_indices::<Cells>(dir, indices),
        Kind::Vae => kind::run_indices::<Vae>(dir, indices),
    }
}

/// One line of `biodis status`.
#[derive(Debug, Clone)]
pub struct RunState {
    pub run_id: String,
    /// `queued`, `running`, `interrupted`, `done`, `failed` or `missing`.
    pub state: String,
    pub step: u64,
    pub error: String,
    /// The Slurm task's log, when the run ran under Slurm.
    pub log: Option<PathBuf>,
}

/// The state of every run of the study in `dir`, in index order (any kind).
pub fn status(dir: &Path) -> Result<Vec<RunState>, StudyError> {
    let sd = StudyDir::new(dir);
    sd.kind()?;
    Ok(biodis_rundir::read_index(dir)?
        .into_iter()
        .map(|e| {
            let rd = sd.run(&e.run_id);
            let (state, step, error) = match rd.read_status() {
                None => ("missing".to_string(), 0, String::new()),
                Some(st) => (st.shown_state(), st.step, st.error.unwrap_or_default()),
            };
            RunState {
                log: crate::slurm::task_log(&rd.root),
                run_id: e.run_id,
                state,
                step,
                error,
            }
        })
        .collect())
}

/// The lifecycle over one kind: `new_runs` are the plan's runs (`None`: resume the study's
/// unfinished runs).
fn execute_kind<K: StudyKind>(
    dir: &Path,
    new_runs: Option<&[K::Config]>,
    opts: &ExecOptions,
) -> Result<StudyRun, StudyError> {
    let t0 = Instant::now();
    let jobs = opts.jobs.or_else(K::default_jobs).unwrap_or_else(cores);
    if jobs == 0 {
        return Err(StudyError::Usage("--jobs 0: expected at least 1".into()));
    }
    if opts.detach && matches!(opts.engine, Engine::Local) {
        return Err(StudyError::Usage("--detach needs --engine slurm".into()));
    }
    // a study whose largest run cannot fit is refused before anything is written
    if let (Some(runs), Engine::Local) = (new_runs, &opts.engine) {
        kind::check_memory::<K>(runs, jobs)?;
    }
    std::fs::create_dir_all(dir).map_err(|e| biodis_rundir::RunDirError::io(dir, e))?;
    let _lock = Lock::acquire(&StudyDir::new(dir).lock_path(), "the study")?;
    let (all, todo) = match new_runs {
        Some(runs) => {
            let all = kind::prepare::<K>(dir, runs)?;
            (all, runs.to_vec())
        }
        None => {
            let all = kind::load::<K>(dir)?;
            let todo = kind::unfinished::<K>(dir, &all);
            eprintln!(
                "{}: {} of {} runs to resume",
                dir.display(),
                todo.len(),
                all.len()
            );
            (all, todo)
        }
    };
    biodis_rundir::clean_stale_temps(dir);
    match &opts.engine {
        Engine::Local => {
            if new_runs.is_none() {
                kind::check_memory::<K>(&todo, jobs)?;
            }
            kind::run_local::<K>(dir, &todo, jobs, opts.progress)?;
        }
        Engine::Slurm(so) => {
            let ids: Vec<String> = todo.iter().map(|c| K::ident(c).run_id()).collect();
            let indices: Vec<usize> = all
                .iter()
                .enumerate()
                .filter(|(_, c)| ids.contains(&K::ident(c).run_id()))
                .map(|(i, _)| i)
                .collect();
            let exe = std::env::current_exe()
                .map_err(|e| StudyError::Slurm(format!("locating the biodis binary: {e}")))?;
            let subs = crate::slurm::submit(dir, &indices, &exe, so)?;
            let job_ids: Vec<String> = subs.iter().map(|s| s.job_id.clone()).collect();
            eprintln!(
                "submitted {} runs as Slurm job(s) {} ({} per task)",
                indices.len(),
                job_ids.join(", "),
                so.runs_per_task
            );
            if opts.detach {
                return Ok(StudyRun {
                    dir: dir.to_path_buf(),
                    kind: K::KIND,
                    table: None,
                    n_runs: all.len(),
                    failed: 0,
                    wall_s: t0.elapsed().as_secs_f64(),
                    detached: Some(job_ids),
                });
            }
            let total = indices.len();
            let last = std::cell::Cell::new(usize::MAX);
            let sd = StudyDir::new(dir);
            crate::slurm::wait(&job_ids, &|active| {
                let done = ids
                    .iter()
                    .filter(|id| {
                        matches!(sd.run(id).read_status(), Some(st) if st.state == biodis_rundir::State::Done || st.state == biodis_rundir::State::Failed)
                    })
                    .count();
                if opts.progress && done != last.get() {
                    eprintln!(
                        "[{:>6.1} s] {done}/{total} runs finished, {active} Slurm tasks active",
                        t0.elapsed().as_secs_f64()
                    );
                    last.set(done);
                }
            })?;
        }
    }
    let (table, failed) = kind::finish::<K>(dir, &all)?;
    Ok(StudyRun {
        dir: dir.to_path_buf(),
        kind: K::KIND,
        table: Some(table),
        n_runs: all.len(),
        failed,
        wall_s: t0.elapsed().as_secs_f64(),
        detached: None,
    })
}
