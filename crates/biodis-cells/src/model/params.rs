//! The flat parameter vector ([`Layout`]), the model ([`CellModel`]) and its initialisation, and
//! the soft location targets.

use super::spec::{CellActivation, CellsSpec, LocationLoss, LocationTarget, TransInit};
use biodis_data::gridworld::WorldSpec;
use biodis_nn::Scalar;
use rand::Rng;
use rand_distr::{Distribution, StandardNormal};

/// Offsets of the parameter blocks in the flat vector.
#[derive(Debug, Clone, Copy)]
pub struct Layout {
    pub nl: usize,
    pub nc: usize,
    pub z0: usize,
    pub w_loc: usize,
    pub w_obj: usize,
    pub b_obj: usize,
    pub w_act: usize,
    pub b_act: usize,
    pub w_trans: usize,
    pub len: usize,
}

impl Layout {
    pub fn new(nl: usize, nc: usize) -> Self {
        let z0 = 0;
        let w_loc = z0 + nl * nc;
        let w_obj = w_loc + nl * nc;
        let b_obj = w_obj + nc;
        let w_act = b_obj + 1;
        let b_act = w_act + 4 * nc;
        let w_trans = b_act + 4;
        let len = w_trans + 4 * nc * nc;
        Layout {
            nl,
            nc,
            z0,
            w_loc,
            w_obj,
            b_obj,
            w_act,
            b_act,
            w_trans,
            len,
        }
    }
    /// Offset of `W_a`.
    pub fn trans(&self, a: usize) -> usize {
        self.w_trans + a * self.nc * self.nc
    }
}

/// The model: settings, world geometry and parameters.
#[derive(Debug, Clone)]
pub struct CellModel<T: Scalar> {
    pub spec: CellsSpec,
    pub world: WorldSpec,
    pub layout: Layout,
    pub theta: Vec<T>,
    /// Per action, the `(p, q)` pairs with `q = p + d_a` on the lattice.
    pub pairs: [Vec<(usize, usize)>; 4],
    /// Soft location targets (`n_l × n_l`, row `x` is the target distribution for location
    /// `x`); `None` for the one-hot target.
    pub target: Option<Vec<f64>>,
}

/// The soft location targets of `spec` on `world` (`None` for one-hot); see [`LocationTarget`].
pub fn location_targets(spec: &CellsSpec, world: &WorldSpec) -> Option<Vec<f64>> {
    let nl = world.n_locations();
    let gauss = |sigma: f64| -> Vec<f64> {
        let mut t = vec![0.0; nl * nl];
        for x in 0..nl {
            let row = &mut t[x * nl..(x + 1) * nl];
            for (j, v) in row.iter_mut().enumerate() {
                let d = world.euclidean_distance(x, j);
                *v = (-d * d / (2.0 * sigma * sigma)).exp();
            }
            let sum: f64 = row.iter().sum();
            row.iter_mut().for_each(|v| *v /= sum);
        }
        t
    };
    // g_σ − g_{kσ}, each Gaussian normalised over locations
    let dog = || -> Vec<f64> {
        let c = gauss(spec.location_sigma);
        let sur = gauss(spec.location_sigma * spec.location_surround);
        c.iter().zip(&sur).map(|(a, b)| a - b).collect()
    };
    match spec.location_target {
        LocationTarget::OneHot => None,
        LocationTarget::Gaussian => Some(gauss(spec.location_sigma)),
        LocationTarget::Dog => {
            let mut t = dog();
            for row in t.chunks_mut(nl) {
                let mn = row.iter().copied().fold(f64::INFINITY, f64::min);
                row.iter_mut().for_each(|v| *v -= mn);
                let sum: f64 = row.iter().sum();
                row.iter_mut().for_each(|v| *v /= sum);
            }
            Some(t)
        }
        LocationTarget::DogUnshifted => {
            let mut t = dog();
            for (x, row) in t.chunks_mut(nl).enumerate() {
                let centre = row[x];
                row.iter_mut().for_each(|v| *v /= centre);
            }
            Some(t)
        }
    }
}

