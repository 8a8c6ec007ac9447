#!/usr/bin/env bash
# Prints `export TENSORRT_INCLUDE_DIR=… TENSORRT_RTX_INCLUDE_DIR=…` for the Apache-2.0 TensorRT
# 11.4 and TensorRT-RTX 1.7 headers that the trtx-sys crate ships: cargo fetches the crate into
# its registry cache (tools/trt-headers is only fetched, never built), nothing is copied here.
# Use: eval "$(bash scripts/trt_headers.sh)"; on JetPack, point TENSORRT_INCLUDE_DIR at
# /usr/include/aarch64-linux-gnu instead (the headers of the TensorRT that runs there).
set -euo pipefail
cd "$(dirname "$0")/../tools/trt-headers"
cargo fetch --locked --quiet >&2
root=$(cargo metadata --format-version 1 --locked 2>/dev/null | python3 -c '
import json, os, sys
meta = json.load(sys.stdin)
print(next(os.path.dirname(p["manifest_path"]) for p in meta["packages"] if p["name"] == "trtx-sys"))')
echo "export TENSORRT_INCLUDE_DIR='$root/TensorRT-Headers/TRT-Enterprise-11.4'"
echo "export TENSORRT_RTX_INCLUDE_DIR='$root/TensorRT-Headers/TRT-RTX-1.7'"
