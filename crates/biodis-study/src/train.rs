//! Training one run: data, model, Adam, evaluation, checkpoints and exact resume.
//!
//! Random streams (ChaCha8, seeded with the run's seed; named in `biodis_data::streams::dense`):
//! stream 1 generates the dataset (`biodis-data`), stream 2 initialises the weights, stream 3
//! draws minibatch indices. The checkpoint stores the batch stream's word position, so a
//! resumed run draws exactly the batches an uninterrupted run would, and ends with the same
//! numbers.
//!
//! Evaluation (every `train.eval_every` steps and at the end) runs the first
//! `train.eval_samples` samples through the network and records, per hidden layer, MIR
//! (`mir.whittington2023`) and the number of neurons it kept, plus R² of the output and the
//! fraction of negative activity. The loss terms in `curve.csv` are the means of the
//! minibatch terms over the steps since the previous evaluation. A checkpoint is written at
//! every evaluation, after `curve.csv`.

use crate::recipe::RunConfig;
use biodis_metrics::mir;
use biodis_nn::checkpoint::{to_bytes, Checkpoint};
use biodis_nn::{Adam, LossTerms, Mlp, MlpSpec};
use biodis_rundir::{atomic_write, RunDir, RunDirError, State, Status};
use ndarray::Array2;
use rand::Rng;

use crate::StudyError;
use std::collections::HashMap;
use std::path::Path;
use std::time::Instant;

use biodis_rundir::dense::curve_csv;
pub use biodis_rundir::dense::{read_curve, CurveRow, RunResult};

/// Why a run stopped without finishing.
#[derive(Debug, thiserror::Error)]
pub enum RunError {
    #[error("{run}: non-finite loss at step {step}: total {}, prediction {}, nonneg {}, activity {}, weight {}", .terms.total, .terms.prediction, .terms.nonneg, .terms.activity, .terms.weight)]
    NonFinite {
        run: String,
        step: u64,
        terms: LossTerms,
    },
    #[error("{run}: diverged at step {step}: {reason}; loss terms: total {}, prediction {}, nonneg {}, activity {}, weight {}", .terms.total, .terms.prediction, .terms.nonneg, .terms.activity, .terms.weight)]
    Diverged {
        run: String,
        step: u64,
        /// Which criterion fired, with the numbers (see [`DIVERGENCE_FACTOR`], [`R2_FLOOR`]).
        reason: String,
        terms: LossTerms,
    },
    #[error("{run}: {msg}")]
    Other { run: String, msg: String },
}

/// A run has diverged when a minibatch's total loss exceeds this factor times the initial
/// network's loss (the step-0 evaluation in `curve.csv`): a healthy run lowers its loss, and
/// minibatch noise does not reach a factor of a thousand.
pub const DIVERGENCE_FACTOR: f64 = 1e3;

/// A run has diverged when the R² of an evaluation (after step 0) is below this floor: the
/// network's predictions are then a hundred times worse, in squared error, than predicting the
/// mean.
pub const R2_FLOOR: f64 = -100.0;

impl RunError {
    fn other(run: &str, msg: impl std::fmt::Display) -> Self {
        RunError::Other {
            run: run.to_string(),
            msg: msg.to_string(),
        }
    }
}

/// Result of evaluating a network on the eval set.
struct Eval {
    mir: Vec<f64>,
    active: Vec<usize>,
    r2: f64,
    neg_frac: f64,
    /// MI matrix and kept neurons of the last hidden layer.
    mi: Option<(Array2<f64>, Vec<usize>)>,
    /// Hidden activations (eval samples × width), per hidden layer.
    hidden: Vec<Array2<f32>>,
}

