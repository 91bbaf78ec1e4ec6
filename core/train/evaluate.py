"""COCO evaluation of detections with pycocotools (Lin et al., "Microsoft COCO", ECCV 2014).

`evaluate_coco(gt_json, predictions)` runs COCOeval (bbox) and returns the summary numbers
(AP, AP50, AP75, APs, APm, APl, AR100), AP per class, the full precision array (for PR curves;
-1 marks "no ground truth", as in COCOeval) and a confusion matrix at IoU 0.5 and a score
threshold. `predict_dataset` turns a detector's output on a letterboxed dataset into COCO
results (boxes back in original image pixels). Predictions are COCO results dicts:
{"image_id": int, "category_id": int, "bbox": [x, y, w, h] (pixels), "score": float}.
"""

from __future__ import annotations

import contextlib
import io
import json
import logging
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
from pycocotools import mask as mask_utils
from pycocotools.coco import COCO
from pycocotools.cocoeval import COCOeval

from core.data.dataset import DetectionDataset, collate, open_dataset
from core.data.transforms import to_original
from core.errors import DatasetError
from core.train.predict import load_model

if TYPE_CHECKING:  # pragma: no cover
    import torch

    from core.engine.reporter import Reporter

log = logging.getLogger(__name__)

# COCOeval.stats order (bbox, default parameters).
STAT_NAMES = (
    "AP",
    "AP50",
    "AP75",
    "APs",
    "APm",
    "APl",
    "AR1",
    "AR10",
    "AR100",
    "ARs",
    "ARm",
    "ARl",
)
SUMMARY_KEYS = ("AP", "AP50", "AP75", "APs", "APm", "APl", "AR100")
CONFUSION_IOU = 0.5
CONFUSION_SCORE = 0.3  # detections below this score are ignored by the confusion matrix
EVAL_SCORE_THRESHOLD = 0.001  # keep low-score detections for AP, as the COCO protocol does
PRECISION_DECIMALS = 4


