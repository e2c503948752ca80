//! Metrics that need an encoder and a ground-truth sampler (they intervene on factors):
//! the FactorVAE score (Kim & Mnih 2018) and the BetaVAE score (Higgins et al. 2017), as
//! disentanglement_lib (`factor_vae.py`, `beta_vae.py`), behind two small traits so any dataset
//! and any model (a closure over exported weights, a PyTorch model behind FFI, …) can be used.
//!
//! Factors are discrete with `factor_sizes()[k]` values each and are sampled uniformly and
//! independently (dlib's `SplitDiscreteStateSpace`). Defaults are dlib's constants; [`Protocol::fast`]
//! is a 10× smaller preset for quick looks (its numbers are noisier; it is labelled in the id
//! parameters).

use crate::logistic::Logistic;
use crate::score::Score;
use crate::special::SplitMix64;
use crate::MetricError;

/// A dataset with discrete ground-truth factors that can render observations for any factor
/// combination.
pub trait GroundTruthData {
    type Obs;
    /// Number of values of each factor.
    fn factor_sizes(&self) -> Vec<usize>;
    /// Observations of a batch of factor vectors (`factors[s][k]` in `0..factor_sizes()[k]`).
    fn observe(&self, factors: &[Vec<usize>], rng: &mut SplitMix64) -> Self::Obs;
    /// `n` factor vectors. The default draws every factor uniformly and independently from
    /// `rng` (dlib's `SplitDiscreteStateSpace`); a dataset with its own sampler (e.g. a Python
    /// callable) overrides it and must return `n` vectors of `factor_sizes().len()` values,
    /// value `k` in `0..factor_sizes()[k]`.
    fn sample_factors(&self, n: usize, rng: &mut SplitMix64) -> Vec<Vec<usize>> {
        uniform_factors(&self.factor_sizes(), n, rng)
    }
}

/// A representation: observations → codes (`codes[s][j]`, e.g. the posterior mean).
pub trait Encoder<O> {
    fn encode(&self, obs: &O) -> Vec<Vec<f64>>;
}

/// Sample sizes of the protocol metrics.
#[derive(Debug, Clone, Copy)]
pub struct Protocol {
    pub batch_size: usize,
    pub num_train: usize,
    pub num_eval: usize,
    pub num_variance_estimate: usize,
    pub prune_threshold: f64,
    pub seed: u64,
    pub preset: &'static str,
}

impl Protocol {
    /// disentanglement_lib's constants (FactorVAE: batch 64, 10 000 train votes, 5 000 eval
    /// votes, 10 000 samples for the global variance, prune 0.05; BetaVAE: batch 64, 10 000 /
    /// 5 000 points).
    pub fn dlib() -> Self {
        Protocol {
            batch_size: 64,
            num_train: 10_000,
            num_eval: 5_000,
            num_variance_estimate: 10_000,
            prune_threshold: 0.05,
            seed: 0,
            preset: "dlib",
        }
    }
    /// 10× fewer votes/points.
    pub fn fast() -> Self {
        Protocol {
            num_train: 1_000,
            num_eval: 500,
            num_variance_estimate: 2_000,
            preset: "fast",
            ..Self::dlib()
        }
    }
}

impl Protocol {
    /// Checks the ranges: `batch_size >= 2` (a variance over the batch needs two points),
    /// `num_train`, `num_eval >= 1`, `num_variance_estimate >= 2`, `prune_threshold` in
    /// `[0, ∞)` and finite.
    pub fn validate(&self) -> Result<(), MetricError> {
        use crate::options::*;
        check_at_least("batch_size", self.batch_size, 2)?;
        check_at_least("num_train", self.num_train, 1)?;
        check_at_least("num_eval", self.num_eval, 1)?;
        check_at_least("num_variance_estimate", self.num_variance_estimate, 2)?;
        if !(self.prune_threshold.is_finite() && self.prune_threshold >= 0.0) {
            return Err(MetricError::BadOption {
                option: "prune_threshold".into(),
                value: self.prune_threshold.to_string(),
                expected: "a finite number >= 0".into(),
            });
        }
        Ok(())
    }
}

/// `n` factor vectors, each factor uniform and independent (the default sampler).
pub fn uniform_factors(sizes: &[usize], n: usize, rng: &mut SplitMix64) -> Vec<Vec<usize>> {
    (0..n)
        .map(|_| sizes.iter().map(|&k| rng.below(k)).collect())
        .collect()
}

fn var_ddof1(codes: &[Vec<f64>], j: usize) -> f64 {
    let n = codes.len() as f64;
    let m = codes.iter().map(|c| c[j]).sum::<f64>() / n;
    codes.iter().map(|c| (c[j] - m).powi(2)).sum::<f64>() / (n - 1.0)
}

