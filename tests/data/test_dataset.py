"""DetectionDataset, collate and open_dataset over the internal form."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from core.data.dataset import DetectionDataset, collate, make_loader, open_dataset
from core.errors import NotFoundError


def test_open_dataset(tiny):
    info = open_dataset(tiny, "tiny")
    assert info.classes[0] == "circle" and info.train_json.is_file() and info.images_dir.is_dir()
    with pytest.raises(NotFoundError):
        open_dataset(tiny, "nope")


def test_item_contract_and_mapping_back(tiny):
    ds = DetectionDataset(tiny, "tiny", "train", (64, 80), augment=False)
    assert len(ds) == 4
    coco = json.loads(open_dataset(tiny, "tiny").train_json.read_text())
    image, target = ds[0]
    assert image.shape == (3, 64, 80) and image.dtype == torch.float32
    assert 0.0 <= float(image.min()) and float(image.max()) <= 1.0
    assert target["boxes"].dtype == torch.float32 and target["labels"].dtype == torch.int64
    assert target["image_id"] == coco["images"][0]["id"]
    assert target["orig_size"] == (96, 96) and target["scale"] == pytest.approx(64 / 96)
    anns = [a for a in coco["annotations"] if a["image_id"] == target["image_id"]]
    want = np.array(
        [
            [a["bbox"][0], a["bbox"][1], a["bbox"][0] + a["bbox"][2], a["bbox"][1] + a["bbox"][3]]
            for a in anns
        ]
    )
    back = (target["boxes"].numpy() - np.array(target["offset"] * 2)) / target["scale"]
    np.testing.assert_allclose(back, want, atol=1e-3)
    assert target["labels"].tolist() == [a["category_id"] - 1 for a in anns]
    assert target["iscrowd"].dtype == torch.bool and not target["iscrowd"].any()
    assert image[:, :, 64:].abs().sum() == 0  # right-hand padding is 0


def test_size_multiple_pads_output(tiny):
    ds = DetectionDataset(tiny, "tiny", "val", 100, size_multiple=32)
    assert ds[0][0].shape == (3, 128, 128)


def test_collate_pads_to_largest():
    a = (torch.ones(3, 4, 6), {"image_id": 1})
    b = (torch.ones(3, 5, 3), {"image_id": 2})
    images, targets = collate([a, b])
    assert images.shape == (2, 3, 5, 6)
    assert images[0, :, 4:].sum() == 0 and images[1, :, :, 3:].sum() == 0
    assert [t["image_id"] for t in targets] == [1, 2]


def test_loader_with_augmentation(tiny):
    torch.manual_seed(0)
    ds = DetectionDataset(tiny, "tiny", "train", 64, augment=True, scale_range=(0.5, 1.5))
    images, targets = next(iter(make_loader(ds, batch_size=2, shuffle=True, seed=1)))
    assert images.shape == (2, 3, 64, 64) and len(targets) == 2
    for t in targets:
        b = t["boxes"]
        assert (b[:, 2] > b[:, 0]).all() and (b[:, 3] > b[:, 1]).all()
        assert b.min() >= 0 and b.max() <= 64


def test_loader_worker_processes(tiny):
    ds = DetectionDataset(tiny, "tiny", "val", 48)
    batches = list(make_loader(ds, batch_size=1, shuffle=False, num_workers=1))
    assert [t[0]["image_id"] for _, t in batches] == [r.image_id for r in ds.records]
    assert batches[0][0].shape == (1, 3, 48, 48)
