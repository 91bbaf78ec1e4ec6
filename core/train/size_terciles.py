"""Detection quality by object size: AP50 and recall per tercile of ground-truth box area.

COCO's small / medium / large bounds (32 x 32 and 96 x 96 pixels) suit COCO's images; a
generated or imported set may hold no "small" object at all. Here the bounds come from the split
itself: the 1/3 and 2/3 quantiles of its non-crowd ground-truth box areas (w x h in original
image pixels, not the annotation's "area", which is the mask area for a polygon), so each
tercile holds about a third of the objects (ties at a bound can make them uneven). The numbers
are COCOeval's (pycocotools, bbox) with its area ranges set to the terciles: per tercile, AP at
IoU 0.5 and recall at IoU 0.5 with up to 100 detections per image, each the mean over the
classes that have an object in that tercile; a detection that matches nothing counts against the
tercile its own box area falls in, as COCO's APs/APm/APl do. Each object is in exactly one
tercile: a range starts just above the previous range's upper bound.
"""

from __future__ import annotations

import contextlib
import io
import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from pycocotools.cocoeval import COCOeval

from core.data.dataset import open_dataset
from core.engine.queries import read_json_artifact
from core.errors import DatasetError
from core.train.evaluate import _load_results, load_gt

TERCILE_NAMES = ("small", "mid", "large")
IOU = 0.5
MAX_DETECTIONS = 100


@dataclass(frozen=True)
class SizeTercile:
    """One tercile: its name, object count, box-area range [area_min, area_max] in square
    pixels (the observed extremes), AP50 and recall at IoU 0.5 (-1: no object), and the recall
    of the detections scoring at least the score threshold (None when none was given)."""

    name: str
    objects: int
    area_min: float
    area_max: float
    ap50: float
    recall: float
    recall_at_threshold: float | None = None


def box_area_bounds(areas: Sequence[float]) -> tuple[float, float]:
    """The tercile bounds (1/3 and 2/3 quantiles, linear interpolation) of box areas."""
    if not len(areas):
        raise DatasetError("no ground-truth boxes: the size terciles need at least one object")
    low, high = np.quantile(np.asarray(areas, dtype=np.float64), [1 / 3, 2 / 3])
    return float(low), float(high)


def size_terciles(
    gt_json: str | Path | dict,
    predictions: Sequence[dict],
    score_threshold: float | None = None,
) -> list[SizeTercile]:
    """AP50 and recall per box-area tercile of `gt_json`'s objects (module docstring).

    `gt_json`: a COCO instances file or dict; `predictions`: COCO results dicts (bbox [x, y, w,
    h] pixels, score). With `score_threshold`, each tercile also gets the recall of the
    detections at or above it (the boxes a drawn result shows). Returns small, mid, large.
    """
    gt = load_gt(_with_box_areas(gt_json))
    areas = [a["area"] for a in gt.dataset["annotations"] if not a.get("iscrowd")]
    low, high = box_area_bounds(areas)
    ranges = [
        [0.0, low],
        [math.nextafter(low, math.inf), high],
        [math.nextafter(high, math.inf), math.inf],
    ]
    ap50, recall = _by_range(gt, list(predictions), ranges)
    at_threshold = None
    if score_threshold is not None:
        kept = [p for p in predictions if p["score"] >= score_threshold]
        at_threshold = _by_range(gt, kept, ranges)[1]
    out = []
    for i, (name, (lo, hi)) in enumerate(zip(TERCILE_NAMES, ranges)):
        inside = [a for a in areas if lo <= a <= hi]
        out.append(
            SizeTercile(
                name=name,
                objects=len(inside),
                area_min=float(min(inside, default=0.0)),
                area_max=float(max(inside, default=0.0)),
                ap50=ap50[i],
                recall=recall[i],
                recall_at_threshold=None if at_threshold is None else at_threshold[i],
            )
        )
    return out


def _with_box_areas(gt_json: str | Path | dict) -> dict:
    """The ground truth with every annotation's "area" set to its box's w x h."""
    dataset = load_gt(gt_json).dataset
    annotations = [dict(a, area=float(a["bbox"][2] * a["bbox"][3])) for a in dataset["annotations"]]
    return dict(dataset, annotations=annotations)


def _by_range(gt, predictions: list[dict], ranges: list[list[float]]):
    """COCOeval with `ranges` as its area ranges -> (AP50 per range, recall per range)."""
    coco_eval = COCOeval(gt, _load_results(gt, predictions), iouType="bbox")
    coco_eval.params.iouThrs = np.array([IOU])
    coco_eval.params.maxDets = [MAX_DETECTIONS]
    coco_eval.params.areaRng = ranges
    coco_eval.params.areaRngLbl = list(TERCILE_NAMES)
    with contextlib.redirect_stdout(io.StringIO()):
        coco_eval.evaluate()
        coco_eval.accumulate()
    precision = coco_eval.eval["precision"]  # [T=1, R, K, A, M=1]
    recall = coco_eval.eval["recall"]  # [T=1, K, A, M=1]
    ap50 = [_valid_mean(precision[0, :, :, a, 0]) for a in range(len(ranges))]
    rec = [_valid_mean(recall[0, :, a, 0]) for a in range(len(ranges))]
    return ap50, rec


def _valid_mean(values: np.ndarray) -> float:
    """Mean over the entries that are not -1 (COCOeval's "no ground truth"), else -1."""
    valid = values[values > -1]
    return float(valid.mean()) if valid.size else -1.0


def train_job_size_terciles(store, job_id: int) -> list[SizeTercile] | None:
    """A finished train job's terciles: its kept val predictions (predictions.json, the best
    epoch's) against its dataset's val split, recall at threshold at the job's own score
    threshold; None when the job kept no predictions."""
    job = store.get_job(job_id, reconcile=False)
    predictions = None
    for art in reversed(store.artifacts(job_id, kind="predictions")):
        predictions = read_json_artifact(store, art["path"])
        if predictions is not None:
            break
    if predictions is None:
        return None
    info = open_dataset(store, job["spec"]["dataset"])
    threshold = (job.get("result") or {}).get("score_threshold")
    return size_terciles(info.split_json("val"), predictions, threshold)
