#!/usr/bin/env bash
# Builds the libFuzzer targets with clang (build-fuzz/, or $MEDIADESK_FUZZ_BUILD_DIR) and runs each
# for a bounded time on a copy of its seed corpus; see docs/FUZZING.md.
#   scripts/fuzz.sh [--merge] [target...]     targets: see all_targets below (default: all)
# MEDIADESK_FUZZ_SECONDS per target (default 60), MEDIADESK_FUZZ_MAX_LEN bytes per input (64 KiB).
# --merge adds the inputs that found new coverage to tests/fuzz/corpus/<target>/. Exits nonzero
# when a target crashed, leaked, timed out or ran out of memory; the input is in
# build-fuzz/artifacts/<target>/.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
all_targets=(mime smtp_session csv_import webhook_json triage http_request offer_token)

merge=0
targets=()
for arg in "$@"; do
  case "$arg" in
    --merge) merge=1 ;;
    -h|--help) sed -n '2,7p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *)
      [[ " ${all_targets[*]} " == *" $arg "* ]] || { echo "fuzz.sh: unknown target '$arg' (${all_targets[*]})" >&2; exit 2; }
      targets+=("$arg") ;;
  esac
done
((${#targets[@]})) || targets=("${all_targets[@]}")

source "$here/scripts/packages.sh"
install_missing_packages

build_dir="${MEDIADESK_FUZZ_BUILD_DIR:-$here/build-fuzz}"
seconds="${MEDIADESK_FUZZ_SECONDS:-60}"
# Inputs grow up to this (libFuzzer starts small and lengthens them); 64 KiB is a quarter of the
# HTTP body limit and bounds the time one input may take.
max_len="${MEDIADESK_FUZZ_MAX_LEN:-65536}"
export CCACHE_DIR="${CCACHE_DIR:-$HOME/.cache/ccache}"
export CCACHE_BASEDIR="${CCACHE_BASEDIR:-$here}"
# The top-level CMakeLists.txt uses ccache by itself when it is installed.
CC=clang-14 CXX=clang++-14 cmake -S "$here" -B "$build_dir" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo \
  -DMEDIADESK_FUZZ=ON >/dev/null
# Only what the fuzz targets link is built; the rest of the project need not compile with clang.
cmake --build "$build_dir" -j "$(nproc)" --target "${targets[@]/#/fuzz_}"

# Inherited settings (test.sh exports its own for the ctest runs) would fight libFuzzer's.
export ASAN_OPTIONS="${MEDIADESK_FUZZ_ASAN_OPTIONS:-detect_leaks=1}"
export UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1"

failed=()
for target in "${targets[@]}"; do
  seeds="$here/tests/fuzz/corpus/$target"
  corpus="$build_dir/corpus/$target"  # the working copy: grows from run to run, never committed
  artifacts="$build_dir/artifacts/$target"
  log="$build_dir/logs/$target.log"
  mkdir -p "$corpus" "$artifacts" "$(dirname "$log")"
  cp -n "$seeds"/* "$corpus"/ 2>/dev/null || true
  start=$SECONDS
  status=0
  "$build_dir/tests/fuzz/fuzz_$target" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 \
    -max_len="$max_len" -print_final_stats=1 -artifact_prefix="$artifacts/" "$corpus" >"$log" 2>&1 || status=$?
  elapsed=$((SECONDS - start))
  execs="$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)"
  rate="$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log" | tail -1)"
  status_line="$(grep -E '^#[0-9]+.*cov: ' "$log" | tail -1 || true)"
  cov="$(sed -n 's/.* cov: \([0-9]*\).*/\1/p' <<<"$status_line")"
  ft="$(sed -n 's/.* ft: \([0-9]*\).*/\1/p' <<<"$status_line")"
  corp="$(sed -n 's/.* corp: \([^ ]*\).*/\1/p' <<<"$status_line")"
  echo "fuzz $target: ${execs:-?} executions (${rate:-?}/s), coverage ${cov:-?} edges ${ft:-?} features, corpus ${corp:-?}, ${elapsed} s, exit $status"
  if ((status != 0)); then
    failed+=("$target")
    input="$(sed -n 's/.*Test unit written to \(.*\)$/\1/p' "$log" | tail -1)"
    grep -E '^(==[0-9]+==ERROR|SUMMARY|.*runtime error:|ERROR: libFuzzer)' "$log" | head -5 >&2 || true
    echo "fuzz $target FOUND A PROBLEM: input in ${input:-$artifacts/ (see $log)}; full report in $log." >&2
    echo "  Reproduce: $build_dir/tests/fuzz/fuzz_$target ${input:-<input>}" >&2
    echo "  Fix it, then add the input to tests/fuzz/corpus/$target/ as a regression case (docs/FUZZING.md)." >&2
    continue
  fi
  if ((merge)); then
    before=$(ls "$seeds" | wc -l)
    "$build_dir/tests/fuzz/fuzz_$target" -merge=1 -timeout=10 -rss_limit_mb=2048 -max_len="$max_len" "$seeds" "$corpus" \
      >>"$log" 2>&1
    echo "fuzz $target: merged $(($(ls "$seeds" | wc -l) - before)) new inputs into tests/fuzz/corpus/$target/"
  fi
done

if ((${#failed[@]})); then
  echo "fuzz: problems found in: ${failed[*]}" >&2
  exit 1
fi
