//! `biodis._biodis`: thin pyo3 bindings of `biodis-metrics`. Every number comes from the Rust
//! library; this module only converts arrays (one copy into the workspace's ndarray 0.16 types)
//! and maps `MetricError` to `ValueError` with the library's message. Computations run with the
//! GIL released (`Python::detach`). The Python wrappers in `python/biodis/` convert any
//! array-like to C-contiguous float64 before calling in here.

use biodis_metrics::labels::column_labels;
use biodis_metrics::protocol::{self, Encoder, GroundTruthData, Protocol};
use biodis_metrics::registry::{self, ScoreOptions};
use biodis_metrics::spatial::{self, null::Null, CellOptions, Scorers};
use biodis_metrics::special::SplitMix64;
use biodis_metrics::{ActivityStat, FactorKind, MetricError, MirOptions};
use ndarray::{Array2, Axis};
use numpy::{PyArray1, PyArray2, PyArrayMethods, PyReadonlyArray1, PyReadonlyArray2};
use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;

fn err(e: impl std::fmt::Display) -> PyErr {
    PyValueError::new_err(e.to_string())
}

/// One copy of a numpy 2-D float64 array (any layout) into an owned ndarray 0.16 array.
fn own2(a: &PyReadonlyArray2<'_, f64>) -> Array2<f64> {
    let v = a.as_array();
    let (r, c) = (v.shape()[0], v.shape()[1]);
    Array2::from_shape_vec((r, c), v.iter().copied().collect()).expect("shape")
}

fn own1(a: &PyReadonlyArray1<'_, f64>) -> Vec<f64> {
    a.as_array().iter().copied().collect()
}

fn kind(discrete: bool) -> FactorKind {
    if discrete {
        FactorKind::Discrete
    } else {
        FactorKind::Continuous
    }
}

fn json(s: &impl serde::Serialize) -> PyResult<String> {
    serde_json::to_string(s).map_err(err)
}

/// MIR: returns (json of the Score-like summary, mi matrix flat, factor entropy, kept, preference).
#[pyfunction]
#[pyo3(signature = (latents, factors, bins, activity_threshold, mi_threshold, activity_stat))]
#[allow(clippy::type_complexity)]
fn mir(
    py: Python<'_>,
    latents: PyReadonlyArray2<'_, f64>,
    factors: PyReadonlyArray2<'_, f64>,
    bins: usize,
    activity_threshold: f64,
    mi_threshold: f64,
    activity_stat: &str,
) -> PyResult<(
    String,
    f64,
    Vec<f64>,
    (usize, usize),
    Vec<f64>,
    Vec<usize>,
    Vec<f64>,
)> {
    let stat = match activity_stat {
        "abs_mean" => ActivityStat::AbsMean,
        "mean" => ActivityStat::Mean,
        o => {
            return Err(err(format!(
                "activity_stat = {o}: expected abs_mean or mean"
            )))
        }
    };
    let (z, f) = (own2(&latents), own2(&factors));
    let opts = MirOptions {
        bins,
        activity_threshold,
        mi_threshold,
        activity_stat: stat,
    };
    let r = py
        .detach(|| {
            opts.validate()?;
            biodis_metrics::mir(z.view(), f.view(), &opts)
        })
        .map_err(err)?;
    let shape = r.mi.dim();
    Ok((
        r.id.to_string(),
        r.mir,
        r.mi.iter().copied().collect(),
        shape,
        r.factor_entropy.to_vec(),
        r.kept,
        r.preference,
    ))
}

/// The registry's options for the bindings' arguments (the caps at `biodis score`'s defaults,
/// disentanglement_lib's 10 000 / 5 000, subsampled with `seed`).
fn score_options(
    bins: usize,
    train_fraction: f64,
    sap: &str,
    seed: u64,
) -> Result<ScoreOptions, MetricError> {
    Ok(ScoreOptions {
        bins,
        train_fraction,
        sap: sap.parse()?,
        seed,
        ..ScoreOptions::default()
    })
}

