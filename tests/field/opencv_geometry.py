"""Checks rtseg's camera model against OpenCV (the opencv-python-headless wheel): projection
of 3-D points (`cv2.projectPoints`, `cv2.fisheye.projectPoints`), undistortion of pixels to
normalised coordinates (`cv2.undistortPoints` / `cv2.fisheye.undistortPoints`, iterated to
1e-15), and rectification maps (`cv2.initUndistortRectifyMap` or its fisheye twin, CV_32FC1)
applied to a label mask with `cv2.remap(INTER_NEAREST)`.

    python opencv_geometry.py CASES.json

CASES holds, per camera, rtseg's results (maps and masks as raw files beside it). Prints one
JSON object per case with the largest differences and the share of mask pixels that agree.
"""
import json
import sys

import cv2
import numpy as np

CRITERIA = (cv2.TERM_CRITERIA_COUNT | cv2.TERM_CRITERIA_EPS, 500, 1e-15)

for case in json.load(open(sys.argv[1])):
    w, h = case["width"], case["height"]
    k = np.array(case["k"], dtype=np.float64).reshape(3, 3)
    d = np.array(case["d"], dtype=np.float64)
    r = np.array(case["r"], dtype=np.float64).reshape(3, 3)
    p = np.array(case["p"], dtype=np.float64).reshape(3, 4)[:, :3]
    fisheye = case["distortion_model"] == "equidistant"
    points = np.array(case["points"], dtype=np.float64)
    zero = np.zeros(3)
    if fisheye:
        projected, _ = cv2.fisheye.projectPoints(points.reshape(-1, 1, 3), zero, zero, k, d)
    else:
        projected, _ = cv2.projectPoints(points, zero, zero, k, d)
    projected = projected.reshape(-1, 2)
    pixels = np.array(case["pixels"], dtype=np.float64).reshape(-1, 1, 2)
    if fisheye:
        normalised = cv2.fisheye.undistortPoints(pixels, k, d, criteria=CRITERIA)
    else:
        normalised = cv2.undistortPoints(pixels, k, d, criteria=CRITERIA)
    normalised = normalised.reshape(-1, 2)
    init = cv2.fisheye.initUndistortRectifyMap if fisheye else cv2.initUndistortRectifyMap
    map_x, map_y = init(k, d, r, p, (w, h), cv2.CV_32FC1)
    ours = np.fromfile(case["map_file"], dtype="<f8").reshape(h, w, 2)
    finite = np.isfinite(ours[..., 0])
    mask = np.fromfile(case["mask_file"], dtype=np.uint8).reshape(h, w)
    remapped = cv2.remap(mask, map_x, map_y, cv2.INTER_NEAREST,
                         borderMode=cv2.BORDER_CONSTANT, borderValue=255)
    our_remap = np.fromfile(case["remapped_file"], dtype=np.uint8).reshape(h, w)
    print(json.dumps({
        "name": case["name"],
        "project_px": float(np.abs(projected - np.array(case["projected"])).max()),
        "undistort": float(np.abs(normalised - np.array(case["undistorted"])).max()),
        "map_px": float(max(np.abs(map_x - ours[..., 0])[finite].max(),
                            np.abs(map_y - ours[..., 1])[finite].max())),
        "map_finite": float(finite.mean()),
        "remap_agree": float((remapped == our_remap).mean()),
        "remap_inside": float((remapped != 255).mean()),
    }))
