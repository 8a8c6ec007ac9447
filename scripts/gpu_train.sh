#!/usr/bin/env bash
# Training on burn's CUDA backend (the `cuda` feature), prepared here and run on a GPU machine
# in one short call: the binary is built on the CPU side and travels xz-compressed.
#
#   bash scripts/gpu_train.sh --build          # any machine, offline: rtseg --features cuda
#                                              # into target/gpu-train/rtseg.xz (~45 CPU-min)
#   bash scripts/gpu_train.sh [OUT] [CONFIG…]  # on the GPU machine: report and runs in OUT
#                                              # (default target/gpu-train/report)
#
# On the GPU machine, in order, each step recorded as ok / FAILED with its output:
#  1. `rtseg bench --train-config` of msnet-m, msnet-anas and mfaranet at 360×480, batch 8, on
#     the GPU (BURN_DEVICE=cuda) and on that machine's CPU (BURN_DEVICE=flex): images/s side
#     by side from one run;
#  2. each CONFIG (default configs/msnet-m_camvid.yaml) trained to its end on the GPU into
#     OUT/<config name>/ (rerunning resumes it), then its last step (final.bpk: best.bpk may
#     have been picked on val) evaluated on CamVid val ($RTSEG_CAMVID).
# NVRTC must be loadable: LD_LIBRARY_PATH to a folder with libnvrtc.so.{12,13} (the
# nvidia-cuda-nvrtc wheel has one) when the CUDA toolkit is not installed.
set -uo pipefail
cd "$(dirname "$0")/.."
pack=target/gpu-train

if [ "${1:-}" = "--build" ]; then
  set -e
  CARGO_TARGET_DIR=target/cuda cargo build --release --locked --features cuda
  mkdir -p "$pack"
  strip -o "$pack/rtseg" target/cuda/release/rtseg
  xz -T2 -6 -f "$pack/rtseg"
  ls -la "$pack"
  exit 0
fi

out=${1:-$pack/report}
shift || true
configs=("$@")
[ ${#configs[@]} -gt 0 ] || configs=(configs/msnet-m_camvid.yaml)
mkdir -p "$out"
report="$out/gpu_train.txt"
rtseg="$PWD/$pack/rtseg"
[ -x "$rtseg" ] || xz -dk "$rtseg.xz" 2> /dev/null || {
  echo "no $rtseg(.xz): run 'bash scripts/gpu_train.sh --build' first" >&2; exit 2; }
camvid="${RTSEG_CAMVID:-$PWD/../shared/data/camvid}"
source scripts/gpu_report.sh
report_start "rtseg GPU training"

for model in msnet-m msnet-anas mfaranet; do
  config=configs/msnet-m_camvid.yaml
  [ "$model" = mfaranet ] && config=configs/mfaranet_camvid.yaml
  for device in cuda flex; do
    iters=10
    [ "$device" = flex ] && iters=2
    BURN_DEVICE=$device step "bench-$model-$device" "$rtseg" bench --train-config "$config" \
      --set model="$model" --set 'augment.crop=[360,480]' --set batch_size=8 \
      --iters "$iters" --warmup 1
  done
done

for config in "${configs[@]}"; do
  name=$(basename "$config" .yaml)
  run="$out/$name"
  if [ -d "$run/checkpoints" ]; then
    BURN_DEVICE=cuda step "train-$name" "$rtseg" train --resume "$run"
  else
    BURN_DEVICE=cuda step "train-$name" "$rtseg" train --config "$config" \
      --set dataset.root="$camvid" --set output_dir="$run"
  fi
  model=$(sed -n 's/^model: *//p' "$run/config.yaml" 2> /dev/null)
  BURN_DEVICE=cuda step "eval-$name" "$rtseg" eval --model "${model:-msnet-m}" \
    --weights "$run/final.bpk" --data-root "$camvid" --split val
done

echo "report: $report ($failed step(s) FAILED)"
[ "$failed" -eq 0 ]
