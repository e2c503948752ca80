# Post hoc look at a grid-world run's grid-called cells (not part of the pre-stated analysis):
# per-cell-normalised maps of the object-free world and their autocorrelograms (numpy, display only).
# Usage: python3 scripts/posthoc/gridcells.py RUN_DIR OUT.png   (needs numpy, matplotlib)
import json, sys, numpy as np, matplotlib
matplotlib.use('Agg'); import matplotlib.pyplot as plt
run, out = sys.argv[1], sys.argv[2]
d = json.load(open(f'{run}/result.json'))
m = np.load(f'{run}/arrays/ratemaps.npy')  # world, cell, row, col
cells = d['cells']
def sac(a):
    a = a - a.mean(); F = np.fft.fft2(a); c = np.real(np.fft.ifft2(F*np.conj(F))); c = np.fft.fftshift(c); return c / c.max()
rows = []
for i, c in enumerate(cells):
    if not c['active']: continue
    rows.append((c['grid_score'] - c['grid_smooth_p95'], i, c))
rows.sort(reverse=True)
top = rows[:8]
fig, ax = plt.subplots(2, 8, figsize=(16, 4.4))
for k, (marg, i, c) in enumerate(top):
    a = m[0, i]
    ax[0, k].imshow(a, cmap='viridis'); ax[0, k].set_title(f"c{i} g={c['grid_score']:.2f} p95={c['grid_smooth_p95']:.2f}\np99={c['grid_smooth_p99']:.2f} sq={c['square_score']:.2f}", fontsize=7)
    ax[1, k].imshow(sac(a), cmap='jet', vmin=-0.5, vmax=1); ax[1, k].set_title(f"SAC  λ={c['wavelength']:.1f} act={c['active_bins']:.2f}", fontsize=7)
for a in ax.flat: a.axis('off')
fig.suptitle(f"{run.split('/')[-1]}: the 8 cells with the largest 60° grid-score margin over their smooth-field null p95 (object-free world; each map on its own scale) — post hoc", fontsize=9)
fig.tight_layout(); fig.savefig(out, dpi=110)
n95 = sum(1 for r in rows if r[0] > 0); n99 = sum(1 for _, i, c in rows if c['grid_score'] > c['grid_smooth_p99'])
print(run, 'active', len(rows), 'grid>p95', n95, 'grid>p99', n99)
for marg, i, c in top: print(f"  c{i}: g {c['grid_score']:.3f} p95 {c['grid_smooth_p95']:.3f} p99 {c['grid_smooth_p99']:.3f} sq {c['square_score']:.3f} sqp95 {c['square_smooth_p95']:.3f} λ {c['wavelength']:.2f} spacing {c['grid_spacing']:.2f} orient {c['grid_orientation']:.1f} stab {c['stability']:.2f} active {c['active_bins']:.3f}")
