"""The node's ground projection per mask against OpenCV doing the same job, in one run.

    .venv/bin/python scripts/bench_ground.py [--calibration calibration/example_front.yaml]
        [--size 720x1280] [--iters 200]

rtseg: `rtseg bench --ground` (a lookup table per camera_info; per mask the drivable-area
grid, the class grid and the free-space scan). OpenCV (the peer): the same grid built with
`cv2.projectPoints` of the cell centres into float32 maps, then per mask `cv2.remap`
(INTER_NEAREST) for the class grid and `cv2.LUT` for the drivable grid — no scan, which
OpenCV has no call for. The peer reads `axes: body` + `rotation: {rpy}` extrinsics only.
Build first: cargo build --release.
"""
import argparse
import json
import os
import subprocess
import time

import cv2
import numpy as np
import yaml

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def rpy_matrix(roll, pitch, yaw):
    """R = Rz(yaw) Ry(pitch) Rx(roll), the fixed-axes convention of tf2 and URDF."""
    cr, sr, cp, sp, cy, sy = np.cos(roll), np.sin(roll), np.cos(pitch), np.sin(pitch), np.cos(yaw), np.sin(yaw)
    rx = np.array([[1, 0, 0], [0, cr, -sr], [0, sr, cr]])
    ry = np.array([[cp, 0, sp], [0, 1, 0], [-sp, 0, cp]])
    rz = np.array([[cy, -sy, 0], [sy, cy, 0], [0, 0, 1]])
    return rz @ ry @ rx


def opencv_peer(cal, height, width, iters, grid):
    res, x0, x1, y0, y1 = grid
    k = np.array(cal["camera_matrix"]["data"], dtype=np.float64).reshape(3, 3)
    k[0] *= width / cal["image_width"]
    k[1] *= height / cal["image_height"]
    d = np.array(cal["distortion_coefficients"]["data"], dtype=np.float64)
    ext = cal["extrinsics"]
    assert ext["axes"] == "body" and "rpy" in ext["rotation"], "peer reads body axes + rpy only"
    body = rpy_matrix(*ext["rotation"]["rpy"])
    optical_in_body = np.array([[0, 0, 1], [-1, 0, 0], [0, -1, 0]], dtype=np.float64)
    r = body @ optical_in_body  # optical axes in the parent frame
    t = np.array(ext["translation"], dtype=np.float64)
    cols, rows = round((x1 - x0) / res), round((y1 - y0) / res)
    start = time.perf_counter()
    ii, jj = np.meshgrid(np.arange(cols), np.arange(rows))
    centres = np.stack([x0 + (ii + 0.5) * res, y0 + (jj + 0.5) * res, np.zeros_like(ii, dtype=np.float64)], -1)
    in_camera = (centres.reshape(-1, 3) - t) @ r
    uv, _ = cv2.projectPoints(in_camera, np.zeros(3), np.zeros(3), k, d)
    uv = np.round(uv.reshape(-1, 2))
    seen = (in_camera[:, 2] > 0.05) & (uv[:, 0] >= 0) & (uv[:, 1] >= 0) & (uv[:, 0] < width) & (uv[:, 1] < height)
    uv[~seen] = -1
    map_x = uv[:, 0].reshape(rows, cols).astype(np.float32)
    map_y = uv[:, 1].reshape(rows, cols).astype(np.float32)
    table_ms = (time.perf_counter() - start) * 1e3
    mask = np.fromfunction(lambda y, x: np.where(y > height // 2, 3, (y * width + x) % 11), (height, width)).astype(np.uint8)
    drivable = np.full(256, 100, np.uint8)
    drivable[3] = 0
    drivable[255] = 255  # unseen (-1 as int8)
    samples = []
    for i in range(iters + 5):
        start = time.perf_counter()
        classes = cv2.remap(mask, map_x, map_y, cv2.INTER_NEAREST, borderMode=cv2.BORDER_CONSTANT, borderValue=255)
        occupancy = cv2.LUT(classes, drivable)
        if i >= 5:
            samples.append((time.perf_counter() - start) * 1e3)
    samples.sort()
    return {"table_ms": table_ms, "frame_mean_ms": float(np.mean(samples)),
            "frame_p50_ms": samples[len(samples) // 2], "frame_p99_ms": samples[int(len(samples) * 0.99) - 1],
            "cells": int(occupancy.size)}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--calibration", default=os.path.join(ROOT, "calibration/example_front.yaml"))
    ap.add_argument("--size", default="720x1280")
    ap.add_argument("--iters", type=int, default=200)
    ap.add_argument("--grid", default="0.15,0,30,-15,15")
    args = ap.parse_args()
    h, w = map(int, args.size.split("x"))
    out = subprocess.run([os.path.join(ROOT, "target/release/rtseg"), "bench", "--ground", args.calibration,
                          "--size", args.size, "--grid", args.grid, "--iters", str(args.iters), "--json"],
                         check=True, capture_output=True, text=True).stdout
    ours = json.loads(out)
    cv2.setNumThreads(1)
    peer = opencv_peer(yaml.safe_load(open(args.calibration)), h, w, args.iters, [float(v) for v in args.grid.split(",")])
    print(f"ground projection, {w}x{h} mask -> {ours['grid'][0]}x{ours['grid'][1]} grid ({ours['machine']})")
    print(f"{'':22} {'table ms':>9} {'mask mean ms':>13} {'p50':>8} {'p99':>8}")
    print(f"{'rtseg (grids + scan)':22} {ours['table_ms']:9.2f} {ours['frame_mean_ms']:13.3f} "
          f"{ours['frame_p50_ms']:8.3f} {ours['frame_p99_ms']:8.3f}")
    print(f"{'OpenCV (grids)':22} {peer['table_ms']:9.2f} {peer['frame_mean_ms']:13.3f} "
          f"{peer['frame_p50_ms']:8.3f} {peer['frame_p99_ms']:8.3f}")
    print(f"ratio rtseg/OpenCV per mask: {ours['frame_mean_ms'] / peer['frame_mean_ms']:.2f}x, "
          f"table: {ours['table_ms'] / peer['table_ms']:.2f}x")


if __name__ == "__main__":
    main()
