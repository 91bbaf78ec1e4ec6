"""Readers (and writers) of the dataset formats users bring: COCO, Pascal VOC, YOLO.

Each reader turns a source folder into a `Parsed`: class names and `RawImage`s whose boxes are
(x1, y1, x2, y2) pixels as written in the source (possibly outside the image, empty or NaN:
checking and fixing them is core.data.importers' job). Readers report what only they can see
(unknown category ids, malformed lines, duplicate ids) into the shared Report.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path

from core.errors import DatasetError

log = logging.getLogger(__name__)


@dataclass
class RawAnn:
    """One source annotation: 0-based class, box (x1, y1, x2, y2) in pixels, flags."""

    label: int
    box: tuple[float, float, float, float]
    iscrowd: bool = False
    difficult: bool = False


@dataclass
class RawImage:
    """One source image: its file, the size the annotations claim (H, W) or None, its split
    ("train", "val" or None when the source has no split) and its annotations (in pixels, or
    in [0, 1] of the image size when `normalized`)."""

    path: Path
    rel: str
    size: tuple[int, int] | None
    split: str | None
    anns: list[RawAnn] = field(default_factory=list)
    source_id: str | int | None = None
    normalized: bool = False
    note: str | None = None  # why it has no annotations, if the reader knows


@dataclass
class Parsed:
    format: str
    classes: list[str]
    images: list[RawImage]


def find_dataset_root(path: Path, max_depth: int = 3) -> tuple[str, Path]:
    """Detect the format of a source folder -> (format, root). The root may be a sub-folder
    (an archive often wraps everything in one top folder, VOC in VOCdevkit/VOC2007)."""
    for depth_root in candidate_roots(path, max_depth):
        fmt = detect_format(depth_root)
        if fmt is not None:
            return fmt, depth_root
    raise DatasetError(
        f"no COCO, VOC or YOLO dataset recognised in {path.name or path}: expected "
        "annotations/instances_*.json (or a COCO .json with images/annotations), "
        "Annotations/*.xml + JPEGImages/ (VOC), or data.yaml + images/ + labels/ (YOLO)")


def detect_format(root: Path) -> str | None:
    """'coco', 'voc', 'yolo' or None for a folder (checked in that order)."""
    from core.data.formats import coco, voc, yolo

    for name, module in (("coco", coco), ("voc", voc), ("yolo", yolo)):
        if module.looks_like(root):
            return name
    return None


def candidate_roots(path: Path, max_depth: int):
    """`path`, then its sub-folders level by level (breadth first, at most 50 per level)."""
    level = [path]
    for _ in range(max_depth + 1):
        yield from level
        nxt = []
        for folder in level:
            subdirs = sorted(p for p in folder.iterdir() if p.is_dir() and not p.is_symlink()
                             and not p.name.startswith((".", "__MACOSX")))
            nxt.extend(subdirs)
        level = nxt[:50]
