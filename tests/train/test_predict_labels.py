"""Evaluation keeps every class's boxes; pictures get one label per object.

A stub detector reads one object as circle (logit 3) and, at the very same box, as hexagon
(logit 2); the object is a hexagon. Drawn, the object carries one label (circle); scored, the
hexagon box stays, so the evaluation counts the object as found by the detector's second guess.
"""

from __future__ import annotations

import pytest
import torch
from torch import nn

from core.det.bench import DetectionBench
from core.det.config import get_config
from core.train.evaluate import evaluate_coco, predict_dataset
from core.train.size_terciles import size_terciles

SIZE = 128
LEVEL, Y, X, ANCHOR = 2, 1, 2, 4  # P5 (third level), grid row 1, column 2, anchor 4
CIRCLE, HEXAGON = 0, 1


class ConfusedDetector(nn.Module):
    """Raw outputs with one confident anchor: circle 3, hexagon 2; zero box deltas."""

    def __init__(self):
        super().__init__()
        self.config = get_config("efficientdet_tiny", num_classes=2, image_size=SIZE)

    def forward(self, x):
        c, a = self.config.num_classes, self.config.num_anchors
        classes, boxes = [], []
        for level in range(self.config.min_level, self.config.max_level + 1):
            side = SIZE // 2**level
            logits = torch.full((x.shape[0], a * c, side, side), -10.0)
            if level == self.config.min_level + LEVEL:
                logits[:, ANCHOR * c + CIRCLE, Y, X] = 3.0
                logits[:, ANCHOR * c + HEXAGON, Y, X] = 2.0
            classes.append(logits)
            boxes.append(torch.zeros(x.shape[0], a * 4, side, side))
        return classes, boxes


def _anchor_box(bench: DetectionBench) -> list[float]:
    """The confident anchor's (x1, y1, x2, y2)."""
    config = bench.config
    offset = sum(
        (SIZE // 2**level) ** 2 * config.num_anchors
        for level in range(config.min_level, config.min_level + LEVEL)
    )
    side = SIZE // 2 ** (config.min_level + LEVEL)
    index = offset + (Y * side + X) * config.num_anchors + ANCHOR
    return bench.anchors.boxes((SIZE, SIZE))[index].tolist()


def test_pictures_get_one_label_and_evaluation_keeps_the_second_guess():
    bench = DetectionBench(ConfusedDetector()).eval()
    images = torch.zeros(1, 3, SIZE, SIZE)
    drawn = bench.predict(images, score_threshold=0.05)[0]
    assert drawn["labels"].tolist() == [CIRCLE]
    target = {"image_id": 1, "scale": 1.0, "offset": (0.0, 0.0), "orig_size": (SIZE, SIZE)}
    scored = predict_dataset(bench, [(images, [target])], "cpu")
    assert sorted(p["category_id"] - 1 for p in scored) == [CIRCLE, HEXAGON]

    x1, y1, x2, y2 = _anchor_box(bench)
    box = [x1, y1, x2 - x1, y2 - y1]
    gt = {
        "images": [{"id": 1, "file_name": "1.png", "width": SIZE, "height": SIZE}],
        "annotations": [
            dict(id=1, image_id=1, category_id=HEXAGON + 1, bbox=box, area=box[2] * box[3])
            | {"iscrowd": 0}
        ],
        "categories": [{"id": 1, "name": "circle"}, {"id": 2, "name": "hexagon"}],
    }
    assert evaluate_coco(gt, scored)["per_class_AP50"]["hexagon"] == pytest.approx(1.0)
    assert size_terciles(gt, scored)[0].recall == pytest.approx(1.0)
