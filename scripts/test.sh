#!/usr/bin/env bash
# The test command: sets up the Python peers in .venv (once), then runs the whole suite with
# every peer and data check required, so nothing is silently skipped. ROS 2 tests keep
# discovery on loopback (ROS_AUTOMATIC_DISCOVERY_RANGE=LOCALHOST) with a domain per test.
set -euo pipefail
cd "$(dirname "$0")/.."
if ! .venv/bin/python -c "import cityscapesscripts, rclpy, rosbags" 2>/dev/null; then
  python3 -m venv .venv
  .venv/bin/pip install --quiet --disable-pip-version-check -r requirements-test.txt
fi
export RTSEG_PYTHON="$PWD/.venv/bin/python"
export RTSEG_REQUIRE_PEERS=1
# The shared data is reached by path, never copied into the repository.
export RTSEG_CAMVID="${RTSEG_CAMVID:-$PWD/../shared/data/camvid}"
export RTSEG_PSEUDO_CITYSCAPES="${RTSEG_PSEUDO_CITYSCAPES:-$PWD/../shared/data/pseudo_cityscapes}"
cargo test --locked "$@"
