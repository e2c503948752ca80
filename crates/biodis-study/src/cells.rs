//! Grid-world studies (`biodis run fig6|fig7|fig14`): recipes with a `[cells]` table, run
//! directories with exact resume, and the local engine. The model is `biodis-cells`.
//!
//! A grid-world recipe has `[study]`, `[world]` (`biodis_data::gridworld::WorldSpec`),
//! `[cells]` (`biodis_cells::CellsSpec`), `[train]` (`biodis_cells::train::CellsTrain`) and any
//! number of `[[variant]]` / `[sweep]` entries, exactly as the dense recipes.
//!
//! Each run directory holds `recipe.toml`, `status.json`, `curve.csv` (every `eval_every`
//! steps: the loss terms and accuracies on the evaluation worlds, and the population analyses),
//! `result.json` (final per-cell and population analyses), `arrays/` (`ratemaps.npy`
//! `[world, cell, row, col]` of the evaluation worlds — world 0 has no objects —,
//! `patch_ratemaps.npy` of the patch-correlation worlds, `object_maps.npy` `[cell, 2k+1, 2k+1]`,
//! `worlds.json` with every evaluation world's objects) and `checkpoint.safetensors`
//! (parameters, Adam moments, the world and init streams' positions). A resumed run continues
//! from the last checkpoint and ends with the same numbers as an uninterrupted one.

use crate::recipe::{expand_typed, RecipeError, RecipeSource, RunIdent, StudyMeta, Sweep, Variant};
use crate::StudyError;
use biodis_cells::analysis::{analyse, object_map, CellStats, EvalSet, PopulationStats};
use biodis_cells::diag::{diagnose, Diagnostics};
use biodis_cells::train::{CellsTrain, Task, Trainer};
use biodis_cells::{CellLoss, CellsSpec};
use biodis_data::gridworld::{World, WorldSpec};
use biodis_nn::checkpoint::{to_bytes, Checkpoint};
use biodis_rundir::{atomic_write, RunDir, State, Status};
use ndarray::{Array3, Array4};
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, HashMap};
use std::path::Path;
use std::time::Instant;

/// A grid-world recipe as written.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CellsRecipe {
    pub study: StudyMeta,
    #[serde(default)]
    pub world: WorldSpec,
    #[serde(default)]
    pub cells: CellsSpec,
    pub train: CellsTrain,
    #[serde(default, rename = "variant")]
    pub variants: Vec<Variant>,
    #[serde(default)]
    pub sweep: Sweep,
}

/// The resolved configuration of one grid-world run (its `recipe.toml`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CellsRunConfig {
    pub study: StudyMeta,
    pub run: RunIdent,
    pub world: WorldSpec,
    pub cells: CellsSpec,
    pub train: CellsTrain,
}

impl CellsRunConfig {
    pub fn run_id(&self) -> String {
        self.run.run_id()
    }
    pub fn group(&self) -> String {
        self.run.group()
    }
    pub fn validate(&self) -> Result<(), crate::ConfigError> {
        self.world.validate()?;
        if self.world.max_objects == 0 {
            return Err(
                "world.max_objects = 0: the task and its analyses need worlds with objects".into(),
            );
        }
        if self.train.task == Task::Entangled && self.world.max_objects < 2 {
            return Err(format!(
                "world.max_objects = {}: the entangled task needs a world with at least 2 objects",
                self.world.max_objects
            )
            .into());
        }
        self.cells.validate()?;
        self.train.validate()?;
        if self.study.seeds == 0 {
            return Err("study.seeds = 0: expected at least 1".into());
        }
        Ok(())
    }
}

/// Expands a grid-world recipe into its runs (variants × sweep points × seeds).
pub fn expand_cells(
    src: &RecipeSource,
    overrides: &[(String, toml::Value)],
    seeds: Option<u64>,
    steps: Option<u64>,
    only: &[String],
) -> Result<Vec<CellsRunConfig>, RecipeError> {
    expand_typed(
        src,
        overrides,
        seeds,
        steps,
        only,
        |r: &CellsRecipe| &r.study,
        |r, run| CellsRunConfig {
            study: r.study.clone(),
            run,
            world: r.world.clone(),
            cells: r.cells.clone(),
            train: r.train.clone(),
        },
        CellsRunConfig::validate,
    )
}

