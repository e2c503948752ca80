"""Pools grid-world studies (fig6, fig6-search, ...) into the per-variant table the README's
grid-world section reports: mean ± s.e. over seeds of each run's final numbers, the pooled
grid-cell calls against the smooth-field null among stable cells (stability >= 0.5) with their
chance rate, and the spacing / orientation of those cells from `biodis spatial` on their
object-free ratemaps (world 0 of arrays/ratemaps.npy).

  python scripts/gridworld_summary.py runs/fig6 [more study dirs] [--cli target/release/biodis]

Needs numpy. Every number comes from the runs' result.json / arrays and the biodis CLI.
"""
import argparse
import glob
import json
import math
import os
import subprocess
import sys
import tempfile
from collections import defaultdict

import numpy as np

KEYS = [
    ("location_acc", "location accuracy"),
    ("location_fit", "location loss: fraction of gap fitted"),
    ("action_acc", "action accuracy"),
    ("action_zero_acc", "all-zero action readout"),
    ("stability_mean", "stability, mean over cells"),
    ("bimodality", "bimodality (> 0.555: two modes)"),
    ("frac_grid_above_smooth_p95", "grid > smooth p95 (chance 0.05)"),
    ("frac_grid_above_smooth_p99", "grid > smooth p99 (chance 0.01)"),
    ("frac_ovc", "OVC calls"),
    ("cosine_loc_obj", "1 - cos(sum|W_l|, |W_o|) (Fig 6J)"),
    ("cosine_loc_act", "1 - cos(sum|W_l|, |W_t|)"),
    ("patch_corr_objects", "patch corr. around objects"),
    ("patch_corr_random", "patch corr. random layouts"),
    ("wavelength_median", "dominant wavelength, median (bins)"),
    ("target_wavelength", "target spectrum's peak (bins)"),
    ("grid_spacing_median", "grid-called cells' spacing, median"),
]


def mean_se(v):
    v = [x for x in v if x is not None and math.isfinite(x)]
    if not v:
        return "n/a"
    m = sum(v) / len(v)
    if len(v) < 2:
        return f"{m:.3f} (n=1)"
    se = math.sqrt(sum((x - m) ** 2 for x in v) / (len(v) - 1) / len(v))
    return f"{m:.3f} ± {se:.3f}"


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("studies", nargs="+")
    ap.add_argument("--cli", default=os.environ.get("BIODIS_CLI", "target/release/biodis"))
    a = ap.parse_args()
    runs = defaultdict(list)
    for d in a.studies:
        for rd in sorted(glob.glob(os.path.join(d, "*", "result.json"))):
            r = json.load(open(rd))
            runs[r["variant"]].append((os.path.dirname(rd), r))
    for variant, rs in runs.items():
        print(f"## {variant}: {len(rs)} runs (seeds {sorted(r['seed'] for _, r in rs)})")
        flat = []
        for _, r in rs:
            x = dict(r["eval"])
            x.update(r["pop"])
            for k in ("location_fit", "target_wavelength"):
                x[k] = r.get(k)
            flat.append(x)
        for k, label in KEYS:
            print(f"  {label:<36} {mean_se([f.get(k) for f in flat])}")
        # pooled calls among stable cells, and the called cells' maps
        stable = called = 0
        maps = []
        for d, r in rs:
            rm = np.load(os.path.join(d, "arrays", "ratemaps.npy"))
            for i, c in enumerate(r["cells"]):
                if not c["active"] or c["stability"] < 0.5:
                    continue
                stable += 1
                if c["grid_score"] > c["grid_smooth_p99"]:
                    called += 1
                    maps.append(rm[0, i])
        p = called / stable if stable else float("nan")
        # one-sided binomial tail P(X >= called) at the 1 % chance rate
        tail = sum(math.comb(stable, k) * 0.01 ** k * 0.99 ** (stable - k)
                   for k in range(called, stable + 1)) if stable else float("nan")
        print(f"  stable cells (stability >= 0.5): {stable}; grid > smooth p99: {called} "
              f"({100 * p:.1f} %, chance 1 %, binomial P(X >= {called}) = {tail:.2g})")
        if maps:
            with tempfile.TemporaryDirectory() as t:
                f = os.path.join(t, "maps.npy")
                np.save(f, np.stack(maps))
                out = subprocess.run([a.cli, "spatial", "--maps", f, "--json", "--out", t],
                                     capture_output=True, text=True, check=True).stdout
                cells = json.loads(out)
                cells = cells["cells_report"]
                for c in cells:
                    gs = c.get("grid_score_deepmind_minmax")
                    sp = c.get("spacing")
                    ori = c.get("orientation")
                    print(f"    called cell: grid score {gs if gs is None else round(gs, 2)}, "
                          f"spacing {sp if sp is None else round(sp, 1)} bins, "
                          f"orientation {ori if ori is None else round(ori)} deg")


if __name__ == "__main__":
    sys.exit(main())
