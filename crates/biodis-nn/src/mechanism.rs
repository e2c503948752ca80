//! The mechanism of Fig 2's effect, measured along training (issue #22; paper §3, App. A.3.1).
//!
//! App. A.3.1 shows that for a nonnegative linear code `z = M e + b` of independent factors of
//! half-range `a`, the activity energy is `E‖z‖² = (1 + a²/σ²) Σ_j Var(z_j) + C(M)` with the
//! **cross term** `C(M) = a² Σ_j Σ_{k≠l} |M_jk| |M_jl|`: at fixed variance, the energy is lowest
//! when no neuron mixes two factors, which is disentanglement. Training feels this force as
//! `β_activity ∇C`, while each Adam step also carries the minibatch noise of the whole
//! loss's gradient. [`cross_term`] computes `C` and its gradient with respect to the first
//! layer's weights for an input that is linear in the factors (`x = A e`, so `M = Wᵀ A`);
//! [`gradient_noise`] estimates the per-minibatch spread of the gradient on the same weights,
//! in total and along the cross term's direction. Both are in the units of the gradient of
//! the training loss (per parameter, before Adam's normalisation, which divides both alike).

use crate::{Constraints, Mlp, Normalisation};

/// The centred half-range `a` of the factor tasks' `U[0, 1]` factors (App. A.4): `e − ½ ∈
/// [−½, ½]`.
pub const UNIFORM_HALF_RANGE: f64 = 0.5;

/// The cross term of App. A.3.1 at the current first layer, and its gradient.
#[derive(Debug, Clone, PartialEq)]
pub struct CrossTerm {
    /// `C(M) = a² Σ_j Σ_{k≠l} |M_jk||M_jl|` (unscaled by β).
    pub value: f64,
    /// `∂C/∂W`, the same `[in, out]` row-major layout as the weight.
    pub grad_w: Vec<f64>,
}

/// `C(M)` and `∂C/∂W` for `M = Wᵀ A`: `w` is the first layer's weight (`din × dout`,
/// row-major, `h = x W`), `mixing` is `A` (`din × k`, row-major, `x = A e`) and `half_range`
/// the factors' `a`. `∂C/∂M_jk = 2a² sign(M_jk) (Σ_l |M_jl| − |M_jk|)`, `∂C/∂W = A (∂C/∂M)ᵀ`
/// (at `M_jk = 0` the subgradient 0 is used).
pub fn cross_term(
    w: &[f64],
    din: usize,
    dout: usize,
    mixing: &[f64],
    k: usize,
    half_range: f64,
) -> CrossTerm {
    assert_eq!(w.len(), din * dout, "weight is din × dout");
    assert_eq!(mixing.len(), din * k, "mixing is din × k");
    let a2 = half_range * half_range;
    let mut m = vec![0f64; dout * k];
    for i in 0..din {
        for j in 0..dout {
            let wij = w[i * dout + j];
            for f in 0..k {
                m[j * k + f] += wij * mixing[i * k + f];
            }
        }
    }
    let mut value = 0.0;
    let mut gm = vec![0f64; dout * k];
    for j in 0..dout {
        let row = &m[j * k..(j + 1) * k];
        let s: f64 = row.iter().map(|v| v.abs()).sum();
        let sq: f64 = row.iter().map(|v| v * v).sum();
        value += a2 * (s * s - sq);
        for f in 0..k {
            let v = row[f];
            let sign = if v > 0.0 {
                1.0
            } else if v < 0.0 {
                -1.0
            } else {
                0.0
            };
            gm[j * k + f] = 2.0 * a2 * sign * (s - v.abs());
        }
    }
    let mut grad_w = vec![0f64; din * dout];
    for i in 0..din {
        for j in 0..dout {
            grad_w[i * dout + j] = (0..k).map(|f| mixing[i * k + f] * gm[j * k + f]).sum();
        }
    }
    CrossTerm { value, grad_w }
}

/// The factor by which the training loss weights `C` on hidden layer 0: `β_activity` (the
/// `sum` normalisation: summed over neurons, averaged over the batch), divided by the width
/// under `mean`.
pub fn cross_term_scale(c: &Constraints, width: usize) -> f64 {
    let beta = c.activity_beta(0);
    match c.normalisation {
        Normalisation::Sum => beta,
        Normalisation::Mean => beta / width.max(1) as f64,
    }
}

/// The spread of the minibatch gradient on the first layer's weights.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct GradientNoise {
    /// `‖ḡ‖`: the norm of the mean of the minibatch gradients (an estimate of the full-batch
    /// gradient).
    pub mean_norm: f64,
    /// `sqrt(Σ_i ‖g_i − ḡ‖² / (K − 1))`: the per-minibatch standard deviation, Frobenius.
    pub noise: f64,
    /// The standard deviation of `⟨g_i, u⟩` over the minibatches, `u` the unit vector along
    /// the cross term's gradient (NaN when that gradient is zero).
    pub noise_along: f64,
}