/// One row of a grid-world `curve.csv`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct CellsCurveRow {
    pub step: u64,
    /// Mean training-batch loss terms since the previous row.
    pub train: CellLoss,
    /// Loss terms and accuracies on the evaluation worlds.
    pub eval: CellLoss,
    pub pop: PopulationStats,
    /// Inference and transition diagnostics on the evaluation worlds.
    pub diag: Diagnostics,
}

/// `result.json` of a grid-world run.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct CellsResult {
    pub study: String,
    pub run_id: String,
    pub variant: String,
    pub seed: u64,
    pub steps: u64,
    pub task: Task,
    pub eval: CellLoss,
    pub pop: PopulationStats,
    /// Inference and transition diagnostics at the end (absent in runs before they existed).
    #[serde(default)]
    pub diag: Diagnostics,
    pub cells: Vec<CellStats>,
    pub n_params: usize,
    #[serde(with = "biodis_rundir::nan::scalar")]
    pub wall_s: f64,
    /// Training steps per second (this run, one thread).
    #[serde(with = "biodis_rundir::nan::scalar")]
    pub steps_per_s: f64,
    /// Seconds per Euler step per world (inference only).
    #[serde(with = "biodis_rundir::nan::scalar")]
    pub euler_step_s: f64,
    /// The wavelength (bins) at which the location target's spectrum peaks
    /// ([`biodis_cells::target_wavelength`]: the theory's prediction for the cells' dominant
    /// wavelength, `pop.wavelength_median`); NaN for the one-hot and Gaussian targets.
    #[serde(default = "nan", with = "biodis_rundir::nan::scalar")]
    pub target_wavelength: f64,
    /// The fraction of the location loss's possible decrease achieved on the evaluation worlds
    /// ([`biodis_cells::location_fit`]: 0 = uniform prediction, 1 = target fitted).
    #[serde(default = "nan", with = "biodis_rundir::nan::scalar")]
    pub location_fit: f64,
    /// `biodis`, `model`, `grid_score` and `kernels` (the GEMM and elementwise paths and the CPU
    /// that computed it, `biodis_nn::kernels::provenance`).
    pub versions: BTreeMap<String, String>,
}

fn nan() -> f64 {
    f64::NAN
}

const CURVE_HEADER: &str = "step,loss,location,object,action,pi,nonneg,activity,weight,\
eval_loss,eval_location_acc,eval_action_acc,eval_object_hit,n_active,stability_mean,bimodality,\
frac_grid_above_p95,cosine_loc_obj,cosine_loc_act,patch_corr_objects,patch_corr_random,\
eval_action_zero_acc,z_norm_start,z_norm_end,pi_residual,clipped_frac,infer_steps,last_update,\
checkerboard,wa_radius,wa_trace_cos,wa_identity_dist";

fn curve_line(r: &CellsCurveRow) -> String {
    let (t, e, p) = (&r.train, &r.eval, &r.pop);
    format!(
        "{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{}",
        r.step,
        t.total,
        t.location,
        t.object,
        t.action,
        t.pi,
        t.nonneg,
        t.activity,
        t.weight,
        e.total,
        e.location_acc,
        e.action_acc,
        e.object_hit,
        p.n_active,
        p.stability_mean,
        p.bimodality,
        p.frac_grid_above_p95,
        p.cosine_loc_obj,
        p.cosine_loc_act,
        p.patch_corr_objects,
        p.patch_corr_random
    ) + &format!(
        ",{},{},{},{},{},{},{},{},{},{},{}",
        e.action_zero_acc,
        r.diag.z_norm_start,
        r.diag.z_norm_end,
        r.diag.pi_residual,
        r.diag.clipped_frac,
        r.diag.infer_steps,
        r.diag.last_update,
        r.diag.checkerboard,
        r.diag.wa_radius,
        r.diag.wa_trace_cos,
        r.diag.wa_identity_dist
    )
}

/// The evaluation worlds of a run: world 0 without objects, then `eval_worlds` with ≥ 1 object
/// (stream 4), plus the random layouts of the patch baseline.
fn eval_worlds(cfg: &CellsRunConfig) -> (Vec<World>, Vec<World>) {
    let mut rng = biodis_data::streams::cells::EVAL_WORLDS.rng(cfg.run.seed);
    let mut worlds = vec![cfg.world.world_with(vec![])];
    let mut guard = 0;
    while worlds.len() < cfg.train.eval_worlds + 1 && guard < 100_000 {
        guard += 1;
        let w = cfg.world.sample(&mut rng);
        if !w.objects.is_empty() {
            worlds.push(w);
        }
    }
    let layouts = (0..cfg.train.eval_worlds.max(1))
        .map(|_| cfg.world.sample(&mut rng))
        .collect();
    (worlds, layouts)
}

