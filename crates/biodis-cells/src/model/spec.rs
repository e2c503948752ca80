//! The `[cells]` table of a grid-world recipe: [`CellsSpec`], its enums, defaults and checks.

use serde::{Deserialize, Serialize};

/// The activation `f` of the structural loss.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CellActivation {
    Relu,
    Linear,
}

/// How `z` is initialised before inference in each world.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ZInit {
    /// A learned per-location `z0`, shared across worlds (Gao et al.'s lookup table).
    Learned,
    /// `z = 0` everywhere.
    Zeros,
    /// Fresh `|N(0, init_scale²)|` noise per world (no location information).
    Random,
    /// One `|N(0, init_scale²)|` draw per location at initialisation, shared by all worlds and
    /// never learned (a fixed random start; the `z0` block holds it).
    FixedRandom,
}

/// How the weight step treats the inferred `z`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum WeightStep {
    FixedZ,
    Unrolled,
}

/// The kind of norm constraint of `z_norm`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum NormMode {
    Sphere,
    Floor,
}

/// How the transitions `W_a` are initialised (App. A.9 does not say).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TransInit {
    /// `N(0, s²/n_c)` (variance-preserving at `s = 1`; today's default).
    Random,
    /// `I + N(0, s²/n_c)`: starts as "no motion", selecting smooth long-wavelength patterns
    /// (Gao et al. 2021 start `M = I + BΔr + …` with `B` at s.d. 0.001).
    Identity,
    /// A random orthogonal matrix (QR of a Gaussian matrix, signs fixed by `R`'s diagonal),
    /// norm-preserving (`kylehkhsu/modular`'s grid-warp notebook); `s` is unused.
    Orthogonal,
}

/// The location target of the location loss (eq. 49 uses a one-hot target).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LocationTarget {
    /// One-hot on the true location (eq. 49, the paper).
    OneHot,
    /// `y_x(j) ∝ exp(−d(x, j)² / 2σ²)` (Euclidean lattice distance in bins, on the torus when
    /// periodic): a place-cell-like target with a spatial scale (Gao et al. 2021's Gaussian
    /// kernel). A departure from A.9.
    Gaussian,
    /// Difference of Gaussians (Sorscher et al. 2019/2023): `g_σ − g_{kσ}`, each normalised to
    /// sum 1 over locations, then shifted to a minimum of 0 and renormalised to sum 1
    /// (`k = location_surround`). A departure from A.9.
    Dog,
    /// The same difference of Gaussians **without** the shift, scaled so each row's centre is
    /// 1: `(g_σ − g_{kσ}) / (g_σ − g_{kσ})(x, x)`, a zero-sum row with a negative surround —
    /// the place-cell tuning of Sorscher et al.'s linear theory, whose power spectrum is 0 at
    /// `k = 0` and peaks on a ring (real contrast; the shifted `dog` is nearly uniform at small
    /// σ). Not a distribution, so it needs `location_loss = "squared_error"`. A departure.
    DogUnshifted,
}

/// The loss of the location readout `W_l z(x)` against the location target.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LocationLoss {
    /// Softmax cross-entropy `−Σ_j y_j ln softmax(W_l z(x))_j` (eq. 49).
    CrossEntropy,
    /// Squared error `Σ_j ((W_l z(x))_j − y_j)²` of the linear readout (Sorscher et al.
    /// 2019/2023: place-cell activity read out linearly from the grid code). A departure.
    SquaredError,
}