/// The wavelength (bins) at which the location target's spatial power spectrum peaks, on an
/// unbounded lattice: `1/k*` with `k* = argmax_{0 < k ≤ 1/2} F(k)` and `F` the Fourier transform
/// (cycles per bin, along a lattice axis) of the target around one location, as
/// [`location_targets`] builds it (each Gaussian normalised, the DoG's constant shift only moves
/// `F(0)`). `None` for the one-hot target (a flat spectrum) and the Gaussian (largest at
/// `k → 0`: no preferred scale).
///
/// The prediction it serves (Sorscher et al. 2019, 2023): a linear readout trained towards a
/// translation-invariant target selects the ring of spatial frequencies `|k| = k*`, and
/// nonnegativity picks three plane waves at 60° from it, i.e. a hexagonal grid of field spacing
/// `2 / (√3 k*)` — for the DoG with surround `2σ`, `k* ≈ 0.153/σ`: spacing `≈ 7.5σ`.
pub fn target_wavelength(spec: &CellsSpec) -> Option<f64> {
    let sigma = spec.location_sigma;
    let kern = |s: f64| -> (Vec<(f64, f64)>, f64) {
        let r = (6.0 * s).ceil() as i64 + 1;
        let mut v = Vec::new();
        let mut z = 0.0;
        for dy in -r..=r {
            for dx in -r..=r {
                let w = (-((dx * dx + dy * dy) as f64) / (2.0 * s * s)).exp();
                z += w;
                v.push((dx as f64, w));
            }
        }
        (v, z)
    };
    let spectrum = |k: f64| -> f64 {
        let ft = |s: f64| {
            let (v, z) = kern(s);
            v.iter()
                .map(|(dx, w)| w * (std::f64::consts::TAU * k * dx).cos())
                .sum::<f64>()
                / z
        };
        match spec.location_target {
            LocationTarget::OneHot => 1.0,
            LocationTarget::Gaussian => ft(sigma),
            LocationTarget::Dog | LocationTarget::DogUnshifted => {
                ft(sigma) - ft(sigma * spec.location_surround)
            }
        }
    };
    if spec.location_target == LocationTarget::OneHot {
        return None;
    }
    const STEPS: usize = 1000;
    let ks: Vec<f64> = (1..=STEPS).map(|j| 0.5 * j as f64 / STEPS as f64).collect();
    let (best, _) = ks
        .iter()
        .enumerate()
        .map(|(i, &k)| (i, spectrum(k)))
        .fold((0, f64::NEG_INFINITY), |a, b| if b.1 > a.1 { b } else { a });
    (best > 0).then(|| 1.0 / ks[best])
}

/// How much of the location task's possible loss decrease a model achieved, from `loss`, the
/// mean location loss per location without `β_location` (`CellLoss::location / β_location`).
///
/// - `cross_entropy`: `(ln n_l − CE) / (ln n_l − H̄)`, with `ln n_l` the loss of the uniform
///   prediction and `H̄` the mean entropy of the target rows (0 for one-hot, where the fraction
///   is `1 − CE / ln n_l`). A soft target after Sorscher et al.'s shift to a minimum of 0 is
///   close to uniform (a 16×16 DoG at σ = 0.75 has `H̄` = 5.43 against `ln 256` = 5.55), so a
///   location accuracy can look fair while the loss has hardly moved; this says which.
/// - `squared_error`: `1 − SE / SE₀`, with `SE₀ = mean_x ‖y(x) − ȳ‖²` the error of the best
///   prediction that ignores the location (the mean target row `ȳ`); the exact fit is at `SE = 0`.
///
/// 0 = no better than a location-blind prediction, 1 = the target fitted exactly; NaN when the
/// task has no room to improve or `loss` is not finite.
pub fn location_fit(spec: &CellsSpec, world: &WorldSpec, loss: f64) -> f64 {
    let nl = world.n_locations();
    if !loss.is_finite() {
        return f64::NAN;
    }
    let target = location_targets(spec, world).unwrap_or_else(|| {
        let mut t = vec![0.0; nl * nl];
        (0..nl).for_each(|x| t[x * nl + x] = 1.0);
        t
    });
    match spec.location_loss {
        LocationLoss::CrossEntropy => {
            let uniform = (nl as f64).ln();
            let tot: f64 = target
                .iter()
                .filter(|&&v| v > 0.0)
                .map(|&v| -v * v.ln())
                .sum();
            let h = tot / nl as f64;
            if uniform - h <= 0.0 {
                return f64::NAN;
            }
            (uniform - loss) / (uniform - h)
        }
        LocationLoss::SquaredError => {
            let mut mean = vec![0.0; nl];
            for row in target.chunks(nl) {
                mean.iter_mut()
                    .zip(row)
                    .for_each(|(m, v)| *m += v / nl as f64);
            }
            let se0: f64 = target
                .chunks(nl)
                .map(|row| {
                    row.iter()
                        .zip(&mean)
                        .map(|(v, m)| (v - m) * (v - m))
                        .sum::<f64>()
                })
                .sum::<f64>()
                / nl as f64;
            if se0 <= 0.0 {
                return f64::NAN;
            }
            1.0 - loss / se0
        }
    }
}

