"""The spatial frequencies a grid-world model's path integration can carry: the angles of the
eigenvalues of each transition W_a (App. A.9, eq. 52) read from a run's checkpoint.

A plane wave of wavelength L bins along an action's axis is carried exactly by W_a when W_a has
an eigenvalue pair at angle 360/L degrees; W_a = I carries only L = infinity. For each run this
prints the median and 90th percentile of |arg(lambda)| over the eigenvalues with |lambda| > rho/2
(rho = spectral radius) of the four W_a, and the fraction beyond the angles that wavelengths of
9.8 and 4.9 bins need (the DoG targets' spectral peaks at sigma 1.5 and 0.75).

  python scripts/gridworld_wa_spectrum.py runs/fig6-scale [more study dirs]

Needs numpy. Reads checkpoint.safetensors (flat `theta` in biodis-cells' Layout order:
z0, w_loc, w_obj, b_obj, w_act, b_act, w_trans) and recipe.toml's n_cells / world.size.
"""
import glob
import json
import os
import struct
import sys
import tomllib

import numpy as np


def theta(path):
    b = open(path, "rb").read()
    n = struct.unpack("<Q", b[:8])[0]
    h = json.loads(b[8:8 + n])
    o = h["theta"]["data_offsets"]
    return np.frombuffer(b[8 + n + o[0]:8 + n + o[1]], dtype=np.float32)


def main():
    for study in sys.argv[1:]:
        for d in sorted(glob.glob(os.path.join(study, "*", "checkpoint.safetensors"))):
            run = os.path.dirname(d)
            rec = tomllib.load(open(os.path.join(run, "recipe.toml"), "rb"))
            nc = rec.get("cells", {}).get("n_cells", 64)
            size = rec.get("world", {}).get("size", 16)
            nl = size * size
            t = theta(d)
            off = 2 * nl * nc + nc + 1 + 4 * nc + 4
            w = t[off:].reshape(4, nc, nc).astype(float)
            angles = []
            for a in range(4):
                ev = np.linalg.eigvals(w[a])
                keep = ev[np.abs(ev) > 0.5 * np.abs(ev).max()]
                angles += list(np.degrees(np.abs(np.angle(keep))))
            angles = np.array(angles)
            print(f"{os.path.basename(run)}: |arg| median {np.median(angles):.1f} deg, "
                  f"p90 {np.percentile(angles, 90):.1f} deg; beyond 36.7 deg (L < 9.8) "
                  f"{(angles > 36.7).mean():.2f}, beyond 73.5 deg (L < 4.9) {(angles > 73.5).mean():.2f}")


if __name__ == "__main__":
    main()
