#!/usr/bin/env bash
# Checks that the workspace's declared rust-version (Cargo.toml [workspace.package], inherited by
# every member crate) is exactly the highest `rust-version` among all the packages the workspace
# resolves to (printing which package needs it), and that the installed rustc is at least that.
#   usage: scripts/check-msrv.sh        (run by .ci/run; needs cargo and python3)
set -euo pipefail
cd "$(dirname "$0")/.."
rustc_version=$(rustc --version)
# --all-features: the optional GPU backend (burn wgpu) counts too
cargo metadata --format-version 1 --locked --all-features | RUSTC_VERSION="$rustc_version" python3 -c '
import json, os, sys

def key(v):
    return tuple(int(p) for p in v.split("-")[0].split("."))

m = json.load(sys.stdin)
members = set(m["workspace_members"])
pkgs = {p["id"]: p for p in m["packages"]}
resolved = {n["id"] for n in m["resolve"]["nodes"]}
declared = {pkgs[i]["name"]: pkgs[i]["rust_version"] for i in members}
missing = sorted(n for n, v in declared.items() if v is None)
if missing:
    sys.exit("check-msrv: no rust-version in " + ", ".join(missing) + " (add rust-version.workspace = true)")
if len(set(declared.values())) != 1:
    sys.exit("check-msrv: the member crates declare different rust-versions: %s" % declared)
ws = next(iter(declared.values()))
deps = [pkgs[i] for i in resolved if i not in members and pkgs[i]["rust_version"]]
top = max(key(p["rust_version"]) for p in deps)
need = sorted("%s %s (rust-version %s)" % (p["name"], p["version"], p["rust_version"])
              for p in deps if key(p["rust_version"]) == top)
rustc = os.environ["RUSTC_VERSION"].split()[1]
ok = True
if key(ws) != top:
    print("check-msrv: the workspace declares rust-version %s, but the highest among its %d resolved"
          " dependencies is %s, needed by: %s" % (ws, len(deps), ".".join(map(str, top)), "; ".join(need)),
          file=sys.stderr)
    ok = False
if key(rustc) < key(ws):
    print("check-msrv: rustc %s is older than the declared rust-version %s" % (rustc, ws), file=sys.stderr)
    ok = False
if not ok:
    sys.exit(1)
print("check-msrv: rust-version %s = the highest of %d resolved dependencies (%s); rustc %s"
      % (ws, len(deps), "; ".join(need), rustc))
'
