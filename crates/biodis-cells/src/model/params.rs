//! The flat parameter vector ([`Layout`]), the model ([`CellModel`]) and its initialisation, and
//! the soft location targets.

use super::spec::{CellActivation, CellsSpec, LocationTarget, TransInit};
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
    match spec.location_target {
        LocationTarget::OneHot => None,
        LocationTarget::Gaussian => Some(gauss(spec.location_sigma)),
        LocationTarget::Dog => {
            let c = gauss(spec.location_sigma);
            let sur = gauss(spec.location_sigma * spec.location_surround);
            let mut t: Vec<f64> = c.iter().zip(&sur).map(|(a, b)| a - b).collect();
            for row in t.chunks_mut(nl) {
                let mn = row.iter().copied().fold(f64::INFINITY, f64::min);
                row.iter_mut().for_each(|v| *v -= mn);
                let sum: f64 = row.iter().sum();
                row.iter_mut().for_each(|v| *v /= sum);
            }
            Some(t)
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