/// Draws `batches` minibatches of `b` rows with `draw()` giving row indices, computes the
/// whole loss's gradient on each, and returns the spread of its first-layer weight part.
/// `direction` is the cross term's gradient (same layout as the weight). Overwrites the
/// network's gradient buffer (call it between steps, never between a gradient and its step).
#[allow(
    clippy::too_many_arguments,
    reason = "data, shape and sampling are separate inputs"
)]
pub fn gradient_noise(
    net: &mut Mlp<f32>,
    x: &[f32],
    y: &[f32],
    c: &Constraints,
    b: usize,
    batches: usize,
    direction: &[f64],
    mut draw: impl FnMut() -> usize,
) -> GradientNoise {
    let (dx, dy) = (net.spec.dims[0], net.spec.dims[net.spec.dims.len() - 1]);
    let nw = net.weight(0).len();
    let mut xb = vec![0f32; b * dx];
    let mut yb = vec![0f32; b * dy];
    let mut grads: Vec<Vec<f64>> = Vec::with_capacity(batches);
    for _ in 0..batches {
        for r in 0..b {
            let s = draw();
            xb[r * dx..(r + 1) * dx].copy_from_slice(&x[s * dx..(s + 1) * dx]);
            yb[r * dy..(r + 1) * dy].copy_from_slice(&y[s * dy..(s + 1) * dy]);
        }
        net.loss_and_grad(&xb, &yb, b, c);
        grads.push(net.weight_grad(0).iter().map(|&v| v as f64).collect());
    }
    let kf = batches as f64;
    let mut mean = vec![0f64; nw];
    for g in &grads {
        for (m, v) in mean.iter_mut().zip(g) {
            *m += v / kf;
        }
    }
    let mean_norm = mean.iter().map(|v| v * v).sum::<f64>().sqrt();
    let ss: f64 = grads
        .iter()
        .map(|g| {
            g.iter()
                .zip(&mean)
                .map(|(v, m)| (v - m).powi(2))
                .sum::<f64>()
        })
        .sum();
    let noise = (ss / (kf - 1.0).max(1.0)).sqrt();
    let dn = direction.iter().map(|v| v * v).sum::<f64>().sqrt();
    let noise_along = if dn > 0.0 {
        let proj: Vec<f64> = grads
            .iter()
            .map(|g| g.iter().zip(direction).map(|(v, d)| v * d).sum::<f64>() / dn)
            .collect();
        let pm = proj.iter().sum::<f64>() / kf;
        (proj.iter().map(|p| (p - pm).powi(2)).sum::<f64>() / (kf - 1.0).max(1.0)).sqrt()
    } else {
        f64::NAN
    };
    GradientNoise {
        mean_norm,
        noise,
        noise_along,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::{Rng, SeedableRng};

    fn gaussian(n: usize, rng: &mut rand_chacha::ChaCha8Rng) -> Vec<f64> {
        (0..n).map(|_| rng.gen::<f64>() * 2.0 - 1.0).collect()
    }

    /// Finite differences (f64, central) of `C` in every weight.
    #[test]
    fn cross_term_gradient_matches_finite_differences() {
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(3);
        let (din, dout, k) = (5, 7, 4);
        let w = gaussian(din * dout, &mut rng);
        let a = gaussian(din * k, &mut rng);
        let ct = cross_term(&w, din, dout, &a, k, 0.5);
        let h = 1e-6;
        for p in 0..w.len() {
            let (mut wp, mut wm) = (w.clone(), w.clone());
            wp[p] += h;
            wm[p] -= h;
            let fd = (cross_term(&wp, din, dout, &a, k, 0.5).value
                - cross_term(&wm, din, dout, &a, k, 0.5).value)
                / (2.0 * h);
            let g = ct.grad_w[p];
            assert!(
                (fd - g).abs() <= 1e-7 * (1.0 + g.abs()),
                "weight {p}: finite difference {fd} vs analytic {g}"
            );
        }
    }

    /// A disentangled code (one nonzero per row of M) has no cross term; one mixing neuron has
    /// exactly `2a²|M_j0||M_j1|`.
    #[test]
    fn cross_term_is_zero_exactly_when_disentangled() {
        let (din, dout, k) = (3, 3, 3);
        let eye: Vec<f64> = (0..9).map(|i| if i % 4 == 0 { 1.0 } else { 0.0 }).collect();
        // W = diag(2, −3, 0.5): M = Wᵀ I is diagonal
        let w = vec![2.0, 0.0, 0.0, 0.0, -3.0, 0.0, 0.0, 0.0, 0.5];
        assert_eq!(cross_term(&w, din, dout, &eye, k, 0.5).value, 0.0);
        // neuron 0 mixes factors 0 and 1 with weights 2 and −1
        let mut w2 = w.clone();
        w2[3] = -1.0; // W[1,0]
        let v = cross_term(&w2, din, dout, &eye, k, 0.5).value;
        assert!((v - 2.0 * 0.25 * 2.0 * 1.0).abs() < 1e-12, "{v}");
    }
}
