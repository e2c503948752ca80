//! Inference (pattern formation, eqs. 54–55): the start of `z`, the structural gradient
//! `g_PI` and the Euler steps.

use super::kernels::{gemm, sigmoid};
use super::params::CellModel;
use super::spec::{NormMode, ZInit};
use biodis_data::gridworld::World;
use biodis_nn::Scalar;
use rand::Rng;
use rand_distr::{Distribution, StandardNormal};
use serde::{Deserialize, Serialize};

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

impl<T: Scalar> CellModel<T> {
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

    /// Adds the gradients of the inference-time energies (`infer_activity`,
    /// `infer_sparsity`; both 0 in A.9) at `z` into `g`, on the scale of [`Self::pi_grad`].
    pub fn add_infer_energies(&self, z: &[T], g: &mut [T]) {
        let sp = &self.spec;
        if sp.infer_activity == 0.0 && sp.infer_sparsity == 0.0 {
            return;
        }
        let (la, ls) = (
            T::from_f64(sp.infer_activity),
            T::from_f64(sp.infer_sparsity),
        );
        for (gi, &zi) in g.iter_mut().zip(z) {
            *gi += la * zi;
            if zi > T::ZERO {
                *gi += ls;
            } else if zi < T::ZERO {
                *gi -= ls;
            }
        }
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
            self.add_infer_energies(z, g);
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
}
