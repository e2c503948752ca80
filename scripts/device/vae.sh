#!/usr/bin/env bash
# The VAE on an accelerator machine (NVIDIA, Vulkan through the vendor driver), in under
# 8 minutes: usage `scripts/device/vae.sh OUT` from the repository root.
#
# Needs, carried from the development machine: a release binary built with the GPU backend
# (`CARGO_TARGET_DIR=target/gpu cargo build --release -p biodis --features gpu`, path in
# $BIODIS_BIN, default target/gpu/release/biodis) and, where the machine has no Vulkan loader,
# the loader packages in .gl/ (see the device notes). PyTorch is expected preinstalled.
#
# Writes to OUT (at most 8 files, all at its top level):
#   torch_b4_cuda.json    60 s of the PyTorch B4 peer on CUDA (the calibration ceiling)
#   biodis_b4_gpu.json    biodis B4 on the GPU backend, 1 run (steps/s at batch 64)
#   biodis_b4_gpu_x4.txt  the same, 4 runs at once (one JSON line each)
#   fig13_curves.csv      the fig13 runs' curve.csv rows (loss; MIG, R², active latents every
#                         5 000 steps), run id first; as many steps as fit in 4 minutes
#   table.md              the table of all of it
#   log.txt               everything the steps printed
set -uo pipefail
OUT=${1:?usage: scripts/device/vae.sh OUT}
mkdir -p "$OUT"
LOG="$OUT/log.txt"
exec > >(tee -a "$LOG") 2>&1
if [ -d .gl ] && ! ldconfig -p | grep -q libvulkan.so.1; then
  for f in .gl/*.deb; do dpkg -x "$f" /; done
  ldconfig
fi
if [ -f /usr/local/nvidia/share/vulkan/icd.d/nvidia_icd.json ]; then
  export VK_DRIVER_FILES=/usr/local/nvidia/share/vulkan/icd.d/nvidia_icd.json
fi
BIN=${BIODIS_BIN:-target/gpu/release/biodis}
[ -x "$BIN" ] || { echo "vae.sh: no GPU build at $BIN (see the header)"; exit 2; }
DATA=$(mktemp -d)/bench-data
BENCH_DATA="$DATA" python3 bench/peers/gen_data.py
echo "== 1. PyTorch B4 on CUDA, 60 s"
BENCH_DATA="$DATA" timeout 150 python3 scripts/device/b4_torch_cuda.py 60 > "$OUT/torch_b4_cuda.json" || echo "torch step failed"
cat "$OUT/torch_b4_cuda.json"
echo "== 2. biodis B4 on the GPU backend: losses, then 1 run and 4 at once"
timeout 120 "$BIN" bench B4 --engine gpu --mode check --data "$DATA" > "$OUT/biodis_b4_gpu_check.json" || echo "check failed"
timeout 90 "$BIN" bench B4 --engine gpu --data "$DATA" --reps 5 > "$OUT/biodis_b4_gpu.json" || echo "B4 gpu failed"
cat "$OUT/biodis_b4_gpu.json"
: > "$OUT/biodis_b4_gpu_x4.txt"
for k in 1 2 3 4; do
  (timeout 120 "$BIN" bench B4 --engine gpu --data "$DATA" --reps 5 >> "$OUT/biodis_b4_gpu_x4.txt") &
done
wait
cat "$OUT/biodis_b4_gpu_x4.txt"
echo "== 3. fig13 on the GPU, as many steps as fit in 4 minutes (MIG every 5 000)"
STUDY=$(mktemp -d)/fig13
timeout 240 "$BIN" run fig13 --device gpu --variants bio_w1,bvae_b1 --seeds 1 --steps 500000 \
  --set train.eval_every=5000 --set train.log_every=500 --jobs 2 --quiet --out "$STUDY"
: > "$OUT/fig13_curves.csv"
for c in "$STUDY"/*/curve.csv; do
  run=$(basename "$(dirname "$c")")
  tail -n +2 "$c" | sed "s/^/$run,/" >> "$OUT/fig13_curves.csv"
done
python3 - "$OUT" <<'PY'
import json, sys, os, statistics
out = sys.argv[1]
def js(name):
    try:
        return [json.loads(l) for l in open(os.path.join(out, name)) if l.strip()]
    except OSError:
        return []
rows = ["| what | steps/s | notes |", "|---|---|---|"]
for t in js("torch_b4_cuda.json"):
    rows.append(f"| PyTorch B4, CUDA ({t['device']}) | {t['steps_per_s']:.1f} | {t['steps']} steps in {t['seconds']} s; losses 0/1/10 {t['losses_0_1_10']} |")
for b in js("biodis_b4_gpu.json"):
    rows.append(f"| biodis B4, GPU backend, 1 run | {b['median']:.1f} | median of {len(b['ms'])} |")
x4 = js("biodis_b4_gpu_x4.txt")
if x4:
    per = ", ".join("%.1f" % b["median"] for b in x4)
    total = sum(b["median"] for b in x4)
    rows.append(f"| biodis B4, GPU backend, {len(x4)} runs at once | {total:.1f} total | per run {per} |")
last = {}
for l in open(os.path.join(out, "fig13_curves.csv")):
    f = l.strip().split(",")
    if len(f) >= 10 and f[7]:
        last[f[0]] = (f[1], f[7], f[8])
for run, (step, mig, r2) in sorted(last.items()):
    rows.append(f"| fig13 {run} | – | step {step}: MIG {float(mig):.3f}, R² {float(r2):.3f} |")
open(os.path.join(out, "table.md"), "w").write("\n".join(rows) + "\n")
print("\n".join(rows))
PY
