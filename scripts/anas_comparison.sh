#!/usr/bin/env bash
# The ANAS comparison (docs/search.md): trains the searched genotype (msnet-anas), the
# DARTS-V2 stand-in (msnet-darts-v2) and a random genotype of similar size drawn from the
# search's space (rtseg search --random-genotype --like, seed 0) with
# configs/anas_comparison_camvid.yaml, resuming a run that was stopped; then evaluates each
# best checkpoint on the held-out sequence 0006R0 and on CamVid val and times it with burn.
# Results land in runs/anas_comparison/<arm>/ as JSON (and cost.txt, its `rtseg models` row);
# rerunning skips what is done; scripts/comparison_table.py runs/anas_comparison/{msnet-anas,
# msnet-darts-v2,random} prints the tables.
# RTSEG=path/to/rtseg uses another binary than target/release/rtseg; ARMS picks arms.
set -euo pipefail
cd "$(dirname "$0")/.."
rtseg=${RTSEG:-target/release/rtseg}
root=${RTSEG_CAMVID:-../shared/data/camvid}
out=runs/anas_comparison
mkdir -p "$out"
random=$out/random-genotype
if [[ ! -f $random/msnet-anas.yaml ]]; then
    "$rtseg" search --config configs/search/anas_camvid.yaml --random-genotype "$random" \
        --like configs/genotypes/anas_camvid.yaml --seed 0
fi
for arm in ${ARMS:-msnet-anas msnet-darts-v2 random}; do
    run=$out/$arm
    model=$arm
    source_args=()
    config=configs/anas_comparison_camvid.yaml
    if [[ $arm == random ]]; then
        # The recipe with the random genotype's model config appended (a model_config key).
        model=msnet-anas
        source_args=(--model-config "$random/msnet-anas.yaml")
        config=$out/random.yaml
        { cat configs/anas_comparison_camvid.yaml; echo "model_config:";
          sed 's/^/  /' "$random/msnet-anas.yaml"; } > "$config.part"
        mv "$config.part" "$config"
    fi
    if [[ ! -f $run/final.bpk ]]; then
        if [[ -d $run/checkpoints ]]; then
            "$rtseg" train --resume "$run"
        else
            "$rtseg" train --config "$config" --set model="$model" --set output_dir="$run"
        fi
    fi
    for split in train:only=0006R0 val; do
        json=$run/eval-${split%%:*}.json
        if [[ ! -f $json ]]; then
            "$rtseg" eval --model "$model" "${source_args[@]}" --weights "$run/best.bpk" \
                --split "$split" --data-root "$root" --json > "$json.part"
            mv "$json.part" "$json"
        fi
    done
    if [[ ! -f $run/cost.txt ]]; then
        if [[ $arm == random ]]; then
            "$rtseg" models --size 360x480 --model-config "$random/msnet-anas.yaml" | tail -1
        else
            "$rtseg" models --size 360x480 | grep "^$model "
        fi > "$run/cost.txt.part"
        mv "$run/cost.txt.part" "$run/cost.txt"
    fi
    json=$run/bench-burn.json
    if [[ ! -f $json ]]; then
        "$rtseg" bench --model "$model" "${source_args[@]}" --weights "$run/best.bpk" \
            --size 360x480 --iters 20 --warmup 3 --json > "$json.part"
        mv "$json.part" "$json"
    fi
done
