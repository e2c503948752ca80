"""biodis for Python: the exact, versioned disentanglement metrics and spatial-cell analyses of
the biodis Rust toolkit (Whittington et al., ICLR 2023, "Disentanglement with Biological
Constraints"), one import away.

Every number comes from the Rust library ``biodis-metrics`` through the extension module
``biodis._biodis``; nothing is re-implemented in Python. Conventions (as ``biodis score``):

* arrays are **samples x dimensions** (rows are samples); a 1-D array is one column;
* any array-like of any float, int or bool dtype, C- or F-ordered (also a CPU/GPU torch tensor
  or a jax array) is accepted: it is converted **once** with
  ``np.ascontiguousarray(x, dtype=np.float64)`` and copied into Rust;
* information is in nats; factors are continuous and binned (``bins`` equal-width bins, numpy
  ``histogram`` edges) unless ``discrete_factors=True`` (distinct values are classes);
* the classifiers of DCI, SAP and explicitness train on the first ``train_fraction`` of the
  samples and are tested on the rest;
* bad input (NaN/Inf, mismatched sample counts, a constant factor, an option out of range)
  raises ``ValueError`` with the library's message;
* computations release the GIL, so other Python threads keep running.

Each metric returns a dict ``{"id", "value", "parts", "params"}`` -- the JSON that
``biodis score --json`` prints for it -- whose ``id`` names the versioned definition
(``mir.whittington2023``, ``mig.dlib``, ...).
"""

from __future__ import annotations

import json as _json
import warnings as _warnings
from typing import Any, Dict, Iterable, List, Optional, Sequence

import numpy as _np

from . import _biodis

__version__: str = _biodis.__version__

__all__ = [
    "mir", "mig", "dci", "sap", "modularity", "explicitness", "irs", "infom", "mi_matrix",
    "total_correlation", "mean_pairwise_mi", "score", "DEFAULT_METRICS",
    "ratemap", "smooth", "autocorrelogram", "analyse_cell", "grid_score", "GRID_VARIANTS",
    "grid_null", "stability", "spatial_information", "border_score", "object_centred_map",
    "load_study", "load_claims", "factor_vae_score", "beta_vae_score",
]

#: ``biodis score``'s default ``--metrics``.
DEFAULT_METRICS = ("mir", "mig", "dci", "sap", "modularity", "irs", "infom")
_TRAIN_FRACTION = 2.0 / 3.0


def _to_numpy(x: Any) -> _np.ndarray:
    if hasattr(x, "detach") and hasattr(x, "cpu"):  # torch.Tensor
        x = x.detach().cpu().numpy()
    return _np.asarray(x)


def _as2d(x: Any, name: str) -> _np.ndarray:
    a = _to_numpy(x)
    if a.ndim == 1:
        a = a.reshape(-1, 1)
    if a.ndim != 2:
        raise ValueError(f"{name}: expected a 1-D or 2-D array (samples x dims), got {a.ndim} dimensions")
    if a.dtype.kind not in "fiub":
        raise ValueError(f"{name}: unsupported dtype {a.dtype} (expected a float, int or bool array)")
    return _np.ascontiguousarray(a, dtype=_np.float64)


def _as1d(x: Any, name: str) -> _np.ndarray:
    a = _to_numpy(x)
    if a.dtype.kind not in "fiub":
        raise ValueError(f"{name}: unsupported dtype {a.dtype} (expected a float, int or bool array)")
    return _np.ascontiguousarray(a.reshape(-1), dtype=_np.float64)


def _metric(name: str, latents, factors, discrete_factors=False, bins=20,
            train_fraction=_TRAIN_FRACTION, sap="auto", seed=0) -> Dict[str, Any]:
    z, f = _as2d(latents, "latents"), _as2d(factors, "factors")
    return _json.loads(_biodis.metric(name, z, f, bool(discrete_factors), int(bins),
                                      float(train_fraction), str(sap), int(seed)))


# ------------------------------------------------------------------------------- metrics

