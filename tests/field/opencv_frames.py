"""Writes camera frames in every encoding rtseg reads, as a driver would put them in a
sensor_msgs/Image (rows padded, both byte orders for 16-bit samples), and next to each what
OpenCV makes of it — the conversions cv_bridge applies (`cv2.cvtColor` with cv_bridge's
code for the encoding; 16-bit samples scaled with `convertTo(CV_8U, 255 / 65535)`).

    python opencv_frames.py OUT_DIR

For each case NAME: NAME.raw (the message data), NAME.json (encoding, width, height, step,
is_bigendian, compare: exact | within1 (OpenCV's fixed-point YUV against rtseg's f32) |
interior (demosaic: OpenCV's border rule differs)), NAME.rgb (OpenCV's RGB8, height × width × 3).
"""
import json
import sys
from pathlib import Path

import cv2
import numpy as np

out = Path(sys.argv[1])
out.mkdir(parents=True, exist_ok=True)
rng = np.random.default_rng(11)
W, H, PAD = 16, 12, 6


def write(name, encoding, planes, rgb, big_endian=False, compare="exact"):
    """`planes`: the message rows as a (rows, row_bytes) uint8 array, padded here."""
    rows, row_bytes = planes.shape
    padded = np.concatenate([planes, rng.integers(0, 256, (rows, PAD), dtype=np.uint8)], axis=1)
    (out / f"{name}.raw").write_bytes(padded.tobytes())
    (out / f"{name}.rgb").write_bytes(np.ascontiguousarray(rgb, dtype=np.uint8).tobytes())
    (out / f"{name}.json").write_text(json.dumps({
        "encoding": encoding, "width": W, "height": H, "step": row_bytes + PAD,
        "is_bigendian": big_endian, "compare": compare}))


def as8(img16):
    """convertTo(CV_8U, 255 / 65535): convertScaleAbs is the same for unsigned samples."""
    return cv2.convertScaleAbs(img16, alpha=255.0 / 65535.0)


# --- 8-bit interleaved, incl. cv_bridge's OpenCV type names.
bgr = rng.integers(0, 256, (H, W, 3), dtype=np.uint8)
bgra = rng.integers(0, 256, (H, W, 4), dtype=np.uint8)
grey = rng.integers(0, 256, (H, W), dtype=np.uint8)
write("8UC3", "8UC3", bgr.reshape(H, -1), cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB))
write("8UC4", "8UC4", bgra.reshape(H, -1), cv2.cvtColor(bgra, cv2.COLOR_BGRA2RGB))
write("8UC1", "8UC1", grey, cv2.cvtColor(grey, cv2.COLOR_GRAY2RGB))
write("rgba8", "rgba8", bgra.reshape(H, -1), cv2.cvtColor(bgra, cv2.COLOR_RGBA2RGB))

# --- 16-bit, both byte orders.
for encoding, channels, code in [("mono16", 1, cv2.COLOR_GRAY2RGB), ("rgb16", 3, None),
                                 ("bgr16", 3, cv2.COLOR_BGR2RGB), ("rgba16", 4, cv2.COLOR_RGBA2RGB),
                                 ("bgra16", 4, cv2.COLOR_BGRA2RGB)]:
    shape = (H, W) if channels == 1 else (H, W, channels)
    img = rng.integers(0, 65536, shape, dtype=np.uint16)
    rgb = as8(img) if code is None else cv2.cvtColor(as8(img), code)
    for big_endian in (False, True):
        data = img.astype(">u2" if big_endian else "<u2").view(np.uint8).reshape(H, -1)
        write(f"{encoding}_{'be' if big_endian else 'le'}", encoding, data, rgb, big_endian)

# --- YUV 4:2:2 packed, both names of each.
yuv422 = rng.integers(0, 256, (H, W, 2), dtype=np.uint8)
for name in ("yuyv", "yuv422_yuy2"):
    write(name, name, yuv422.reshape(H, -1), cv2.cvtColor(yuv422, cv2.COLOR_YUV2RGB_YUYV),
          compare="within1")
for name in ("uyvy", "yuv422"):
    write(name, name, yuv422.reshape(H, -1), cv2.cvtColor(yuv422, cv2.COLOR_YUV2RGB_UYVY),
          compare="within1")

# --- YUV 4:2:0 semi-planar: Y rows, then H/2 rows of interleaved chroma.
nv = rng.integers(0, 256, (H * 3 // 2, W), dtype=np.uint8)
write("nv12", "nv12", nv, cv2.cvtColor(nv, cv2.COLOR_YUV2RGB_NV12), compare="within1")
write("nv21", "nv21", nv, cv2.cvtColor(nv, cv2.COLOR_YUV2RGB_NV21), compare="within1")

# --- Bayer: cv_bridge's codes (OpenCV names a pattern by its second row's first two pixels).
mosaic = rng.integers(0, 256, (H, W), dtype=np.uint8)
mosaic16 = rng.integers(0, 65536, (H, W), dtype=np.uint16)
for pattern, code in [("rggb", cv2.COLOR_BayerBG2RGB), ("bggr", cv2.COLOR_BayerRG2RGB),
                      ("gbrg", cv2.COLOR_BayerGR2RGB), ("grbg", cv2.COLOR_BayerGB2RGB)]:
    write(f"bayer_{pattern}8", f"bayer_{pattern}8", mosaic, cv2.cvtColor(mosaic, code),
          compare="interior")
    write(f"bayer_{pattern}16", f"bayer_{pattern}16",
          mosaic16.astype("<u2").view(np.uint8).reshape(H, -1), cv2.cvtColor(as8(mosaic16), code),
          compare="interior")
