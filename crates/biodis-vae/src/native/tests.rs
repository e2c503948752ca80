//! The native engine against finite differences (f64), against itself under another chunking,
//! and against burn's model on the same weights and batch.

use super::*;
use crate::model::ConvVae;
use burn::module::Module;
use burn::tensor::{Device, Tensor, TensorData};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rand_distr::{Distribution, StandardNormal};

/// PyTorch-style initial weights (`U(±1/√fan_in)`) for a layout, from `seed`.
fn init(layout: &[ParamInfo], seed: u64) -> Vec<Vec<f32>> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let mut out = Vec::new();
    for (i, p) in layout.iter().enumerate() {
        // fan-in: conv `[out, in, 4, 4]` → in·16, dense `[in, out]` → in, up-conv
        // `[in, out, 4, 4]` → out·16 (PyTorch's convention); a bias takes its weight's.
        let w = &layout[i - i % 2].shape;
        let fan = if w.len() == 2 { w[0] } else { w[1] * 16 };
        let lim = 1.0 / (fan as f64).sqrt();
        out.push(
            (0..p.len)
                .map(|_| rng.gen_range(-lim..lim) as f32)
                .collect(),
        );
    }
    out
}

fn batch(b: usize, c: usize, latent: usize, seed: u64) -> (Vec<f32>, Vec<f32>) {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    // Blobs on a dark background, as the image sets look, not uniform noise.
    let mut x = vec![0.0f32; b * c * SIDE * SIDE];
    for img in x.chunks_mut(SIDE * SIDE) {
        let (cy, cx, r) = (
            rng.gen_range(10.0..54.0f64),
            rng.gen_range(10.0..54.0f64),
            rng.gen_range(4.0..12.0f64),
        );
        for (k, v) in img.iter_mut().enumerate() {
            let (y, xx) = ((k / SIDE) as f64, (k % SIDE) as f64);
            let d = ((y - cy).powi(2) + (xx - cx).powi(2)).sqrt();
            *v = (1.0 / (1.0 + ((d - r) * 1.5).exp())) as f32;
        }
    }
    let eps = (0..b * latent)
        .map(|_| StandardNormal.sample(&mut rng))
        .collect();
    (x, eps)
}

fn hps() -> [LossWeights; 3] {
    [
        LossWeights {
            nonneg: Nonneg::Relu,
            beta_vae: 1.0,
            beta_nonneg: 100.0,
            beta_weight: 0.3,
        },
        LossWeights {
            nonneg: Nonneg::Hinge,
            beta_vae: 2.0,
            beta_nonneg: 100.0,
            beta_weight: 0.0,
        },
        LossWeights {
            nonneg: Nonneg::None,
            beta_vae: 4.0,
            beta_nonneg: 100.0,
            beta_weight: 0.0,
        },
    ]
}

#[test]
fn gradients_match_finite_differences_in_f64() {
    let (c, l, b) = (2, 6, 2);
    let (x32, e32) = batch(b, c, l, 5);
    let x: Vec<f64> = x32.iter().map(|&v| f64::from(v)).collect();
    let eps: Vec<f64> = e32.iter().map(|&v| f64::from(v)).collect();
    let mut net = NativeVae::<f64>::new(c, l);
    let params = init(net.layout(), 7);
    net.set_params(&params).unwrap();
    let mut rng = ChaCha8Rng::seed_from_u64(11);
    for hp in hps() {
        net.freeze_relus(false).unwrap();
        let t = net.loss_and_grad(&x, &eps, &hp).unwrap();
        assert!(t.total.is_finite());
        let grads = net.grads.clone();
        // The differences are of the network linearised at this point (every ReLU's on/off
        // pattern fixed), whose gradient here is the network's: a kink crossed by a step would
        // otherwise be a percent-level error of the check, not of the gradient.
        net.freeze_relus(true).unwrap();
        assert_eq!(net.loss(&x, &eps, &hp).unwrap().total, t.total);
        // The loss is a sum of ~10⁴ terms of size ~1: in f64 it is exact to ~1e-15 relative
        // (measured), which sets the noise floor of a central difference with step h.
        let floor = |h: f64| 1e-15 * t.total.abs() / h;
        for p in net.layout().to_vec() {
            let g = grads[p.offset..p.offset + p.len].to_vec();
            let norm = g.iter().map(|v| v * v).sum::<f64>().sqrt();
            let rms = norm / (p.len as f64).sqrt();
            // Single coordinates.
            let h = 1e-4;
            for _ in 0..3 {
                let j = rng.gen_range(0..p.len);
                let k = p.offset + j;
                let v0 = net.params[k];
                net.params[k] = v0 + h;
                let up = net.loss(&x, &eps, &hp).unwrap().total;
                net.params[k] = v0 - h;
                let down = net.loss(&x, &eps, &hp).unwrap().total;
                net.params[k] = v0;
                let fd = (up - down) / (2.0 * h);
                let tol = 1e-4 * g[j].abs().max(rms) + floor(h);
                assert!(
                    (fd - g[j]).abs() <= tol,
                    "{:?} {}[{j}]: analytic {} vs finite difference {fd} (rms {rms})",
                    hp.nonneg,
                    p.name,
                    g[j]
                );
            }
            // The whole array along its gradient: the derivative is ‖g‖.
            if norm == 0.0 {
                continue;
            }
            let h = 1e-4;
            let saved = net.params[p.offset..p.offset + p.len].to_vec();
            let at = |sign: f64, net: &mut NativeVae<f64>| {
                for ((d, &v), &gj) in net.params[p.offset..p.offset + p.len]
                    .iter_mut()
                    .zip(&saved)
                    .zip(&g)
                {
                    *d = v + sign * h * gj / norm;
                }
                net.loss(&x, &eps, &hp).unwrap().total
            };
            let fd = (at(1.0, &mut net) - at(-1.0, &mut net)) / (2.0 * h);
            net.params[p.offset..p.offset + p.len].copy_from_slice(&saved);
            assert!(
                (fd - norm).abs() <= 1e-4 * norm + floor(h),
                "{:?} {}: directional derivative {fd} vs ‖g‖ = {norm}",
                hp.nonneg,
                p.name
            );
        }
    }
}

