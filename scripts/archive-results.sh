#!/usr/bin/env bash
# Copies the light files of finished studies into results/ (committed), so that the claims
# ledger can be re-evaluated from a plain clone: `biodis claims results/`.
# Kept per study: study.json, runs.json, claims.toml, summary.csv; per run: recipe.toml,
# status.json, result.json, curve.csv. Left out: arrays/, checkpoints, figures, reports.
# Usage: scripts/archive-results.sh RUNS_DIR STUDY...   (e.g. scripts/archive-results.sh runs fig2 fig2-lownoise)
set -euo pipefail
src="$1"; shift
dst="$(cd "$(dirname "$0")/.." && pwd)/results"
for s in "$@"; do
  d="$src/$s"
  [ -f "$d/study.json" ] || { echo "error: $d is not a study directory (no study.json)" >&2; exit 2; }
  out="$dst/$s"
  rm -rf "$out.tmp"; mkdir -p "$out.tmp"
  for f in study.json runs.json claims.toml summary.csv; do
    [ -f "$d/$f" ] && cp "$d/$f" "$out.tmp/"
  done
  for r in "$d"/*/; do
    r="${r%/}"; id="$(basename "$r")"
    [ -f "$r/recipe.toml" ] || continue
    mkdir -p "$out.tmp/$id"
    for f in recipe.toml status.json result.json curve.csv; do
      [ -f "$r/$f" ] && cp "$r/$f" "$out.tmp/$id/"
    done
  done
  rm -rf "$out"; mv "$out.tmp" "$out"
  echo "archived $d -> $out ($(find "$out" -name result.json | wc -l) finished runs)"
done