struct Evaluation {
    eval: CellLoss,
    pop: PopulationStats,
    diag: Diagnostics,
    cells: Vec<CellStats>,
    zs: Vec<Vec<f32>>,
    patch_worlds: Vec<World>,
    patch_zs: Vec<Vec<f32>>,
    worlds: Vec<World>,
}

fn evaluate(t: &mut Trainer, cfg: &CellsRunConfig, null: usize) -> Evaluation {
    let (worlds, layouts) = eval_worlds(cfg);
    let (starts, zs, stats) = t.infer_traced(&worlds);
    let diag = diagnose(&t.model, &worlds, &starts, &zs, &stats);
    let (patch_worlds, patch_zs) = match t.fixed.clone() {
        Some(w) => {
            let z = t.infer_all(std::slice::from_ref(&w));
            (vec![w], z)
        }
        None => (worlds[1..].to_vec(), zs[1..].to_vec()),
    };
    // the patch baseline: random layouts read on the same z as the patch worlds (in the
    // entangled task, every layout on the one training world's z)
    let (random, random_zs): (Vec<World>, Vec<Vec<f32>>) = if t.fixed.is_some() {
        (layouts.clone(), vec![patch_zs[0].clone(); layouts.len()])
    } else {
        let k = layouts.len().min(patch_zs.len());
        (layouts[..k].to_vec(), patch_zs[..k].to_vec())
    };
    let l = t.model.layout;
    let th = t.model.theta.clone();
    let e = EvalSet {
        world: &cfg.world,
        worlds: &worlds,
        zs: &zs,
        patch_worlds: &patch_worlds,
        patch_zs: &patch_zs,
        random_layouts: &random,
        random_zs: &random_zs,
        nc: l.nc,
        object_k: cfg.train.object_k,
        patch_k: cfg.train.patch_k,
        null_shuffles: null,
        seed: cfg.run.seed,
    };
    let (cells, pop) = analyse(
        &e,
        &th[l.w_loc..l.w_obj],
        &th[l.w_obj..l.b_obj],
        &th[l.w_act..l.b_act],
    );
    let eval_worlds = match &t.fixed {
        Some(w) => vec![w.clone()],
        None => worlds[1..].to_vec(),
    };
    let ez = match &t.fixed {
        Some(_) => patch_zs.clone(),
        None => zs[1..].to_vec(),
    };
    let eval = t.evaluate_loss(&eval_worlds, ez);
    Evaluation {
        eval,
        pop,
        diag,
        cells,
        zs,
        patch_worlds,
        patch_zs,
        worlds,
    }
}

fn versions() -> BTreeMap<String, String> {
    let mut v = BTreeMap::new();
    v.insert("biodis".into(), env!("CARGO_PKG_VERSION").into());
    v.insert("model".into(), "whittington2023.gridworld.v1".into());
    v.insert("grid_score".into(), "deepmind.minmax.10ring".into());
    v.insert("kernels".into(), biodis_nn::kernels::provenance());
    v
}

fn err(run: &str, e: impl std::fmt::Display) -> StudyError {
    StudyError::run(run, e)
}

/// A grid-world run whose training loss exceeds this factor × its first loss is `failed`
/// (diverged), as is one whose loss is non-finite.
pub const CELLS_DIVERGENCE_FACTOR: f64 = 1e3;

/// Estimated peak memory of one grid-world run, in bytes, from its shapes (saturating): the
/// parameters (`2 n_l n_c + 5 n_c + 5 + 4 n_c²` in `f64`) with their gradient, Adam's two
/// moments and a checkpoint's copies; per world of the batch the representation `z`
/// (`n_l × n_c`) at every Euler step of inference (kept for the backward pass) and the location
/// logits (`n_l × n_l`); the soft targets (`n_l²`) and the evaluation's ratemaps
/// (`train.eval_worlds × n_l × n_c`, twice). An upper bound within a small factor.
pub fn estimate_cells(cfg: &CellsRunConfig) -> u128 {
    let u = |v: usize| v as u128;
    let nl = u(cfg.world.size).saturating_mul(u(cfg.world.size));
    let nc = u(cfg.cells.n_cells);
    let lc = nl.saturating_mul(nc);
    let params = lc
        .saturating_mul(2)
        .saturating_add(nc.saturating_mul(5))
        .saturating_add(5)
        .saturating_add(nc.saturating_mul(nc).saturating_mul(4));
    let model = params.saturating_mul(8 * 7);
    let per_world = lc
        .saturating_mul(u(cfg.cells.euler_steps).saturating_add(3))
        .saturating_add(nl.saturating_mul(nl).saturating_mul(2))
        .saturating_mul(8);
    let batch = per_world.saturating_mul(u(cfg.train.batch.max(1)));
    let eval = lc
        .saturating_mul(u(cfg.train.eval_worlds.max(1)))
        .saturating_mul(8 * 2)
        .saturating_add(nl.saturating_mul(nl).saturating_mul(8));
    model.saturating_add(batch).saturating_add(eval)
}

