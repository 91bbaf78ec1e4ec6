"""Detections drawn for a gallery: each picture at a score threshold, ground truth beside the
prediction where it is known, with "name: N found / M true" under it. Shared by the Detect and
Models tabs."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from core.app import datasets
from core.viz.detections import draw_boxes, draw_comparison, enlarge

DRAW_MIN_SIDE = 320  # px: smaller images are scaled up before their boxes are drawn


def caption(item: dict, found: int) -> str:
    """'name: 5 found / 5 true' (dataset images) or 'name: 3 found' (uploads)."""
    text = f"{Path(item['path']).name}: {found} found"
    return text + (f" / {len(item['gt_boxes'])} true" if "gt_boxes" in item else "")


def draw(state: dict | None, score: float, with_truth: bool = True) -> list[tuple[np.ndarray, str]]:
    """Gallery images at this score threshold (GT beside prediction when GT is known and
    `with_truth`; the caption counts the true objects either way)."""
    if not state:
        return []
    classes, shown = state["classes"], []
    for item in state["items"]:
        dets = [d for d in item["detections"] if d["score"] >= score]
        labels = [d["label"] for d in dets]
        scores = [d["score"] for d in dets]
        original = datasets.read_rgb(item["path"])
        # small images drawn large, so tags and lines stay legible in the gallery
        image, boxes = enlarge(original, [d["box"] for d in dets], DRAW_MIN_SIDE)
        factor = image.shape[0] / original.shape[0]
        if "gt_boxes" in item and with_truth:
            gt = np.array(item["gt_boxes"], np.float32).reshape(-1, 4) * factor
            drawn = draw_comparison(image, gt, item["gt_labels"], boxes, labels, scores, classes)
        else:
            drawn = draw_boxes(image, boxes, labels, classes, scores)
        shown.append((drawn, caption(item, len(dets))))
    return shown
