import json
import subprocess
import threading
import time

import numpy as np
import pytest

import biodis
import reference

ALL = ["mir", "mig", "dci", "sap", "modularity", "explicitness", "irs", "infom", "tc", "mpmi"]


def cli_score(cli, tmp_path, z, f, *flags):
    np.save(tmp_path / "z.npy", z)
    np.save(tmp_path / "f.npy", f)
    out = subprocess.run([cli, "score", "--latents", str(tmp_path / "z.npy"), "--factors",
                          str(tmp_path / "f.npy"), "--json", *flags],
                         check=True, capture_output=True, text=True).stdout
    return json.loads(out)


@pytest.mark.parametrize("discrete", [False, True])
def test_score_equals_cli_json(cli, tmp_path, data, discrete):
    z, f, fd = data
    fac = fd if discrete else f
    flags = ["--metrics", "all"] + (["--discrete-factors"] if discrete else [])
    want = cli_score(cli, tmp_path, z, fac, *flags)
    got = biodis.score(z, fac, ["all"], discrete_factors=discrete)
    for k in ["samples", "latent_dims", "factors_used", "factor_kind", "n_train"]:
        assert got[k] == want[k], k
    assert got["scores"] == want["scores"]  # exact: same ids, values, parts, params


def test_float32_and_int_inputs_equal_cli(cli, tmp_path, data):
    z, f, fd = data
    z32, fd32 = z.astype(np.float32), fd.astype(np.int32)
    want = cli_score(cli, tmp_path, z32, fd32, "--metrics", "mir,mig,sap,modularity", "--discrete-factors")
    got = biodis.score(np.asfortranarray(z32), fd32, "mir,mig,sap,modularity", discrete_factors=True)
    assert got["scores"] == want["scores"]
    zi = np.round(z * 5).astype(np.int64)
    want = cli_score(cli, tmp_path, zi, f, "--metrics", "mig,irs")
    assert biodis.score(zi, f, ["mig", "irs"])["scores"] == want["scores"]


def test_default_metrics_and_bootstrap_equal_cli(cli, tmp_path, data):
    z, f, _ = data
    want = cli_score(cli, tmp_path, z, f, "--bootstrap", "5", "--seed", "3", "--bins", "12")
    got = biodis.score(z, f, bootstrap=5, seed=3, bins=12)
    assert [s["id"] for s in got["scores"]] == [s["id"] for s in want["scores"]]
    assert all("ci" in s for s in got["scores"])
    assert got["scores"] == want["scores"]


def test_each_binding_equals_cli(cli, tmp_path, data):
    z, f, fd = data
    for discrete, fac in [(False, f), (True, fd)]:
        flags = ["--metrics", "all"] + (["--discrete-factors"] if discrete else [])
        want = {s["id"].split(".")[0]: s for s in cli_score(cli, tmp_path, z, fac, *flags)["scores"]}
        kw = {"discrete_factors": discrete}
        got = {
            "mig": biodis.mig(z, fac, **kw), "dci": biodis.dci(z, fac, **kw),
            "modularity": biodis.modularity(z, fac, **kw),
            "explicitness": biodis.explicitness(z, fac, **kw), "infom": biodis.infom(z, fac, **kw),
            "irs": biodis.irs(z, fac),
            "sap" if discrete else "sap_continuous": biodis.sap(z, fac, **kw),
            "tc": biodis.total_correlation(z), "mpmi": biodis.mean_pairwise_mi(z),
        }
        for name, s in got.items():
            key = {"tc": "gaussian_total_correlation", "mpmi": "mean_pairwise_mi"}.get(name, name)
            w = want.get(key) or next(v for k, v in want.items() if k.startswith(name))
            assert s == w, name
        m = biodis.mir(z, fac)
        assert m["id"] == want["mir"]["id"] and m["value"] == want["mir"]["value"]
        assert len(m["kept"]) == want["mir"]["parts"]["kept_neurons"]


def test_dci_infom_matrices(data):
    z, f, fd = data
    s, r = biodis.dci(z, f, return_matrix=True)
    assert s == biodis.dci(z, f) and r.shape == (5, 3) and (r >= 0).all()
    # DCI's completeness is recomputable from the importance matrix (Eastwood & Williams 2018;
    # disentanglement_lib: scipy entropy of R + 1e-11 per factor, base = number of latents)
    p = (r + 1e-11) / (r + 1e-11).sum(0, keepdims=True)
    h = -(p * np.log(np.where(p > 0, p, 1)) / np.log(r.shape[0])).sum(0)
    assert s["parts"]["completeness"] == pytest.approx(np.mean(1 - h), abs=1e-12)
    s, m = biodis.infom(z, fd, discrete_factors=True, return_matrix=True)
    assert s == biodis.infom(z, fd, discrete_factors=True) and m.shape == (5, 3)
    with pytest.raises(ValueError, match="non-finite"):
        biodis.dci(np.full_like(z, np.nan), f, return_matrix=True)