/// Refuses a grid-world run whose estimated memory ([`estimate_cells`]) exceeds `available`
/// bytes (`None`: no check), with the estimate, the available memory and the shapes.
pub fn check_cells_fits(
    cfg: &CellsRunConfig,
    available: Option<u64>,
) -> Result<(), crate::mem::TooBig> {
    crate::mem::check(estimate_cells(cfg), available, || {
        format!(
            "world.size = {} so {} locations, cells.n_cells = {}, train.batch = {}, cells.euler_steps = {}, train.eval_worlds = {}",
            cfg.world.size,
            cfg.world.size.saturating_mul(cfg.world.size),
            cfg.cells.n_cells,
            cfg.train.batch,
            cfg.cells.euler_steps,
            cfg.train.eval_worlds,
        )
    })
}

/// Trains (or resumes, or skips when done) one grid-world run into `dir`.
pub fn run_cells(
    dir: &RunDir,
    cfg: &CellsRunConfig,
    progress: &(dyn Fn(u64) + Sync),
) -> Result<CellsResult, StudyError> {
    // every error (a write that fails on a full disk included) leaves the run `failed`
    crate::kind::leave_failed_on_error(dir, run_cells_inner(dir, cfg, progress))
}

fn run_cells_inner(
    dir: &RunDir,
    cfg: &CellsRunConfig,
    progress: &(dyn Fn(u64) + Sync),
) -> Result<CellsResult, StudyError> {
    let id = cfg.run_id();
    check_cells_fits(cfg, crate::mem::available_bytes()).map_err(|e| err(&id, e))?;
    if let Some(st) = dir.read_status() {
        if st.state == State::Done {
            if let Ok(t) = std::fs::read_to_string(dir.result()) {
                if let Ok(r) = serde_json::from_str::<CellsResult>(&t) {
                    progress(cfg.train.steps);
                    return Ok(r);
                }
            }
        }
    }
    let mut t = Trainer::new(
        cfg.cells.clone(),
        cfg.world.clone(),
        cfg.train.clone(),
        cfg.run.seed,
    )
    .map_err(|e| err(&id, e))?;
    let n = t.model.layout.len;
    let ck = dir.checkpoint();
    let mut curve: Vec<String> = Vec::new();
    let mut wall_before = 0.0;
    // training-step time and count of the earlier processes of a resumed run (checkpoint
    // metadata; absent in checkpoints before session 11, then only this process's steps count)
    let (mut time_before, mut timed_before) = (0.0f64, 0u64);
    if ck.exists() {
        let c = Checkpoint::load(&ck).map_err(|e| err(&id, e))?;
        t.model
            .theta
            .copy_from_slice(c.tensor("theta", n, &ck).map_err(|e| err(&id, e))?);
        t.adam
            .m
            .copy_from_slice(c.tensor("adam_m", n, &ck).map_err(|e| err(&id, e))?);
        t.adam
            .v
            .copy_from_slice(c.tensor("adam_v", n, &ck).map_err(|e| err(&id, e))?);
        t.adam.t = c.meta("adam_t", &ck).map_err(|e| err(&id, e))?;
        t.step = c.meta("step", &ck).map_err(|e| err(&id, e))?;
        t.world_rng
            .set_word_pos(c.meta("world_rng", &ck).map_err(|e| err(&id, e))?);
        t.z_rng
            .set_word_pos(c.meta("z_rng", &ck).map_err(|e| err(&id, e))?);
        wall_before = c.meta("wall_s", &ck).unwrap_or(0.0);
        time_before = c.meta("step_time_s", &ck).unwrap_or(0.0);
        timed_before = c.meta("steps_timed", &ck).unwrap_or(0);
        let text = std::fs::read_to_string(dir.curve()).unwrap_or_default();
        curve = text
            .lines()
            .skip(1)
            .filter(|l| {
                l.split(',')
                    .next()
                    .and_then(|s| s.parse::<u64>().ok())
                    .is_some_and(|s| s <= t.step)
            })
            .map(|s| s.to_string())
            .collect();
        progress(t.step);
    }
    let mut st = Status::new(State::Running, t.step);
    dir.write_status(&st).map_err(|e| err(&id, e))?;
    let start = Instant::now();
    let total = cfg.train.steps;
    let mut acc = CellLoss::default();
    let mut acc_n = 0usize;
    let fail = |step: u64, msg: String| -> StudyError {
        let mut s = Status::new(State::Failed, step);
        s.error = Some(msg.clone());
        let _ = dir.write_status(&s);
        err(&id, msg)
    };
    let mut step_time = time_before;
    let mut steps_timed = timed_before;
    let mut first_loss: Option<f64> = None;
    while t.step < total {
        let t0 = Instant::now();
        let l = t.step();
        step_time += t0.elapsed().as_secs_f64();
        steps_timed += 1;
        if !l.total.is_finite() {
            return Err(fail(
                t.step,
                format!(
                    "non-finite loss at step {}: location {}, object {}, action {}, pi {}, activity {}",
                    t.step, l.location, l.object, l.action, l.pi, l.activity
                ),
            ));
        }
        let first = *first_loss.get_or_insert(l.total);
        if first > 0.0 && l.total > CELLS_DIVERGENCE_FACTOR * first {
            return Err(fail(
                t.step,
                format!(
                    "diverged at step {}: loss {:.4e} > {CELLS_DIVERGENCE_FACTOR:e} x the first loss {first:.4e} (location {}, object {}, action {}, pi {}, activity {}); lower train.lr",
                    t.step, l.total, l.location, l.object, l.action, l.pi, l.activity
                ),
            ));
        }
        let mut l2 = l;
        if !l2.object_hit.is_finite() {
            l2.object_hit = 0.0;
        }
        acc.add_scaled(&l2, 1.0);
        acc_n += 1;
        progress(1);
        if t.step % cfg.train.eval_every == 0 || t.step == total {
            let mut train = CellLoss::default();
            train.add_scaled(&acc, 1.0 / acc_n.max(1) as f64);
            acc = CellLoss::default();
            acc_n = 0;
            let ev = evaluate(&mut t, cfg, 0);
            curve.push(curve_line(&CellsCurveRow {
                step: t.step,
                train,
                eval: ev.eval,
                pop: ev.pop,
                diag: ev.diag,
            }));
            let mut text = String::from(CURVE_HEADER);
            text.push('\n');
            for c in &curve {
                text.push_str(c);
                text.push('\n');
            }
            atomic_write(&dir.curve(), text.as_bytes()).map_err(|e| err(&id, e))?;
            let mut meta = HashMap::new();
            meta.insert("step".into(), t.step.to_string());
            meta.insert("adam_t".into(), t.adam.t.to_string());
            meta.insert("world_rng".into(), t.world_rng.get_word_pos().to_string());
            meta.insert("z_rng".into(), t.z_rng.get_word_pos().to_string());
            meta.insert(
                "wall_s".into(),
                (wall_before + start.elapsed().as_secs_f64()).to_string(),
            );
            meta.insert("step_time_s".into(), step_time.to_string());
            meta.insert("steps_timed".into(), steps_timed.to_string());
            let bytes = to_bytes(
                &[
                    ("theta", &t.model.theta),
                    ("adam_m", &t.adam.m),
                    ("adam_v", &t.adam.v),
                ],
                &meta,
            )
            .map_err(|e| err(&id, e))?;
            atomic_write(&ck, &bytes).map_err(|e| err(&id, e))?;
            st.step = t.step;
            dir.write_status(&st).map_err(|e| err(&id, e))?;
        }
    }
    // final analyses with the grid-score null, arrays, result
    let ev = evaluate(&mut t, cfg, cfg.train.null_shuffles);
    let l = t.model.layout;
    let size = cfg.world.size;
    let arrays = dir.arrays();
    std::fs::create_dir_all(&arrays).map_err(|e| err(&id, e))?;
    let stack = |zs: &[Vec<f32>]| -> Array4<f32> {
        Array4::from_shape_fn((zs.len(), l.nc, size, size), |(w, i, r, c)| {
            zs[w][(r * size + c) * l.nc + i]
        })
    };
    // each array is written to a temporary file beside it and renamed (atomic)
    let write_npy =
        |name: &str, write: &dyn Fn(&Path) -> Result<(), ndarray_npy::WriteNpyError>| {
            biodis_rundir::atomic_write_with(&arrays.join(name), |tmp| {
                write(tmp).map_err(std::io::Error::other)
            })
            .map_err(|e| err(&id, e))
        };
    write_npy("ratemaps.npy", &|p| {
        ndarray_npy::write_npy(p, &stack(&ev.zs))
    })?;
    write_npy("patch_ratemaps.npy", &|p| {
        ndarray_npy::write_npy(p, &stack(&ev.patch_zs))
    })?;
    let k = cfg.train.object_k;
    let w = 2 * k + 1;
    let omaps: Vec<Vec<f64>> = (0..l.nc)
        .map(|i| object_map(&ev.worlds[1..], &ev.zs[1..], l.nc, i, size, k))
        .collect();
    write_npy("object_maps.npy", &|p| {
        let a = Array3::from_shape_fn((l.nc, w, w), |(i, r, c)| omaps[i][r * w + c]);
        ndarray_npy::write_npy(p, &a)
    })?;
    let wj = serde_json::json!({
        "size": size,
        "eval_worlds": ev.worlds.iter().map(|w| w.objects.clone()).collect::<Vec<_>>(),
        "patch_worlds": ev.patch_worlds.iter().map(|w| w.objects.clone()).collect::<Vec<_>>(),
        "object_convention": "location index = row * size + col",
    });
    atomic_write(
        &arrays.join("worlds.json"),
        serde_json::to_string_pretty(&wj)
            .map_err(|e| err(&id, e))?
            .as_bytes(),
    )
    .map_err(|e| err(&id, e))?;
    // time per Euler step per world, measured on the evaluation worlds
    let te = Instant::now();
    let reps = 4;
    for _ in 0..reps {
        t.infer_all(&ev.worlds[..1]);
    }
    let euler_step_s = te.elapsed().as_secs_f64() / (reps * cfg.cells.euler_steps.max(1)) as f64;
    let wall_s = wall_before + start.elapsed().as_secs_f64();
    let location_fit = if cfg.cells.beta_location > 0.0 {
        biodis_cells::location_fit(
            &cfg.cells,
            &cfg.world,
            ev.eval.location / cfg.cells.beta_location,
        )
    } else {
        f64::NAN
    };
    let res = CellsResult {
        study: cfg.study.name.clone(),
        run_id: id.clone(),
        variant: cfg.group(),
        seed: cfg.run.seed,
        steps: total,
        task: cfg.train.task,
        eval: ev.eval,
        pop: ev.pop,
        diag: ev.diag,
        cells: ev.cells,
        n_params: n,
        wall_s,
        steps_per_s: if step_time > 0.0 {
            steps_timed as f64 / step_time
        } else {
            f64::NAN
        },
        euler_step_s,
        target_wavelength: biodis_cells::target_wavelength(&cfg.cells).unwrap_or(f64::NAN),
        location_fit,
        versions: versions(),
    };
    let j = serde_json::to_vec_pretty(&res).map_err(|e| err(&id, e))?;
    atomic_write(&dir.result(), &j).map_err(|e| err(&id, e))?;
    dir.write_status(&Status::new(State::Done, total))
        .map_err(|e| err(&id, e))?;
    Ok(res)
}