/// The model and inference settings (the `[cells]` table of a grid-world recipe). The paper's
/// values are the defaults; keys the paper leaves open are marked.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CellsSpec {
    /// Number of cells `n_c` (not given in the paper).
    #[serde(default = "d_nc")]
    pub n_cells: usize,
    /// `f` in the structural loss: `relu` (the nonnegative model) or `linear`.
    #[serde(default = "d_act")]
    pub activation: CellActivation,
    /// Clamp `z ≥ 0` after every Euler step (not given; on for the ReLU model).
    #[serde(default = "d_true")]
    pub nonneg_projection: bool,
    /// Initial `z` of inference (not given; see the module docs and the README for evidence).
    #[serde(default = "d_init")]
    pub z_init: ZInit,
    /// Scale of the initial `z0` / random init and of the readout weights' N(0, s²/n_c) init.
    #[serde(default = "d_scale")]
    pub init_scale: f64,
    /// Euler steps of inference per world (not given).
    #[serde(default = "d_steps")]
    pub euler_steps: usize,
    /// Euler step size of the path-integration update (paper: 0.1).
    #[serde(default = "d_pi_step")]
    pub pi_step: f64,
    /// Euler step size of the object update (paper: 1).
    #[serde(default = "d_obj_step")]
    pub object_step: f64,
    /// Per-location norm clip of the Euler update; 0 = none (threshold not given).
    #[serde(default = "d_clip")]
    pub clip_norm: f64,
    /// Biases on the object and action readouts (the paper's equations have none).
    #[serde(default)]
    pub readout_bias: bool,
    /// Also put the weight energy on the transitions `W_a`.
    #[serde(default)]
    pub weight_on_transitions: bool,
    /// Norm constraint on the code: when > 0, every location's `z(x)` is projected onto the
    /// sphere `‖z(x)‖₂ = z_norm` on the start of inference and after every Euler step (after
    /// the nonnegative clamp; an all-zero row is left at 0). 0 = off (today's behaviour; the
    /// paper has no norm constraint). Gao et al. renormalise block-wise after every step.
    #[serde(default)]
    pub z_norm: f64,
    /// How `z_norm` constrains: `sphere` (`‖z(x)‖ = z_norm`; the activity energy is then a
    /// constant) or `floor` (`‖z(x)‖ ≥ z_norm`: rows below are scaled up, rows above left
    /// alone, so the activity energy still acts above the floor).
    #[serde(default = "d_norm_mode")]
    pub z_norm_mode: NormMode,
    /// Initialisation of the transitions `W_a`.
    #[serde(default = "d_trans_init")]
    pub trans_init: TransInit,
    /// The noise scale `s` of `trans_init` (see [`TransInit`]).
    #[serde(default = "d_one")]
    pub trans_init_scale: f64,
    /// Activity energy during inference, a departure from A.9 (whose Euler steps descend only
    /// the object and path-integration terms, eqs. 54–55, so that the energy on activity acts
    /// only on the weights and the learned start): each Euler step also descends
    /// `½ · infer_activity · Σ_x ‖z(x)‖²`, on the step's own scale (unscaled, like its PI term
    /// [`crate::CellModel::pi_grad`]; the update is `−pi_step · (g_PI + infer_activity · z + …)`).
    /// The pressure on the code *while the pattern forms* that pattern-formation models of grid
    /// cells have and A.9 lacks. 0 = A.9.
    #[serde(default)]
    pub infer_activity: f64,
    /// L1 sparsity during inference, a departure from A.9 like `infer_activity`: each Euler step
    /// also descends `infer_sparsity · Σ |z|` (subgradient `sign(z)`, 0 at 0). With a ReLU code
    /// it lowers the fraction of locations where a cell is active, which in pattern-formation
    /// theory favours spots (a hexagonal lattice) over stripes. 0 = A.9.
    #[serde(default)]
    pub infer_sparsity: f64,
    /// Stop inference early once the mean per-location update norm `mean_x ‖Δz(x)‖` falls
    /// below this tolerance; `euler_steps` stays the cap. 0 = always take `euler_steps`.
    #[serde(default)]
    pub infer_tol: f64,
    /// The weight step: `fixed_z` (the loss at the inferred `z`, held fixed; `z0` gets a
    /// straight-through gradient) or `unrolled` (exact gradients through the Euler steps of
    /// inference; [`crate::unroll`]).
    #[serde(default = "d_weight_step")]
    pub weight_step: WeightStep,
    /// Target of the location loss.
    #[serde(default = "d_loc_target")]
    pub location_target: LocationTarget,
    /// The location loss: `cross_entropy` (eq. 49) or `squared_error` (a departure).
    #[serde(default = "d_loc_loss")]
    pub location_loss: LocationLoss,
    /// σ of the Gaussian / DoG location target, in bins.
    #[serde(default = "d_one")]
    pub location_sigma: f64,
    /// Surround-to-centre width ratio `k` of the DoG target (Sorscher et al.: 2).
    #[serde(default = "d_two")]
    pub location_surround: f64,
    #[serde(default = "d_bnn")]
    pub beta_nonneg: f64,
    #[serde(default = "d_bw")]
    pub beta_weight: f64,
    #[serde(default = "d_bact")]
    pub beta_activity: f64,
    #[serde(default = "d_bloc")]
    pub beta_location: f64,
    #[serde(default = "d_bobj")]
    pub beta_object: f64,
    #[serde(default = "d_baction")]
    pub beta_action: f64,
    #[serde(default = "d_bpi")]
    pub beta_pi: f64,
}

