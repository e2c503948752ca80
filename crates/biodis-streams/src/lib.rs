//! Every random stream of biodis, named in one place.
//!
//! A seed (a run's `seed`, or the `--seed` of a command) becomes random numbers in one of two
//! ways, and every place that does so uses a name from this crate:
//!
//! * **ChaCha8 streams** ([`Stream`]): `ChaCha8Rng::seed_from_u64(seed)` with one stream
//!   number (the cipher's nonce) per purpose. The streams of one key are independent, so a run
//!   that draws more from one stream (a longer training, more evaluation worlds) never moves
//!   the numbers of another. Each run kind has its own table; numbers repeat across kinds
//!   because each run is only ever one kind:
//!
//!   | run kind | stream | name | draws |
//!   |---|---|---|---|
//!   | dense (Figs 2–4, 8–9) | 1 | [`dense::DATASET`] | the factor-task dataset (`biodis_data::Task::generate`) |
//!   | | 2 | [`dense::INIT`] | the network's initial weights |
//!   | | 3 | [`dense::BATCHES`] | minibatch indices (its word position is checkpointed) |
//!   | | 4 | [`dense::DIAGNOSTICS`] | the gradient-noise diagnostics' minibatches (seeded by run seed and step) |
//!   | grid world (Figs 6, 7, 14) | 1 | [`cells::WORLDS`] | training worlds (and the entangled task's one world) |
//!   | | 2 | [`cells::INIT`] | the model's initial parameters |
//!   | | 3 | [`cells::Z_INIT`] | random `z` inits (`z_init = "random"`) |
//!   | | 4 | [`cells::EVAL_WORLDS`] | the evaluation worlds and the patch baseline's layouts |
//!   | VAE (Figs 5, 12, 13) | 10 | [`vae::INIT`] | the conv VAE's initial weights |
//!   | | 11 | [`vae::FACTORS`] | the factors of each training batch |
//!   | | 12 | [`vae::EPS`] | the reparameterisation noise ε |
//!   | | 13 | [`vae::EVAL`] | the factors of the evaluation sample (MIG, R²) |
//!
//! * **Derived SplitMix64 seeds** (functions returning a `u64` for
//!   `biodis_metrics::special::SplitMix64`): one seed per cell, per factor or per check, so
//!   that each piece is reproducible on its own and in any order (threads included). See
//!   [`theory`], [`cells`] (the null shuffles of the grid-world analyses), [`spatial`] (the
//!   `biodis spatial` command), [`metrics`] (DCI's per-factor classifiers) and [`fixed`] (the
//!   fixed seeds of deterministic algorithms and benchmarks).
//!
//! Nothing here may change a generated number: `tests::derived_values_are_pinned` pins them.

use rand_chacha::rand_core::SeedableRng;
use rand_chacha::ChaCha8Rng;

/// One ChaCha8 stream of a seed: its number (the nonce) and its name.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Stream {
    id: u64,
    name: &'static str,
}

impl Stream {
    const fn new(id: u64, name: &'static str) -> Stream {
        Stream { id, name }
    }

    /// The stream number passed to `ChaCha8Rng::set_stream`.
    pub const fn id(self) -> u64 {
        self.id
    }

    /// A short name (`"dense.batches"`), for messages and docs.
    pub const fn name(self) -> &'static str {
        self.name
    }

    /// The generator of this stream for `seed`: `ChaCha8Rng::seed_from_u64(seed)`, then
    /// `set_stream(self.id())`, at word position 0.
    pub fn rng(self, seed: u64) -> ChaCha8Rng {
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        rng.set_stream(self.id);
        rng
    }
}

/// The ChaCha8 streams of a dense run (`biodis-study`'s trainer, `biodis-data`'s tasks).
pub mod dense {
    use super::Stream;

    /// The factor-task dataset, drawn by `biodis_data::Task::generate(seed)`.
    pub const DATASET: Stream = Stream::new(1, "dense.dataset");
    /// The network's initial weights (`biodis_nn::Mlp::new`).
    pub const INIT: Stream = Stream::new(2, "dense.init");
    /// The minibatch indices; the checkpoint stores its word position, so a resumed run draws
    /// the batches an uninterrupted run would.
    pub const BATCHES: Stream = Stream::new(3, "dense.batches");
    /// The extra minibatches of the gradient-noise diagnostics (`train.noise_diagnostics`),
    /// drawn at each evaluation from the step number, so they never move the training batches.
    pub const DIAGNOSTICS: Stream = Stream::new(4, "dense.diagnostics");
}

