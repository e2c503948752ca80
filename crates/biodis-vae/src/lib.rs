//! The VAE experiments of Whittington et al. (2023): §3 "standard benchmark with VAEs"
//! (Fig. 5, Shapes3D), App. A.8 (Fig. 12 traversals, Fig. 13 dSprites), Tables 1–2.
//!
//! * [`model`] — the Higgins et al. conv VAE with the biological constraints (burn `=0.22.1`;
//!   burn stays inside this crate: the dense trainer in `biodis-nn` does not use it).
//! * [`VaeTrainer`] — Adam training on batches sampled on the fly from an
//!   [`ImageData`] set (every factor uniform, as
//!   disentanglement_lib samples), seeded: the factor stream and the ε stream are ChaCha8
//!   streams of the run seed, and the weights' initialisation uses the burn device seed.
//! * [`evaluate`] — MIG with the disentanglement_lib protocol (10 000 samples, encoder mean,
//!   20 equal-width bins, discrete factors), the MI matrix, and the reconstruction R² (decoded
//!   from the mean; `1 − Σ(x − x̂)² / Σ(x − x̄)²` with x̄ the per-pixel mean of the sample).
//! * [`traversals`] — latent traversals (Fig. 12).
//!
//! Backends: the default build runs on burn's pure-Rust `flex` CPU backend
//! ([`Backend::Cpu`]); the `gpu` cargo feature adds burn's `wgpu` backend (Vulkan on Linux,
//! [`Backend::Gpu`]).

pub mod error;
pub mod model;
pub mod native;

pub use error::VaeError;

use biodis_data::images::{images, sample_factors, ImageData, IMAGE_SIDE};
use biodis_data::streams;
use burn::module::Module;
use burn::module::Param;
use burn::tensor::activation::sigmoid;
use burn::tensor::Gradients;
use burn::tensor::{Device, Tensor, TensorData};
use model::{ConvVae, LossWeights, Nonneg};
use ndarray::Array2;
use rand_chacha::ChaCha8Rng;
use rand_distr::{Distribution, StandardNormal};
use serde::{Deserialize, Serialize};

/// Which engine trains and evaluates the model.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum Backend {
    /// biodis's own CPU engine ([`native`]: im2col + `gemm`, hand-derived gradients).
    #[default]
    Cpu,
    /// burn `flex` (pure Rust, CPU): the reference the native engine is tested against, and
    /// the engine of every VAE run before the native one existed.
    BurnCpu,
    /// burn `wgpu` (needs the `gpu` cargo feature and a Vulkan driver).
    Gpu,
}

impl Backend {
    /// Whether this build can run on the backend (the GPU needs the `gpu` feature).
    pub fn available(self) -> Result<(), VaeError> {
        match self {
            Backend::Gpu if !cfg!(feature = "gpu") => Err(VaeError::NoGpu {
                key: "train.device",
            }),
            _ => Ok(()),
        }
    }

    /// The burn device (plain, without autodiff) of a burn backend; the native engine has
    /// none (`None`).
    pub fn device(self) -> Result<Option<Device>, VaeError> {
        match self {
            Backend::Cpu => Ok(None),
            Backend::BurnCpu => Ok(Some(Device::flex())),
            #[cfg(feature = "gpu")]
            Backend::Gpu => Ok(Some(Device::wgpu(Default::default()))),
            #[cfg(not(feature = "gpu"))]
            Backend::Gpu => Err(VaeError::NoGpu { key: "device" }),
        }
    }
}

/// Training settings (Table 1's VAE column at paper scale).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct VaeTrain {
    /// Adam updates (paper: 500 000).
    pub steps: u64,
    /// Batch size (paper: 64).
    #[serde(default = "default_batch")]
    pub batch: usize,
    /// Adam learning rate (paper: 1e-4; β = 0.9/0.999, ε = 1e-8).
    #[serde(default = "default_lr")]
    pub lr: f64,
    /// Log the training loss every this many steps.
    #[serde(default = "default_log_every")]
    pub log_every: u64,
    /// Also evaluate (MIG, R², active latents, on the run's fixed evaluation sample) every this
    /// many steps, into `curve.csv` (a multiple of `log_every`; 0 = only at the end).
    #[serde(default)]
    pub eval_every: u64,
    /// Samples for MIG (dlib: 10 000).
    #[serde(default = "default_mig_samples")]
    pub mig_samples: usize,
    /// Samples for the reconstruction R².
    #[serde(default = "default_r2_samples")]
    pub r2_samples: usize,
    /// Write a checkpoint (parameters, Adam moments, stream positions) every this many steps.
    #[serde(default = "default_checkpoint_every")]
    pub checkpoint_every: u64,
    /// Backend.
    #[serde(default)]
    pub device: Backend,
    /// Threads of one run's training step (native engine: the batch split over them). 1 when
    /// runs fill the cores (the local engine runs one run per core); more for a single run.
    #[serde(default = "one_thread")]
    pub threads: usize,
}

