//! Seeded synthetic datasets of the paper's factor tasks (Whittington et al. 2023, App. A.4).
//!
//! Every task starts from `n_factors` independent factors `e ~ U[0, 1]` and `n_samples`
//! samples (paper: 6 factors, 200 000 samples). Mixing matrices are redrawn per seed:
//!
//! | task | input `x` | target `y` |
//! |---|---|---|
//! | `supervised_linear` | `O e`, `O` a random orthogonal `k × k` (Haar, via Gram–Schmidt of a Gaussian matrix) | `W e`, `W_ij ~ N(0,1)`, `k × k` |
//! | `supervised_cubic` | `(O e)³` element-wise | `W e` |
//! | `unsupervised_linear` | `y` | `W e`, `W ∈ R^{out × k}`, `N(0,1)` (paper: out = 50) |
//! | `unsupervised_mlp` | `y` | `W₂ relu(W₁ e)`, hidden 28 (paper), all weights `N(0,1)`, no biases |
//! | `categories` | `y` | one of `n_factors` fixed random `U(0,1)^out` vectors, uniformly (App. A.7); factors = one-hot category |
//!
//! `target_scale = "minmax"` rescales every input/target dimension to [0, 1] with its minimum
//! and maximum over the dataset (the autoencoders' sigmoid cross-entropy needs targets in
//! [0, 1]; the paper does not say how it rescaled, this is the natural choice).
//!
//! All arrays are `f32`, row-major, samples × dims. The same `(spec, seed)` always gives the
//! same dataset (ChaCha8 stream [`streams::dense::DATASET`] of the seed; every stream is named
//! in `biodis-streams`, re-exported here as [`streams`]).
//!
//! Files: [`matrix`] reads the samples × dims matrices (and ratemap arrays) that `biodis score`
//! and `biodis spatial` take, from `.npy` / `.npz` ([`npy`]) or `.csv` ([`csv`]); [`images`]
//! holds the image datasets and [`gridworld`] the grid worlds of the cell model.

pub use biodis_streams as streams;

pub mod csv;
pub mod gridworld;
pub mod images;
pub mod matrix;
pub mod mem;
pub mod npy;

use rand::Rng;
use rand_chacha::ChaCha8Rng;
use rand_distr::StandardNormal;
use serde::{Deserialize, Serialize};

/// Which factor task to generate.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Task {
    SupervisedLinear,
    SupervisedCubic,
    UnsupervisedLinear,
    UnsupervisedMlp,
    Categories,
}

impl Task {
    /// True for the autoencoder tasks (input = target).
    pub fn is_unsupervised(self) -> bool {
        matches!(
            self,
            Task::UnsupervisedLinear | Task::UnsupervisedMlp | Task::Categories
        )
    }
}

/// Dataset specification (the `[data]` table of a recipe).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DataSpec {
    pub task: Task,
    /// Number of independent factors `k` (paper: 6).
    #[serde(default = "default_factors")]
    pub n_factors: usize,
    /// Number of samples (paper: 200 000).
    #[serde(default = "default_samples")]
    pub n_samples: usize,
    /// Output dimension of the unsupervised tasks (paper: 50). Ignored by supervised tasks,
    /// whose output dimension is `n_factors`.
    #[serde(default = "default_out")]
    pub out_dim: usize,
    /// Hidden width of the generating MLP of `unsupervised_mlp` (paper: 28).
    #[serde(default = "default_mlp_hidden")]
    pub mlp_hidden: usize,
    /// Rescaling of inputs/targets.
    #[serde(default)]
    pub target_scale: TargetScale,
}

/// Rescaling of the generated inputs and targets.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum TargetScale {
    #[default]
    None,
    /// Per dimension to [0, 1] by the dataset's min and max.
    Minmax,
}

fn default_factors() -> usize {
    6
}
fn default_samples() -> usize {
    200_000
}
fn default_out() -> usize {
    50
}
fn default_mlp_hidden() -> usize {
    28
}

