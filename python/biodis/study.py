"""Loads a biodis study directory into pandas (plain Python; no Rust needed).

The run-directory contract (``crates/biodis-study/src/rundir.rs``)::

    <study>/runs.json  summary.csv  report.html  figures/
    <study>/<run-id>/recipe.toml  status.json  curve.csv  result.json  arrays/*.npy

:func:`load_study` returns a :class:`Study` with

* ``runs``: one row per run directory (order of ``runs.json`` when present) -- ``run_id``,
  ``state``, ``step`` (``status.json``) and every resolved recipe key of ``recipe.toml`` as a
  ``section.key`` column (e.g. ``constraints.beta_activity``, ``train.steps``);
* ``curves``: long form ``run_id, step, layer, quantity, value`` from each ``curve.csv``; the
  per-layer columns (``mir``/``active`` for a single hidden layer, ``mir_h0``, ``active_h1``, ...)
  get their hidden-layer index in ``layer``, the others (losses, ``r2``, ...) ``layer = <NA>``;
* ``final``: the final metrics, one row per run: ``summary.csv`` when the study wrote one, else
  the scalar fields of each ``result.json`` flattened to ``a.b`` columns;
* ``results``: the parsed ``result.json`` of each run (dicts), and :meth:`Study.array` for
  ``arrays/*.npy`` (MI matrices, ratemaps, hidden activity) as numpy, or a labelled
  ``xarray.DataArray`` with ``xarray=True`` when xarray is installed.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Dict, List

import numpy as np

try:
    import tomllib as _toml  # Python >= 3.11
except ImportError:  # pragma: no cover
    try:
        import tomli as _toml
    except ImportError:
        _toml = None

_LAYER_COL = re.compile(r"^(.+)_h(\d+)$")
_SINGLE_LAYER = ("mir", "active")


def _flatten(d: Dict[str, Any], prefix: str = "") -> Dict[str, Any]:
    out = {}
    for k, v in d.items():
        key = f"{prefix}{k}"
        if isinstance(v, dict):
            out.update(_flatten(v, key + "."))
        elif isinstance(v, list):
            if all(not isinstance(x, (list, dict)) for x in v):
                out[key] = tuple(v)  # hashable: usable in groupby
            # nested lists (matrices) are arrays, not columns: see Study.results
        else:
            out[key] = v
    return out


@dataclass
class Study:
    path: Path
    runs: Any  # pandas.DataFrame
    curves: Any
    final: Any
    results: Dict[str, Dict[str, Any]] = field(default_factory=dict)

    def array(self, run_id: str, name: str, xarray: bool = False):
        """``<run>/arrays/<name>.npy`` as numpy (or an ``xarray.DataArray`` with dims
        ``dim_0...`` and the run id as an attribute)."""
        p = self.path / run_id / "arrays" / (name if name.endswith(".npy") else name + ".npy")
        a = np.load(p)
        if not xarray:
            return a
        import xarray as xr
        return xr.DataArray(a, dims=[f"dim_{i}" for i in range(a.ndim)], name=name,
                            attrs={"run_id": run_id, "study": str(self.path)})

    def arrays(self, run_id: str) -> List[str]:
        d = self.path / run_id / "arrays"
        return sorted(p.stem for p in d.glob("*.npy")) if d.is_dir() else []


def _curve_long(run_id: str, df, pd):
    if "step" not in df.columns:
        raise ValueError(f"{run_id}/curve.csv: no `step` column")
    rows = []
    for col in df.columns:
        if col == "step":
            continue
        m = _LAYER_COL.match(col)
        if m:
            q, layer = m.group(1), int(m.group(2))
        elif col in _SINGLE_LAYER:
            q, layer = col, 0
        else:
            q, layer = col, None
        rows.append(pd.DataFrame({"run_id": run_id, "step": df["step"].to_numpy(),
                                  "layer": layer, "quantity": q,
                                  "value": pd.to_numeric(df[col], errors="coerce").to_numpy(dtype=float)}))
    out = pd.concat(rows, ignore_index=True)
    out["layer"] = out["layer"].astype("Int64")
    return out


def load_study(path) -> Study:
    """Loads the study directory ``path`` (see the module docs). Raises ``FileNotFoundError``
    when it holds no run directory."""
    import pandas as pd

    if _toml is None:  # pragma: no cover
        raise ImportError("load_study needs tomllib (Python >= 3.11) or the tomli package")
    root = Path(path)
    dirs = [d for d in sorted(root.iterdir()) if d.is_dir() and (d / "recipe.toml").is_file()] \
        if root.is_dir() else []
    if not dirs:
        raise FileNotFoundError(f"{root}: no run directories (<run-id>/recipe.toml)")
    if (root / "runs.json").is_file():
        order = [r["run_id"] for r in json.loads((root / "runs.json").read_text())]
        rank = {r: i for i, r in enumerate(order)}
        dirs.sort(key=lambda d: rank.get(d.name, len(rank)))
    run_rows, curves, results = [], [], {}
    for d in dirs:
        row: Dict[str, Any] = {"run_id": d.name}
        if (d / "status.json").is_file():
            st = json.loads((d / "status.json").read_text())
            row["state"], row["step"] = st.get("state"), st.get("step")
            if st.get("error"):
                row["error"] = st["error"]
        with open(d / "recipe.toml", "rb") as fh:
            row.update(_flatten(_toml.load(fh)))
        run_rows.append(row)
        if (d / "curve.csv").is_file() and (d / "curve.csv").stat().st_size > 0:
            curves.append(_curve_long(d.name, pd.read_csv(d / "curve.csv"), pd))
        if (d / "result.json").is_file():
            results[d.name] = json.loads((d / "result.json").read_text())
    runs = pd.DataFrame(run_rows)
    curves_df = pd.concat(curves, ignore_index=True) if curves else \
        pd.DataFrame(columns=["run_id", "step", "layer", "quantity", "value"])
    if (root / "summary.csv").is_file():
        final = pd.read_csv(root / "summary.csv")
    else:
        final = pd.DataFrame([{"run_id": k, **_flatten(v)} for k, v in results.items()])
    return Study(path=root, runs=runs, curves=curves_df, final=final, results=results)


def load_claims(path):
    """One row per claim of a ``claims.json`` (``path`` is the file, or a folder holding it):
    ``id, figure, text, verdict`` (``HOLDS``, ``FAILS``, ``TOO_FEW_SEEDS``, ``NOT_RUN``),
    ``a_label, a_mean, a_se, a_n, b_label, b_mean, b_se, b_n`` (``b_n`` is 0 for a fixed value),
    ``diff, ci_low, ci_high, effect_size, test, statistic, df, p, alpha, margin, direction,
    note, source``. Undefined numbers are NaN. Raises ``FileNotFoundError`` naming the path when
    there is no ``claims.json``, ``ValueError`` when it is not one."""
    import pandas as pd

    p = Path(path)
    if p.is_dir():
        p = p / "claims.json"
    if not p.is_file():
        raise FileNotFoundError(f"{p}: no claims.json (run `biodis claims` or `biodis report` first)")
    try:
        data = json.loads(p.read_text())
        claims = data["claims"]
    except (ValueError, KeyError, TypeError) as e:
        raise ValueError(f"{p}: not a biodis claims.json ({e})") from None
    nan = float("nan")

    def num(v):
        return nan if v is None else float(v)

    rows = []
    for c in claims:
        row = {k: c.get(k) for k in ("id", "figure", "text", "verdict")}
        for side in ("a", "b"):
            s = c.get(side) or {}
            row[f"{side}_label"] = s.get("label")
            row[f"{side}_mean"] = num(s.get("mean"))
            row[f"{side}_se"] = num(s.get("se"))
            row[f"{side}_n"] = len(s.get("values") or [])
        ci = c.get("diff_ci95") or [None, None]
        row.update(diff=num(c.get("diff")), ci_low=num(ci[0]), ci_high=num(ci[1]),
                   effect_size=num(c.get("effect_size")), test=c.get("test"),
                   statistic=num(c.get("statistic")), df=num(c.get("df")), p=num(c.get("p")),
                   alpha=num(c.get("alpha")), margin=num(c.get("margin")),
                   direction=c.get("direction"), note=c.get("note"), source=c.get("source"))
        rows.append(row)
    return pd.DataFrame(rows)
