#!/usr/bin/env bash
# Installs one folder's npm dependencies, pinned in its package-lock.json, with `npm ci`:
#   scripts/npm_deps.sh <folder relative to the repository> <a file node_modules must then hold>
# Used by web_deps.sh (Chart.js for the dashboard, before the build embeds it) and e2e_deps.sh
# (playwright-core for the browser test). Skips the download when node_modules was installed from
# the same package.json and lock file with the same node (a stamp file holds their hash).
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
folder="$here/${1:?usage: npm_deps.sh FOLDER SENTINEL}"
sentinel="${2:?usage: npm_deps.sh FOLDER SENTINEL}"
stamp="$folder/node_modules/.mediadesk-installed"
name="$(basename "$0" .sh)"

for tool in node npm; do
  command -v "$tool" >/dev/null 2>&1 || { echo "$name: $tool is missing (scripts/packages.sh installs it)" >&2; exit 1; }
done

wanted="$(cat "$folder/package.json" "$folder/package-lock.json" | sha256sum | cut -d' ' -f1) node $(node --version)"
if [[ -f "$stamp" && "$(cat "$stamp")" == "$wanted" && -f "$folder/node_modules/$sentinel" ]]; then
  exit 0
fi

echo "$name: npm ci in ${1} (from its package-lock.json)" >&2
started=$(date +%s%N)
# playwright-core downloads no browser (the tests use Debian's chromium); the variable makes sure.
(cd "$folder" && PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 npm ci --no-audit --no-fund --loglevel=error)
echo "$wanted" >"$stamp"
echo "$name: installed in $(( ($(date +%s%N) - started) / 1000000 )) ms" >&2
