#!/usr/bin/env python3
"""Markdown tables of a comparison from the JSON its runner script leaves in each run
directory (scripts/seed004_comparison.sh, scripts/anas_comparison.sh): cost.txt (the
`rtseg models --size 360x480` row), eval-train.json (the held-out sequence), eval-val.json,
bench-burn.json and bench-ort.json, and the held-out curve from the trainer's metrics.jsonl.
A run that has not finished yet is listed as such.

    python3 scripts/comparison_table.py runs/seed004/*
"""
import json
import sys
from pathlib import Path


def load(path):
    return json.loads(path.read_text()) if path.exists() else None


def curve(run):
    """{step: held-out mIoU} from the trainer's periodic evaluations (kind "eval")."""
    path = run / "metrics.jsonl"
    if not path.exists():
        return {}
    rows = (json.loads(line) for line in path.read_text().splitlines() if line.strip())
    return {r["step"]: r["miou"] for r in rows if r.get("kind") == "eval"}


def print_curves(runs):
    curves = {run.name: curve(run) for run in runs}
    steps = sorted({step for c in curves.values() for step in c})
    if not steps:
        return
    print()
    print("Held-out 0006R0 mIoU (%) at the trainer's evaluations, by step (the best picks the "
          "checkpoint):")
    print()
    print("| network | " + " | ".join(str(s) for s in steps) + " |")
    print("|---|" + "---:|" * len(steps))
    for name, c in curves.items():
        best = max(c.values(), default=None)
        cells = [("**{:.2f}**" if c[s] == best else "{:.2f}").format(100 * c[s]) if s in c else ""
                 for s in steps]
        print(f"| {name} | " + " | ".join(cells) + " |")


def main(runs):
    rows, classes = [], None
    for run in map(Path, runs):
        held, val = load(run / "eval-train.json"), load(run / "eval-val.json")
        bench = {b: load(run / f"bench-{b}.json") for b in ("burn", "ort")}
        cost = (run / "cost.txt").read_text().split() if (run / "cost.txt").exists() else None
        rows.append((run.name, cost, held, val, bench))
        classes = classes or (val or {}).get("classes")
    print("| network | params | GMACs @360×480 | held-out 0006R0 mIoU | val mIoU | val pixel acc "
          "| burn FPS | ORT FPS |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|")
    for name, cost, held, val, bench in rows:
        if val is None or held is None:
            print(f"| {name} | | | not finished | | | | |")
            continue
        fps = [f"{b['fps']:.1f}" if b else "–" for b in bench.values()]
        params, gmacs = (cost[1], cost[2]) if cost else ("?", "?")
        print(f"| {name} | {params} | {gmacs} | {100 * held['metrics']['miou']:.2f} "
              f"| {100 * val['metrics']['miou']:.2f} | {100 * val['metrics']['pixel_accuracy']:.2f} "
              f"| {fps[0]} | {fps[1]} |")
    if classes:
        print()
        print("Per-class IoU on CamVid val (%):")
        print()
        print("| network | " + " | ".join(classes) + " |")
        print("|---|" + "---:|" * len(classes))
        for name, _, _, val, _ in rows:
            if val is not None:
                ious = " | ".join(f"{100 * v:.1f}" for v in val["metrics"]["class_iou"])
                print(f"| {name} | {ious} |")
    print_curves([Path(r) for r in runs])


if __name__ == "__main__":
    main(sys.argv[1:])
