//! Gradient checks and behaviour tests of the model.

use super::kernels::softplus;
use super::*;
use biodis_data::gridworld::{World, WorldSpec};
use rand::{Rng, SeedableRng};

fn small(act: CellActivation, bias: bool) -> (CellModel<f64>, World) {
    let ws = WorldSpec {
        size: 5,
        max_objects: 3,
        min_distance: 2.0,
        ..WorldSpec::default()
    };
    let spec = CellsSpec {
        n_cells: 4,
        activation: act,
        readout_bias: bias,
        weight_on_transitions: true,
        beta_weight: 0.3,
        init_scale: 1.0,
        ..CellsSpec::default()
    };
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(7);
    let mut m = CellModel::<f64>::new(spec, ws.clone(), &mut rng);
    for v in m.theta.iter_mut() {
        *v += rng.gen_range(-0.3..0.3);
    }
    (m, ws.world_with(vec![6, 18]))
}

fn rand_z(n: usize, seed: u64) -> Vec<f64> {
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed);
    (0..n).map(|_| rng.gen_range(-1.0..1.0)).collect()
}

/// `½ Σ ‖z(q) − f(W_a z(p))‖²`
fn half_pi(m: &CellModel<f64>, z: &[f64]) -> f64 {
    let mut g = vec![0.0; z.len()];
    let mut u = g.clone();
    let mut d = g.clone();
    0.5 * m.pi_grad(z, &mut g, &mut u, &mut d)
}

#[test]
fn inference_gradient_matches_finite_differences() {
    for act in [CellActivation::Relu, CellActivation::Linear] {
        let (m, _) = small(act, false);
        let n = m.layout.nl * m.layout.nc;
        let z = rand_z(n, 1);
        let mut g = vec![0.0; n];
        let (mut u, mut d) = (g.clone(), g.clone());
        m.pi_grad(&z, &mut g, &mut u, &mut d);
        let h = 1e-6;
        for i in 0..n {
            let mut zp = z.clone();
            zp[i] += h;
            let mut zm = z.clone();
            zm[i] -= h;
            let fd = (half_pi(&m, &zp) - half_pi(&m, &zm)) / (2.0 * h);
            assert!(
                (fd - g[i]).abs() < 1e-6 * (1.0 + fd.abs()),
                "{act:?} z[{i}]: analytic {} fd {fd}",
                g[i]
            );
        }
    }
}

#[test]
fn object_update_is_the_negative_gradient_of_the_object_loss() {
    // one Euler step with only the object term from z: Δz(x) = −∂/∂z(x) [−ln σ(W_o z + b)]
    let (mut m, w) = small(CellActivation::Relu, true);
    m.spec.pi_step = 0.0;
    m.spec.clip_norm = 0.0;
    m.spec.nonneg_projection = false;
    m.spec.euler_steps = 1;
    m.theta[m.layout.b_obj] = 0.4;
    let nc = m.layout.nc;
    let z0 = rand_z(m.layout.nl * nc, 2);
    let mut z = z0.clone();
    let mut scratch = [vec![0.0; z.len()], vec![0.0; z.len()], vec![0.0; z.len()]];
    m.infer(&w, &mut z, &mut scratch);
    let wo = m.theta[m.layout.w_obj..m.layout.b_obj].to_vec();
    let lossx = |zx: &[f64]| {
        let lo: f64 = zx.iter().zip(&wo).map(|(a, b)| a * b).sum::<f64>() + 0.4;
        softplus(-lo)
    };
    for x in 0..m.layout.nl {
        for i in 0..nc {
            let dz = z[x * nc + i] - z0[x * nc + i];
            if w.object[x] == 0 {
                assert_eq!(dz, 0.0);
                continue;
            }
            let h = 1e-6;
            let mut zp = z0[x * nc..(x + 1) * nc].to_vec();
            zp[i] += h;
            let mut zm = z0[x * nc..(x + 1) * nc].to_vec();
            zm[i] -= h;
            let fd = (lossx(&zp) - lossx(&zm)) / (2.0 * h);
            assert!(
                (dz + fd).abs() < 1e-7,
                "x {x} i {i}: Δz {dz} vs −∂L {}",
                -fd
            );
        }
    }
}

