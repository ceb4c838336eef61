#!/usr/bin/env bash
# Installs the browser tests' npm dependencies (playwright-core, pinned in
# tests/e2e/package-lock.json) into tests/e2e/node_modules. Run by test.sh after setup.sh (which
# installs node, npm and chromium from scripts/packages.sh). Skips the download when nothing changed.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
exec "$here/scripts/npm_deps.sh" tests/e2e playwright-core/package.json