/// Errors from dataset construction.
#[derive(Debug, thiserror::Error)]
pub enum DataError {
    #[error("data.{key} = {value}: {expected}")]
    Invalid {
        key: &'static str,
        value: String,
        expected: &'static str,
    },
}

/// A generated dataset: factors, inputs and targets, row-major `f32`.
#[derive(Debug, Clone)]
pub struct Dataset {
    pub n: usize,
    pub n_factors: usize,
    pub x_dim: usize,
    pub y_dim: usize,
    /// `n × n_factors`, the ground-truth factors `e`.
    pub factors: Vec<f32>,
    /// `n × x_dim`.
    pub x: Vec<f32>,
    /// `n × y_dim`.
    pub y: Vec<f32>,
}

impl DataSpec {
    /// Checks the spec; errors name the key and what is expected.
    pub fn validate(&self) -> Result<(), DataError> {
        if self.n_factors == 0 {
            return Err(DataError::Invalid {
                key: "n_factors",
                value: "0".into(),
                expected: "must be at least 1",
            });
        }
        if self.n_samples < 2 {
            return Err(DataError::Invalid {
                key: "n_samples",
                value: self.n_samples.to_string(),
                expected: "must be at least 2",
            });
        }
        if self.task.is_unsupervised() && self.out_dim == 0 {
            return Err(DataError::Invalid {
                key: "out_dim",
                value: "0".into(),
                expected: "must be at least 1",
            });
        }
        if self.task == Task::UnsupervisedMlp && self.mlp_hidden == 0 {
            return Err(DataError::Invalid {
                key: "mlp_hidden",
                value: "0".into(),
                expected: "must be at least 1",
            });
        }
        Ok(())
    }

    /// Input and output dimensions of this task.
    pub fn dims(&self) -> (usize, usize) {
        if self.task.is_unsupervised() {
            (self.out_dim, self.out_dim)
        } else {
            (self.n_factors, self.n_factors)
        }
    }

    /// The linear map from the factors to the network's input, `x = A e` (`x_dim × n_factors`,
    /// row-major), for the tasks whose input is linear in the factors: `supervised_linear`
    /// (`A = O`) and `unsupervised_linear` (`A = W`, the input is the target). `None` for the
    /// others, and under `target_scale = "minmax"` (which rescales each input by its range in
    /// the data). The same draws as [`Self::generate`] for `seed`, without generating the data.
    pub fn input_mixing(&self, seed: u64) -> Result<Option<Vec<f64>>, DataError> {
        self.validate()?;
        let mut rng = streams::dense::DATASET.rng(seed);
        let k = self.n_factors;
        let o = random_orthogonal(k, &mut rng);
        let _w_sup = gaussian(k * k, &mut rng);
        let w_un = gaussian(self.out_dim * k, &mut rng);
        if self.target_scale == TargetScale::Minmax {
            return Ok(None);
        }
        Ok(match self.task {
            Task::SupervisedLinear => Some(o),
            Task::UnsupervisedLinear => Some(w_un),
            _ => None,
        })
    }

