#!/usr/bin/env bash
# The checks only a GPU can run, as one short script (minutes; nothing heavy is built there).
#
#   bash scripts/gpu_check.sh --build   # on any machine: release rtseg (--features ort,tensorrt)
#                                       # and the kernel test into target/gpu-check/
#   bash scripts/gpu_check.sh [OUT]     # on the GPU machine: runs them, report in OUT
#                                       # (default target/gpu-check/report), then prints it
#
# What runs, each step recorded as ok / FAILED / unavailable with its output:
#  1. the GPU, driver and the TensorRT libraries found (`rtseg engine info`, both flavours);
#  2. every CUDA kernel against its CPU twin on the GPU (tests/gpu_kernels.rs, ignored in CI);
#  3. with TensorRT-RTX (RTSEG_TENSORRT_RTX_LIBRARY or the wheel in .venv): MsNet-M exported,
#     its engine built and run — mIoU on CamVid val ($RTSEG_CAMVID), to compare with burn's
#     figure in weights/msnet-m_camvid.md, and latency against burn in the same run; NVIDIA
#     lists compute capability 7.5, 8.6, 8.9 and 12.0 for it, other GPUs are tried and the
#     result recorded;
#  4. the same with TensorRT (libnvinfer.so.{11,10,8} with its ONNX parser), fp16;
#  5. ONNX Runtime with the CUDA execution provider, when the loaded onnxruntime has it
#     (ORT_DYLIB_PATH to an onnxruntime-gpu library): parity with burn and latency.
set -uo pipefail
cd "$(dirname "$0")/.."
pack=target/gpu-check

if [ "${1:-}" = "--build" ]; then
  set -e
  eval "$(bash scripts/trt_headers.sh)"
  cargo build --release --locked --features ort,tensorrt
  test_bin=$(cargo test --release --locked --features ort,tensorrt --test gpu_kernels --no-run \
    --message-format=json 2>/dev/null | python3 -c '
import json, sys
for line in sys.stdin:
    m = json.loads(line)
    if m.get("reason") == "compiler-artifact" and m["target"]["name"] == "gpu_kernels" and m.get("executable"):
        print(m["executable"])')
  mkdir -p "$pack"
  cp target/release/rtseg "$pack/rtseg"
  cp "$test_bin" "$pack/gpu_kernels"
  strip "$pack/rtseg" "$pack/gpu_kernels"
  ls -la "$pack"
  exit 0
fi

out=${1:-$pack/report}
mkdir -p "$out"
report="$out/gpu_check.txt"
rtseg="$PWD/$pack/rtseg"
[ -x "$rtseg" ] || { echo "no $rtseg: run 'bash scripts/gpu_check.sh --build' first" >&2; exit 2; }
export RTSEG_WEIGHTS_DIR="$PWD/weights" RTSEG_CACHE_DIR="$out/cache"
camvid="${RTSEG_CAMVID:-$PWD/../shared/data/camvid}"
source scripts/gpu_report.sh
report_start "rtseg GPU check"

step info-tensorrt "$rtseg" engine info --flavour tensorrt
step info-tensorrt-rtx "$rtseg" engine info --flavour tensorrt-rtx
step kernels-vs-twins "$pack/gpu_kernels" --ignored --nocapture on_the_gpu

# One backend on MsNet-M at 360×480: CamVid val mIoU, then latency next to burn in the same run.
backend_steps() {
  local tag=$1 backend=$2; shift 2
  if [ -d "$camvid/val" ]; then
    step "eval-$tag" "$rtseg" eval --model msnet-m --size 360x480 --data-root "$camvid" \
      --split val --backend "$backend" "$@"
  else
    echo "== eval-$tag: unavailable (no CamVid at $camvid; set RTSEG_CAMVID)" | tee -a "$report"
  fi
  step "bench-$tag" "$rtseg" bench --model msnet-m --size 360x480 --iters 50 --warmup 5 \
    --backend "$backend,burn" "$@"
}

if "$rtseg" engine info --flavour tensorrt-rtx > /dev/null 2>&1; then
  backend_steps tensorrt-rtx tensorrt --trt-flavour tensorrt-rtx --trt-precision fp16 \
    --engine-dir "$out/engines"
else
  echo "== tensorrt-rtx: unavailable (no libtensorrt_rtx.so.1)" | tee -a "$report"
fi
if "$rtseg" engine info --flavour tensorrt 2>/dev/null | grep -q ", ONNX parser "; then
  backend_steps tensorrt tensorrt --trt-precision fp16 --engine-dir "$out/engines"
else
  echo "== tensorrt: unavailable (no libnvinfer with its ONNX parser)" | tee -a "$report"
fi
backend_steps ort-cuda ort --execution-provider cuda

echo "report: $report ($failed step(s) FAILED)"
# A run with a failed step is a failed check.
[ "$failed" -eq 0 ]
