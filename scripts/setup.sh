#!/usr/bin/env bash
# Installs what is missing (Debian 12 packages, as root or through sudo) and builds MediaDesk
# into build/ (or $MEDIADESK_BUILD_DIR). Used by demo.sh and test.sh; safe to run again.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
source "$here/scripts/packages.sh"
install_missing_packages
# Chart.js for the dashboard (npm ci from web/package-lock.json): the build embeds it.
"$here/scripts/web_deps.sh"

build_dir="${MEDIADESK_BUILD_DIR:-$here/build}"
export CCACHE_DIR="${CCACHE_DIR:-$HOME/.cache/ccache}"
export CCACHE_BASEDIR="${CCACHE_BASEDIR:-$here}"  # cache hits across clones in other folders
jobs="$(nproc)"
cmake -S "$here" -B "$build_dir" -G Ninja -DCMAKE_BUILD_TYPE="${MEDIADESK_BUILD_TYPE:-RelWithDebInfo}" \
  ${MEDIADESK_CMAKE_ARGS:-} >/dev/null
cmake --build "$build_dir" -j "$jobs"