    /// Generates the dataset for `seed` (deterministic; ChaCha8 stream [`streams::dense::DATASET`]).
    pub fn generate(&self, seed: u64) -> Result<Dataset, DataError> {
        self.validate()?;
        let mut rng = streams::dense::DATASET.rng(seed);
        let k = self.n_factors;
        let n = self.n_samples;
        let (x_dim, y_dim) = self.dims();
        // Mixing matrices first (so they do not depend on n), then the factors.
        let o = random_orthogonal(k, &mut rng);
        let w_sup = gaussian(k * k, &mut rng);
        let w_un = gaussian(self.out_dim * k, &mut rng);
        let w1 = gaussian(self.mlp_hidden * k, &mut rng);
        let w2 = gaussian(self.out_dim * self.mlp_hidden, &mut rng);
        let protos: Vec<f64> = if self.task == Task::Categories {
            (0..k * self.out_dim).map(|_| rng.gen::<f64>()).collect()
        } else {
            Vec::new()
        };
        let factors: Vec<f32> = if self.task == Task::Categories {
            let mut f = vec![0f32; n * k];
            for s in 0..n {
                f[s * k + rng.gen_range(0..k)] = 1.0;
            }
            f
        } else {
            (0..n * k).map(|_| rng.gen::<f64>() as f32).collect()
        };
        let mut x = vec![0f32; n * x_dim];
        let mut y = vec![0f32; n * y_dim];
        let mut hid = vec![0f64; self.mlp_hidden];
        for s in 0..n {
            let e = &factors[s * k..(s + 1) * k];
            match self.task {
                Task::SupervisedLinear | Task::SupervisedCubic => {
                    for i in 0..k {
                        let mut xi = 0f64;
                        let mut yi = 0f64;
                        for j in 0..k {
                            xi += o[i * k + j] * e[j] as f64;
                            yi += w_sup[i * k + j] * e[j] as f64;
                        }
                        if self.task == Task::SupervisedCubic {
                            xi = xi * xi * xi;
                        }
                        x[s * x_dim + i] = xi as f32;
                        y[s * y_dim + i] = yi as f32;
                    }
                }
                Task::UnsupervisedLinear => {
                    for i in 0..self.out_dim {
                        let yi: f64 = (0..k).map(|j| w_un[i * k + j] * e[j] as f64).sum();
                        y[s * y_dim + i] = yi as f32;
                    }
                }
                Task::Categories => {
                    let c = e.iter().position(|&v| v == 1.0).unwrap_or(0);
                    for i in 0..self.out_dim {
                        y[s * y_dim + i] = protos[c * self.out_dim + i] as f32;
                    }
                }
                Task::UnsupervisedMlp => {
                    for (h, hv) in hid.iter_mut().enumerate() {
                        let v: f64 = (0..k).map(|j| w1[h * k + j] * e[j] as f64).sum();
                        *hv = v.max(0.0);
                    }
                    for i in 0..self.out_dim {
                        let yi: f64 = (0..self.mlp_hidden)
                            .map(|h| w2[i * self.mlp_hidden + h] * hid[h])
                            .sum();
                        y[s * y_dim + i] = yi as f32;
                    }
                }
            }
        }
        if self.target_scale == TargetScale::Minmax {
            minmax(&mut y, y_dim);
            if !self.task.is_unsupervised() {
                minmax(&mut x, x_dim);
            }
        }
        if self.task.is_unsupervised() {
            x.copy_from_slice(&y);
        }
        Ok(Dataset {
            n,
            n_factors: k,
            x_dim,
            y_dim,
            factors,
            x,
            y,
        })
    }
}

/// Rescales every column of a row-major `? × d` array to [0, 1] (constant columns become 0).
fn minmax(a: &mut [f32], d: usize) {
    for j in 0..d {
        let (mut lo, mut hi) = (f32::INFINITY, f32::NEG_INFINITY);
        for row in a.chunks_exact(d) {
            lo = lo.min(row[j]);
            hi = hi.max(row[j]);
        }
        let span = hi - lo;
        for row in a.chunks_exact_mut(d) {
            row[j] = if span > 0.0 {
                (row[j] - lo) / span
            } else {
                0.0
            };
        }
    }
}

fn gaussian(n: usize, rng: &mut ChaCha8Rng) -> Vec<f64> {
    (0..n)
        .map(|_| rng.sample::<f64, _>(StandardNormal))
        .collect()
}

/// A Haar-random `k × k` orthogonal matrix (row-major): modified Gram–Schmidt on the columns
/// of a Gaussian matrix, which equals QR with a positive-diagonal `R`.
pub fn random_orthogonal(k: usize, rng: &mut ChaCha8Rng) -> Vec<f64> {
    loop {
        let a = gaussian(k * k, rng);
        // columns c_j = a[:, j]
        let mut q = vec![0f64; k * k];
        let mut ok = true;
        for j in 0..k {
            let mut v: Vec<f64> = (0..k).map(|i| a[i * k + j]).collect();
            for p in 0..j {
                let dot: f64 = (0..k).map(|i| q[i * k + p] * v[i]).sum();
                for (i, vi) in v.iter_mut().enumerate() {
                    *vi -= dot * q[i * k + p];
                }
            }
            let norm = v.iter().map(|x| x * x).sum::<f64>().sqrt();
            if norm < 1e-10 {
                ok = false;
                break;
            }
            for i in 0..k {
                q[i * k + j] = v[i] / norm;
            }
        }
        if ok {
            return q;
        }
    }
}

