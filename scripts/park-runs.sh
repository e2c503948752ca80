#!/usr/bin/env bash
# Parks a study's unfinished runs in the repository, so that a long study survives the machine
# (the sessions' machines are fresh each time and keep only what is committed).
# `scripts/park-runs.sh RUNS_DIR STUDY [MAX_MB]` copies every run of RUNS_DIR/STUDY to
# parked/STUDY/RUN/ with its light files (recipe.toml, status.json, result.json, curve.csv;
# never .lock, arrays/, figures/) and, for a run that is not done, its checkpoint; and the
# study's study.json, runs.json and claims.toml to parked/STUDY/. It refuses a checkpoint larger
# than MAX_MB (default 12), so that a parked run costs the repository at most that.
# `scripts/park-runs.sh --restore RUNS_DIR` copies the parked studies back into RUNS_DIR. It
# never replaces a run directory that is done or already as far (its status.json's step) as the
# parked one; the study's files are taken where RUNS_DIR/STUDY has none, and runs.json also
# where the parked one extends it. `biodis run STUDY --out RUNS_DIR/STUDY ...` then resumes the
# unfinished runs from their checkpoints. Once a parked study's runs have finished and been
# archived (scripts/archive-results.sh), remove it: `git rm -r parked/STUDY`.
# Usage: scripts/park-runs.sh RUNS_DIR STUDY [MAX_MB]
#        scripts/park-runs.sh --restore RUNS_DIR
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
step_of() { # the step in a status.json (0 when absent; "" when unreadable)
  [ -f "$1" ] || { echo 0; return; }
  python3 -c 'import json,sys; print(int(json.load(open(sys.argv[1])).get("step", 0)))' "$1" 2>/dev/null || echo ""
}
# whether run directory $1 may be replaced by a copy at step $2: it must not be done, running
# under a lock, or as far along, and its status must be readable
replaceable() {
  local d="$1" want="$2" have
  [ -d "$d" ] || return 0
  [ -e "$d/.lock" ] && return 1
  [ "$(state_of "$d/status.json")" = "done" ] && return 1
  have="$(step_of "$d/status.json")"
  [ -n "$have" ] && [ -n "$want" ] && [ "$have" -lt "$want" ]
}
state_of() { # the state in a status.json ("" when absent or unreadable)
  [ -f "$1" ] || { echo ""; return; }
  python3 -c 'import json,sys; print(json.load(open(sys.argv[1])).get("state", ""))' "$1" 2>/dev/null || echo ""
}

if [ "${1:-}" = "--restore" ]; then
  dst="${2:?usage: scripts/park-runs.sh --restore RUNS_DIR}"
  [ -d "$root/parked" ] || { echo "nothing parked ($root/parked does not exist)"; exit 0; }
  for sd in "$root"/parked/*/; do
    [ -f "$sd/study.json" ] || continue
    s="$(basename "$sd")"; mkdir -p "$dst/$s"
    # the study's own files: taken when the destination has none; runs.json also when the parked
    # one extends the destination's (runs.json only ever grows, so the longer one is the later)
    for f in study.json claims.toml; do
      [ -f "$sd/$f" ] && [ ! -f "$dst/$s/$f" ] && cp "$sd/$f" "$dst/$s/$f"
    done
    if [ ! -f "$sd/runs.json" ]; then
      :
    elif [ ! -f "$dst/$s/runs.json" ] || python3 - "$sd/runs.json" "$dst/$s/runs.json" <<'PY'
import json, sys
p, d = (json.load(open(f)) for f in sys.argv[1:3])
sys.exit(0 if len(p) > len(d) and p[: len(d)] == d else 1)
PY
    then
      cp "$sd/runs.json" "$dst/$s/runs.json.tmp" && mv "$dst/$s/runs.json.tmp" "$dst/$s/runs.json"
    fi
  done
  for r in "$root"/parked/*/*/; do
    [ -d "$r" ] || continue
    r="${r%/}"; id="$(basename "$r")"; s="$(basename "$(dirname "$r")")"
    out="$dst/$s/$id"
    if ! replaceable "$out" "$(step_of "$r/status.json")"; then
      echo "kept $out: it is done, locked, as far along or unreadable (step $(step_of "$out/status.json"); parked: $(step_of "$r/status.json"))"
      continue
    fi
    mkdir -p "$dst/$s"
    rm -rf "$out.tmp"; cp -r "$r" "$out.tmp"; rm -rf "$out"; mv "$out.tmp" "$out"
    echo "restored $r -> $out (step $(step_of "$out/status.json"))"
  done
  exit 0
fi
src="${1:?usage: scripts/park-runs.sh RUNS_DIR STUDY [MAX_MB]}"
s="${2:?usage: scripts/park-runs.sh RUNS_DIR STUDY [MAX_MB]}"
max_mb="${3:-12}"
d="$src/$s"
[ -f "$d/study.json" ] || { echo "error: $d is not a study directory (no study.json)" >&2; exit 2; }
n=0
mkdir -p "$root/parked/$s"
for f in study.json runs.json claims.toml; do
  [ -f "$d/$f" ] && cp "$d/$f" "$root/parked/$s/$f.tmp" && mv "$root/parked/$s/$f.tmp" "$root/parked/$s/$f"
done
for r in "$d"/*/; do
  r="${r%/}"; id="$(basename "$r")"
  [ -f "$r/recipe.toml" ] || continue
  out="$root/parked/$s/$id"
  ck=""
  if [ "$(state_of "$r/status.json")" != "done" ]; then
    ck="$(ls "$r"/checkpoint* 2>/dev/null | head -n 1 || true)"
  fi
  if [ -n "$ck" ]; then
    bytes=$(stat -c %s "$ck"); mb=$(( (bytes + 1048575) / 1048576 ))
    if [ "$bytes" -gt $(( max_mb * 1048576 )) ]; then
      echo "error: $ck is $mb MiB, over the limit of $max_mb MiB (pass a larger MAX_MB to park it anyway)" >&2
      exit 2
    fi
  fi
  # a parked copy further along than this run (parked on another machine) is kept
  if [ -d "$out" ] && [ "$(state_of "$out/status.json")" != "done" ] \
    && ! replaceable "$out" "$(step_of "$r/status.json")"; then
    echo "kept $out: the parked copy is as far along (step $(step_of "$out/status.json"); here: $(step_of "$r/status.json"))"
    continue
  fi
  # every run keeps its light files (a study needs each run its runs.json names); an unfinished
  # run with a checkpoint also keeps the checkpoint
  rm -rf "$out.tmp"; mkdir -p "$out.tmp"
  for f in recipe.toml status.json result.json curve.csv ${ck:+"$(basename "$ck")"}; do
    [ -f "$r/$f" ] && cp "$r/$f" "$out.tmp/"
  done
  rm -rf "$out"; mv "$out.tmp" "$out"
  if [ -n "$ck" ]; then
    n=$((n + 1))
    echo "parked $r -> $out (step $(step_of "$out/status.json"), $mb MiB checkpoint)"
  fi
done
echo "$n unfinished run(s) of $s parked with their checkpoints (and every run's light files); commit parked/ to keep them"
