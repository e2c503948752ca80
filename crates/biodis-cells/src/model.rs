//! The model of §4 / App. A.9: a population vector `z(x) ∈ R^{n_c}` per location of a world,
//! read out linearly to location (softmax), object (sigmoid) and optimal actions (4 sigmoids),
//! tied to its neighbours by the structural (path-integration) loss
//! `Σ_x Σ_a ‖z(x) − f(W_a z(x − d_a))‖²` (eq. 52, after Gao et al. 2021).
//!
//! ## Parameters (one flat vector, in this order)
//!
//! | name | shape | role |
//! |---|---|---|
//! | `z0` | `n_l × n_c` | initial representation, shared by all worlds (`z_init = "learned"`) |
//! | `w_loc` | `n_l × n_c` | location logits `W_l z(x)` |
//! | `w_obj`, `b_obj` | `n_c`, 1 | object logit `W_o z(x) (+ b_o)` |
//! | `w_act`, `b_act` | `4 × n_c`, 4 | action logits `W_t z(x) (+ b_t)` (N, S, E, W) |
//! | `w_trans` | `4 × n_c × n_c` | transitions `W_a` (row-major, `out × in`) |
//!
//! Biases exist only with `readout_bias = true` (the paper's equations have none); otherwise
//! they stay 0 and get no gradient.
//!
//! ## Inference (pattern formation, eqs. 54–55)
//!
//! For the current world, `z` starts at `z_init` and takes `euler_steps` Euler steps of
//! `Δz(x) = −η_PI · g_PI(x) + η_o · 1[object at x] · (1 − σ(W_o z(x) + b_o)) W_oᵀ`, where
//! `g_PI = ∂/∂z(x) ½ Σ_x Σ_a ‖z(x) − f(W_a z(x − d_a))‖²`, i.e. eq. 55 with its sign fixed
//! (eq. 55 as printed is the update direction, `−∂L/∂z`). `β_PI` and `1/n_l` are **not**
//! folded into the step (the paper's step sizes 0.1 and 1 then give a contraction rate of
//! 4 · 0.1 per step towards the neighbours' predictions). Each location's update is clipped to
//! norm `clip_norm` ("we clip the norm of the update for stability"); with
//! `nonneg_projection`, `z ← max(z, 0)` after every step (as Sorscher et al.'s pattern
//! formation `G ← relu(G + …)`). Pairs whose neighbour is off a walled edge are left out.
//!
//! ## Learning (the weight step)
//!
//! With `z` fixed at its inferred value, one Adam step on the full loss of eq. 45 averaged over
//! the batch of worlds: the biological terms (eqs. 46–48: hinge and energy averaged over
//! locations, weight energy on the readouts `W_l, W_o, W_t` — the text's `t ∈ {object, action,
//! location}`, so `W_a` is not regularised unless `weight_on_transitions`), the functional
//! terms (eqs. 49–51) and the structural term (eq. 52), each with its β and `1/n_l`. The
//! learned `z0` gets the gradient of the loss at the inferred `z` (a straight-through step
//! through the inference: the first-order term of `∂z_K/∂z_0 = I + …`), so it learns the
//! location code that inference starts from. With `weight_step = "unrolled"` the gradient is
//! instead taken exactly through the Euler steps ([`crate::unroll`]).
//!
//! ## Readings the paper leaves open (recipe keys; defaults keep A.9 as first implemented)
//!
//! | key | values | source |
//! |---|---|---|
//! | `z_norm`, `z_norm_mode` | 0 (off) / radius; `sphere` or `floor` | Gao et al. 2021 renormalise the code after every step; Dorrell et al. 2023 normalise neurons |
//! | `trans_init`, `trans_init_scale` | `random` N(0, s²/n_c), `identity` I + N(0, s²/n_c), `orthogonal` | not in A.9; Gao et al. start at I; `kylehkhsu/modular` orthogonal |
//! | `z_init` | `learned`, `zeros`, `random` (per world), `fixed_random` (shared, not learned) | not in A.9 |
//! | `euler_steps`, `infer_tol` | cap, and stop when `mean_x ‖Δz(x)‖ < tol` | not in A.9 |
//! | `weight_step` | `fixed_z`, `unrolled` | A.9: "optimise with respect to the weights" |
//! | `location_target`, `location_sigma`, `location_surround` | `one_hot` (eq. 49), `gaussian`, `dog` | a departure: Sorscher et al. (DoG), Gao et al. (Gaussian) |
//! | `readout_bias` | biases on the object/action readouts | eqs. 50–51 have none |
//! | `world.periodic` | torus or walls | not in A.9 |

use biodis_data::gridworld::{World, WorldSpec};
use biodis_nn::Scalar;
use rand::Rng;
use rand_distr::{Distribution, StandardNormal};
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
        weight_step: d_weight_step(),
        location_target: d_loc_target(),
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
        if self.location_target == LocationTarget::Dog
            && !(self.location_surround.is_finite() && self.location_surround > 1.0)
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

/// Loss terms of the weight step (each already multiplied by its β; means over worlds).
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct CellLoss {
    pub total: f64,
    pub location: f64,
    pub object: f64,
    pub action: f64,
    pub pi: f64,
    pub nonneg: f64,
    pub activity: f64,
    pub weight: f64,
    /// Fraction of locations whose location readout's argmax is right.
    pub location_acc: f64,
    /// Fraction of (location, action) pairs predicted right (logit > 0 ⇔ optimal).
    pub action_acc: f64,
    /// Fraction of object locations whose object logit is > 0.
    pub object_hit: f64,
    /// `action_acc` of the trivial readout that predicts "not optimal" for every action
    /// everywhere (the baseline `action_acc` must beat).
    #[serde(default)]
    pub action_zero_acc: f64,
}

/// What one inference did (for the diagnostics in `curve.csv`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct InferStats {
    /// Euler steps taken (≤ `euler_steps`; fewer when `infer_tol` stopped it).
    pub steps: usize,
    /// Fraction of the per-location updates (over all steps) that the norm clip shortened.
    pub clipped_frac: f64,
    /// Mean per-location update norm `mean_x ‖Δz(x)‖` of the last step taken.
    pub last_update: f64,
}