fn evaluate(
    net: &mut Mlp<f32>,
    cfg: &RunConfig,
    data: &biodis_data::Dataset,
    factors: &Array2<f64>,
) -> Eval {
    let n = cfg.train.eval_samples;
    let n_hidden = cfg.model.hidden.len();
    let widths = &cfg.model.hidden;
    let mut hidden: Vec<Array2<f32>> = widths.iter().map(|&w| Array2::zeros((n, w))).collect();
    let (dx, dy) = (data.x_dim, data.y_dim);
    let mut out = vec![0f32; n * dy];
    let chunk = 1000;
    let mut s = 0;
    while s < n {
        let b = chunk.min(n - s);
        net.forward(&data.x[s * dx..(s + b) * dx], b);
        for (l, h) in hidden.iter_mut().enumerate() {
            let src = net.hidden(l);
            let w = widths[l];
            for r in 0..b {
                for c in 0..w {
                    h[[s + r, c]] = src[r * w + c];
                }
            }
        }
        out[s * dy..(s + b) * dy].copy_from_slice(net.output());
        s += b;
    }
    if cfg.model.head == biodis_nn::Head::SigmoidCe {
        out.iter_mut().for_each(|z| *z = 1.0 / (1.0 + (-*z).exp()));
    }
    // R²: mean over outputs of 1 - SS_res / SS_tot
    let mut r2 = 0.0;
    for j in 0..dy {
        let mean: f64 = (0..n).map(|i| data.y[i * dy + j] as f64).sum::<f64>() / n as f64;
        let (mut res, mut tot) = (0.0, 0.0);
        for i in 0..n {
            let y = data.y[i * dy + j] as f64;
            res += (y - out[i * dy + j] as f64).powi(2);
            tot += (y - mean).powi(2);
        }
        r2 += if tot > 0.0 { 1.0 - res / tot } else { 0.0 };
    }
    r2 /= dy as f64;
    let last = &hidden[cfg.model.primary_layer().min(n_hidden - 1)];
    let neg_frac = last.iter().filter(|&&v| v < 0.0).count() as f64 / last.len() as f64;
    let mut mirs = Vec::new();
    let mut active = Vec::new();
    let mut mi = None;
    let primary = cfg.model.primary_layer();
    let split = cfg.model.split();
    for (l, h) in hidden.iter().enumerate() {
        // the latent of an autoencoder is the part of the encoder head that feeds the decoder
        let h64 = match split {
            Some((k, p)) if k == l => h.slice(ndarray::s![.., ..p]).mapv(|v| v as f64),
            _ => h.mapv(|v| v as f64),
        };
        match mir(h64.view(), factors.view(), &cfg.metrics) {
            Ok(r) => {
                mirs.push(r.mir);
                active.push(r.kept.len());
                if l == primary {
                    mi = Some((r.mi, r.kept));
                }
            }
            Err(_) => {
                mirs.push(f64::NAN);
                active.push(0);
            }
        }
    }
    Eval {
        mir: mirs,
        active,
        r2,
        neg_frac,
        mi,
        hidden,
    }
}

pub use crate::kind::Progress;

/// The mechanism diagnostics at the current parameters (`train.noise_diagnostics`; see
/// `biodis_nn::mechanism`). The minibatches come from the [`DIAGNOSTICS`] stream at a word
/// position set by the step, so they are the same after a resume and never touch the training
/// batches. Overwrites the network's gradient buffer (called between steps).
///
/// [`DIAGNOSTICS`]: biodis_data::streams::dense::DIAGNOSTICS
fn measure_mechanism(
    net: &mut Mlp<f32>,
    cfg: &RunConfig,
    data: &biodis_data::Dataset,
    mixing: &[f64],
    step: u64,
) -> biodis_rundir::dense::Mechanism {
    use biodis_nn::mechanism::{cross_term, cross_term_scale, gradient_noise, UNIFORM_HALF_RANGE};
    let (din, dout, k) = (data.x_dim, cfg.model.hidden[0], data.n_factors);
    let w: Vec<f64> = net.weight(0).iter().map(|&v| f64::from(v)).collect();
    let ct = cross_term(&w, din, dout, mixing, k, UNIFORM_HALF_RANGE);
    let scale = cross_term_scale(&cfg.constraints, dout);
    let cross_grad = scale.abs() * ct.grad_w.iter().map(|g| g * g).sum::<f64>().sqrt();
    let mut rng = biodis_data::streams::dense::DIAGNOSTICS.rng(cfg.run.seed);
    rng.set_word_pos(u128::from(step) << 40);
    let n = data.n;
    let noise = gradient_noise(
        net,
        &data.x,
        &data.y,
        &cfg.constraints,
        cfg.train.batch,
        crate::recipe::NOISE_BATCHES,
        &ct.grad_w,
        || rng.gen_range(0..n),
    );
    biodis_rundir::dense::Mechanism {
        cross_term: ct.value,
        cross_grad,
        grad_mean: noise.mean_norm,
        grad_noise: noise.noise,
        grad_noise_along: noise.noise_along,
    }
}

