"""NAS proxy data: object crops with context, resized to small squares, with class labels.

A cell search (DARTS-style, Liu et al. 2019) needs a cheap classification task; here each
non-crowd object becomes one sample: a square crop centred on its box, side = max(w, h) *
(1 + 2 * context), zero-padded past the border, resized (INTER_AREA) to `size` x `size`.
Train samples come from the dataset's train images and val samples from its val images, so the
split is by image. The arrays are cached under `<dataset>/proxy/` and rebuilt when the
dataset's JSON files change.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
import torch

from core.data.dataset import DatasetInfo, Record, load_records, open_dataset
from core.data.images import read_rgb
from core.errors import DatasetError, SpecError
from core.io import atomic_open

log = logging.getLogger(__name__)

PROXY_DIR = "proxy"
MIN_BOX_SIDE = 2.0  # objects thinner than this (pixels) are not used


@dataclass(frozen=True)
class ProxyData:
    """x: uint8 [N, 3, size, size] RGB crops; y: int64 [N] 0-based class indices."""

    train_x: torch.Tensor
    train_y: torch.Tensor
    val_x: torch.Tensor
    val_y: torch.Tensor
    classes: list[str]


def load_proxy(
    store,
    name: str,
    size: int = 32,
    context: float = 0.2,
    seed: int = 0,
    max_per_class: int | None = None,
    check: Callable[[], None] | None = None,
) -> ProxyData:
    """Crops of every object of dataset `name` (cached on disk; see the module docstring).

    `max_per_class` caps the samples per class and split (a seeded random subset); `check()`
    runs before each image while the crops are built (a cancel or a deadline raises from it).
    """
    if size < 4 or context < 0 or (max_per_class is not None and max_per_class < 1):
        raise SpecError(
            f"proxy needs size >= 4, context >= 0, max_per_class >= 1; got size={size}, "
            f"context={context}, max_per_class={max_per_class}"
        )
    info = open_dataset(store, name)
    cache = _cache_path(info, size, context, seed, max_per_class)
    stamp = _fingerprint(info)
    arrays = _read_cache(cache, stamp)
    if arrays is None:
        arrays = {}
        for split in ("train", "val"):
            x, y = build_crops(load_records(info, split), size, context, check)
            x, y = _cap_per_class(x, y, max_per_class, seed, len(info.classes))
            arrays[f"{split}_x"], arrays[f"{split}_y"] = x, y
        _write_cache(cache, arrays, stamp)
        log.info(
            "proxy data for %s: %d train / %d val crops of %dpx",
            name,
            len(arrays["train_y"]),
            len(arrays["val_y"]),
            size,
        )
    if len(arrays["train_y"]) == 0:
        raise DatasetError(
            f"dataset {name!r} has no usable objects in its train split for the NAS proxy"
        )
    return ProxyData(
        *(torch.from_numpy(arrays[k]) for k in ("train_x", "train_y", "val_x", "val_y")),
        classes=info.classes,
    )


def crop_object(image: np.ndarray, box: np.ndarray, size: int, context: float) -> np.ndarray:
    """A square crop around box (x1, y1, x2, y2) of an RGB uint8 [H, W, 3] image, resized to
    [size, size, 3]."""
    x1, y1, x2, y2 = (float(v) for v in box)
    side = max(x2 - x1, y2 - y1) * (1 + 2 * context)
    cx, cy = (x1 + x2) / 2, (y1 + y2) / 2
    left, top = int(round(cx - side / 2)), int(round(cy - side / 2))
    side_px = max(int(round(side)), 1)
    h, w = image.shape[:2]
    crop = np.zeros((side_px, side_px, 3), np.uint8)
    ya, yb = max(top, 0), min(top + side_px, h)
    xa, xb = max(left, 0), min(left + side_px, w)
    if yb > ya and xb > xa:
        crop[ya - top : yb - top, xa - left : xb - left] = image[ya:yb, xa:xb]
    interp = cv2.INTER_AREA if side_px > size else cv2.INTER_LINEAR
    return cv2.resize(crop, (size, size), interpolation=interp)


def build_crops(
    records: list[Record], size: int, context: float, check: Callable[[], None] | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """Crops of the non-crowd objects of `records` -> (x uint8 [N, 3, s, s], y int64 [N]);
    `check()` before each image."""
    xs, ys = [], []
    for rec in records:
        if check is not None:
            check()
        keep = ~rec.iscrowd & ((rec.boxes[:, 2:] - rec.boxes[:, :2]).min(axis=1) >= MIN_BOX_SIDE)
        if not keep.any():
            continue
        image = read_rgb(rec.path)
        for box, label in zip(rec.boxes[keep], rec.labels[keep]):
            xs.append(crop_object(image, box, size, context).transpose(2, 0, 1))
            ys.append(int(label))
    x = np.stack(xs) if xs else np.zeros((0, 3, size, size), np.uint8)
    return np.ascontiguousarray(x), np.array(ys, np.int64)


def _cap_per_class(
    x: np.ndarray, y: np.ndarray, cap: int | None, seed: int, num_classes: int
) -> tuple[np.ndarray, np.ndarray]:
    if cap is None:
        return x, y
    rng = np.random.default_rng(seed)
    keep = []
    for c in range(num_classes):
        idx = np.flatnonzero(y == c)
        keep.append(np.sort(rng.permutation(idx)[:cap]))
    order = np.sort(np.concatenate(keep)) if keep else np.zeros(0, np.int64)
    return x[order], y[order]


def _cache_path(
    info: DatasetInfo, size: int, context: float, seed: int, max_per_class: int | None
) -> Path:
    cap = "all" if max_per_class is None else str(max_per_class)
    return info.root / PROXY_DIR / f"s{size}_c{context:g}_seed{seed}_m{cap}.npz"


def _fingerprint(info: DatasetInfo) -> np.ndarray:
    stats = [os.stat(info.train_json), os.stat(info.val_json)]
    return np.array([v for s in stats for v in (s.st_mtime_ns, s.st_size)], np.int64)


def _read_cache(path: Path, stamp: np.ndarray) -> dict | None:
    if not path.is_file():
        return None
    try:
        with np.load(path, allow_pickle=False) as data:
            if not np.array_equal(data["stamp"], stamp):
                return None
            return {k: data[k] for k in ("train_x", "train_y", "val_x", "val_y")}
    except (OSError, ValueError, KeyError) as exc:
        log.warning("proxy cache %s unreadable (%s); rebuilding", path, exc)
        return None


def _write_cache(path: Path, arrays: dict, stamp: np.ndarray) -> None:
    with atomic_open(path) as f:
        np.savez(f, stamp=stamp, **arrays)