/// One metric → the JSON of its `Score` (id, value, parts, params).
#[pyfunction]
#[pyo3(signature = (name, latents, factors, discrete_factors, bins, train_fraction, sap, seed))]
#[allow(clippy::too_many_arguments)]
fn metric(
    py: Python<'_>,
    name: &str,
    latents: PyReadonlyArray2<'_, f64>,
    factors: PyReadonlyArray2<'_, f64>,
    discrete_factors: bool,
    bins: usize,
    train_fraction: f64,
    sap: &str,
    seed: u64,
) -> PyResult<String> {
    let (z, f) = (own2(&latents), own2(&factors));
    let s = py
        .detach(|| {
            biodis_metrics::options::check_bins("bins", bins)?;
            let opts = score_options(bins, train_fraction, sap, seed)?;
            registry::lookup(name)?.score(z.view(), f.view(), kind(discrete_factors), &opts)
        })
        .map_err(err)?;
    json(&s)
}

/// DCI or InfoM with its matrix (DCI: importance `R[i, k]`; InfoM: normalised k-NN MI), both
/// latents × factors: (json of the Score, matrix flat, shape).
#[pyfunction]
#[pyo3(signature = (name, latents, factors, discrete_factors, bins, train_fraction, seed))]
#[allow(clippy::type_complexity, clippy::too_many_arguments)]
fn metric_matrix(
    py: Python<'_>,
    name: &str,
    latents: PyReadonlyArray2<'_, f64>,
    factors: PyReadonlyArray2<'_, f64>,
    discrete_factors: bool,
    bins: usize,
    train_fraction: f64,
    seed: u64,
) -> PyResult<(String, Vec<f64>, (usize, usize))> {
    let (z, f) = (own2(&latents), own2(&factors));
    let (s, m) = py
        .detach(|| -> Result<_, MetricError> {
            let k = kind(discrete_factors);
            match name {
                "dci" => {
                    // the same capped sample as `dci` alone; the matrix comes out beside it
                    let opts = score_options(bins, train_fraction, "auto", seed)?;
                    let nt = opts.n_train(z.nrows())?;
                    let matrix = std::cell::RefCell::new(None);
                    let s = biodis_metrics::subsample::run_capped(
                        &opts.cap(),
                        z.view(),
                        f.view(),
                        nt,
                        |zz, ff, t| {
                            let (s, m) = biodis_metrics::dci::dci(zz, ff, k, bins, t, opts.gbdt())?;
                            *matrix.borrow_mut() = Some(m);
                            Ok::<_, MetricError>(s)
                        },
                    )?;
                    let m = matrix.into_inner().expect("run_capped ran the metric");
                    Ok((s, m))
                }
                "infom" => biodis_metrics::infom::infom(z.view(), f.view(), k, bins, seed),
                other => Err(MetricError::Invalid {
                    what: "metric".into(),
                    msg: format!("'{other}' has no matrix (dci, infom)"),
                }),
            }
        })
        .map_err(err)?;
    let shape = m.dim();
    Ok((json(&s)?, m.iter().copied().collect(), shape))
}

