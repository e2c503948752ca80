//! Finite-difference checks of every layer type, head and constraint term, in `f64`.

use crate::constraints::{Constraints, Layers, Nonneg, Normalisation};
use crate::mlp::{Activation, Head, Mlp, MlpSpec, Reduction};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

#[allow(clippy::needless_range_loop)]
fn check(spec: MlpSpec, c: &Constraints, label: &str) {
    let mut rng = ChaCha8Rng::seed_from_u64(11);
    let b = 9;
    let din = spec.dims[0];
    let dout = *spec.dims.last().unwrap();
    let x: Vec<f64> = (0..b * din).map(|_| rng.gen_range(-1.0..1.0)).collect();
    let y: Vec<f64> = match spec.head {
        Head::Mse => (0..b * dout).map(|_| rng.gen_range(-1.0..1.0)).collect(),
        Head::SigmoidCe => (0..b * dout).map(|_| rng.gen_range(0.0..1.0)).collect(),
    };
    let mut net: Mlp<f64> = Mlp::new(spec, c, &mut rng);
    let base = net.loss_and_grad(&x, &y, b, c);
    assert!(base.total.is_finite());
    let analytic = net.grads.clone();
    let h = 1e-6;
    let mut worst: f64 = 0.0;
    for i in 0..net.params.len() {
        let p0 = net.params[i];
        net.params[i] = p0 + h;
        let lp = net.loss_and_grad(&x, &y, b, c).total;
        net.params[i] = p0 - h;
        let lm = net.loss_and_grad(&x, &y, b, c).total;
        net.params[i] = p0;
        let num = (lp - lm) / (2.0 * h);
        // relative error, with a floor of 1e-4 so that roundoff (~1e-10 absolute at h = 1e-6) on
        // near-zero gradients does not count
        let err = (num - analytic[i]).abs() / num.abs().max(analytic[i].abs()).max(1e-4);
        worst = worst.max(err);
        assert!(
            err < 1e-5,
            "{label}: param {i}: numeric {num} vs analytic {}",
            analytic[i]
        );
    }
    assert!(worst < 1e-5, "{label}: worst relative error {worst}");
}

fn spec(acts: Vec<Activation>, head: Head, reduction: Reduction) -> MlpSpec {
    let mut dims = vec![5];
    dims.extend(std::iter::repeat_n(7, acts.len()));
    dims.push(4);
    MlpSpec {
        dims,
        activations: acts,
        head,
        reduction,
        split: None,
    }
}

fn all_terms(nonneg: Nonneg, norm: Normalisation) -> Constraints {
    Constraints {
        nonneg,
        beta_nonneg: 0.7,
        beta_activity: 0.3,
        beta_weight: 0.05,
        beta_sparsity: 0.2,
        beta_weight_l1: 0.04,
        normalisation: norm,
        ..Constraints::default()
    }
}

#[test]
fn heads_without_constraints() {
    let c = Constraints::default();
    for act in [Activation::Relu, Activation::Identity] {
        check(spec(vec![act], Head::Mse, Reduction::Mean), &c, "mse mean");
        check(
            spec(vec![act], Head::Mse, Reduction::SumOutputs),
            &c,
            "mse sum_outputs",
        );
        check(
            spec(vec![act, act], Head::SigmoidCe, Reduction::Mean),
            &c,
            "sigmoid ce",
        );
    }
    // no hidden layer at all (shallow autoencoder-like readout)
    check(
        spec(vec![], Head::SigmoidCe, Reduction::Mean),
        &c,
        "no hidden",
    );
}

#[test]
fn each_constraint_term_alone() {
    for norm in [Normalisation::Sum, Normalisation::Mean] {
        let terms: [(&str, Constraints); 5] = [
            (
                "hinge",
                Constraints {
                    nonneg: Nonneg::Hinge,
                    beta_nonneg: 0.9,
                    normalisation: norm,
                    ..Default::default()
                },
            ),
            (
                "activity",
                Constraints {
                    beta_activity: 0.4,
                    normalisation: norm,
                    ..Default::default()
                },
            ),
            (
                "weight",
                Constraints {
                    beta_weight: 0.1,
                    normalisation: norm,
                    ..Default::default()
                },
            ),
            (
                "sparsity",
                Constraints {
                    beta_sparsity: 0.3,
                    normalisation: norm,
                    ..Default::default()
                },
            ),
            (
                "weight_l1",
                Constraints {
                    beta_weight_l1: 0.05,
                    normalisation: norm,
                    ..Default::default()
                },
            ),
        ];
        for (name, c) in terms.iter() {
            for act in [Activation::Relu, Activation::Identity] {
                check(
                    spec(vec![act, act, act], Head::Mse, Reduction::Mean),
                    c,
                    name,
                );
            }
        }
    }
}

