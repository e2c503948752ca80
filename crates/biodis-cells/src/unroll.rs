//! The weight step **through** the inference (`weight_step = "unrolled"`): exact reverse-mode
//! gradients of the loss at the inferred `z_K` with respect to every parameter the Euler steps
//! use (`W_a`, `W_o`, `b_o`) and to the start of inference (the learned `z0`), through the
//! norm clip, the nonnegative clamp and the norm projection. App. A.9 says only "optimise with
//! respect to the weights"; the default (`fixed_z`) holds `z` at its inferred value, so the
//! location loss reaches the code only through `z0`'s straight-through gradient. This is the
//! other natural reading (as in Gao et al.'s unrolled path integration).
//!
//! One Euler step `k` (see [`crate::model`]):
//! `Δ_k = −η g_PI(z_k) + O(z_k)`, `y_k = z_k + clip(Δ_k)`, `z_{k+1} = N(max(y_k, 0))`,
//! with `O(z)_x = η_o (1 − σ(w_o·z_x + b_o)) w_o` at object locations, `clip` the per-location
//! norm clip and `N` the per-location norm projection (each only when switched on). Given
//! `λ = ∂L/∂z_K`, the backward pass walks the steps in reverse:
//!
//! - `N` (sphere, or a floor that scaled the row): `λ ← (r/‖y‖)(λ − ŷ(ŷ·λ))`;
//! - clamp: `λ ← λ ⊙ 1[y > 0]`; `λ_Δ = clip'ᵀ λ` (the same projection form when clipped);
//! - `λ_z = λ − η J_gᵀ λ_Δ + J_Oᵀ λ_Δ`, and the parameter gradients of `−η g_PI` and `O`.
//!
//! For the structural term, with `u_p = W_a z_p`, `r = z_q − f(u_p)` over the pairs `(p, q)`,
//! and `v_p = W_a μ_p` for the adjoint `μ` of `g`: `ρ = μ_q − v_p ⊙ f'(u_p)`,
//! `e_p = −ρ ⊙ f'(u_p)`; then `∂/∂z_q += ρ`, `∂/∂z_p += W_aᵀ e_p`,
//! `∂/∂W_a += Σ_p e_p z_pᵀ − Σ_p (r ⊙ f'(u_p)) μ_pᵀ` (`f'' = 0` for ReLU and linear `f`).
//! Early stopping by `infer_tol` is treated as a fixed number of steps.

use crate::model::{sigmoid, CellModel, NormMode};
use biodis_data::gridworld::World;
use biodis_nn::Scalar;

/// What the forward pass of one inference records.
#[derive(Debug, Clone, Default)]
pub struct Tape<T: Scalar> {
    /// `z` before the start's projection.
    pub start_raw: Vec<T>,
    /// `z_k` before each step.
    pub z: Vec<Vec<T>>,
    /// The update `Δ_k` before the clip.
    pub delta: Vec<Vec<T>>,
    /// `y_k = z_k + clip(Δ_k)` before the clamp and the projection.
    pub y: Vec<Vec<T>>,
}

impl<T: Scalar> Tape<T> {
    pub fn clear(&mut self) {
        self.start_raw.clear();
        self.z.clear();
        self.delta.clear();
        self.y.clear();
    }
}

/// `λ ← (r/‖v‖)(λ − v̂(v̂·λ))`: the transposed Jacobian of `v ↦ r v/‖v‖` at one row `v` of norm
/// `n` (the norm projection, and the clip when it shortened the row).
fn radial_back<T: Scalar>(v: &[T], lam: &mut [T], n: f64, r: f64) {
    let dot: f64 = v
        .iter()
        .zip(lam.iter())
        .map(|(a, b)| (*a * *b).to_f64())
        .sum::<f64>()
        / (n * n);
    let s = r / n;
    for (l, vv) in lam.iter_mut().zip(v) {
        *l = T::from_f64(s * (l.to_f64() - dot * vv.to_f64()));
    }
}

fn row_norm<T: Scalar>(v: &[T]) -> f64 {
    v.iter().map(|x| (*x * *x).to_f64()).sum::<f64>().sqrt()
}

/// `λ ← J_Nᵀ λ` for the per-location projection of rows `y` onto radius `r` (in place).
fn project_back<T: Scalar>(y: &[T], lam: &mut [T], nc: usize, r: f64, mode: NormMode) {
    for (yr, lr) in y.chunks(nc).zip(lam.chunks_mut(nc)) {
        let n = row_norm(yr);
        if n > 0.0 && (mode == NormMode::Sphere || n < r) {
            radial_back(yr, lr, n, r);
        }
    }
}