impl CellLoss {
    pub fn add_scaled(&mut self, o: &CellLoss, s: f64) {
        self.total += s * o.total;
        self.location += s * o.location;
        self.object += s * o.object;
        self.action += s * o.action;
        self.pi += s * o.pi;
        self.nonneg += s * o.nonneg;
        self.activity += s * o.activity;
        self.weight += s * o.weight;
        self.location_acc += s * o.location_acc;
        self.action_acc += s * o.action_acc;
        self.object_hit += s * o.object_hit;
        self.action_zero_acc += s * o.action_zero_acc;
    }
}

/// Offsets of the parameter blocks in the flat vector.
#[derive(Debug, Clone, Copy)]
pub struct Layout {
    pub nl: usize,
    pub nc: usize,
    pub z0: usize,
    pub w_loc: usize,
    pub w_obj: usize,
    pub b_obj: usize,
    pub w_act: usize,
    pub b_act: usize,
    pub w_trans: usize,
    pub len: usize,
}

impl Layout {
    pub fn new(nl: usize, nc: usize) -> Self {
        let z0 = 0;
        let w_loc = z0 + nl * nc;
        let w_obj = w_loc + nl * nc;
        let b_obj = w_obj + nc;
        let w_act = b_obj + 1;
        let b_act = w_act + 4 * nc;
        let w_trans = b_act + 4;
        let len = w_trans + 4 * nc * nc;
        Layout {
            nl,
            nc,
            z0,
            w_loc,
            w_obj,
            b_obj,
            w_act,
            b_act,
            w_trans,
            len,
        }
    }
    /// Offset of `W_a`.
    pub fn trans(&self, a: usize) -> usize {
        self.w_trans + a * self.nc * self.nc
    }
}

/// The model: settings, world geometry and parameters.
#[derive(Debug, Clone)]
pub struct CellModel<T: Scalar> {
    pub spec: CellsSpec,
    pub world: WorldSpec,
    pub layout: Layout,
    pub theta: Vec<T>,
    /// Per action, the `(p, q)` pairs with `q = p + d_a` on the lattice.
    pub pairs: [Vec<(usize, usize)>; 4],
    /// Soft location targets (`n_l × n_l`, row `x` is the target distribution for location
    /// `x`); `None` for the one-hot target.
    pub target: Option<Vec<f64>>,
}

/// The soft location targets of `spec` on `world` (`None` for one-hot); see [`LocationTarget`].
pub fn location_targets(spec: &CellsSpec, world: &WorldSpec) -> Option<Vec<f64>> {
    let nl = world.n_locations();
    let gauss = |sigma: f64| -> Vec<f64> {
        let mut t = vec![0.0; nl * nl];
        for x in 0..nl {
            let row = &mut t[x * nl..(x + 1) * nl];
            for (j, v) in row.iter_mut().enumerate() {
                let d = world.euclidean_distance(x, j);
                *v = (-d * d / (2.0 * sigma * sigma)).exp();
            }
            let sum: f64 = row.iter().sum();
            row.iter_mut().for_each(|v| *v /= sum);
        }
        t
    };
    match spec.location_target {
        LocationTarget::OneHot => None,
        LocationTarget::Gaussian => Some(gauss(spec.location_sigma)),
        LocationTarget::Dog => {
            let c = gauss(spec.location_sigma);
            let sur = gauss(spec.location_sigma * spec.location_surround);
            let mut t: Vec<f64> = c.iter().zip(&sur).map(|(a, b)| a - b).collect();
            for row in t.chunks_mut(nl) {
                let mn = row.iter().copied().fold(f64::INFINITY, f64::min);
                row.iter_mut().for_each(|v| *v -= mn);
                let sum: f64 = row.iter().sum();
                row.iter_mut().for_each(|v| *v /= sum);
            }
            Some(t)
        }
    }
}

/// A random `n × n` orthogonal matrix (row-major): modified Gram–Schmidt on the rows of a
/// Gaussian matrix (the QR factor with a positive diagonal of `R`, i.e. Haar-distributed).
fn random_orthogonal<R: Rng>(n: usize, rng: &mut R) -> Vec<f64> {
    let mut q: Vec<f64> = (0..n * n)
        .map(|_| StandardNormal.sample(&mut *rng))
        .collect();
    for i in 0..n {
        for j in 0..i {
            let dot: f64 = (0..n).map(|k| q[i * n + k] * q[j * n + k]).sum();
            for k in 0..n {
                q[i * n + k] -= dot * q[j * n + k];
            }
        }
        let norm: f64 = (0..n).map(|k| q[i * n + k].powi(2)).sum::<f64>().sqrt();
        for k in 0..n {
            q[i * n + k] /= norm;
        }
    }
    q
}

/// Projects every `nc`-row of `z` onto the sphere of radius `r` (`Sphere`) or scales rows of
/// norm below `r` up to it (`Floor`); rows of norm 0 stay 0.
fn project_rows<T: Scalar>(z: &mut [T], nc: usize, r: f64, mode: NormMode) {
    for row in z.chunks_mut(nc) {
        let n = row.iter().map(|v| (*v * *v).to_f64()).sum::<f64>().sqrt();
        if n > 0.0 && (mode == NormMode::Sphere || n < r) {
            let s = T::from_f64(r / n);
            row.iter_mut().for_each(|v| *v *= s);
        }
    }
}

pub(crate) fn sigmoid(x: f64) -> f64 {
    if x >= 0.0 {
        1.0 / (1.0 + (-x).exp())
    } else {
        let e = x.exp();
        e / (1.0 + e)
    }
}

/// `−ln σ(x)` and `−ln(1 − σ(x))`, stable.
fn softplus(x: f64) -> f64 {
    if x > 0.0 {
        x + (-x).exp().ln_1p()
    } else {
        x.exp().ln_1p()
    }
}

