"""The Guided demo's ending: the detector's boxes drawn large, the score in plain words, the
threshold it chose for itself, and a picture of one's own (uploaded or drawn) detected at once.

The default score threshold is the model's own F1-best one on the val split (chosen by the
trainer at evaluation time: eval.json "score_threshold"), not a fixed number.
"""

from __future__ import annotations

import math
from collections import Counter
from typing import Any

import numpy as np

from core.app import models
from core.app.jobs import Store
from core.errors import NasdetError, SpecError
from core.viz.common import markdown_text, plain_text
from nasdet_gui.guided.live import caption, draw_detections

RESULT_IMAGES = 4
RESULT_SIDE = 420  # px: result pictures are drawn this large
FALLBACK_THRESHOLD = 0.3
MIN_SCORE = 0.05  # detections kept for the threshold slider


def model_of(train_job: dict | None) -> str | None:
    """The model a finished train job registered (`job-<id>`)."""
    if not train_job:
        return None
    return (train_job.get("result") or {}).get("model") or f"job-{train_job['id']}"


def evaluation_of(store: Store, model: str | None) -> dict[str, Any] | None:
    """The model's newest evaluation (eval.json: metrics, chosen threshold), or None."""
    if not model:
        return None
    try:
        return models.latest_evaluation(store, model)
    except NasdetError:
        return None


def default_threshold(evaluation: dict[str, Any] | None) -> float:
    """The model's own F1-best threshold, else FALLBACK_THRESHOLD (older models)."""
    value = (evaluation or {}).get("score_threshold")
    if value is None:
        return FALLBACK_THRESHOLD
    return math.floor(float(value) * 100) / 100  # the slider's 0.01 steps, keeping every box


def result_gallery(state: dict | None, threshold: float) -> list[tuple[np.ndarray, str]]:
    """The result pictures at this threshold: boxes large, tags that never overlap."""
    if not state:
        return []
    return [
        (draw_detections(item, state["classes"], threshold, RESULT_SIDE), caption(item, threshold))
        for item in state["items"]
    ]


def legend_html(classes: list[str]) -> str:
    """The colour key: each class's colour and name (boxes without a tag are told by colour)."""
    from core.viz.detections import class_color_hex

    chips = "".join(
        f"<span class='demo-chip'><i style='background:{class_color_hex(k)}'></i>"
        f"{plain_text(name)}</span>"
        for k, name in enumerate(classes)
    )
    return f"<div class='demo-legend'>{chips}</div>" if chips else ""


def own_picture(value: Any) -> np.ndarray:
    """An RGB uint8 image from an uploaded or drawn picture (transparency on white)."""
    if value is None:
        raise SpecError("no picture: upload one or draw on the canvas first")
    image = np.asarray(value)
    if image.ndim == 2:
        image = np.repeat(image[:, :, None], 3, axis=2)
    if image.shape[2] == 4:
        alpha = image[:, :, 3:4].astype(np.float32) / 255.0
        image = (image[:, :, :3] * alpha + 255.0 * (1 - alpha)).round()
    return np.ascontiguousarray(image[:, :, :3]).astype(np.uint8)


def detect_own(cache: Any, model: str, value: Any, threshold: float) -> tuple[np.ndarray, str]:
    """Detect on a picture of one's own with the demo's model: (drawn image, plain caption)."""
    image = own_picture(value)
    detections, classes = models.detect_image(cache, model, image, MIN_SCORE)
    item = {"image": image, "detections": detections}
    drawn = draw_detections(item, classes, threshold, RESULT_SIDE)
    kept = [d for d in item["detections"] if d["score"] >= threshold]
    return drawn, found_sentence([d["class_name"] for d in kept])


def found_sentence(names: list[str]) -> str:
    """'Found 3 shapes: 2 circles, 1 square.' (or how to do better when there are none)."""
    if not names:
        return "Found 0 shapes. Try bigger, bolder shapes."
    counts = Counter(names)
    parts = ", ".join(
        f"{n} {markdown_text(name)}{_plural(name) if n != 1 else ''}"
        for name, n in sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))
    )
    return f"Found {len(names)} shape{'s' * (len(names) != 1)}: {parts}."


def _plural(name: str) -> str:
    return "es" if name.endswith(("s", "x", "ch", "sh")) else "s"