#[test]
fn all_terms_together_and_layer_selection() {
    for nonneg in [Nonneg::Hinge, Nonneg::Relu, Nonneg::None] {
        let c = all_terms(nonneg, Normalisation::Sum);
        check(
            spec(
                vec![Activation::Identity, Activation::Relu],
                Head::Mse,
                Reduction::Mean,
            ),
            &c,
            "all",
        );
        check(
            spec(
                vec![Activation::Identity, Activation::Relu],
                Head::SigmoidCe,
                Reduction::Mean,
            ),
            &c,
            "all ce",
        );
    }
    let mut c = all_terms(Nonneg::Hinge, Normalisation::Mean);
    c.activity_layers = Layers::List(vec![1]);
    c.nonneg_layers = Layers::List(vec![0]);
    c.weight_layers = Layers::List(vec![0, 2]);
    check(
        spec(
            vec![Activation::Identity, Activation::Identity],
            Head::Mse,
            Reduction::Mean,
        ),
        &c,
        "selected",
    );
}

#[test]
fn terms_have_the_documented_values() {
    // one hidden identity layer, hand-set weights: check each term's value, not only its gradient
    let s = MlpSpec {
        dims: vec![1, 2, 1],
        activations: vec![Activation::Identity],
        head: Head::Mse,
        reduction: Reduction::Mean,
        split: None,
    };
    // W0 = [1, -2], b0 = [0, 0], W1 = [3, 4]^T, b1 = [0]
    let params = vec![1.0, -2.0, 0.0, 0.0, 3.0, 4.0, 0.0];
    let c = Constraints {
        nonneg: Nonneg::Hinge,
        beta_nonneg: 2.0,
        beta_activity: 0.5,
        beta_weight: 0.1,
        ..Default::default()
    };
    let mut net = Mlp::<f64>::with_params(s.clone(), &c, params.clone());
    // batch of 2: x = 1, 2 -> h = [1,-2], [2,-4]; out = 3 - 8 = -5, -10; y = 0
    let t = net.loss_and_grad(&[1.0, 2.0], &[0.0, 0.0], 2, &c);
    assert!((t.prediction - (25.0 + 100.0) / 2.0).abs() < 1e-12);
    assert!((t.nonneg - 2.0 * (2.0 + 4.0) / 2.0).abs() < 1e-12);
    assert!((t.activity - 0.5 * (1.0 + 4.0 + 4.0 + 16.0) / 2.0).abs() < 1e-12);
    assert!((t.weight - 0.1 * (1.0 + 4.0 + 9.0 + 16.0)).abs() < 1e-12);
    let cm = Constraints {
        normalisation: Normalisation::Mean,
        ..c
    };
    let mut net = Mlp::<f64>::with_params(s, &cm, params);
    let t = net.loss_and_grad(&[1.0, 2.0], &[0.0, 0.0], 2, &cm);
    assert!((t.nonneg - 2.0 * 6.0 / 4.0).abs() < 1e-12);
    assert!((t.activity - 0.5 * 25.0 / 4.0).abs() < 1e-12);
    assert!((t.weight - 0.1 * (5.0 / 2.0 + 25.0 / 2.0)).abs() < 1e-12);
}

#[test]
fn parameter_counts_table1() {
    let p = |dims: Vec<usize>, split: Option<(usize, usize)>| {
        MlpSpec {
            activations: vec![Activation::Relu; dims.len() - 2],
            dims,
            head: Head::Mse,
            reduction: Reduction::Mean,
            split,
        }
        .n_params()
    };
    assert_eq!(p(vec![6, 188, 6], None), 2450);
    assert_eq!(p(vec![6, 188, 186, 184, 182, 180, 6], None), 138_574);
    // autoencoders: the encoder head outputs 2 × latent (20) units, the first 10 feed the decoder
    assert_eq!(p(vec![50, 20, 50], Some((0, 10))), 1570);
    assert_eq!(
        p(
            vec![50, 500, 300, 100, 20, 100, 300, 500, 50],
            Some((3, 10))
        ),
        414_870
    );
}

#[test]
fn split_layer_gradients() {
    // encoder head of 6 units, decoder reads the first 3; constraints on every hidden layer
    let mut c = all_terms(Nonneg::Hinge, Normalisation::Sum);
    c.beta_weight_l1 = 0.0;
    for head in [Head::Mse, Head::SigmoidCe] {
        let s = MlpSpec {
            dims: vec![5, 7, 6, 4],
            activations: vec![Activation::Relu, Activation::Identity],
            head,
            reduction: Reduction::Mean,
            split: Some((1, 3)),
        };
        check(s, &c, "split");
    }
}