/// A random `n × n` orthogonal matrix (row-major): modified Gram–Schmidt on the rows of a
/// Gaussian matrix (the QR factor with a positive diagonal of `R`, i.e. Haar-distributed).
fn random_orthogonal<R: Rng>(n: usize, rng: &mut R) -> Vec<f64> {
    let mut q: Vec<f64> = (0..n * n)
        .map(|_| StandardNormal.sample(&mut *rng))
        .collect();
    for i in 0..n {
        for j in 0..i {
            let dot: f64 = (0..n).map(|k| q[i * n + k] * q[j * n + k]).sum();
            for k in 0..n {
                q[i * n + k] -= dot * q[j * n + k];
            }
        }
        let norm: f64 = (0..n).map(|k| q[i * n + k].powi(2)).sum::<f64>().sqrt();
        for k in 0..n {
            q[i * n + k] /= norm;
        }
    }
    q
}

impl<T: Scalar> CellModel<T> {
    /// A freshly initialised model: `z0 ~ |N(0, s²)|`, readouts `N(0, s²/n_c)`, transitions
    /// `N(0, 1/n_c)` (variance-preserving), biases 0.
    pub fn new<R: Rng>(spec: CellsSpec, world: WorldSpec, rng: &mut R) -> Self {
        let nl = world.n_locations();
        let nc = spec.n_cells;
        let layout = Layout::new(nl, nc);
        let mut theta = vec![T::ZERO; layout.len];
        let s = spec.init_scale;
        let mut normal = |sd: f64| -> T {
            let v: f64 = StandardNormal.sample(rng);
            T::from_f64(v * sd)
        };
        for v in &mut theta[layout.z0..layout.w_loc] {
            *v = normal(s).abs();
        }
        let ro = s / (nc as f64).sqrt();
        for v in &mut theta[layout.w_loc..layout.b_obj] {
            *v = normal(ro);
        }
        for v in &mut theta[layout.w_act..layout.b_act] {
            *v = normal(ro);
        }
        let tr = spec.trans_init_scale / (nc as f64).sqrt();
        match spec.trans_init {
            TransInit::Random => {
                for v in &mut theta[layout.w_trans..layout.len] {
                    *v = normal(tr);
                }
            }
            TransInit::Identity => {
                for a in 0..4 {
                    let off = layout.trans(a);
                    for r in 0..nc {
                        for c in 0..nc {
                            let eye = if r == c { 1.0 } else { 0.0 };
                            theta[off + r * nc + c] = T::from_f64(eye) + normal(tr);
                        }
                    }
                }
            }
            TransInit::Orthogonal => {
                for a in 0..4 {
                    let off = layout.trans(a);
                    let q = random_orthogonal(nc, &mut *rng);
                    for (t, v) in theta[off..off + nc * nc].iter_mut().zip(q) {
                        *t = T::from_f64(v);
                    }
                }
            }
        }
        let pairs = std::array::from_fn(|a| {
            (0..nl)
                .filter_map(|p| world.neighbour(p, a).map(|q| (p, q)))
                .collect()
        });
        let target = location_targets(&spec, &world);
        CellModel {
            spec,
            world,
            layout,
            theta,
            pairs,
            target,
        }
    }

    pub(crate) fn f(&self, u: T) -> T {
        match self.spec.activation {
            CellActivation::Linear => u,
            CellActivation::Relu => {
                if u > T::ZERO {
                    u
                } else {
                    T::ZERO
                }
            }
        }
    }
    pub(crate) fn df(&self, u: T) -> T {
        match self.spec.activation {
            CellActivation::Linear => T::ONE,
            CellActivation::Relu => {
                if u > T::ZERO {
                    T::ONE
                } else {
                    T::ZERO
                }
            }
        }
    }
}
