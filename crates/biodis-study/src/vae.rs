//! VAE studies (`biodis run fig5|fig13`): recipes with a `[vae]` table, run directories, and
//! the local engine. The model is `biodis-vae` (the paper's §3 VAE, App. A.5/A.8).
//!
//! A VAE recipe has `[study]`, `[data]` ([`VaeData`]), `[vae]` (`biodis_vae::VaeSpec`),
//! `[train]` (`biodis_vae::VaeTrain`), `[[variant]]` / `[sweep]` entries as every recipe, and
//! `[scales.NAME]` tables of dotted overrides that `--scale NAME` applies before `--set`
//! (the recipes ship `cpu`, their defaults, and `paper`).
//!
//! Each run directory holds `recipe.toml`, `status.json`, `curve.csv` (mean training-loss
//! terms every `log_every` steps; MIG, R² and active latents every `eval_every` steps and at
//! the end, on the run's fixed evaluation sample), `result.json` (MIG, per-factor gaps, R², MI matrix, active
//! latents, timing) and `arrays/`: `codes.npy` (the MIG sample's scored means, `[n, latent]`),
//! `factors.npy` (its factor classes), `traversals.npy` (`[latent, step, C, 64, 64]`, decoded
//! from the mean of one image with one latent swept over its 2nd–98th percentile: Fig. 12).
//! `weights.safetensors` (written when training ends) holds the final parameters, for scoring
//! the trained encoder later ([`VaeRunEncoder`], `biodis protocol-score --run`).
//! `checkpoint.safetensors` (every `train.checkpoint_every` steps) holds the parameters, the
//! Adam moments and the positions of the factor and ε streams: a resumed run continues from
//! it and ends with the same numbers as an uninterrupted one. Finished runs are kept.

use crate::recipe::{expand_typed, RecipeError, RecipeSource, RunIdent, StudyMeta, Sweep, Variant};
use crate::StudyError;
use biodis_data::images::dsprites::DSprites;
use biodis_data::images::npz::{DSpritesNpz, DSPRITES_NPZ_MD5};
use biodis_data::images::shapes3d::{Shapes3dH5, Shapes3dLike, SHAPES3D_H5_MD5};
use biodis_data::images::ImageData;
use biodis_nn::checkpoint::{to_bytes, Checkpoint};
use biodis_rundir::{atomic_write, RunDir, State, Status};
use biodis_vae::{evaluate, traversals, VaeEval, VaeLoss, VaeSpec, VaeState, VaeTrain, VaeTrainer};
use ndarray::{Array2, Array5};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Instant;

/// Which images to train on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DatasetKind {
    /// dSprites regenerated procedurally (calibrated on the official GIF).
    Dsprites,
    /// The real dSprites npz (`data.path`).
    DspritesNpz,
    /// The synthetic Shapes3D look-alike.
    Shapes3dLike,
    /// The real `3dshapes.h5` (`data.path`).
    Shapes3dH5,
}

/// `[data]` of a VAE recipe.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct VaeData {
    pub dataset: DatasetKind,
    /// File for `dsprites_npz` / `shapes3d_h5`.
    #[serde(default)]
    pub path: Option<PathBuf>,
    /// `"official"` (default: the published file's MD5), `"skip"`, or a hex MD5.
    #[serde(default = "official")]
    pub md5: String,
}

fn official() -> String {
    "official".into()
}

