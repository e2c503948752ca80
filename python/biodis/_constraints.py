"""The biological constraint terms (Whittington et al. 2023, §2-3 and App. A.5/A.6) written once
on duck-typed arrays (numpy, torch or jax: only ``*``, ``abs``, ``.sum()``, ``.shape`` and a
framework ``relu``), so the torch and jax front ends compute exactly the same thing. The
vocabulary and normalisations are those of ``crates/biodis-nn/src/constraints.rs``:

=================  ====================================  =======================================
term               ``sum`` (paper text)                  ``mean`` (authors' later code)
=================  ====================================  =======================================
``nonneg`` hinge   ``b sum_l sum_i max(-pre_i, 0) / B``  ``b sum_l mean_{batch,i} max(-pre, 0)``
``activity``       ``b sum_l sum_i a_i^2 / B``           ``b sum_l mean_{batch,i} a^2``
``sparsity`` (L1)  ``b sum_l sum_i |a_i| / B``           ``b sum_l mean_{batch,i} |a|``
``weight``         ``b sum_l ||W_l||^2``                 ``b sum_l mean(W_l^2)``
``weight_l1``      ``b sum_l |W_l|_1``                   ``b sum_l mean |W_l|``
=================  ====================================  =======================================

``pre`` is a layer's pre-activation (for an identity layer, its activity), ``a`` its
post-activation, ``B`` the batch (first axis), weights never include biases. Every value is
already multiplied by its beta, as biodis-nn's ``LossTerms``.
"""

NORMALISATIONS = ("sum", "mean")
TERMS = ("nonneg", "activity", "weight", "sparsity", "weight_l1")


def _size(a):
    n = 1
    for d in a.shape:
        n *= int(d)
    return n


def _activity_sum(layers, f, normalisation):
    total = 0.0
    for a in layers:
        b = int(a.shape[0]) if len(a.shape) else 1
        denom = _size(a) if normalisation == "mean" else b
        total = total + f(a).sum() / denom
    return total


def _weight_sum(weights, f, normalisation):
    total = 0.0
    for w in weights:
        total = total + (f(w).sum() / _size(w) if normalisation == "mean" else f(w).sum())
    return total


def check(normalisation, betas):
    if normalisation not in NORMALISATIONS:
        raise ValueError(f"normalisation = {normalisation}: expected sum or mean")
    for k, v in betas.items():
        if not (float(v) >= 0.0 and float(v) < float("inf")):
            raise ValueError(f"beta_{k} = {v}: expected a finite value >= 0")


def terms(pre, post, weights, relu, *, beta_nonneg=0.0, beta_activity=0.0, beta_weight=0.0,
          beta_sparsity=0.0, beta_weight_l1=0.0, normalisation="sum"):
    """Dict of the five terms (each x beta) and their ``total``. ``pre``/``post``: lists of
    batch-first arrays (hinge on ``pre``; activity and sparsity on ``post``); ``weights``: list
    of weight arrays."""
    betas = dict(nonneg=beta_nonneg, activity=beta_activity, weight=beta_weight,
                 sparsity=beta_sparsity, weight_l1=beta_weight_l1)
    check(normalisation, betas)
    out = {
        "nonneg": beta_nonneg * _activity_sum(pre, lambda a: relu(-a), normalisation),
        "activity": beta_activity * _activity_sum(post, lambda a: a * a, normalisation),
        "sparsity": beta_sparsity * _activity_sum(post, abs, normalisation),
        "weight": beta_weight * _weight_sum(weights, lambda w: w * w, normalisation),
        "weight_l1": beta_weight_l1 * _weight_sum(weights, abs, normalisation),
    }
    out["total"] = out["nonneg"] + out["activity"] + out["weight"] + out["sparsity"] + out["weight_l1"]
    return out