/// `loss_and_grad_counted` on distinct rows with multiplicities must equal `loss_and_grad` on
/// the expanded batch: every loss term and every gradient entry, for each head, reduction,
/// normalisation and the split (autoencoder) layout.
#[test]
fn counted_rows_equal_the_expanded_batch() {
    let split = MlpSpec {
        dims: vec![5, 7, 6, 4],
        activations: vec![Activation::Relu, Activation::Identity],
        head: Head::SigmoidCe,
        reduction: Reduction::Mean,
        split: Some((1, 3)),
    };
    let cases = [
        (
            spec(
                vec![Activation::Relu, Activation::Relu],
                Head::Mse,
                Reduction::Mean,
            ),
            all_terms(Nonneg::Hinge, Normalisation::Sum),
        ),
        (
            spec(vec![Activation::Identity], Head::Mse, Reduction::SumOutputs),
            all_terms(Nonneg::Relu, Normalisation::Mean),
        ),
        (
            spec(
                vec![Activation::Relu, Activation::Identity],
                Head::SigmoidCe,
                Reduction::Mean,
            ),
            all_terms(Nonneg::Hinge, Normalisation::Mean),
        ),
        (split, all_terms(Nonneg::Hinge, Normalisation::Sum)),
    ];
    for (k, (s, c)) in cases.into_iter().enumerate() {
        let mut rng = ChaCha8Rng::seed_from_u64(5 + k as u64);
        let (din, dout) = (s.dims[0], *s.dims.last().unwrap());
        let u = 3;
        let xu: Vec<f64> = (0..u * din).map(|_| rng.gen_range(-1.0..1.0)).collect();
        let yu: Vec<f64> = (0..u * dout).map(|_| rng.gen_range(0.0..1.0)).collect();
        let counts = [4u32, 1, 2];
        let (mut xe, mut ye) = (Vec::new(), Vec::new());
        // expanded batch in an interleaved order (order must not matter)
        for pass in 0..4u32 {
            for (r, &n) in counts.iter().enumerate() {
                if pass < n {
                    xe.extend_from_slice(&xu[r * din..(r + 1) * din]);
                    ye.extend_from_slice(&yu[r * dout..(r + 1) * dout]);
                }
            }
        }
        let mut net: Mlp<f64> = Mlp::new(s, &c, &mut rng);
        let te = net.loss_and_grad(&xe, &ye, 7, &c);
        let ge = net.grads.clone();
        let tc = net.loss_and_grad_counted(&xu, &yu, &counts, &c);
        let close = |a: f64, b: f64| (a - b).abs() <= 1e-12 * a.abs().max(b.abs()).max(1.0);
        for (name, a, b) in [
            ("total", te.total, tc.total),
            ("prediction", te.prediction, tc.prediction),
            ("nonneg", te.nonneg, tc.nonneg),
            ("activity", te.activity, tc.activity),
            ("weight", te.weight, tc.weight),
            ("sparsity", te.sparsity, tc.sparsity),
            ("weight_l1", te.weight_l1, tc.weight_l1),
        ] {
            assert!(close(a, b), "case {k}: {name} expanded {a} vs counted {b}");
        }
        assert!(
            te.nonneg > 0.0 || c.nonneg != Nonneg::Hinge,
            "case {k}: hinge term unused"
        );
        for (i, (a, b)) in ge.iter().zip(&net.grads).enumerate() {
            assert!(
                close(*a, *b),
                "case {k}: grad {i} expanded {a} vs counted {b}"
            );
        }
    }
}

/// A product split over two threads (the study engine's lone-run mode) must not change a bit:
/// the `gemm` crate splits over output blocks only. Shapes above the split threshold (~1M
/// multiply-adds), three training steps.
#[test]
fn gemm_threads_do_not_change_results() {
    use crate::optim::Adam;
    let spec = MlpSpec {
        dims: vec![32, 256, 160, 256, 32],
        activations: vec![Activation::Relu; 3],
        head: Head::SigmoidCe,
        reduction: Reduction::Mean,
        split: None,
    };
    let c = all_terms(Nonneg::Hinge, Normalisation::Sum);
    let mut rng = ChaCha8Rng::seed_from_u64(3);
    let b = 64;
    let x: Vec<f32> = (0..b * 32).map(|_| rng.gen_range(0.0..1.0)).collect();
    let net: Mlp<f32> = Mlp::new(spec, &c, &mut rng);
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(2)
        .build()
        .expect("a 2-thread pool");
    let run = |threads: usize| {
        pool.install(|| {
            crate::kernels::set_gemm_threads(threads);
            let mut n = net.clone();
            let mut adam = Adam::new(n.params.len());
            let losses: Vec<_> = (0..3)
                .map(|_| {
                    let t = n.loss_and_grad(&x, &x, b, &c);
                    adam.step(&mut n.params, &n.grads, 1e-3);
                    t
                })
                .collect();
            crate::kernels::set_gemm_threads(1);
            (
                losses,
                n.params.iter().map(|p| p.to_bits()).collect::<Vec<_>>(),
            )
        })
    };
    let (l1, p1) = run(1);
    let (l2, p2) = run(2);
    assert_eq!(l1, l2, "loss terms");
    assert_eq!(p1, p2, "parameters after 3 steps");
}
