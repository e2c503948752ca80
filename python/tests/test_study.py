import json
import os
import subprocess

import numpy as np
import pytest

pd = pytest.importorskip("pandas", reason="pandas is not installed (optional extra biodis[study])")
import biodis  # noqa: E402


@pytest.fixture(scope="module")
def study(cli, tmp_path_factory):
    out = tmp_path_factory.mktemp("study") / "fig2"
    subprocess.run([cli, "run", "fig2-lownoise", "--seeds", "1", "--steps", "60", "--set",
                    "train.eval_every=30", "--out", str(out), "--quiet"], check=True, capture_output=True)
    return out


def test_load_study_from_the_cli(study):
    s = biodis.load_study(study)
    order = [r["run_id"] for r in json.loads((study / "runs.json").read_text())]
    assert list(s.runs["run_id"]) == order
    assert (s.runs["state"] == "done").all()
    # resolved recipe columns, e.g. the constraint strengths that distinguish the variants
    from biodis.study import _toml as tomllib
    for _, row in s.runs.iterrows():
        rec = tomllib.loads((study / row["run_id"] / "recipe.toml").read_text())
        for k, v in rec["constraints"].items():
            got = row[f"constraints.{k}"]
            assert (tuple(v) if isinstance(v, list) else v) == got
    assert s.runs["constraints.beta_activity"].nunique() > 1
    # curves: long form, the last evaluated MIR equals the summary's
    c = s.curves
    assert list(c.columns) == ["run_id", "step", "layer", "quantity", "value"]
    assert sorted(c["step"].unique()) == [0, 30, 60]
    summ = pd.read_csv(study / "summary.csv")
    pd.testing.assert_frame_equal(s.final, summ)
    for _, r in summ.iterrows():
        last = c[(c.run_id == r.run_id) & (c.quantity == "mir") & (c.step == 60)]
        assert list(last["layer"]) == [0]
        assert last["value"].iloc[0] == pytest.approx(r["mir"], rel=1e-12)
    assert c[c.quantity == "loss"]["layer"].isna().all()
    # arrays
    rid = order[0]
    assert "mi_matrix" in s.arrays(rid)
    np.testing.assert_allclose(s.array(rid, "mi_matrix"), np.array(s.results[rid]["mi_matrix"]), rtol=1e-6)  # the .npy is float32


def test_per_layer_columns_and_result_fallback(tmp_path):
    d = tmp_path / "st" / "a-s0"
    d.mkdir(parents=True)
    (d / "recipe.toml").write_text('[run]\nvariant = "a"\nseed = 0\n[model]\nhidden = [8, 4]\n')
    (d / "status.json").write_text('{"state": "done", "step": 10}')
    (d / "curve.csv").write_text("step,loss,mir_h0,active_h0,mir_h1,active_h1\n0,1.5,0.1,8,0.2,4\n10,0.5,0.3,7,NaN,0\n")
    (d / "result.json").write_text('{"run_id": "a-s0", "last": {"mir": [0.3, null], "r2": 0.9}, "mi_matrix": [[1, 2]]}')
    s = biodis.load_study(tmp_path / "st")
    assert s.runs.loc[0, "model.hidden"] == (8, 4)
    c = s.curves.set_index(["step", "quantity", "layer"])["value"]
    assert c[(10, "mir", 0)] == 0.3 and np.isnan(c[(10, "mir", 1)]) and c[(0, "active", 1)] == 4
    assert s.final.loc[0, "last.r2"] == 0.9
    with pytest.raises(FileNotFoundError, match="no run directories"):
        biodis.load_study(tmp_path)


@pytest.mark.skipif(not os.environ.get("BIODIS_STUDY_DIR"), reason="set BIODIS_STUDY_DIR to a real study")
def test_real_study_directory():
    s = biodis.load_study(os.environ["BIODIS_STUDY_DIR"])
    assert len(s.runs) > 0 and len(s.curves) > 0


def test_load_claims_from_a_report(study, tmp_path):
    # the report of a fig2-lownoise study writes the claims that involve it (1 seed: too few)
    c = biodis.load_claims(study)
    assert set(c["id"]) >= {"fig2-lownoise.nonneg", "fig2-lownoise.constraints"}
    own = c[c["id"].str.startswith("fig2-lownoise.")]
    assert len(own) == 4 and (own["verdict"] == "TOO_FEW_SEEDS").all()
    assert (own["a_n"] == 1).all() and own["p"].isna().all()
    # claims comparing it with studies that are not there (fig8-lownoise, ...) are NOT RUN
    assert (c[~c["id"].str.startswith("fig2-lownoise.")]["verdict"] == "NOT_RUN").all()
    with pytest.raises(FileNotFoundError, match="no claims.json"):
        biodis.load_claims(tmp_path)
    (tmp_path / "claims.json").write_text("[1, 2]")
    with pytest.raises(ValueError, match="not a biodis claims.json"):
        biodis.load_claims(tmp_path / "claims.json")
