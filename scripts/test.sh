#!/usr/bin/env bash
# The test command: sets up the Python peers in .venv (once), then runs the whole suite with
# every peer and data check required, so nothing is silently skipped. ROS 2 tests keep
# discovery on loopback (ROS_AUTOMATIC_DISCOVERY_RANGE=LOCALHOST) with a domain per test.
set -euo pipefail
cd "$(dirname "$0")/.."
if ! cmp -s requirements-test.txt .venv/requirements-test.txt; then
  rm -rf .venv
  python3 -m venv .venv
  .venv/bin/pip install --quiet --disable-pip-version-check -r requirements-test.txt
  cp requirements-test.txt .venv/
fi
# vision_msgs (label_info) and tf2_msgs (/tf_static) have no wheels: build the messages rtseg
# speaks against the venv's ROS, into one prefix.
prefix="$PWD/.venv/ros_msgs"
if [ ! -e "$prefix/built" ] || [ -n "$(find tests/ros/vision_msgs tests/ros/tf2_msgs tests/ros/wheel_includes.cmake -newer "$prefix/built")" ]; then
  rm -rf "$prefix" target/ros_msgs
  for package in vision_msgs tf2_msgs; do
    (
      export AMENT_PREFIX_PATH="$prefix:$PWD/.venv" PATH="$PWD/.venv/bin:$PATH"
      cmake -S "tests/ros/$package" -B "target/ros_msgs/$package" -DCMAKE_BUILD_TYPE=Release \
        -DCMAKE_PREFIX_PATH="$PWD/.venv" -DCMAKE_INSTALL_PREFIX="$prefix" \
        -DPython3_EXECUTABLE="$PWD/.venv/bin/python" -DBUILD_TESTING=OFF > target/ros_msgs.log 2>&1 &&
        cmake --build "target/ros_msgs/$package" -j 2 >> target/ros_msgs.log 2>&1 &&
        cmake --install "target/ros_msgs/$package" >> target/ros_msgs.log 2>&1
    ) || { tail -30 target/ros_msgs.log; echo "building tests/ros/$package failed" >&2; exit 1; }
  done
  touch "$prefix/built"
fi
export RTSEG_PYTHON="$PWD/.venv/bin/python"
export RTSEG_ROS_MSGS_PREFIX="$prefix"
export RTSEG_REQUIRE_PEERS=1
# The shared data is reached by path, never copied into the repository.
export RTSEG_CAMVID="${RTSEG_CAMVID:-$PWD/../shared/data/camvid}"
export RTSEG_PSEUDO_CITYSCAPES="${RTSEG_PSEUDO_CITYSCAPES:-$PWD/../shared/data/pseudo_cityscapes}"
# TensorRT and TensorRT-RTX headers (Apache-2.0, from the trtx-sys crate in cargo's registry)
# for the tensorrt feature's shim; the runtime libraries come from the wheels in .venv.
eval "$(bash scripts/trt_headers.sh)"
# Release profile with the optional parts the tests cover (ONNX Runtime, the TensorRT shim, the
# zenoh transport). zenoh turns on features of dependencies the default build shares (tokio,
# futures-util, syn, …), so this build compiles its own copy of them beside the README's main
# job (`cargo run --release`); the fuzz build reuses this one. Every test binary runs even
# after a failure (--no-fail-fast), and the run ends with the total over all of them.
mkdir -p target
set +e
cargo test --release --locked --no-fail-fast --features ort,tensorrt,zenoh "$@" 2>&1 | tee target/test.log
status=${PIPESTATUS[0]}
set -e
awk '/^test result:/ { passed += $4; failed += $6; ignored += $8 }
     END { printf "total: %d passed, %d failed, %d ignored\n", passed, failed, ignored }' target/test.log
# The whole suite also soaks the node for 2 minutes (2 cameras at 10 Hz with churn; RSS, file
# descriptors, threads and stalls judged by scripts/soak.py), after the tests so nothing else
# loads the machine. Over one judged minute RSS moves by ±2 MiB with no leak, so the bound
# here (5 MiB/min) catches gross leaks only; the 10-minute run in the README is the finer one.
# It also fuzzes every decoder of outside bytes for 20 s each (scripts/fuzz.sh: libFuzzer,
# coverage-guided; the build reuses the tests' dependencies): a crash fails the run.
if [ $# -eq 0 ]; then
  set +e
  bash scripts/fuzz.sh 20 > target/fuzz.log 2>&1
  fuzz=$?
  cat target/fuzz.log
  if [ "$fuzz" -ne 0 ] && [ "$status" -eq 0 ]; then status=$fuzz; fi
  .venv/bin/python scripts/soak.py --minutes 2 --rss-slope 5 --domain 58 --report target/soak.json > target/soak.log 2>&1
  soak=$?
  set -e
  grep -A8 '^delivered' target/soak.log || tail -20 target/soak.log
  if [ "$soak" -ne 0 ] && [ "$status" -eq 0 ]; then status=$soak; fi
fi
exit "$status"