fn d_nc() -> usize {
    64
}
fn d_act() -> CellActivation {
    CellActivation::Relu
}
fn d_true() -> bool {
    true
}
fn d_init() -> ZInit {
    ZInit::Learned
}
fn d_weight_step() -> WeightStep {
    WeightStep::FixedZ
}
fn d_norm_mode() -> NormMode {
    NormMode::Sphere
}
fn d_trans_init() -> TransInit {
    TransInit::Random
}
fn d_loc_target() -> LocationTarget {
    LocationTarget::OneHot
}
fn d_loc_loss() -> LocationLoss {
    LocationLoss::CrossEntropy
}
fn d_one() -> f64 {
    1.0
}
fn d_two() -> f64 {
    2.0
}
fn d_scale() -> f64 {
    0.1
}
fn d_steps() -> usize {
    20
}
fn d_pi_step() -> f64 {
    0.1
}
fn d_obj_step() -> f64 {
    1.0
}
fn d_clip() -> f64 {
    1.0
}
fn d_bnn() -> f64 {
    1e-2
}
fn d_bw() -> f64 {
    1e-7
}
fn d_bact() -> f64 {
    1e-3
}
fn d_bloc() -> f64 {
    1e-2
}
fn d_bobj() -> f64 {
    1e-1
}
fn d_baction() -> f64 {
    1e-2
}
fn d_bpi() -> f64 {
    40.0
}

impl Default for CellsSpec {
    fn default() -> Self {
        toml_default()
    }
}

fn toml_default() -> CellsSpec {
    CellsSpec {
        n_cells: d_nc(),
        activation: d_act(),
        nonneg_projection: true,
        z_init: d_init(),
        init_scale: d_scale(),
        euler_steps: d_steps(),
        pi_step: d_pi_step(),
        object_step: d_obj_step(),
        clip_norm: d_clip(),
        readout_bias: false,
        weight_on_transitions: false,
        z_norm: 0.0,
        z_norm_mode: d_norm_mode(),
        trans_init: d_trans_init(),
        trans_init_scale: 1.0,
        infer_tol: 0.0,
        infer_activity: 0.0,
        infer_sparsity: 0.0,
        weight_step: d_weight_step(),
        location_target: d_loc_target(),
        location_loss: d_loc_loss(),
        location_sigma: 1.0,
        location_surround: 2.0,
        beta_nonneg: d_bnn(),
        beta_weight: d_bw(),
        beta_activity: d_bact(),
        beta_location: d_bloc(),
        beta_object: d_bobj(),
        beta_action: d_baction(),
        beta_pi: d_bpi(),
    }
}

impl CellsSpec {
    /// Checks the values; a [`crate::CellsError::Invalid`] names the `cells.` key.
    pub fn validate(&self) -> Result<(), crate::CellsError> {
        let bad = |key, value: &dyn ToString, expected: String| {
            Err(crate::CellsError::invalid(
                "cells",
                key,
                value.to_string(),
                expected,
            ))
        };
        if self.n_cells == 0 {
            return bad("n_cells", &0, "at least 1".into());
        }
        let nonneg = [
            ("init_scale", self.init_scale),
            ("pi_step", self.pi_step),
            ("object_step", self.object_step),
            ("clip_norm", self.clip_norm),
            ("z_norm", self.z_norm),
            ("trans_init_scale", self.trans_init_scale),
            ("infer_tol", self.infer_tol),
            ("infer_activity", self.infer_activity),
            ("infer_sparsity", self.infer_sparsity),
            ("beta_nonneg", self.beta_nonneg),
            ("beta_weight", self.beta_weight),
            ("beta_activity", self.beta_activity),
            ("beta_location", self.beta_location),
            ("beta_object", self.beta_object),
            ("beta_action", self.beta_action),
            ("beta_pi", self.beta_pi),
        ];
        for (k, v) in nonneg {
            if !(v.is_finite() && v >= 0.0) {
                return bad(k, &v, "a finite value ≥ 0".into());
            }
        }
        if self.location_target != LocationTarget::OneHot
            && !(self.location_sigma.is_finite() && self.location_sigma > 0.0)
        {
            return bad(
                "location_sigma",
                &self.location_sigma,
                format!(
                    "a finite value > 0 (bins) for a {:?} target",
                    self.location_target
                ),
            );
        }
        if self.location_target == LocationTarget::DogUnshifted
            && self.location_loss == LocationLoss::CrossEntropy
        {
            return bad(
                "location_loss",
                &"cross_entropy",
                "\"squared_error\" for the dog_unshifted target (its rows have negative \
                 values: they are not distributions a softmax can be fitted to)"
                    .into(),
            );
        }
        if matches!(
            self.location_target,
            LocationTarget::Dog | LocationTarget::DogUnshifted
        ) && !(self.location_surround.is_finite() && self.location_surround > 1.0)
        {
            return bad(
                "location_surround",
                &self.location_surround,
                "a finite ratio > 1".into(),
            );
        }
        Ok(())
    }
}
