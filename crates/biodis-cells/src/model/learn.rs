//! The weight step (eqs. 45–52): the loss of one world at fixed `z` and its gradient, the
//! weight energy, and the [`Stepper`] that infers a batch of worlds and averages.

use super::kernels::{gemm, sigmoid, softplus};
use super::params::{CellModel, Layout};
use super::spec::{LocationLoss, WeightStep, ZInit};
use biodis_data::gridworld::World;
use biodis_nn::Scalar;
use rand::Rng;
use serde::{Deserialize, Serialize};

/// Loss terms of the weight step (each already multiplied by its β; means over worlds).
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct CellLoss {
    #[serde(with = "biodis_rundir::nan::scalar")]
    pub total: f64,
    #[serde(with = "biodis_rundir::nan::scalar")]
    pub location: f64,
    #[serde(with = "biodis_rundir::nan::scalar")]
    pub object: f64,
    #[serde(with = "biodis_rundir::nan::scalar")]
    pub action: f64,
    #[serde(with = "biodis_rundir::nan::scalar")]
    pub pi: f64,
    #[serde(with = "biodis_rundir::nan::scalar")]
    pub nonneg: f64,
    #[serde(with = "biodis_rundir::nan::scalar")]
    pub activity: f64,
    #[serde(with = "biodis_rundir::nan::scalar")]
    pub weight: f64,
    /// Fraction of locations whose location readout's argmax is right.
    #[serde(with = "biodis_rundir::nan::scalar")]
    pub location_acc: f64,
    /// Fraction of (location, action) pairs predicted right (logit > 0 ⇔ optimal).
    #[serde(with = "biodis_rundir::nan::scalar")]
    pub action_acc: f64,
    /// Fraction of object locations whose object logit is > 0.
    #[serde(with = "biodis_rundir::nan::scalar")]
    pub object_hit: f64,
    /// `action_acc` of the trivial readout that predicts "not optimal" for every action
    /// everywhere (the baseline `action_acc` must beat).
    #[serde(default, with = "biodis_rundir::nan::scalar")]
    pub action_zero_acc: f64,
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

impl<T: Scalar> CellModel<T> {
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

        // location: softmax cross-entropy (eq. 49) or squared error on the readout z W_lᵀ
        let wl = &self.theta[l.w_loc..l.w_obj];
        gemm(nl, nc, nl, T::ONE, z, false, wl, true, T::ZERO, logits);
        let c_loc = sp.beta_location * inv;
        let squared = sp.location_loss == LocationLoss::SquaredError;
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
            if squared {
                // Σ_j (p_j − y_j)², y one-hot or the soft target row
                for (j, v) in row.iter_mut().enumerate() {
                    let y = match &self.target {
                        None => f64::from(u8::from(j == x)),
                        Some(t) => t[x * nl + j],
                    };
                    let r = v.to_f64() - y;
                    loc += r * r;
                    *v = T::from_f64(2.0 * c_loc * r);
                }
                continue;
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
