"""Spatial bindings against `biodis spatial --json` (exact) and against direct numpy
computations of the simple ones (ratemap, stability, object-centred map, autocorrelogram)."""
import json
import math
import subprocess

import numpy as np
import pytest

import biodis


def hex_map(n, period, theta, phase=(0.0, 0.0)):
    y, x = np.mgrid[0:n, 0:n].astype(float)
    s = 0
    for k in range(3):
        a = theta + k * np.pi / 3
        s = s + np.cos(4 * np.pi / (np.sqrt(3) * period) * ((x - phase[0]) * np.cos(a) + (y - phase[1]) * np.sin(a)))
    return s


@pytest.fixture(scope="module")
def maps():
    rng = np.random.default_rng(3)
    n = 16
    grid = hex_map(n, 6.0, 0.3)
    border = np.exp(-np.arange(n)[None, :].repeat(n, 0) / 1.5)
    noise = rng.uniform(size=(n, n))
    return np.stack([grid - grid.min(), border, noise, np.full((n, n), 2.0)])


def same(a, b):
    if a is None or b is None or (isinstance(a, float) and math.isnan(a)) or (isinstance(b, float) and math.isnan(b)):
        na = a is None or (isinstance(a, float) and math.isnan(a))
        nb = b is None or (isinstance(b, float) and math.isnan(b))
        return na and nb
    return a == b


def test_analyse_cell_equals_cli(cli, tmp_path, maps):
    np.save(tmp_path / "m.npy", maps)
    out = subprocess.run([cli, "spatial", "--maps", str(tmp_path / "m.npy"), "--json", "--null", "6",
                          "--seed", "2", "--out", str(tmp_path / "out")],
                         check=True, capture_output=True, text=True).stdout
    cells = json.loads(out)["cells_report"]
    assert len(cells) == len(maps)
    for i, (m, want) in enumerate(zip(maps, cells)):
        got = biodis.analyse_cell(m, null=6, seed=2 + i * 7919)
        assert set(got) == set(want)
        for k in want:
            assert same(got[k], want[k]), (i, k, got[k], want[k])
        for v, field in biodis.GRID_VARIANTS.items():
            assert same(biodis.grid_score(m, v), want[field])
        if want["border_score"] is not None:
            assert biodis.border_score(m) == want["border_score"]
            si = biodis.spatial_information(m)
            assert [si["info_rate"], si["info_content"]] == [want["info_rate"], want["info_content"]]
    assert cells[0]["grid_score_deepmind_minmax"] > 0.3  # the hexagonal map is a grid cell
    assert "constant" in biodis.analyse_cell(maps[3])["reason"]


def test_grid_null_is_seeded_and_matches_percentiles(maps):
    v = biodis.grid_null(maps[0], count=20, seed=5)
    assert len(v) == 20 and np.array_equal(v, biodis.grid_null(maps[0], count=20, seed=5))
    r = biodis.analyse_cell(maps[0], null=20, seed=5)
    assert r["null_p95"] == pytest.approx(np.percentile(v, 95), abs=1e-12)
    s = biodis.grid_null(maps[2], count=5, null_kind="smooth:1.5", seed=1)
    assert len(s) == 5
    with pytest.raises(ValueError, match="null_kind"):
        biodis.grid_null(maps[0], null_kind="shuffle")


def test_ratemap_matches_numpy():
    rng = np.random.default_rng(0)
    pos = rng.uniform(0, 2.0, size=(5000, 2)).astype(np.float32)
    act = rng.normal(size=5000)
    rm = biodis.ratemap(pos, act, bins=8, extent=(2.0, 2.0))
    c = np.clip(np.floor(pos.astype(float) / 2.0 * 8).astype(int), 0, 7)
    s = np.zeros((8, 8)); k = np.zeros((8, 8))
    np.add.at(s, (c[:, 1], c[:, 0]), act); np.add.at(k, (c[:, 1], c[:, 0]), 1)
    np.testing.assert_allclose(rm, s / k, rtol=1e-12)
    with pytest.raises(ValueError, match="sample counts differ"):
        biodis.ratemap(pos, act[:-1])


def test_autocorrelogram_centre_and_symmetry(maps):
    s = biodis.autocorrelogram(maps[2])
    assert s.shape == (31, 31) and s[15, 15] == pytest.approx(1.0)
    np.testing.assert_allclose(s, s[::-1, ::-1], atol=1e-12)
    a, b = maps[2][:, 1:], maps[2][:, :-1]  # lag of one column
    assert s[15, 16] == pytest.approx(np.corrcoef(a.ravel(), b.ravel())[0, 1], abs=1e-12) or \
        s[15, 14] == pytest.approx(np.corrcoef(a.ravel(), b.ravel())[0, 1], abs=1e-12)


def test_stability_and_object_centred_map(maps):
    st = biodis.stability(maps[:3])
    c = np.corrcoef(maps[:3].reshape(3, -1))
    assert st == pytest.approx(np.mean([c[0, 1], c[0, 2], c[1, 2]]), abs=1e-12)
    oc = biodis.object_centred_map(maps[:2], [[(3, 4)], [(10, 12), (0, 0)]], k=1)
    want = np.nanmean(np.stack([
        maps[0][3:6, 2:5], maps[1][11:14, 9:12],
        np.pad(maps[1], 1, constant_values=np.nan)[0:3, 0:3]]), axis=0)
    np.testing.assert_allclose(oc, want, rtol=1e-12)
    with pytest.raises(ValueError, match="outside"):
        biodis.object_centred_map(maps[:1], [[(16, 0)]], k=1)
    with pytest.raises(ValueError, match="n x n"):
        biodis.border_score(np.zeros((3, 4)))