/// `biodis score`: constant factor columns dropped (their indices returned), options checked
/// first, then each metric (with bootstrap CIs when `bootstrap > 0`). Returns
/// (factors_used, n_train, json list of scores).
#[pyfunction]
#[pyo3(signature = (latents, factors, metrics, discrete_factors, bins, train_fraction, sap, bootstrap, seed))]
#[allow(clippy::too_many_arguments)]
fn score(
    py: Python<'_>,
    latents: PyReadonlyArray2<'_, f64>,
    factors: PyReadonlyArray2<'_, f64>,
    metrics: Vec<String>,
    discrete_factors: bool,
    bins: usize,
    train_fraction: f64,
    sap: &str,
    bootstrap: usize,
    seed: u64,
) -> PyResult<(Vec<usize>, usize, String)> {
    let (z, f0) = (own2(&latents), own2(&factors));
    let out = py.detach(|| -> PyResult<_> {
        let keep = registry::varying_columns(f0.view());
        if keep.is_empty() {
            return Err(err(
                "factors: every factor column is constant; nothing to score",
            ));
        }
        let f = f0.select(Axis(1), &keep);
        biodis_metrics::options::check_bins("bins", bins).map_err(err)?;
        let opts = score_options(bins, train_fraction, sap, seed).map_err(err)?;
        let nt = opts.n_train(z.nrows()).map_err(err)?;
        let metrics = registry::resolve(&metrics).map_err(err)?;
        let k = kind(discrete_factors);
        let mut scores = Vec::new();
        for m in metrics {
            let mut s = m
                .score(z.view(), f.view(), k, &opts)
                .map_err(|e| err(format!("metric {}: {e}", m.id)))?;
            if bootstrap > 0 {
                s.ci = biodis_metrics::bootstrap(
                    z.view(),
                    f.view(),
                    bootstrap,
                    0.05,
                    seed,
                    |zz, ff| m.score(zz, ff, k, &opts).ok().map(|s| s.value),
                );
                s = s.param("bootstrap", bootstrap);
            }
            scores.push(s);
        }
        Ok((keep, nt, scores))
    });
    let (keep, nt, scores) = out?;
    Ok((keep, nt, json(&scores)?))
}

/// MI matrix `m[i, k] = I(latent_i; factor_k)` in nats (histogram-binned latents; factors
/// binned or class labels) and the factor entropies.
#[pyfunction]
#[pyo3(signature = (latents, factors, discrete_factors, bins))]
#[allow(clippy::type_complexity)]
fn mi_matrix(
    py: Python<'_>,
    latents: PyReadonlyArray2<'_, f64>,
    factors: PyReadonlyArray2<'_, f64>,
    discrete_factors: bool,
    bins: usize,
) -> PyResult<(Vec<f64>, (usize, usize), Vec<f64>)> {
    let (z, f) = (own2(&latents), own2(&factors));
    let (m, h) = py
        .detach(|| -> Result<_, MetricError> {
            biodis_metrics::options::check_bins("bins", bins)?;
            biodis_metrics::score::check_pair(z.view(), f.view(), 2)?;
            let fl = column_labels(f.view(), kind(discrete_factors), bins);
            Ok(biodis_metrics::discrete::mi_matrix(z.view(), &fl, bins))
        })
        .map_err(err)?;
    let shape = m.dim();
    Ok((m.iter().copied().collect(), shape, h))
}

// ---------------------------------------------------------------- spatial

fn side(len: usize) -> PyResult<usize> {
    let n = (len as f64).sqrt().round() as usize;
    if n * n != len || n < 2 {
        return Err(err(format!(
            "map: {len} bins is not an n × n map with n ≥ 2"
        )));
    }
    Ok(n)
}

/// Mean activity per bin (`bins × bins`, NaN = unvisited).
#[pyfunction]
fn ratemap(
    py: Python<'_>,
    positions: PyReadonlyArray2<'_, f64>,
    activity: PyReadonlyArray1<'_, f64>,
    bins: usize,
    extent: (f64, f64),
) -> PyResult<Vec<f64>> {
    let p = own2(&positions);
    let a = own1(&activity);
    if p.ncols() != 2 {
        return Err(err(format!(
            "positions: expected samples × 2 (x, y), got {} columns",
            p.ncols()
        )));
    }
    if p.nrows() != a.len() {
        return Err(err(format!(
            "sample counts differ: positions has {} samples but activity has {}",
            p.nrows(),
            a.len()
        )));
    }
    if bins < 1 {
        return Err(err("bins = 0: expected at least 1"));
    }
    if !(extent.0 > 0.0 && extent.1 > 0.0) {
        return Err(err(format!(
            "extent = {extent:?}: expected two positive sizes"
        )));
    }
    let pos: Vec<(f64, f64)> = p.outer_iter().map(|r| (r[0], r[1])).collect();
    Ok(py.detach(|| spatial::maps::ratemap(&pos, &a, bins, extent)))
}