def mir(latents, factors, *, bins: int = 20, activity_threshold: float = 20.0,
        mi_threshold: float = 20.0, activity_stat: str = "abs_mean") -> Dict[str, Any]:
    """Mutual information ratio (``mir.whittington2023``; Whittington et al. 2023, App. A.1,
    exactly as the authors' code computes it).

    With ``m[i, k] = I(z_i; f_k) / H(f_k)`` (both binned into ``bins`` equal-width bins),
    neurons pass two filters -- activity ``mean|z_i|`` (or ``mean z_i``) above max/
    ``activity_threshold`` and ``sum_k m[i, k]`` above max/``mi_threshold`` -- and
    ``MIR = (mean_i max_k m[i,k] / sum_k m[i,k] - 1/K) / (1 - 1/K)`` over kept neurons.

    Returns ``{"id", "value", "mi" (latents x factors, normalised), "factor_entropy",
    "kept", "preference", "params"}``.
    """
    z, f = _as2d(latents, "latents"), _as2d(factors, "factors")
    id_, v, mi, shape, h, kept, pref = _biodis.mir(z, f, int(bins), float(activity_threshold),
                                                  float(mi_threshold), str(activity_stat))
    return {
        "id": id_, "value": v, "mi": _np.asarray(mi).reshape(shape),
        "factor_entropy": _np.asarray(h), "kept": list(kept), "preference": _np.asarray(pref),
        "params": {"bins": bins, "activity_threshold": activity_threshold,
                   "mi_threshold": mi_threshold, "activity_stat": activity_stat},
    }


def mig(latents, factors, *, discrete_factors: bool = False, bins: int = 20) -> Dict[str, Any]:
    """Mutual information gap (``mig.dlib``; Chen et al. 2018, as disentanglement_lib):
    ``MIG = mean_k (m_(1)k - m_(2)k) / H(f_k)``, the gap between the two latents with the most
    information about factor k (latents histogram-binned into ``bins``)."""
    return _metric("mig", latents, factors, discrete_factors, bins)


def dci(latents, factors, *, discrete_factors: bool = False, bins: int = 20,
        train_fraction: float = _TRAIN_FRACTION, return_matrix: bool = False):
    """DCI disentanglement (``dci.dlib``; Eastwood & Williams 2018, as disentanglement_lib):
    gradient-boosted trees (scikit-learn's formulation, 100 stages, depth 3) predict each factor;
    importances ``R[i, k]``; disentanglement ``sum_i rho_i (1 - H_K(P_i.))``, completeness
    ``mean_k (1 - H_D(P_.k))``; parts carry completeness and informativeness (train/test
    accuracy). With ``return_matrix=True`` also returns the importance matrix (latents x
    factors) as a second value."""
    if return_matrix:
        return _with_matrix("dci", latents, factors, discrete_factors, bins, train_fraction, 0)
    return _metric("dci", latents, factors, discrete_factors, bins, train_fraction)


def sap(latents, factors, *, discrete_factors: bool = False, sap: str = "auto",
        train_fraction: float = _TRAIN_FRACTION) -> Dict[str, Any]:
    """Separated attribute predictability (Kumar et al. 2018, as disentanglement_lib): per factor
    the gap between the two best single-latent scores, averaged. ``sap="continuous"``
    (``sap_continuous.dlib``, squared correlation on the training part), ``"discrete"``
    (``sap.dlib``, test accuracy of a one-latent linear SVC) or ``"auto"`` (discrete with
    ``discrete_factors``)."""
    return _metric("sap", latents, factors, discrete_factors, 20, train_fraction, sap)


def modularity(latents, factors, *, discrete_factors: bool = False, bins: int = 20) -> Dict[str, Any]:
    """Modularity (``modularity.dlib``; Ridgeway & Mozer 2018): per latent
    ``1 - sum_{k != k*} m_ik^2 / (m_ik*^2 (K-1))`` on the MI matrix, averaged."""
    return _metric("modularity", latents, factors, discrete_factors, bins)


def explicitness(latents, factors, *, discrete_factors: bool = False, bins: int = 20,
                 train_fraction: float = _TRAIN_FRACTION) -> Dict[str, Any]:
    """Explicitness (``explicitness.dlib``; Ridgeway & Mozer 2018): mean one-vs-rest ROC AUC of a
    logistic regression from all latents to each (binned) factor on the test part."""
    return _metric("explicitness", latents, factors, discrete_factors, bins, train_fraction)