def load_gt(gt_json: str | Path | dict) -> COCO:
    """A pycocotools COCO object from a COCO instances file or an already-loaded dict."""
    dataset = gt_json
    if not isinstance(gt_json, dict):
        try:
            dataset = json.loads(Path(gt_json).read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise DatasetError(f"cannot read COCO ground truth {gt_json}: {exc}") from exc
    for key in ("images", "annotations", "categories"):
        if key not in dataset:
            raise DatasetError(f"COCO ground truth has no {key!r} list; is it an instances file?")
    coco = COCO()
    coco.dataset = dataset
    with contextlib.redirect_stdout(io.StringIO()):
        coco.createIndex()
    return coco


def _load_results(gt: COCO, predictions: Sequence[dict]) -> COCO:
    """COCO results object; an empty list gives an empty detection set (loadRes refuses it)."""
    known = set(gt.getImgIds())
    unknown = {p["image_id"] for p in predictions} - known
    if unknown:
        raise DatasetError(
            f"predictions name images not in the ground truth: "
            f"{sorted(unknown)[:5]}; evaluate against the matching split"
        )
    if predictions:
        with contextlib.redirect_stdout(io.StringIO()):
            return gt.loadRes([dict(p) for p in predictions])
    dt = COCO()
    dt.dataset = {
        "images": list(gt.dataset["images"]),
        "categories": gt.dataset["categories"],
        "annotations": [],
    }
    with contextlib.redirect_stdout(io.StringIO()):
        dt.createIndex()
    return dt


def _per_class_ap(precision: np.ndarray, iou_index: int | None = None) -> np.ndarray:
    """AP per category from COCOeval precision [T, R, K, A, M] at area=all, maxDets=100.

    Averages over IoU thresholds (or takes one) and recall points, skipping -1 entries;
    a category without ground truth gets -1.
    """
    p = precision[:, :, :, 0, -1] if iou_index is None else precision[[iou_index], :, :, 0, -1]
    out = np.full(p.shape[2], -1.0)
    for k in range(p.shape[2]):
        valid = p[:, :, k][p[:, :, k] > -1]
        if valid.size:
            out[k] = float(valid.mean())
    return out


def confusion_matrix(
    gt: COCO,
    predictions: Sequence[dict],
    iou_threshold: float = CONFUSION_IOU,
    score_threshold: float = CONFUSION_SCORE,
) -> np.ndarray:
    """Detection confusion matrix, shape [K + 1, K + 1]: rows true class, columns predicted.

    Index K is background: row K counts detections matching no ground truth (false positives),
    column K counts ground truths no detection matched (misses). Per image, detections with
    score >= `score_threshold` are matched to non-crowd ground truths greedily by IoU (highest
    first, IoU >= `iou_threshold`), regardless of class, so a wrong-class hit lands off-diagonal.
    """
    cat_ids = sorted(gt.getCatIds())
    index = {c: i for i, c in enumerate(cat_ids)}
    k = len(cat_ids)
    matrix = np.zeros((k + 1, k + 1), dtype=np.int64)
    by_image: dict[int, list[dict]] = {}
    for p in predictions:
        if p["score"] >= score_threshold and p["category_id"] in index:
            by_image.setdefault(p["image_id"], []).append(p)
    for image_id in gt.getImgIds():
        anns = [a for a in gt.loadAnns(gt.getAnnIds(imgIds=[image_id])) if not a.get("iscrowd")]
        dets = by_image.get(image_id, [])
        g_cls = [index[a["category_id"]] for a in anns]
        d_cls = [index[d["category_id"]] for d in dets]
        pairs = _greedy_match([a["bbox"] for a in anns], [d["bbox"] for d in dets], iou_threshold)
        for gi, di in pairs:
            matrix[g_cls[gi], d_cls[di]] += 1
        for gi in set(range(len(anns))) - {g for g, _ in pairs}:
            matrix[g_cls[gi], k] += 1
        for di in set(range(len(dets))) - {d for _, d in pairs}:
            matrix[k, d_cls[di]] += 1
    return matrix


def _greedy_match(gt_boxes: list, dt_boxes: list, iou_threshold: float) -> list[tuple[int, int]]:
    """One-to-one (gt, det) index pairs with IoU >= threshold, taken in descending IoU order."""
    if not gt_boxes or not dt_boxes:
        return []

    ious = np.asarray(mask_utils.iou(dt_boxes, gt_boxes, [0] * len(gt_boxes)))  # [D, G], xywh
    order = np.dstack(np.unravel_index(np.argsort(-ious, axis=None), ious.shape))[0]
    used_d, used_g, pairs = set(), set(), []
    for di, gi in order:
        if ious[di, gi] < iou_threshold:
            break
        if di not in used_d and gi not in used_g:
            used_d.add(int(di))
            used_g.add(int(gi))
            pairs.append((int(gi), int(di)))
    return pairs


def evaluate_coco(
    gt_json: str | Path | dict,
    predictions: Sequence[dict],
    score_threshold: float = CONFUSION_SCORE,
    iou_threshold: float = CONFUSION_IOU,
) -> dict[str, Any]:
    """COCOeval (bbox) of COCO-results `predictions` against the ground truth `gt_json`.

    Returns a JSON-able dict: AP, AP50, AP75, APs, APm, APl, AR1, AR10, AR100, ARs, ARm, ARl
    (COCO's stats; -1 where the split has no object of that size), `per_class_AP` and
    `per_class_AP50` {class name: AP or -1}, `precision` (COCOeval eval['precision'] as nested
    lists [T=10 IoUs, R=101 recalls, K classes, A=4 areas, M=3 maxDets], -1 kept),
    `iou_thresholds`, `recall_thresholds`, `classes`, `confusion` ([K+1, K+1], background last)
    with `confusion_iou` and `confusion_score`, `num_images`, `num_predictions`.
    """
    gt = load_gt(gt_json)
    predictions = list(predictions)
    dt = _load_results(gt, predictions)
    coco_eval = COCOeval(gt, dt, iouType="bbox")
    summary = io.StringIO()
    with contextlib.redirect_stdout(summary):
        coco_eval.evaluate()
        coco_eval.accumulate()
        coco_eval.summarize()
    log.debug("COCOeval summary:\n%s", summary.getvalue())
    cat_ids = sorted(gt.getCatIds())
    names = [gt.cats[c]["name"] for c in cat_ids]
    precision = coco_eval.eval["precision"]  # [T, R, K, A, M]
    result: dict[str, Any] = {name: float(v) for name, v in zip(STAT_NAMES, coco_eval.stats)}
    result.update(
        classes=names,
        per_class_AP=dict(zip(names, _per_class_ap(precision).tolist())),
        per_class_AP50=dict(zip(names, _per_class_ap(precision, iou_index=0).tolist())),
        precision=np.round(precision, PRECISION_DECIMALS).tolist(),
        iou_thresholds=np.round(coco_eval.params.iouThrs, 2).tolist(),
        recall_thresholds=np.round(coco_eval.params.recThrs, 2).tolist(),
        confusion=confusion_matrix(gt, predictions, iou_threshold, score_threshold).tolist(),
        confusion_iou=iou_threshold,
        confusion_score=score_threshold,
        num_images=len(gt.getImgIds()),
        num_predictions=len(predictions),
    )
    return result


def detections_to_coco(
    detections: Iterable[dict],
    image_ids: Iterable[int],
    scales: Iterable[float],
    offsets: Iterable[Sequence[float]],
    orig_sizes: Iterable[Sequence[int]],
) -> list[dict]:
    """Per-image detections in letterboxed pixels -> COCO results in original image pixels.

    `detections`: dicts with boxes [K, 4] (x1, y1, x2, y2), scores [K], labels [K] (0-based);
    original = (letterboxed - offset) / scale, clipped to the image (orig_size is (H, W)).
    Category ids are label + 1 (the internal datasets number categories 1..K in class order).
    """
    results = []
    for det, image_id, scale, offset, orig_size in zip(
        detections, image_ids, scales, offsets, orig_sizes
    ):
        boxes = to_original(det["boxes"].detach().float().cpu().numpy(), scale, offset, orig_size)
        scores = det["scores"].detach().float().cpu().numpy()
        labels = det["labels"].detach().cpu().numpy()
        for (x1, y1, x2, y2), s, c in zip(boxes.tolist(), scores.tolist(), labels.tolist()):
            if x2 > x1 and y2 > y1:
                results.append(
                    {
                        "image_id": int(image_id),
                        "category_id": int(c) + 1,
                        "bbox": [round(x1, 2), round(y1, 2), round(x2 - x1, 2), round(y2 - y1, 2)],
                        "score": round(float(s), 5),
                    }
                )
    return results


def predict_dataset(
    bench,
    loader,
    device: torch.device | str,
    score_threshold: float = EVAL_SCORE_THRESHOLD,
    max_detections: int = 100,
    should_stop: Callable[[], bool] | None = None,
    progress: Callable[[int, int], None] | None = None,
    one_label: bool = False,
) -> list[dict]:
    """Run `bench.predict` over a DataLoader of (images [B,3,H,W], targets) -> COCO results.

    As the COCO protocol (and effdet) scores a detector, every class keeps its own boxes: the
    cross-class step that leaves a drawn object one label (`one_label=True`) would delete the
    right class's box wherever the wrong class scored higher, so an object the detector found
    with its second guess would count as missed (confusable shapes, large ones most).
    The bench must already be in eval mode; `should_stop()` (optional) is polled per batch and
    a True answer stops early (the caller decides what a partial result means);
    `progress(done_batches, total_batches)` is called after each batch.
    """
    import torch

    results: list[dict] = []
    with torch.inference_mode():
        for index, (images, targets) in enumerate(loader):
            if should_stop is not None and should_stop():
                break
            if progress is not None and index:
                progress(index, len(loader))
            dets = bench.predict(
                images.to(device),
                score_threshold=score_threshold,
                max_detections=max_detections,
                one_label=one_label,
            )
            results += detections_to_coco(
                dets,
                [t["image_id"] for t in targets],
                [float(t["scale"]) for t in targets],
                [t["offset"] for t in targets],
                [t["orig_size"] for t in targets],
            )
    return results


def evaluate_job(spec: dict, reporter: Reporter) -> dict[str, Any]:
    """The `evaluate` task: COCO-evaluate a stored model on a dataset split.

    Writes runs/<id>/eval.json and predictions.json, logs `<split>/AP`... metrics and returns
    the summary numbers.
    """
    from torch.utils.data import DataLoader

    store, split = reporter.store, spec["split"]
    loaded = load_model(
        store,
        spec["model"],
        device=reporter.device,
        image_size=tuple(spec["image_size"]) if spec.get("image_size") else None,
        optimize=False,
    )
    info = open_dataset(store, spec["dataset"])
    if list(loaded.classes) != list(info.classes):
        raise DatasetError(
            f"model {loaded.name} knows classes {loaded.classes[:6]}..., dataset "
            f"{info.name!r} has {info.classes[:6]}...; evaluate on a dataset with "
            "the same classes in the same order"
        )
    dataset = DetectionDataset(
        store, info.name, split, loaded.image_size, size_multiple=loaded.config.stride_multiple
    )
    loader = DataLoader(
        dataset,
        batch_size=spec["batch_size"],
        shuffle=False,
        num_workers=spec["workers"],
        collate_fn=collate,
    )
    reporter.info(f"evaluating {loaded.name} on {info.name}/{split} ({len(dataset)} images)")
    predictions = predict_dataset(
        loaded.bench,
        loader,
        loaded.device,
        should_stop=reporter.should_stop,
        progress=lambda done, total: reporter.progress(
            0.95 * done / total, f"batch {done}/{total}"
        ),
    )
    reporter.check_stop()
    metrics = evaluate_coco(
        info.split_json(split), predictions, score_threshold=spec["score_threshold"]
    )
    for name, data in (("eval.json", metrics), ("predictions.json", predictions)):
        path = reporter.run_dir / name
        path.write_text(json.dumps(data), encoding="utf-8")
        reporter.artifact("evaluation" if name == "eval.json" else "predictions", path)
    summary = {key: metrics[key] for key in SUMMARY_KEYS}
    for key, value in summary.items():
        if value >= 0:
            reporter.metric(f"{split}/{key}", value)
    reporter.info(f"{split} AP {summary['AP']:.4f}, AP50 {summary['AP50']:.4f}")
    return {
        "model": loaded.name,
        "dataset": info.name,
        "split": split,
        **summary,
        "per_class_AP": metrics["per_class_AP"],
    }