fn one_thread() -> usize {
    1
}

fn default_checkpoint_every() -> u64 {
    1000
}

fn default_batch() -> usize {
    64
}
fn default_lr() -> f64 {
    1e-4
}
fn default_log_every() -> u64 {
    100
}
fn default_mig_samples() -> usize {
    10_000
}
fn default_r2_samples() -> usize {
    1_000
}

impl VaeTrain {
    /// Checks the values (and that this build has the backend); a [`VaeError`] names the
    /// `train.` key.
    pub fn validate(&self) -> Result<(), VaeError> {
        let bad = |key, value: &dyn ToString, expected| {
            Err(VaeError::invalid("train", key, value.to_string(), expected))
        };
        if self.steps == 0 {
            return bad("steps", &0, "at least 1");
        }
        if self.batch == 0 {
            return bad("batch", &0, "at least 1");
        }
        if !(self.lr.is_finite() && self.lr > 0.0) {
            return bad("lr", &self.lr, "a positive number");
        }
        self.device.available()?;
        if self.checkpoint_every == 0 {
            return bad("checkpoint_every", &0, "at least 1");
        }
        if self.threads == 0 || self.threads > 256 {
            return bad("threads", &self.threads, "1 to 256");
        }
        if self.log_every == 0 {
            return bad("log_every", &0, "at least 1");
        }
        if !self.eval_every.is_multiple_of(self.log_every) {
            return Err(VaeError::invalid(
                "train",
                "eval_every",
                self.eval_every,
                "a multiple of train.log_every (evaluations are written on logged rows), or 0",
            ));
        }
        if self.mig_samples < 100 {
            return bad(
                "mig_samples",
                &self.mig_samples,
                "at least 100 (dlib uses 10 000)",
            );
        }
        if self.r2_samples < 2 {
            return bad("r2_samples", &self.r2_samples, "at least 2");
        }
        Ok(())
    }
}

/// Model settings of one run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct VaeSpec {
    /// Latent dimension (paper: 10).
    #[serde(default = "default_latent")]
    pub latent: usize,
    /// Nonnegativity: "relu" (default), "hinge", "none".
    #[serde(default)]
    pub nonneg: Nonneg,
    /// β of the KL term.
    #[serde(default = "one")]
    pub beta_vae: f64,
    /// β_nonneg of the hinge (Table 1: 100).
    #[serde(default = "hundred")]
    pub beta_nonneg: f64,
    /// β_weight on the decoder's dense weights (Table 1: 0.01 → 1.0).
    #[serde(default)]
    pub beta_weight: f64,
}

fn default_latent() -> usize {
    10
}
fn one() -> f64 {
    1.0
}
fn hundred() -> f64 {
    100.0
}

impl Default for VaeSpec {
    fn default() -> Self {
        VaeSpec {
            latent: 10,
            nonneg: Nonneg::Relu,
            beta_vae: 1.0,
            beta_nonneg: 100.0,
            beta_weight: 0.0,
        }
    }
}

impl VaeSpec {
    /// Checks the values; a [`VaeError::Invalid`] names the `vae.` key.
    pub fn validate(&self) -> Result<(), VaeError> {
        if self.latent < 2 {
            return Err(VaeError::invalid(
                "vae",
                "latent",
                self.latent,
                "at least 2 (MIG needs two latents)",
            ));
        }
        for (k, v) in [
            ("beta_vae", self.beta_vae),
            ("beta_nonneg", self.beta_nonneg),
            ("beta_weight", self.beta_weight),
        ] {
            if !(v.is_finite() && v >= 0.0) {
                return Err(VaeError::invalid("vae", k, v, "a finite number ≥ 0"));
            }
        }
        Ok(())
    }

    pub fn weights(&self) -> LossWeights {
        LossWeights {
            nonneg: self.nonneg,
            beta_vae: self.beta_vae,
            beta_nonneg: self.beta_nonneg,
            beta_weight: self.beta_weight,
        }
    }
}

/// Mean loss terms over a logging window.
#[derive(Debug, Clone, Copy, Default, Serialize, Deserialize)]
pub struct VaeLoss {
    pub total: f64,
    pub rec: f64,
    pub kl: f64,
    pub nonneg: f64,
    pub weight: f64,
}

/// A VAE, its optimiser and its random streams.
pub struct VaeTrainer {
    engine: Engine,
    pub spec: VaeSpec,
    pub train: VaeTrain,
    factor_rng: ChaCha8Rng,
    eps_rng: ChaCha8Rng,
    pub step: u64,
}

/// The model and optimiser state of one engine (one per trainer: the size difference of the
/// variants does not matter).
#[allow(clippy::large_enum_variant)]
enum Engine {
    /// The native CPU engine and Adam over its flat parameter vector.
    Native {
        net: Box<native::NativeVae<f32>>,
        adam: biodis_nn::Adam<f32>,
    },
    /// A burn model (flex or wgpu) and Adam's moments per parameter, on the plain device.
    Burn {
        /// Always `Some` between steps (taken while the optimiser consumes it).
        model: Option<ConvVae>,
        adam_m: Vec<Tensor<1>>,
        adam_v: Vec<Tensor<1>>,
        device: Device,
    },
}

