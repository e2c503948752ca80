"""The Python constraint terms against biodis-nn's golden values (golden_constraints.json,
produced by `cargo run -p biodis-nn --example constraint_golden`): a 4-6-5-3 MLP with identity
hidden layers, every term on every layer, both normalisations; values with numpy / jax / torch,
gradients (w.r.t. all weights and biases) with jax / torch."""
import json
from pathlib import Path

import numpy as np
import pytest

from biodis import _constraints
from conftest import optional

G = json.loads((Path(__file__).parent / "golden_constraints.json").read_text())
BETAS = {f"beta_{k}": v for k, v in G["betas"].items()}
TERMS = ["nonneg", "activity", "weight", "sparsity", "weight_l1"]


def unflatten(p, xp=np):
    dims, out, at = G["dims"], [], 0
    for l in range(len(dims) - 1):
        n = dims[l] * dims[l + 1]
        w = xp.reshape(p[at:at + n], (dims[l], dims[l + 1]))
        at += n
        b = p[at:at + dims[l + 1]]
        at += dims[l + 1]
        out.append((w, b))
    return out


def forward(layers, x):
    hidden, a = [], x
    for l, (w, b) in enumerate(layers):
        a = a @ w + b
        if l < len(layers) - 1:
            hidden.append(a)  # identity activation: pre = post
    return hidden


def x_np():
    return np.array(G["x"]).reshape(G["batch"], G["dims"][0])


@pytest.mark.parametrize("norm", ["sum", "mean"])
def test_values_numpy(norm):
    layers = unflatten(np.array(G["params"]))
    h = forward(layers, x_np())
    t = _constraints.terms(h, h, [w for w, _ in layers], lambda a: np.maximum(a, 0),
                           normalisation=norm, **BETAS)
    for k in TERMS:
        assert t[k] == pytest.approx(G[norm][k], rel=1e-12, abs=1e-15), k
        assert G[norm][k] > 0  # every term is exercised
    assert t["total"] == pytest.approx(sum(G[norm][k] for k in TERMS), rel=1e-12)


def test_rejects_bad_options():
    with pytest.raises(ValueError, match="normalisation"):
        _constraints.terms([], [], [], abs, normalisation="avg")
    with pytest.raises(ValueError, match="beta_activity"):
        _constraints.terms([], [], [], abs, beta_activity=-1.0)


@pytest.mark.parametrize("norm", ["sum", "mean"])
def test_values_and_gradients_jax(norm):
    jax = optional("jax", "jax")
    jax.config.update("jax_enable_x64", True)
    import jax.numpy as jnp
    import biodis.jax as bj

    def f(p):
        layers = unflatten(p, jnp)
        h = forward(layers, jnp.asarray(x_np()))
        return bj.terms(h, h, [w for w, _ in layers], normalisation=norm, **BETAS)

    p = jnp.asarray(G["params"])
    t = f(p)
    for k in TERMS:
        assert float(t[k]) == pytest.approx(G[norm][k], rel=1e-12), k
    g = jax.grad(lambda p: f(p)["total"])(p)
    np.testing.assert_allclose(np.asarray(g), G[norm]["grad"], rtol=1e-9, atol=1e-12)
    g_jit = jax.jit(jax.grad(lambda p: f(p)["total"]))(p)
    np.testing.assert_allclose(np.asarray(g_jit), G[norm]["grad"], rtol=1e-9, atol=1e-12)
    assert float(bj.activity_energy(h := forward(unflatten(p, jnp), jnp.asarray(x_np())), 0.2, norm)) \
        == pytest.approx(G[norm]["activity"], rel=1e-12)


@pytest.mark.parametrize("norm", ["sum", "mean"])
def test_values_and_gradients_torch(norm):
    torch = optional("torch", "torch")
    import biodis.torch as bt

    dims = G["dims"]
    model = torch.nn.Sequential(*[torch.nn.Linear(dims[l], dims[l + 1]).double() for l in range(3)])
    with torch.no_grad():
        for lin, (w, b) in zip(model, unflatten(np.array(G["params"]))):
            lin.weight.copy_(torch.from_numpy(w.T.copy()))
            lin.bias.copy_(torch.from_numpy(b.copy()))
    c = bt.BioConstraints(layers=[model[0], model[1]], weights=model, nonneg="hinge",
                          normalisation=norm, **BETAS)
    model(torch.from_numpy(x_np()))
    t = c.terms()
    for k in TERMS:
        assert float(t[k].detach()) == pytest.approx(G[norm][k], rel=1e-12), k
    t["total"].backward()

    def grad(p):  # torch leaves .grad None for a parameter no term depends on (the last bias)
        return np.zeros(tuple(p.shape)) if p.grad is None else p.grad.numpy()

    g = np.concatenate([np.r_[grad(lin.weight).T.ravel(), grad(lin.bias)] for lin in model])
    np.testing.assert_allclose(g, G[norm]["grad"], rtol=1e-9, atol=1e-12)
    c.remove()