def irs(latents, factors, *, bins: int = 20) -> Dict[str, Any]:
    """Interventional robustness score (``irs.dlib``; Suter et al. 2019), factors binned into
    ``bins``, the 0.99 quantile of latent differences as normaliser (disentanglement_lib)."""
    return _metric("irs", latents, factors, False, bins)


def infom(latents, factors, *, discrete_factors: bool = False, bins: int = 20, seed: int = 0,
          return_matrix: bool = False):
    """InfoM (``infom.hsu2023``; Hsu et al. 2023): MIR's modularity formula on a k-NN
    (Kraskov/Ross) continuous-discrete MI estimate; ``seed`` seeds the tie-breaking jitter.
    With ``return_matrix=True`` also returns the normalised MI matrix (latents x factors)."""
    if return_matrix:
        return _with_matrix("infom", latents, factors, discrete_factors, bins, _TRAIN_FRACTION, seed)
    return _metric("infom", latents, factors, discrete_factors, bins, seed=seed)


def _with_matrix(name, latents, factors, discrete_factors, bins, train_fraction, seed):
    z, f = _as2d(latents, "latents"), _as2d(factors, "factors")
    js, m, shape = _biodis.metric_matrix(name, z, f, bool(discrete_factors), int(bins),
                                         float(train_fraction), int(seed))
    return _json.loads(js), _np.asarray(m).reshape(shape)


def total_correlation(latents) -> Dict[str, Any]:
    """Gaussian total correlation of the latents (unsupervised, disentanglement_lib)."""
    z = _as2d(latents, "latents")
    return _metric("tc", z, z[:, :1])


def mean_pairwise_mi(latents, *, bins: int = 20) -> Dict[str, Any]:
    """Mean pairwise MI between binned latents (unsupervised, disentanglement_lib)."""
    z = _as2d(latents, "latents")
    return _metric("mpmi", z, z[:, :1], bins=bins)


def mi_matrix(latents, factors, *, discrete_factors: bool = False, bins: int = 20):
    """MI matrix ``m[i, k] = I(z_i; f_k)`` in nats (latents histogram-binned into ``bins``;
    factors binned or class labels) and the factor entropies ``H(f_k)``: returns
    ``(m, h)`` as numpy arrays (latents x factors, factors)."""
    z, f = _as2d(latents, "latents"), _as2d(factors, "factors")
    m, shape, h = _biodis.mi_matrix(z, f, bool(discrete_factors), int(bins))
    return _np.asarray(m).reshape(shape), _np.asarray(h)


def score(latents, factors, metrics: Iterable[str] = DEFAULT_METRICS, *,
          discrete_factors: bool = False, sap: str = "auto", bins: int = 20,
          train_fraction: float = _TRAIN_FRACTION, bootstrap: int = 0, seed: int = 0) -> Dict[str, Any]:
    """Scores a representation with several metrics, exactly as ``biodis score --json``
    (same defaults, same conventions): constant factor columns are excluded with a warning
    naming the column, ``metrics`` may contain ``"all"``, ``bootstrap > 0`` adds 95% percentile
    confidence intervals (``ci``) over resampled rows.

    Returns ``{"samples", "latent_dims", "factors_used", "factor_kind", "n_train", "scores"}``
    where ``scores`` is a list of ``{"id", "value", "parts", "params"[, "ci"]}``.
    """
    if isinstance(metrics, str):
        metrics = metrics.split(",")
    z, f = _as2d(latents, "latents"), _as2d(factors, "factors")
    keep, n_train, js = _biodis.score(z, f, [str(m) for m in metrics], bool(discrete_factors),
                                      int(bins), float(train_fraction), str(sap), int(bootstrap), int(seed))
    for k in range(f.shape[1]):
        if k not in keep:
            _warnings.warn(f"factors: factor column {k} is constant; excluded (it has zero entropy)",
                           stacklevel=2)
    return {
        "samples": z.shape[0], "latent_dims": z.shape[1], "factors_used": list(keep),
        "factor_kind": "discrete" if discrete_factors else "continuous", "n_train": n_train,
        "scores": _json.loads(js),
    }


# ------------------------------------------------------------------ protocol (callables)