/// Gaussian smoothing (σ in bins) with NaN bins, opexebo order.
#[pyfunction]
fn smooth(py: Python<'_>, map: PyReadonlyArray1<'_, f64>, sigma: f64) -> PyResult<Vec<f64>> {
    let m = own1(&map);
    let n = side(m.len())?;
    Ok(py.detach(|| spatial::maps::smooth(&m, n, sigma)))
}

/// Spatial autocorrelogram `(2n−1) × (2n−1)`.
#[pyfunction]
fn autocorrelogram(
    py: Python<'_>,
    map: PyReadonlyArray1<'_, f64>,
    min_overlap: usize,
) -> PyResult<Vec<f64>> {
    let m = own1(&map);
    let n = side(m.len())?;
    Ok(py.detach(|| spatial::sac(&m, n, min_overlap)))
}

/// Every per-cell score of one map, as `biodis spatial` (json of the CellReport).
#[pyfunction]
fn analyse_cell(
    py: Python<'_>,
    map: PyReadonlyArray1<'_, f64>,
    null: usize,
    null_sigma: f64,
    seed: u64,
) -> PyResult<String> {
    let m = own1(&map);
    let n = side(m.len())?;
    let null_kind = if null_sigma < 0.0 {
        Null::BinPermutation
    } else {
        Null::SmoothField(null_sigma)
    };
    let r = py.detach(|| {
        spatial::analyse_cell(
            &m,
            &Scorers::new(n),
            CellOptions {
                null,
                null_kind,
                seed,
            },
        )
    });
    json(&r)
}

/// 60° scores of `count` null maps (DeepMind min–max scorer), as `biodis spatial --null`.
#[pyfunction]
fn grid_null(
    py: Python<'_>,
    map: PyReadonlyArray1<'_, f64>,
    count: usize,
    null_sigma: f64,
    seed: u64,
) -> PyResult<Vec<f64>> {
    let m = own1(&map);
    let n = side(m.len())?;
    let null_kind = if null_sigma < 0.0 {
        Null::BinPermutation
    } else {
        Null::SmoothField(null_sigma)
    };
    Ok(py.detach(|| {
        let sc = Scorers::new(n);
        spatial::null::null_scores(&m, n, &sc.minmax, null_kind, count, seed)
    }))
}

/// Mean pairwise map correlation of one cell's maps (rows of `maps`).
#[pyfunction]
fn stability(py: Python<'_>, maps: PyReadonlyArray2<'_, f64>) -> PyResult<f64> {
    let m = own2(&maps);
    let rows: Vec<Vec<f64>> = m.outer_iter().map(|r| r.to_vec()).collect();
    Ok(py.detach(|| {
        let refs: Vec<&[f64]> = rows.iter().map(|r| r.as_slice()).collect();
        spatial::stats::stability(&refs)
    }))
}

/// Skaggs (info rate, info content, sparsity, selectivity); `occupancy` optional.
#[pyfunction]
#[pyo3(signature = (map, occupancy=None))]
fn spatial_information(
    py: Python<'_>,
    map: PyReadonlyArray1<'_, f64>,
    occupancy: Option<PyReadonlyArray1<'_, f64>>,
) -> PyResult<(f64, f64, f64, f64)> {
    let m = own1(&map);
    let p = occupancy.map(|o| own1(&o));
    if let Some(p) = &p {
        if p.len() != m.len() {
            return Err(err(format!(
                "occupancy has {} bins but map has {}",
                p.len(),
                m.len()
            )));
        }
    }
    py.detach(|| spatial::stats::skaggs(&m, p.as_deref()))
        .map_err(err)
}

