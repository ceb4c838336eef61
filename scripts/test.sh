#!/usr/bin/env bash
# Quick start, command 2: set up everything and run the whole test suite. The integration tests
# start their own PostgreSQL and Redis on free loopback ports and stop them afterwards. The
# browser end-to-end test (ctest e2e_dashboard: tests/e2e/dashboard.mjs, playwright-core driving
# Debian's chromium against a real serve and worker) needs its npm dependencies, installed here by
# scripts/e2e_deps.sh; MEDIADESK_E2E_REQUIRED=1 makes it fail, never skip, when node or chromium is
# missing. Its screenshots and log go to <build dir>/e2e-artifacts/.
# Then the same suite again, built with AddressSanitizer and UndefinedBehaviorSanitizer
# (MEDIADESK_SANITIZERS=0 skips that pass). Extra arguments go to ctest. Last, a bounded libFuzzer
# run of each fuzz target (scripts/fuzz.sh; MEDIADESK_FUZZ_SECONDS per target, default 30, 0 skips).
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
"$here/scripts/setup.sh"
"$here/scripts/e2e_deps.sh"
export MEDIADESK_E2E_REQUIRED=1
build_dir="${MEDIADESK_BUILD_DIR:-$here/build}"
(cd "$build_dir" && ctest --output-on-failure --timeout 600 -j 2 "$@")

if [[ "${MEDIADESK_SANITIZERS:-1}" != 0 ]]; then
  echo "== the same suite under AddressSanitizer + UndefinedBehaviorSanitizer =="
  MEDIADESK_BUILD_DIR="$build_dir-sanitize" MEDIADESK_BUILD_TYPE=Debug MEDIADESK_CMAKE_ARGS="-DMEDIADESK_SANITIZE=ON" \
    "$here/scripts/setup.sh"
  export ASAN_OPTIONS="${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1}"
  export UBSAN_OPTIONS="${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}"
  (cd "$build_dir-sanitize" && ctest --output-on-failure --timeout 900 -j 2 "$@")
fi

fuzz_seconds="${MEDIADESK_FUZZ_SECONDS:-30}"
if [[ "$fuzz_seconds" != 0 ]]; then
  echo "== fuzzing, ${fuzz_seconds} s per target =="
  MEDIADESK_FUZZ_SECONDS="$fuzz_seconds" "$here/scripts/fuzz.sh"
fi