impl<T: Scalar> CellModel<T> {
    /// Backward pass through the recorded inference: on entry `lam` is `∂L/∂z_K`, on exit
    /// `∂L/∂z_start` (before the start's projection); the parameter gradients of the Euler
    /// steps are added to `grad` (`lam` carries the batch scale, so they come out scaled).
    /// `work` holds five `n_l × n_c` buffers.
    pub fn backprop_inference(
        &self,
        world: &World,
        tape: &Tape<T>,
        lam: &mut [T],
        grad: &mut [T],
        work: &mut [Vec<T>; 5],
    ) {
        let l = self.layout;
        let (nl, nc, sp) = (l.nl, l.nc, &self.spec);
        let [mu, lz, u, v, e] = work;
        let (wo, bo) = (&self.theta[l.w_obj..l.b_obj], self.theta[l.b_obj]);
        let eta = sp.pi_step;
        for k in (0..tape.z.len()).rev() {
            let (zk, dk, yk) = (&tape.z[k], &tape.delta[k], &tape.y[k]);
            // through the projection, then the clamp (applied to y_k)
            if sp.z_norm > 0.0 {
                let clamped: Vec<T> = if sp.nonneg_projection {
                    yk.iter()
                        .map(|&x| if x < T::ZERO { T::ZERO } else { x })
                        .collect()
                } else {
                    yk.clone()
                };
                project_back(&clamped, lam, nc, sp.z_norm, sp.z_norm_mode);
            }
            if sp.nonneg_projection {
                for (lv, yv) in lam.iter_mut().zip(yk) {
                    if *yv <= T::ZERO {
                        *lv = T::ZERO;
                    }
                }
            }
            // λ_z starts as the identity path; μ = clip'ᵀ λ is the adjoint of Δ
            lz.copy_from_slice(lam);
            mu.copy_from_slice(lam);
            if sp.clip_norm > 0.0 {
                for (dr, mr) in dk.chunks(nc).zip(mu.chunks_mut(nc)) {
                    let n = row_norm(dr);
                    if n > sp.clip_norm {
                        radial_back(dr, mr, n, sp.clip_norm);
                    }
                }
            }
            // the object term O(z) at object locations
            if sp.object_step > 0.0 {
                let eo = sp.object_step;
                for &x in &world.objects {
                    let zx = &zk[x * nc..(x + 1) * nc];
                    let mx = &mu[x * nc..(x + 1) * nc];
                    let logit: f64 = zx
                        .iter()
                        .zip(wo)
                        .map(|(a, b)| (*a * *b).to_f64())
                        .sum::<f64>()
                        + bo.to_f64();
                    let sg = sigmoid(logit);
                    let lw: f64 = mx.iter().zip(wo).map(|(a, b)| (*a * *b).to_f64()).sum();
                    let c = -eo * sg * (1.0 - sg) * lw;
                    for i in 0..nc {
                        lz[x * nc + i] += T::from_f64(c * wo[i].to_f64());
                        grad[l.w_obj + i] +=
                            T::from_f64(eo * (1.0 - sg) * mx[i].to_f64() + c * zx[i].to_f64());
                    }
                    if sp.readout_bias {
                        grad[l.b_obj] += T::from_f64(c);
                    }
                }
            }
            // −η g_PI(z): the adjoint of g is −η μ
            mu.iter_mut()
                .for_each(|m| *m = T::from_f64(-eta * m.to_f64()));
            // the inference energies: infer_activity · z adds infer_activity · (−η μ) to λ_z;
            // the L1 term's subgradient is constant away from 0 and adds nothing
            if sp.infer_activity > 0.0 {
                let la = T::from_f64(sp.infer_activity);
                lz.iter_mut()
                    .zip(mu.iter())
                    .for_each(|(lv, m)| *lv += la * *m);
            }
            for a in 0..4 {
                let off = l.trans(a);
                let wa = &self.theta[off..off + nc * nc];
                gemm_nt(nl, nc, zk, wa, u);
                gemm_nt(nl, nc, mu, wa, v);
                e.iter_mut().for_each(|x| *x = T::ZERO);
                let gw = &mut grad[off..off + nc * nc];
                for &(p, q) in &self.pairs[a] {
                    for i in 0..nc {
                        let up = u[p * nc + i];
                        let fp = self.df(up);
                        let r = zk[q * nc + i] - self.f(up);
                        let rho = mu[q * nc + i] - v[p * nc + i] * fp;
                        lz[q * nc + i] += rho;
                        e[p * nc + i] = -rho * fp;
                        // −(r ⊙ f') μ_pᵀ
                        let dpi = r * fp;
                        if dpi != T::ZERO {
                            let mp = &mu[p * nc..(p + 1) * nc];
                            let row = &mut gw[i * nc..(i + 1) * nc];
                            for (g, m) in row.iter_mut().zip(mp) {
                                *g -= dpi * *m;
                            }
                        }
                    }
                }
                // λ_z += E W_a ; dW_a += Eᵀ Z
                for p in 0..nl {
                    let ep = &e[p * nc..(p + 1) * nc];
                    if ep.iter().all(|x| *x == T::ZERO) {
                        continue;
                    }
                    let zp = &zk[p * nc..(p + 1) * nc];
                    for i in 0..nc {
                        let ei = ep[i];
                        if ei == T::ZERO {
                            continue;
                        }
                        let wrow = &wa[i * nc..(i + 1) * nc];
                        let lrow = &mut lz[p * nc..(p + 1) * nc];
                        for (lv, w) in lrow.iter_mut().zip(wrow) {
                            *lv += ei * *w;
                        }
                        let grow = &mut gw[i * nc..(i + 1) * nc];
                        for (g, zv) in grow.iter_mut().zip(zp) {
                            *g += ei * *zv;
                        }
                    }
                }
            }
            lam.copy_from_slice(lz);
        }
        // the start's projection
        if sp.z_norm > 0.0 {
            let clamped: Vec<T> = if sp.nonneg_projection {
                tape.start_raw
                    .iter()
                    .map(|&x| if x < T::ZERO { T::ZERO } else { x })
                    .collect()
            } else {
                tape.start_raw.clone()
            };
            project_back(&clamped, lam, nc, sp.z_norm, sp.z_norm_mode);
            if sp.nonneg_projection {
                for (lv, yv) in lam.iter_mut().zip(&tape.start_raw) {
                    if *yv <= T::ZERO {
                        *lv = T::ZERO;
                    }
                }
            }
        }
    }
}

