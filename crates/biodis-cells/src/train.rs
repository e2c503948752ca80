//! The two-stage optimisation of App. A.9.2 over batches of worlds: for every world of the batch
//! infer `z` (Euler steps on the object and path-integration terms), then one Adam step on the
//! weights with `z` fixed.
//!
//! Tasks (App. A.9.1): **factorised** draws `batch` fresh worlds every step; **entangled** uses
//! one world throughout (every batch entry and every step). The entangled world is the first
//! world of the world stream that has at least two objects (a world with fewer has no object
//! structure to entangle with, and patch correlation needs two objects).
//!
//! Random streams (ChaCha8 seeded with the run's seed; named in `biodis_data::streams::cells`):
//! 1 = training worlds, 2 = parameter init, 3 = random `z` inits (`z_init = "random"`),
//! 4 = evaluation worlds.

use crate::error::CellsError;
use crate::model::{CellLoss, CellModel, CellsSpec, InferStats, Stepper};
use biodis_data::gridworld::{World, WorldSpec};
use biodis_data::streams;
use biodis_nn::{Adam, Schedule};
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};

/// Factorised (objects move between worlds) or entangled (one fixed world).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Task {
    Factorised,
    Entangled,
}

/// `[train]` of a grid-world recipe.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CellsTrain {
    pub task: Task,
    /// Adam steps (weight updates).
    pub steps: u64,
    /// Worlds per batch (paper: 8).
    #[serde(default = "d_batch")]
    pub batch: usize,
    /// Paper: 1.2e-3 (written "12e-4").
    #[serde(default = "d_lr")]
    pub lr: f64,
    #[serde(default)]
    pub schedule: Schedule,
    /// Evaluate and checkpoint every this many steps.
    #[serde(default = "d_eval_every")]
    pub eval_every: u64,
    /// Evaluation worlds with objects (plus one without), drawn from stream 4.
    #[serde(default = "d_eval_worlds")]
    pub eval_worlds: usize,
    /// Shuffles of the per-cell grid-score null at the final evaluation (0 = none).
    #[serde(default = "d_null")]
    pub null_shuffles: usize,
    /// Half-width `k` of object-centred maps (`(2k+1)²` window).
    #[serde(default = "d_obj_k")]
    pub object_k: usize,
    /// Half-width `k` of the patches of the patch correlation (Fig 7C).
    #[serde(default = "d_patch_k")]
    pub patch_k: usize,
}

fn d_batch() -> usize {
    8
}
fn d_lr() -> f64 {
    1.2e-3
}
fn d_eval_every() -> u64 {
    500
}
fn d_eval_worlds() -> usize {
    16
}
fn d_null() -> usize {
    200
}
fn d_obj_k() -> usize {
    4
}
fn d_patch_k() -> usize {
    2
}

impl CellsTrain {
    /// Checks the values; a [`CellsError::Invalid`] names the `train.` key.
    pub fn validate(&self) -> Result<(), CellsError> {
        let bad = |key, value: &dyn ToString, expected: &str| {
            Err(CellsError::invalid(
                "train",
                key,
                value.to_string(),
                expected,
            ))
        };
        if self.steps == 0 {
            return bad("steps", &0, "at least 1");
        }
        if self.batch == 0 {
            return bad("batch", &0, "at least 1 world");
        }
        if !(self.lr.is_finite() && self.lr > 0.0) {
            return bad("lr", &self.lr, "a finite value > 0");
        }
        if self.eval_every == 0 {
            return bad("eval_every", &0, "at least 1");
        }
        if self.eval_worlds < 2 {
            return bad(
                "eval_worlds",
                &self.eval_worlds,
                "at least 2 (stability compares worlds)",
            );
        }
        Ok(())
    }
}

/// The entangled task's world: the first world of `rng` with at least two objects
/// ([`CellsError::NoEntangledWorld`] after 10 000 draws without one).
pub fn entangled_world(ws: &WorldSpec, rng: &mut ChaCha8Rng) -> Result<World, CellsError> {
    for _ in 0..10_000 {
        let w = ws.sample(rng);
        if w.objects.len() >= 2 {
            return Ok(w);
        }
    }
    Err(CellsError::NoEntangledWorld {
        max_objects: ws.max_objects,
        min_distance: ws.min_distance,
        size: ws.size,
    })
}

