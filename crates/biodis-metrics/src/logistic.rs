//! Multinomial logistic regression as scikit-learn's `LogisticRegression()` defaults
//! (lbfgs, L2 penalty with `C = 1`, intercept not penalised, multinomial for ≥ 3 classes and
//! binary logistic for 2). Minimises `C Σ_s −log p(y_s | x_s) + ½‖W‖²` with L-BFGS (memory 10,
//! Armijo backtracking) to a gradient tolerance of 1e-6 — the same optimum scikit-learn's lbfgs
//! reaches to its `tol = 1e-4`, so predictions agree except at exact ties.

/// A fitted model: `logits = W x + b`, `W` is `classes × features`.
#[derive(Debug, Clone)]
pub struct Logistic {
    pub w: Vec<Vec<f64>>,
    pub b: Vec<f64>,
    pub classes: usize,
}

fn objective(theta: &[f64], x: &[Vec<f64>], y: &[u32], k: usize, c: f64, grad: &mut [f64]) -> f64 {
    let d = x[0].len();
    let stride = d + 1;
    grad.iter_mut().for_each(|g| *g = 0.0);
    let mut f = 0.0;
    let mut logits = vec![0.0; k];
    for (xs, &ys) in x.iter().zip(y) {
        for c_ in 0..k {
            let w = &theta[c_ * stride..c_ * stride + d];
            logits[c_] = w.iter().zip(xs).map(|(a, b)| a * b).sum::<f64>() + theta[c_ * stride + d];
        }
        let m = logits.iter().cloned().fold(f64::NEG_INFINITY, f64::max);
        let z: f64 = logits.iter().map(|l| (l - m).exp()).sum();
        let lse = m + z.ln();
        f += c * (lse - logits[ys as usize]);
        for c_ in 0..k {
            let p = (logits[c_] - lse).exp();
            let g = c * (p - if c_ == ys as usize { 1.0 } else { 0.0 });
            for (j, xv) in xs.iter().enumerate() {
                grad[c_ * stride + j] += g * xv;
            }
            grad[c_ * stride + d] += g;
        }
    }
    for c_ in 0..k {
        for j in 0..d {
            let w = theta[c_ * stride + j];
            f += 0.5 * w * w;
            grad[c_ * stride + j] += w;
        }
    }
    f
}

impl Logistic {
    /// Fits on rows `x` and dense labels `y` in `0..classes`.
    pub fn fit(x: &[Vec<f64>], y: &[u32], classes: usize, c: f64) -> Logistic {
        let d = x.first().map(|r| r.len()).unwrap_or(0);
        // binary: sklearn fits one weight vector; the softmax with 2 classes and penalty on both
        // rows is a different objective, so fit the binary form as class-1-vs-0 logits.
        let k = if classes == 2 { 1 } else { classes.max(1) };
        let stride = d + 1;
        let np = k * stride;
        let yy: Vec<u32> = y.to_vec();
        let f_and_g = |th: &[f64], g: &mut [f64]| -> f64 {
            if classes == 2 {
                // binary logistic: log(1 + exp(-s t)), s = ±1
                g.iter_mut().for_each(|v| *v = 0.0);
                let mut f = 0.0;
                for (xs, &ys) in x.iter().zip(&yy) {
                    let t = th[..d].iter().zip(xs).map(|(a, b)| a * b).sum::<f64>() + th[d];
                    let s = if ys == 1 { 1.0 } else { -1.0 };
                    let m = -s * t;
                    f += c * if m > 0.0 {
                        m + (-m).exp().ln_1p()
                    } else {
                        m.exp().ln_1p()
                    };
                    let sig = 1.0 / (1.0 + (s * t).exp());
                    let gg = -c * s * sig;
                    for j in 0..d {
                        g[j] += gg * xs[j];
                    }
                    g[d] += gg;
                }
                for j in 0..d {
                    f += 0.5 * th[j] * th[j];
                    g[j] += th[j];
                }
                f
            } else {
                objective(th, x, &yy, k, c, g)
            }
        };
        let mut th = vec![0.0; np];
        let mut g = vec![0.0; np];
        let mut f = f_and_g(&th, &mut g);
        let m = 10;
        let mut s_hist: Vec<Vec<f64>> = Vec::new();
        let mut y_hist: Vec<Vec<f64>> = Vec::new();
        for _ in 0..500 {
            let gnorm = g.iter().map(|v| v.abs()).fold(0.0, f64::max);
            if gnorm < 1e-6 {
                break;
            }
            // two-loop recursion
            let mut q = g.clone();
            let mut alphas = Vec::new();
            for (s, yv) in s_hist.iter().zip(&y_hist).rev() {
                let rho = 1.0 / s.iter().zip(yv).map(|(a, b)| a * b).sum::<f64>();
                let a = rho * s.iter().zip(&q).map(|(a, b)| a * b).sum::<f64>();
                q.iter_mut().zip(yv).for_each(|(qi, yi)| *qi -= a * yi);
                alphas.push((a, rho));
            }
            if let (Some(s), Some(yv)) = (s_hist.last(), y_hist.last()) {
                let gamma = s.iter().zip(yv).map(|(a, b)| a * b).sum::<f64>()
                    / yv.iter().map(|v| v * v).sum::<f64>();
                q.iter_mut().for_each(|v| *v *= gamma);
            } else {
                let scale = 1.0 / gnorm.max(1.0);
                q.iter_mut().for_each(|v| *v *= scale);
            }
            for ((s, yv), (a, rho)) in s_hist.iter().zip(&y_hist).zip(alphas.iter().rev()) {
                let bta = rho * yv.iter().zip(&q).map(|(a, b)| a * b).sum::<f64>();
                q.iter_mut()
                    .zip(s)
                    .for_each(|(qi, si)| *qi += si * (a - bta));
            }
            let dir: Vec<f64> = q.iter().map(|v| -v).collect();
            let slope: f64 = dir.iter().zip(&g).map(|(a, b)| a * b).sum();
            let dir = if slope >= 0.0 {
                g.iter().map(|v| -v).collect::<Vec<_>>()
            } else {
                dir
            };
            let slope: f64 = dir.iter().zip(&g).map(|(a, b)| a * b).sum();
            let mut step = 1.0;
            let mut g_new = vec![0.0; np];
            let mut th_new;
            let mut f_new;
            loop {
                th_new = th
                    .iter()
                    .zip(&dir)
                    .map(|(a, b)| a + step * b)
                    .collect::<Vec<_>>();
                f_new = f_and_g(&th_new, &mut g_new);
                if f_new <= f + 1e-4 * step * slope || step < 1e-12 {
                    break;
                }
                step *= 0.5;
            }
            let s: Vec<f64> = th_new.iter().zip(&th).map(|(a, b)| a - b).collect();
            let yv: Vec<f64> = g_new.iter().zip(&g).map(|(a, b)| a - b).collect();
            if s.iter().zip(&yv).map(|(a, b)| a * b).sum::<f64>() > 1e-12 {
                s_hist.push(s);
                y_hist.push(yv);
                if s_hist.len() > m {
                    s_hist.remove(0);
                    y_hist.remove(0);
                }
            }
            let converged = (f - f_new).abs() <= 1e-12 * f.abs().max(1.0);
            th = th_new;
            g = g_new;
            f = f_new;
            if converged {
                break;
            }
        }
        let w = (0..k)
            .map(|c_| th[c_ * stride..c_ * stride + d].to_vec())
            .collect();
        let b = (0..k).map(|c_| th[c_ * stride + d]).collect();
        Logistic { w, b, classes }
    }