/// Solstad et al. 2008 border score.
#[pyfunction]
fn border_score(py: Python<'_>, map: PyReadonlyArray1<'_, f64>, min_bins: usize) -> PyResult<f64> {
    let m = own1(&map);
    let n = side(m.len())?;
    Ok(py.detach(|| spatial::stats::border_score(&m, n, min_bins)))
}

/// Object-centred map `(2k+1)²` of maps (rows) with per-map object lists.
#[pyfunction]
fn object_centred_map(
    py: Python<'_>,
    maps: PyReadonlyArray2<'_, f64>,
    objects: Vec<Vec<(usize, usize)>>,
    k: usize,
) -> PyResult<Vec<f64>> {
    let m = own2(&maps);
    let n = side(m.ncols())?;
    if objects.len() != m.nrows() {
        return Err(err(format!(
            "objects: {} lists for {} maps",
            objects.len(),
            m.nrows()
        )));
    }
    for (w, objs) in objects.iter().enumerate() {
        if let Some(&(x, y)) = objs.iter().find(|&&(x, y)| x >= n || y >= n) {
            return Err(err(format!(
                "objects[{w}]: ({x}, {y}) is outside the {n} × {n} map"
            )));
        }
    }
    let rows: Vec<Vec<f64>> = m.outer_iter().map(|r| r.to_vec()).collect();
    Ok(py.detach(|| {
        let refs: Vec<&[f64]> = rows.iter().map(|r| r.as_slice()).collect();
        spatial::stats::object_centred_map(&refs, &objects, n, k)
    }))
}

// ---------------------------------------------------------------- protocol (Python callables)

/// Observations returned by the Python `sample_observations` callable (any Python object; it
/// only travels to `encode`), with the number of factor rows they were made from. `None` after
/// an earlier callback failed.
struct PyObs {
    obj: Option<Py<PyAny>>,
    rows: usize,
}

impl Drop for PyObs {
    fn drop(&mut self) {
        // release the (possibly large) observations now rather than via pyo3's deferred pool
        if let Some(o) = self.obj.take() {
            Python::attach(move |_| drop(o));
        }
    }
}

/// The three Python callables as `GroundTruthData` + `Encoder`. The traits are infallible, so
/// the first Python exception (or a wrongly shaped result) is stored in `err`; from then on no
/// Python code is called and well-shaped zeros are returned, so the Rust computation finishes
/// without panicking and the caller re-raises the stored exception.
struct PyCallbacks {
    sizes: Vec<usize>,
    /// `n -> int64 (n, n_factors)`; `None`: biodis's own uniform sampler.
    sample: Option<Py<PyAny>>,
    /// `int64 factors (n, n_factors) -> observations`.
    observe: Py<PyAny>,
    /// `observations -> float64 (n, n_latents)`.
    encode: Py<PyAny>,
    err: std::sync::Mutex<Option<PyErr>>,
    width: std::sync::Mutex<Option<usize>>,
}

impl PyCallbacks {
    fn failed(&self) -> bool {
        self.err.lock().unwrap().is_some()
    }
    fn fail(&self, e: PyErr) {
        let mut g = self.err.lock().unwrap();
        if g.is_none() {
            *g = Some(e);
        }
    }
}

fn factors_array<'py>(
    py: Python<'py>,
    f: &[Vec<usize>],
    nk: usize,
) -> PyResult<Bound<'py, PyArray2<i64>>> {
    let flat: Vec<i64> = f.iter().flatten().map(|&v| v as i64).collect();
    PyArray1::from_vec(py, flat).reshape([f.len(), nk])
}