fn full_loss(m: &CellModel<f64>, w: &World, z: &[f64]) -> f64 {
    let l = m.layout;
    let mut grad = vec![0.0; l.len];
    let mut gz = vec![0.0; l.nl * l.nc];
    let mut logits = vec![0.0; l.nl * l.nl];
    let (mut u, mut d) = (gz.clone(), gz.clone());
    let t = m.world_loss_grad(w, z, 1.0, &mut grad, &mut gz, &mut logits, &mut u, &mut d);
    t.total + m.weight_energy(&mut grad)
}

/// Checks the weight-step gradient of one world at `z` against central differences: every
/// parameter in `params` (biases must have zero gradient unless `bias`) and every `z`.
fn check_world_gradient(
    m: &mut CellModel<f64>,
    w: &World,
    z: &[f64],
    params: std::ops::Range<usize>,
    bias: bool,
    what: &str,
) {
    let l = m.layout;
    let mut grad = vec![0.0; l.len];
    let mut gz = vec![0.0; l.nl * l.nc];
    let mut logits = vec![0.0; l.nl * l.nl];
    let (mut u, mut d) = (gz.clone(), gz.clone());
    m.world_loss_grad(w, z, 1.0, &mut grad, &mut gz, &mut logits, &mut u, &mut d);
    m.weight_energy(&mut grad);
    let h = 1e-6;
    let close = |fd: f64, a: f64| (fd - a).abs() < 1e-6 * (1.0 + fd.abs());
    for i in params {
        if !bias && (i == l.b_obj || (l.b_act..l.b_act + 4).contains(&i)) {
            assert_eq!(grad[i], 0.0);
            continue;
        }
        let v = m.theta[i];
        m.theta[i] = v + h;
        let lp = full_loss(m, w, z);
        m.theta[i] = v - h;
        let lm = full_loss(m, w, z);
        m.theta[i] = v;
        let fd = (lp - lm) / (2.0 * h);
        assert!(
            close(fd, grad[i]),
            "{what} θ[{i}]: analytic {} fd {fd}",
            grad[i]
        );
    }
    for (i, &g) in gz.iter().enumerate() {
        let (mut zp, mut zm) = (z.to_vec(), z.to_vec());
        zp[i] += h;
        zm[i] -= h;
        let fd = (full_loss(m, w, &zp) - full_loss(m, w, &zm)) / (2.0 * h);
        assert!(close(fd, g), "{what} z[{i}]: analytic {g} fd {fd}");
    }
}

#[test]
fn learning_gradient_matches_finite_differences() {
    for (act, bias) in [
        (CellActivation::Relu, false),
        (CellActivation::Linear, true),
    ] {
        let (mut m, w) = small(act, bias);
        let l = m.layout;
        let z = rand_z(l.nl * l.nc, 3);
        // every parameter except z0 (which gets the z gradient, checked too)
        check_world_gradient(&mut m, &w, &z, l.w_loc..l.len, bias, &format!("{act:?}"));
    }
}

#[test]
fn soft_location_targets_have_exact_gradients() {
    for target in [LocationTarget::Gaussian, LocationTarget::Dog] {
        let (mut m, w) = small(CellActivation::Relu, false);
        m.spec.location_target = target;
        m.spec.location_sigma = 1.3;
        m.spec.beta_location = 0.7;
        m.target = location_targets(&m.spec, &m.world);
        let l = m.layout;
        // rows are distributions, peaked at their own location
        let t = m.target.as_ref().expect("soft target");
        for x in 0..l.nl {
            let row = &t[x * l.nl..(x + 1) * l.nl];
            assert!((row.iter().sum::<f64>() - 1.0).abs() < 1e-12);
            assert!(row.iter().all(|&v| v >= 0.0));
            let arg = (0..l.nl).fold(0, |b, j| if row[j] > row[b] { j } else { b });
            assert_eq!(arg, x, "{target:?}");
        }
        let z = rand_z(l.nl * l.nc, 5);
        check_world_gradient(
            &mut m,
            &w,
            &z,
            l.w_loc..l.w_obj,
            false,
            &format!("{target:?}"),
        );
    }
}

