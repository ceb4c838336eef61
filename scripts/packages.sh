#!/usr/bin/env bash
# The one list of Debian 12 packages MediaDesk needs to build, test and run, and the installer.
# Sourced by setup.sh; run directly it installs what is missing (as root, or through sudo).
set -euo pipefail

mediadesk_packages=(
  # toolchain
  build-essential cmake ninja-build ccache pkg-config git
  # libraries (Boost 1.81 parts, not the 1.74 default)
  libboost1.81-dev libboost-json1.81-dev libboost-url1.81-dev libboost-system1.81-dev
  libhiredis-dev libpq-dev libsodium-dev libspdlog-dev libfmt-dev catch2 libtomlplusplus-dev
  libcli11-dev libgmime-3.0-dev libcurl4-openssl-dev
  # servers the demo and the tests start privately
  postgresql-15 postgresql-client-15 redis-server redis-tools
  # test and benchmark clients; Postfix as a real MTA in front of the desk (LMTP and pipe)
  curl wrk openssl python3 procps util-linux passwd postfix
  # fuzzing (libFuzzer ships with clang's runtime libraries)
  clang-14 libclang-rt-14-dev
  # browser end-to-end tests (tests/e2e): Debian's chromium, driven by playwright-core from npm;
  # a font so that the screenshots show text
  chromium fonts-dejavu-core
)
# Node and npm for playwright-core (scripts/e2e_deps.sh): Debian's, only when there are none yet,
# because Debian's nodejs and npm conflict with another vendor's nodejs that bundles npm.
command -v node >/dev/null 2>&1 || mediadesk_packages+=(nodejs)
command -v npm >/dev/null 2>&1 || mediadesk_packages+=(npm)

install_missing_packages() {
  local missing=()
  for p in "${mediadesk_packages[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
  done
  ((${#missing[@]})) || return 0
  echo "installing: ${missing[*]}" >&2
  local sudo=""; [[ $(id -u) -eq 0 ]] || sudo="sudo"
  # Postfix is only a test peer here, started privately: keep the system's own instance off.
  echo "postfix postfix/main_mailer_type select No configuration" | $sudo debconf-set-selections
  $sudo env DEBIAN_FRONTEND=noninteractive apt-get update -qq
  $sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
}

if [[ "${BASH_SOURCE[0]}" == "$0" ]]; then install_missing_packages; fi
