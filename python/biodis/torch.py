"""The biological constraints for PyTorch models, inside your autograd and on your device.

Example::

    import biodis.torch as bt
    c = bt.BioConstraints(layers=[model.enc1, model.enc2], weights=model,
                          nonneg="hinge", beta_nonneg=1.0, beta_activity=0.1, beta_weight=1e-3)
    loss = task_loss(model(x), y) + c.loss()   # terms of the forward pass just run
    loss.backward(); c.clear()

Forward hooks on ``layers`` collect each chosen module's output (its pre-activation for the
hinge, its activity for the activity energy and L1 sparsity -- choose the module whose output is
the representation, e.g. the ``nn.ReLU`` after a ``nn.Linear`` for activity and the
``nn.Linear`` for the hinge via ``nonneg_layers``). Weight terms use the ``.weight`` of the
modules in ``weights`` (a module: every submodule with a ``weight`` of >= 2 dims; never
biases). Same vocabulary, betas and ``sum`` | ``mean`` normalisation as the recipes'
``[constraints]`` table (``crates/biodis-nn/src/constraints.rs``); values match biodis-nn's
(python/tests/test_constraints.py, golden values from ``cargo run -p biodis-nn --example
constraint_golden``).
"""

import torch as _torch

from . import _constraints

NORMALISATIONS = _constraints.NORMALISATIONS


def _weights_of(weights):
    if weights is None:
        return []
    if isinstance(weights, _torch.nn.Module):
        return [m.weight for m in weights.modules()
                if isinstance(getattr(m, "weight", None), _torch.Tensor) and m.weight.dim() >= 2]
    out = []
    for w in weights:
        out.append(w.weight if isinstance(w, _torch.nn.Module) else w)
    return out


def terms(pre=(), post=(), weights=(), **kw):
    """Pure function: the terms on lists of tensors (see :mod:`biodis._constraints`)."""
    return _constraints.terms(list(pre), list(post), list(weights), _torch.relu, **kw)


class BioConstraints:
    """Collects chosen layers' activations with forward hooks and returns the constraint terms.

    ``nonneg``: ``"hinge"`` (soft penalty on ``nonneg_layers``' outputs, default ``layers``),
    ``"relu"`` (hard: apply a ReLU in your model; no penalty term) or ``"none"``.
    """

    def __init__(self, layers=(), weights=None, *, nonneg="hinge", nonneg_layers=None,
                 beta_nonneg=0.0, beta_activity=0.0, beta_weight=0.0, beta_sparsity=0.0,
                 beta_weight_l1=0.0, normalisation="sum"):
        if nonneg not in ("hinge", "relu", "none"):
            raise ValueError(f"nonneg = {nonneg}: expected hinge, relu or none")
        self.kw = dict(beta_nonneg=beta_nonneg if nonneg == "hinge" else 0.0,
                       beta_activity=beta_activity, beta_weight=beta_weight,
                       beta_sparsity=beta_sparsity, beta_weight_l1=beta_weight_l1,
                       normalisation=normalisation)
        _constraints.check(normalisation, {k[5:]: v for k, v in self.kw.items() if k.startswith("beta_")})
        self.layers = list(layers)
        self.nonneg_layers = self.layers if nonneg_layers is None else list(nonneg_layers)
        self.weights = _weights_of(weights)
        self._out = {}
        self._handles = []
        for m in {id(m): m for m in self.layers + self.nonneg_layers}.values():
            self._handles.append(m.register_forward_hook(self._hook))

    def _hook(self, module, inputs, output):
        self._out[id(module)] = output

    def _collected(self, mods):
        missing = [m for m in mods if id(m) not in self._out]
        if missing:
            raise RuntimeError(f"no forward pass recorded for {missing[0]!r}; run the model first")
        return [self._out[id(m)] for m in mods]

    def terms(self):
        """Dict of ``nonneg``, ``activity``, ``weight``, ``sparsity``, ``weight_l1`` and
        ``total`` (tensors, each already x beta) for the last forward pass."""
        return terms(self._collected(self.nonneg_layers), self._collected(self.layers),
                     self.weights, **self.kw)

    def loss(self):
        return self.terms()["total"]

    def clear(self):
        self._out.clear()

    def remove(self):
        for h in self._handles:
            h.remove()
        self._handles = []
        self.clear()