#[test]
fn squared_error_location_loss_has_exact_gradients() {
    for target in [
        LocationTarget::OneHot,
        LocationTarget::Gaussian,
        LocationTarget::DogUnshifted,
    ] {
        let (mut m, w) = small(CellActivation::Relu, true);
        m.spec.location_target = target;
        m.spec.location_loss = LocationLoss::SquaredError;
        m.spec.location_sigma = 1.1;
        m.spec.beta_location = 0.7;
        m.spec.validate().expect("a valid spec");
        m.target = location_targets(&m.spec, &m.world);
        let l = m.layout;
        let z = rand_z(l.nl * l.nc, 9);
        check_world_gradient(
            &mut m,
            &w,
            &z,
            l.w_loc..l.len,
            true,
            &format!("squared error, {target:?}"),
        );
    }
}

#[test]
fn the_unshifted_dog_has_a_unit_centre_a_negative_surround_and_zero_sum() {
    let world = WorldSpec {
        size: 12,
        ..WorldSpec::default()
    };
    let spec = CellsSpec {
        location_target: LocationTarget::DogUnshifted,
        location_loss: LocationLoss::SquaredError,
        location_sigma: 1.0,
        ..CellsSpec::default()
    };
    let nl = world.n_locations();
    let t = location_targets(&spec, &world).expect("a soft target");
    for x in 0..nl {
        let row = &t[x * nl..(x + 1) * nl];
        assert!((row[x] - 1.0).abs() < 1e-12);
        assert!(row.iter().all(|&v| v <= 1.0 + 1e-12));
        // both Gaussians sum to 1, so their difference sums to 0 (the centre is the scale)
        assert!(row.iter().sum::<f64>().abs() < 1e-9, "row {x}");
        assert!(row.iter().any(|&v| v < -1e-3), "a negative surround");
    }
    // the same preferred scale as the shifted DoG (the shift only moves k = 0)
    let shifted = CellsSpec {
        location_target: LocationTarget::Dog,
        ..spec.clone()
    };
    assert_eq!(target_wavelength(&spec), target_wavelength(&shifted));
    // the fit: 1 at a zero error, 0 at the error of the mean target row (location-blind)
    assert!((location_fit(&spec, &world, 0.0) - 1.0).abs() < 1e-12);
    let mut mean = vec![0.0; nl];
    for row in t.chunks(nl) {
        mean.iter_mut()
            .zip(row)
            .for_each(|(m, v)| *m += v / nl as f64);
    }
    let blind: f64 = t
        .chunks(nl)
        .map(|r| {
            r.iter()
                .zip(&mean)
                .map(|(v, m)| (v - m).powi(2))
                .sum::<f64>()
        })
        .sum::<f64>()
        / nl as f64;
    assert!(location_fit(&spec, &world, blind).abs() < 1e-12);
    assert!(location_fit(&spec, &world, f64::NAN).is_nan());
    // a softmax cannot be fitted to rows with negative values
    let ce = CellsSpec {
        location_loss: LocationLoss::CrossEntropy,
        ..spec
    };
    let e = ce.validate().expect_err("dog_unshifted with cross-entropy");
    let msg = e.to_string();
    assert!(
        msg.contains("location_loss") && msg.contains("squared_error"),
        "{msg}"
    );
}