/// Everything that changes during training (what a checkpoint restores).
pub struct Trainer {
    pub model: CellModel<f32>,
    pub adam: Adam<f32>,
    pub step: u64,
    pub world_rng: ChaCha8Rng,
    pub z_rng: ChaCha8Rng,
    pub fixed: Option<World>,
    stepper: Stepper<f32>,
    grad: Vec<f32>,
    pub train: CellsTrain,
}

impl Trainer {
    /// A fresh trainer for `seed`.
    pub fn new(
        spec: CellsSpec,
        world: WorldSpec,
        train: CellsTrain,
        seed: u64,
    ) -> Result<Self, CellsError> {
        let mut world_rng = streams::cells::WORLDS.rng(seed);
        let mut init_rng = streams::cells::INIT.rng(seed);
        let z_rng = streams::cells::Z_INIT.rng(seed);
        let fixed = match train.task {
            Task::Entangled => Some(entangled_world(&world, &mut world_rng)?),
            Task::Factorised => None,
        };
        let model = CellModel::<f32>::new(spec, world, &mut init_rng);
        let n = model.layout.len;
        Ok(Trainer {
            stepper: Stepper::new(&model.layout),
            adam: Adam::new(n),
            grad: vec![0.0; n],
            model,
            step: 0,
            world_rng,
            z_rng,
            fixed,
            train,
        })
    }

    /// The worlds of the next batch.
    pub fn next_worlds(&mut self) -> Vec<World> {
        match &self.fixed {
            Some(w) => vec![w.clone(); self.train.batch],
            None => (0..self.train.batch)
                .map(|_| self.model.world.sample(&mut self.world_rng))
                .collect(),
        }
    }

    /// One training step (inference on a batch, then one Adam step); returns its loss terms.
    pub fn step(&mut self) -> CellLoss {
        let worlds = self.next_worlds();
        let t = self
            .stepper
            .loss_grad(&self.model, &worlds, &mut self.grad, &mut self.z_rng);
        let lr = self
            .train
            .schedule
            .lr(self.train.lr, self.step, self.train.steps);
        self.adam.step(&mut self.model.theta, &self.grad, lr);
        self.step += 1;
        t
    }

    /// Infers `z` for each of `worlds` with the current weights (`n_l × n_c` each).
    pub fn infer_all(&mut self, worlds: &[World]) -> Vec<Vec<f32>> {
        self.infer_traced(worlds).1
    }

    /// [`Trainer::infer_all`] with each world's start of inference and its [`InferStats`]:
    /// `(starts, zs, stats)`. The start is taken after the start's norm projection.
    pub fn infer_traced(
        &mut self,
        worlds: &[World],
    ) -> (Vec<Vec<f32>>, Vec<Vec<f32>>, Vec<InferStats>) {
        let l = self.model.layout;
        let mut scratch = [
            vec![0.0; l.nl * l.nc],
            vec![0.0; l.nl * l.nc],
            vec![0.0; l.nl * l.nc],
        ];
        let mut starts = Vec::with_capacity(worlds.len());
        let mut zs = Vec::with_capacity(worlds.len());
        let mut stats = Vec::with_capacity(worlds.len());
        for w in worlds {
            let mut z = self.model.z_start(&mut self.z_rng.clone());
            let mut start = z.clone();
            self.model.project_start(&mut start);
            stats.push(self.model.infer(w, &mut z, &mut scratch));
            starts.push(start);
            zs.push(z);
        }
        (starts, zs, stats)
    }

    /// Loss terms at the inferred `z` of `worlds` (no update).
    pub fn evaluate_loss(&mut self, worlds: &[World], zs: Vec<Vec<f32>>) -> CellLoss {
        self.stepper.z = zs;
        let mut g = vec![0.0; self.model.layout.len];
        self.stepper.loss_grad_at(&self.model, worlds, &mut g)
    }
}
