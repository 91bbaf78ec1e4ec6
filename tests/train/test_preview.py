"""A train job's by-products for the live views: preview.json every epoch, the F1-best score
threshold with the model's metrics, progress that ends at 1 with no ETA left."""

from __future__ import annotations

import json

import torch

from core.engine.store import Store
from core.train.preview import PREVIEW_IMAGES
from tests.train.conftest import TINY_MODEL, make_dataset, run_in_process

SPEC = {
    "dataset": "six",
    **TINY_MODEL,
    "epochs": 2,
    "batch_size": 4,
    "workers": 0,
    "eval_every": 2,
    "augment": False,
}


def test_preview_threshold_and_progress(tmp_path):
    store = Store(tmp_path / "home")
    torch.manual_seed(0)
    make_dataset(store, "six", 6, val_is_train=True, repeat=2)
    job = run_in_process(store, "train", SPEC)
    assert job["status"] == "succeeded", job["error"]
    arts = store.artifacts(job["id"], kind="preview")
    assert len(arts) == 1
    doc = json.loads(store.resolve_path(arts[0]["path"]).read_text())
    assert doc["epoch"] == 2 and doc["epochs"] == 2
    assert len(doc["images"]) == min(PREVIEW_IMAGES, 6)
    first = doc["images"][0]
    assert first["gt_boxes"] and len(first["gt_boxes"]) == len(first["gt_labels"])
    assert all(d["score"] >= 0.05 and len(d["box"]) == 4 for d in first["detections"])
    # the threshold chosen at the last evaluation is the one the preview and the model carry
    model = store.get_model(job["result"]["model"])
    threshold = model["metrics"]["score_threshold"]
    assert 0.05 <= threshold <= 1.0
    assert job["result"]["score_threshold"] == threshold == doc["score_threshold"]
    assert job["progress"] == 1.0 and job["eta_s"] is None