impl Dataset {
    /// Groups identical samples: for each sample the index of its class of bit-identical
    /// `(x, y)` rows (classes numbered in order of first occurrence), and the number of
    /// classes. A dataset of a few repeated points (the categories task: `n_factors`
    /// classes) lets the trainer compute each distinct row of a minibatch once; a dataset of
    /// continuous samples has `n` classes.
    pub fn row_classes(&self) -> (Vec<u32>, usize) {
        use std::collections::HashMap;
        use std::hash::{Hash, Hasher};
        let row = |s: usize| {
            (
                &self.x[s * self.x_dim..(s + 1) * self.x_dim],
                &self.y[s * self.y_dim..(s + 1) * self.y_dim],
            )
        };
        let same = |a: usize, b: usize| {
            let ((xa, ya), (xb, yb)) = (row(a), row(b));
            xa.iter().zip(xb).all(|(p, q)| p.to_bits() == q.to_bits())
                && ya.iter().zip(yb).all(|(p, q)| p.to_bits() == q.to_bits())
        };
        // hash → (representative sample, class) of every class with that hash
        let mut by_hash: HashMap<u64, Vec<(usize, u32)>> = HashMap::new();
        let mut classes = Vec::with_capacity(self.n);
        let mut n_classes = 0u32;
        for s in 0..self.n {
            let mut h = std::collections::hash_map::DefaultHasher::new();
            let (x, y) = row(s);
            x.iter().chain(y).for_each(|v| v.to_bits().hash(&mut h));
            let bucket = by_hash.entry(h.finish()).or_default();
            let class = match bucket.iter().find(|&&(rep, _)| same(rep, s)) {
                Some(&(_, c)) => c,
                None => {
                    bucket.push((s, n_classes));
                    n_classes += 1;
                    n_classes - 1
                }
            };
            classes.push(class);
        }
        (classes, n_classes as usize)
    }