impl VaeData {
    /// Open the dataset (checks files and MD5 now, so a bad file fails before training).
    pub fn open(&self) -> Result<Box<dyn ImageData>, String> {
        let md5 = |official: &'static str| -> Option<String> {
            match self.md5.as_str() {
                "official" => Some(official.to_string()),
                "skip" => None,
                hex => Some(hex.to_string()),
            }
        };
        let path = || -> Result<&Path, String> {
            self.path.as_deref().ok_or_else(|| {
                format!(
                    "data.path is missing: data.dataset = \"{}\" reads a file",
                    match self.dataset {
                        DatasetKind::DspritesNpz => "dsprites_npz",
                        _ => "shapes3d_h5",
                    }
                )
            })
        };
        Ok(match self.dataset {
            DatasetKind::Dsprites => Box::new(DSprites::default()),
            DatasetKind::Shapes3dLike => Box::new(Shapes3dLike),
            DatasetKind::DspritesNpz => Box::new(
                DSpritesNpz::open(path()?, md5(DSPRITES_NPZ_MD5).as_deref())
                    .map_err(|e| e.to_string())?,
            ),
            DatasetKind::Shapes3dH5 => Box::new(
                Shapes3dH5::open(path()?, md5(SHAPES3D_H5_MD5).as_deref())
                    .map_err(|e| e.to_string())?,
            ),
        })
    }

    fn validate(&self) -> Result<(), crate::ConfigError> {
        let needs_file = matches!(
            self.dataset,
            DatasetKind::DspritesNpz | DatasetKind::Shapes3dH5
        );
        if needs_file && self.path.is_none() {
            return Err("data.path is missing: this dataset reads a file".into());
        }
        if !needs_file && self.path.is_some() {
            return Err(
                "data.path is set but data.dataset is a generated set (use dsprites_npz or shapes3d_h5 to read a file)"
                    .into());
        }
        let m = self.md5.as_str();
        if m != "official"
            && m != "skip"
            && !(m.len() == 32 && m.chars().all(|c| c.is_ascii_hexdigit()))
        {
            return Err(format!(
                "data.md5 = \"{m}\": expected \"official\", \"skip\" or 32 hex digits"
            )
            .into());
        }
        Ok(())
    }
}

/// A VAE recipe as written.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct VaeRecipe {
    pub study: StudyMeta,
    pub data: VaeData,
    #[serde(default)]
    pub vae: VaeSpec,
    pub train: VaeTrain,
    #[serde(default, rename = "variant")]
    pub variants: Vec<Variant>,
    #[serde(default)]
    pub sweep: Sweep,
    /// Named presets of dotted overrides (`--scale NAME`).
    #[serde(default)]
    pub scales: BTreeMap<String, toml::Table>,
}

/// The resolved configuration of one VAE run (its `recipe.toml`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct VaeRunConfig {
    pub study: StudyMeta,
    pub run: RunIdent,
    pub data: VaeData,
    pub vae: VaeSpec,
    pub train: VaeTrain,
}

impl VaeRunConfig {
    pub fn run_id(&self) -> String {
        self.run.run_id()
    }
    pub fn group(&self) -> String {
        self.run.group()
    }
    pub fn validate(&self) -> Result<(), crate::ConfigError> {
        self.data.validate()?;
        self.vae.validate()?;
        self.train.validate()?;
        if self.study.seeds == 0 {
            return Err("study.seeds = 0: expected at least 1".into());
        }
        Ok(())
    }
}

/// True when the recipe text has a `[vae]` table.
pub fn is_vae_recipe(src: &RecipeSource) -> bool {
    crate::recipe::has_table(src, "vae")
}

/// The overrides of `[scales.NAME]`, as `--set` pairs (applied before the user's `--set`).
pub fn scale_overrides(
    src: &RecipeSource,
    scale: &str,
) -> Result<Vec<(String, toml::Value)>, RecipeError> {
    let r: VaeRecipe = crate::recipe::expand::parse_whole(src)?;
    let t = r.scales.get(scale).ok_or_else(|| RecipeError::Parse {
        source_name: src.name.clone(),
        msg: format!(
            "--scale {scale}: this recipe has the scales {:?}",
            r.scales.keys().collect::<Vec<_>>()
        ),
    })?;
    Ok(t.iter().map(|(k, v)| (k.clone(), v.clone())).collect())
}

