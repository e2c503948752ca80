"""FactorVAE / BetaVAE scores of Python callables (biodis.factor_vae_score / beta_vae_score).

The expectations are disentanglement_lib's factor_vae_test.py / beta_vae_test.py, with their
sample counts: IdentityObservationsData (10 factors of 10 values, observations = factors),
batch 5; FactorVAE 3000 train / 2000 eval votes / 2500 variance points; BetaVAE 2000 / 2000.
"""
import json
import subprocess

import numpy as np
import pytest

import biodis
from conftest import optional

SIZES = [10] * 10
FV = dict(batch_size=5, num_train=3000, num_eval=2000, num_variance_estimate=2500)
BV = dict(batch_size=5, num_train=2000, num_eval=2000)


def dlib_sample_factors(n, random_state):
    """dlib's SplitDiscreteStateSpace.sample_latent_factors: each factor uniform."""
    return np.stack([random_state.randint(k, size=n) for k in SIZES], axis=1)


def identity(x):
    return x


def constant(x):
    return np.zeros_like(x, dtype=np.float64)


@pytest.mark.parametrize("sampler", [dlib_sample_factors, None])
def test_identity_is_one(sampler):
    s = biodis.factor_vae_score(sampler, identity, identity, factor_sizes=SIZES, **FV)
    assert s["id"] == "factor_vae.dlib"
    for k in ["train_accuracy", "eval_accuracy"]:
        assert 0.9 <= s["parts"][k] <= 1.0, s
    assert s["parts"]["num_active_dims"] == 10
    b = biodis.beta_vae_score(sampler, identity, identity, factor_sizes=SIZES, **BV)
    assert b["id"] == "beta_vae.dlib"
    for k in ["train_accuracy", "eval_accuracy"]:
        assert 0.9 <= b["parts"][k] <= 1.0, b


@pytest.mark.parametrize("sampler", [dlib_sample_factors, None])
def test_constant_is_chance(sampler):
    s = biodis.factor_vae_score(sampler, identity, constant, factor_sizes=SIZES, **FV)
    # every dimension pruned: both accuracies 0, as the reference
    assert s["value"] == 0.0 and s["parts"]["num_active_dims"] == 0, s
    assert s["params"]["note"] == "no active dimensions"
    b = biodis.beta_vae_score(sampler, identity, constant, factor_sizes=SIZES, **BV)
    assert 0.0 <= b["parts"]["eval_accuracy"] <= 0.2, b  # chance: 1/10


def test_seed_and_batches():
    calls = []

    def enc(x):
        calls.append(len(x))
        return x + 0.1 * np.sin(x.sum(axis=1, keepdims=True))

    a = biodis.factor_vae_score(dlib_sample_factors, identity, enc, factor_sizes=SIZES, seed=3, **FV)
    assert max(calls) <= FV["batch_size"] and len(calls) == 2500 // 5 + 3000 + 2000
    b = biodis.factor_vae_score(dlib_sample_factors, identity, enc, factor_sizes=SIZES, seed=3, **FV)
    c = biodis.factor_vae_score(dlib_sample_factors, identity, enc, factor_sizes=SIZES, seed=4, **FV)
    assert a == b and a != c