/// Build a `[n, C, 64, 64]` tensor from concatenated images.
fn image_tensor(pixels: Vec<f32>, n: usize, channels: usize, device: &Device) -> Tensor<4> {
    Tensor::from_data(
        TensorData::new(pixels, [n, channels, IMAGE_SIDE, IMAGE_SIDE]),
        device,
    )
}

impl VaeTrainer {
    /// A fresh trainer for `data` (its channel count sets the model's), seeded by `seed`.
    /// Every engine starts from the same weights ([`ConvVae::new_seeded`]).
    pub fn new(
        spec: VaeSpec,
        train: VaeTrain,
        channels: usize,
        seed: u64,
    ) -> Result<VaeTrainer, VaeError> {
        spec.validate()?;
        train.validate()?;
        let engine = match train.device.device()? {
            None => {
                let mut init = ConvVae::new_seeded(channels, spec.latent, &Device::flex(), seed);
                let mut net = native::NativeVae::<f32>::new(channels, spec.latent);
                net.threads = train.threads;
                net.set_params(&init.get_params())?;
                let adam = biodis_nn::Adam::new(net.params.len());
                Engine::Native {
                    net: Box::new(net),
                    adam,
                }
            }
            Some(plain) => {
                let device = plain.autodiff();
                let mut model = ConvVae::new_seeded(channels, spec.latent, &device, seed);
                let plain = device.clone().inner();
                let sizes: Vec<usize> = model.get_params().iter().map(Vec::len).collect();
                let adam_m: Vec<Tensor<1>> =
                    sizes.iter().map(|&n| Tensor::zeros([n], &plain)).collect();
                let adam_v = adam_m.clone();
                Engine::Burn {
                    model: Some(model),
                    adam_m,
                    adam_v,
                    device,
                }
            }
        };
        let factor_rng = streams::vae::FACTORS.rng(seed);
        let eps_rng = streams::vae::EPS.rng(seed);
        Ok(VaeTrainer {
            engine,
            spec,
            train,
            factor_rng,
            eps_rng,
            step: 0,
        })
    }

    /// A copy of the model for evaluation (no gradients).
    pub fn eval_model(&self) -> EvalModel {
        match &self.engine {
            Engine::Native { net, .. } => {
                let mut m = native::NativeVae::<f32>::new(net.channels, net.latent);
                m.params.clone_from(&net.params);
                EvalModel::Native(Box::new(m))
            }
            Engine::Burn { model, device, .. } => EvalModel::Burn(
                model.as_ref().expect("model present between steps").valid(),
                device.clone().inner(),
            ),
        }
    }

    /// One Adam step on a fresh batch; returns its loss terms (before the update).
    pub fn step(&mut self, data: &dyn ImageData) -> Result<VaeLoss, VaeError> {
        let b = self.train.batch;
        let factors = sample_factors(&data.factor_sizes(), b, &mut self.factor_rng);
        let pixels = images(data, &factors);
        let l = self.spec.latent;
        let eps: Vec<f32> = (0..b * l)
            .map(|_| StandardNormal.sample(&mut self.eps_rng))
            .collect();
        self.step_on(pixels, eps, data.channels())
    }

    /// Replace the model's parameters (the 24 arrays of [`ConvVae::set_params`]).
    pub fn set_params(&mut self, flat: &[Vec<f32>]) -> Result<(), VaeError> {
        match &mut self.engine {
            Engine::Native { net, .. } => net.set_params(flat),
            Engine::Burn { model, device, .. } => {
                let mut m = model.take().expect("model present between steps");
                let r = m.set_params(flat, device);
                *model = Some(m);
                r
            }
        }
    }

