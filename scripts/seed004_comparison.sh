#!/usr/bin/env bash
# Seed 004's comparison (docs/seed004.md): trains each network with configs/seed004_camvid.yaml
# (resuming a run that was stopped), then evaluates its best checkpoint on the held-out
# sequence and on CamVid val and times inference with burn and ONNX Runtime. Results land in
# runs/seed004/<model>/ as JSON (and cost.txt, its `rtseg models` row); rerunning skips what
# is done; scripts/comparison_table.py runs/seed004/* prints the tables. Needs a binary built with
# `--features ort` (RTSEG=path/to/rtseg to use another than target/release/rtseg).
set -euo pipefail
cd "$(dirname "$0")/.."
rtseg=${RTSEG:-target/release/rtseg}
root=${RTSEG_CAMVID:-../shared/data/camvid}
models=${MODELS:-bisenet-dw aaffnet aaffnet2 bisenet-x39 bisenet-r18}
for model in $models; do
    run=runs/seed004/$model
    if [[ ! -f $run/final.bpk ]]; then
        if [[ -d $run/checkpoints ]]; then
            "$rtseg" train --resume "$run"
        else
            "$rtseg" train --config configs/seed004_camvid.yaml --set model="$model" \
                --set output_dir="$run"
        fi
    fi
    for split in train:only=0006R0 val; do
        out=$run/eval-${split%%:*}.json
        if [[ ! -f $out ]]; then
            "$rtseg" eval --model "$model" --weights "$run/best.bpk" --split "$split" \
                --data-root "$root" --json > "$out.part"
            mv "$out.part" "$out"
        fi
    done
    if [[ ! -f $run/cost.txt ]]; then
        "$rtseg" models --size 360x480 | grep "^$model " > "$run/cost.txt.part"
        mv "$run/cost.txt.part" "$run/cost.txt"
    fi
    for backend in burn ort; do
        out=$run/bench-$backend.json
        if [[ ! -f $out ]]; then
            "$rtseg" bench --model "$model" --weights "$run/best.bpk" --backend "$backend" \
                --size 360x480 --iters 20 --warmup 3 --json > "$out.part"
            mv "$out.part" "$out"
        fi
    done
done