/// The ChaCha8 streams of a grid-world run, and the per-cell seeds of its null shuffles.
pub mod cells {
    use super::Stream;

    /// Training worlds (a fresh batch every step in the factorised task; the entangled task's
    /// one world is the first of this stream with ≥ 2 objects).
    pub const WORLDS: Stream = Stream::new(1, "cells.worlds");
    /// The model's initial parameters (`biodis_cells::CellModel::new`).
    pub const INIT: Stream = Stream::new(2, "cells.init");
    /// Random initial `z` of inference (`z_init = "random"`).
    pub const Z_INIT: Stream = Stream::new(3, "cells.z_init");
    /// The evaluation worlds (world 0 without objects is fixed; the rest are drawn here) and
    /// the random layouts of the patch-correlation baseline.
    pub const EVAL_WORLDS: Stream = Stream::new(4, "cells.eval_worlds");

    /// Seed of cell `cell`'s bin-permutation grid-score null: `seed ^ cell · 0x9E37_79B9_7F4A_7C15`.
    pub const fn grid_null(seed: u64, cell: usize) -> u64 {
        seed ^ (cell as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15)
    }

    /// Seed of cell `cell`'s smooth-field grid-score null: `seed ^ cell · 0xD1B5_4A32_D192_ED03`.
    pub const fn smooth_null(seed: u64, cell: usize) -> u64 {
        seed ^ (cell as u64).wrapping_mul(0xD1B5_4A32_D192_ED03)
    }

    /// Seed of cell `cell`'s object-vector null (objects moved at random):
    /// `seed ^ cell · 0xA24B_AED4_963E_E407`.
    pub const fn ovc_null(seed: u64, cell: usize) -> u64 {
        seed ^ (cell as u64).wrapping_mul(0xA24B_AED4_963E_E407)
    }
}

/// The ChaCha8 streams of a VAE run (`biodis-vae`).
pub mod vae {
    use super::Stream;

    /// The conv VAE's initial weights (`ConvVae::new_seeded`).
    pub const INIT: Stream = Stream::new(10, "vae.init");
    /// The factors of each training batch (every factor uniform, as disentanglement_lib).
    pub const FACTORS: Stream = Stream::new(11, "vae.factors");
    /// The reparameterisation noise ε of each training step.
    pub const EPS: Stream = Stream::new(12, "vae.eps");
    /// The factors of the evaluation sample (`biodis_vae::evaluate`: MIG and R²).
    pub const EVAL: Stream = Stream::new(13, "vae.eval");
}

/// The per-check seeds of `biodis theory` (`biodis-theory`): `seed ^ tag`, one tag per check.
pub mod theory {
    /// Theorem 1 (a), closed form against Monte Carlo.
    pub const THM1_CLOSED_FORM: u64 = 0x11;
    /// Theorem 1, the optimum.
    pub const THM1_OPTIMUM: u64 = 0x22;
    /// Theorem 1, rotations.
    pub const THM1_ROTATION: u64 = 0x33;
    /// Lemma A.3.2, the variance bound.
    pub const LEMMA_VARIANCE_BOUND: u64 = 0x44;
    /// Theorem 2.
    pub const THM2: u64 = 0x55;
    /// App. A.3.4.
    pub const A34: u64 = 0x66;
    /// App. A.3.5, the λ form.
    pub const A35_LAMBDA: u64 = 0x77;
    /// App. A.3.5, the general form.
    pub const A35_GENERAL: u64 = 0x88;
    /// App. A.7.
    pub const A7: u64 = 0x99;

    /// The seed of the check tagged `tag` (one of this module's constants): `seed ^ tag`.
    pub const fn check(seed: u64, tag: u64) -> u64 {
        seed ^ tag
    }
}

/// The seeds of `biodis spatial`.
pub mod spatial {
    /// Seed of cell `cell`'s shuffle null: `seed + 7919 · cell`.
    pub const fn cell_null(seed: u64, cell: usize) -> u64 {
        seed.wrapping_add(cell as u64 * 7919)
    }

    /// Seed of the synthetic demo maps (`--demo`): `seed ^ 0xD3`.
    pub const fn demo_maps(seed: u64) -> u64 {
        seed ^ 0xD3
    }
}

