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
//! | `location_target`, `location_sigma`, `location_surround` | `one_hot` (eq. 49), `gaussian`, `dog`, `dog_unshifted` | a departure: Sorscher et al. (DoG), Gao et al. (Gaussian) |
//! | `location_loss` | `cross_entropy` (eq. 49), `squared_error` (of the linear readout) | a departure: Sorscher et al.'s linear place-cell readout |
//! | `readout_bias` | biases on the object/action readouts | eqs. 50–51 have none |
//! | `world.periodic` | torus or walls | not in A.9 |
//!
//! ## Where the code lives
//!
//! | module | what |
//! |---|---|
//! | `spec` | the `[cells]` settings ([`CellsSpec`] and its enums), defaults and validation |
//! | `params` | the parameter [`Layout`], [`CellModel`] and its initialisation, the soft [`location_targets`] |
//! | `infer` | inference: the start `z`, the structural gradient, the Euler steps ([`InferStats`]) |
//! | `learn` | the weight step: the readout, structural and biological losses with their gradient ([`CellLoss`]), the weight energy, the batch [`Stepper`] |
//! | `kernels` | the numerical helpers: sigmoid, softplus, the GEMM wrapper |

mod infer;
mod kernels;
mod learn;
mod params;
mod spec;

pub use infer::InferStats;
pub(crate) use kernels::sigmoid;
pub use learn::{CellLoss, Stepper};
pub use params::{location_fit, location_targets, target_wavelength, CellModel, Layout};
pub use spec::{
    CellActivation, CellsSpec, LocationLoss, LocationTarget, NormMode, TransInit, WeightStep, ZInit,
};

#[cfg(test)]
mod tests;
