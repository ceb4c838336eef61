#!/usr/bin/env bash
# Installs the browser tests' npm dependencies (playwright-core, pinned in
# tests/e2e/package-lock.json) into tests/e2e/node_modules with `npm ci`. Run by test.sh after
# setup.sh (which installs node, npm and chromium from scripts/packages.sh). Skips the download
# when node_modules was installed from the same package.json and lock file (a stamp holds their hash).
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
e2e="$here/tests/e2e"
stamp="$e2e/node_modules/.mediadesk-installed"

for tool in node npm; do
  command -v "$tool" >/dev/null 2>&1 || { echo "e2e_deps: $tool is missing (scripts/packages.sh installs it)" >&2; exit 1; }
done

wanted="$(cat "$e2e/package.json" "$e2e/package-lock.json" | sha256sum | cut -d' ' -f1) node $(node --version)"
if [[ -f "$stamp" && "$(cat "$stamp")" == "$wanted" && -f "$e2e/node_modules/playwright-core/package.json" ]]; then
  exit 0
fi

echo "e2e_deps: npm ci in tests/e2e (playwright-core from package-lock.json)" >&2
started=$(date +%s%N)
# playwright-core downloads no browser (the tests use Debian's chromium); the variable makes sure.
(cd "$e2e" && PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 npm ci --no-audit --no-fund --loglevel=error)
echo "$wanted" >"$stamp"
echo "e2e_deps: installed in $(( ($(date +%s%N) - started) / 1000000 )) ms" >&2
