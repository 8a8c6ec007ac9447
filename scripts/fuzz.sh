#!/usr/bin/env bash
# Coverage-guided fuzzing of every decoder that takes outside bytes, with libFuzzer on the
# stable toolchain: libfuzzer-sys links libFuzzer, and scripts/fuzz_rustc.sh adds the
# instrumentation flags cargo-fuzz passes with `--sanitizer none` (no nightly needed).
#
#   bash scripts/fuzz.sh [SECONDS_PER_TARGET] [TARGET ...]     (default 30 s, every target)
#
# Seeds come from `examples/fuzz_seeds.rs` (real messages and files; the CDR ones are the
# bytes tests/ros_cdr.rs checks against rosbags). The grown corpus stays in fuzz/corpus
# (ignored); a crash is saved to fuzz/artifacts/TARGET/ and fails the run — replay it with
# `target/release/TARGET fuzz/artifacts/TARGET/crash-…`, then add it to
# fuzz/regressions/TARGET/ (replayed by every run) and a test. Prints executions and coverage
# per target (libFuzzer's `cov`: edges reached in rtseg's own code, which is all that is
# instrumented, including the dependencies' generic code compiled into it).
set -euo pipefail
cd "$(dirname "$0")/.."
seconds=${1:-30}
shift || true
eval "$(bash scripts/trt_headers.sh)"

cargo run --quiet --release --locked --features ort,tensorrt,zenoh --example fuzz_seeds -- fuzz/corpus

# Coverage instrumentation for rtseg and the targets only (scripts/fuzz_rustc.sh), in the
# tests' profile (release) and folder: the dependencies are the tests' artifacts, already built.
RUSTC_WORKSPACE_WRAPPER="$PWD/scripts/fuzz_rustc.sh" \
  cargo build --quiet --release --locked -p rtseg-fuzz --bins
bin=target/release
# Panics print where they happened; the targets' scratch files stay under target/.
export RUST_BACKTRACE=1
export TMPDIR="$PWD/target/fuzz-tmp"
rm -rf "$TMPDIR"
mkdir -p "$TMPDIR"
targets=("$@")
if [ ${#targets[@]} -eq 0 ]; then
  mapfile -t targets < <(sed -n 's/^name = "\(.*\)"$/\1/p' fuzz/Cargo.toml | grep -v '^rtseg-fuzz$')
fi
failed=0
printf '%-22s %12s %10s %8s\n' target executions exec/s cov
for t in "${targets[@]}"; do
  mkdir -p "fuzz/corpus/$t" "fuzz/artifacts/$t"
  log="target/fuzz-$t.log"
  # 2 GiB RSS cap: an input that makes a decoder allocate past it is a finding, not noise.
  # fuzz/regressions/TARGET: inputs that once crashed rtseg, replayed by every run.
  regressions=()
  [ -d "fuzz/regressions/$t" ] && regressions=("fuzz/regressions/$t")
  if ! "$bin/$t" "fuzz/corpus/$t" "${regressions[@]}" -max_total_time="$seconds" -rss_limit_mb=2048 \
    -artifact_prefix="fuzz/artifacts/$t/" -print_final_stats=1 >"$log" 2>&1; then
    failed=1
    echo "$t: FAILED (see $log and fuzz/artifacts/$t/)"
    grep -m3 -E "ERROR|panicked|Crash|crash-|oom-|timeout-" "$log" || true
    continue
  fi
  execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log")
  rate=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log")
  cov=$(grep -oE 'cov: [0-9]+' "$log" | tail -1 | cut -d' ' -f2)
  printf '%-22s %12s %10s %8s\n' "$t" "$execs" "$rate" "$cov"
done
exit $failed
