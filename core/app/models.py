"""Stored detectors as a screen or a CLI verb sees them: their names, datasets, evaluations and
own thresholds (core.train.evaluations), and detections on pictures with a loaded model kept in
a small cache shared by every session of the app (models are read-only once stored)."""

from __future__ import annotations

import threading
from collections import Counter, OrderedDict
from typing import Any

from core.app.model_list import model_row
from core.data.dataset import load_records, open_dataset
from core.data.images import MAX_PIXELS, read_rgb
from core.engine.queries import model_names
from core.engine.store import Store
from core.train.evaluations import latest_evaluation, model_dataset, model_threshold
from core.train.predict import LoadedModel, load_model, predict_images, result_to_json

MIN_SCORE = 0.05  # detections kept for a score slider to filter
CACHED_MODELS = 2

__all__ = [
    "CACHED_MODELS",
    "MIN_SCORE",
    "ModelCache",
    "dataset_items",
    "detect",
    "latest_evaluation",
    "model_dataset",
    "model_choices",
    "model_names",
    "model_title",
    "model_threshold",
]


def model_choices(store: Store) -> list[tuple[str, str]]:
    """Dropdown choices (what the model is, its stored name), newest first: the title says
    "EfficientDet-tiny on the searched cell of search 5, shapes-demo, 15 epochs" and the
    stored name stays the value every reader keys on; titles two models share get the name
    added, so each choice reads apart."""
    rows = [model_row(store, row) for row in store.list_models()]
    seen = Counter(r["title"] for r in rows)
    return [
        (r["title"] if seen[r["title"]] == 1 else f"{r['title']} ({r['name']})", r["name"])
        for r in rows
    ]


def model_title(store: Store, name: str) -> str:
    """What a stored model is, in words (core.app.model_list.title)."""
    return model_row(store, store.get_model(name))["title"]


class ModelCache:
    """The last `size` loaded detectors, keyed by name, file and registration time (a model
    registered again under the same name is loaded again)."""

    def __init__(self, store: Store, size: int = CACHED_MODELS):
        self.store, self.size = store, size
        self._models: OrderedDict[tuple, LoadedModel] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, name: str) -> LoadedModel:
        row = self.store.get_model(name)
        key = (name, row["path"], row.get("created_at"))
        with self._lock:
            if key not in self._models:
                self._models[key] = load_model(self.store, name)
                while len(self._models) > self.size:
                    self._models.popitem(last=False)
            self._models.move_to_end(key)
            return self._models[key]


def dataset_items(store: Store, name: str, count: int) -> list[dict]:
    """The first `count` validation images of a dataset with their ground truth:
    {"path", "gt_boxes" [[x1, y1, x2, y2] px], "gt_labels" [0-based]}."""
    records = load_records(open_dataset(store, name), "val")[:count]
    return [
        {"path": str(r.path), "gt_boxes": r.boxes.tolist(), "gt_labels": r.labels.tolist()}
        for r in records
    ]


def detect(
    cache: ModelCache,
    model: str,
    items: list[dict],
    min_score: float = MIN_SCORE,
    max_pixels: int = MAX_PIXELS,
) -> dict[str, Any]:
    """Detect on every item's picture ({"path", ...}); returns {"model", "classes", "items"},
    each item with its "detections" [{"box", "score", "label", "class_name"}] above
    `min_score`. A file that is not an image, or has more than `max_pixels`, is refused
    (DatasetError naming the file) before the model is loaded."""
    images = [read_rgb(item["path"], max_pixels) for item in items]
    loaded = cache.get(model)
    results = predict_images(loaded, images, score_threshold=min_score)
    out = [dict(item, detections=result_to_json(res)) for item, res in zip(items, results)]
    return {"model": model, "classes": list(loaded.classes), "items": out}


def detect_image(
    cache: ModelCache, model: str, image: Any, min_score: float = MIN_SCORE
) -> tuple[list[dict], list[str]]:
    """Detect on one RGB picture (H, W, 3 uint8): (its detections as in `detect`, the model's
    class names)."""
    loaded = cache.get(model)
    result = predict_images(loaded, [image], score_threshold=min_score)[0]
    return result_to_json(result), list(loaded.classes)