/// FactorVAE score (`factor_vae.dlib`, eval accuracy of the majority-vote classifier).
pub fn factor_vae_score<D: GroundTruthData, E: Encoder<D::Obs>>(
    data: &D,
    enc: &E,
    p: Protocol,
) -> Result<Score, MetricError> {
    p.validate()?;
    let sizes = data.factor_sizes();
    if sizes.is_empty() || sizes.contains(&0) {
        return Err(MetricError::Invalid {
            what: "ground-truth data".into(),
            msg: "every factor needs at least one value".into(),
        });
    }
    let mut rng = SplitMix64(p.seed);
    // global variances, encoded in batches
    let mut all = Vec::new();
    while all.len() < p.num_variance_estimate {
        let b = p.batch_size.min(p.num_variance_estimate - all.len());
        let f = data.sample_factors(b, &mut rng);
        all.extend(enc.encode(&data.observe(&f, &mut rng)));
    }
    let d = all.first().map(|c| c.len()).unwrap_or(0);
    let gvar: Vec<f64> = (0..d).map(|j| var_ddof1(&all, j)).collect();
    let active: Vec<usize> = (0..d)
        .filter(|&j| gvar[j].sqrt() >= p.prune_threshold)
        .collect();
    if active.is_empty() {
        // as the reference: both accuracies 0 when every dimension is pruned
        return Ok(Score::new("factor_vae.dlib", 0.0)
            .part("train_accuracy", 0.0)
            .part("eval_accuracy", 0.0)
            .part("num_active_dims", 0.0)
            .param("note", "no active dimensions")
            .param("preset", p.preset));
    }
    let nk = sizes.len();
    let votes = |n: usize, rng: &mut SplitMix64| -> Vec<Vec<f64>> {
        let mut v = vec![vec![0.0; d]; nk];
        for _ in 0..n {
            let k = rng.below(nk);
            let mut f = data.sample_factors(p.batch_size, rng);
            let fixed = f[0][k];
            for row in f.iter_mut() {
                row[k] = fixed;
            }
            let codes = enc.encode(&data.observe(&f, rng));
            let mut best = 0;
            let mut bv = f64::INFINITY;
            for (ai, &j) in active.iter().enumerate() {
                let r = var_ddof1(&codes, j) / gvar[j];
                if r < bv {
                    bv = r;
                    best = ai;
                }
            }
            // dlib quirk: the index into the *active* subset addresses the vote columns
            v[k][best] += 1.0;
        }
        v
    };
    let train = votes(p.num_train, &mut rng);
    let eval = votes(p.num_eval, &mut rng);
    let cls: Vec<usize> = (0..d)
        .map(|j| {
            let mut b = 0;
            for k in 1..nk {
                if train[k][j] > train[b][j] {
                    b = k;
                }
            }
            b
        })
        .collect();
    let acc = |v: &Vec<Vec<f64>>| -> f64 {
        let tot: f64 = v.iter().flatten().sum();
        (0..d).map(|j| v[cls[j]][j]).sum::<f64>() / tot
    };
    let (tr, ev) = (acc(&train), acc(&eval));
    Ok(Score::new("factor_vae.dlib", ev)
        .part("train_accuracy", tr)
        .part("eval_accuracy", ev)
        .part("num_active_dims", active.len() as f64)
        .param("preset", p.preset)
        .param("batch_size", p.batch_size))
}

