"""Preview images of a dataset with its ground-truth boxes (the Data tab's gallery).

Pure drawing over an opened dataset (core.data.dataset.open_dataset's DatasetInfo): colours and
boxes come from core.viz.detections (one colour per class everywhere); crowd annotations are
drawn dashed.
"""

from __future__ import annotations

import numpy as np

from core.data.dataset import DatasetInfo, load_records
from core.data.images import read_rgb
from core.viz.detections import BoxStyle, draw_boxes

CROWD_STYLE = BoxStyle(dashed=True, show_scores=False, tag_prefix="crowd ")
GT_STYLE = BoxStyle(show_scores=False)


def preview_images(
    info: DatasetInfo, split: str = "val", n: int = 8, seed: int = 0
) -> list[np.ndarray]:
    """Up to `n` images (RGB uint8 [H, W, 3], original size) of a split, chosen with `seed`,
    with their boxes and class names drawn. Falls back to the other split if this one is empty."""
    records = load_records(info, split)
    if not records:
        records = load_records(info, "train" if split == "val" else "val")
    rng = np.random.default_rng(seed)
    chosen = sorted(rng.permutation(len(records))[:n].tolist())
    return [
        draw_ground_truth(
            read_rgb(records[i].path),
            records[i].boxes,
            records[i].labels,
            records[i].iscrowd,
            info.classes,
        )
        for i in chosen
    ]


def draw_ground_truth(
    image: np.ndarray,
    boxes: np.ndarray,
    labels: np.ndarray,
    iscrowd: np.ndarray,
    classes: list[str],
) -> np.ndarray:
    """Boxes (x1, y1, x2, y2) with class-coloured outlines and name tags; crowd ones dashed."""
    out = draw_boxes(image, boxes[~iscrowd], labels[~iscrowd], classes, style=GT_STYLE)
    if iscrowd.any():
        out = draw_boxes(out, boxes[iscrowd], labels[iscrowd], classes, style=CROWD_STYLE)
    return out
