#!/usr/bin/env bash
# Builds the Python package (maturin wheel of crates/biodis-py + python/biodis), installs it into a
# fresh virtual environment and runs the Python test suite and the example:
#
#   scripts/python-test.sh            # fresh .venv-py (set BIODIS_PY_REUSE=1 to keep an existing one)
#
# BIODIS_PY_ALSO="3.9 3.13" also tests the wheel on those CPython versions (see below).
# Optional extras to test too: BIODIS_PY_EXTRAS="jax[cpu] torch" (pip requirement specifiers,
# installed into the venv with the rest; their tests are skipped when absent). `torch` from PyPI
# is the CUDA build: a 540 MB wheel plus CUDA libraries, 5.3 GB installed, ~80 s to install on
# the development machine (torch 2.15, Dec 2026); it runs on the CPU when there is no GPU. For
# the CPU-only build pass BIODIS_PY_PIP_ARGS="--extra-index-url https://download.pytorch.org/whl/cpu"
# (that index was not reachable from the development machine; untested). To keep a torch venv
# between runs: BIODIS_VENV=/path/to/venv BIODIS_PY_REUSE=1. The exact-agreement tests call
# the Rust CLI: ${CARGO_TARGET_DIR:-target}/release/biodis (or $BIODIS_CLI) when it exists; with
# BIODIS_REQUIRE_CLI=1 (as in .ci/run) a missing CLI fails instead of skipping.
set -euo pipefail
cd "$(dirname "$0")/.."
VENV=${BIODIS_VENV:-.venv-py}
TARGET=${CARGO_TARGET_DIR:-target}
if [[ -z "${BIODIS_PY_REUSE:-}" || ! -x "$VENV/bin/python" ]]; then
  rm -rf "$VENV"
  python3 -m venv "$VENV"
fi
# shellcheck disable=SC2086  # word splitting of the extras / pip arguments is intended
"$VENV/bin/pip" install -q --disable-pip-version-check ${BIODIS_PY_PIP_ARGS:-} maturin pytest numpy pandas scikit-learn ${BIODIS_PY_EXTRAS:-}
rm -rf "$TARGET/python-wheels"
"$VENV/bin/maturin" build --release --quiet -o "$TARGET/python-wheels"
"$VENV/bin/pip" install -q --disable-pip-version-check --force-reinstall --no-deps "$TARGET"/python-wheels/biodis-*.whl
if [[ -z "${BIODIS_CLI:-}" && -x "$TARGET/release/biodis" ]]; then
  export BIODIS_CLI="$PWD/$TARGET/release/biodis"
  [[ "$TARGET" = /* ]] && export BIODIS_CLI="$TARGET/release/biodis"
fi
# run from the repo root: `biodis` resolves to the installed wheel (python/ is not on sys.path)
"$VENV/bin/python" -m pytest -q -rs python/tests
"$VENV/bin/python" examples/python_quickstart.py
# The same abi3 wheel on other interpreters: BIODIS_PY_ALSO="3.9 3.13" (versions; each found as
# python<version> or in pyenv's versions/, and given a fresh venv next to $VENV with numpy,
# pandas, scikit-learn and pytest; no torch/jax). A version not installed is skipped, said so.
find_python() {
  local c
  for c in "python$1" "${PYENV_ROOT:-$HOME/.pyenv}"/versions/"$1".*/bin/python3; do
    if "$c" --version >/dev/null 2>&1; then echo "$c"; return 0; fi
  done
  return 1
}
for v in ${BIODIS_PY_ALSO:-}; do
  if ! py=$(find_python "$v"); then
    echo "python: CPython $v not found; skipped"
    continue
  fi
  other="$VENV-$v"
  rm -rf "$other"
  "$py" -m venv "$other"
  # shellcheck disable=SC2086
  "$other/bin/pip" install -q --disable-pip-version-check ${BIODIS_PY_PIP_ARGS:-} pytest numpy pandas scikit-learn
  "$other/bin/pip" install -q --disable-pip-version-check --no-deps "$TARGET"/python-wheels/biodis-*.whl
  echo "python: $("$other/bin/python" --version)"
  BIODIS_REQUIRE_EXTRAS="" "$other/bin/python" -m pytest -q -rs python/tests
done
echo "python: ok"