/// Expands a VAE recipe into its runs (variants × sweep points × seeds).
pub fn expand_vae(
    src: &RecipeSource,
    overrides: &[(String, toml::Value)],
    seeds: Option<u64>,
    steps: Option<u64>,
    only: &[String],
) -> Result<Vec<VaeRunConfig>, RecipeError> {
    expand_typed(
        src,
        overrides,
        seeds,
        steps,
        only,
        |r: &VaeRecipe| &r.study,
        |r, run| VaeRunConfig {
            study: r.study.clone(),
            run,
            data: r.data.clone(),
            vae: r.vae.clone(),
            train: r.train.clone(),
        },
        VaeRunConfig::validate,
    )
}

/// `result.json` of a VAE run.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct VaeResult {
    pub steps: u64,
    pub dataset: String,
    pub factor_names: Vec<String>,
    pub eval: VaeEval,
    pub final_loss: VaeLoss,
    pub train_s: f64,
    pub eval_s: f64,
    /// Seconds of the evaluations during training (`train.eval_every`; not in `train_s`),
    /// since the run's last start.
    #[serde(default)]
    pub eval_during_train_s: f64,
    pub ms_per_step: f64,
    pub ids: BTreeMap<String, String>,
}

/// Estimated peak memory of one VAE run's training, in bytes, from its shapes (saturating; the
/// dataset itself is bounded by its reader): per image of the batch the input and the logits
/// (`C × 64 × 64`, `C = 3` as the bound), every conv / FC activation of the encoder and decoder
/// (32·32², 32·16², 64·8², 64·4², 256, 2·latent and back), kept with their gradients by the
/// autodiff (× 3, `f32`); the parameters (~766k + 768·latent) with gradient, Adam's moments
/// and a checkpoint's copy; the evaluation's latents (`mig_samples`, `r2_samples` × latent).
pub fn estimate_vae(cfg: &VaeRunConfig) -> u128 {
    let u = |v: usize| v as u128;
    let lat = u(cfg.vae.latent);
    let c = 3u128;
    let per_image = c
        .saturating_mul(4096 * 2)
        .saturating_add(2 * (32 * 32 * 32 + 32 * 16 * 16 + 64 * 8 * 8 + 64 * 4 * 4 + 256))
        .saturating_add(lat.saturating_mul(4))
        .saturating_mul(4 * 3);
    let batch = per_image.saturating_mul(u(cfg.train.batch.max(1)));
    let params = u(766_295).saturating_add(lat.saturating_mul(768));
    let model = params.saturating_mul(4 * 5);
    let eval = u(cfg.train.mig_samples)
        .saturating_add(u(cfg.train.r2_samples))
        .saturating_mul(lat.saturating_add(8))
        .saturating_mul(8);
    batch.saturating_add(model).saturating_add(eval)
}

/// Refuses a VAE run whose estimated memory ([`estimate_vae`]) exceeds `available` bytes
/// (`None`: no check), with the estimate, the available memory and the shapes.
pub fn check_vae_fits(
    cfg: &VaeRunConfig,
    available: Option<u64>,
) -> Result<(), crate::mem::TooBig> {
    crate::mem::check(estimate_vae(cfg), available, || {
        format!(
            "train.batch = {}, vae.latent = {}, train.mig_samples = {}, train.r2_samples = {}",
            cfg.train.batch, cfg.vae.latent, cfg.train.mig_samples, cfg.train.r2_samples,
        )
    })
}

/// Trains (or skips when done) one VAE run into `dir`.
pub fn run_vae(
    dir: &RunDir,
    cfg: &VaeRunConfig,
    progress: &(dyn Fn(u64) + Sync),
) -> Result<VaeResult, StudyError> {
    // every error (a write that fails on a full disk included) leaves the run `failed`
    crate::kind::leave_failed_on_error(dir, run_vae_inner(dir, cfg, progress))
}

