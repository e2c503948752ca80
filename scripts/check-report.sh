#!/usr/bin/env bash
# Renders a study's self-contained report.html in headless Chromium (Debian's `chromium`)
# and saves a full-page screenshot, to check the page renders (figures inline as SVG).
#   scripts/check-report.sh runs/fig2 [out.png]
# Installs chromium with apt-get if it is missing (needs root).
set -euo pipefail
study=${1:?usage: check-report.sh STUDY_DIR [OUT.png]}
out=${2:-$study/report-screenshot.png}
page=$(cd "$study" && pwd)/report.html
[ -f "$page" ] || { echo "no report.html in $study (run: biodis report $study)" >&2; exit 1; }
if ! command -v chromium >/dev/null; then
  apt-get install -y -q chromium >/dev/null
fi
chromium --headless --no-sandbox --disable-gpu --hide-scrollbars --window-size=1200,2400 \
  --screenshot="$out" "file://$page" 2>/dev/null
test -s "$out" && echo "screenshot: $out"