def _protocol(name, sample_factors, sample_observations, encode, factor_sizes, batch_size,
              num_train, num_eval, num_variance_estimate, prune_threshold, seed):
    sizes = [int(k) for k in factor_sizes]
    if not sizes or any(k < 1 for k in sizes):
        raise ValueError(f"factor_sizes = {list(factor_sizes)}: expected at least one factor, each with >= 1 value")
    for arg, f in [("sample_observations", sample_observations), ("encode", encode)]:
        if not callable(f):
            raise TypeError(f"{arg} must be callable")
    seed = int(seed)
    if seed < 0 or seed >= 2**64:
        raise ValueError(f"seed = {seed}: expected an integer in [0, 2**64)")
    nk = len(sizes)
    sampler = None
    if sample_factors is not None:
        if not callable(sample_factors):
            raise TypeError("sample_factors must be callable or None")
        # one RandomState for the whole computation, as disentanglement_lib's random_state
        rs = _np.random.RandomState(seed if seed < 2**32 else [seed & 0xFFFFFFFF, seed >> 32])

        def sampler(n):
            a = _to_numpy(sample_factors(n, rs))
            if a.ndim != 2:
                raise ValueError(f"sample_factors({n}, random_state) returned {a.ndim} dimensions, expected ({n}, {nk})")
            if a.dtype.kind not in "iub":
                if a.dtype.kind != "f" or not _np.all(_np.isfinite(a)) or _np.any(a != _np.round(a)):
                    raise ValueError(f"sample_factors: expected integer factor classes, got dtype {a.dtype}")
            return _np.ascontiguousarray(a, dtype=_np.int64)

    def enc(obs):
        return _as2d(encode(obs), "encode(observations)")

    return _json.loads(_biodis.protocol_score(
        name, sampler, sample_observations, enc, sizes, int(batch_size), int(num_train),
        int(num_eval), int(num_variance_estimate), float(prune_threshold), seed))


def factor_vae_score(sample_factors, sample_observations, encode, *, factor_sizes: Sequence[int],
                     batch_size: int = 64, num_train: int = 10000, num_eval: int = 5000,
                     num_variance_estimate: int = 10000, prune_threshold: float = 0.05,
                     seed: int = 0) -> Dict[str, Any]:
    """FactorVAE score (``factor_vae.dlib``; Kim & Mnih 2018, "Disentangling by Factorising"),
    as disentanglement_lib's ``compute_factor_vae`` (``evaluation/metrics/factor_vae.py``),
    computed by the Rust library (``biodis_metrics::protocol``, the same code as
    ``biodis protocol-score``) around three Python callables:

    * ``sample_factors(n, random_state) -> int array (n, len(factor_sizes))``, values of factor
      ``k`` in ``0 .. factor_sizes[k]-1`` (a disentanglement_lib dataset's ``sample_factors``
      fits); ``random_state`` is one ``numpy.random.RandomState(seed)`` shared by all calls.
      ``None``: biodis's own sampler, every factor uniform and independent (dlib's
      ``SplitDiscreteStateSpace``) -- then the numbers equal ``biodis protocol-score``'s;
    * ``sample_observations(factors) -> observations`` (any object; it is only passed to
      ``encode``), ``factors`` an int64 array (n, n_factors);
    * ``encode(observations) -> array (n, n_latents)`` (e.g. the posterior mean; numpy, torch
      or jax), converted to float64; it must be finite with the same width every call.

    The callables are called in batches of at most ``batch_size`` rows. The global variance of
    each latent is estimated from ``num_variance_estimate`` points; latents with standard
    deviation below ``prune_threshold`` are pruned (all pruned: score 0, as the reference). Each
    vote fixes one random factor over a batch and votes for the active latent of least
    normalised variance; a majority-vote classifier is trained on ``num_train`` votes and the
    score is its accuracy on ``num_eval`` votes. Defaults are disentanglement_lib's.

    Returns ``{"id", "value", "parts" (train_accuracy, eval_accuracy, num_active_dims),
    "params"}``. An exception raised by a callback is re-raised unchanged: no callback is called
    after it (the Rust loop runs out on zero placeholders, whose result is discarded); a wrongly
    shaped, non-finite or out-of-range result raises ``ValueError``. The GIL is released between
    callbacks."""
    return _protocol("factor_vae", sample_factors, sample_observations, encode, factor_sizes,
                     batch_size, num_train, num_eval, num_variance_estimate, prune_threshold, seed)


