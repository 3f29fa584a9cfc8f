#!/usr/bin/env bash
# Runs accrete's fuzz targets with libFuzzer (cargo-fuzz, nightly, address
# sanitizer, release build with debug assertions and overflow checks).
#
#   fuzz/run.sh TARGET SECONDS     one target for SECONDS (default 60)
#   fuzz/run.sh all SECONDS        every target in turn, SECONDS each
#   fuzz/run.sh list               the targets
#   fuzz/run.sh build              build every target, run none
#
# One fuzzer process at a time (-workers=1): the machines have two cores.
# New inputs go to $FUZZ_WORK/corpus/TARGET (outside git); the committed
# seeds in fuzz/corpus/TARGET are read as well. Crashes are written to
# fuzz/artifacts/TARGET/ and stop the run (exit 1). Each run ends with a
# line `fuzz: TARGET executions=N exec/s=N seconds=N` (also appended to
# $FUZZ_WORK/stats.log).
#
# Environment: CARGO_TARGET_DIR (default: fuzz/target), FUZZ_WORK (default:
# $CARGO_TARGET_DIR/fuzz-work), FUZZ_ARGS (more libFuzzer flags).
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(dirname "$here")"
cd "$root"

target_dir="${CARGO_TARGET_DIR:-$here/target}"
work="${FUZZ_WORK:-$target_dir/fuzz-work}"
build_flags=(--fuzz-dir "$here" --target-dir "$target_dir" -O -a)

targets() { awk '/^\[\[bin\]\]/{b=1;next} b&&/^name = /{gsub(/"/,"",$3);print $3;b=0}' "$here/Cargo.toml"; }

usage() {
  echo "usage: fuzz/run.sh TARGET|all [SECONDS] | list | build" >&2
  echo "targets: $(targets | tr '\n' ' ')" >&2
  exit 2
}

if ! cargo +nightly fuzz --version >/dev/null 2>&1; then
  echo "fuzz: needs the nightly toolchain and cargo-fuzz: rustup toolchain install nightly; cargo install cargo-fuzz" >&2
  exit 2
fi

run_one() {
  local target="$1" seconds="$2"
  mkdir -p "$work/corpus/$target" "$here/corpus/$target"
  local log="$work/$target.log"
  echo "fuzz: $target for ${seconds}s (log: $log)"
  local status=0
  # shellcheck disable=SC2086
  cargo +nightly fuzz run "${build_flags[@]}" "$target" \
    "$work/corpus/$target" "$here/corpus/$target" -- \
    -max_total_time="$seconds" -workers=1 -timeout=10 -rss_limit_mb=4096 \
    -max_len=65536 -print_final_stats=1 ${FUZZ_ARGS:-} >"$log" 2>&1 || status=$?
  local execs rate
  execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
  rate=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log" | tail -1)
  local line="fuzz: $target executions=${execs:-?} exec/s=${rate:-?} seconds=$seconds status=$status"
  echo "$line"
  echo "$(date -u +%FT%TZ) $line" >>"$work/stats.log"
  if [ "$status" != 0 ]; then
    echo "fuzz: $target FAILED; the end of its log:" >&2
    tail -40 "$log" >&2
    return 1
  fi
}

case "${1:-}" in
  "" | -h | --help) usage ;;
  list) targets ;;
  build) cargo +nightly fuzz build "${build_flags[@]}" ;;
  all)
    seconds="${2:-60}"
    cargo +nightly fuzz build "${build_flags[@]}"
    failed=0
    for t in $(targets); do run_one "$t" "$seconds" || failed=1; done
    exit $failed
    ;;
  *)
    targets | grep -qx "$1" || usage
    run_one "$1" "${2:-60}"
    ;;
esac
