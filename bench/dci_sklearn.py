"""The scikit-learn side of `biodis bench metrics`: disentanglement_lib's DCI path
(GradientBoostingClassifier per factor with defaults, impurity importances, D/C/I) and its
MIG, timed on the arrays that `biodis bench metrics --data DIR` wrote.

    biodis bench metrics --data /tmp/metrics-bench
    python bench/dci_sklearn.py /tmp/metrics-bench
"""
import json, sys, time
import numpy as np
import scipy.stats
from sklearn.ensemble import GradientBoostingClassifier
from sklearn.metrics import mutual_info_score

d = sys.argv[1]
z = np.load(f"{d}/z.npy"); f = np.load(f"{d}/f.npy").astype(np.int64)
n = z.shape[0]; n_train = 2 * n // 3

def discretize(x, bins=20):
    out = np.zeros_like(x, dtype=np.int64)
    for i in range(x.shape[1]):
        out[:, i] = np.digitize(x[:, i], np.histogram(x[:, i], bins)[1][:-1])
    return out

t = []
for _ in range(7):
    t0 = time.perf_counter()
    zd = discretize(z)
    m = np.array([[mutual_info_score(f[:, k], zd[:, i]) for k in range(f.shape[1])] for i in range(z.shape[1])])
    h = np.array([mutual_info_score(f[:, k], f[:, k]) for k in range(f.shape[1])])
    s = np.sort(m, axis=0)[::-1]
    mig = np.mean((s[0] - s[1]) / h)
    t.append((time.perf_counter() - t0) * 1e3)
print(json.dumps({"fw": "sklearn", "bench": "mig", "median_ms": float(np.median(t)), "mig": float(mig)}))

t0 = time.perf_counter()
R = np.zeros((z.shape[1], f.shape[1])); tr, te = [], []
for k in range(f.shape[1]):
    m = GradientBoostingClassifier().fit(z[:n_train], f[:n_train, k])
    R[:, k] = np.abs(m.feature_importances_)
    tr.append(np.mean(m.predict(z[:n_train]) == f[:n_train, k])); te.append(np.mean(m.predict(z[n_train:]) == f[n_train:, k]))
def ent(p, base): return scipy.stats.entropy(p + 1e-11, base=base)
dis = np.sum((1 - ent(R.T, R.shape[1])) * R.sum(1) / R.sum())
comp = np.sum((1 - ent(R, R.shape[0])) * R.sum(0) / R.sum())
print(json.dumps({"fw": "sklearn", "bench": "dci", "seconds": time.perf_counter() - t0, "disentanglement": dis,
                  "completeness": comp, "informativeness_test": float(np.mean(te))}))
