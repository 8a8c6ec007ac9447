"""Writes the label and image files of tests/field_files.rs with Pillow, the way the field's
tools write them, and next to each file what Pillow reads back from it: `<name>.ids` (the
stored samples, `numpy.array(Image.open(f))`, as uint8) for labels, `<name>.rgb` (upright
RGB after `ImageOps.exif_transpose`, with its size in `<name>.json`) for images.

    python pillow_files.py OUT_DIR
"""
import json
import sys
from pathlib import Path

import numpy as np
from PIL import Image, ImageOps

out = Path(sys.argv[1])
out.mkdir(parents=True, exist_ok=True)
rng = np.random.default_rng(7)


def ids_written(name, image):
    image.save(out / name)
    stored = np.array(Image.open(out / name))
    (out / (name + ".ids")).write_bytes(stored.astype(np.uint8).tobytes())


ids = rng.integers(0, 11, size=(24, 40), dtype=np.uint8)
ids[0, :] = 11  # CamVid void
# Palette ("P") PNGs, indices = class ids, with a palette whose colours are not the ids
# (mmsegmentation's convention; luma of the colours would give other numbers).
palette = rng.integers(0, 256, size=(256 * 3,), dtype=np.uint8).tolist()
size = (ids.shape[1], ids.shape[0])
p8 = Image.frombytes("P", size, ids.tobytes())
p8.putpalette(palette)
ids_written("p8.png", p8)
# A 4-bit palette PNG (Pillow packs indices below 16 when asked).
p4 = Image.frombytes("P", size, ids.tobytes())
p4.putpalette(palette[: 16 * 3])
p4.save(out / "p4.png", bits=4)
(out / "p4.png.ids").write_bytes(np.array(Image.open(out / "p4.png")).astype(np.uint8).tobytes())
ids_written("l8.png", Image.fromarray(ids))
ids_written("i16.png", Image.fromarray(ids.astype(np.uint16)))
big = ids.astype(np.uint16)
big[3, 5] = 300
Image.fromarray(big).save(out / "i16_300.png")
Image.frombytes("LA", size, np.stack([ids, ids], axis=-1).tobytes()).save(out / "la.png")
Image.fromarray(ids).save(out / "label.jpg")

# An RGB label in the original CamVid colours: Road left, MotorcycleScooter right, Void on
# the first row, one TrafficCone pixel; and a colour no table has.
rgb = np.zeros((24, 40, 3), dtype=np.uint8)
rgb[:, :20] = (128, 64, 128)
rgb[:, 20:] = (192, 0, 192)
rgb[0, :] = (0, 0, 0)
rgb[5, 5] = (0, 0, 64)
Image.fromarray(rgb).save(out / "camvid32.png")
rgb[7, 7] = (1, 2, 3)
Image.fromarray(rgb).save(out / "camvid32_unknown.png")

# Images stored sideways with an EXIF Orientation tag: a 40x24 picture, red top-left block.
picture = np.full((24, 40, 3), 60, dtype=np.uint8)
picture[:8, :12] = (230, 20, 20)
picture[16:, 28:] = (20, 20, 230)
for orientation in (3, 6, 8):
    stored = Image.fromarray(picture).transpose(
        {3: Image.Transpose.ROTATE_180, 6: Image.Transpose.ROTATE_90,
         8: Image.Transpose.ROTATE_270}[orientation])
    exif = Image.Exif()
    exif[0x0112] = orientation
    for ext in ("jpg", "png"):
        name = f"exif{orientation}.{ext}"
        stored.save(out / name, exif=exif, **({"quality": 95} if ext == "jpg" else {}))
        upright = ImageOps.exif_transpose(Image.open(out / name)).convert("RGB")
        (out / (name + ".rgb")).write_bytes(np.array(upright).tobytes())
        (out / (name + ".json")).write_text(json.dumps({"width": upright.width, "height": upright.height}))
