"""Benchmark: biodis.mir + biodis.mig (Rust, through the Python bindings) vs the numpy +
scikit-learn reference (python/tests/reference.py: np.histogram/np.digitize binning and
sklearn.metrics.mutual_info_score, as the authors' compute_mir and disentanglement_lib) on
10 000 samples x 10 latents, 5 continuous factors, measured in the same run.

    .venv-py/bin/python bench/python_mir_mig.py   # after scripts/python-test.sh
"""
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "python" / "tests"))
import reference  # noqa: E402

import biodis  # noqa: E402


def best(f, reps):
    ts = []
    for _ in range(reps):
        t0 = time.perf_counter()
        v = f()
        ts.append(time.perf_counter() - t0)
    return min(ts), v


rng = np.random.default_rng(0)
f = rng.uniform(size=(10_000, 5))
z = np.c_[f @ rng.normal(size=(5, 5)), rng.normal(size=(10_000, 5))]
t_rs, (m_rs, g_rs) = best(lambda: (biodis.mir(z, f)["value"], biodis.mig(z, f)["value"]), 20)
t_py, (m_py, g_py) = best(lambda: (reference.mir(z, f), reference.mig(z, f)), 3)
sk = getattr(reference, "mutual_info_score").__module__
print(f"10000 x 10 latents, 5 factors; reference MI from {sk}")
print(f"biodis     mir+mig: {1e3 * t_rs:8.2f} ms  (MIR {m_rs:.12f}, MIG {g_rs:.12f})")
print(f"numpy/skl  mir+mig: {1e3 * t_py:8.2f} ms  (MIR {m_py:.12f}, MIG {g_py:.12f})")
print(f"|diff| MIR {abs(m_rs - m_py):.2e}, MIG {abs(g_rs - g_py):.2e}; speed-up {t_py / t_rs:.1f}x")