def beta_vae_score(sample_factors, sample_observations, encode, *, factor_sizes: Sequence[int],
                   batch_size: int = 64, num_train: int = 10000, num_eval: int = 5000,
                   seed: int = 0) -> Dict[str, Any]:
    """BetaVAE score (``beta_vae.dlib``; Higgins et al. 2017, "beta-VAE"), as
    disentanglement_lib's ``compute_beta_vae_sklearn`` (``evaluation/metrics/beta_vae.py``),
    computed by the Rust library around three Python callables (see :func:`factor_vae_score`
    for their contracts). Each point fixes one random factor across two batches of
    ``batch_size`` samples; its feature is ``mean |z1 - z2|`` per latent; a logistic
    regression (scikit-learn's defaults) predicting the fixed factor is trained on
    ``num_train`` points and the score is its accuracy on ``num_eval`` points (chance:
    ``1/len(factor_sizes)``). Needs at least 2 factors. Defaults are disentanglement_lib's.

    Returns ``{"id", "value", "parts" (train_accuracy, eval_accuracy), "params"}``.
    """
    return _protocol("beta_vae", sample_factors, sample_observations, encode, factor_sizes,
                     batch_size, num_train, num_eval, 2, 0.05, seed)


# ------------------------------------------------------------------------------- spatial

def _map(x, name="map") -> _np.ndarray:
    a = _to_numpy(x)
    if a.ndim != 2 or a.shape[0] != a.shape[1]:
        raise ValueError(f"{name}: expected an n x n map, got shape {a.shape}")
    return _as1d(a, name)


def _null_sigma(null_kind: str) -> float:
    if null_kind == "permutation":
        return -1.0
    if null_kind.startswith("smooth:"):
        try:
            s = float(null_kind[len("smooth:"):])
        except ValueError:
            s = -1.0
        if s >= 0:
            return s
    raise ValueError(f"null_kind = {null_kind}: expected `permutation` or `smooth:SIGMA`")


def ratemap(positions, activity, *, bins: int = 16, extent=(1.0, 1.0)) -> _np.ndarray:
    """Mean activity per spatial bin: ``positions`` samples x 2 (x, y) in ``[0, extent)``,
    ``activity`` one value per sample; returns ``bins x bins`` (row = y), NaN = unvisited."""
    p, a = _as2d(positions, "positions"), _as1d(activity, "activity")
    return _np.asarray(_biodis.ratemap(p, a, int(bins), (float(extent[0]), float(extent[1])))).reshape(bins, bins)


def smooth(map, *, sigma: float) -> _np.ndarray:
    """Gaussian smoothing (sigma in bins, truncated at 4 sigma) of a map with NaN bins, in the
    opexebo order (normalised by the kernel mass over valid bins)."""
    m = _map(map)
    n = int(round(len(m) ** 0.5))
    return _np.asarray(_biodis.smooth(m, float(sigma))).reshape(n, n)


def autocorrelogram(map, *, min_overlap: int = 1) -> _np.ndarray:
    """Spatial autocorrelogram ``(2n-1) x (2n-1)``: Pearson correlation of the map with itself
    at every lag over the valid overlapping bins (NaN where fewer than ``min_overlap``)."""
    m = _map(map)
    n = int(round(len(m) ** 0.5))
    return _np.asarray(_biodis.autocorrelogram(m, int(min_overlap))).reshape(2 * n - 1, 2 * n - 1)


def analyse_cell(map, *, null: int = 0, null_kind: str = "permutation", seed: int = 0) -> Dict[str, Any]:
    """Every per-cell score of one ``n x n`` map, as one row of ``biodis spatial``: grid scores
    (DeepMind mean / min-max / 90 deg, fixed annulus, opexebo), spacing, orientation, the
    dominant wavelength of the map's power spectrum (``wavelength``, bins), the null's
    95th/99th percentiles (``null`` shuffles), Skaggs statistics, border score; NaN with a
    ``reason`` for empty or constant maps."""
    r = _json.loads(_biodis.analyse_cell(_map(map), int(null), _null_sigma(null_kind), int(seed)))
    # JSON has no NaN: the Rust report's NaN scores arrive as null
    return {k: (float("nan") if v is None else v) for k, v in r.items()}


