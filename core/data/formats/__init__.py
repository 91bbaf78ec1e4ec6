"""Readers (and writers) of the dataset formats users bring: COCO, Pascal VOC, YOLO.

Each reader turns a source folder into a `Parsed`: class names and `RawImage`s whose boxes are
(x1, y1, x2, y2) pixels as written in the source (possibly outside the image, empty or NaN:
checking and fixing them is core.data.importers' job). Readers report what only they can see
(unknown category ids, malformed lines, duplicate ids) into the shared Report.
"""

from __future__ import annotations

import logging
import os
from array import array
from dataclasses import dataclass, field
from pathlib import Path

from core.data.formats.safe import MAX_IMAGES, MAX_NAME_CHARS, MAX_OBJECTS, MAX_OBJECTS_PER_IMAGE
from core.errors import DatasetError

log = logging.getLogger(__name__)

IMAGE_EXTENSIONS = (".jpg", ".jpeg", ".png", ".bmp", ".tif", ".tiff", ".webp")


@dataclass(slots=True)
class RawAnn:
    """One source annotation: 0-based class, box (x1, y1, x2, y2) in pixels, flags."""

    label: int
    box: tuple[float, float, float, float]
    iscrowd: bool = False
    difficult: bool = False


_CROWD, _DIFFICULT = 1, 2
_FIELDS = 6  # per object in RawImage.boxes: label, x1, y1, x2, y2, flags


@dataclass(slots=True)
class RawImage:
    """One source image: its file, the size the annotations claim (H, W) or None, its split
    ("train", "val" or None when the source has no split) and its annotations (in pixels, or
    in [0, 1] of the image size when `normalized`).

    Objects are kept flat in an array of doubles (48 bytes each instead of ~240 for RawAnn
    objects); `add` keeps at most MAX_OBJECTS_PER_IMAGE and counts the rest in `dropped`."""

    path: Path
    rel: str
    size: tuple[int, int] | None
    split: str | None
    source_id: str | int | None = None
    normalized: bool = False
    note: str | None = None  # why it has no annotations, if the reader knows
    boxes: array = field(default_factory=lambda: array("d"))
    dropped: int = 0

    def add(self, label: int, box, iscrowd: bool = False, difficult: bool = False) -> bool:
        """Append one object (box x1, y1, x2, y2); False when over the per-image cap."""
        if len(self.boxes) >= MAX_OBJECTS_PER_IMAGE * _FIELDS:
            self.dropped += 1
            return False
        flags = (_CROWD if iscrowd else 0) | (_DIFFICULT if difficult else 0)
        self.boxes.extend((label, *box, flags))
        return True

    @property
    def count(self) -> int:
        return len(self.boxes) // _FIELDS

    @property
    def anns(self) -> list[RawAnn]:
        b = self.boxes
        return [
            RawAnn(
                int(b[i]),
                (b[i + 1], b[i + 2], b[i + 3], b[i + 4]),
                bool(int(b[i + 5]) & _CROWD),
                bool(int(b[i + 5]) & _DIFFICULT),
            )
            for i in range(0, len(b), _FIELDS)
        ]

    def relabel(self, mapping: dict) -> list[int]:
        """Replace each label by mapping[label]; drops (and returns) the labels not in it."""
        b, kept, missing = self.boxes, array("d"), []
        for i in range(0, len(b), _FIELDS):
            label = int(b[i])
            if label in mapping:
                kept.extend((mapping[label], *b[i + 1 : i + _FIELDS]))
            else:
                missing.append(label)
        self.boxes = kept
        return missing


@dataclass
class Parsed:
    format: str
    classes: list[str]
    images: list[RawImage]


def is_image_file(path: str | os.PathLike) -> bool:
    """True for a file name with an image extension (IMAGE_EXTENSIONS, any case)."""
    return Path(path).suffix.lower() in IMAGE_EXTENSIONS


def class_name(value: object) -> str | None:
    """A class name from a source: a string or number, stripped, 1..MAX_NAME_CHARS long;
    None for anything else (a list, a bool, an empty or overlong string)."""
    if isinstance(value, (str, int, float)) and not isinstance(value, bool):
        text = str(value).strip() if not isinstance(value, int) or value.bit_length() < 600 else ""
        return text if 0 < len(text) <= MAX_NAME_CHARS else None
    return None


class Budget:
    """Counts the images and objects read from a source; DatasetError past the import limits
    (core.data.formats.safe.MAX_IMAGES / MAX_OBJECTS), raised as soon as one is crossed."""

    def __init__(self, max_images: int | None = None, max_objects: int | None = None):
        self.max_images = MAX_IMAGES if max_images is None else max_images
        self.max_objects = MAX_OBJECTS if max_objects is None else max_objects
        self.images = self.objects = 0

    def add(self, images: int = 0, objects: int = 0) -> None:
        self.images += images
        self.objects += objects
        if self.images > self.max_images:
            raise DatasetError(
                f"the source lists more than {self.max_images:,} images (the "
                "import limit); split it into several datasets"
            )
        if self.objects > self.max_objects:
            raise DatasetError(
                f"the source has more than {self.max_objects:,} objects (the "
                "import limit); split it into several datasets"
            )
