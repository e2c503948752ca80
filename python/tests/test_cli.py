"""The wheel's `biodis` console script: the Rust CLI compiled into the extension."""
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np

import biodis


def script():
    """The `biodis` command the wheel installed next to this interpreter."""
    p = Path(sys.executable).parent / ("biodis.exe" if os.name == "nt" else "biodis")
    assert p.is_file(), f"{p}: the wheel did not install the biodis console script"
    return str(p)


def test_console_script_lists_the_recipes():
    r = subprocess.run([script(), "list"], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    for name in ["fig2", "fig6", "synthetic", "paper"]:
        assert name in r.stdout, r.stdout


def test_console_script_version_is_the_package_version():
    r = subprocess.run([script(), "--version"], capture_output=True, text=True)
    assert r.returncode == 0
    assert r.stdout.strip() == f"biodis {biodis.__version__}"


def test_console_script_scores_as_the_bindings(tmp_path, data):
    z, f, _ = data
    np.save(tmp_path / "z.npy", z)
    np.save(tmp_path / "f.npy", f)
    r = subprocess.run([script(), "score", "--latents", str(tmp_path / "z.npy"),
                        "--factors", str(tmp_path / "f.npy"), "--metrics", "mir,mig,dci",
                        "--json"], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    want = json.loads(r.stdout)
    got = biodis.score(z, f, ["mir", "mig", "dci"])
    assert got["scores"] == want["scores"]


def test_console_script_errors_exit_2_with_the_message(tmp_path):
    r = subprocess.run([script(), "score", "--latents", str(tmp_path / "none.npy"),
                        "--factors", str(tmp_path / "none.npy")], capture_output=True, text=True)
    assert r.returncode == 2
    assert r.stderr.startswith("error: ") and "none.npy" in r.stderr, r.stderr
    # a usage error is clap's, with its status 2 and the usage line
    r = subprocess.run([script(), "no-such-command"], capture_output=True, text=True)
    assert r.returncode == 2 and "Usage" in r.stderr, r.stderr


def test_cli_main_from_python():
    # the same entry point in-process (what the console script calls)
    assert biodis._biodis.cli_main(["biodis", "list"]) == 0