/// Trains (or resumes, or skips if done) the run in `dir` with configuration `cfg`.
///
/// On success the directory holds `result.json`, `arrays/`, `curve.csv` and `status.json`
/// (`done`). A non-finite loss marks the run `failed` (with step and loss terms) and returns
/// [`RunError::NonFinite`]; a diverged run (a minibatch loss above [`DIVERGENCE_FACTOR`] × the
/// initial loss, or an R² below [`R2_FLOOR`]) is marked `failed` the same way and returns
/// [`RunError::Diverged`], so it never enters a study's means.
pub fn run(dir: &RunDir, cfg: &RunConfig, progress: Progress) -> Result<RunResult, RunError> {
    // every error (a write that fails on a full disk included) leaves the run `failed`
    crate::kind::leave_failed_on_error(dir, run_inner(dir, cfg, progress))
}

fn run_inner(dir: &RunDir, cfg: &RunConfig, progress: Progress) -> Result<RunResult, RunError> {
    let id = cfg.run_id();
    let t0 = Instant::now();
    // (atomic_write's errors name the file; others get the run's folder)
    let io = |e: std::io::Error| {
        let m = e.to_string();
        let root = dir.root.display().to_string();
        RunError::other(
            &id,
            if m.contains(&root) {
                m
            } else {
                format!("{root}: {m}")
            },
        )
    };
    let rde = |e: RunDirError| RunError::other(&id, e);
    std::fs::create_dir_all(&dir.root).map_err(io)?;
    let recipe_text = toml::to_string_pretty(cfg).map_err(|e| RunError::other(&id, e))?;
    match std::fs::read_to_string(dir.recipe()) {
        // written by an older version, without the keys added since: the same run when read
        // through the configuration type (their defaults keep the old behaviour)
        Ok(existing)
            if existing != recipe_text
                && !crate::kind::same_config::<RunConfig>(&existing, &recipe_text) =>
        {
            let diffs = match (
                existing.parse::<toml::Table>(),
                recipe_text.parse::<toml::Table>(),
            ) {
                (Ok(a), Ok(b)) => crate::kind::config_diffs(&a, &b),
                _ => vec![format!("{} does not parse", dir.recipe().display())],
            };
            if !diffs.is_empty() {
                return Err(RunError::other(
                    &id,
                    format!(
                        "{} holds a run with a different configuration: {}; use another --out directory or remove it",
                        dir.root.display(),
                        diffs.join("; ")
                    ),
                ));
            }
        }
        Ok(_) => {}
        Err(_) => atomic_write(&dir.recipe(), recipe_text.as_bytes()).map_err(rde)?,
    }
    if let Some(st) = dir.read_status() {
        if st.state == State::Done {
            match read_result(dir) {
                Ok(Some(r)) => {
                    progress(cfg.train.steps);
                    return Ok(r);
                }
                Ok(None) => eprintln!(
                    "warning: {id}: status done but {} is missing; re-running the run (from its checkpoint when intact)",
                    dir.result().display()
                ),
                Err(e) => eprintln!(
                    "warning: {id}: {e}; re-running the run (from its checkpoint when intact)"
                ),
            }
        }
    }
    // refuse, before allocating, a run that cannot fit in this machine's memory
    crate::mem::check_fits(cfg, crate::mem::available_bytes())
        .map_err(|m| RunError::other(&id, m))?;
    dir.write_status(&Status {
        state: State::Running,
        step: 0,
        error: None,
        loss_terms: None,
        pid: None,
        host: None,
    })
    .map_err(rde)?;

    let data = cfg
        .data
        .generate(cfg.run.seed)
        .map_err(|e| RunError::other(&id, e))?;
    let n_eval = cfg.train.eval_samples;
    let factors = Array2::from_shape_vec((n_eval, data.n_factors), data.factors_f64(n_eval))
        .map_err(|e| RunError::other(&id, e))?;
    let mut dims = vec![data.x_dim];
    dims.extend(&cfg.model.hidden);
    dims.push(data.y_dim);
    let spec = MlpSpec {
        activations: cfg.model.layer_activations(),
        dims,
        head: cfg.model.head,
        reduction: cfg.model.reduction,
        split: cfg.model.split(),
    };
    let n_hidden = spec.n_hidden();
    let mut init_rng = biodis_data::streams::dense::INIT.rng(cfg.run.seed);
    let mut net: Mlp<f32> = Mlp::new(spec.clone(), &cfg.constraints, &mut init_rng);
    let mut adam: Adam<f32> = Adam::new(net.params.len());
    let mut rng = biodis_data::streams::dense::BATCHES.rng(cfg.run.seed);
    let mut step: u64 = 0;
    let mut curve: Vec<CurveRow> = Vec::new();

    // Resume: from a checkpoint that reads back whole, with its curve; a damaged one (truncated,
    // wrong shapes, unreadable curve) is never trusted: the run restarts from scratch.
    let ck_path = dir.checkpoint();
    if ck_path.exists() {
        match load_resume(dir, net.params.len()) {
            Ok(r) => {
                net.params.copy_from_slice(&r.params);
                adam.m.copy_from_slice(&r.adam_m);
                adam.v.copy_from_slice(&r.adam_v);
                adam.t = r.adam_t;
                step = r.step;
                rng.set_word_pos(r.rng_word_pos);
                curve = r.curve;
                progress(step);
            }
            Err(msg) => {
                eprintln!("warning: {id}: {msg}; restarting the run from step 0");
                let _ = std::fs::remove_file(&ck_path);
                let _ = std::fs::remove_file(dir.curve());
            }
        }
    }

    let (dx, dy) = (data.x_dim, data.y_dim);
    let b = cfg.train.batch;
    let mut xb = vec![0f32; b * dx];
    let mut yb = vec![0f32; b * dy];
    let mut acc = LossTerms::default();
    let mut acc_n = 0u64;
    let total = cfg.train.steps;
    let eval_every = cfg.train.eval_every;

    let mixing = if cfg.train.noise_diagnostics {
        cfg.data
            .input_mixing(cfg.run.seed)
            .map_err(|e| RunError::other(&id, e))?
    } else {
        None
    };
    let do_eval =
        |net: &mut Mlp<f32>, step: u64, acc: &LossTerms, acc_n: u64, lr: f64| -> (CurveRow, Eval) {
            let e = evaluate(net, cfg, &data, &factors);
            let mechanism = mixing
                .as_deref()
                .map(|a| measure_mechanism(net, cfg, &data, a, step));
            let k = acc_n.max(1) as f64;
            let loss = LossTerms {
                total: acc.total / k,
                prediction: acc.prediction / k,
                nonneg: acc.nonneg / k,
                activity: acc.activity / k,
                weight: acc.weight / k,
                sparsity: acc.sparsity / k,
                weight_l1: acc.weight_l1 / k,
            };
            let row = CurveRow {
                step,
                lr,
                loss,
                mir: e.mir.clone(),
                active: e.active.clone(),
                r2: e.r2,
                neg_frac: e.neg_frac,
                mechanism,
            };
            (row, e)
        };

    if step == 0 && curve.is_empty() {
        // Step-0 evaluation: loss terms of the initial network on the first batch-sized slice.
        let t = net.loss_and_grad(&data.x[..b * dx], &data.y[..b * dy], b, &cfg.constraints);
        let (row, _) = do_eval(
            &mut net,
            0,
            &t,
            1,
            cfg.train.schedule.lr(cfg.train.lr, 0, total),
        );
        curve.push(row);
    }
    let mut last_eval: Option<Eval> = None;
    let mut pending_progress = 0u64;
    // A dataset of a few repeated points (categories): each distinct row of a minibatch is
    // computed once, weighted by how often it was drawn — the same loss and gradient, and the
    // same minibatch draws, as the expanded batch (`Mlp::loss_and_grad_counted`).
    let (row_class, n_classes) = data.row_classes();
    let counted = n_classes < data.n;
    let mut slot = vec![u32::MAX; if counted { n_classes } else { 0 }];
    let mut slot_class: Vec<u32> = Vec::with_capacity(b);
    let mut counts: Vec<u32> = Vec::with_capacity(b);
    while step < total {
        let t = if counted {
            for &c in &slot_class {
                slot[c as usize] = u32::MAX;
            }
            slot_class.clear();
            counts.clear();
            for _ in 0..b {
                let s = rng.gen_range(0..data.n);
                let c = row_class[s];
                if slot[c as usize] == u32::MAX {
                    let u = counts.len();
                    slot[c as usize] = u as u32;
                    slot_class.push(c);
                    counts.push(0);
                    xb[u * dx..(u + 1) * dx].copy_from_slice(&data.x[s * dx..(s + 1) * dx]);
                    yb[u * dy..(u + 1) * dy].copy_from_slice(&data.y[s * dy..(s + 1) * dy]);
                }
                counts[slot[c as usize] as usize] += 1;
            }
            let u = counts.len();
            net.loss_and_grad_counted(&xb[..u * dx], &yb[..u * dy], &counts, &cfg.constraints)
        } else {
            for i in 0..b {
                let s = rng.gen_range(0..data.n);
                xb[i * dx..(i + 1) * dx].copy_from_slice(&data.x[s * dx..(s + 1) * dx]);
                yb[i * dy..(i + 1) * dy].copy_from_slice(&data.y[s * dy..(s + 1) * dy]);
            }
            net.loss_and_grad(&xb, &yb, b, &cfg.constraints)
        };
        let start = curve.first().map(|r| r.loss.total).unwrap_or(f64::NAN);
        let err = if !t.is_finite() {
            Some(RunError::NonFinite {
                run: id.clone(),
                step,
                terms: t,
            })
        } else if start.is_finite() && t.total > DIVERGENCE_FACTOR * start.max(1e-12) {
            Some(RunError::Diverged {
                run: id.clone(),
                step,
                reason: format!(
                    "minibatch loss {:.4e} is above {DIVERGENCE_FACTOR:e} × the initial loss {start:.4e}",
                    t.total
                ),
                terms: t,
            })
        } else {
            None
        };
        if let Some(err) = err {
            let _ = dir.write_status(&Status {
                state: State::Failed,
                step,
                error: Some(err.to_string()),
                loss_terms: Some(t),
                pid: None,
                host: None,
            });
            return Err(err);
        }
        let lr = cfg.train.schedule.lr(cfg.train.lr, step, total);
        adam.step(&mut net.params, &net.grads, lr);
        step += 1;
        acc.total += t.total;
        acc.prediction += t.prediction;
        acc.nonneg += t.nonneg;
        acc.activity += t.activity;
        acc.weight += t.weight;
        acc.sparsity += t.sparsity;
        acc.weight_l1 += t.weight_l1;
        acc_n += 1;
        pending_progress += 1;
        if pending_progress >= 500 {
            progress(pending_progress);
            pending_progress = 0;
        }
        if step.is_multiple_of(eval_every) || step == total {
            let (row, e) = do_eval(&mut net, step, &acc, acc_n, lr);
            if row.r2 < R2_FLOOR {
                let err = RunError::Diverged {
                    run: id.clone(),
                    step,
                    reason: format!("R² {:.4e} is below the floor {R2_FLOOR}", row.r2),
                    terms: row.loss,
                };
                curve.push(row.clone());
                let _ = atomic_write(&dir.curve(), curve_csv(&curve, n_hidden).as_bytes());
                let _ = dir.write_status(&Status {
                    state: State::Failed,
                    step,
                    error: Some(err.to_string()),
                    loss_terms: Some(row.loss),
                    pid: None,
                    host: None,
                });
                return Err(err);
            }
            curve.push(row);
            acc = LossTerms::default();
            acc_n = 0;
            atomic_write(&dir.curve(), curve_csv(&curve, n_hidden).as_bytes()).map_err(rde)?;
            let mut meta = HashMap::new();
            meta.insert("step".to_string(), step.to_string());
            meta.insert("adam_t".to_string(), adam.t.to_string());
            meta.insert("rng_word_pos".to_string(), rng.get_word_pos().to_string());
            meta.insert("run_id".to_string(), id.clone());
            let bytes = to_bytes(
                &[
                    ("params", &net.params),
                    ("adam_m", &adam.m),
                    ("adam_v", &adam.v),
                ],
                &meta,
            )
            .map_err(|e| RunError::other(&id, e))?;
            atomic_write(&ck_path, &bytes).map_err(rde)?;
            dir.write_status(&Status {
                state: State::Running,
                step,
                error: None,
                loss_terms: None,
                pid: None,
                host: None,
            })
            .map_err(rde)?;
            last_eval = Some(e);
        }
    }
    progress(pending_progress);

    // Final outputs.
    let e = match last_eval {
        Some(e) => e,
        None => evaluate(&mut net, cfg, &data, &factors),
    };
    let last = curve
        .last()
        .cloned()
        .ok_or_else(|| RunError::other(&id, "no evaluation recorded"))?;
    let arrays = dir.arrays();
    std::fs::create_dir_all(&arrays).map_err(io)?;
    let npy = |name: &str, a: &Array2<f32>| -> Result<(), RunError> {
        write_npy_atomic(&arrays.join(name), a).map_err(|m| RunError::other(&id, m))
    };
    let (mi_matrix, mi_kept) = match &e.mi {
        Some((m, k)) => {
            npy("mi_matrix.npy", &m.mapv(|v| v as f32))?;
            (m.outer_iter().map(|r| r.to_vec()).collect(), k.clone())
        }
        None => (Vec::new(), Vec::new()),
    };
    let keep = cfg.train.save_activations.min(n_eval);
    for (l, h) in e.hidden.iter().enumerate() {
        npy(
            &format!("hidden_h{l}.npy"),
            &h.slice(ndarray::s![..keep, ..]).to_owned(),
        )?;
    }
    npy(
        "factors.npy",
        &factors.slice(ndarray::s![..keep, ..]).mapv(|v| v as f32),
    )?;
    for l in 0..spec.n_layers() {
        let (din, dout) = (spec.in_width(l), spec.dims[l + 1]);
        let w = Array2::from_shape_vec((din, dout), net.weight(l).to_vec())
            .map_err(|e| RunError::other(&id, e))?;
        npy(&format!("weight_l{l}.npy"), &w)?;
    }
    let mut versions = std::collections::BTreeMap::new();
    versions.insert("biodis".to_string(), env!("CARGO_PKG_VERSION").to_string());
    versions.insert("mir".to_string(), biodis_metrics::mir::MIR_ID.to_string());
    versions.insert("kernels".to_string(), biodis_nn::kernels::provenance());
    let result = RunResult {
        schema_version: biodis_rundir::SCHEMA_VERSION,
        study: cfg.study.name.clone(),
        run_id: id.clone(),
        variant: cfg.run.variant.clone(),
        seed: cfg.run.seed,
        steps: total,
        metric_id: biodis_metrics::mir::MIR_ID.to_string(),
        last,
        primary_layer: cfg.model.primary_layer(),
        mi_matrix,
        mi_kept,
        n_params: spec.n_params(),
        wall_s: t0.elapsed().as_secs_f64(),
        versions,
        mir_ceiling: (cfg.data.task == biodis_data::Task::Categories)
            .then(|| biodis_metrics::mir::mir_one_hot_ceiling(cfg.data.n_factors)),
    };
    let j = serde_json::to_vec_pretty(&result).map_err(|e| RunError::other(&id, e))?;
    atomic_write(&dir.result(), &j).map_err(rde)?;
    dir.write_status(&Status {
        state: State::Done,
        step: total,
        error: None,
        loss_terms: None,
        pid: None,
        host: None,
    })
    .map_err(rde)?;
    Ok(result)
}