def test_mi_matrix_equals_cli_mi_out(cli, tmp_path, data):
    z, f, _ = data
    cli_score(cli, tmp_path, z, f, "--metrics", "mir", "--mi-out", str(tmp_path / "mi.npy"))
    np.testing.assert_array_equal(biodis.mir(z, f)["mi"], np.load(tmp_path / "mi.npy"))


def test_mir_mig_match_numpy_sklearn(data):
    z, f, fd = data
    assert biodis.mir(z, f)["value"] == pytest.approx(reference.mir(z, f), abs=1e-12)
    assert biodis.mig(z, f)["value"] == pytest.approx(reference.mig(z, f), abs=1e-12)
    assert biodis.mig(z, fd, discrete_factors=True)["value"] == pytest.approx(
        reference.mig(z, fd, f_discrete=True), abs=1e-12)
    m, h = biodis.mi_matrix(z, f)
    rm, rh = reference.mi_normalised(z, f)
    np.testing.assert_allclose(m, rm, atol=1e-12)
    np.testing.assert_allclose(h, rh, atol=1e-12)


def test_dtypes_and_layouts_agree(data):
    z, f, fd = data
    base = biodis.mig(z.astype(np.float32).astype(np.float64), fd, discrete_factors=True)
    assert biodis.mig(z.astype(np.float32), fd, discrete_factors=True) == base
    assert biodis.mig(np.asfortranarray(z.astype(np.float32)), fd.astype(np.int32),
                      discrete_factors=True) == base
    zi = np.round(z * 10).astype(np.int64)
    assert biodis.mig(zi, f) == biodis.mig(zi.astype(np.float64), f)
    assert biodis.mir(zi.tolist(), f)["value"] == biodis.mir(zi.astype(float), f)["value"]
    assert biodis.mir(z[::2], f[::2])["value"] == biodis.mir(z[::2].copy(), f[::2].copy())["value"]


@pytest.mark.parametrize("fn", [biodis.mir, biodis.mig, biodis.dci, biodis.sap, biodis.modularity,
                                biodis.explicitness, biodis.irs, biodis.infom, biodis.mi_matrix])
def test_bad_input_raises_value_error(fn, data):
    z, f, _ = data
    bad = z.copy()
    bad[3, 1] = np.nan
    with pytest.raises(ValueError, match=r"non-finite value \(NaN or Inf\) at sample 3, column 1"):
        fn(bad, f)
    bad[3, 1] = np.inf
    with pytest.raises(ValueError, match="non-finite"):
        fn(bad, f)
    with pytest.raises(ValueError, match="sample counts differ|samples"):
        fn(z[:-1], f)


def test_constant_factor(data):
    z, f, _ = data
    fc = f.copy()
    fc[:, 1] = 4.0
    with pytest.raises(ValueError, match="factor 1 is constant"):
        biodis.mir(z, fc)
    with pytest.raises(ValueError, match="factor 1 is constant"):
        biodis.mig(z, fc)
    with pytest.warns(UserWarning, match="factor column 1 is constant"):
        r = biodis.score(z, fc, ["mig"])
    assert r["factors_used"] == [0, 2]
    assert r["scores"][0] == biodis.mig(z, f[:, [0, 2]])
    with pytest.raises(ValueError, match="every factor column is constant"):
        biodis.score(z, np.ones((len(z), 2)))


def test_bad_options():
    z = np.random.default_rng(0).normal(size=(50, 3))
    with pytest.raises(ValueError, match="bins"):
        biodis.mig(z, z, bins=1)
    with pytest.raises(ValueError, match="train_fraction"):
        biodis.dci(z, z, train_fraction=1.5)
    with pytest.raises(ValueError, match="unknown metric 'nope'"):
        biodis.score(z, z, ["nope"])
    with pytest.raises(ValueError, match="3 dimensions"):
        biodis.mig(np.zeros((2, 2, 2)), z)


def test_gil_released():
    rng = np.random.default_rng(1)
    z = rng.normal(size=(4000, 10))
    f = rng.uniform(size=(4000, 4))
    t0 = time.perf_counter()
    biodis.dci(z, f)
    alone = time.perf_counter() - t0
    ticks = []
    stop = threading.Event()

    def spin():
        while not stop.is_set():
            ticks.append(time.perf_counter())
            time.sleep(0.001)

    th = threading.Thread(target=spin)
    th.start()
    time.sleep(0.01)
    n0 = len(ticks)
    t0 = time.perf_counter()
    biodis.dci(z, f)
    during = len(ticks) - n0
    elapsed = time.perf_counter() - t0
    stop.set()
    th.join()
    assert alone > 0.05, "the call is too short to test the GIL"
    # a thread that could not run during the call would tick at most a couple of times
    # (with the GIL held for the whole call the thread could not tick at all)
    assert during >= max(10, 0.1 * elapsed / 0.0015), (during, elapsed)


def test_version_is_the_workspace_version():
    import re
    from conftest import REPO
    ws = (REPO / "Cargo.toml").read_text()
    assert biodis.__version__ == re.search(r'\[workspace\.package\]\s*version = "([^"]+)"', ws).group(1)