#[test]
fn chunking_does_not_change_the_result() {
    let (c, l, b) = (1, 10, 5);
    let (x32, e32) = batch(b, c, l, 1);
    let x: Vec<f64> = x32.iter().map(|&v| f64::from(v)).collect();
    let eps: Vec<f64> = e32.iter().map(|&v| f64::from(v)).collect();
    let hp = hps()[0];
    let mut results = Vec::new();
    for chunk in [1usize, 1 << 15, 1 << 30] {
        let mut net = NativeVae::<f64>::new(c, l);
        net.chunk_floats = chunk;
        net.set_params(&init(net.layout(), 3)).unwrap();
        let t = net.loss_and_grad(&x, &eps, &hp).unwrap();
        results.push((t.total, net.grads.clone()));
    }
    for (t, g) in &results[1..] {
        assert!((t - results[0].0).abs() <= 1e-12 * t.abs());
        for (a, b) in g.iter().zip(&results[0].1) {
            assert!((a - b).abs() <= 1e-9 * (1.0 + b.abs()), "{a} vs {b}");
        }
    }
}

/// burn's gradients of the same loss, as flat arrays in the parameter order.
fn burn_grads(model: &mut ConvVae, t: &crate::model::LossTerms) -> Vec<Vec<f32>> {
    let grads = t.total.backward();
    model
        .params_mut()
        .into_iter()
        .map(|slot| match slot {
            crate::model::ParamSlot::D4(p) => p.val().grad(&grads).map(crate::model::flat),
            crate::model::ParamSlot::D2(p) => p.val().grad(&grads).map(crate::model::flat),
            crate::model::ParamSlot::D1(p) => p.val().grad(&grads).map(crate::model::flat),
        })
        .map(Option::unwrap_or_default)
        .collect()
}