/// Outcome of one grid-world run.
pub type CellsOutcome = crate::kind::Outcome<CellsResult>;

/// The grid-world study kind (Figs 6, 7, 14).
pub struct Cells;

impl crate::StudyKind for Cells {
    const KIND: biodis_rundir::Kind = biodis_rundir::Kind::Cells;
    type Config = CellsRunConfig;
    type Result = CellsResult;
    fn ident(c: &CellsRunConfig) -> &RunIdent {
        &c.run
    }
    fn steps(c: &CellsRunConfig) -> u64 {
        c.train.steps
    }
    fn estimate_bytes(c: &CellsRunConfig) -> u128 {
        estimate_cells(c)
    }
    fn check_fits(c: &CellsRunConfig, available: Option<u64>) -> Result<(), crate::mem::TooBig> {
        check_cells_fits(c, available)
    }
    fn train(
        dir: &RunDir,
        c: &CellsRunConfig,
        progress: crate::kind::Progress,
    ) -> Result<CellsResult, StudyError> {
        run_cells(dir, c, progress)
    }
    fn read_result(dir: &RunDir) -> Result<Option<CellsResult>, StudyError> {
        crate::kind::read_json(&dir.result())
    }
    fn write_summary(
        study: &Path,
        _runs: &[CellsRunConfig],
        outcomes: &[CellsOutcome],
    ) -> Result<(), StudyError> {
        write_cells_summary(study, outcomes)
    }
    fn summary_table(outcomes: &[CellsOutcome]) -> String {
        cells_summary_table(outcomes)
    }
}