/// `C (m×n) = alpha · A (m×k) · B (k×n) + beta · C`, row-major with optional transposes.
#[allow(clippy::too_many_arguments)]
fn gemm<T: Scalar>(
    m: usize,
    k: usize,
    n: usize,
    alpha: T,
    a: &[T],
    a_t: bool,
    b: &[T],
    b_t: bool,
    beta: T,
    c: &mut [T],
) {
    debug_assert!(a.len() >= m * k && b.len() >= k * n && c.len() >= m * n);
    let (rsa, csa) = if a_t {
        (1, m as isize)
    } else {
        (k as isize, 1)
    };
    let (rsb, csb) = if b_t {
        (1, k as isize)
    } else {
        (n as isize, 1)
    };
    // SAFETY: the slices are at least as long as the matrices their strides describe (checked
    // above in debug builds, guaranteed by the callers' buffer sizes), and `c` does not alias.
    unsafe {
        T::gemm(
            m,
            k,
            n,
            alpha,
            a.as_ptr(),
            rsa,
            csa,
            b.as_ptr(),
            rsb,
            csb,
            beta,
            c.as_mut_ptr(),
            n as isize,
            1,
        )
    }
}

impl<T: Scalar> CellModel<T> {
    /// A freshly initialised model: `z0 ~ |N(0, s²)|`, readouts `N(0, s²/n_c)`, transitions
    /// `N(0, 1/n_c)` (variance-preserving), biases 0.
    pub fn new<R: Rng>(spec: CellsSpec, world: WorldSpec, rng: &mut R) -> Self {
        let nl = world.n_locations();
        let nc = spec.n_cells;
        let layout = Layout::new(nl, nc);
        let mut theta = vec![T::ZERO; layout.len];
        let s = spec.init_scale;
        let mut normal = |sd: f64| -> T {
            let v: f64 = StandardNormal.sample(rng);
            T::from_f64(v * sd)
        };
        for v in &mut theta[layout.z0..layout.w_loc] {
            *v = normal(s).abs();
        }
        let ro = s / (nc as f64).sqrt();
        for v in &mut theta[layout.w_loc..layout.b_obj] {
            *v = normal(ro);
        }
        for v in &mut theta[layout.w_act..layout.b_act] {
            *v = normal(ro);
        }
        let tr = spec.trans_init_scale / (nc as f64).sqrt();
        match spec.trans_init {
            TransInit::Random => {
                for v in &mut theta[layout.w_trans..layout.len] {
                    *v = normal(tr);
                }
            }
            TransInit::Identity => {
                for a in 0..4 {
                    let off = layout.trans(a);
                    for r in 0..nc {
                        for c in 0..nc {
                            let eye = if r == c { 1.0 } else { 0.0 };
                            theta[off + r * nc + c] = T::from_f64(eye) + normal(tr);
                        }
                    }
                }
            }
            TransInit::Orthogonal => {
                for a in 0..4 {
                    let off = layout.trans(a);
                    let q = random_orthogonal(nc, &mut *rng);
                    for (t, v) in theta[off..off + nc * nc].iter_mut().zip(q) {
                        *t = T::from_f64(v);
                    }
                }
            }
        }
        let pairs = std::array::from_fn(|a| {
            (0..nl)
                .filter_map(|p| world.neighbour(p, a).map(|q| (p, q)))
                .collect()
        });
        let target = location_targets(&spec, &world);
        CellModel {
            spec,
            world,
            layout,
            theta,
            pairs,
            target,
        }
    }

    pub(crate) fn f(&self, u: T) -> T {
        match self.spec.activation {
            CellActivation::Linear => u,
            CellActivation::Relu => {
                if u > T::ZERO {
                    u
                } else {
                    T::ZERO
                }
            }
        }
    }
    pub(crate) fn df(&self, u: T) -> T {
        match self.spec.activation {
            CellActivation::Linear => T::ONE,
            CellActivation::Relu => {
                if u > T::ZERO {
                    T::ONE
                } else {
                    T::ZERO
                }
            }
        }
    }

    /// The initial `z` of inference (`n_l × n_c`).
    pub fn z_start<R: Rng>(&self, rng: &mut R) -> Vec<T> {
        let l = &self.layout;
        match self.spec.z_init {
            ZInit::Learned | ZInit::FixedRandom => self.theta[l.z0..l.w_loc].to_vec(),
            ZInit::Zeros => vec![T::ZERO; l.nl * l.nc],
            ZInit::Random => (0..l.nl * l.nc)
                .map(|_| {
                    let v: f64 = StandardNormal.sample(rng);
                    T::from_f64((v * self.spec.init_scale).abs())
                })
                .collect(),
        }
    }

    /// `g_PI = ∂/∂z ½ Σ_a Σ_(p,q) ‖z(q) − f(W_a z(p))‖²` into `g` (`n_l × n_c`); returns the
    /// unscaled sum `Σ ‖·‖²`. `u` and `d` are scratch buffers of `n_l × n_c`.
    pub fn pi_grad(&self, z: &[T], g: &mut [T], u: &mut [T], d: &mut [T]) -> f64 {
        let (nl, nc) = (self.layout.nl, self.layout.nc);
        g.iter_mut().for_each(|v| *v = T::ZERO);
        let mut sq = 0.0;
        for a in 0..4 {
            let wa = &self.theta[self.layout.trans(a)..self.layout.trans(a) + nc * nc];
            // u = z W_aᵀ
            gemm(nl, nc, nc, T::ONE, z, false, wa, true, T::ZERO, u);
            d.iter_mut().for_each(|v| *v = T::ZERO);
            for &(p, q) in &self.pairs[a] {
                let (up, zq) = (&u[p * nc..(p + 1) * nc], &z[q * nc..(q + 1) * nc]);
                for i in 0..nc {
                    let r = zq[i] - self.f(up[i]);
                    sq += (r * r).to_f64();
                    g[q * nc + i] += r;
                    d[p * nc + i] = r * self.df(up[i]);
                }
            }
            // g −= d W_a
            gemm(nl, nc, nc, -T::ONE, d, false, wa, false, T::ONE, g);
        }
        sq
    }

