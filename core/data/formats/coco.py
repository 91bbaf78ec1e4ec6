"""COCO instances: read an instances json + image folder (or the standard
annotations/instances_{train,val}2017.json + train2017/ val2017/ layout); core.data.export
writes the same layout.

COCO boxes are [x, y, w, h] in pixels; category ids are integers, mapped to 0-based classes in
the order of the first file's categories sorted by id. Image ids are integers or strings.

The json is streamed one entry at a time (core.data.formats.jsonstream), so its size does not
become memory. Each malformed entry is skipped and reported with its place (`images[3]`,
`annotations[17]`, `categories[2]`): an entry that is not an object; an image without a usable
id or file_name; an annotation whose image_id, category_id, bbox or iscrowd is unusable; a
category without an integer id. A recorded image size that is not a positive finite number is
ignored (the file's own size is used). A file with no usable category is skipped.
"""

from __future__ import annotations

import logging
import math
from array import array
from collections import Counter
from pathlib import Path
from typing import Any

from core.data.formats import Budget, Parsed, RawImage, class_name
from core.data.formats.jsonstream import stream_object
from core.data.formats.report import Report, describe
from core.data.formats.safe import (
    MAX_CLASSES,
    MAX_JSON_BYTES,
    MAX_OBJECTS_PER_IMAGE,
    LinkRefused,
    is_regular_file,
    link_on_path,
    open_regular,
    rel_posix,
)
from core.errors import DatasetError

log = logging.getLogger(__name__)

ANNOTATIONS_DIR = "annotations"
MAX_EXACT_ID = 2**53  # category ids are kept as doubles until mapped: exact below this
_ANN_FIELDS = 7  # per pending annotation: category id, x1, y1, x2, y2, crowd, index in the file


def _json_candidates(root: Path) -> list[Path]:
    ann_dir = root / ANNOTATIONS_DIR
    if ann_dir.is_dir() and not ann_dir.is_symlink():
        found = sorted(ann_dir.glob("instances_*.json")) or sorted(ann_dir.glob("*.json"))
        if found:
            return found
    return sorted(root.glob("*.json")) or sorted(root.glob("*/*.json"))  # split folders


def looks_like(root: Path) -> bool:
    return any(_is_instances(root, p) for p in _json_candidates(root))


def _is_instances(root: Path, path: Path) -> bool:
    """Cheap check: the file starts like a COCO document (an object with an images key). A
    link named like an annotation file counts, so that parsing refuses it by name."""
    if link_on_path(root, path) is not None:
        return path.parent.name == ANNOTATIONS_DIR or path.name.startswith("instances")
    try:
        with open_regular(root, path, 1 << 62, "annotation file") as f:  # size checked later
            head = f.read(1 << 20).decode("utf-8", errors="replace")
    except (DatasetError, OSError):
        return False
    return head.lstrip("\ufeff \t\r\n").startswith("{") and '"images"' in head


def split_of(path: Path) -> str | None:
    """'train', 'val', 'test' from the file name or, failing that, its folder's name."""
    for name in (path.stem.lower(), path.parent.name.lower()):
        for split, words in (("val", ("val",)), ("train", ("train",)), ("test", ("test",))):
            if any(w in name for w in words):
                return split
    return None


def _image_dirs(root: Path, json_path: Path) -> list[Path]:
    suffix = json_path.stem.split("instances_", 1)[-1]
    dirs = [
        root / suffix,
        root / "images" / suffix,
        root / "images",
        json_path.parent / "images",
        json_path.parent,
        root,
    ]
    return [d for d in dict.fromkeys(dirs) if d.is_dir()]


def parse(root: Path, report: Report) -> Parsed:
    """Read every instances json under `root` (see module docstring)."""
    files = [p for p in _json_candidates(root) if _is_instances(root, p)]
    if not files:
        raise DatasetError(f"no COCO instances json found in {root.name}")
    for path in files:
        link = link_on_path(root, path)
        if link is not None:
            raise LinkRefused(
                link, " (the annotation file itself: copy the file into the folder instead)"
            )
    if len(files) > 1 and any(split_of(p) == "train" for p in files):
        for test in (p for p in files if split_of(p) == "test"):
            report.add(
                "test_split_skipped",
                test.relative_to(root).as_posix(),
                "a test split next to train/val",
            )
        files = [p for p in files if split_of(p) != "test"]
    classes: list[str] = []
    images: list[RawImage] = []
    budget = Budget()
    for path in files:
        split = split_of(path) if len(files) > 1 else None
        reader = _CocoFile(root, path, split if split != "test" else None, report, budget)
        images += reader.read(classes)
    if not classes:
        raise DatasetError(
            f"no usable category in the COCO json of {root.name}; a COCO file "
            'needs a \'categories\' list of {"id": integer, "name": ...}: '
            f"{report.first() or 'none found'}"
        )
    return Parsed("coco", classes, images)