impl GroundTruthData for PyCallbacks {
    type Obs = PyObs;
    fn factor_sizes(&self) -> Vec<usize> {
        self.sizes.clone()
    }
    fn sample_factors(&self, n: usize, rng: &mut SplitMix64) -> Vec<Vec<usize>> {
        let nk = self.sizes.len();
        let Some(cb) = &self.sample else {
            return protocol::uniform_factors(&self.sizes, n, rng);
        };
        if self.failed() {
            return vec![vec![0; nk]; n];
        }
        let r = Python::attach(|py| -> PyResult<Vec<Vec<usize>>> {
            let out = cb.bind(py).call1((n,))?;
            let a: PyReadonlyArray2<'_, i64> = out.extract().map_err(|_| {
                err("sample_factors: expected a 2-D int64 array (the Python wrapper converts)")
            })?;
            let v = a.as_array();
            if v.shape() != [n, nk] {
                return Err(err(format!(
                    "sample_factors({n}, random_state) returned shape {:?}, expected ({n}, {nk})",
                    v.shape()
                )));
            }
            let mut rows = Vec::with_capacity(n);
            for (s, row) in v.outer_iter().enumerate() {
                let mut r = Vec::with_capacity(nk);
                for (k, &x) in row.iter().enumerate() {
                    if x < 0 || x as u64 >= self.sizes[k] as u64 {
                        return Err(err(format!(
                            "sample_factors: factors[{s}, {k}] = {x} is outside 0..{} (factor_sizes[{k}] = {})",
                            self.sizes[k], self.sizes[k]
                        )));
                    }
                    r.push(x as usize);
                }
                rows.push(r);
            }
            Ok(rows)
        });
        r.unwrap_or_else(|e| {
            self.fail(e);
            vec![vec![0; nk]; n]
        })
    }
    fn observe(&self, f: &[Vec<usize>], _: &mut SplitMix64) -> PyObs {
        let rows = f.len();
        if self.failed() {
            return PyObs { obj: None, rows };
        }
        let r = Python::attach(|py| -> PyResult<Py<PyAny>> {
            let a = factors_array(py, f, self.sizes.len())?;
            Ok(self.observe.bind(py).call1((a,))?.unbind())
        });
        match r {
            Ok(o) => PyObs { obj: Some(o), rows },
            Err(e) => {
                self.fail(e);
                PyObs { obj: None, rows }
            }
        }
    }
}

impl Encoder<PyObs> for PyCallbacks {
    fn encode(&self, o: &PyObs) -> Vec<Vec<f64>> {
        let dummy = |w: Option<usize>| vec![vec![0.0; w.unwrap_or(1)]; o.rows];
        let w0 = *self.width.lock().unwrap();
        let Some(obj) = o.obj.as_ref().filter(|_| !self.failed()) else {
            return dummy(w0);
        };
        let r = Python::attach(|py| -> PyResult<Vec<Vec<f64>>> {
            let out = self.encode.bind(py).call1((obj.bind(py),))?;
            let a: PyReadonlyArray2<'_, f64> = out.extract().map_err(|_| {
                err("encode: expected a 2-D float64 array (the Python wrapper converts)")
            })?;
            let v = a.as_array();
            let (n, d) = (v.shape()[0], v.shape()[1]);
            if n != o.rows {
                return Err(err(format!(
                    "encode returned {n} rows for {} observations",
                    o.rows
                )));
            }
            if d == 0 {
                return Err(err("encode returned 0 latent dimensions"));
            }
            if let Some(w) = w0 {
                if w != d {
                    return Err(err(format!(
                        "encode returned {d} latent dimensions, earlier calls {w}"
                    )));
                }
            }
            if let Some(x) = v.iter().find(|x| !x.is_finite()) {
                return Err(err(format!("encode returned a non-finite value ({x})")));
            }
            Ok(v.outer_iter().map(|r| r.to_vec()).collect())
        });
        match r {
            Ok(z) => {
                *self.width.lock().unwrap() = Some(z[0].len());
                z
            }
            Err(e) => {
                self.fail(e);
                dummy(w0)
            }
        }
    }
}

