//! Memory bounds: a dense run's peak memory estimated from its shapes, checked against what the
//! machine has available before anything is allocated, so a request that cannot fit (a hidden
//! layer of ten million units, 10¹¹ samples, a million factors) is refused with the numbers
//! instead of aborting in the allocator with the run left `running`.

use crate::recipe::RunConfig;

pub use biodis_data::mem::{available_bytes, parse_meminfo};

/// `bytes` in binary units, e.g. `3.2 GiB`.
pub fn fmt_bytes(bytes: u128) -> String {
    let units = ["B", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB"];
    let mut v = bytes as f64;
    let mut u = 0;
    while v >= 1024.0 && u + 1 < units.len() {
        v /= 1024.0;
        u += 1;
    }
    if u == 0 {
        format!("{bytes} B")
    } else {
        format!("{v:.1} {}", units[u])
    }
}

/// Estimated peak memory of one dense run, in bytes, from its shapes alone (saturating, so an
/// absurd request gives a huge number, never an overflow): the dataset (factors, inputs and
/// targets as `f32`, the mixing matrices as `f64`), the network (parameters, gradients, Adam's
/// two moments and a checkpoint's copies), a minibatch's activations, and the evaluation (every
/// hidden layer's activations over `train.eval_samples`, one layer in `f64` for MIR, its MI
/// matrix). It is meant to be an upper bound within a small factor.
pub fn estimate_dense(cfg: &RunConfig) -> u128 {
    let u = |v: usize| v as u128;
    let d = &cfg.data;
    let (x_dim, y_dim) = d.dims();
    let (n, k) = (u(d.n_samples), u(d.n_factors));
    let data = n
        .saturating_mul(k + u(x_dim) + u(y_dim))
        .saturating_mul(4)
        .saturating_add(n.saturating_mul(8)) // row classes
        .saturating_add(
            // O (and its Gram–Schmidt copy), W, the unsupervised and MLP mixing weights,
            // category prototypes
            (k.saturating_mul(k).saturating_mul(3))
                .saturating_add(u(d.out_dim).saturating_mul(k).saturating_mul(2))
                .saturating_add(u(d.mlp_hidden).saturating_mul(k + u(d.out_dim)))
                .saturating_mul(8),
        );
    let mut dims = vec![x_dim];
    dims.extend(&cfg.model.hidden);
    dims.push(y_dim);
    let params: u128 = dims
        .windows(2)
        .map(|w| (u(w[0]) + 1).saturating_mul(u(w[1])))
        .fold(0u128, |a, b| a.saturating_add(b));
    // params, grads, Adam m and v (f32), and the checkpoint's byte copies of three of them
    let model = params.saturating_mul(4 * 4 + 4 * 3 * 2);
    let width_sum: u128 = dims.iter().fold(0u128, |a, &w| a.saturating_add(u(w)));
    let hidden_sum: u128 = cfg
        .model
        .hidden
        .iter()
        .fold(0u128, |a, &w| a.saturating_add(u(w)));
    let widest = u(cfg.model.hidden.iter().copied().max().unwrap_or(0));
    let batch = u(cfg.train.batch)
        .saturating_mul(width_sum)
        .saturating_mul(4 * 4);
    let m = u(cfg.train.eval_samples);
    let eval = m
        .saturating_mul(hidden_sum)
        .saturating_mul(4)
        .saturating_add(m.saturating_mul(widest).saturating_mul(8 * 2))
        .saturating_add(u(1000).saturating_mul(width_sum).saturating_mul(4 * 2))
        .saturating_add(m.saturating_mul(k + u(y_dim)).saturating_mul(8))
        .saturating_add(widest.saturating_mul(k).saturating_mul(8 * 2));
    data.saturating_add(model)
        .saturating_add(batch)
        .saturating_add(eval)
}

/// A run whose estimated memory exceeds what this machine has available.
#[derive(Debug, Clone, thiserror::Error)]
#[error("needs about {} of memory ({sizes}) but this machine has {} available (MemAvailable); reduce the sizes", fmt_bytes(*.needs), fmt_bytes(*.available as u128))]
pub struct TooBig {
    /// Estimated peak bytes.
    pub needs: u128,
    /// Available bytes (`MemAvailable`).
    pub available: u64,
    /// The keys that drive the estimate, with their values (`data.n_samples = 200000, …`).
    pub sizes: String,
}

/// The one memory check of every study kind: `needs` bytes against `available` (`None`: no
/// check); `sizes` names the keys that drive the estimate.
pub fn check(
    needs: u128,
    available: Option<u64>,
    sizes: impl FnOnce() -> String,
) -> Result<(), TooBig> {
    match available {
        Some(avail) if needs > avail as u128 => Err(TooBig {
            needs,
            available: avail,
            sizes: sizes(),
        }),
        _ => Ok(()),
    }
}

/// Refuses a dense run whose estimated memory ([`estimate_dense`]) exceeds `available` (bytes;
/// `None`: no check), with the estimate, the available memory and the shapes that drive it.
pub fn check_fits(cfg: &RunConfig, available: Option<u64>) -> Result<(), TooBig> {
    check(estimate_dense(cfg), available, || {
        format!(
            "data.n_samples = {}, data.n_factors = {}, model.hidden = {:?}, train.eval_samples = {}",
            cfg.data.n_samples, cfg.data.n_factors, cfg.model.hidden, cfg.train.eval_samples
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cfg(text: &str) -> RunConfig {
        let src = crate::recipe::RecipeSource {
            name: "t.toml".into(),
            text: text.into(),
        };
        crate::recipe::expand(&src, &[], Some(1), None)
            .unwrap()
            .remove(0)
    }

    const BASE: &str = r#"
[study]
name = "m"
[data]
task = "supervised_linear"
n_samples = 1000
[model]
hidden = [16]
[train]
steps = 10
batch = 32
lr = 1e-3
eval_samples = 500
"#;

    #[test]
    fn small_runs_fit_and_huge_ones_are_refused_with_numbers() {
        let small = cfg(BASE);
        let e = estimate_dense(&small);
        assert!(e > 1000 * 12 * 4 && e < 16 << 20, "{e}");
        assert!(check_fits(&small, Some(1 << 30)).is_ok());
        assert!(check_fits(&small, None).is_ok());
        let wide = cfg(&BASE.replace("hidden = [16]", "hidden = [10000000]"));
        let msg = check_fits(&wide, Some(8 << 30)).unwrap_err().to_string();
        assert!(
            msg.contains("GiB") && msg.contains("8.0 GiB available") && msg.contains("10000000"),
            "{msg}"
        );
        // a million factors: the k × k mixing matrices alone are terabytes
        let mut many = small.clone();
        many.data.n_factors = 1_000_000;
        assert!(estimate_dense(&many) > 1 << 43);
        let mut long = small.clone();
        long.data.n_samples = 100_000_000_000;
        assert!(estimate_dense(&long) > 1 << 40);
        let mut absurd = small;
        absurd.model.hidden = vec![usize::MAX, usize::MAX];
        assert!(check_fits(&absurd, Some(u64::MAX)).is_err(), "saturates");
    }

    #[test]
    fn units() {
        assert_eq!(fmt_bytes(512), "512 B");
        assert_eq!(fmt_bytes(3 << 30), "3.0 GiB");
    }
}
