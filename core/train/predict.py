"""Prediction with a stored detector: letterbox in, boxes out in original image pixels.

`load_model(store, name_or_job)` finds a model row (a name, `job-ID` or a bare job id), builds
the detector from its checkpoint and wraps it in a DetectionBench; `predict_images` runs it on
RGB uint8 images in batches; `predict_files` is the CLI's `predict` (drawn images + JSON).
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from core.data.images import read_rgb, write_image
from core.data.transforms import letterbox, to_original
from core.det.bench import DetectionBench
from core.det.model_file import load_model_file
from core.references import resolve_model_row
from core.viz.detections import draw_boxes

log = logging.getLogger(__name__)

DEFAULT_SCORE_THRESHOLD = 0.3
MAX_DETECTIONS = 100


@dataclass
class LoadedModel:
    """A detector ready to predict: bench (eval mode, on `device`), classes, input (H, W)."""

    bench: Any
    classes: list[str]
    image_size: tuple[int, int]
    device: torch.device
    name: str = ""
    metrics: dict[str, Any] = field(default_factory=dict)
    config: Any = None  # the detector's DetConfig


def load_model(
    store,
    name_or_job: str | int,
    device: str | torch.device = "cpu",
    image_size: tuple[int, int] | None = None,
    optimize: bool = True,
) -> LoadedModel:
    """The model registered as `name_or_job` (NotFoundError / CheckpointError otherwise).

    `optimize`: predict with a BN-folded, channels_last copy of the model (same detections
    within float rounding, faster); evaluation turns it off to reproduce training's numbers.
    """
    row = resolve_model_row(store, name_or_job)
    model, meta = load_model_file(store.resolve_path(row["path"]), image_size=image_size)
    device = torch.device(device)
    bench = DetectionBench(model).to(device).eval()
    if optimize:
        bench.optimize_for_inference()
    classes = list(meta.get("classes") or row.get("classes") or [])
    return LoadedModel(
        bench=bench,
        classes=classes,
        image_size=tuple(model.config.image_size),
        device=device,
        name=row["name"],
        metrics=row.get("metrics") or {},
        config=model.config,
    )


def _batches(items: Sequence, size: int) -> Iterable[Sequence]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


@torch.inference_mode()
def predict_images(
    loaded: LoadedModel,
    images_rgb: Sequence[np.ndarray],
    score_threshold: float = DEFAULT_SCORE_THRESHOLD,
    batch_size: int = 8,
) -> list[dict[str, Any]]:
    """Detect objects in RGB uint8 [H, W, 3] images of any sizes.

    Returns per image {"boxes": float32 [K, 4] (x1, y1, x2, y2) in that image's pixels,
    "scores": float32 [K], "labels": int64 [K] (0-based), "class_names": list[str] [K]},
    highest score first.
    """
    results: list[dict[str, Any]] = []
    for chunk in _batches(list(images_rgb), max(1, batch_size)):
        boxed = [letterbox(np.asarray(image), loaded.image_size) for image in chunk]
        batch = (
            torch.stack(
                [
                    torch.from_numpy(np.ascontiguousarray(img)).permute(2, 0, 1)
                    for img, _, _ in boxed
                ]
            )
            .float()
            .div_(255.0)
        )
        dets = loaded.bench.predict(
            batch.to(loaded.device), score_threshold=score_threshold, max_detections=MAX_DETECTIONS
        )
        for image, (_, scale, offset), det in zip(chunk, boxed, dets):
            results.append(_to_result(det, scale, offset, image.shape[:2], loaded.classes))
    return results


def _to_result(
    det: dict, scale: float, offset: Sequence[float], orig_size: Sequence[int], classes: list[str]
) -> dict[str, Any]:
    boxes = to_original(det["boxes"].float().cpu().numpy(), scale, offset, orig_size)
    scores = det["scores"].float().cpu().numpy()
    labels = det["labels"].cpu().numpy().astype(np.int64)
    order = np.argsort(-scores, kind="stable")
    labels = labels[order]
    names = [classes[i] if 0 <= i < len(classes) else str(i) for i in labels.tolist()]
    return {
        "boxes": boxes[order].astype(np.float32),
        "scores": scores[order],
        "labels": labels,
        "class_names": names,
    }


def result_to_json(result: dict[str, Any]) -> list[dict[str, Any]]:
    """One image's result as JSON-able detections [{"box", "score", "label", "class_name"}]."""
    return [
        {
            "box": [round(float(v), 2) for v in box],
            "score": round(float(score), 5),
            "label": int(label),
            "class_name": name,
        }
        for box, score, label, name in zip(
            result["boxes"], result["scores"], result["labels"], result["class_names"]
        )
    ]


def _output_name(path: Path, used: set[str]) -> str:
    name, n = f"{path.stem}.jpg", 1
    while name in used:
        n += 1
        name = f"{path.stem}_{n}.jpg"
    used.add(name)
    return name


def predict_files(
    loaded: LoadedModel,
    paths: Sequence[str | os.PathLike],
    out_dir: str | os.PathLike,
    score_threshold: float = DEFAULT_SCORE_THRESHOLD,
    batch_size: int = 4,
) -> list[tuple[str, int]]:
    """Predict on image files; write `<out>/<stem>.jpg` (boxes drawn) and `<out>/predictions.json`.

    Returns (image path, number of detections) per image. Unreadable images raise DatasetError.
    """
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    records, summary, used = [], [], set()
    for chunk in _batches([Path(p) for p in paths], max(1, batch_size)):
        images = [read_rgb(p) for p in chunk]
        for path, image, result in zip(
            chunk, images, predict_images(loaded, images, score_threshold, batch_size)
        ):
            drawn = draw_boxes(
                image, result["boxes"], result["labels"], loaded.classes, result["scores"]
            )
            output = _output_name(path, used)
            write_image(out / output, drawn)
            records.append(
                {
                    "image": str(path),
                    "output": output,
                    "height": image.shape[0],
                    "width": image.shape[1],
                    "detections": result_to_json(result),
                }
            )
            summary.append((str(path), len(result["scores"])))
    (out / "predictions.json").write_text(
        json.dumps(
            {
                "model": loaded.name,
                "classes": loaded.classes,
                "score_threshold": score_threshold,
                "images": records,
            },
            indent=1,
        ),
        encoding="utf-8",
    )
    log.info("wrote %d predicted images to %s", len(records), out)
    return summary