    /// One Adam step on the given batch (`pixels`: `B × C × 64 × 64`, `eps`: `B × latent`).
    /// A batch that does not fit the model is an error naming the array (the model is not
    /// moved).
    pub fn step_on(
        &mut self,
        pixels: Vec<f32>,
        eps: Vec<f32>,
        channels: usize,
    ) -> Result<VaeLoss, VaeError> {
        let l = self.spec.latent;
        let b = eps.len() / l;
        let per = channels * IMAGE_SIDE * IMAGE_SIDE;
        if b == 0 || eps.len() != b * l || pixels.len() != b * per {
            return Err(VaeError::BatchShape {
                what: "images and eps",
                got: pixels.len(),
                expected: format!(
                    "{} image values for {} eps values ({l} latents, {channels} channels)",
                    b * per,
                    eps.len()
                ),
            });
        }
        let lr = self.train.lr;
        match &mut self.engine {
            Engine::Native { net, adam } => {
                if net.channels != channels {
                    return Err(VaeError::BatchShape {
                        what: "images",
                        got: channels,
                        expected: format!("{} channels (the model's)", net.channels),
                    });
                }
                let t = net.loss_and_grad(&pixels, &eps, &self.spec.weights())?;
                self.step += 1;
                let net = &mut **net;
                adam.step(&mut net.params, &net.grads, lr);
                Ok(VaeLoss {
                    total: t.total,
                    rec: t.rec,
                    kl: t.kl,
                    nonneg: t.nonneg,
                    weight: t.weight,
                })
            }
            Engine::Burn {
                model: slot,
                adam_m,
                adam_v,
                device,
            } => {
                let x = image_tensor(pixels, b, channels, device);
                let eps = Tensor::<2>::from_data(TensorData::new(eps, [b, l]), &*device);
                let mut model = slot.take().expect("model present between steps");
                let t = model.loss(x, eps, &self.spec.weights());
                let grads = t.total.backward();
                self.step += 1;
                let hp = AdamStep::new(lr, self.step);
                for (k, p) in model.params_mut().into_iter().enumerate() {
                    let (m, v) = (&mut adam_m[k], &mut adam_v[k]);
                    match p {
                        model::ParamSlot::D4(p) => adam_update(p, &grads, m, v, &hp),
                        model::ParamSlot::D2(p) => adam_update(p, &grads, m, v, &hp),
                        model::ParamSlot::D1(p) => adam_update(p, &grads, m, v, &hp),
                    }
                }
                *slot = Some(model);
                let s = |t: Tensor<1>| t.into_scalar::<f32>() as f64;
                Ok(VaeLoss {
                    total: s(t.total),
                    rec: s(t.rec),
                    kl: s(t.kl),
                    nonneg: s(t.nonneg),
                    weight: s(t.weight),
                })
            }
        }
    }
}

/// A trained model for evaluation: encode to the scored means, decode to pixel probabilities.
#[allow(clippy::large_enum_variant)]
pub enum EvalModel {
    Native(Box<native::NativeVae<f32>>),
    Burn(ConvVae, Device),
}

impl EvalModel {
    /// Latent dimension.
    pub fn latent(&self) -> usize {
        match self {
            EvalModel::Native(n) => n.latent,
            EvalModel::Burn(m, _) => m.latent(),
        }
    }

    /// The scored posterior means `[n, latent]` of `n` images (`[n, C, 64, 64]`).
    pub fn means(
        &mut self,
        pixels: Vec<f32>,
        n: usize,
        channels: usize,
        nonneg: Nonneg,
    ) -> Result<Vec<f32>, VaeError> {
        match self {
            EvalModel::Native(net) => net.mean(&pixels, nonneg),
            EvalModel::Burn(m, device) => {
                let x = image_tensor(pixels, n, channels, device);
                Ok(m.mean(x, nonneg)
                    .into_data()
                    .try_to_vec::<f32>()
                    .unwrap_or_default())
            }
        }
    }

    /// Pixel probabilities `σ(logits)` `[n, C, 64, 64]` of latents `z` (`[n, latent]`).
    pub fn probs(&mut self, z: Vec<f32>) -> Result<Vec<f32>, VaeError> {
        match self {
            EvalModel::Native(net) => {
                let mut out = net.decode(&z)?;
                for v in &mut out {
                    *v = 1.0 / (1.0 + (-*v).exp());
                }
                Ok(out)
            }
            EvalModel::Burn(m, device) => {
                let l = m.latent();
                let n = z.len() / l;
                let zt = Tensor::<2>::from_data(TensorData::new(z, [n, l]), &*device);
                Ok(sigmoid(m.decode(zt))
                    .into_data()
                    .try_to_vec::<f32>()
                    .unwrap_or_default())
            }
        }
    }
}

/// Adam's constants of one step (PyTorch's form: β = 0.9/0.999, ε = 1e-8 added to √v̂).
struct AdamStep {
    lr: f64,
    c1: f64,
    c2: f64,
}

impl AdamStep {
    fn new(lr: f64, t: u64) -> AdamStep {
        AdamStep {
            lr,
            c1: 1.0 - 0.9f64.powi(t as i32),
            c2: 1.0 - 0.999f64.powi(t as i32),
        }
    }
}

/// One Adam update of one parameter: m ← 0.9 m + 0.1 g, v ← 0.999 v + 0.001 g²,
/// p ← p − lr · (m / c1) / (√(v / c2) + 1e-8). A parameter without a gradient is left as is.
fn adam_update<const D: usize>(
    p: &mut Param<Tensor<D>>,
    grads: &Gradients,
    m: &mut Tensor<1>,
    v: &mut Tensor<1>,
    hp: &AdamStep,
) {
    let val = p.val();
    let Some(g) = val.grad(grads) else { return };
    let shape = g.dims();
    let n: usize = shape.iter().product();
    let g = g.reshape([n]);
    *m = m.clone().mul_scalar(0.9) + g.clone().mul_scalar(0.1);
    *v = v.clone().mul_scalar(0.999) + g.powi_scalar(2).mul_scalar(0.001);
    let upd = m
        .clone()
        .div_scalar(hp.c1)
        .div(v.clone().div_scalar(hp.c2).sqrt().add_scalar(1e-8))
        .mul_scalar(hp.lr);
    let new = val.inner() - upd.reshape(shape);
    *p = Param::from_tensor(Tensor::from_inner(new).require_grad());
}