#[test]
fn agrees_with_the_burn_model() {
    let (c, l, b) = (3, 10, 4);
    let (x, eps) = batch(b, c, l, 9);
    for hp in hps() {
        let device = Device::flex().autodiff();
        let mut model = ConvVae::new_seeded(c, l, &device, 21);
        let params = model.get_params();
        let xt = Tensor::<4>::from_data(TensorData::new(x.clone(), [b, c, SIDE, SIDE]), &device);
        let et = Tensor::<2>::from_data(TensorData::new(eps.clone(), [b, l]), &device);
        let t = model.loss(xt, et, &hp);
        let s = |t: &Tensor<1>| f64::from(t.clone().into_scalar::<f32>());
        let want = Terms {
            total: s(&t.total),
            rec: s(&t.rec),
            kl: s(&t.kl),
            nonneg: s(&t.nonneg),
            weight: s(&t.weight),
        };
        let bg = burn_grads(&mut model, &t);
        let mut net = NativeVae::<f32>::new(c, l);
        net.set_params(&params).unwrap();
        let got = net.loss_and_grad(&x, &eps, &hp).unwrap();
        for (name, g, w) in [
            ("total", got.total, want.total),
            ("rec", got.rec, want.rec),
            ("kl", got.kl, want.kl),
            ("nonneg", got.nonneg, want.nonneg),
            ("weight", got.weight, want.weight),
        ] {
            // burn sums the 264 192 squared decoder weights in one f32 pass (≈4e-5 relative
            // off the f64 sum); every other term is summed per row, as the native engine does.
            let rel = if name == "weight" { 1e-4 } else { 1e-5 };
            assert!(
                (g - w).abs() <= rel * w.abs().max(1e-3),
                "{:?} {name}: native {g} vs burn {w}",
                hp.nonneg
            );
        }
        let ng = net.split(&net.grads);
        for ((p, a), w) in net.layout().iter().zip(&ng).zip(&bg) {
            assert_eq!(a.len(), w.len(), "{}", p.name);
            let rms = (w.iter().map(|v| f64::from(v * v)).sum::<f64>() / w.len() as f64).sqrt();
            for (k, (x, y)) in a.iter().zip(w).enumerate() {
                assert!(
                    f64::from((x - y).abs()) <= 1e-3 * rms.max(1e-6),
                    "{:?} {}[{k}]: native {x} vs burn {y} (rms {rms})",
                    hp.nonneg,
                    p.name
                );
            }
        }
        // Inference paths: the scored mean and the decoder.
        let (plain, pdev) = (model.valid(), Device::flex());
        let xt = Tensor::<4>::from_data(TensorData::new(x.clone(), [b, c, SIDE, SIDE]), &pdev);
        let mu_b = crate::model::flat(plain.mean(xt, hp.nonneg));
        let mu_n = net.mean(&x, hp.nonneg).unwrap();
        assert_eq!((mu_n.len(), mu_b.len()), (b * l, b * l));
        for (a, w) in mu_n.iter().zip(&mu_b) {
            assert!((a - w).abs() <= 1e-4 * (1.0 + w.abs()), "mean {a} vs {w}");
        }
        let zt = Tensor::<2>::from_data(TensorData::new(mu_b.clone(), [b, l]), &pdev);
        let lg_b = crate::model::flat(plain.decode(zt));
        let lg_n = net.decode(&mu_b).unwrap();
        assert_eq!((lg_n.len(), lg_b.len()), (b * c * 4096, b * c * 4096));
        for (a, w) in lg_n.iter().zip(&lg_b) {
            assert!((a - w).abs() <= 1e-4 * (1.0 + w.abs()), "logit {a} vs {w}");
        }
    }
}

#[test]
fn bad_batches_are_named() {
    let mut net = NativeVae::<f32>::new(1, 10);
    let hp = LossWeights::default();
    let e = net
        .loss(&[0.0; 100], &[0.0; 10], &hp)
        .unwrap_err()
        .to_string();
    assert_eq!(
        e,
        "images: 100 values, expected a positive multiple of 4096 (C × 64 × 64)"
    );
    let e = net
        .loss(&vec![0.0; 2 * 4096], &[0.0; 10], &hp)
        .unwrap_err()
        .to_string();
    assert_eq!(e, "eps: 10 values, expected 20 (2 images × 10 latents)");
    assert!(net.decode(&[0.0; 7]).is_err());
    let e = net.set_params(&[vec![0.0; 3]]).unwrap_err().to_string();
    assert_eq!(e, "1 parameter arrays, expected 24");
}

#[test]
fn the_series_log1p_is_exact_to_rounding() {
    for k in 0..=1000 {
        let e = k as f64 / 1000.0;
        let want = e.ln_1p();
        let got = ln1p_unit(e);
        assert!((got - want).abs() <= 1e-15 * want, "{e}: {got} vs {want}");
        let got32 = f64::from(ln1p_unit(e as f32));
        assert!(
            (got32 - (e as f32 as f64).ln_1p()).abs() <= 3e-7 * want + 1e-30,
            "{e}: {got32}"
        );
    }
}

#[test]
fn threads_split_the_batch_without_changing_the_result() {
    let (c, l, b) = (1, 10, 5);
    let (x32, e32) = batch(b, c, l, 4);
    let x: Vec<f64> = x32.iter().map(|&v| f64::from(v)).collect();
    let eps: Vec<f64> = e32.iter().map(|&v| f64::from(v)).collect();
    for hp in hps() {
        let mut results = Vec::new();
        // 5 images over 2 and 3 threads: parts of 2/3 and 1/2/2 images
        for threads in [1usize, 2, 3, 8] {
            let mut net = NativeVae::<f64>::new(c, l);
            net.threads = threads;
            net.set_params(&init(net.layout(), 13)).unwrap();
            let t = net.loss_and_grad(&x, &eps, &hp).unwrap();
            // twice: the second step reuses the parts' buffers
            let again = net.loss_and_grad(&x, &eps, &hp).unwrap();
            assert_eq!(t, again);
            results.push((t, net.grads.clone()));
        }
        let (t0, g0) = &results[0];
        for (t, g) in &results[1..] {
            for (a, b) in [
                (t.total, t0.total),
                (t.rec, t0.rec),
                (t.kl, t0.kl),
                (t.nonneg, t0.nonneg),
                (t.weight, t0.weight),
            ] {
                assert!((a - b).abs() <= 1e-12 * b.abs().max(1.0), "{a} vs {b}");
            }
            for (a, b) in g.iter().zip(g0) {
                assert!((a - b).abs() <= 1e-10 * (1.0 + b.abs()), "{a} vs {b}");
            }
        }
    }
}