/// BetaVAE score (`beta_vae.dlib`): eval accuracy of a logistic regression (scikit-learn
/// defaults, see [`crate::logistic`]) predicting the fixed factor from `mean |z¹ − z²|`.
pub fn beta_vae_score<D: GroundTruthData, E: Encoder<D::Obs>>(
    data: &D,
    enc: &E,
    p: Protocol,
) -> Result<Score, MetricError> {
    p.validate()?;
    let sizes = data.factor_sizes();
    if sizes.len() < 2 {
        return Err(MetricError::Invalid {
            what: "ground-truth data".into(),
            msg: "BetaVAE score needs at least 2 factors".into(),
        });
    }
    let mut rng = SplitMix64(p.seed);
    let nk = sizes.len();
    let points = |n: usize, rng: &mut SplitMix64| -> (Vec<Vec<f64>>, Vec<u32>) {
        let mut x = Vec::with_capacity(n);
        let mut y = Vec::with_capacity(n);
        for _ in 0..n {
            let k = rng.below(nk);
            let f1 = data.sample_factors(p.batch_size, rng);
            let mut f2 = data.sample_factors(p.batch_size, rng);
            for (a, b) in f2.iter_mut().zip(&f1) {
                a[k] = b[k];
            }
            let z1 = enc.encode(&data.observe(&f1, rng));
            let z2 = enc.encode(&data.observe(&f2, rng));
            let d = z1[0].len();
            let feat: Vec<f64> = (0..d)
                .map(|j| {
                    z1.iter()
                        .zip(&z2)
                        .map(|(a, b)| (a[j] - b[j]).abs())
                        .sum::<f64>()
                        / z1.len() as f64
                })
                .collect();
            x.push(feat);
            y.push(k as u32);
        }
        (x, y)
    };
    let (xtr, ytr) = points(p.num_train, &mut rng);
    let (xte, yte) = points(p.num_eval, &mut rng);
    let m = Logistic::fit(&xtr, &ytr, nk, 1.0);
    let acc = |x: &[Vec<f64>], y: &[u32]| {
        m.predict(x).iter().zip(y).filter(|(a, b)| a == b).count() as f64 / y.len() as f64
    };
    let (tr, ev) = (acc(&xtr, &ytr), acc(&xte, &yte));
    Ok(Score::new("beta_vae.dlib", ev)
        .part("train_accuracy", tr)
        .part("eval_accuracy", ev)
        .param("preset", p.preset))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Observations are the factor values themselves (a 3-factor toy world).
    struct Toy;
    impl GroundTruthData for Toy {
        type Obs = Vec<Vec<usize>>;
        fn factor_sizes(&self) -> Vec<usize> {
            vec![5, 4, 6]
        }
        fn observe(&self, f: &[Vec<usize>], _: &mut SplitMix64) -> Self::Obs {
            f.to_vec()
        }
    }
    /// A perfectly disentangled encoder (one latent per factor, plus a dead latent).
    struct Perfect;
    impl Encoder<Vec<Vec<usize>>> for Perfect {
        fn encode(&self, o: &Vec<Vec<usize>>) -> Vec<Vec<f64>> {
            o.iter()
                .map(|f| vec![f[0] as f64, f[1] as f64 * 2.0, f[2] as f64 * 0.5, 0.0])
                .collect()
        }
    }
    /// A rotated (entangled) encoder.
    struct Mixed;
    impl Encoder<Vec<Vec<usize>>> for Mixed {
        fn encode(&self, o: &Vec<Vec<usize>>) -> Vec<Vec<f64>> {
            o.iter()
                .map(|f| {
                    let (a, b, c) = (f[0] as f64 / 4.0, f[1] as f64 / 3.0, f[2] as f64 / 5.0);
                    vec![a + b + c, a - b + 0.5 * c, a + 0.3 * b - c]
                })
                .collect()
        }
    }

    #[test]
    fn factor_vae_perfect_is_one_mixed_is_lower() {
        let s = factor_vae_score(&Toy, &Perfect, Protocol::fast()).unwrap();
        assert!((s.value - 1.0).abs() < 1e-12, "{s:?}");
        assert_eq!(s.parts["num_active_dims"], 3.0);
        let m = factor_vae_score(&Toy, &Mixed, Protocol::fast()).unwrap();
        assert!(m.value < 0.9, "{m:?}");
    }

    /// A dataset with its own sampler: factor 2 is always 0, so its latent is pruned.
    struct Stuck;
    impl GroundTruthData for Stuck {
        type Obs = Vec<Vec<usize>>;
        fn factor_sizes(&self) -> Vec<usize> {
            vec![5, 4, 6]
        }
        fn observe(&self, f: &[Vec<usize>], _: &mut SplitMix64) -> Self::Obs {
            f.to_vec()
        }
        fn sample_factors(&self, n: usize, rng: &mut SplitMix64) -> Vec<Vec<usize>> {
            let mut f = uniform_factors(&self.factor_sizes(), n, rng);
            f.iter_mut().for_each(|r| r[2] = 0);
            f
        }
    }

    #[test]
    fn a_dataset_sampler_is_used() {
        let s = factor_vae_score(&Stuck, &Perfect, Protocol::fast()).unwrap();
        assert_eq!(s.parts["num_active_dims"], 2.0, "{s:?}");
    }

    #[test]
    fn beta_vae_perfect_is_one_mixed_is_lower() {
        let s = beta_vae_score(&Toy, &Perfect, Protocol::fast()).unwrap();
        assert!((s.value - 1.0).abs() < 1e-12, "{s:?}");
        let m = beta_vae_score(&Toy, &Mixed, Protocol::fast()).unwrap();
        assert!(m.value <= s.value);
    }
}