    /// The norm constraint on the start of inference: with `z_norm > 0`, clamp at 0 (with
    /// `nonneg_projection`) and project every location onto `‖z(x)‖ = z_norm`; else a no-op.
    pub fn project_start(&self, z: &mut [T]) {
        let sp = &self.spec;
        if sp.z_norm > 0.0 {
            if sp.nonneg_projection {
                z.iter_mut().for_each(|v| {
                    if *v < T::ZERO {
                        *v = T::ZERO
                    }
                });
            }
            project_rows(z, self.layout.nc, sp.z_norm, sp.z_norm_mode);
        }
    }

    /// Infers `z` for `world` in place (eqs. 54–55; see the module docs). `scratch` holds three
    /// `n_l × n_c` buffers.
    pub fn infer(&self, world: &World, z: &mut [T], scratch: &mut [Vec<T>; 3]) -> InferStats {
        self.infer_recorded(world, z, scratch, None)
    }

    /// [`CellModel::infer`], recording on `tape` (when given) what the backward pass through
    /// the Euler steps needs (see [`crate::unroll`]).
    pub fn infer_recorded(
        &self,
        world: &World,
        z: &mut [T],
        scratch: &mut [Vec<T>; 3],
        mut tape: Option<&mut crate::unroll::Tape<T>>,
    ) -> InferStats {
        let (nc, sp) = (self.layout.nc, &self.spec);
        if let Some(t) = tape.as_deref_mut() {
            t.clear();
            t.start_raw.extend_from_slice(z);
        }
        let [g, u, d] = scratch;
        let (wo, bo) = (
            &self.theta[self.layout.w_obj..self.layout.b_obj],
            self.theta[self.layout.b_obj],
        );
        let eta = T::from_f64(sp.pi_step);
        let mut stats = InferStats::default();
        let (mut clipped, mut updates) = (0usize, 0usize);
        self.project_start(z);
        for _ in 0..sp.euler_steps {
            if let Some(t) = tape.as_deref_mut() {
                t.z.push(z.to_vec());
            }
            self.pi_grad(z, g, u, d);
            // g becomes the update Δ
            g.iter_mut().for_each(|v| *v = -eta * *v);
            if sp.object_step > 0.0 {
                for &x in &world.objects {
                    let zx = &z[x * nc..(x + 1) * nc];
                    let logit: f64 = zx
                        .iter()
                        .zip(wo)
                        .map(|(a, b)| (*a * *b).to_f64())
                        .sum::<f64>()
                        + bo.to_f64();
                    let c = T::from_f64(sp.object_step * (1.0 - sigmoid(logit)));
                    for i in 0..nc {
                        g[x * nc + i] += c * wo[i];
                    }
                }
            }
            if let Some(t) = tape.as_deref_mut() {
                t.delta.push(g.to_vec());
            }
            let mut norm_sum = 0.0;
            for row in g.chunks_mut(nc) {
                let n = row.iter().map(|v| (*v * *v).to_f64()).sum::<f64>().sqrt();
                updates += 1;
                if sp.clip_norm > 0.0 && n > sp.clip_norm {
                    let s = T::from_f64(sp.clip_norm / n);
                    row.iter_mut().for_each(|v| *v *= s);
                    clipped += 1;
                    norm_sum += sp.clip_norm;
                } else {
                    norm_sum += n;
                }
            }
            z.iter_mut().zip(g.iter()).for_each(|(zi, gi)| *zi += *gi);
            if let Some(t) = tape.as_deref_mut() {
                t.y.push(z.to_vec());
            }
            if sp.nonneg_projection {
                z.iter_mut().for_each(|zi| {
                    if *zi < T::ZERO {
                        *zi = T::ZERO;
                    }
                });
            }
            if sp.z_norm > 0.0 {
                project_rows(z, nc, sp.z_norm, sp.z_norm_mode);
            }
            stats.steps += 1;
            stats.last_update = norm_sum / self.layout.nl as f64;
            if sp.infer_tol > 0.0 && stats.last_update < sp.infer_tol {
                break;
            }
        }
        stats.clipped_frac = if updates > 0 {
            clipped as f64 / updates as f64
        } else {
            0.0
        };
        stats
    }

