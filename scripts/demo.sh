#!/usr/bin/env bash
# Quick start, command 1: set up everything and run the demo (private PostgreSQL and Redis).
# Arguments go to `mediadesk demo`, e.g. --home DIR --http-port 8080 --smtp-port 2525.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
"$here/scripts/setup.sh"
# The taxonomy staff edit: change config/taxonomy/*.toml, then `kill -HUP` the demo to reload it.
export MEDIADESK_TAXONOMY_DIR="${MEDIADESK_TAXONOMY_DIR:-$here/config/taxonomy}"
exec "${MEDIADESK_BUILD_DIR:-$here/build}/server/mediadesk" demo "$@"