#[test]
fn transition_inits_have_their_structure() {
    let ws = WorldSpec {
        size: 4,
        ..WorldSpec::default()
    };
    let nc = 8;
    let mk = |init: TransInit, scale: f64| {
        let spec = CellsSpec {
            n_cells: nc,
            trans_init: init,
            trans_init_scale: scale,
            ..CellsSpec::default()
        };
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(3);
        CellModel::<f64>::new(spec, ws.clone(), &mut rng)
    };
    let m = mk(TransInit::Orthogonal, 1.0);
    for a in 0..4 {
        let w = &m.theta[m.layout.trans(a)..m.layout.trans(a) + nc * nc];
        for i in 0..nc {
            for j in 0..nc {
                let dot: f64 = (0..nc).map(|k| w[i * nc + k] * w[j * nc + k]).sum();
                let eye = if i == j { 1.0 } else { 0.0 };
                assert!((dot - eye).abs() < 1e-12, "W_{a} rows {i},{j}: {dot}");
            }
        }
    }
    // identity with zero noise is exactly I; the default is unchanged N(0, 1/n_c)
    let m = mk(TransInit::Identity, 0.0);
    let w = &m.theta[m.layout.trans(2)..m.layout.trans(2) + nc * nc];
    for (i, &v) in w.iter().enumerate() {
        assert_eq!(v, if i / nc == i % nc { 1.0 } else { 0.0 });
    }
    let spec = CellsSpec {
        n_cells: nc,
        ..CellsSpec::default()
    };
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(3);
    let a = CellModel::<f64>::new(spec, ws.clone(), &mut rng);
    let b = mk(TransInit::Random, 1.0);
    assert_eq!(a.theta, b.theta);
}

#[test]
fn norm_projection_and_tolerance_shape_inference() {
    let (mut m, w) = small(CellActivation::Relu, false);
    m.spec.z_norm = 0.5;
    m.spec.clip_norm = 0.0;
    let nc = m.layout.nc;
    let mut z = rand_z(m.layout.nl * nc, 9);
    let mut scratch = [vec![0.0; z.len()], vec![0.0; z.len()], vec![0.0; z.len()]];
    let st = m.infer(&w, &mut z, &mut scratch);
    assert_eq!(st.steps, m.spec.euler_steps);
    assert_eq!(st.clipped_frac, 0.0);
    for row in z.chunks(nc) {
        let n = row.iter().map(|v| v * v).sum::<f64>().sqrt();
        assert!((n - 0.5).abs() < 1e-12 || n == 0.0, "row norm {n}");
        assert!(row.iter().all(|&v| v >= 0.0));
    }
    // floor: rows end at norm ≥ 0.5
    m.spec.z_norm_mode = NormMode::Floor;
    let mut z = rand_z(m.layout.nl * nc, 9);
    m.infer(&w, &mut z, &mut scratch);
    for row in z.chunks(nc) {
        let n = row.iter().map(|v| v * v).sum::<f64>().sqrt();
        assert!(n >= 0.5 - 1e-12 || n == 0.0, "row norm {n}");
    }
    // a huge tolerance stops after the first step; a tight clip clips every update
    m.spec.infer_tol = 1e9;
    m.spec.clip_norm = 1e-9;
    let mut z = rand_z(m.layout.nl * nc, 9);
    let st = m.infer(&w, &mut z, &mut scratch);
    assert_eq!(st.steps, 1);
    assert_eq!(st.clipped_frac, 1.0);
    assert!((st.last_update - 1e-9).abs() < 1e-15);
}

#[test]
fn z0_gets_the_mean_z_gradient_and_pattern_formation_lowers_the_pi_loss() {
    let (m, w) = small(CellActivation::Relu, false);
    let l = m.layout;
    let mut st = Stepper::new(&l);
    let mut grad = vec![0.0; l.len];
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(0);
    st.loss_grad(&m, &[w.clone(), w.clone()], &mut grad, &mut rng);
    // two identical worlds: z0's gradient equals one world's z gradient
    let z = st.z[0].clone();
    let mut g1 = vec![0.0; l.len];
    let mut gz = vec![0.0; l.nl * l.nc];
    let mut logits = vec![0.0; l.nl * l.nl];
    let (mut u, mut d) = (gz.clone(), gz.clone());
    m.world_loss_grad(&w, &z, 1.0, &mut g1, &mut gz, &mut logits, &mut u, &mut d);
    for i in 0..gz.len() {
        assert!((grad[l.z0 + i] - gz[i]).abs() < 1e-12);
    }
    // inference lowers the structural loss from the initial z (with a small step)
    let mut m2 = m.clone();
    m2.spec.object_step = 0.0;
    m2.spec.pi_step = 0.02;
    m2.spec.euler_steps = 50;
    let z0 = m2.z_start(&mut rng);
    let mut z = z0.clone();
    let mut scratch = [vec![0.0; z.len()], vec![0.0; z.len()], vec![0.0; z.len()]];
    m2.infer(&w, &mut z, &mut scratch);
    assert!(half_pi(&m2, &z) < half_pi(&m2, &z0));
}