/// The dense study kind (Figs 2–4, 8, 9, 11): MLPs on factor tasks.
pub struct Dense;

/// Outcome of one dense run.
pub type Outcome = crate::kind::Outcome<RunResult>;

impl crate::StudyKind for Dense {
    const KIND: biodis_rundir::Kind = biodis_rundir::Kind::Dense;
    type Config = RunConfig;
    type Result = RunResult;
    fn ident(c: &RunConfig) -> &biodis_rundir::RunIdent {
        &c.run
    }
    fn steps(c: &RunConfig) -> u64 {
        c.train.steps
    }
    fn estimate_bytes(c: &RunConfig) -> u128 {
        crate::mem::estimate_dense(c)
    }
    fn check_fits(c: &RunConfig, available: Option<u64>) -> Result<(), crate::mem::TooBig> {
        crate::mem::check_fits(c, available)
    }
    fn train(dir: &RunDir, c: &RunConfig, progress: Progress) -> Result<RunResult, StudyError> {
        Ok(run(dir, c, progress)?)
    }
    fn read_result(dir: &RunDir) -> Result<Option<RunResult>, StudyError> {
        read_result(dir).map_err(|msg| StudyError::run(&dir.root.display().to_string(), msg))
    }
    fn write_summary(
        study: &Path,
        _runs: &[RunConfig],
        outcomes: &[Outcome],
    ) -> Result<(), StudyError> {
        write_summary(study, outcomes)
    }
    fn summary_table(outcomes: &[Outcome]) -> String {
        summary_table(outcomes)
    }
}