    /// Factors of samples `0..m` as `f64` (row-major `m × n_factors`).
    pub fn factors_f64(&self, m: usize) -> Vec<f64> {
        self.factors[..m * self.n_factors]
            .iter()
            .map(|&v| v as f64)
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    fn spec(task: Task) -> DataSpec {
        DataSpec {
            task,
            n_factors: 6,
            n_samples: 1000,
            out_dim: 50,
            mlp_hidden: 28,
            target_scale: TargetScale::None,
        }
    }

    #[test]
    fn input_mixing_reproduces_the_inputs() {
        for task in [Task::SupervisedLinear, Task::UnsupervisedLinear] {
            let spec = DataSpec {
                n_factors: 4,
                n_samples: 50,
                ..spec(task)
            };
            let d = spec.generate(7).unwrap();
            let a = spec.input_mixing(7).unwrap().unwrap();
            let k = d.n_factors;
            for s in 0..d.n {
                for i in 0..d.x_dim {
                    let xi: f64 = (0..k)
                        .map(|j| a[i * k + j] * d.factors[s * k + j] as f64)
                        .sum();
                    assert!((xi - d.x[s * d.x_dim + i] as f64).abs() < 1e-5);
                }
            }
        }
        let cubic = spec(Task::SupervisedCubic);
        assert!(cubic.input_mixing(0).unwrap().is_none());
    }

    #[test]
    fn orthogonal_is_orthogonal() {
        let mut rng = ChaCha8Rng::seed_from_u64(3);
        let q = random_orthogonal(6, &mut rng);
        for a in 0..6 {
            for b in 0..6 {
                let d: f64 = (0..6).map(|i| q[i * 6 + a] * q[i * 6 + b]).sum();
                assert!((d - if a == b { 1.0 } else { 0.0 }).abs() < 1e-12);
            }
        }
    }

    #[test]
    fn linear_task_preserves_norm_and_is_seeded() {
        let d = spec(Task::SupervisedLinear).generate(5).unwrap();
        for s in 0..10 {
            let ne: f32 = d.factors[s * 6..s * 6 + 6].iter().map(|v| v * v).sum();
            let nx: f32 = d.x[s * 6..s * 6 + 6].iter().map(|v| v * v).sum();
            assert!((ne - nx).abs() < 1e-4);
        }
        let d2 = spec(Task::SupervisedLinear).generate(5).unwrap();
        assert_eq!(d.x, d2.x);
        let d3 = spec(Task::SupervisedLinear).generate(6).unwrap();
        assert_ne!(d.x, d3.x);
        assert!(d.factors.iter().all(|&v| (0.0..1.0).contains(&v)));
    }

    #[test]
    fn cubic_is_cube_of_linear() {
        let l = spec(Task::SupervisedLinear).generate(1).unwrap();
        let c = spec(Task::SupervisedCubic).generate(1).unwrap();
        for i in 0..60 {
            assert!((l.x[i].powi(3) - c.x[i]).abs() < 1e-5);
        }
        assert_eq!(l.y, c.y);
    }

    #[test]
    fn row_classes_group_identical_samples() {
        let c = spec(Task::Categories).generate(2).unwrap();
        let (cls, n) = c.row_classes();
        assert_eq!(n, 6);
        for s in 0..c.n {
            let cat = c.factors[s * 6..s * 6 + 6].iter().position(|&v| v == 1.0);
            for t in 0..20 {
                let same_cat = cat == c.factors[t * 6..t * 6 + 6].iter().position(|&v| v == 1.0);
                assert_eq!(cls[s] == cls[t], same_cat, "samples {s}, {t}");
            }
        }
        let l = spec(Task::SupervisedLinear).generate(2).unwrap();
        assert_eq!(l.row_classes().1, l.n);
    }

    #[test]
    fn categories_and_minmax() {
        let mut s = spec(Task::Categories);
        s.target_scale = TargetScale::Minmax;
        let d = s.generate(2).unwrap();
        // every sample is one of 6 prototypes, its factor row is one-hot
        for smp in 0..50 {
            let f = &d.factors[smp * 6..smp * 6 + 6];
            assert_eq!(f.iter().filter(|&&v| v == 1.0).count(), 1);
            assert_eq!(f.iter().sum::<f32>(), 1.0);
        }
        let mut protos: Vec<Vec<u32>> = (0..d.n)
            .map(|i| {
                d.y[i * 50..i * 50 + 50]
                    .iter()
                    .map(|v| v.to_bits())
                    .collect()
            })
            .collect();
        protos.sort();
        protos.dedup();
        assert_eq!(protos.len(), 6);
        assert!(d.y.iter().all(|&v| (0.0..=1.0).contains(&v)));
        let mut u = spec(Task::UnsupervisedLinear);
        u.target_scale = TargetScale::Minmax;
        let d = u.generate(1).unwrap();
        for j in 0..50 {
            let col: Vec<f32> = (0..d.n).map(|i| d.y[i * 50 + j]).collect();
            assert_eq!(col.iter().cloned().fold(f32::INFINITY, f32::min), 0.0);
            assert_eq!(col.iter().cloned().fold(f32::NEG_INFINITY, f32::max), 1.0);
        }
    }

    #[test]
    fn unsupervised_shapes() {
        for t in [Task::UnsupervisedLinear, Task::UnsupervisedMlp] {
            let d = spec(t).generate(0).unwrap();
            assert_eq!((d.x_dim, d.y_dim), (50, 50));
            assert_eq!(d.x, d.y);
        }
        let mut s = spec(Task::SupervisedLinear);
        s.n_samples = 1;
        assert!(s.generate(0).unwrap_err().to_string().contains("n_samples"));
    }
}
