//! Property tests of the metric definitions: invariances the definitions imply and known values.

use biodis_metrics::discrete::{mig, modularity};
use biodis_metrics::{mir, FactorKind, MirOptions};
use ndarray::Array2;
use proptest::prelude::*;

/// Full factorial grid (sizes 5 × 4 × 3, N = 60 · reps) so empirical factors are independent.
fn grid(reps: usize) -> Array2<f64> {
    let sizes = [5usize, 4, 3];
    let n: usize = sizes.iter().product::<usize>() * reps;
    Array2::from_shape_fn((n, 3), |(s, j)| {
        let s = s % 60;
        let stride: usize = sizes[j + 1..].iter().product();
        ((s / stride) % sizes[j]) as f64
    })
}

/// A code: each latent = a_j · factor_{src_j} + b_j + mixing · (sum of other factors).
fn code(f: &Array2<f64>, src: &[usize], a: &[f64], b: &[f64], mixing: f64) -> Array2<f64> {
    Array2::from_shape_fn((f.nrows(), src.len()), |(s, j)| {
        let other: f64 = (0..3).filter(|&k| k != src[j]).map(|k| f[[s, k]]).sum();
        a[j] * (f[[s, src[j]]] + mixing * other) + b[j]
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(48))]

    #[test]
    fn mig_and_modularity_invariant_to_permutation_and_affine_maps(
        src in proptest::collection::vec(0usize..3, 4),
        a in proptest::collection::vec(prop_oneof![0.2f64..5.0, -5.0f64..-0.2], 4),
        b in proptest::collection::vec(-10.0f64..10.0, 4),
        mixing in 0.0f64..0.7,
        perm_seed in 0u64..1000,
    ) {
        let f = grid(3);
        let ones = vec![1.0; 4];
        let zeros = vec![0.0; 4];
        let base = code(&f, &src, &ones, &zeros, mixing);
        let moved = code(&f, &src, &a, &b, mixing);
        // a permutation of the latents
        let mut order: Vec<usize> = (0..4).collect();
        order.rotate_left((perm_seed % 4) as usize);
        let permuted = Array2::from_shape_fn(moved.dim(), |(s, j)| moved[[s, order[j]]]);
        let m0 = mig(base.view(), f.view(), FactorKind::Discrete, 20).unwrap().value;
        let m1 = mig(permuted.view(), f.view(), FactorKind::Discrete, 20).unwrap().value;
        prop_assert!((m0 - m1).abs() < 1e-9, "MIG {} vs {}", m0, m1);
        let d0 = modularity(base.view(), f.view(), FactorKind::Discrete, 20).unwrap().value;
        let d1 = modularity(permuted.view(), f.view(), FactorKind::Discrete, 20).unwrap().value;
        prop_assert!((d0 - d1).abs() < 1e-9);
    }

    #[test]
    fn mir_invariant_to_permutation_and_global_positive_scale(
        src in proptest::collection::vec(0usize..3, 5),
        scale in 0.01f64..100.0,
        mixing in 0.0f64..0.7,
    ) {
        let f = grid(3);
        let a = vec![1.0, 2.0, 0.5, 1.5, 3.0];
        let b = vec![0.0; 5];
        let c = code(&f, &src, &a, &b, mixing);
        let r0 = mir(c.view(), f.view(), &MirOptions::default()).unwrap().mir;
        let scaled = c.mapv(|v| v * scale);
        let rev = Array2::from_shape_fn(c.dim(), |(s, j)| scaled[[s, 4 - j]]);
        let r1 = mir(rev.view(), f.view(), &MirOptions::default()).unwrap().mir;
        prop_assert!((r0 - r1).abs() < 1e-9, "MIR {} vs {}", r0, r1);
        prop_assert!((0.0..=1.0 + 1e-12).contains(&r0));
    }
}

#[test]
fn perfect_code_scores_one_and_duplicated_code_known_values() {
    let f = grid(2);
    let perfect = code(&f, &[0, 1, 2], &[1.0, -2.0, 0.5], &[0.0, 1.0, 2.0], 0.0);
    assert!(
        (mig(perfect.view(), f.view(), FactorKind::Discrete, 20)
            .unwrap()
            .value
            - 1.0)
            .abs()
            < 1e-12
    );
    assert!(
        (mir(perfect.view(), f.view(), &MirOptions::default())
            .unwrap()
            .mir
            - 1.0)
            .abs()
            < 1e-12
    );
    assert!(
        (modularity(perfect.view(), f.view(), FactorKind::Discrete, 20)
            .unwrap()
            .value
            - 1.0)
            .abs()
            < 1e-12
    );
    // every factor coded twice: MIG = 0 (no gap), MIR and modularity stay 1 (each latent still
    // cares about one factor) — the reason the paper prefers MIR (App. A.1)
    let dup = code(
        &f,
        &[0, 1, 2, 0, 1, 2],
        &[1.0, 1.0, 1.0, 3.0, 3.0, 3.0],
        &[0.0; 6],
        0.0,
    );
    assert!(
        mig(dup.view(), f.view(), FactorKind::Discrete, 20)
            .unwrap()
            .value
            .abs()
            < 1e-12
    );
    assert!(
        (mir(dup.view(), f.view(), &MirOptions::default())
            .unwrap()
            .mir
            - 1.0)
            .abs()
            < 1e-12
    );
    assert!(
        (modularity(dup.view(), f.view(), FactorKind::Discrete, 20)
            .unwrap()
            .value
            - 1.0)
            .abs()
            < 1e-12
    );
}
