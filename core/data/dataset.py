"""The training-side view of a dataset: a torch Dataset over the internal COCO form.

`DetectionDataset(store, name, split, image_size, augment)` yields `(image, target)`:
image float32 [3, H, W] in [0, 1] RGB, letterboxed (or scale-jittered when augmenting) to
`image_size`, padding 0; target = {"boxes": float32 [N, 4] (x1, y1, x2, y2) in the output image,
"labels": int64 [N] 0-based class index, "image_id": int (COCO id), "scale": float,
"offset": (x, y), "orig_size": (H, W), "iscrowd": bool [N]} with
original = (output - offset) / scale. Crowd boxes are kept (flagged) for evaluation; the
training loss should ignore them.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch.utils.data import DataLoader, Dataset

from core.data.images import read_rgb
from core.data.internal import IMAGES_DIR, SPLITS, read_json, split_json
from core.data.transforms import AugmentConfig, DetectionTransform, round_up_to_multiple
from core.errors import DatasetError, SpecError

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class DatasetInfo:
    """Where a registered dataset lives and what it holds."""

    name: str
    kind: str
    root: Path
    classes: list[str]
    train_json: Path
    val_json: Path
    images_dir: Path
    counts: dict

    def split_json(self, split: str) -> Path:
        return split_json(self.root, split)


def open_dataset(store, name: str) -> DatasetInfo:
    """Look a dataset up in the store (NotFoundError if unknown; DatasetError if its files are
    gone)."""
    row = store.get_dataset(name)
    root = store.resolve_path(row["path"])
    if not root.is_dir():
        raise DatasetError(
            f"dataset {name!r} is registered but its folder {root} is missing; "
            "re-import or regenerate it"
        )
    return DatasetInfo(
        name=name,
        kind=row.get("kind") or "",
        root=root,
        classes=list(row["classes"] or []),
        train_json=split_json(root, "train"),
        val_json=split_json(root, "val"),
        images_dir=root / IMAGES_DIR,
        counts=row.get("counts") or {},
    )


@dataclass(frozen=True)
class Record:
    """One image of a split: file, COCO id, boxes float32 [N, 4] xyxy, labels, crowd flags."""

    image_id: int
    path: Path
    boxes: np.ndarray
    labels: np.ndarray
    iscrowd: np.ndarray


def load_records(info: DatasetInfo, split: str) -> list[Record]:
    """The images of a split with their annotations (COCO [x, y, w, h] -> xyxy, ids -> 0-based)."""
    if split not in SPLITS:
        raise SpecError(f"unknown split {split!r}; use one of {', '.join(SPLITS)}")
    doc = read_json(info.split_json(split))
    per_image: dict[int, list[dict]] = {im["id"]: [] for im in doc["images"]}
    for ann in doc["annotations"]:
        if ann["image_id"] in per_image:
            per_image[ann["image_id"]].append(ann)
    records = []
    for im in doc["images"]:
        anns = per_image[im["id"]]
        xywh = np.array([a["bbox"] for a in anns], np.float32).reshape(-1, 4)
        boxes = np.concatenate([xywh[:, :2], xywh[:, :2] + xywh[:, 2:]], axis=1)
        records.append(
            Record(
                image_id=int(im["id"]),
                path=info.images_dir / im["file_name"],
                boxes=boxes,
                labels=np.array([a["category_id"] - 1 for a in anns], np.int64),
                iscrowd=np.array([bool(a.get("iscrowd", 0)) for a in anns], bool),
            )
        )
    return records


class DetectionDataset(Dataset):
    """Images and boxes of one split, letterboxed (and augmented) for a detector."""

    def __init__(
        self,
        store,
        name: str,
        split: str,
        image_size: int | tuple[int, int],
        augment: bool = False,
        scale_range: tuple[float, float] = (0.1, 2.0),
        augment_config: AugmentConfig | None = None,
        size_multiple: int = 1,
    ):
        """`size_multiple`: pad the output size up to a multiple (e.g. 128 for levels P3-P7)."""
        self.info = open_dataset(store, name)
        self.split = split
        self.classes = self.info.classes
        self.records = load_records(self.info, split)
        self.image_size = round_up_to_multiple(image_size, size_multiple)
        config = augment_config or AugmentConfig(scale_range=tuple(scale_range))
        self.transform = DetectionTransform(self.image_size, augment, config)

    def __len__(self) -> int:
        return len(self.records)

    def __getitem__(self, index: int) -> tuple[torch.Tensor, dict[str, Any]]:
        rec = self.records[index]
        image = read_rgb(rec.path)
        out = self.transform(image, rec.boxes, rec.labels, rec.iscrowd)
        target = {
            "boxes": out.boxes,
            "labels": out.labels,
            "image_id": rec.image_id,
            "scale": out.scale,
            "offset": out.offset,
            "orig_size": tuple(image.shape[:2]),
            "iscrowd": out.iscrowd,
        }
        return out.image, target


def collate(batch: list[tuple[torch.Tensor, dict]]) -> tuple[torch.Tensor, list[dict]]:
    """Stack images into [B, 3, H, W] (padding smaller ones with 0 at the bottom/right) and keep
    targets as a list."""
    images = [item[0] for item in batch]
    h = max(im.shape[1] for im in images)
    w = max(im.shape[2] for im in images)
    out = images[0].new_zeros((len(images), 3, h, w))
    for i, im in enumerate(images):
        out[i, :, : im.shape[1], : im.shape[2]] = im
    return out, [item[1] for item in batch]


def make_loader(
    dataset: Dataset,
    batch_size: int,
    shuffle: bool,
    num_workers: int = 0,
    seed: int = 0,
    drop_last: bool = False,
) -> DataLoader:
    """A DataLoader with `collate`; seeded shuffling; `num_workers` processes (0: in-process)."""
    generator = torch.Generator().manual_seed(seed)
    return DataLoader(
        dataset,
        batch_size=batch_size,
        shuffle=shuffle,
        num_workers=num_workers,
        collate_fn=collate,
        generator=generator,
        drop_last=drop_last,
        persistent_workers=num_workers > 0,
    )
