//! Diagnostics of the grid-world model's inference and transitions (written to every run's
//! `curve.csv`): whether inference keeps or collapses the code, whether the Euler updates are
//! clipped, whether the maps are period-2 checkerboards, and what the transitions `W_a` look
//! like (`shared/reference/gridworld-diagnosis.md` names each as a cause of absent grid cells).
//!
//! Conventions: norms are L2 per location, averaged over locations and worlds; the PI residual
//! is the **unscaled** structural residual `Σ_a Σ_(p,q) ‖z(q) − f(W_a z(p))‖² / n_l` (no β_PI),
//! averaged over worlds.

use crate::model::{CellModel, InferStats};
use biodis_data::gridworld::World;
use serde::{Deserialize, Serialize};

/// Diagnostics of one evaluation (means over the evaluation worlds).
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct Diagnostics {
    /// Mean per-location `‖z(x)‖` at the start of inference (after the start's projection).
    #[serde(with = "biodis_rundir::nan::scalar")]
    pub z_norm_start: f64,
    /// Mean per-location `‖z(x)‖` after inference.
    #[serde(with = "biodis_rundir::nan::scalar")]
    pub z_norm_end: f64,
    /// Unscaled PI residual per location after inference (see the module docs).
    #[serde(with = "biodis_rundir::nan::scalar")]
    pub pi_residual: f64,
    /// Fraction of per-location Euler updates shortened by the clip.
    #[serde(with = "biodis_rundir::nan::scalar")]
    pub clipped_frac: f64,
    /// Euler steps taken (mean over worlds).
    #[serde(with = "biodis_rundir::nan::scalar")]
    pub infer_steps: f64,
    /// Mean per-location update norm of the last Euler step.
    #[serde(with = "biodis_rundir::nan::scalar")]
    pub last_update: f64,
    /// Fraction of the maps' variance in the `(π, π)` checkerboard mode `(−1)^{r+c}`, pooled
    /// over active cells and worlds (0 for smooth maps, 1 for a pure checkerboard).
    #[serde(with = "biodis_rundir::nan::scalar")]
    pub checkerboard: f64,
    /// Spectral radius of `W_a` (Gelfand estimate `‖W_a^128‖_F^{1/128}`), mean over actions.
    #[serde(with = "biodis_rundir::nan::scalar")]
    pub wa_radius: f64,
    /// `tr(W_a) / (n_c ρ(W_a))`, mean over actions: the modulus-weighted mean cosine of the
    /// eigen-angles relative to the spectral radius — 1 for an identity-like transition whose
    /// eigenvalues all sit at `ρ` on the positive real axis, ≈ 0 for a random one.
    #[serde(with = "biodis_rundir::nan::scalar")]
    pub wa_trace_cos: f64,
    /// `‖W_a − I‖_F / √n_c`, mean over actions.
    #[serde(with = "biodis_rundir::nan::scalar")]
    pub wa_identity_dist: f64,
}

fn mean_row_norm(z: &[f32], nc: usize) -> f64 {
    let rows = z.len() / nc;
    z.chunks(nc)
        .map(|r| r.iter().map(|v| (*v as f64).powi(2)).sum::<f64>().sqrt())
        .sum::<f64>()
        / rows.max(1) as f64
}

/// Fraction of the variance of the maps in `zs` (`n_l × n_c` each, `size × size` lattice) that
/// lies in the `(π, π)` mode.
pub fn checkerboard_power(zs: &[Vec<f32>], nc: usize, size: usize) -> f64 {
    let nl = size * size;
    let (mut num, mut den) = (0.0, 0.0);
    for z in zs {
        for i in 0..nc {
            let m: f64 = (0..nl).map(|x| z[x * nc + i] as f64).sum::<f64>() / nl as f64;
            let (mut proj, mut var) = (0.0, 0.0);
            for x in 0..nl {
                let v = z[x * nc + i] as f64 - m;
                let sign = if (x / size + x % size).is_multiple_of(2) {
                    1.0
                } else {
                    -1.0
                };
                proj += sign * v;
                var += v * v;
            }
            num += proj * proj / nl as f64;
            den += var;
        }
    }
    if den > 0.0 {
        num / den
    } else {
        f64::NAN
    }
}

fn matmul(a: &[f64], b: &[f64], n: usize) -> Vec<f64> {
    let mut c = vec![0.0; n * n];
    for i in 0..n {
        for k in 0..n {
            let aik = a[i * n + k];
            if aik == 0.0 {
                continue;
            }
            for j in 0..n {
                c[i * n + j] += aik * b[k * n + j];
            }
        }
    }
    c
}