    /// Loss of one world at fixed `z`, without the weight energy; accumulates `scale ×` the
    /// gradient into `grad` (parameters) and `gz` (w.r.t. `z`, overwritten). `logits` is a
    /// scratch buffer of `n_l²`; `u`, `d` of `n_l × n_c`.
    #[allow(clippy::too_many_arguments)]
    pub fn world_loss_grad(
        &self,
        world: &World,
        z: &[T],
        scale: f64,
        grad: &mut [T],
        gz: &mut [T],
        logits: &mut [T],
        u: &mut [T],
        d: &mut [T],
    ) -> CellLoss {
        let l = self.layout;
        let (nl, nc, sp) = (l.nl, l.nc, &self.spec);
        let mut out = CellLoss::default();
        let inv = 1.0 / nl as f64;
        gz.iter_mut().for_each(|v| *v = T::ZERO);

        // location: softmax cross-entropy on logits z W_lᵀ
        let wl = &self.theta[l.w_loc..l.w_obj];
        gemm(nl, nc, nl, T::ONE, z, false, wl, true, T::ZERO, logits);
        let c_loc = sp.beta_location * inv;
        let mut loc = 0.0;
        let mut hits = 0usize;
        for x in 0..nl {
            let row = &mut logits[x * nl..(x + 1) * nl];
            let mut mx = f64::NEG_INFINITY;
            let mut arg = 0;
            for (j, v) in row.iter().enumerate() {
                if v.to_f64() > mx {
                    mx = v.to_f64();
                    arg = j;
                }
            }
            if arg == x {
                hits += 1;
            }
            let se: f64 = row.iter().map(|v| (v.to_f64() - mx).exp()).sum();
            let lse = mx + se.ln();
            match &self.target {
                None => {
                    loc += lse - row[x].to_f64();
                    for v in row.iter_mut() {
                        *v = T::from_f64(c_loc * (v.to_f64() - lse).exp());
                    }
                    row[x] -= T::from_f64(c_loc);
                }
                Some(t) => {
                    // cross-entropy −Σ_j y_j ln p_j against the soft target row
                    let y = &t[x * nl..(x + 1) * nl];
                    for (v, &yj) in row.iter_mut().zip(y) {
                        let lv = v.to_f64();
                        loc += yj * (lse - lv);
                        *v = T::from_f64(c_loc * ((lv - lse).exp() - yj));
                    }
                }
            }
        }
        out.location = c_loc * loc;
        out.location_acc = hits as f64 * inv;
        // logits now holds dL/dlogits; dW_l += scale · dlogitsᵀ z, gz += dlogits W_l
        gemm(
            nl,
            nl,
            nc,
            T::from_f64(scale),
            logits,
            true,
            z,
            false,
            T::ONE,
            &mut grad[l.w_loc..l.w_obj],
        );
        gemm(nl, nl, nc, T::ONE, logits, false, wl, false, T::ONE, gz);

        // object and actions: sigmoid cross-entropies
        let (c_obj, c_act) = (sp.beta_object * inv, sp.beta_action * inv);
        let mut gw_obj = vec![0.0f64; nc + 1];
        let mut gw_act = vec![0.0f64; 4 * (nc + 1)];
        let (mut obj, mut act) = (0.0, 0.0);
        let (mut act_ok, mut obj_hit) = (0usize, 0usize);
        for x in 0..nl {
            let zx = &z[x * nc..(x + 1) * nc];
            let dot = |w: &[T]| -> f64 { zx.iter().zip(w).map(|(a, b)| (*a * *b).to_f64()).sum() };
            let lo = dot(&self.theta[l.w_obj..l.b_obj]) + self.theta[l.b_obj].to_f64();
            let o = world.object[x] as f64;
            obj += if o > 0.5 { softplus(-lo) } else { softplus(lo) };
            if o > 0.5 && lo > 0.0 {
                obj_hit += 1;
            }
            let dlo = c_obj * (sigmoid(lo) - o);
            gw_obj[nc] += dlo;
            for i in 0..nc {
                gw_obj[i] += dlo * zx[i].to_f64();
                gz[x * nc + i] += T::from_f64(dlo) * self.theta[l.w_obj + i];
            }
            for a in 0..4 {
                let wa = &self.theta[l.w_act + a * nc..l.w_act + (a + 1) * nc];
                let la = dot(wa) + self.theta[l.b_act + a].to_f64();
                let t = world.action[x][a] as f64;
                act += if t > 0.5 { softplus(-la) } else { softplus(la) };
                if (la > 0.0) == (t > 0.5) {
                    act_ok += 1;
                }
                let dla = c_act * (sigmoid(la) - t);
                gw_act[4 * nc + a] += dla;
                for i in 0..nc {
                    gw_act[a * nc + i] += dla * zx[i].to_f64();
                    gz[x * nc + i] += T::from_f64(dla) * wa[i];
                }
            }
        }
        out.object = c_obj * obj;
        out.action = c_act * act;
        out.action_acc = act_ok as f64 / (4 * nl) as f64;
        out.action_zero_acc = world
            .action
            .iter()
            .map(|a| a.iter().filter(|&&t| t == 0).count())
            .sum::<usize>() as f64
            / (4 * nl) as f64;
        out.object_hit = if world.objects.is_empty() {
            f64::NAN
        } else {
            obj_hit as f64 / world.objects.len() as f64
        };
        for i in 0..nc {
            grad[l.w_obj + i] += T::from_f64(scale * gw_obj[i]);
            for a in 0..4 {
                grad[l.w_act + a * nc + i] += T::from_f64(scale * gw_act[a * nc + i]);
            }
        }
        if sp.readout_bias {
            grad[l.b_obj] += T::from_f64(scale * gw_obj[nc]);
            for a in 0..4 {
                grad[l.b_act + a] += T::from_f64(scale * gw_act[4 * nc + a]);
            }
        }

        // structural loss
        let c_pi = sp.beta_pi * inv;
        let mut pi = 0.0;
        for a in 0..4 {
            let off = l.trans(a);
            let wa = &self.theta[off..off + nc * nc];
            gemm(nl, nc, nc, T::ONE, z, false, wa, true, T::ZERO, u);
            d.iter_mut().for_each(|v| *v = T::ZERO);
            for &(p, q) in &self.pairs[a] {
                for i in 0..nc {
                    let up = u[p * nc + i];
                    let r = z[q * nc + i] - self.f(up);
                    let rf = r.to_f64();
                    pi += rf * rf;
                    gz[q * nc + i] += T::from_f64(2.0 * c_pi * rf);
                    d[p * nc + i] = T::from_f64(2.0 * c_pi * rf) * self.df(up);
                }
            }
            // gz −= d W_a ; dW_a −= scale · dᵀ z
            gemm(nl, nc, nc, -T::ONE, d, false, wa, false, T::ONE, gz);
            gemm(
                nc,
                nl,
                nc,
                T::from_f64(-scale),
                d,
                true,
                z,
                false,
                T::ONE,
                &mut grad[off..off + nc * nc],
            );
        }
        out.pi = c_pi * pi;

        // biological terms on z
        let (c_nn, c_ac) = (sp.beta_nonneg * inv, sp.beta_activity * inv);
        let (mut nn, mut ac) = (0.0, 0.0);
        for (zi, gi) in z.iter().zip(gz.iter_mut()) {
            let v = zi.to_f64();
            if v < 0.0 {
                nn -= v;
                *gi -= T::from_f64(c_nn);
            }
            ac += v * v;
            *gi += T::from_f64(2.0 * c_ac * v);
        }
        out.nonneg = c_nn * nn;
        out.activity = c_ac * ac;
        out.total = out.location + out.object + out.action + out.pi + out.nonneg + out.activity;
        out
    }

