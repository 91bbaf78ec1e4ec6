"""The default score threshold of a detector: the F1-best one on its own validation predictions.

A detection is a true positive when it matches a not yet matched ground-truth box of the same
class with IoU >= 0.5, detections taken in descending score order per image and class (COCO's
greedy rule, COCOeval at IoU 0.5). Keeping the detections with score >= t gives
precision(t) = TP(t) / kept(t), recall(t) = TP(t) / G (G ground-truth boxes) and
F1(t) = 2 P R / (P + R). The candidate thresholds are the detections' own scores; the chosen one
is where F1 peaks (ties: the higher threshold, so fewer boxes), never below `floor`.

`f1_best_threshold` is the pure rule over (score, is-true-positive) pairs; `match_coco` makes
those pairs from a COCO ground-truth dict and COCO-results predictions; `choose_threshold` does
both.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

MATCH_IOU = 0.5
MIN_THRESHOLD = 0.05  # the lowest threshold the GUI's score slider offers
FALLBACK_THRESHOLD = 0.3  # used when there is nothing to choose from (no detection above floor)


@dataclass(frozen=True)
class ThresholdChoice:
    """The chosen threshold and what it gives on the split it was chosen on."""

    threshold: float
    precision: float
    recall: float
    f1: float
    true_positives: int
    detections: int  # detections kept at the threshold
    ground_truths: int

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def f1_best_threshold(
    scores: Sequence[float],
    is_tp: Sequence[bool],
    num_ground_truth: int,
    floor: float = MIN_THRESHOLD,
) -> ThresholdChoice:
    """The F1-best score threshold over detections with these scores and match outcomes.

    scores: [N] detection scores; is_tp: [N] True where the detection matched a ground truth;
    num_ground_truth: G, every ground-truth box of the split (missed ones lower recall).
    Detections with equal scores are kept or dropped together.
    """
    scores = np.asarray(scores, dtype=np.float64).reshape(-1)
    tp = np.asarray(is_tp, dtype=bool).reshape(-1)
    if scores.shape != tp.shape:
        raise ValueError(f"got {scores.size} scores and {tp.size} match flags")
    if num_ground_truth < 0 or tp.sum() > num_ground_truth:
        raise ValueError(
            f"{int(tp.sum())} true positives cannot come from {num_ground_truth} ground-truth boxes"
        )
    keep = scores >= floor
    scores, tp = scores[keep], tp[keep]
    if scores.size == 0:
        return ThresholdChoice(FALLBACK_THRESHOLD, 0.0, 0.0, 0.0, 0, 0, num_ground_truth)
    order = np.argsort(-scores, kind="stable")
    scores, tp = scores[order], tp[order]
    cum_tp = np.cumsum(tp)
    kept = np.arange(1, scores.size + 1)
    last_of_tie = np.append(scores[1:] != scores[:-1], True)  # a threshold keeps whole ties
    cum_tp, kept, cut = cum_tp[last_of_tie], kept[last_of_tie], scores[last_of_tie]
    precision = cum_tp / kept
    recall = cum_tp / num_ground_truth if num_ground_truth else np.zeros_like(precision)
    denom = precision + recall
    f1 = np.divide(2 * precision * recall, denom, out=np.zeros_like(denom), where=denom > 0)
    best = int(np.argmax(f1))  # the first maximum: the highest threshold among ties
    return ThresholdChoice(
        float(cut[best]),
        float(precision[best]),
        float(recall[best]),
        float(f1[best]),
        int(cum_tp[best]),
        int(kept[best]),
        num_ground_truth,
    )


def _iou_xywh(dets: np.ndarray, gts: np.ndarray) -> np.ndarray:
    """IoU matrix [D, G] of COCO (x, y, w, h) boxes."""
    d = np.column_stack([dets[:, :2], dets[:, :2] + dets[:, 2:]])
    g = np.column_stack([gts[:, :2], gts[:, :2] + gts[:, 2:]])
    lt = np.maximum(d[:, None, :2], g[None, :, :2])
    rb = np.minimum(d[:, None, 2:], g[None, :, 2:])
    inter = np.prod(np.clip(rb - lt, 0, None), axis=2)
    union = (dets[:, 2] * dets[:, 3])[:, None] + (gts[:, 2] * gts[:, 3])[None, :] - inter
    return np.divide(inter, union, out=np.zeros_like(inter), where=union > 0)


def _match_group(
    det_boxes: np.ndarray, det_scores: np.ndarray, gt_boxes: np.ndarray, iou_threshold: float
) -> np.ndarray:
    """Greedy matching within one (image, class): True per detection that found a box."""
    tp = np.zeros(len(det_boxes), dtype=bool)
    if not len(gt_boxes) or not len(det_boxes):
        return tp
    iou = _iou_xywh(det_boxes, gt_boxes)
    taken = np.zeros(len(gt_boxes), dtype=bool)
    for d in np.argsort(-det_scores, kind="stable"):
        candidates = np.where(taken, -1.0, iou[d])
        g = int(np.argmax(candidates))
        if candidates[g] >= iou_threshold:
            taken[g], tp[d] = True, True
    return tp


def match_coco(
    gt: Mapping[str, Any],
    predictions: Sequence[Mapping[str, Any]],
    iou_threshold: float = MATCH_IOU,
) -> tuple[np.ndarray, np.ndarray, int]:
    """(scores [N], is_tp [N], G) of COCO-results predictions against a COCO instances dict.

    Crowd ground truths are left out (neither counted nor matched), as COCOeval ignores them.
    """
    groups: dict[tuple[int, int], list[list[float]]] = {}
    num_gt = 0
    for ann in gt.get("annotations", []):
        if not ann.get("iscrowd"):
            groups.setdefault((ann["image_id"], ann["category_id"]), []).append(ann["bbox"])
            num_gt += 1
    by_group: dict[tuple[int, int], list[int]] = {}
    for i, p in enumerate(predictions):
        by_group.setdefault((p["image_id"], p["category_id"]), []).append(i)
    scores = np.array([float(p["score"]) for p in predictions], dtype=np.float64)
    tp = np.zeros(len(predictions), dtype=bool)
    for key, index in by_group.items():
        boxes = np.array([predictions[i]["bbox"] for i in index], dtype=np.float64).reshape(-1, 4)
        gts = np.array(groups.get(key, []), dtype=np.float64).reshape(-1, 4)
        tp[index] = _match_group(boxes, scores[index], gts, iou_threshold)
    return scores, tp, num_gt


def choose_threshold(
    gt: Mapping[str, Any], predictions: Sequence[Mapping[str, Any]], floor: float = MIN_THRESHOLD
) -> ThresholdChoice:
    """The F1-best threshold of these predictions on this ground truth (IoU 0.5)."""
    scores, tp, num_gt = match_coco(gt, predictions)
    return f1_best_threshold(scores, tp, num_gt, floor)