fn run_vae_inner(
    dir: &RunDir,
    cfg: &VaeRunConfig,
    progress: &(dyn Fn(u64) + Sync),
) -> Result<VaeResult, StudyError> {
    let id = cfg.run_id();
    let err = |e: String| StudyError::run(&id, e);
    check_vae_fits(cfg, crate::mem::available_bytes()).map_err(|e| err(e.to_string()))?;
    if let Some(st) = dir.read_status() {
        if st.state == State::Done {
            // a done run is trusted only with a result.json that reads back whole
            match std::fs::read_to_string(dir.result())
                .map_err(|e| e.to_string())
                .and_then(|t| serde_json::from_str::<VaeResult>(&t).map_err(|e| e.to_string()))
            {
                Ok(r) => {
                    progress(cfg.train.steps);
                    return Ok(r);
                }
                Err(e) => eprintln!(
                    "warning: {id}: {}: damaged or missing ({e}); re-running the run",
                    dir.result().display()
                ),
            }
        }
    }
    let data = cfg.data.open().map_err(err)?;
    let mut t = VaeTrainer::new(
        cfg.vae.clone(),
        cfg.train.clone(),
        data.channels(),
        cfg.run.seed,
    )
    .map_err(|e| err(e.to_string()))?;
    let write_status = |state: State, step: u64, msg: Option<String>| {
        let _ = dir.write_status(&Status {
            state,
            step,
            error: msg,
            loss_terms: None,
            pid: None,
            host: None,
        });
    };
    // MIG, R² and active latents on logged rows every `train.eval_every` steps and on the last
    // (empty elsewhere).
    let header = "step,total,rec,kl,nonneg,weight,mig,r2,active_latents\n";
    let mut curve = String::from(header);
    let ck = dir.checkpoint();
    let mut wall_before = 0.0;
    if ck.exists() {
        // a checkpoint that does not read back whole is never trusted: restart from scratch
        let loaded = (|| -> Result<(VaeState, f64), String> {
            let c = Checkpoint::load(&ck).map_err(|e| e.to_string())?;
            let n = c
                .meta::<usize>("n_params", &ck)
                .map_err(|e| e.to_string())?;
            let get = |prefix: &str| -> Result<Vec<Vec<f32>>, String> {
                (0..n)
                    .map(|k| {
                        let name = format!("{prefix}{k}");
                        c.tensors
                            .get(&name)
                            .cloned()
                            .ok_or_else(|| format!("{}: no tensor {name}", ck.display()))
                    })
                    .collect()
            };
            let state = VaeState {
                params: get("p")?,
                adam_m: get("m")?,
                adam_v: get("v")?,
                step: c.meta("step", &ck).map_err(|e| e.to_string())?,
                factor_rng: c.meta("factor_rng", &ck).map_err(|e| e.to_string())?,
                eps_rng: c.meta("eps_rng", &ck).map_err(|e| e.to_string())?,
            };
            Ok((state, c.meta("wall_s", &ck).unwrap_or(0.0)))
        })();
        let restored = loaded.and_then(|(state, w)| {
            t.restore(&state)
                .map(|_| w)
                .map_err(|e| format!("{}: {e}", ck.display()))
        });
        match restored {
            Ok(w) => {
                wall_before = w;
                let text = std::fs::read_to_string(dir.curve()).unwrap_or_default();
                for l in text.lines().skip(1) {
                    let s: u64 = l
                        .split(',')
                        .next()
                        .and_then(|v| v.parse().ok())
                        .unwrap_or(u64::MAX);
                    if s <= t.step {
                        curve.push_str(l);
                        // a row of a curve written before the evaluation columns existed
                        // gets them, empty
                        let missing = header
                            .matches(',')
                            .count()
                            .saturating_sub(l.matches(',').count());
                        curve.push_str(&",".repeat(missing));
                        curve.push('\n');
                    }
                }
                progress(t.step);
            }
            Err(e) => {
                eprintln!("warning: {id}: {e}; restarting the run from step 0");
                let _ = std::fs::remove_file(&ck);
                let _ = std::fs::remove_file(dir.curve());
                t = VaeTrainer::new(
                    cfg.vae.clone(),
                    cfg.train.clone(),
                    data.channels(),
                    cfg.run.seed,
                )
                .map_err(|e| err(e.to_string()))?;
            }
        }
    }
    write_status(State::Running, t.step, None);
    let mut pending_row = false;
    // evaluations during training are not training time (ms_per_step)
    let mut eval_during_s = 0.0;
    let mut acc = VaeLoss::default();
    let mut n_acc = 0.0;
    let mut last = VaeLoss::default();
    let t0 = Instant::now();
    for s in t.step + 1..=cfg.train.steps {
        let l = t.step(data.as_ref()).map_err(|e| err(e.to_string()))?;
        if !l.total.is_finite() {
            let msg = format!("the loss is {} at step {s} (diverged)", l.total);
            write_status(State::Failed, s, Some(msg.clone()));
            return Err(err(msg));
        }
        acc.total += l.total;
        acc.rec += l.rec;
        acc.kl += l.kl;
        acc.nonneg += l.nonneg;
        acc.weight += l.weight;
        n_acc += 1.0;
        if s % cfg.train.log_every == 0 || s == cfg.train.steps {
            curve.push_str(&format!(
                "{s},{},{},{},{},{}",
                acc.total / n_acc,
                acc.rec / n_acc,
                acc.kl / n_acc,
                acc.nonneg / n_acc,
                acc.weight / n_acc
            ));
            let every = cfg.train.eval_every;
            if s == cfg.train.steps {
                // the final evaluation (after training) fills this row
                pending_row = true;
            } else {
                if every > 0 && s % every == 0 {
                    let te = Instant::now();
                    let (e, _, _) = evaluate(&t, data.as_ref(), cfg.run.seed)
                        .map_err(|e| err(e.to_string()))?;
                    eval_during_s += te.elapsed().as_secs_f64();
                    curve.push_str(&format!(",{},{},{}\n", e.mig, e.r2, e.active_latents));
                } else {
                    curve.push_str(",,,\n");
                }
                atomic_write(&dir.curve(), curve.as_bytes()).map_err(|e| err(e.to_string()))?;
            }
            write_status(State::Running, s, None);
            acc = VaeLoss::default();
            n_acc = 0.0;
        }
        last = l;
        progress(1);
        if s % cfg.train.checkpoint_every == 0 && s < cfg.train.steps {
            let st = t.state();
            let mut meta = std::collections::HashMap::new();
            meta.insert("n_params".to_string(), st.params.len().to_string());
            meta.insert("step".to_string(), st.step.to_string());
            meta.insert("factor_rng".to_string(), st.factor_rng.to_string());
            meta.insert("eps_rng".to_string(), st.eps_rng.to_string());
            meta.insert(
                "wall_s".to_string(),
                (wall_before + t0.elapsed().as_secs_f64() - eval_during_s).to_string(),
            );
            let names: Vec<String> = (0..st.params.len())
                .flat_map(|k| [format!("p{k}"), format!("m{k}"), format!("v{k}")])
                .collect();
            let mut tensors: Vec<(&str, &[f32])> = Vec::new();
            for k in 0..st.params.len() {
                tensors.push((&names[3 * k], &st.params[k]));
                tensors.push((&names[3 * k + 1], &st.adam_m[k]));
                tensors.push((&names[3 * k + 2], &st.adam_v[k]));
            }
            let bytes = to_bytes(&tensors, &meta).map_err(|e| err(e.to_string()))?;
            atomic_write(&ck, &bytes).map_err(|e| err(e.to_string()))?;
        }
    }
    let train_s = wall_before + t0.elapsed().as_secs_f64() - eval_during_s;
    {
        // the final parameters, so the trained encoder can be scored later (`VaeRunEncoder`)
        let st = t.state();
        let mut meta = std::collections::HashMap::new();
        meta.insert("n_params".to_string(), st.params.len().to_string());
        meta.insert("step".to_string(), st.step.to_string());
        let names: Vec<String> = (0..st.params.len()).map(|k| format!("p{k}")).collect();
        let tensors: Vec<(&str, &[f32])> = names
            .iter()
            .zip(&st.params)
            .map(|(n, p)| (n.as_str(), p.as_slice()))
            .collect();
        let bytes = to_bytes(&tensors, &meta).map_err(|e| err(e.to_string()))?;
        atomic_write(&dir.weights(), &bytes).map_err(|e| err(e.to_string()))?;
    }
    let t1 = Instant::now();
    let (eval, codes, factors) =
        evaluate(&t, data.as_ref(), cfg.run.seed).map_err(|e| err(e.to_string()))?;
    if pending_row {
        curve.push_str(&format!(
            ",{},{},{}\n",
            eval.mig, eval.r2, eval.active_latents
        ));
        atomic_write(&dir.curve(), curve.as_bytes()).map_err(|e| err(e.to_string()))?;
    }
    // Fig. 12: traversals of one fixed image (the middle of every factor).
    let mid: Vec<usize> = data.factor_sizes().iter().map(|s| s / 2).collect();
    let steps = 8;
    let tr = traversals(&t, data.as_ref(), &mid, &codes, steps).map_err(|e| err(e.to_string()))?;
    let c = data.channels();
    let flat: Vec<f32> = tr.into_iter().flatten().flatten().collect();
    let tr = Array5::from_shape_vec((cfg.vae.latent, steps, c, 64, 64), flat)
        .map_err(|e| err(e.to_string()))?;
    let eval_s = t1.elapsed().as_secs_f64();
    let arrays = dir.arrays();
    std::fs::create_dir_all(&arrays).map_err(|e| err(format!("{}: {e}", arrays.display())))?;
    let save = |name: &str, f: &dyn Fn(&mut Vec<u8>) -> Result<(), ndarray_npy::WriteNpyError>| {
        let mut b = Vec::new();
        f(&mut b).map_err(|e| err(format!("{name}: {e}")))?;
        atomic_write(&arrays.join(name), &b).map_err(|e| err(e.to_string()))
    };
    use ndarray_npy::WriteNpyExt;
    save("codes.npy", &|b| codes.mapv(|v| v as f32).write_npy(b))?;
    save("factors.npy", &|b| factors.mapv(|v| v as i64).write_npy(b))?;
    save("traversals.npy", &|b| tr.write_npy(b))?;
    let mut ids = BTreeMap::new();
    ids.insert("biodis".into(), env!("CARGO_PKG_VERSION").into());
    ids.insert(
        "model".into(),
        "higgins2017.convvae.whittington2023.v1".into(),
    );
    ids.insert("mig".into(), "mig.dlib".into());
    let res = VaeResult {
        steps: cfg.train.steps,
        dataset: data.name().to_string(),
        factor_names: data
            .factor_names()
            .into_iter()
            .zip(data.factor_sizes())
            .filter(|(_, s)| *s > 1)
            .map(|(n, _)| n)
            .collect(),
        eval,
        final_loss: last,
        train_s,
        eval_s,
        eval_during_train_s: eval_during_s,
        ms_per_step: train_s * 1e3 / cfg.train.steps as f64,
        ids,
    };
    let text = serde_json::to_string_pretty(&res).map_err(|e| err(e.to_string()))?;
    atomic_write(&dir.result(), text.as_bytes()).map_err(|e| err(e.to_string()))?;
    write_status(State::Done, cfg.train.steps, None);
    Ok(res)
}

