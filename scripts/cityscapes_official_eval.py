"""Runs the official Cityscapes pixel-level evaluation (PyPI `cityscapesscripts`) and writes
its 19 class IoUs, in trainId order, to the JSON file named on the command line (NaN, for a
class absent from both ground truth and prediction, becomes null).

The official script takes its inputs from the environment:
  CITYSCAPES_DATASET     dataset root holding gtFine/val/<city>/*_gtFine_labelIds.png
  CITYSCAPES_RESULTS     folder of <city>_<seq>_<frame>*.png labelId predictions
  CITYSCAPES_EXPORT_DIR  where it writes resultPixelLevelSemanticLabeling.json
"""
import json
import sys

from cityscapesscripts.evaluation import evalPixelLevelSemanticLabeling as official
from cityscapesscripts.helpers.labels import labels

out_path = sys.argv[1]
sys.argv = sys.argv[:1]
official.main()
with open(official.args.exportFile) as f:
    result = json.load(f)
train_labels = sorted((l for l in labels if 0 <= l.trainId < 19), key=lambda l: l.trainId)
scores = [result["classScores"][l.name] for l in train_labels]
with open(out_path, "w") as f:
    json.dump([None if s != s else s for s in scores], f)