    /// The weight energy `β_w Σ_t ‖W_t‖²`; adds its gradient into `grad`.
    pub fn weight_energy(&self, grad: &mut [T]) -> f64 {
        let l = self.layout;
        let bw = self.spec.beta_weight;
        let mut ranges = vec![l.w_loc..l.b_obj, l.w_act..l.b_act];
        if self.spec.weight_on_transitions {
            ranges.push(l.w_trans..l.len);
        }
        let mut e = 0.0;
        for r in ranges {
            for i in r {
                let w = self.theta[i].to_f64();
                e += w * w;
                grad[i] += T::from_f64(2.0 * bw * w);
            }
        }
        bw * e
    }
}

/// Scratch buffers and the per-step routine: infer each world, then the averaged loss and
/// gradient of the weight step.
pub struct Stepper<T: Scalar> {
    pub z: Vec<Vec<T>>,
    pub gz: Vec<T>,
    pub logits: Vec<T>,
    pub scratch: [Vec<T>; 3],
    /// One tape per world of the batch (`weight_step = "unrolled"` only).
    pub tapes: Vec<crate::unroll::Tape<T>>,
    work: [Vec<T>; 5],
}

impl<T: Scalar> Stepper<T> {
    pub fn new(l: &Layout) -> Self {
        let m = l.nl * l.nc;
        Stepper {
            z: Vec::new(),
            gz: vec![T::ZERO; m],
            logits: vec![T::ZERO; l.nl * l.nl],
            scratch: [vec![T::ZERO; m], vec![T::ZERO; m], vec![T::ZERO; m]],
            tapes: Vec::new(),
            work: std::array::from_fn(|_| vec![T::ZERO; m]),
        }
    }

    /// Infers every world (keeping the `z`s in `self.z`) and returns the loss with its gradient
    /// in `grad` (overwritten). The learned `z0` gets the mean of `∂L/∂z` over worlds.
    pub fn loss_grad<R: Rng>(
        &mut self,
        model: &CellModel<T>,
        worlds: &[World],
        grad: &mut [T],
        rng: &mut R,
    ) -> CellLoss {
        grad.iter_mut().for_each(|v| *v = T::ZERO);
        self.z.clear();
        let unrolled = model.spec.weight_step == WeightStep::Unrolled;
        self.tapes
            .resize_with(if unrolled { worlds.len() } else { 0 }, Default::default);
        for (k, w) in worlds.iter().enumerate() {
            let mut z = model.z_start(rng);
            let tape = if unrolled {
                Some(&mut self.tapes[k])
            } else {
                None
            };
            model.infer_recorded(w, &mut z, &mut self.scratch, tape);
            self.z.push(z);
        }
        let out = self.loss_grad_at(model, worlds, grad);
        self.tapes.clear();
        out
    }

    /// The weight-step loss and gradient at the `z`s already in `self.z`.
    pub fn loss_grad_at(
        &mut self,
        model: &CellModel<T>,
        worlds: &[World],
        grad: &mut [T],
    ) -> CellLoss {
        let l = model.layout;
        let s = 1.0 / worlds.len().max(1) as f64;
        let mut total = CellLoss::default();
        let mut hits = (0.0, 0usize);
        let [_, u, d] = &mut self.scratch;
        for (k, (w, z)) in worlds.iter().zip(&self.z).enumerate() {
            let t = model.world_loss_grad(w, z, s, grad, &mut self.gz, &mut self.logits, u, d);
            if t.object_hit.is_finite() {
                hits.0 += t.object_hit;
                hits.1 += 1;
            }
            let mut t2 = t;
            t2.object_hit = 0.0;
            total.add_scaled(&t2, s);
            if let Some(tape) = self.tapes.get(k) {
                // exact: back through the Euler steps to the start of inference
                self.gz.iter_mut().for_each(|v| *v *= T::from_f64(s));
                model.backprop_inference(w, tape, &mut self.gz, grad, &mut self.work);
                if model.spec.z_init == ZInit::Learned {
                    for (g, v) in grad[l.z0..l.w_loc].iter_mut().zip(&self.gz) {
                        *g += *v;
                    }
                }
            } else if model.spec.z_init == ZInit::Learned {
                for (g, v) in grad[l.z0..l.w_loc].iter_mut().zip(&self.gz) {
                    *g += T::from_f64(s) * *v;
                }
            }
        }
        total.object_hit = if hits.1 > 0 {
            hits.0 / hits.1 as f64
        } else {
            f64::NAN
        };
        total.weight = model.weight_energy(grad);
        total.total += total.weight;
        total
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    fn small(act: CellActivation, bias: bool) -> (CellModel<f64>, World) {
        let ws = WorldSpec {
            size: 5,
            max_objects: 3,
            min_distance: 2.0,
            ..WorldSpec::default()
        };
        let spec = CellsSpec {
            n_cells: 4,
            activation: act,
            readout_bias: bias,
            weight_on_transitions: true,
            beta_weight: 0.3,
            init_scale: 1.0,
            ..CellsSpec::default()
        };
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(7);
        let mut m = CellModel::<f64>::new(spec, ws.clone(), &mut rng);
        for v in m.theta.iter_mut() {
            *v += rng.gen_range(-0.3..0.3);
        }
        (m, ws.world_with(vec![6, 18]))
    }

    fn rand_z(n: usize, seed: u64) -> Vec<f64> {
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed);
        (0..n).map(|_| rng.gen_range(-1.0..1.0)).collect()
    }

    /// `½ Σ ‖z(q) − f(W_a z(p))‖²`
    fn half_pi(m: &CellModel<f64>, z: &[f64]) -> f64 {
        let mut g = vec![0.0; z.len()];
        let mut u = g.clone();
        let mut d = g.clone();
        0.5 * m.pi_grad(z, &mut g, &mut u, &mut d)
    }

