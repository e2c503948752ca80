//! The energy objectives of App. A.3.3/A.3.5/A.7 and a small optimiser for them.
//!
//! For a representation `z = F e + b` that is nonnegative with the minimal bias and that
//! predicts `x = D e` exactly through `W = D F⁺`:
//!
//! `L(F) = α ‖F‖² + γ Σ_j Σ_{k≠l} |F_jk||F_jl| + β Tr(G (FᵀF)⁻¹)`, with `G = DᵀD`,
//!
//! where `α = σ² + a²`, `γ = a²` (eq. 32: `E‖z‖² + β_w ‖W‖²_F`, using `‖D F⁺‖² = Tr(G (FᵀF)⁻¹)`).
//! For one-hot categories (A.7) `α = 1/c`, `γ = 0`, `G = I` and `F ≥ 0`.
//!
//! The optimiser is gradient descent with Armijo backtracking on a smoothed objective
//! (`|x| ≈ √(x² + ε²)`, ε decreasing 1e-2 → 1e-7); with `nonneg` it projects onto `F ≥ 0`
//! instead (the cross term is then 0 and no smoothing is needed).

use crate::linalg::{frob2, inv, mul, t, trace, Mat};

/// Objective parameters.
#[derive(Debug, Clone)]
pub struct Objective {
    pub alpha: f64,
    pub gamma: f64,
    pub beta: f64,
    pub g: Mat,
    pub nonneg: bool,
}

/// `Σ_j [(Σ_k |F_jk|)² − Σ_k F_jk²]`.
pub fn cross_term(f: &Mat) -> f64 {
    f.iter()
        .map(|r| {
            let s: f64 = r.iter().map(|v| v.abs()).sum();
            s * s - r.iter().map(|v| v * v).sum::<f64>()
        })
        .sum()
}

/// Mean and minimum row purity `max_k |F_jk| / Σ_k |F_jk|` over active rows (row norm above
/// 1e-3 of the largest).
pub fn purity(f: &Mat) -> (f64, f64) {
    let norms: Vec<f64> = f
        .iter()
        .map(|r| r.iter().map(|v| v * v).sum::<f64>().sqrt())
        .collect();
    let mx = norms.iter().cloned().fold(0.0, f64::max);
    let p: Vec<f64> = f
        .iter()
        .zip(&norms)
        .filter(|(_, &n)| n > 1e-3 * mx)
        .map(|(r, _)| {
            r.iter().map(|v| v.abs()).fold(0.0, f64::max) / r.iter().map(|v| v.abs()).sum::<f64>()
        })
        .collect();
    if p.is_empty() {
        return (f64::NAN, f64::NAN);
    }
    (
        p.iter().sum::<f64>() / p.len() as f64,
        p.iter().cloned().fold(1.0, f64::min),
    )
}

impl Objective {
    /// Exact value (`f64::INFINITY` if `FᵀF` is singular).
    pub fn value(&self, f: &Mat) -> f64 {
        let ftf = mul(&t(f), f);
        match inv(&ftf) {
            Some(p) => {
                self.alpha * frob2(f)
                    + self.gamma * cross_term(f)
                    + self.beta * trace(&mul(&self.g, &p))
            }
            None => f64::INFINITY,
        }
    }

    fn smoothed(&self, f: &Mat, eps: f64, grad: &mut Mat) -> f64 {
        let (n, k) = (f.len(), f[0].len());
        let ftf = mul(&t(f), f);
        let Some(p) = inv(&ftf) else {
            return f64::INFINITY;
        };
        let pgp = mul(&mul(&p, &self.g), &p);
        let fpgp = mul(f, &pgp);
        let mut val = self.alpha * frob2(f) + self.beta * trace(&mul(&self.g, &p));
        for j in 0..n {
            let s: Vec<f64> = f[j].iter().map(|v| (v * v + eps * eps).sqrt()).collect();
            let sum: f64 = s.iter().sum();
            if self.gamma > 0.0 {
                val += self.gamma * (sum * sum - s.iter().map(|v| v * v).sum::<f64>());
            }
            for c in 0..k {
                let mut g = 2.0 * self.alpha * f[j][c] - 2.0 * self.beta * fpgp[j][c];
                if self.gamma > 0.0 {
                    g += self.gamma * 2.0 * (sum - s[c]) * f[j][c] / s[c];
                }
                grad[j][c] = g;
            }
        }
        val
    }

    /// Minimises from `f0`; returns the final `F`.
    pub fn minimise(&self, f0: &Mat, iters_per_stage: usize) -> Mat {
        let (n, k) = (f0.len(), f0[0].len());
        let mut f = f0.clone();
        if self.nonneg {
            for v in f.iter_mut().flatten() {
                *v = v.abs();
            }
        }
        let stages: &[f64] = if self.gamma > 0.0 {
            &[1e-2, 1e-3, 1e-4, 1e-5, 1e-6, 1e-7]
        } else {
            &[0.0]
        };
        let mut grad = vec![vec![0.0; k]; n];
        for &eps in stages {
            let mut step = 1e-2;
            let mut val = self.smoothed(&f, eps, &mut grad);
            for _ in 0..iters_per_stage {
                let g2: f64 = frob2(&grad);
                if g2 < 1e-26 {
                    break;
                }
                let mut accepted = false;
                let mut trial_grad = vec![vec![0.0; k]; n];
                for _ in 0..60 {
                    let mut trial: Mat = f
                        .iter()
                        .zip(&grad)
                        .map(|(r, g)| r.iter().zip(g).map(|(a, b)| a - step * b).collect())
                        .collect();
                    if self.nonneg {
                        for v in trial.iter_mut().flatten() {
                            *v = v.max(0.0);
                        }
                    }
                    let dec: f64 = f
                        .iter()
                        .flatten()
                        .zip(trial.iter().flatten())
                        .zip(grad.iter().flatten())
                        .map(|((a, b), g)| g * (a - b))
                        .sum();
                    let tv = self.smoothed(&trial, eps, &mut trial_grad);
                    if tv.is_finite() && tv <= val - 1e-4 * dec.max(0.0) && tv <= val {
                        f = trial;
                        val = tv;
                        std::mem::swap(&mut grad, &mut trial_grad);
                        accepted = true;
                        step *= 1.5;
                        break;
                    }
                    step *= 0.5;
                }
                if !accepted {
                    break;
                }
            }
        }
        f
    }
}