#: Names accepted by :func:`grid_score`, each a field of :func:`analyse_cell`.
GRID_VARIANTS = {
    "deepmind_mean": "grid_score_deepmind_mean",
    "deepmind_minmax": "grid_score_deepmind_minmax",
    "90": "grid_score_90",
    "annulus": "grid_score_annulus",
    "opexebo": "grid_score_opexebo",
}


def grid_score(map, variant: str = "deepmind_minmax") -> float:
    """Grid score of an ``n x n`` map by named variant: ``deepmind_mean``
    ``(c60+c120)/2 - (c30+c90+c150)/3`` and ``deepmind_minmax`` ``min(c60,c120) -
    max(c30,c90,c150)`` maximised over 10 rings (DeepMind ``scores.py``), ``90`` (square score),
    ``annulus`` (one ring 0.2-0.5 N), ``opexebo`` (expanding radius, BNT)."""
    if variant not in GRID_VARIANTS:
        raise ValueError(f"variant = {variant}: expected one of {', '.join(GRID_VARIANTS)}")
    return float(analyse_cell(map)[GRID_VARIANTS[variant]])


def grid_null(map, *, count: int = 100, null_kind: str = "permutation", seed: int = 0) -> _np.ndarray:
    """60 deg (DeepMind min-max) scores of ``count`` null maps: bin permutations of the map, or
    ``smooth:SIGMA`` Gaussian random fields (Barry & Burgess 2017); non-finite scores skipped."""
    return _np.asarray(_biodis.grid_null(_map(map), int(count), _null_sigma(null_kind), int(seed)))


def stability(maps) -> float:
    """Mean Pearson correlation over all pairs of one cell's maps (``maps``: k x n x n, e.g.
    environments); NaN pairs skipped."""
    a = _to_numpy(maps)
    if a.ndim != 3:
        raise ValueError(f"maps: expected k x n x n, got shape {a.shape}")
    return _biodis.stability(_as2d(a.reshape(a.shape[0], -1), "maps"))


def spatial_information(map, occupancy=None) -> Dict[str, float]:
    """Skaggs statistics with occupancy probabilities (uniform when ``None``): information rate
    ``sum p l log2(l / mean)``, content = rate / mean (bits/spike), sparsity
    ``(sum p l)^2 / sum p l^2``, selectivity ``max l / mean``. Maps must be >= 0."""
    m = _map(map)
    occ = None if occupancy is None else _map(occupancy, "occupancy")
    r, c, s, sel = _biodis.spatial_information(m, occ)
    return {"info_rate": r, "info_content": c, "sparsity": s, "selectivity": sel}


def border_score(map, *, min_bins: int = 3) -> float:
    """Solstad et al. (2008) border score ``(C_M - D_M)/(C_M + D_M)`` (fields: 4-connected,
    rate > 0.3 peak, at least ``min_bins`` bins); NaN when the map has no field."""
    return _biodis.border_score(_map(map), int(min_bins))


def object_centred_map(maps, objects: Sequence[Sequence[Sequence[int]]], *, k: int = 3) -> _np.ndarray:
    """Object-centred map ``(2k+1) x (2k+1)``: mean of ``map[obj + delta]`` over the objects
    (``objects[w]``: (column, row) pairs of map ``w``) and maps; NaN where nothing contributed."""
    a = _to_numpy(maps)
    if a.ndim == 2:
        a = a[None]
    if a.ndim != 3:
        raise ValueError(f"maps: expected (k x) n x n, got shape {a.shape}")
    objs = [[(int(x), int(y)) for x, y in o] for o in objects]
    out = _biodis.object_centred_map(_as2d(a.reshape(a.shape[0], -1), "maps"), objs, int(k))
    return _np.asarray(out).reshape(2 * k + 1, 2 * k + 1)


def load_study(path):
    """Loads a study directory into pandas (see :mod:`biodis.study`)."""
    from .study import load_study as _ls
    return _ls(path)


def load_claims(path):
    """The verdicts of ``biodis claims`` (a ``claims.json``, or a folder holding one: a study's
    or the root given to ``biodis claims``) as a pandas DataFrame, one row per claim (see
    :func:`biodis.study.load_claims`)."""
    from .study import load_claims as _lc
    return _lc(path)