    #[test]
    fn inference_gradient_matches_finite_differences() {
        for act in [CellActivation::Relu, CellActivation::Linear] {
            let (m, _) = small(act, false);
            let n = m.layout.nl * m.layout.nc;
            let z = rand_z(n, 1);
            let mut g = vec![0.0; n];
            let (mut u, mut d) = (g.clone(), g.clone());
            m.pi_grad(&z, &mut g, &mut u, &mut d);
            let h = 1e-6;
            for i in 0..n {
                let mut zp = z.clone();
                zp[i] += h;
                let mut zm = z.clone();
                zm[i] -= h;
                let fd = (half_pi(&m, &zp) - half_pi(&m, &zm)) / (2.0 * h);
                assert!(
                    (fd - g[i]).abs() < 1e-6 * (1.0 + fd.abs()),
                    "{act:?} z[{i}]: analytic {} fd {fd}",
                    g[i]
                );
            }
        }
    }

    #[test]
    fn object_update_is_the_negative_gradient_of_the_object_loss() {
        // one Euler step with only the object term from z: Δz(x) = −∂/∂z(x) [−ln σ(W_o z + b)]
        let (mut m, w) = small(CellActivation::Relu, true);
        m.spec.pi_step = 0.0;
        m.spec.clip_norm = 0.0;
        m.spec.nonneg_projection = false;
        m.spec.euler_steps = 1;
        m.theta[m.layout.b_obj] = 0.4;
        let nc = m.layout.nc;
        let z0 = rand_z(m.layout.nl * nc, 2);
        let mut z = z0.clone();
        let mut scratch = [vec![0.0; z.len()], vec![0.0; z.len()], vec![0.0; z.len()]];
        m.infer(&w, &mut z, &mut scratch);
        let wo = m.theta[m.layout.w_obj..m.layout.b_obj].to_vec();
        let lossx = |zx: &[f64]| {
            let lo: f64 = zx.iter().zip(&wo).map(|(a, b)| a * b).sum::<f64>() + 0.4;
            softplus(-lo)
        };
        for x in 0..m.layout.nl {
            for i in 0..nc {
                let dz = z[x * nc + i] - z0[x * nc + i];
                if w.object[x] == 0 {
                    assert_eq!(dz, 0.0);
                    continue;
                }
                let h = 1e-6;
                let mut zp = z0[x * nc..(x + 1) * nc].to_vec();
                zp[i] += h;
                let mut zm = z0[x * nc..(x + 1) * nc].to_vec();
                zm[i] -= h;
                let fd = (lossx(&zp) - lossx(&zm)) / (2.0 * h);
                assert!(
                    (dz + fd).abs() < 1e-7,
                    "x {x} i {i}: Δz {dz} vs −∂L {}",
                    -fd
                );
            }
        }
    }

    fn full_loss(m: &CellModel<f64>, w: &World, z: &[f64]) -> f64 {
        let l = m.layout;
        let mut grad = vec![0.0; l.len];
        let mut gz = vec![0.0; l.nl * l.nc];
        let mut logits = vec![0.0; l.nl * l.nl];
        let (mut u, mut d) = (gz.clone(), gz.clone());
        let t = m.world_loss_grad(w, z, 1.0, &mut grad, &mut gz, &mut logits, &mut u, &mut d);
        t.total + m.weight_energy(&mut grad)
    }

    /// Checks the weight-step gradient of one world at `z` against central differences: every
    /// parameter in `params` (biases must have zero gradient unless `bias`) and every `z`.
    fn check_world_gradient(
        m: &mut CellModel<f64>,
        w: &World,
        z: &[f64],
        params: std::ops::Range<usize>,
        bias: bool,
        what: &str,
    ) {
        let l = m.layout;
        let mut grad = vec![0.0; l.len];
        let mut gz = vec![0.0; l.nl * l.nc];
        let mut logits = vec![0.0; l.nl * l.nl];
        let (mut u, mut d) = (gz.clone(), gz.clone());
        m.world_loss_grad(w, z, 1.0, &mut grad, &mut gz, &mut logits, &mut u, &mut d);
        m.weight_energy(&mut grad);
        let h = 1e-6;
        let close = |fd: f64, a: f64| (fd - a).abs() < 1e-6 * (1.0 + fd.abs());
        for i in params {
            if !bias && (i == l.b_obj || (l.b_act..l.b_act + 4).contains(&i)) {
                assert_eq!(grad[i], 0.0);
                continue;
            }
            let v = m.theta[i];
            m.theta[i] = v + h;
            let lp = full_loss(m, w, z);
            m.theta[i] = v - h;
            let lm = full_loss(m, w, z);
            m.theta[i] = v;
            let fd = (lp - lm) / (2.0 * h);
            assert!(
                close(fd, grad[i]),
                "{what} θ[{i}]: analytic {} fd {fd}",
                grad[i]
            );
        }
        for (i, &g) in gz.iter().enumerate() {
            let (mut zp, mut zm) = (z.to_vec(), z.to_vec());
            zp[i] += h;
            zm[i] -= h;
            let fd = (full_loss(m, w, &zp) - full_loss(m, w, &zm)) / (2.0 * h);
            assert!(close(fd, g), "{what} z[{i}]: analytic {g} fd {fd}");
        }
    }

    #[test]
    fn learning_gradient_matches_finite_differences() {
        for (act, bias) in [
            (CellActivation::Relu, false),
            (CellActivation::Linear, true),
        ] {
            let (mut m, w) = small(act, bias);
            let l = m.layout;
            let z = rand_z(l.nl * l.nc, 3);
            // every parameter except z0 (which gets the z gradient, checked too)
            check_world_gradient(&mut m, &w, &z, l.w_loc..l.len, bias, &format!("{act:?}"));
        }
    }

