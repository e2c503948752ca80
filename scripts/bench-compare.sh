#!/usr/bin/env bash
# Side-by-side speed comparison (issue #21): biodis with each GEMM/elementwise kernel path
# against the PyTorch eager and JAX jit peers (bench/peers), interleaved in rounds on one core,
# plus this machine's f32 GEMM peak (biodis bench peak with each kernel path, and a jitted JAX
# 1024^3 matmul). Prints one JSON line per measurement and, at the end, a Markdown table of the
# medians over rounds with the CPU's vendor, family and model.
#
#   scripts/bench-compare.sh [BIODIS] [ROUNDS] [CORE] [BENCHES]
#     BIODIS   the biodis binary (default: target/release/biodis)
#     ROUNDS   interleaved rounds (default 3); each side's number per round is the median of 7
#     CORE     the core every side is pinned to with taskset (default 0)
#     BENCHES  space-separated, default "B1 B2 B3" (B4: biodis only, ms per step)
#   PY         the peers' python (default /tmp/benchvenv/bin/python; see bench/peers/README.md)
#   OUTFILE    where the JSON lines go (default /tmp/bench-compare.jsonl)
#   KERNELS    the BIODIS_KERNELS values to compare, space-separated (default "avx2 avx512" where
#              the CPU has AVX-512, else "avx2"), e.g. "avx2 avx512 gemm=avx512,elementwise=avx2"
#   PEERS      0 to skip the PyTorch and JAX sides
#
# Only ratios of sides measured in the same round mean much on a shared host; the table gives
# each side's median over rounds and the ratios of those medians.
set -euo pipefail
BIODIS=${1:-target/release/biodis}
ROUNDS=${2:-3}
CORE=${3:-0}
BENCHES=${4:-"B1 B2 B3"}
PY=${PY:-/tmp/benchvenv/bin/python}
OUT=${OUTFILE:-/tmp/bench-compare.jsonl}
here=$(cd "$(dirname "$0")/.." && pwd)
[ -x "$BIODIS" ] || { echo "bench-compare: $BIODIS is not an executable biodis binary" >&2; exit 2; }
[ -x "$PY" ] || { echo "bench-compare: no peer python at $PY (see bench/peers/README.md)" >&2; exit 2; }
data=${BENCH_DATA:-/tmp/biodis-bench-data}
[ -f "$data/manifest.json" ] || "$PY" "$here/bench/peers/gen_data.py" >/dev/null
avx512=$(grep -qw avx512f /proc/cpuinfo && echo 1 || echo 0)
kernels="avx2"
[ "$avx512" = 1 ] && kernels="avx2 avx512"
kernels=${KERNELS:-$kernels}
: > "$OUT"
pin() { taskset -c "$CORE" "$@"; }
tag() { # tag JSON line with the side name and round
  "$PY" -c 'import json,sys
side,rnd=sys.argv[1],int(sys.argv[2])
for l in sys.stdin:
    l=l.strip()
    if l.startswith("{"):
        d=json.loads(l); d["side"]=side; d["round"]=rnd; print(json.dumps(d))' "$1" "$2" | tee -a "$OUT"
}
jaxpeak='import os,time,json,statistics
import jax,jax.numpy as jnp
n=1024
a=jnp.ones((n,n),jnp.float32)*0.5; b=jnp.ones((n,n),jnp.float32)*0.25
f=jax.jit(lambda x,y: x@y)
f(a,b).block_until_ready()
r=[]
for _ in range(7):
    t=time.perf_counter(); k=0
    while time.perf_counter()-t<0.5:
        f(a,b).block_until_ready(); k+=1
    r.append(2*n**3*k/(time.perf_counter()-t)/1e9)
print(json.dumps({"bench":"peak","fw":"jax","median_gflops_1":statistics.median(r),"gflops_1":r}))'
for r in $(seq 1 "$ROUNDS"); do
  for k in $kernels; do
    BIODIS_KERNELS=$k pin "$BIODIS" bench peak --threads 1 | tag "biodis-$k" "$r"
  done
  XLA_FLAGS="--xla_cpu_multi_thread_eigen=false intra_op_parallelism_threads=1" \
    pin "$PY" -c "$jaxpeak" | tag jax "$r"
  for b in $BENCHES; do
    for k in $kernels; do
      BIODIS_KERNELS=$k pin "$BIODIS" bench "$b" --threads 1 --data "$data" | tag "biodis-$k" "$r"
    done
    if [ "$b" != B4 ] && [ "${PEERS:-1}" != 0 ]; then
      BENCH_DATA=$data pin "$PY" "$here/bench/peers/bench_torch.py" "$b" --threads 1 | tag torch "$r"
      BENCH_DATA=$data pin "$PY" "$here/bench/peers/bench_jax.py" "$b" --threads 1 | tag jax "$r"
    fi
  done
done
"$PY" - "$OUT" <<'EOF'
import json, statistics, sys
rows = [json.loads(l) for l in open(sys.argv[1])]
cpu = next((r for r in rows if r.get("cpu_family") is not None), {})
print(f"\nCPU: {cpu.get('cpu')} family {cpu.get('cpu_family')} model {cpu.get('cpu_model')} ({cpu.get('microarchitecture')}); medians over rounds")
med = {}
for r in rows:
    v = r.get("median_gflops_1") if r["bench"] == "peak" else r.get("median")
    if v is not None:
        med.setdefault((r["bench"], r["side"]), []).append(v)
sides = sorted({s for _, s in med})
print("| bench | " + " | ".join(sides) + " |")
print("|---|" + "---|" * len(sides))
for b in sorted({b for b, _ in med}, key=lambda b: (b != "peak", b)):
    cells = []
    for s in sides:
        v = med.get((b, s))
        cells.append("—" if not v else f"{statistics.median(v):.1f} ({min(v):.1f}–{max(v):.1f})")
    print(f"| {b} | " + " | ".join(cells) + " |")
print("(peak: GFLOP/s of a 1024^3 f32 product on one core; B1-B3: steps/s; B4: see the JSON)")
EOF