/// Columns of a grid-world `summary.csv` after `run_id,variant,seed,status,steps`.
pub const SUMMARY_COLUMNS: [&str; 25] = [
    "location_acc",
    "location_fit",
    "action_acc",
    "action_zero_acc",
    "object_hit",
    "n_active",
    "stability_mean",
    "bimodality",
    "frac_grid_above_p95",
    "frac_grid_above_smooth_p95",
    "frac_grid_above_smooth_p99",
    "frac_square_above_smooth_p95",
    "frac_square_above_smooth_p99",
    "frac_ovc",
    "frac_ovc_field",
    "cosine_loc_obj",
    "cosine_loc_act",
    "patch_corr_objects",
    "patch_corr_random",
    "steps_per_s",
    "euler_step_ms",
    "wavelength_median",
    "target_wavelength",
    "active_bins_median",
    "grid_spacing_median",
];

fn summary_values(r: &CellsResult) -> [f64; 25] {
    let p = &r.pop;
    [
        r.eval.location_acc,
        r.location_fit,
        r.eval.action_acc,
        r.eval.action_zero_acc,
        r.eval.object_hit,
        p.n_active as f64,
        p.stability_mean,
        p.bimodality,
        p.frac_grid_above_p95,
        p.frac_grid_above_smooth_p95,
        p.frac_grid_above_smooth_p99,
        p.frac_square_above_smooth_p95,
        p.frac_square_above_smooth_p99,
        p.frac_ovc,
        p.frac_ovc_field,
        p.cosine_loc_obj,
        p.cosine_loc_act,
        p.patch_corr_objects,
        p.patch_corr_random,
        r.steps_per_s,
        r.euler_step_s * 1e3,
        p.wavelength_median,
        r.target_wavelength,
        p.active_bins_median,
        p.grid_spacing_median,
    ]
}

