"""An independent numpy + scikit-learn computation of MIR and MIG, written from the papers'
/ authors' code (histogram_discretize = np.digitize on np.histogram edges, as
disentanglement_lib and the authors' compute_mir), for checking the bindings."""
import numpy as np

try:
    from sklearn.metrics import mutual_info_score
except ImportError:  # a plain-numpy plug-in estimate (identical formula)
    def mutual_info_score(a, b):
        a = np.unique(a, return_inverse=True)[1]
        b = np.unique(b, return_inverse=True)[1]
        c = np.zeros((a.max() + 1, b.max() + 1))
        np.add.at(c, (a, b), 1)
        p = c / c.sum()
        pa, pb = p.sum(1, keepdims=True), p.sum(0, keepdims=True)
        nz = p > 0
        return float((p[nz] * np.log(p[nz] / (pa @ pb)[nz])).sum())


def discretize(x, bins=20):
    return np.digitize(x, np.histogram(x, bins)[1][:-1])


def mi_normalised(z, f, bins=20, f_discrete=False):
    fl = [f[:, k] if f_discrete else discretize(f[:, k], bins) for k in range(f.shape[1])]
    h = np.array([mutual_info_score(x, x) for x in fl])
    m = np.array([[mutual_info_score(fl[k], discretize(z[:, i], bins)) for k in range(len(fl))]
                  for i in range(z.shape[1])])
    return m, h


def mir(z, f, bins=20, thr=20.0):
    act = np.abs(z).mean(0)
    active = act > act.max() / thr
    m, h = mi_normalised(z, f, bins)
    m = m / h
    m[~active] = 0.0
    s = m.sum(1)
    kept = active & (s > s[active].max() / thr) & (s > 0)
    pref = m[kept].max(1) / s[kept]
    k = f.shape[1]
    return (pref.mean() - 1.0 / k) / (1.0 - 1.0 / k)


def mig(z, f, bins=20, f_discrete=False):
    m, h = mi_normalised(z, f, bins, f_discrete)
    s = np.sort(m, axis=0)[::-1]
    return float(np.mean((s[0] - s[1]) / h))
