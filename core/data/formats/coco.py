"""COCO instances: read an instances json + image folder (or the standard
annotations/instances_{train,val}2017.json + train2017/ val2017/ layout); write the same layout.

COCO boxes are [x, y, w, h] in pixels; category ids are arbitrary (mapped to 0-based classes in
the order of the first file's categories sorted by id).
"""

from __future__ import annotations

import json
import logging
import shutil
from collections import Counter
from pathlib import Path

from core.data.formats import Parsed, RawAnn, RawImage
from core.data.report import Report
from core.errors import DatasetError

log = logging.getLogger(__name__)

ANNOTATIONS_DIR = "annotations"


def _json_candidates(root: Path) -> list[Path]:
    ann_dir = root / ANNOTATIONS_DIR
    if ann_dir.is_dir():
        found = sorted(ann_dir.glob("instances_*.json")) or sorted(ann_dir.glob("*.json"))
        if found:
            return found
    return sorted(root.glob("*.json")) or sorted(root.glob("*/*.json"))  # split folders


def looks_like(root: Path) -> bool:
    return any(_is_instances(p) for p in _json_candidates(root))


def _is_instances(path: Path) -> bool:
    """Cheap check: the file starts like a COCO document (an object with an images key)."""
    try:
        with open(path, encoding="utf-8", errors="replace") as f:
            head = f.read(1 << 20)
    except OSError:
        return False
    return head.lstrip().startswith("{") and '"images"' in head


def split_of(path: Path) -> str | None:
    """'train', 'val', 'test' from the file name or, failing that, its folder's name."""
    for name in (path.stem.lower(), path.parent.name.lower()):
        for split, words in (("val", ("val",)), ("train", ("train",)), ("test", ("test",))):
            if any(w in name for w in words):
                return split
    return None


def _image_dirs(root: Path, json_path: Path) -> list[Path]:
    suffix = json_path.stem.split("instances_", 1)[-1]
    dirs = [root / suffix, root / "images" / suffix, root / "images", json_path.parent / "images",
            json_path.parent, root]
    return [d for d in dict.fromkeys(dirs) if d.is_dir()]


def _load(path: Path) -> dict:
    try:
        with open(path, encoding="utf-8") as f:
            doc = json.load(f)
    except (OSError, json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise DatasetError(f"{path.name}: not a readable COCO json ({exc})") from exc
    if not isinstance(doc, dict) or not isinstance(doc.get("images"), list):
        raise DatasetError(f"{path.name}: not a COCO instances file (no 'images' list)")
    return doc


def parse(root: Path, report: Report) -> Parsed:
    """Read every instances json under `root` (see module docstring)."""
    files = [p for p in _json_candidates(root) if _is_instances(p)]
    if not files:
        raise DatasetError(f"no COCO instances json found in {root.name}")
    if len(files) > 1 and any(split_of(p) == "train" for p in files):
        for test in (p for p in files if split_of(p) == "test"):
            report.add("test_split_skipped", test.relative_to(root).as_posix(),
                       "a test split next to train/val")
        files = [p for p in files if split_of(p) != "test"]
    classes: list[str] = []
    images: list[RawImage] = []
    for path in files:
        doc = _load(path)
        cat_map = _categories(doc, classes, path)
        split = split_of(path) if len(files) > 1 else None
        images += _images(doc, root, path, split if split != "test" else None, cat_map, report)
    return Parsed("coco", classes, images)


def _categories(doc: dict, classes: list[str], path: Path) -> dict:
    """Map this file's category ids to indices in `classes` (extended by name as needed)."""
    cat_map = {}
    for cat in sorted(doc.get("categories") or [], key=lambda c: c.get("id", 0)):
        name = str(cat.get("name", cat.get("id")))
        if name not in classes:
            classes.append(name)
        cat_map[cat.get("id")] = classes.index(name)
    if not cat_map:
        raise DatasetError(f"{path.name}: no categories; a COCO file needs a 'categories' list")
    return cat_map


def _images(doc: dict, root: Path, path: Path, split: str | None, cat_map: dict,
            report: Report) -> list[RawImage]:
    rel_json = path.relative_to(root).as_posix()
    ids = Counter(im.get("id") for im in doc["images"])
    for image_id, n in ids.items():
        if n > 1:
            report.add("duplicate_image_id", rel_json,
                       f"image id {image_id} used by {n} images; its images and annotations "
                       "are ambiguous", "error: all images with this id skipped")
    dirs = _image_dirs(root, path)
    by_id: dict = {}
    for im in doc["images"]:
        if ids[im.get("id")] > 1:
            continue
        name = str(im.get("file_name", ""))
        file = next((d / name for d in dirs if (d / name).is_file()), dirs[0] / name if dirs
                    else root / name)
        size = ((int(im["height"]), int(im["width"]))
                if isinstance(im.get("height"), (int, float)) and
                isinstance(im.get("width"), (int, float)) else None)
        try:
            rel = file.relative_to(root).as_posix()
        except ValueError:
            rel = name
        by_id[im["id"]] = RawImage(path=file, rel=rel, size=size, split=split,
                                   source_id=im["id"])
    for ann in doc.get("annotations") or []:
        raw = by_id.get(ann.get("image_id"))
        if raw is None:
            if ids.get(ann.get("image_id"), 0) <= 1:
                report.add("unknown_image", rel_json,
                           f"annotation {ann.get('id')} refers to unknown image id "
                           f"{ann.get('image_id')}")
            continue
        if ann.get("category_id") not in cat_map:
            report.add("unknown_category", raw.rel,
                       f"annotation {ann.get('id')} has unknown category id "
                       f"{ann.get('category_id')}")
            continue
        bbox = ann.get("bbox")
        if not (isinstance(bbox, list) and len(bbox) == 4
                and all(isinstance(v, (int, float)) for v in bbox)):
            report.add("bad_box", raw.rel, f"annotation {ann.get('id')} has no valid bbox "
                                           f"({bbox!r})")
            continue
        x, y, w, h = (float(v) for v in bbox)
        raw.anns.append(RawAnn(cat_map[ann["category_id"]], (x, y, x + w, y + h),
                               iscrowd=bool(ann.get("iscrowd", 0))))
    return list(by_id.values())


def write(out: Path, classes: list[str], splits: dict[str, tuple[dict, Path]]) -> None:
    """Write annotations/instances_<split>.json and <split>/ images (copied) for each split.

    `splits` maps split -> (internal COCO document, its images folder).
    """
    from core.data.internal import coco_document, write_json

    (out / ANNOTATIONS_DIR).mkdir(parents=True, exist_ok=True)
    for split, (doc, images_dir) in splits.items():
        (out / split).mkdir(exist_ok=True)
        for im in doc["images"]:
            shutil.copyfile(images_dir / im["file_name"], out / split / im["file_name"])
        write_json(out / ANNOTATIONS_DIR / f"instances_{split}.json",
                   coco_document(doc["images"], doc["annotations"], classes))