/// `c (m × n) = a (m × n) · bᵀ` for square `b` (`n × n`), row-major.
#[allow(unsafe_code, reason = "biodis-nn's raw-pointer GEMM on checked slices")]
fn gemm_nt<T: Scalar>(m: usize, n: usize, a: &[T], b: &[T], c: &mut [T]) {
    // SAFETY: a is m×n, b is n×n, c is m×n, contiguous row-major; c does not alias a or b.
    unsafe {
        T::gemm(
            m,
            n,
            n,
            T::ONE,
            a.as_ptr(),
            n as isize,
            1,
            b.as_ptr(),
            1,
            n as isize,
            T::ZERO,
            c.as_mut_ptr(),
            n as isize,
            1,
        )
    }
}

#[cfg(test)]
mod tests {
    use crate::model::*;
    use crate::{Layout, Stepper};
    use biodis_data::gridworld::{World, WorldSpec};
    use rand::{Rng, SeedableRng};

    fn model(
        act: CellActivation,
        z_norm: f64,
        mode: NormMode,
        clip: f64,
    ) -> (CellModel<f64>, Vec<World>) {
        let ws = WorldSpec {
            size: 5,
            max_objects: 3,
            min_distance: 2.0,
            ..WorldSpec::default()
        };
        let spec = CellsSpec {
            n_cells: 4,
            activation: act,
            nonneg_projection: act == CellActivation::Relu,
            readout_bias: true,
            weight_on_transitions: true,
            beta_weight: 0.3,
            init_scale: 1.0,
            euler_steps: 5,
            z_norm,
            z_norm_mode: mode,
            clip_norm: clip,
            weight_step: WeightStep::Unrolled,
            location_target: LocationTarget::Dog,
            location_sigma: 1.2,
            beta_location: 0.5,
            beta_pi: 2.0,
            beta_action: 0.3,
            ..CellsSpec::default()
        };
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(21);
        let mut m = CellModel::<f64>::new(spec, ws.clone(), &mut rng);
        for v in m.theta.iter_mut() {
            *v += rng.gen_range(-0.3..0.3);
        }
        m.theta[m.layout.b_obj] = 0.2;
        (m, vec![ws.world_with(vec![6, 18]), ws.world_with(vec![12])])
    }

    fn loss(m: &CellModel<f64>, worlds: &[World]) -> f64 {
        let mut st = Stepper::new(&m.layout);
        let mut g = vec![0.0; m.layout.len];
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(0);
        st.loss_grad(m, worlds, &mut g, &mut rng).total
    }