#[test]
fn target_wavelength_is_the_peak_of_the_built_targets_spectrum() {
    // the predicted wavelength against the spectrum of the target location_targets actually
    // builds, around the centre of a world large enough for the DoG to fit
    let world = WorldSpec {
        size: 48,
        ..WorldSpec::default()
    };
    for &sigma in &[0.75, 1.0, 1.5] {
        let spec = CellsSpec {
            location_target: LocationTarget::Dog,
            location_sigma: sigma,
            ..CellsSpec::default()
        };
        let want = target_wavelength(&spec).expect("a DoG has a preferred scale");
        // 7.5 sigma hex spacing <=> wavelength 6.5 sigma (2-D radial estimate: 6.52 at sigma 1)
        assert!((want / sigma - 6.5).abs() < 0.25, "sigma {sigma}: {want}");
        let nl = world.n_locations();
        let t = location_targets(&spec, &world).unwrap();
        let x = 24 * 48 + 24;
        let row = &t[x * nl..(x + 1) * nl];
        let mean = row.iter().sum::<f64>() / nl as f64;
        let spec_at = |k: f64| -> f64 {
            row.iter()
                .enumerate()
                .map(|(j, v)| {
                    (v - mean) * (std::f64::consts::TAU * k * ((j % 48) as f64 - 24.0)).cos()
                })
                .sum::<f64>()
                .abs()
        };
        let ks: Vec<f64> = (1..=500).map(|j| 0.5 * j as f64 / 500.0).collect();
        let kbest = ks
            .iter()
            .copied()
            .max_by(|a, b| spec_at(*a).total_cmp(&spec_at(*b)))
            .unwrap();
        assert!(
            (1.0 / kbest - want).abs() / want < 0.05,
            "sigma {sigma}: built target peaks at {} vs {want}",
            1.0 / kbest
        );
    }
    let one_hot = CellsSpec::default();
    assert_eq!(one_hot.location_target, LocationTarget::OneHot);
    assert!(target_wavelength(&one_hot).is_none());
    let gauss = CellsSpec {
        location_target: LocationTarget::Gaussian,
        ..CellsSpec::default()
    };
    assert!(target_wavelength(&gauss).is_none());
}

#[test]
fn inference_energies_add_their_gradients_and_default_to_a9() {
    let (mut m, w) = small(CellActivation::Relu, false);
    let z = [0.5, -0.25, 0.0, 2.0];
    let mut g = [1.0; 4];
    // A.9: no inference energies, g untouched
    m.add_infer_energies(&z, &mut g);
    assert_eq!(g, [1.0; 4]);
    // ∂/∂z [½ a Σ z² + s Σ |z|] = a z + s sign(z), sign(0) = 0
    m.spec.infer_activity = 0.4;
    m.spec.infer_sparsity = 0.1;
    m.add_infer_energies(&z, &mut g);
    let want = [1.0 + 0.2 + 0.1, 1.0 - 0.1 - 0.1, 1.0, 1.0 + 0.8 + 0.1];
    for (a, b) in g.iter().zip(want) {
        assert!((a - b).abs() < 1e-15, "{g:?} vs {want:?}");
    }
    // in inference, L1 sparsity leaves fewer active (z > 0) entries of the ReLU code
    let active = |m: &CellModel<f64>| {
        let mut z = m.z_start(&mut rand_chacha::ChaCha8Rng::seed_from_u64(0));
        let mut scratch = [vec![0.0; z.len()], vec![0.0; z.len()], vec![0.0; z.len()]];
        m.infer(&w, &mut z, &mut scratch);
        z.iter().filter(|&&v| v > 0.0).count()
    };
    m.spec.infer_activity = 0.0;
    m.spec.infer_sparsity = 0.0;
    let base = active(&m);
    m.spec.infer_sparsity = 0.5;
    let sparse = active(&m);
    assert!(
        sparse < base,
        "active entries: {sparse} with L1 vs {base} without"
    );
}