/// Outcome of one VAE run.
/// Outcome of one VAE run.
pub type VaeOutcome = crate::kind::Outcome<VaeResult>;

/// The VAE study kind (Figs 5, 12, 13).
pub struct Vae;

impl crate::StudyKind for Vae {
    const KIND: biodis_rundir::Kind = biodis_rundir::Kind::Vae;
    type Config = VaeRunConfig;
    type Result = VaeResult;
    fn ident(c: &VaeRunConfig) -> &RunIdent {
        &c.run
    }
    fn steps(c: &VaeRunConfig) -> u64 {
        c.train.steps
    }
    fn estimate_bytes(c: &VaeRunConfig) -> u128 {
        estimate_vae(c)
    }
    fn check_fits(c: &VaeRunConfig, available: Option<u64>) -> Result<(), crate::mem::TooBig> {
        check_vae_fits(c, available)
    }
    fn train(
        dir: &RunDir,
        c: &VaeRunConfig,
        progress: crate::kind::Progress,
    ) -> Result<VaeResult, StudyError> {
        run_vae(dir, c, progress)
    }
    fn read_result(dir: &RunDir) -> Result<Option<VaeResult>, StudyError> {
        crate::kind::read_json(&dir.result())
    }
    fn write_summary(
        study: &Path,
        runs: &[VaeRunConfig],
        outcomes: &[VaeOutcome],
    ) -> Result<(), StudyError> {
        write_vae_summary(study, runs, outcomes)
    }
    fn summary_table(outcomes: &[VaeOutcome]) -> String {
        vae_summary_table(outcomes)
    }
}