/// Everything a VAE run needs to continue exactly: parameters, Adam moments, step, and the
/// positions of the factor and ε streams.
pub struct VaeState {
    pub params: Vec<Vec<f32>>,
    pub adam_m: Vec<Vec<f32>>,
    pub adam_v: Vec<Vec<f32>>,
    pub step: u64,
    pub factor_rng: u128,
    pub eps_rng: u128,
}

impl VaeTrainer {
    /// The trainer's state (for a checkpoint). Every engine writes the same layout, so a
    /// checkpoint of one resumes on another.
    pub fn state(&mut self) -> VaeState {
        let (params, adam_m, adam_v) = match &mut self.engine {
            Engine::Native { net, adam } => {
                (net.get_params(), net.split(&adam.m), net.split(&adam.v))
            }
            Engine::Burn {
                model,
                adam_m,
                adam_v,
                ..
            } => {
                let mut m = model.take().expect("model present between steps");
                let params = m.get_params();
                *model = Some(m);
                (
                    params,
                    adam_m.iter().map(|t| model::flat(t.clone())).collect(),
                    adam_v.iter().map(|t| model::flat(t.clone())).collect(),
                )
            }
        };
        VaeState {
            params,
            adam_m,
            adam_v,
            step: self.step,
            factor_rng: self.factor_rng.get_word_pos(),
            eps_rng: self.eps_rng.get_word_pos(),
        }
    }

    /// Continue from a saved state. Errors name the array whose length is wrong.
    pub fn restore(&mut self, s: &VaeState) -> Result<(), VaeError> {
        let sizes: Vec<usize> = s.params.iter().map(Vec::len).collect();
        if s.adam_m.len() != sizes.len() || s.adam_v.len() != sizes.len() {
            return Err(VaeError::MomentCount {
                got: s.adam_m.len(),
                expected: sizes.len(),
            });
        }
        for (k, (m, v)) in s.adam_m.iter().zip(&s.adam_v).enumerate() {
            if m.len() != sizes[k] || v.len() != sizes[k] {
                return Err(VaeError::MomentLength {
                    index: k,
                    expected: sizes[k],
                });
            }
        }
        // (validated first: a refused state leaves the trainer as it was; the parameters'
        // lengths are checked against the model here)
        self.set_params(&s.params)?;
        match &mut self.engine {
            Engine::Native { adam, .. } => {
                adam.m = s.adam_m.concat();
                adam.v = s.adam_v.concat();
                adam.t = s.step;
            }
            Engine::Burn {
                adam_m,
                adam_v,
                device,
                ..
            } => {
                let plain = device.clone().inner();
                for (k, (m, v)) in s.adam_m.iter().zip(&s.adam_v).enumerate() {
                    let n = sizes[k];
                    adam_m[k] = Tensor::from_data(TensorData::new(m.clone(), [n]), &plain);
                    adam_v[k] = Tensor::from_data(TensorData::new(v.clone(), [n]), &plain);
                }
            }
        }
        self.step = s.step;
        self.factor_rng.set_word_pos(s.factor_rng);
        self.eps_rng.set_word_pos(s.eps_rng);
        Ok(())
    }
}

/// Evaluation of a trained VAE.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct VaeEval {
    /// MIG (dlib protocol).
    pub mig: f64,
    /// Per-factor normalised gaps.
    pub mig_gaps: Vec<f64>,
    /// Reconstruction R² of images decoded from the mean.
    pub r2: f64,
    /// Latents whose mean varies (std > 0.01 over the MIG sample).
    pub active_latents: usize,
    /// MI matrix `[latent, factor]` in nats.
    pub mi: Vec<Vec<f64>>,
    /// Factor entropies (nats).
    pub factor_entropy: Vec<f64>,
}

/// Encode `factors`' images in chunks; returns the scored means `[n, latent]`.
pub fn encode_means(
    model: &mut EvalModel,
    nonneg: Nonneg,
    data: &dyn ImageData,
    factors: &[Vec<usize>],
) -> Result<Array2<f64>, VaeError> {
    let l = model.latent();
    let mut out = Array2::zeros((factors.len(), l));
    let chunk = 256;
    for (c, fs) in factors.chunks(chunk).enumerate() {
        let mu = model.means(images(data, fs), fs.len(), data.channels(), nonneg)?;
        for (i, row) in mu.chunks(l).enumerate() {
            for (j, v) in row.iter().enumerate() {
                out[[c * chunk + i, j]] = *v as f64;
            }
        }
    }
    Ok(out)
}

