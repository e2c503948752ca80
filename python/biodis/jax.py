"""The biological constraints as pure JAX functions on pytrees (jit/grad friendly).

Example::

    import biodis.jax as bj
    def loss(params, x, y):
        out, acts = apply(params, x)          # acts: pytree of batch-first hidden activities
        return mse(out, y) + bj.terms(acts, acts, [params["w1"], params["w2"]],
                                      beta_activity=0.1, beta_nonneg=1.0)["total"]

``pre`` (hinge), ``post`` (activity energy, L1 sparsity) and ``weights`` are pytrees; each leaf
is one layer (batch first) or one weight matrix (no biases). Same vocabulary and ``sum`` |
``mean`` normalisation as ``crates/biodis-nn/src/constraints.rs``; values and gradients match
biodis-nn's golden numbers (python/tests/test_constraints.py).
"""

import jax as _jax

from . import _constraints

NORMALISATIONS = _constraints.NORMALISATIONS


def terms(pre=(), post=(), weights=(), **kw):
    """Dict of ``nonneg``, ``activity``, ``weight``, ``sparsity``, ``weight_l1``, ``total``."""
    leaves = _jax.tree_util.tree_leaves
    return _constraints.terms(leaves(pre), leaves(post), leaves(weights), _jax.nn.relu, **kw)


def nonneg_hinge(pre, beta=1.0, normalisation="sum"):
    return terms(pre=pre, beta_nonneg=beta, normalisation=normalisation)["nonneg"]


def activity_energy(post, beta=1.0, normalisation="sum"):
    return terms(post=post, beta_activity=beta, normalisation=normalisation)["activity"]


def sparsity_l1(post, beta=1.0, normalisation="sum"):
    return terms(post=post, beta_sparsity=beta, normalisation=normalisation)["sparsity"]


def weight_energy(weights, beta=1.0, normalisation="sum"):
    return terms(weights=weights, beta_weight=beta, normalisation=normalisation)["weight"]


def weight_l1(weights, beta=1.0, normalisation="sum"):
    return terms(weights=weights, beta_weight_l1=beta, normalisation=normalisation)["weight_l1"]