    #[test]
    fn soft_location_targets_have_exact_gradients() {
        for target in [LocationTarget::Gaussian, LocationTarget::Dog] {
            let (mut m, w) = small(CellActivation::Relu, false);
            m.spec.location_target = target;
            m.spec.location_sigma = 1.3;
            m.spec.beta_location = 0.7;
            m.target = location_targets(&m.spec, &m.world);
            let l = m.layout;
            // rows are distributions, peaked at their own location
            let t = m.target.as_ref().expect("soft target");
            for x in 0..l.nl {
                let row = &t[x * l.nl..(x + 1) * l.nl];
                assert!((row.iter().sum::<f64>() - 1.0).abs() < 1e-12);
                assert!(row.iter().all(|&v| v >= 0.0));
                let arg = (0..l.nl).fold(0, |b, j| if row[j] > row[b] { j } else { b });
                assert_eq!(arg, x, "{target:?}");
            }
            let z = rand_z(l.nl * l.nc, 5);
            check_world_gradient(
                &mut m,
                &w,
                &z,
                l.w_loc..l.w_obj,
                false,
                &format!("{target:?}"),
            );
        }
    }

    #[test]
    fn transition_inits_have_their_structure() {
        let ws = WorldSpec {
            size: 4,
            ..WorldSpec::default()
        };
        let nc = 8;
        let mk = |init: TransInit, scale: f64| {
            let spec = CellsSpec {
                n_cells: nc,
                trans_init: init,
                trans_init_scale: scale,
                ..CellsSpec::default()
            };
            let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(3);
            CellModel::<f64>::new(spec, ws.clone(), &mut rng)
        };
        let m = mk(TransInit::Orthogonal, 1.0);
        for a in 0..4 {
            let w = &m.theta[m.layout.trans(a)..m.layout.trans(a) + nc * nc];
            for i in 0..nc {
                for j in 0..nc {
                    let dot: f64 = (0..nc).map(|k| w[i * nc + k] * w[j * nc + k]).sum();
                    let eye = if i == j { 1.0 } else { 0.0 };
                    assert!((dot - eye).abs() < 1e-12, "W_{a} rows {i},{j}: {dot}");
                }
            }
        }
        // identity with zero noise is exactly I; the default is unchanged N(0, 1/n_c)
        let m = mk(TransInit::Identity, 0.0);
        let w = &m.theta[m.layout.trans(2)..m.layout.trans(2) + nc * nc];
        for (i, &v) in w.iter().enumerate() {
            assert_eq!(v, if i / nc == i % nc { 1.0 } else { 0.0 });
        }
        let spec = CellsSpec {
            n_cells: nc,
            ..CellsSpec::default()
        };
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(3);
        let a = CellModel::<f64>::new(spec, ws.clone(), &mut rng);
        let b = mk(TransInit::Random, 1.0);
        assert_eq!(a.theta, b.theta);
    }

    #[test]
    fn norm_projection_and_tolerance_shape_inference() {
        let (mut m, w) = small(CellActivation::Relu, false);
        m.spec.z_norm = 0.5;
        m.spec.clip_norm = 0.0;
        let nc = m.layout.nc;
        let mut z = rand_z(m.layout.nl * nc, 9);
        let mut scratch = [vec![0.0; z.len()], vec![0.0; z.len()], vec![0.0; z.len()]];
        let st = m.infer(&w, &mut z, &mut scratch);
        assert_eq!(st.steps, m.spec.euler_steps);
        assert_eq!(st.clipped_frac, 0.0);
        for row in z.chunks(nc) {
            let n = row.iter().map(|v| v * v).sum::<f64>().sqrt();
            assert!((n - 0.5).abs() < 1e-12 || n == 0.0, "row norm {n}");
            assert!(row.iter().all(|&v| v >= 0.0));
        }
        // floor: rows end at norm ≥ 0.5
        m.spec.z_norm_mode = NormMode::Floor;
        let mut z = rand_z(m.layout.nl * nc, 9);
        m.infer(&w, &mut z, &mut scratch);
        for row in z.chunks(nc) {
            let n = row.iter().map(|v| v * v).sum::<f64>().sqrt();
            assert!(n >= 0.5 - 1e-12 || n == 0.0, "row norm {n}");
        }
        // a huge tolerance stops after the first step; a tight clip clips every update
        m.spec.infer_tol = 1e9;
        m.spec.clip_norm = 1e-9;
        let mut z = rand_z(m.layout.nl * nc, 9);
        let st = m.infer(&w, &mut z, &mut scratch);
        assert_eq!(st.steps, 1);
        assert_eq!(st.clipped_frac, 1.0);
        assert!((st.last_update - 1e-9).abs() < 1e-15);
    }

    #[test]
    fn z0_gets_the_mean_z_gradient_and_pattern_formation_lowers_the_pi_loss() {
        let (m, w) = small(CellActivation::Relu, false);
        let l = m.layout;
        let mut st = Stepper::new(&l);
        let mut grad = vec![0.0; l.len];
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(0);
        st.loss_grad(&m, &[w.clone(), w.clone()], &mut grad, &mut rng);
        // two identical worlds: z0's gradient equals one world's z gradient
        let z = st.z[0].clone();
        let mut g1 = vec![0.0; l.len];
        let mut gz = vec![0.0; l.nl * l.nc];
        let mut logits = vec![0.0; l.nl * l.nl];
        let (mut u, mut d) = (gz.clone(), gz.clone());
        m.world_loss_grad(&w, &z, 1.0, &mut g1, &mut gz, &mut logits, &mut u, &mut d);
        for i in 0..gz.len() {
            assert!((grad[l.z0 + i] - gz[i]).abs() < 1e-12);
        }
        // inference lowers the structural loss from the initial z (with a small step)
        let mut m2 = m.clone();
        m2.spec.object_step = 0.0;
        m2.spec.pi_step = 0.02;
        m2.spec.euler_steps = 50;
        let z0 = m2.z_start(&mut rng);
        let mut z = z0.clone();
        let mut scratch = [vec![0.0; z.len()], vec![0.0; z.len()], vec![0.0; z.len()]];
        m2.infer(&w, &mut z, &mut scratch);
        assert!(half_pi(&m2, &z) < half_pi(&m2, &z0));
    }
}