/// MIG, MI matrix and R² of the trainer's model on fresh samples of `data` (seeded by `seed`).
/// Also returns the MIG sample's codes `[n, latent]` and factor classes `[n, factors]`.
pub fn evaluate(
    t: &VaeTrainer,
    data: &dyn ImageData,
    seed: u64,
) -> Result<(VaeEval, Array2<f64>, Array2<f64>), VaeError> {
    let mut model = t.eval_model();
    let mut rng = streams::vae::EVAL.rng(seed);
    let sizes = data.factor_sizes();
    let factors = sample_factors(&sizes, t.train.mig_samples, &mut rng);
    let codes = encode_means(&mut model, t.spec.nonneg, data, &factors)?;
    if codes.iter().any(|v| !v.is_finite()) {
        return Err(VaeError::Diverged);
    }
    // Factors with one class carry no information: leave them out (as dlib's dsprites_full
    // leaves out colour).
    let keep: Vec<usize> = (0..sizes.len()).filter(|&k| sizes[k] > 1).collect();
    let fac = Array2::from_shape_fn((factors.len(), keep.len()), |(i, k)| {
        factors[i][keep[k]] as f64
    });
    let bins = 20;
    let mig = biodis_metrics::discrete::mig(
        codes.view(),
        fac.view(),
        biodis_metrics::labels::FactorKind::Discrete,
        bins,
    )?;
    let labels = biodis_metrics::labels::column_labels(
        fac.view(),
        biodis_metrics::labels::FactorKind::Discrete,
        bins,
    );
    let (mi, h) = biodis_metrics::discrete::mi_matrix(codes.view(), &labels, bins);
    let active_latents = (0..codes.ncols())
        .filter(|&j| {
            let c = codes.column(j);
            let m = c.mean().unwrap_or(0.0);
            (c.iter().map(|v| (v - m).powi(2)).sum::<f64>() / c.len() as f64).sqrt() > 0.01
        })
        .count();
    // Reconstruction R² from the posterior mean.
    let rf = sample_factors(&sizes, t.train.r2_samples, &mut rng);
    let len = data.image_len();
    let mut xs: Vec<f32> = Vec::with_capacity(rf.len() * len);
    let mut recs: Vec<f32> = Vec::with_capacity(rf.len() * len);
    for fs in rf.chunks(256) {
        let px = images(data, fs);
        let mu = model.means(px.clone(), fs.len(), data.channels(), t.spec.nonneg)?;
        let r = model.probs(mu)?;
        xs.extend(px);
        recs.extend(r);
    }
    let n = rf.len();
    let mut mean = vec![0.0f64; len];
    for img in xs.chunks(len) {
        for (m, v) in mean.iter_mut().zip(img) {
            *m += *v as f64 / n as f64;
        }
    }
    let (mut ss_res, mut ss_tot) = (0.0f64, 0.0f64);
    for (img, rec) in xs.chunks(len).zip(recs.chunks(len)) {
        for p in 0..len {
            ss_res += (img[p] as f64 - rec[p] as f64).powi(2);
            ss_tot += (img[p] as f64 - mean[p]).powi(2);
        }
    }
    let r2 = if ss_tot > 0.0 {
        1.0 - ss_res / ss_tot
    } else {
        f64::NAN
    };
    let mig_gaps = (0..keep.len())
        .map(|k| {
            mig.parts
                .get(&format!("gap_factor{k}"))
                .copied()
                .unwrap_or(f64::NAN)
        })
        .collect();
    let all_factors =
        Array2::from_shape_fn((factors.len(), sizes.len()), |(i, k)| factors[i][k] as f64);
    Ok((
        VaeEval {
            mig: mig.value,
            mig_gaps,
            r2,
            active_latents,
            mi: mi.outer_iter().map(|r| r.to_vec()).collect(),
            factor_entropy: h,
        },
        codes,
        all_factors,
    ))
}