/// Seeds derived inside the metrics.
pub mod metrics {
    /// DCI: the tie-breaking seed of factor `k`'s gradient-boosted classifier: `seed + k`.
    pub const fn dci_factor(seed: u64, k: usize) -> u64 {
        seed.wrapping_add(k as u64)
    }
}

/// Fixed seeds: deterministic algorithms that shuffle, and benchmark data.
pub mod fixed {
    /// The coordinate order of the linear SVM's dual coordinate descent (liblinear's shuffle).
    pub const SVM_COORDINATE_ORDER: u64 = 1;
    /// The synthetic latents and factors of `biodis bench metrics`.
    pub const BENCH_METRICS_DATA: u64 = 7;
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand_chacha::rand_core::RngCore;

    /// The first word of stream `id` of `seed`, written out the long way.
    fn first_word(seed: u64, id: u64) -> u64 {
        let mut r = ChaCha8Rng::seed_from_u64(seed);
        r.set_stream(id);
        r.next_u64()
    }

    #[test]
    fn derived_values_are_pinned() {
        let ids = [
            (dense::DATASET, 1),
            (dense::INIT, 2),
            (dense::BATCHES, 3),
            (cells::WORLDS, 1),
            (cells::INIT, 2),
            (cells::Z_INIT, 3),
            (cells::EVAL_WORLDS, 4),
            (vae::INIT, 10),
            (vae::FACTORS, 11),
            (vae::EPS, 12),
            (vae::EVAL, 13),
        ];
        for (s, id) in ids {
            assert_eq!(s.id(), id, "{}", s.name());
            for seed in [0, 1, 7, u64::MAX] {
                assert_eq!(s.rng(seed).next_u64(), first_word(seed, id), "{}", s.name());
                assert_eq!(s.rng(seed).get_stream(), id);
                assert_eq!(s.rng(seed).get_word_pos(), 0);
            }
        }
        // the generator itself: a change of rand_chacha's seeding would show here
        assert_eq!(
            [dense::DATASET.rng(0).next_u64(), vae::EPS.rng(5).next_u64()],
            PINNED_FIRST_WORDS
        );

        let t = [
            (theory::THM1_CLOSED_FORM, 0x11),
            (theory::THM1_OPTIMUM, 0x22),
            (theory::THM1_ROTATION, 0x33),
            (theory::LEMMA_VARIANCE_BOUND, 0x44),
            (theory::THM2, 0x55),
            (theory::A34, 0x66),
            (theory::A35_LAMBDA, 0x77),
            (theory::A35_GENERAL, 0x88),
            (theory::A7, 0x99),
        ];
        for (tag, v) in t {
            assert_eq!(tag, v);
            assert_eq!(theory::check(0, tag), v);
            assert_eq!(theory::check(1234, tag), 1234 ^ v);
        }

        assert_eq!(cells::grid_null(0, 0), 0);
        assert_eq!(cells::grid_null(0, 1), 0x9E37_79B9_7F4A_7C15);
        assert_eq!(
            cells::grid_null(5, 3),
            5 ^ 3u64.wrapping_mul(0x9E37_79B9_7F4A_7C15)
        );
        assert_eq!(cells::grid_null(5, 3), 0xDAA6_6D2C_7DDF_743A);
        assert_eq!(cells::smooth_null(5, 3), 0x751F_DE98_74B8_C70C);
        assert_eq!(cells::ovc_null(5, 3), 0xE6E3_0C7D_C2BC_AC10);

        assert_eq!(spatial::cell_null(0, 0), 0);
        assert_eq!(spatial::cell_null(10, 3), 10 + 3 * 7919);
        assert_eq!(spatial::cell_null(u64::MAX, 1), 7918);
        assert_eq!(spatial::demo_maps(0), 0xD3);
        assert_eq!(spatial::demo_maps(0xD3), 0);

        assert_eq!(metrics::dci_factor(0, 5), 5);
        assert_eq!(metrics::dci_factor(u64::MAX, 1), 0);

        assert_eq!(fixed::SVM_COORDINATE_ORDER, 1);
        assert_eq!(fixed::BENCH_METRICS_DATA, 7);
    }

    /// The first words of `dense::DATASET` for seed 0 and of `vae::EPS` for seed 5 (rand_chacha
    /// 0.3; equal to `first_word`, the code each site had before it used this crate).
    const PINNED_FIRST_WORDS: [u64; 2] = [13_937_087_304_575_520_531, 4_967_673_753_678_249_566];
}