/// Writes a VAE study's `summary.csv` (one row per run; `runs` and `outcomes` in index order).
pub fn write_vae_summary(
    study_dir: &Path,
    runs: &[VaeRunConfig],
    outcomes: &[VaeOutcome],
) -> Result<(), StudyError> {
    let mut s = String::from(
        "run_id,variant,seed,status,steps,nonneg,beta_vae,beta_weight,mig,r2,active_latents,ms_per_step,error\n",
    );
    for (o, c) in outcomes.iter().zip(runs) {
        let head = format!(
            "{},{},{},{{}},{},{:?},{},{}",
            o.run_id,
            o.variant,
            o.seed,
            c.train.steps,
            c.vae.nonneg,
            c.vae.beta_vae,
            c.vae.beta_weight
        );
        match &o.result {
            Ok(r) => s.push_str(&format!(
                "{},{},{},{},{},\n",
                head.replace("{}", "done"),
                r.eval.mig,
                r.eval.r2,
                r.eval.active_latents,
                r.ms_per_step
            )),
            Err(e) => s.push_str(&format!(
                "{},,,,,\"{}\"\n",
                head.replace("{}", "failed"),
                e.replace('"', "'")
            )),
        }
    }
    Ok(atomic_write(&study_dir.join("summary.csv"), s.as_bytes())?)
}