    /// Class probabilities of one row.
    pub fn proba(&self, x: &[f64]) -> Vec<f64> {
        let lg: Vec<f64> = self
            .w
            .iter()
            .zip(&self.b)
            .map(|(w, b)| w.iter().zip(x).map(|(a, c)| a * c).sum::<f64>() + b)
            .collect();
        if self.classes == 2 {
            let p1 = 1.0 / (1.0 + (-lg[0]).exp());
            return vec![1.0 - p1, p1];
        }
        let m = lg.iter().cloned().fold(f64::NEG_INFINITY, f64::max);
        let z: f64 = lg.iter().map(|l| (l - m).exp()).sum();
        lg.iter().map(|l| (l - m).exp() / z).collect()
    }

    /// Most probable class of each row.
    pub fn predict(&self, x: &[Vec<f64>]) -> Vec<u32> {
        x.iter()
            .map(|r| {
                let p = self.proba(r);
                let mut best = 0;
                for c in 1..p.len() {
                    if p[c] > p[best] {
                        best = c;
                    }
                }
                best as u32
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn binary_optimum_has_zero_gradient_and_classifies() {
        let x: Vec<Vec<f64>> = (0..200)
            .map(|i| vec![(i as f64) / 50.0 - 2.0, ((i * 7) % 5) as f64])
            .collect();
        let y: Vec<u32> = x
            .iter()
            .map(|r| if r[0] + 0.3 * r[1] > 0.5 { 1 } else { 0 })
            .collect();
        let m = Logistic::fit(&x, &y, 2, 1.0);
        let acc = m.predict(&x).iter().zip(&y).filter(|(a, b)| a == b).count();
        assert!(acc >= 190, "{acc}");
        // three classes
        let y3: Vec<u32> = x
            .iter()
            .map(|r| {
                if r[0] < -0.7 {
                    0
                } else if r[0] < 0.7 {
                    1
                } else {
                    2
                }
            })
            .collect();
        let m = Logistic::fit(&x, &y3, 3, 1.0);
        let acc = m
            .predict(&x)
            .iter()
            .zip(&y3)
            .filter(|(a, b)| a == b)
            .count();
        assert!(acc >= 180, "{acc}");
        // the fitted point is stationary for the documented objective
        let mut th = Vec::new();
        for c in 0..3 {
            th.extend(&m.w[c]);
            th.push(m.b[c]);
        }
        let mut g = vec![0.0; th.len()];
        objective(&th, &x, &y3, 3, 1.0, &mut g);
        assert!(g.iter().all(|v| v.abs() < 1e-4), "{g:?}");
    }
}