/// Writes `summary.csv`: one row per run, the report's input.
pub fn write_summary(study_dir: &Path, outcomes: &[Outcome]) -> Result<(), StudyError> {
    let n_h = outcomes
        .iter()
        .filter_map(|o| o.result.as_ref().ok())
        .map(|r| r.last.mir.len())
        .max()
        .unwrap_or(1);
    let mut s = String::from("run_id,variant,seed,status,steps,mir");
    for l in 0..n_h {
        s.push_str(&format!(",mir_h{l},active_h{l}"));
    }
    s.push_str(",r2,loss,neg_frac,error\n");
    for o in outcomes {
        match &o.result {
            Ok(r) => {
                let mir_last = r.last.mir.get(r.primary_layer).copied().unwrap_or(f64::NAN);
                s.push_str(&format!(
                    "{},{},{},done,{},{}",
                    o.run_id, o.variant, o.seed, r.steps, mir_last
                ));
                for l in 0..n_h {
                    let m = r.last.mir.get(l).copied().unwrap_or(f64::NAN);
                    let a = r.last.active.get(l).copied().unwrap_or(0);
                    s.push_str(&format!(",{m},{a}"));
                }
                // (no wall time here: summary.csv depends only on the numbers, so the same study
                // gives the same file on any engine)
                s.push_str(&format!(
                    ",{},{},{},\n",
                    r.last.r2, r.last.loss.total, r.last.neg_frac
                ));
            }
            Err(e) => {
                s.push_str(&format!("{},{},{},failed,,", o.run_id, o.variant, o.seed));
                for _ in 0..n_h {
                    s.push_str(",,");
                }
                s.push_str(&format!(",,,,\"{}\"\n", e.replace('"', "'")));
            }
        }
    }
    Ok(atomic_write(&study_dir.join("summary.csv"), s.as_bytes())?)
}

