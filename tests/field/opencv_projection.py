"""Projects 3-D points through a camera_info and through rtseg's camera_info for the resized
mask, with OpenCV (`cv2.projectPoints` for K and D; P times the point for the rectified
camera), and reports how far apart they land in mask pixels.

    python opencv_projection.py CASES.json   # [{"input": {...}, "mask": {...}, "sx", "sy"}]

The image a camera_info describes is its ROI of the calibrated sensor, binned (the
sensor_msgs/CameraInfo comments, REP 104): image pixel = (sensor pixel - offset) / binning;
the mask pixel is that times the resize factor. Prints one JSON object per case.
"""
import json
import sys

import cv2
import numpy as np

rng = np.random.default_rng(5)
points = np.column_stack([rng.uniform(-2, 2, 50), rng.uniform(-1.5, 1.5, 50), rng.uniform(3, 30, 50)])
for case in json.load(open(sys.argv[1])):
    src, mask, sx, sy = case["input"], case["mask"], case["sx"], case["sy"]
    roi = src["roi"]
    bx, by = max(1, src["binning_x"]), max(1, src["binning_y"])

    def to_mask(uv):
        return np.column_stack([(uv[:, 0] - roi["x_offset"]) / bx * sx, (uv[:, 1] - roi["y_offset"]) / by * sy])

    result = {"name": case["name"]}
    k_in, k_mask = np.array(src["k"]).reshape(3, 3), np.array(mask["k"]).reshape(3, 3)
    if k_in[0, 0] > 0:
        d = np.array(src["d"], dtype=np.float64)
        raw_in, _ = cv2.projectPoints(points, np.zeros(3), np.zeros(3), k_in, d)
        raw_mask, _ = cv2.projectPoints(points, np.zeros(3), np.zeros(3), k_mask, np.array(mask["d"], dtype=np.float64))
        result["k_error"] = float(np.abs(to_mask(raw_in.reshape(-1, 2)) - raw_mask.reshape(-1, 2)).max())
    else:
        result["k_zero"] = bool(np.all(k_mask == 0))
    p_in, p_mask = np.array(src["p"]).reshape(3, 4), np.array(mask["p"]).reshape(3, 4)
    homogeneous = np.column_stack([points, np.ones(len(points))])
    rect_in, rect_mask = homogeneous @ p_in.T, homogeneous @ p_mask.T
    result["p_error"] = float(np.abs(to_mask(rect_in[:, :2] / rect_in[:, 2:]) - rect_mask[:, :2] / rect_mask[:, 2:]).max())
    result["mask_binning"] = [mask["binning_x"], mask["binning_y"]]
    print(json.dumps(result))
