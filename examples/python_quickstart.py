"""Notebook-style tour of biodis from Python (runs in CI: scripts/python-test.sh).

1. score a representation (here: a synthetic "model" whose latents mix the factors),
2. the spatial analyses of a grid cell,
3. the biological constraint terms on a tiny network (numpy here; biodis.torch / biodis.jax
   give the same numbers inside autograd).
"""
import numpy as np

import biodis

# %% 1. Scoring latents against ground-truth factors ------------------------------------------
rng = np.random.default_rng(0)
factors = rng.uniform(size=(5000, 3))                       # samples x factors
mixing = np.array([[1.0, 0.1, 0.0], [0.0, 1.0, 0.2], [0.3, 0.0, 1.0]])
latents = np.c_[factors @ mixing, rng.normal(size=(5000, 2))].astype(np.float32)
result = biodis.score(latents, factors, metrics=["mir", "mig", "dci", "sap"])
for s in result["scores"]:
    print(f"{s['id']:<24} {s['value']:.4f}")
mir = biodis.mir(latents, factors)
print("MIR kept neurons:", mir["kept"], "MI matrix shape:", mir["mi"].shape)
assert 0.0 < mir["value"] <= 1.0

# %% 2. A grid cell ----------------------------------------------------------------------------
n = 20
y, x = np.mgrid[0:n, 0:n].astype(float)
grid = sum(np.cos(4 * np.pi / (np.sqrt(3) * 7.0) * (x * np.cos(a) + y * np.sin(a)))
           for a in 0.2 + np.arange(3) * np.pi / 3)
grid -= grid.min()
cell = biodis.analyse_cell(grid, null=20)
print({k: round(v, 3) for k, v in cell.items() if k.startswith("grid_score") or k == "null_p95"})
assert biodis.grid_score(grid, "deepmind_minmax") > cell["null_p95"]  # a grid cell by its null

# %% 3. The constraint terms (same vocabulary as the recipes' [constraints]) ----------------------
from biodis import _constraints  # noqa: E402  (biodis.torch / biodis.jax wrap this)

h = rng.normal(size=(32, 16))                                 # a batch of hidden activity
w = [rng.normal(size=(8, 16)), rng.normal(size=(16, 4))]
t = _constraints.terms([h], [h], w, lambda a: np.maximum(a, 0), beta_nonneg=1.0,
                       beta_activity=0.1, beta_weight=1e-3, normalisation="mean")
print({k: round(float(v), 5) for k, v in t.items()})