/// A per-variant table of final MIR (mean ± s.e.), in the order variants first appear.
pub fn summary_table(outcomes: &[Outcome]) -> String {
    let order = crate::kind::variant_order(outcomes);
    let mut s = format!(
        "{:<16} {:>6} {:>6} {:>18} {:>16} {:>10}\n",
        "variant", "done", "failed", "final MIR (±s.e.)", "R² (±s.e.)", "active"
    );
    for v in &order {
        let runs: Vec<&Outcome> = outcomes.iter().filter(|o| &o.variant == v).collect();
        let ok: Vec<&RunResult> = runs.iter().filter_map(|o| o.result.as_ref().ok()).collect();
        let failed = runs.len() - ok.len();
        let mirs: Vec<f64> = ok
            .iter()
            .map(|r| r.last.mir.get(r.primary_layer).copied().unwrap_or(f64::NAN))
            .collect();
        let r2s: Vec<f64> = ok.iter().map(|r| r.last.r2).collect();
        let act: Vec<f64> = ok
            .iter()
            .map(|r| r.last.active.get(r.primary_layer).copied().unwrap_or(0) as f64)
            .collect();
        let a = biodis_rundir::mean_se(&act).mean;
        s.push_str(&format!(
            "{:<16} {:>6} {:>6} {:>18} {:>16} {:>10.1}\n",
            v,
            ok.len(),
            failed,
            biodis_rundir::fmt_mean_se(&mirs, 3),
            biodis_rundir::fmt_mean_se(&r2s, 4),
            a
        ));
    }
    let failed: Vec<&Outcome> = outcomes.iter().filter(|o| o.result.is_err()).collect();
    if !failed.is_empty() {
        s.push_str("\nfailed runs:\n");
        for o in failed {
            if let Err(e) = &o.result {
                s.push_str(&format!("  {}: {e}\n", o.run_id));
            }
        }
    }
    s
}