/// Per-variant table (mean ± s.e. over seeds) of MIG and R².
pub fn vae_summary_table(outcomes: &[VaeOutcome]) -> String {
    let order = crate::kind::variant_order(outcomes);
    let mut s = format!(
        "{:<18} {:>4} {:>15} {:>15} {:>8}\n",
        "variant", "runs", "MIG", "R²", "active"
    );
    for v in &order {
        let ok: Vec<&VaeResult> = outcomes
            .iter()
            .filter(|o| &o.variant == v)
            .filter_map(|o| o.result.as_ref().ok())
            .collect();
        let col = |f: &dyn Fn(&VaeResult) -> f64| {
            let vals: Vec<f64> = ok.iter().map(|r| f(r)).collect();
            biodis_rundir::fmt_mean_se(&vals, 3)
        };
        s.push_str(&format!(
            "{v:<18} {:>4} {:>15} {:>15} {:>8}\n",
            ok.len(),
            col(&|r| r.eval.mig),
            col(&|r| r.eval.r2),
            col(&|r| r.eval.active_latents as f64)
        ));
    }
    for o in outcomes {
        if let Err(e) = &o.result {
            s.push_str(&format!("failed {}: {e}\n", o.run_id));
        }
    }
    s
}

/// The trained encoder of a finished VAE run directory (its `recipe.toml` and
/// `weights.safetensors`), on the run's own dataset: codes are the scored posterior means, as
/// the run's MIG uses them.
pub struct VaeRunEncoder {
    pub config: VaeRunConfig,
    pub data: Box<dyn ImageData>,
    /// The trained model, built once (a protocol score encodes thousands of batches).
    model: std::cell::RefCell<biodis_vae::EvalModel>,
}

