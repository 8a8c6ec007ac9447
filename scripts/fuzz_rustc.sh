#!/usr/bin/env bash
# rustc wrapper for scripts/fuzz.sh (RUSTC_WORKSPACE_WRAPPER): adds libFuzzer's coverage
# instrumentation — the flags cargo-fuzz passes with `--sanitizer none` — to rtseg and the fuzz
# targets only. Everything else (burn, image, ...) is compiled exactly as the tests compile it,
# so the fuzz build reuses their artifacts instead of building the dependency tree again.
rustc=$1
shift
case "${CARGO_PKG_NAME:-}" in
  rtseg | rtseg-fuzz)
    for arg in "$@"; do
      # Build scripts run at build time and need no coverage.
      [ "$arg" = build_script_build ] && exec "$rustc" "$@"
    done
    exec "$rustc" "$@" -Cpasses=sancov-module -Cllvm-args=-sanitizer-coverage-level=4 \
      -Cllvm-args=-sanitizer-coverage-inline-8bit-counters \
      -Cllvm-args=-sanitizer-coverage-pc-table \
      -Cllvm-args=-sanitizer-coverage-trace-compares --cfg fuzzing
    ;;
esac
exec "$rustc" "$@"