def test_defaults_are_dlib_constants():
    calls = []

    def enc(x):
        calls.append(len(x))
        return x

    s = biodis.factor_vae_score(None, identity, enc, factor_sizes=[3, 4])
    assert s["params"] == {"batch_size": "64", "preset": "dlib"}
    # 10000 variance points in batches of 64, then 10000 + 5000 votes of 64
    assert len(calls) == -(-10000 // 64) + 15000 and max(calls) == 64
    calls.clear()
    b = biodis.beta_vae_score(None, identity, enc, factor_sizes=[3, 4])
    assert b["params"]["preset"] == "dlib" and len(calls) == 2 * 15000


class Boom(RuntimeError):
    pass


@pytest.mark.parametrize("where", ["sample_factors", "sample_observations", "encode"])
@pytest.mark.parametrize("metric", [biodis.factor_vae_score, biodis.beta_vae_score])
def test_callback_exception_propagates(metric, where):
    n = {"calls": 0}

    def maybe_fail(name):
        if name == where:
            n["calls"] += 1
            if n["calls"] == 7:  # not on the first call
                raise Boom(f"boom in {name}")

    def sf(k, rs):
        maybe_fail("sample_factors")
        return dlib_sample_factors(k, rs)

    def so(f):
        maybe_fail("sample_observations")
        return f

    def enc(x):
        maybe_fail("encode")
        return x

    with pytest.raises(Boom, match=f"boom in {where}"):
        metric(sf, so, enc, factor_sizes=SIZES, batch_size=5, num_train=50, num_eval=50)
    assert n["calls"] == 7  # no callback ran after the failure


@pytest.mark.parametrize("metric", [biodis.factor_vae_score, biodis.beta_vae_score])
def test_bad_callback_results_raise_value_error(metric):
    kw = dict(factor_sizes=[3, 4], batch_size=5, num_train=20, num_eval=20)
    with pytest.raises(ValueError, match=r"factors\[0, 0\] = 4 is outside 0..3"):
        metric(lambda n, rs: np.full((n, 2), 4), identity, identity, **kw)
    with pytest.raises(ValueError, match="returned shape"):
        metric(lambda n, rs: np.zeros((n, 3), int), identity, identity, **kw)
    with pytest.raises(ValueError, match="integer factor classes"):
        metric(lambda n, rs: np.full((n, 2), 0.5), identity, identity, **kw)
    with pytest.raises(ValueError, match="rows"):
        metric(None, identity, lambda x: x[:1], **kw)
    with pytest.raises(ValueError, match="non-finite"):
        metric(None, identity, lambda x: np.full(x.shape, np.nan), **kw)
    widths = iter(range(1, 10**6))
    with pytest.raises(ValueError, match="latent dimensions"):
        metric(None, identity, lambda x: np.zeros((len(x), next(widths))), **kw)
    with pytest.raises(ValueError, match="batch_size"):
        metric(None, identity, identity, factor_sizes=[3, 4], batch_size=1)
    with pytest.raises(TypeError):
        metric(None, identity, 3, factor_sizes=[3, 4])


def test_beta_vae_needs_two_factors():
    with pytest.raises(ValueError, match="at least 2 factors"):
        biodis.beta_vae_score(None, identity, identity, factor_sizes=[5], **BV)


@pytest.mark.parametrize("repr_", ["identity", "constant"])
def test_equals_cli_protocol_score(cli, repr_):
    """biodis's own sampler (sample_factors=None) + the identity / constant representation on
    the dSprites grid: exactly `biodis protocol-score --preset test`."""
    out = subprocess.run([cli, "protocol-score", "--dataset", "dsprites", "--representation", repr_,
                          "--preset", "test", "--seed", "5", "--json"],
                         check=True, capture_output=True, text=True).stdout
    want = json.loads(out)
    sizes = want["factor_sizes"]
    enc = identity if repr_ == "identity" else constant
    got = [biodis.factor_vae_score(None, identity, enc, factor_sizes=sizes, seed=5, **FV),
           biodis.beta_vae_score(None, identity, enc, factor_sizes=sizes, seed=5, **BV)]
    for g, w in zip(got, want["scores"]):
        assert g["id"] == w["id"]
        assert g["value"] == w["value"] and g["parts"] == w["parts"]
        # the CLI labels its preset "test" and the representation; the rest is equal
        assert g["params"].pop("preset") == "custom" and w["params"].pop("preset") == "test"
        w["params"].pop("representation")
        assert g["params"] == w["params"]


def test_torch_encoder():
    torch = optional("torch", "torch")
    lin = torch.nn.Linear(10, 10, bias=False)
    with torch.no_grad():
        lin.weight.copy_(torch.eye(10) * 2.0)
    s = biodis.factor_vae_score(dlib_sample_factors, lambda f: torch.as_tensor(f, dtype=torch.float32),
                                lambda x: lin(x), factor_sizes=SIZES, **FV)
    ref = biodis.factor_vae_score(dlib_sample_factors, identity, lambda x: 2.0 * x, factor_sizes=SIZES, **FV)
    assert s == ref