impl VaeRunEncoder {
    /// Opens `run_dir`; errors name the file (no recipe, not a VAE run, no final weights).
    pub fn open(run_dir: &Path) -> Result<VaeRunEncoder, StudyError> {
        Self::open_inner(run_dir).map_err(|msg| StudyError::Config {
            path: run_dir.to_path_buf(),
            msg,
        })
    }

    fn open_inner(run_dir: &Path) -> Result<VaeRunEncoder, String> {
        let rd = RunDir::new(run_dir.to_path_buf());
        let rp = rd.recipe();
        let text = std::fs::read_to_string(&rp).map_err(|e| format!("{}: {e}", rp.display()))?;
        let config: VaeRunConfig = toml::from_str(&text)
            .map_err(|e| format!("{}: not a VAE run's recipe: {e}", rp.display()))?;
        let wp = rd.weights();
        if !wp.exists() {
            return Err(format!(
                "{}: no final weights (the run has not finished, or it finished before runs saved them)",
                wp.display()
            ));
        }
        let c = Checkpoint::load(&wp).map_err(|e| e.to_string())?;
        let n: usize = c.meta("n_params", &wp).map_err(|e| e.to_string())?;
        let params = (0..n)
            .map(|k| {
                c.tensors
                    .get(&format!("p{k}"))
                    .cloned()
                    .ok_or_else(|| format!("{}: no tensor p{k}", wp.display()))
            })
            .collect::<Result<Vec<_>, _>>()?;
        let data = config.data.open()?;
        let mut t = VaeTrainer::new(
            config.vae.clone(),
            config.train.clone(),
            data.channels(),
            config.run.seed,
        )
        .map_err(|e| e.to_string())?;
        t.set_params(&params)
            .map_err(|e| format!("{}: {e}", wp.display()))?;
        Ok(VaeRunEncoder {
            config,
            data,
            model: std::cell::RefCell::new(t.eval_model()),
        })
    }

    /// Posterior means of the images of `factors` (one class per factor), `[n][latent]`.
    pub fn encode_factors(
        &self,
        factors: &[Vec<usize>],
    ) -> Result<Vec<Vec<f64>>, biodis_vae::VaeError> {
        let mut model = self.model.borrow_mut();
        let m = biodis_vae::encode_means(
            &mut model,
            self.config.vae.nonneg,
            self.data.as_ref(),
            factors,
        )?;
        Ok(m.outer_iter().map(|r| r.to_vec()).collect())
    }
}

/// Codes as `[n, latent]` f64 from `codes.npy`.
pub fn read_codes(run_dir: &Path) -> Result<Array2<f64>, String> {
    let p = run_dir.join("arrays/codes.npy");
    let f = std::fs::File::open(&p).map_err(|e| format!("{}: {e}", p.display()))?;
    let a: Array2<f32> =
        ndarray_npy::ReadNpyExt::read_npy(f).map_err(|e| format!("{}: {e}", p.display()))?;
    Ok(a.mapv(|v| v as f64))
}

#[cfg(test)]
mod mem_tests {
    use super::*;

    /// A batch of a billion images cannot fit: refused with the estimate and the sizes; the
    /// paper's own VAE fits in well under a GiB.
    #[test]
    fn absurd_vae_sizes_are_refused() {
        let src = crate::locate("fig5").unwrap();
        let ov = [crate::parse_override("train.batch=1000000000").unwrap()];
        let big = expand_vae(&src, &ov, Some(1), Some(10), &[])
            .unwrap()
            .remove(0);
        let e = check_vae_fits(&big, Some(64 << 30))
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("train.batch = 1000000000") && e.contains("64.0 GiB available"),
            "{e}"
        );
        let ok = expand_vae(&src, &[], Some(1), Some(10), &[])
            .unwrap()
            .remove(0);
        assert!(estimate_vae(&ok) < 1u128 << 30, "{}", estimate_vae(&ok));
        assert!(check_vae_fits(&ok, Some(64 << 30)).is_ok());
    }
}
