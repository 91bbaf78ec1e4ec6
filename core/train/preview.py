"""Per-epoch previews of a train job: the current model's boxes on a few validation images.

After every epoch the trainer writes runs/<id>/preview.json (artifact kind "preview"):

    {"epoch": 3, "epochs": 12, "score_threshold": 0.41 | null,
     "images": [{"path": "<image file>", "image_id": 7,
                 "gt_boxes": [[x1, y1, x2, y2], ...], "gt_labels": [0, ...],
                 "detections": [{"box": [x1, y1, x2, y2], "score": 0.93, "label": 0}, ...]}]}

Boxes are in original image pixels, labels 0-based. Only detections at or above
PREVIEW_MIN_SCORE are kept (a viewer filters further). The file is small (a few KiB) and
rewritten atomically, so a GUI polling it never reads half of one.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from core.io import write_json_atomic

PREVIEW_IMAGES = 4
PREVIEW_MIN_SCORE = 0.05
PREVIEW_FILE = "preview.json"


def preview_doc(
    records: Sequence[Any],
    predictions: Sequence[dict],
    epoch: int,
    epochs: int,
    score_threshold: float | None,
) -> dict[str, Any]:
    """The preview document of `records` (core.data.dataset.Record) from COCO-results
    predictions (bbox [x, y, w, h], category_id = label + 1), keeping only those images."""
    by_image: dict[int, list[dict]] = {}
    for p in predictions:
        if p["score"] >= PREVIEW_MIN_SCORE:
            x, y, w, h = p["bbox"]
            by_image.setdefault(int(p["image_id"]), []).append(
                {
                    "box": [x, y, x + w, y + h],
                    "score": round(float(p["score"]), 4),
                    "label": int(p["category_id"]) - 1,
                }
            )
    images = []
    for rec in records:
        dets = sorted(by_image.get(rec.image_id, []), key=lambda d: -d["score"])
        images.append(
            {
                "path": str(rec.path),
                "image_id": rec.image_id,
                "gt_boxes": rec.boxes.tolist(),
                "gt_labels": rec.labels.tolist(),
                "detections": dets,
            }
        )
    return {"epoch": epoch, "epochs": epochs, "score_threshold": score_threshold, "images": images}


def write_preview(run_dir: Path, doc: dict[str, Any]) -> Path:
    """Write runs/<id>/preview.json atomically; returns its path."""
    return write_json_atomic(Path(run_dir) / PREVIEW_FILE, doc)


def load_preview(store: Any, job_id: int | None) -> dict[str, Any] | None:
    """The newest preview document of a train job (None before its first epoch ends or when
    the file cannot be read: the next epoch rewrites it)."""
    if not job_id:
        return None
    for art in reversed(store.artifacts(int(job_id), kind="preview")):
        try:
            return json.loads(store.resolve_path(art["path"]).read_text(encoding="utf-8"))
        except (OSError, ValueError):
            continue
    return None