/// The state read back from a run's checkpoint and `curve.csv`.
struct Resume {
    params: Vec<f32>,
    adam_m: Vec<f32>,
    adam_v: Vec<f32>,
    adam_t: u64,
    step: u64,
    rng_word_pos: u128,
    curve: Vec<CurveRow>,
}

/// Reads and checks a run's checkpoint (tensors of `n_params` values, its metadata) and its
/// curve up to the checkpoint's step; any damage is an error naming the file.
fn load_resume(dir: &RunDir, n_params: usize) -> Result<Resume, String> {
    let ck_path = dir.checkpoint();
    let ck = Checkpoint::load(&ck_path).map_err(|e| e.to_string())?;
    let t = |name: &str| {
        ck.tensor(name, n_params, &ck_path)
            .map(|v| v.to_vec())
            .map_err(|e| e.to_string())
    };
    let (params, adam_m, adam_v) = (t("params")?, t("adam_m")?, t("adam_v")?);
    let adam_t: u64 = ck.meta("adam_t", &ck_path).map_err(|e| e.to_string())?;
    let step: u64 = ck.meta("step", &ck_path).map_err(|e| e.to_string())?;
    let rng_word_pos: u128 = ck
        .meta("rng_word_pos", &ck_path)
        .map_err(|e| e.to_string())?;
    let text = std::fs::read_to_string(dir.curve())
        .map_err(|e| format!("{}: {e}", dir.curve().display()))?;
    let mut curve = read_curve(&text).map_err(|e| format!("{}: {e}", dir.curve().display()))?;
    curve.retain(|r| r.step <= step);
    if curve.last().map(|r| r.step) != Some(step) {
        return Err(format!(
            "{}: no evaluation at the checkpoint's step {step}",
            dir.curve().display()
        ));
    }
    Ok(Resume {
        params,
        adam_m,
        adam_v,
        adam_t,
        step,
        rng_word_pos,
        curve,
    })
}

/// Reads a run's `result.json` back, checked: `None` when it is missing, an error message when it
/// is damaged (truncated, not a result) so the caller re-runs the run instead of trusting it.
pub fn read_result(dir: &RunDir) -> Result<Option<RunResult>, String> {
    let p = dir.result();
    let text = match std::fs::read_to_string(&p) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(format!("{}: {e}", p.display())),
    };
    serde_json::from_str::<RunResult>(&text)
        .map(Some)
        .map_err(|e| format!("{}: damaged ({e})", p.display()))
}

fn write_npy_atomic(path: &std::path::Path, a: &Array2<f32>) -> Result<(), String> {
    let mut buf = Vec::new();
    ndarray_npy::WriteNpyExt::write_npy(a, &mut buf)
        .map_err(|e| format!("{}: {e}", path.display()))?;
    atomic_write(path, &buf).map_err(|e| e.to_string())
}
