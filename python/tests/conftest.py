"""Shared fixtures: the Rust CLI (for exact agreement tests) and test arrays."""
import os
import shutil
from pathlib import Path

import numpy as np
import pytest

REPO = Path(__file__).resolve().parents[2]


def find_cli():
    """The `biodis` CLI built from this checkout: $BIODIS_CLI, else
    $CARGO_TARGET_DIR/release/biodis, else target/release/biodis, else `biodis` on PATH."""
    cands = [os.environ.get("BIODIS_CLI")]
    if os.environ.get("CARGO_TARGET_DIR"):
        cands.append(str(Path(os.environ["CARGO_TARGET_DIR"]) / "release" / "biodis"))
    cands.append(str(REPO / "target" / "release" / "biodis"))
    for c in cands:
        if c and Path(c).is_file() and os.access(c, os.X_OK):
            return c
    return shutil.which("biodis-cli")


@pytest.fixture(scope="session")
def cli():
    c = find_cli()
    if c is None:
        if os.environ.get("BIODIS_REQUIRE_CLI"):
            pytest.fail("BIODIS_REQUIRE_CLI is set but no biodis CLI was found")
        pytest.skip("no biodis CLI found (set BIODIS_CLI or build with `cargo build --release -p biodis`)")
    return c


@pytest.fixture(scope="session")
def data():
    """Latents partly aligned with 3 continuous factors, plus discrete factors."""
    rng = np.random.default_rng(7)
    n = 600
    f = rng.uniform(size=(n, 3))
    z = np.c_[f @ np.array([[1.0, 0.2, 0.0], [0.0, 1.0, 0.3], [0.1, 0.0, 1.0]]),
              rng.normal(size=(n, 2))] + 0.05 * rng.normal(size=(n, 5))
    fd = np.floor(f * np.array([3, 4, 5])).astype(np.int64)
    return z, f, fd


def optional(module, extra):
    """Import an optional extra for a test, or skip it — unless the module is named in
    $BIODIS_REQUIRE_EXTRAS (comma-separated, as .ci/run sets it), where its absence fails."""
    required = {m.strip() for m in os.environ.get("BIODIS_REQUIRE_EXTRAS", "").split(",") if m.strip()}
    if module in required:
        import importlib
        try:
            return importlib.import_module(module)
        except ImportError as e:
            pytest.fail(f"BIODIS_REQUIRE_EXTRAS names {module} but it cannot be imported: {e}")
    return pytest.importorskip(module, reason=f"{module} is not installed (optional extra biodis[{extra}])")