/// Spectral radius estimate `‖W^128‖_F^{1/128}` by repeated squaring with renormalisation (row-
/// major `n × n`); exact for normal matrices up to a factor `n^{1/256}`.
pub fn spectral_radius(w: &[f64], n: usize) -> f64 {
    let fro = |m: &[f64]| m.iter().map(|v| v * v).sum::<f64>().sqrt();
    let c0 = fro(w);
    if c0 == 0.0 {
        return 0.0;
    }
    let mut log = c0.ln();
    let mut m: Vec<f64> = w.iter().map(|v| v / c0).collect();
    let mut power = 1.0;
    for _ in 0..7 {
        let sq = matmul(&m, &m, n);
        let c = fro(&sq);
        if c == 0.0 {
            return 0.0;
        }
        log = 2.0 * log + c.ln();
        power *= 2.0;
        m = sq.iter().map(|v| v / c).collect();
    }
    (log / power).exp()
}

/// Diagnostics of `model` on `worlds` with their starts `z_start`, inferred codes `zs` and
/// inference statistics.
pub fn diagnose(
    model: &CellModel<f32>,
    worlds: &[World],
    z_start: &[Vec<f32>],
    zs: &[Vec<f32>],
    stats: &[InferStats],
) -> Diagnostics {
    let l = model.layout;
    let (nl, nc) = (l.nl, l.nc);
    let nw = worlds.len().max(1) as f64;
    let mut d = Diagnostics::default();
    let mut g = vec![0.0f32; nl * nc];
    let (mut u, mut dd) = (g.clone(), g.clone());
    for (k, z) in zs.iter().enumerate() {
        d.z_norm_start += mean_row_norm(&z_start[k], nc) / nw;
        d.z_norm_end += mean_row_norm(z, nc) / nw;
        d.pi_residual += model.pi_grad(z, &mut g, &mut u, &mut dd) / nl as f64 / nw;
    }
    for s in stats {
        d.clipped_frac += s.clipped_frac / nw;
        d.infer_steps += s.steps as f64 / nw;
        d.last_update += s.last_update / nw;
    }
    d.checkerboard = checkerboard_power(zs, nc, model.world.size);
    for a in 0..4 {
        let off = l.trans(a);
        let w: Vec<f64> = model.theta[off..off + nc * nc]
            .iter()
            .map(|&v| v as f64)
            .collect();
        let rho = spectral_radius(&w, nc);
        let tr: f64 = (0..nc).map(|i| w[i * nc + i]).sum();
        let dist: f64 = (0..nc * nc)
            .map(|i| {
                let eye = if i / nc == i % nc { 1.0 } else { 0.0 };
                (w[i] - eye).powi(2)
            })
            .sum::<f64>()
            .sqrt();
        d.wa_radius += rho / 4.0;
        d.wa_trace_cos += if rho > 0.0 {
            tr / (nc as f64 * rho) / 4.0
        } else {
            f64::NAN
        };
        d.wa_identity_dist += dist / (nc as f64).sqrt() / 4.0;
    }
    d
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn checkerboard_power_of_known_maps() {
        let size = 6;
        let nl = size * size;
        // one cell, a pure checkerboard, and one a smooth ramp
        let cb: Vec<f32> = (0..nl)
            .map(|x| ((x / size + x % size) % 2) as f32)
            .collect();
        assert!((checkerboard_power(&[cb], 1, size) - 1.0).abs() < 1e-12);
        let ramp: Vec<f32> = (0..nl).map(|x| (x / size) as f32).collect();
        assert!(checkerboard_power(&[ramp], 1, size) < 1e-12);
    }

    #[test]
    fn spectral_radius_of_known_matrices() {
        // diagonal: the largest modulus
        let n = 3;
        let w = vec![0.5, 0.0, 0.0, 0.0, -2.0, 0.0, 0.0, 0.0, 1.0];
        assert!((spectral_radius(&w, n) - 2.0).abs() < 2.0 * 0.01);
        // a rotation by 90° (eigenvalues ±i): radius 1
        let r = vec![0.0, -1.0, 1.0, 0.0];
        assert!((spectral_radius(&r, 2) - 1.0).abs() < 0.01);
        // nilpotent: radius 0
        let z = vec![0.0, 1.0, 0.0, 0.0];
        assert_eq!(spectral_radius(&z, 2), 0.0);
    }
}