    fn check(mut m: CellModel<f64>, worlds: &[World], what: &str) {
        let l: Layout = m.layout;
        let mut st = Stepper::new(&l);
        let mut grad = vec![0.0; l.len];
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(0);
        st.loss_grad(&m, worlds, &mut grad, &mut rng);
        let mut fd_at = |i: usize, h: f64| {
            let v = m.theta[i];
            m.theta[i] = v + h;
            let lp = loss(&m, worlds);
            m.theta[i] = v - h;
            let lm = loss(&m, worlds);
            m.theta[i] = v;
            (lp - lm) / (2.0 * h)
        };
        // The forward map has kinks and jumps (the clamp, the clip, a row clamped to all
        // zeros that the projection then leaves at 0): where central differences at two step
        // sizes disagree, θ sits within h of one and the check does not apply there.
        let mut kinks = 0;
        #[allow(clippy::needless_range_loop)]
        for i in 0..l.len {
            let (fd, fd2) = (fd_at(i, 1e-6), fd_at(i, 1e-7));
            if (fd - fd2).abs() > 1e-3 * (1.0 + fd.abs()) {
                kinks += 1;
                continue;
            }
            let err = (fd - grad[i]).abs() / (1.0 + fd.abs());
            assert!(err < 1e-5, "{what} θ[{i}]: analytic {} fd {fd}", grad[i]);
        }
        assert!(
            kinks * 50 <= l.len,
            "{what}: {kinks} of {} at a kink",
            l.len
        );
    }

    #[test]
    fn unrolled_gradient_matches_finite_differences_with_clip_clamp_and_projection() {
        let (m, w) = model(CellActivation::Relu, 0.8, NormMode::Sphere, 0.3);
        // the clip and the clamp are active somewhere, or the test would not test them
        let mut z = m.z_start(&mut rand_chacha::ChaCha8Rng::seed_from_u64(0));
        let mut scratch = [vec![0.0; z.len()], vec![0.0; z.len()], vec![0.0; z.len()]];
        let mut tape = super::Tape::default();
        let st = m.infer_recorded(&w[0], &mut z, &mut scratch, Some(&mut tape));
        assert!(st.clipped_frac > 0.0 && st.clipped_frac < 1.0, "{st:?}");
        assert!(tape.y.iter().flatten().any(|&v| v < 0.0));
        check(m, &w, "relu sphere clip");
        let (m, w) = model(CellActivation::Relu, 1.1, NormMode::Floor, 0.0);
        check(m, &w, "relu floor");
        let (m, w) = model(CellActivation::Linear, 0.0, NormMode::Sphere, 0.5);
        check(m, &w, "linear clip");
        // the squared-error location loss on the unshifted DoG, through the unrolled steps
        let (mut m, w) = model(CellActivation::Relu, 1.1, NormMode::Floor, 0.3);
        m.spec.location_target = LocationTarget::DogUnshifted;
        m.spec.location_loss = crate::LocationLoss::SquaredError;
        m.target = crate::location_targets(&m.spec, &m.world);
        check(m, &w, "relu floor squared error");
        // the inference-time activity energy and L1 sparsity (departures from A.9)
        let (mut m, w) = model(CellActivation::Relu, 1.1, NormMode::Floor, 0.3);
        m.spec.infer_activity = 0.7;
        m.spec.infer_sparsity = 0.05;
        check(m, &w, "relu floor, inference energies");
        let (mut m, w) = model(CellActivation::Linear, 0.0, NormMode::Sphere, 0.0);
        m.spec.infer_activity = 1.3;
        check(m, &w, "linear, inference activity energy");
    }

    #[test]
    fn unrolled_and_fixed_z_agree_without_inference() {
        // with no Euler steps and no projection, both weight steps are the same gradient
        let (mut m, w) = model(CellActivation::Relu, 0.0, NormMode::Sphere, 1.0);
        m.spec.euler_steps = 0;
        let l = m.layout;
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(0);
        let (mut g1, mut g2) = (vec![0.0; l.len], vec![0.0; l.len]);
        Stepper::new(&l).loss_grad(&m, &w, &mut g1, &mut rng);
        m.spec.weight_step = WeightStep::FixedZ;
        Stepper::new(&l).loss_grad(&m, &w, &mut g2, &mut rng);
        for i in 0..l.len {
            assert!(
                (g1[i] - g2[i]).abs() < 1e-12,
                "θ[{i}]: {} vs {}",
                g1[i],
                g2[i]
            );
        }
    }
}