def entry_id(value: Any) -> int | str | None:
    """An image id: an integer (an integral float counts) or a non-empty string; else None."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, float) and math.isfinite(value) and value.is_integer():
        return int(value)
    if isinstance(value, str) and value.strip():
        return value
    return None


def category_id(value: Any) -> int | None:
    """A category id: an integer below 2**53 in magnitude (an integral float counts); else None."""
    found = entry_id(value)
    return found if isinstance(found, int) and abs(found) < MAX_EXACT_ID else None


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    try:
        return float(value)
    except OverflowError:  # an integer beyond the float range
        return None


def _box(value: Any) -> tuple[float, float, float, float] | None:
    """[x, y, w, h] -> (x1, y1, x2, y2) floats (NaN/inf kept: the importer reports them)."""
    if type(value) is not list or len(value) != 4:
        return None
    if not all(type(v) is float or type(v) is int for v in value):  # bool is not a number
        return None
    try:
        x, y, w, h = (float(v) for v in value)
    except OverflowError:  # an integer beyond the float range
        return None
    return x, y, x + w, y + h


def recorded_size(im: dict) -> tuple[tuple[int, int] | None, str | None]:
    """(H, W) from an image entry, or None with the reason when present but unusable."""
    if "height" not in im and "width" not in im:
        return None, None
    h, w = _number(im.get("height")), _number(im.get("width"))
    if h is None or w is None or not (math.isfinite(h) and math.isfinite(w)) or h < 1 or w < 1:
        return None, (
            f"recorded size {describe(im.get('width'))} x {describe(im.get('height'))}"
            " is not a positive number"
        )
    return (int(h), int(w)), None


class _CocoFile:
    """Reads one instances json entry by entry; `read` returns its usable images."""

    def __init__(self, root: Path, path: Path, split: str | None, report: Report, budget: Budget):
        self.root, self.path, self.split, self.report, self.budget = (
            root,
            path,
            split,
            report,
            budget,
        )
        self.rel = rel_posix(root, path)
        self.dirs = _image_dirs(root, path)
        self.ids: Counter = Counter()
        self.images: dict = {}  # image id -> RawImage (first entry with that id)
        self.objects: dict = {}  # image id -> array of _ANN_FIELDS numbers per annotation
        self.dropped: Counter = Counter()
        self.categories: dict[int, str] = {}

    def read(self, classes: list[str]) -> list[RawImage]:
        handlers = {
            "images": self.image,
            "annotations": self.annotation,
            "categories": self.category,
        }
        with open_regular(self.root, self.path, MAX_JSON_BYTES, "annotation file") as f:
            for key, index, value in stream_object(f, self.rel):
                if key in handlers and index is None:
                    self.report.add(
                        "bad_annotation_file",
                        self.rel,
                        f"'{key}' is {describe(value)}, not a list; ignored",
                        "ignored",
                        entry=key,
                    )
                elif key in handlers:
                    handlers[key](index, value)
        cat_map = self._category_map(classes)
        if cat_map is None:
            return []
        return self._attach(cat_map)

    def bad(self, code: str, entry: str, problem: str, file: str | None = None) -> None:
        self.report.add(code, file or self.rel, f"{entry}: {problem}", entry=entry)

    def image(self, index: int, im: Any) -> None:
        entry = f"images[{index}]"
        if not isinstance(im, dict):
            return self.bad("bad_image_entry", entry, f"{describe(im)}, not an object")
        image_id = entry_id(im.get("id"))
        if image_id is None:
            return self.bad(
                "bad_image_entry",
                entry,
                f"id {describe(im.get('id'))} is not an integer or a string",
            )
        name = im.get("file_name")
        if not isinstance(name, str) or not name.strip() or "\0" in name:
            return self.bad(
                "bad_image_entry", entry, f"file_name {describe(name)} is not a file name"
            )
        self.ids[image_id] += 1
        if self.ids[image_id] > 1:
            return None  # duplicate ids are reported once all images are read
        self.budget.add(images=1)
        size, problem = recorded_size(im)
        file = next(
            (d / name for d in self.dirs if is_regular_file(self.root, d / name)),
            (self.dirs[0] if self.dirs else self.root) / name,
        )
        try:
            rel = file.relative_to(self.root).as_posix()
        except ValueError:
            rel = name
        if problem:
            self.report.add("bad_image_size", rel, f"{entry}: {problem}", entry=entry)
        self.images[image_id] = RawImage(
            path=file, rel=rel, size=size, split=self.split, source_id=image_id
        )
        return None

    def annotation(self, index: int, ann: Any) -> None:
        entry = f"annotations[{index}]"
        if not isinstance(ann, dict):
            return self.bad("bad_annotation", entry, f"{describe(ann)}, not an object")
        image_id = entry_id(ann.get("image_id"))
        if image_id is None:
            return self.bad(
                "bad_annotation",
                entry,
                f"image_id {describe(ann.get('image_id'))} is not an integer or a string",
            )
        where = self.images[image_id].rel if image_id in self.images else None
        cat = category_id(ann.get("category_id"))
        if cat is None:
            return self.bad(
                "unknown_category",
                entry,
                f"category_id {describe(ann.get('category_id'))} is not an integer id",
                where,
            )
        box = _box(ann.get("bbox"))
        if box is None:
            return self.bad(
                "bad_box",
                entry,
                f"bbox {describe(ann.get('bbox'))} is not [x, y, width, height] numbers",
                where,
            )
        crowd = ann.get("iscrowd", 0)
        if crowd not in (0, 1):
            return self.bad(
                "bad_annotation", entry, f"iscrowd {describe(crowd)} is not 0 or 1", where
            )
        self.budget.add(objects=1)
        boxes = self.objects.setdefault(image_id, array("d"))
        if len(boxes) >= MAX_OBJECTS_PER_IMAGE * _ANN_FIELDS:
            self.dropped[image_id] += 1
            return None
        boxes.extend((cat, *box, float(bool(crowd)), index))
        return None

    def category(self, index: int, cat: Any) -> None:
        entry = f"categories[{index}]"
        if not isinstance(cat, dict):
            return self.bad("bad_category", entry, f"{describe(cat)}, not an object")
        cid = category_id(cat.get("id"))
        if cid is None:
            return self.bad(
                "bad_category", entry, f"id {describe(cat.get('id'))} is not an integer id"
            )
        if cid in self.categories:
            return self.bad("bad_category", entry, f"id {cid} is used again; the first kept")
        name = class_name(cat.get("name"))
        if name is None and cat.get("name") is not None:
            self.bad(
                "bad_category",
                entry,
                f"name {describe(cat.get('name'))} is not a name; the category is named {cid}",
            )
        self.categories[cid] = name or str(cid)
        return None

    def _category_map(self, classes: list[str]) -> dict[int, int] | None:
        """This file's category ids -> indices in `classes` (extended by name as needed);
        None (reported) when the file has no usable category."""
        if not self.categories:
            self.report.add(
                "bad_annotation_file",
                self.rel,
                "no usable category (a COCO file needs a 'categories' list); the file is skipped",
                "skipped",
            )
            return None
        cat_map = {}
        for cid in sorted(self.categories):
            name = self.categories[cid]
            if name not in classes:
                classes.append(name)
            cat_map[cid] = classes.index(name)
        if len(classes) > MAX_CLASSES:
            raise DatasetError(f"{self.rel}: more than {MAX_CLASSES:,} classes (the import limit)")
        return cat_map

    def _attach(self, cat_map: dict[int, int]) -> list[RawImage]:
        """Report duplicate ids, give each image its objects (class-mapped) and report the
        annotations of unknown images or categories."""
        for image_id, n in self.ids.items():
            if n > 1:
                self.report.add(
                    "duplicate_image_id",
                    self.rel,
                    f"image id {describe(image_id)} used by {n} images; its images "
                    "and annotations are ambiguous",
                    entry=f"id {image_id}",
                )
                self.images.pop(image_id, None)
        for image_id in list(self.objects):
            boxes = self.objects.pop(image_id)
            raw = self.images.get(image_id)
            if raw is None:
                if self.ids.get(image_id, 0) <= 1:
                    for i in range(0, len(boxes), _ANN_FIELDS):
                        self.bad(
                            "unknown_image",
                            f"annotations[{int(boxes[i + 6])}]",
                            f"refers to unknown image id {describe(image_id)}",
                        )
                continue
            for i in range(0, len(boxes), _ANN_FIELDS):
                cat, x1, y1, x2, y2, crowd, index = boxes[i : i + _ANN_FIELDS]
                if int(cat) not in cat_map:
                    self.bad(
                        "unknown_category",
                        f"annotations[{int(index)}]",
                        f"unknown category id {int(cat)}",
                        raw.rel,
                    )
                    continue
                raw.add(cat_map[int(cat)], (x1, y1, x2, y2), iscrowd=bool(crowd))
            raw.dropped += self.dropped.get(image_id, 0)
        return list(self.images.values())