/// Writes `summary.csv` (one row per run).
pub fn write_cells_summary(study_dir: &Path, outcomes: &[CellsOutcome]) -> Result<(), StudyError> {
    let mut s = String::from("run_id,variant,seed,status,steps");
    for c in SUMMARY_COLUMNS {
        s.push(',');
        s.push_str(c);
    }
    s.push_str(",error\n");
    for o in outcomes {
        match &o.result {
            Ok(r) => {
                s.push_str(&format!(
                    "{},{},{},done,{}",
                    o.run_id, o.variant, o.seed, r.steps
                ));
                for v in summary_values(r) {
                    s.push_str(&format!(",{v}"));
                }
                s.push_str(",\n");
            }
            Err(e) => {
                s.push_str(&format!("{},{},{},failed,", o.run_id, o.variant, o.seed));
                s.push_str(&",".repeat(SUMMARY_COLUMNS.len()));
                s.push_str(&format!(",\"{}\"\n", e.replace('"', "'")));
            }
        }
    }
    Ok(atomic_write(&study_dir.join("summary.csv"), s.as_bytes())?)
}

/// A per-variant table (mean ± s.e. over seeds) of the headline numbers.
pub fn cells_summary_table(outcomes: &[CellsOutcome]) -> String {
    let order = crate::kind::variant_order(outcomes);
    // columns by name, so that the table cannot drift from SUMMARY_COLUMNS
    let cols: Vec<(&str, usize)> = [
        ("loc acc", "location_acc"),
        ("act acc", "action_acc"),
        ("act all-zero", "action_zero_acc"),
        ("stability", "stability_mean"),
        ("bimodality", "bimodality"),
        ("grid>smooth99", "frac_grid_above_smooth_p99"),
        ("OVC", "frac_ovc_field"),
        ("cos(Wl,Wo)", "cosine_loc_obj"),
        ("patch obj", "patch_corr_objects"),
        ("patch rand", "patch_corr_random"),
    ]
    .into_iter()
    .map(|(label, name)| {
        let j = SUMMARY_COLUMNS
            .iter()
            .position(|c| *c == name)
            .expect("every table column is a summary column");
        (label, j)
    })
    .collect();
    let mut s = format!("{:<14} {:>4}", "variant", "runs");
    for (c, _) in &cols {
        s.push_str(&format!(" {c:>15}"));
    }
    s.push('\n');
    for v in &order {
        let ok: Vec<&CellsResult> = outcomes
            .iter()
            .filter(|o| &o.variant == v)
            .filter_map(|o| o.result.as_ref().ok())
            .collect();
        s.push_str(&format!("{v:<14} {:>4}", ok.len()));
        for &(_, j) in &cols {
            let vals: Vec<f64> = ok.iter().map(|r| summary_values(r)[j]).collect();
            // `m ± se`, `m (n=1)` for one seed, `n/a` for none (never `± NaN`)
            s.push_str(&format!(" {:>15}", biodis_rundir::fmt_mean_se(&vals, 3)));
        }
        s.push('\n');
    }
    for o in outcomes {
        if let Err(e) = &o.result {
            s.push_str(&format!("failed {}: {e}\n", o.run_id));
        }
    }
    s
}

