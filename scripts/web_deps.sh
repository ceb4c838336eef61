#!/usr/bin/env bash
# The dashboard's one npm package, Chart.js (pinned in web/package-lock.json): `npm ci` in web/,
# then its browser build is copied to web/vendor/chart.umd.min.js (not in git), which the build
# embeds into the binary (served as /static/vendor/chart.umd.min.js, offline) and which
# MEDIADESK_HTTP_WEB_ROOT=web serves from disk. Run by setup.sh before cmake; safe to run again.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
"$here/scripts/npm_deps.sh" web chart.js/dist/chart.umd.min.js
from="$here/web/node_modules/chart.js/dist/chart.umd.min.js"
to="$here/web/vendor/chart.umd.min.js"
mkdir -p "$here/web/vendor"
# Copied only when it differs, so an unchanged file does not make ninja embed it again.
cmp -s "$from" "$to" || cp "$from" "$to"
