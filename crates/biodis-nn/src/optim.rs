//! Adam (Kingma & Ba 2014) exactly as PyTorch's `torch.optim.Adam` (no weight decay,
//! `amsgrad = false`), plus the learning-rate schedules of the recipes.
//!
//! Update at step `t` (1-based): `m ← β1 m + (1−β1) g`, `v ← β2 v + (1−β2) g²`,
//! `p ← p − (lr / (1−β1^t)) · m / (√v / √(1−β2^t) + ε)`. Defaults β1 0.9, β2 0.999, ε 1e-8.

use crate::scalar::Scalar;
use serde::{Deserialize, Serialize};

/// Learning-rate schedule over `total` steps.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum Schedule {
    /// `lr` throughout (Table 1 as written).
    #[default]
    Constant,
    /// `lr · ½(1 + cos(π t / total))`, decaying to 0 (the low-noise preset).
    Cosine,
}

impl Schedule {
    /// Learning rate at 0-based step `t` of `total`.
    pub fn lr(self, base: f64, t: u64, total: u64) -> f64 {
        match self {
            Schedule::Constant => base,
            Schedule::Cosine => {
                let frac = (t as f64 / total.max(1) as f64).min(1.0);
                base * 0.5 * (1.0 + (std::f64::consts::PI * frac).cos())
            }
        }
    }
}

/// Adam state for a flat parameter vector.
#[derive(Debug, Clone)]
pub struct Adam<T: Scalar> {
    pub beta1: f64,
    pub beta2: f64,
    pub eps: f64,
    /// Number of updates taken so far.
    pub t: u64,
    pub m: Vec<T>,
    pub v: Vec<T>,
}

impl<T: Scalar> Adam<T> {
    /// Fresh state for `n` parameters with PyTorch's defaults.
    pub fn new(n: usize) -> Self {
        Adam {
            beta1: 0.9,
            beta2: 0.999,
            eps: 1e-8,
            t: 0,
            m: vec![T::ZERO; n],
            v: vec![T::ZERO; n],
        }
    }

    /// One update of `params` with gradient `grads` and learning rate `lr`.
    pub fn step(&mut self, params: &mut [T], grads: &[T], lr: f64) {
        #[cfg(target_arch = "x86_64")]
        match crate::kernels::elementwise() {
            // SAFETY: `kernels` picks an instruction set only where the CPU reports it.
            crate::kernels::Isa::Avx512 => return unsafe { self.step_avx512(params, grads, lr) },
            // SAFETY: as above.
            crate::kernels::Isa::Avx2 => return unsafe { self.step_avx2(params, grads, lr) },
            crate::kernels::Isa::Portable => {}
        }
        self.step_impl(params, grads, lr)
    }

    #[cfg(target_arch = "x86_64")]
    #[target_feature(enable = "avx2,fma")]
    unsafe fn step_avx2(&mut self, params: &mut [T], grads: &[T], lr: f64) {
        self.step_impl(params, grads, lr)
    }

    #[cfg(target_arch = "x86_64")]
    #[target_feature(enable = "avx512f,avx2,fma")]
    unsafe fn step_avx512(&mut self, params: &mut [T], grads: &[T], lr: f64) {
        self.step_impl(params, grads, lr)
    }

    #[inline(always)]
    pub(crate) fn step_impl(&mut self, params: &mut [T], grads: &[T], lr: f64) {
        self.t += 1;
        let bc1 = 1.0 - self.beta1.powi(self.t as i32);
        let bc2 = 1.0 - self.beta2.powi(self.t as i32);
        let step_size = T::from_f64(lr / bc1);
        let inv_sqrt_bc2 = T::from_f64(1.0 / bc2.sqrt());
        let (b1, b2) = (T::from_f64(self.beta1), T::from_f64(self.beta2));
        let (ob1, ob2) = (T::from_f64(1.0 - self.beta1), T::from_f64(1.0 - self.beta2));
        let eps = T::from_f64(self.eps);
        for (((p, &g), m), v) in params
            .iter_mut()
            .zip(grads)
            .zip(self.m.iter_mut())
            .zip(self.v.iter_mut())
        {
            *m = b1 * *m + ob1 * g;
            *v = b2 * *v + ob2 * g * g;
            let denom = v.sqrt() * inv_sqrt_bc2 + eps;
            *p -= step_size * *m / denom;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn first_step_moves_by_lr() {
        // With bias correction the first Adam step is lr * sign(g) (up to eps).
        let mut a = Adam::<f64>::new(2);
        let mut p = vec![1.0, -1.0];
        a.step(&mut p, &[0.5, -3.0], 0.1);
        assert!((p[0] - 0.9).abs() < 1e-6 && (p[1] + 0.9).abs() < 1e-6);
    }

    #[test]
    fn cosine_schedule_endpoints() {
        assert_eq!(Schedule::Cosine.lr(1.0, 0, 100), 1.0);
        assert!((Schedule::Cosine.lr(1.0, 50, 100) - 0.5).abs() < 1e-12);
        assert!(Schedule::Cosine.lr(1.0, 100, 100).abs() < 1e-12);
        assert_eq!(Schedule::Constant.lr(0.3, 77, 100), 0.3);
    }
}