/// Latent traversals (Fig. 12): encode the image of `factors`, then for every latent set it to
/// `steps` values evenly spaced over `[lo_j, hi_j]` (the 2nd–98th percentile of that latent's
/// means over `codes`) and decode. Returns images `[latent][step]` (each `C × 64 × 64` in
/// [0, 1]).
pub fn traversals(
    t: &VaeTrainer,
    data: &dyn ImageData,
    factors: &[usize],
    codes: &Array2<f64>,
    steps: usize,
) -> Result<Vec<Vec<Vec<f32>>>, VaeError> {
    let mut model = t.eval_model();
    let mu = model.means(
        images(data, &[factors.to_vec()]),
        1,
        data.channels(),
        t.spec.nonneg,
    )?;
    let l = mu.len();
    let len = data.image_len();
    (0..l)
        .map(|j| {
            let mut col: Vec<f64> = codes.column(j).to_vec();
            col.sort_by(f64::total_cmp);
            let q = |p: f64| col[((col.len() - 1) as f64 * p).round() as usize];
            let (lo, hi) = (q(0.02), q(0.98));
            let mut z = Vec::with_capacity(steps * l);
            for s in 0..steps {
                let mut row = mu.clone();
                row[j] = (lo + (hi - lo) * s as f64 / (steps.max(2) - 1) as f64) as f32;
                z.extend(row);
            }
            let out = model.probs(z)?;
            Ok(out.chunks(len).map(|c| c.to_vec()).collect())
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use biodis_data::images::dsprites::DSprites;

    fn small_train(steps: u64) -> VaeTrain {
        VaeTrain {
            steps,
            batch: 8,
            lr: 1e-3,
            log_every: 1,
            eval_every: 0,
            mig_samples: 200,
            r2_samples: 16,
            checkpoint_every: 1000,
            device: Backend::Cpu,
            threads: 1,
        }
    }

    #[test]
    fn training_lowers_the_loss_and_is_seeded() {
        let data = DSprites::default();
        let spec = VaeSpec {
            beta_weight: 0.01,
            ..VaeSpec::default()
        };
        let mut t = VaeTrainer::new(spec.clone(), small_train(12), 1, 3).unwrap();
        let first = t.step(&data).unwrap();
        let mut last = first;
        for _ in 0..11 {
            last = t.step(&data).unwrap();
        }
        assert!(first.total.is_finite() && last.total.is_finite());
        assert!(last.rec < first.rec, "{first:?} → {last:?}");
        assert!(last.weight > 0.0);
        let (e, _, _) = evaluate(&t, &data, 1).unwrap();
        assert!((0.0..=1.0).contains(&e.mig), "{e:?}");
        assert_eq!(e.mi.len(), 10);
        assert_eq!(e.mi[0].len(), 5);
        let mut m = t.eval_model();
        let extremes = [vec![0, 0, 0, 0, 0], vec![2, 5, 39, 31, 31]];
        let codes = encode_means(&mut m, spec.nonneg, &data, &extremes).unwrap();
        let tr = traversals(&t, &data, &[0, 3, 0, 10, 10], &codes, 4).unwrap();
        assert_eq!(tr.len(), 10);
        assert_eq!(tr[0].len(), 4);
        assert_eq!(tr[0][0].len(), 4096);
        // Same seed → same first loss.
        let mut u = VaeTrainer::new(spec.clone(), small_train(1), 1, 3).unwrap();
        let again = u.step(&data).unwrap();
        assert_eq!(again.total, first.total);
        // Save after 1 step, restore into a fresh trainer: the next steps are identical.
        let st = u.state();
        let mut w = VaeTrainer::new(spec, small_train(1), 1, 3).unwrap(); // the streams need the run seed
        w.restore(&st).unwrap();
        for _ in 0..3 {
            let a = u.step(&data).unwrap();
            let b = w.step(&data).unwrap();
            assert_eq!(a.total, b.total);
        }
        let mut bad = w.state();
        bad.adam_m[3].pop();
        let e = w.restore(&bad).unwrap_err();
        assert!(matches!(e, VaeError::MomentLength { index: 3, .. }), "{e}");
        assert!(e.to_string().contains("parameter 3"));
    }

    /// The native engine and burn's flex backend start from the same weights and streams and
    /// take the same steps (to float rounding); a checkpoint of one resumes on the other.
    #[test]
    fn engines_agree_and_share_checkpoints() {
        let data = DSprites::default();
        let spec = VaeSpec {
            beta_weight: 0.1,
            ..VaeSpec::default()
        };
        let mut tr = small_train(4);
        let mut native = VaeTrainer::new(spec.clone(), tr.clone(), 1, 5).unwrap();
        tr.device = Backend::BurnCpu;
        let mut burn = VaeTrainer::new(spec.clone(), tr.clone(), 1, 5).unwrap();
        for k in 0..4 {
            let (a, b) = (native.step(&data).unwrap(), burn.step(&data).unwrap());
            let tol = if k == 0 { 1e-5 } else { 1e-4 };
            assert!(
                ((a.total - b.total) / b.total).abs() < tol,
                "step {k}: native {a:?} vs burn {b:?}"
            );
        }
        // A checkpoint of each engine resumed on the other. A step's loss is computed before
        // its update, so the second step after the restore is the first to see the restored
        // Adam moments and step count; it is compared with the original's, and with a restore
        // whose moments were zeroed (which must differ).
        for (from, to) in [
            (Backend::Cpu, Backend::BurnCpu),
            (Backend::BurnCpu, Backend::Cpu),
        ] {
            let (mut fa, mut ta) = (tr.clone(), tr.clone());
            fa.device = from;
            ta.device = to;
            let mut src = VaeTrainer::new(spec.clone(), fa, 1, 5).unwrap();
            for _ in 0..3 {
                src.step(&data).unwrap();
            }
            let st = src.state();
            let mut dst = VaeTrainer::new(spec.clone(), ta.clone(), 1, 5).unwrap();
            dst.restore(&st).unwrap();
            let mut zeroed = VaeTrainer::new(spec.clone(), ta, 1, 5).unwrap();
            let mut st0 = src.state();
            for m in st0.adam_m.iter_mut().chain(st0.adam_v.iter_mut()) {
                m.iter_mut().for_each(|v| *v = 0.0);
            }
            zeroed.restore(&st0).unwrap();
            let mut last = (0.0, 0.0, 0.0);
            for _ in 0..2 {
                last = (
                    src.step(&data).unwrap().total,
                    dst.step(&data).unwrap().total,
                    zeroed.step(&data).unwrap().total,
                );
            }
            let (a, b, z) = last;
            assert!(((a - b) / a).abs() < 1e-5, "{from:?} → {to:?}: {a} vs {b}");
            assert!(
                ((a - z) / a).abs() > 10.0 * ((a - b) / a).abs(),
                "{from:?} → {to:?}: zeroed moments {z} as close as the restored {b} to {a}"
            );
        }
        let st = native.state();
        let mut resumed = VaeTrainer::new(spec, tr, 1, 5).unwrap();
        resumed.restore(&st).unwrap();
        let (ea, _, _) = evaluate(&native, &data, 2).unwrap();
        let (eb, _, _) = evaluate(&resumed, &data, 2).unwrap();
        assert!((ea.r2 - eb.r2).abs() < 1e-3, "{} vs {}", ea.r2, eb.r2);
    }

    /// The GPU backend (burn wgpu) trains 10 steps from the same weights and batches as the
    /// native CPU engine, to a stated tolerance: the first step's loss to 1e-4 relative (f32
    /// sums in another order), every later one to 1e-3. Needs a build with `--features gpu` and a
    /// Vulkan driver (Mesa's lavapipe runs it on a CPU): `scripts/check-gpu.sh`.
    #[cfg(feature = "gpu")]
    #[test]
    #[ignore = "needs a Vulkan driver; run by scripts/check-gpu.sh"]
    fn gpu_backend_matches_the_cpu_engine() {
        let data = DSprites::default();
        let spec = VaeSpec {
            beta_weight: 0.1,
            ..VaeSpec::default()
        };
        let mut tr = small_train(10);
        let mut cpu = VaeTrainer::new(spec.clone(), tr.clone(), 1, 7).unwrap();
        tr.device = Backend::Gpu;
        let mut gpu = VaeTrainer::new(spec, tr, 1, 7).unwrap();
        for k in 0..10 {
            let (a, b) = (cpu.step(&data).unwrap(), gpu.step(&data).unwrap());
            let rel = ((a.total - b.total) / a.total).abs();
            eprintln!("step {k}: cpu {} gpu {} (rel {rel:.2e})", a.total, b.total);
            let tol = if k == 0 { 1e-4 } else { 1e-3 };
            assert!(rel < tol, "step {k}: cpu {a:?} vs gpu {b:?}");
        }
        let (ea, _, _) = evaluate(&cpu, &data, 3).unwrap();
        let (eb, _, _) = evaluate(&gpu, &data, 3).unwrap();
        eprintln!(
            "R² cpu {} gpu {}; MIG cpu {} gpu {}",
            ea.r2, eb.r2, ea.mig, eb.mig
        );
        assert!((ea.r2 - eb.r2).abs() < 1e-2, "{} vs {}", ea.r2, eb.r2);
    }

    #[test]
    fn bad_settings_are_named() {
        let mut tr = small_train(1);
        tr.batch = 0;
        let err = VaeTrainer::new(VaeSpec::default(), tr, 1, 0)
            .err()
            .unwrap()
            .to_string();
        assert_eq!(err, "train.batch = 0: expected at least 1");
        let spec = VaeSpec {
            beta_weight: -1.0,
            ..VaeSpec::default()
        };
        let err = VaeTrainer::new(spec, small_train(1), 1, 0)
            .err()
            .unwrap()
            .to_string();
        assert_eq!(err, "vae.beta_weight = -1: expected a finite number ≥ 0");
        let mut tr = small_train(1);
        tr.log_every = 10;
        tr.eval_every = 25;
        let err = VaeTrainer::new(VaeSpec::default(), tr, 1, 0)
            .err()
            .unwrap()
            .to_string();
        assert!(
            err.starts_with("train.eval_every = 25: expected a multiple of train.log_every"),
            "{err}"
        );
        #[cfg(not(feature = "gpu"))]
        {
            let mut tr = small_train(1);
            tr.device = Backend::Gpu;
            let err = VaeTrainer::new(VaeSpec::default(), tr, 1, 0)
                .err()
                .unwrap()
                .to_string();
            assert!(err.starts_with("train.device = \"gpu\" needs"), "{err}");
        }
    }
}
