"""NAS proxy crops: shapes, labels, split by image, cache, per-class cap."""

from __future__ import annotations

import numpy as np
import torch

from core.data.crops import crop_object, load_proxy


def test_crop_object_context_and_border():
    image = np.zeros((50, 50, 3), np.uint8)
    image[10:20, 10:30] = 200  # a 20 x 10 box
    crop = crop_object(image, np.array([10, 10, 30, 20]), size=24, context=0.1)
    assert crop.shape == (24, 24, 3)
    # side = 20 * 1.2 = 24 px square centred on (20, 15): rows 3..26, so box rows 7..16 are lit
    assert crop[12, 12, 0] == 200 and crop[0, 12, 0] == 0 and crop[23, 12, 0] == 0
    edge = crop_object(image, np.array([0, 0, 10, 10]), size=8, context=0.5)
    assert edge.shape == (8, 8, 3) and edge[0, 0, 0] == 0  # zero padding past the border


def test_load_proxy_contract_and_cache(tiny):
    data = load_proxy(tiny, "tiny", size=16, context=0.2)
    counts = tiny.get_dataset("tiny")["counts"]
    assert data.train_x.shape == (counts["train_objects"], 3, 16, 16)
    assert data.val_x.shape == (counts["val_objects"], 3, 16, 16)
    assert data.train_x.dtype == torch.uint8 and data.train_y.dtype == torch.int64
    assert data.classes[0] == "circle" and int(data.train_y.max()) < len(data.classes)
    cache = list((tiny.home / "datasets" / "tiny" / "proxy").glob("*.npz"))
    assert len(cache) == 1
    again = load_proxy(tiny, "tiny", size=16, context=0.2)
    assert torch.equal(again.train_x, data.train_x) and torch.equal(again.val_y, data.val_y)


def test_max_per_class(tiny):
    data = load_proxy(tiny, "tiny", size=8, max_per_class=1, seed=3)
    assert torch.bincount(data.train_y).max() == 1
