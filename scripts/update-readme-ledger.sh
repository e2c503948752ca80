#!/usr/bin/env bash
# Regenerates the README's claims ledger from `results/`: replaces the block between the
# markers `<!-- ledger:begin ... -->` and `<!-- ledger:end -->` with the output of
# `biodis claims results --markdown` (the table, the counts and the notes of the claims that
# ran). Run it after `scripts/archive-results.sh`; the test
# `the_readme_ledger_is_what_biodis_claims_prints` fails until the README is regenerated.
# Usage: scripts/update-readme-ledger.sh [BIODIS]   (default: target/release/biodis)
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
bin="${1:-$root/target/release/biodis}"
[ -x "$bin" ] || { echo "error: $bin is not an executable biodis (build it: cargo build --release -p biodis, or give its path)" >&2; exit 2; }
cd "$root"
block="$(mktemp)"; trap 'rm -f "$block" README.md.tmp' EXIT
"$bin" claims results --markdown > "$block" 2>/dev/null
python3 - "$block" <<'PY'
import sys
block = open(sys.argv[1]).read()
s = open("README.md").read()
b = s.find("<!-- ledger:begin")
e = s.find("<!-- ledger:end -->")
if b < 0 or e < b:
    sys.exit("error: README.md has no <!-- ledger:begin ... --> ... <!-- ledger:end --> block")
b = s.index("-->", b) + 3
open("README.md.tmp", "w").write(s[:b] + "\n" + block + s[e:])
PY
mv README.md.tmp README.md
echo "README.md: ledger regenerated ($(grep -c '^| \*\*' "$block") claims)"
