#!/usr/bin/env bash
# Quick start, command 2: set up everything and run the whole test suite. The integration tests
# start their own PostgreSQL and Redis on free loopback ports and stop them afterwards.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
"$here/scripts/setup.sh"
build_dir="${MEDIADESK_BUILD_DIR:-$here/build}"
cd "$build_dir"
ctest --output-on-failure --timeout 600 -j 2 "$@"