/// FactorVAE (`"factor_vae"`) or BetaVAE (`"beta_vae"`) score of Python callables, computed by
/// `biodis_metrics::protocol` with the GIL released (each callback re-acquires it). Returns the
/// json of the Score; the first exception raised by a callback is re-raised as is.
#[pyfunction]
#[pyo3(signature = (name, sample_factors, sample_observations, encode, factor_sizes, batch_size, num_train, num_eval, num_variance_estimate, prune_threshold, seed))]
#[allow(clippy::too_many_arguments)]
fn protocol_score(
    py: Python<'_>,
    name: &str,
    sample_factors: Option<Py<PyAny>>,
    sample_observations: Py<PyAny>,
    encode: Py<PyAny>,
    factor_sizes: Vec<usize>,
    batch_size: usize,
    num_train: usize,
    num_eval: usize,
    num_variance_estimate: usize,
    prune_threshold: f64,
    seed: u64,
) -> PyResult<String> {
    let mut p = Protocol {
        batch_size,
        num_train,
        num_eval,
        num_variance_estimate,
        prune_threshold,
        seed,
        preset: "custom",
    };
    // label the sample sizes as the CLI does when they are a named preset's
    for named in [Protocol::dlib(), Protocol::fast()] {
        let same = p.batch_size == named.batch_size
            && p.num_train == named.num_train
            && p.num_eval == named.num_eval
            && (name == "beta_vae"
                || (p.num_variance_estimate == named.num_variance_estimate
                    && p.prune_threshold == named.prune_threshold));
        if same {
            p.preset = named.preset;
        }
    }
    if name != "factor_vae" && name != "beta_vae" {
        return Err(err(format!(
            "unknown protocol metric '{name}'; available: factor_vae, beta_vae"
        )));
    }
    let cb = PyCallbacks {
        sizes: factor_sizes,
        sample: sample_factors,
        observe: sample_observations,
        encode,
        err: std::sync::Mutex::new(None),
        width: std::sync::Mutex::new(None),
    };
    let r = py.detach(|| {
        if name == "factor_vae" {
            protocol::factor_vae_score(&cb, &cb, p)
        } else {
            protocol::beta_vae_score(&cb, &cb, p)
        }
    });
    if let Some(e) = cb.err.lock().unwrap().take() {
        return Err(e);
    }
    json(&r.map_err(err)?)
}

/// `cli_main(args)`: runs the `biodis` command line (the Rust CLI, `biodis::run`) on `args`
/// (the program name first, as `sys.argv`) with the GIL released, and returns its exit status.
/// The `biodis` console script of the wheel (`biodis._cli:main`) calls it.
#[pyfunction]
fn cli_main(py: Python<'_>, args: Vec<String>) -> i32 {
    py.detach(|| biodis::run(args))
}

#[pymodule]
fn _biodis(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add("__version__", env!("CARGO_PKG_VERSION"))?;
    m.add_function(wrap_pyfunction!(mir, m)?)?;
    m.add_function(wrap_pyfunction!(metric, m)?)?;
    m.add_function(wrap_pyfunction!(score, m)?)?;
    m.add_function(wrap_pyfunction!(metric_matrix, m)?)?;
    m.add_function(wrap_pyfunction!(mi_matrix, m)?)?;
    m.add_function(wrap_pyfunction!(ratemap, m)?)?;
    m.add_function(wrap_pyfunction!(smooth, m)?)?;
    m.add_function(wrap_pyfunction!(autocorrelogram, m)?)?;
    m.add_function(wrap_pyfunction!(analyse_cell, m)?)?;
    m.add_function(wrap_pyfunction!(grid_null, m)?)?;
    m.add_function(wrap_pyfunction!(stability, m)?)?;
    m.add_function(wrap_pyfunction!(spatial_information, m)?)?;
    m.add_function(wrap_pyfunction!(border_score, m)?)?;
    m.add_function(wrap_pyfunction!(object_centred_map, m)?)?;
    m.add_function(wrap_pyfunction!(protocol_score, m)?)?;
    m.add_function(wrap_pyfunction!(cli_main, m)?)?;
    Ok(())
}