#[cfg(test)]
mod mem_tests {
    use super::*;

    fn cfg(set: &[&str]) -> CellsRunConfig {
        let src = crate::locate("fig6").unwrap();
        let ov: Vec<_> = set
            .iter()
            .map(|s| crate::parse_override(s).unwrap())
            .collect();
        expand_cells(&src, &ov, Some(1), Some(10), &[])
            .unwrap()
            .remove(0)
    }

    /// `fig6`, `fig7` and `fig14` keep App. A.9 as written; their `-dog` twins run the best
    /// reading of the search (and are otherwise the same recipes).
    #[test]
    fn grid_world_figures_keep_a9_and_dog_twins_the_search_reading() {
        for fig in ["fig6", "fig7", "fig14"] {
            let runs = |name: &str| {
                expand_cells(&crate::locate(name).unwrap(), &[], Some(1), Some(10), &[]).unwrap()
            };
            let (literal, dog) = (runs(fig), runs(&format!("{fig}-dog")));
            assert_eq!(dog.len(), literal.len(), "{fig}");
            for (c, l) in dog.iter().zip(&literal) {
                let (c, l) = (&c.cells, &l.cells);
                assert_eq!((c.beta_location, l.beta_location), (1.0, 1e-2), "{fig}");
                assert_eq!((c.beta_action, l.beta_action), (1.0, 1e-2), "{fig}");
                assert_eq!((c.z_norm, l.z_norm), (1.0, 0.0), "{fig}");
                assert!(c.readout_bias && !l.readout_bias, "{fig}");
                assert_eq!(format!("{:?}", c.location_target), "Dog", "{fig}");
                assert_eq!(format!("{:?}", l.location_target), "OneHot", "{fig}");
                assert_eq!(format!("{:?}", c.trans_init), "Identity", "{fig}");
                assert_eq!(format!("{:?}", l.trans_init), "Random", "{fig}");
                assert_eq!((c.n_cells, c.beta_pi), (l.n_cells, l.beta_pi), "{fig}");
            }
        }
    }

    /// Ten million cells cannot fit: refused up front with the estimate and the sizes; the
    /// paper's own sizes fit in a few GiB.
    #[test]
    fn absurd_grid_world_sizes_are_refused() {
        let big = cfg(&["cells.n_cells=10000000"]);
        assert!(estimate_cells(&big) > 1u128 << 50);
        let e = check_cells_fits(&big, Some(64 << 30))
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("cells.n_cells = 10000000") && e.contains("64.0 GiB available"),
            "{e}"
        );
        let ok = cfg(&[]);
        assert!(estimate_cells(&ok) < 4u128 << 30, "{}", estimate_cells(&ok));
        assert!(check_cells_fits(&ok, Some(64 << 30)).is_ok());
        // and the run itself is refused and left `failed`, before anything is allocated
        let d = tempfile::tempdir().unwrap();
        let rd = RunDir::new(d.path().join("r"));
        if crate::mem::available_bytes().is_some() {
            let e = run_cells(&rd, &big, &|_| {}).unwrap_err().to_string();
            assert!(e.contains("needs about"), "{e}");
            assert_eq!(rd.read_status().unwrap().state, State::Failed);
        }
    }
}
