"""Import a COCO / VOC / YOLO dataset (folder or .zip) into the internal form, with a report.

Steps: unpack a .zip safely into the work folder (the source is never modified and never
referenced afterwards), find the dataset root and its format, name every symbolic link in it
(none is ever followed), parse it (core.data.formats), then check every image and box, copy
usable images to `images/` under new ASCII names, and write train.json / val.json. Problems
are fixed where that is safe and always reported, one line per bad entry:

* missing, unreadable, linked or too large image -> skipped;  same file listed twice -> first
  kept;  recorded size differs from the file -> the file's size is used;
* box partly outside -> clipped;  zero/negative/NaN area -> dropped;  unknown category ->
  dropped;  crowd -> kept (iscrowd=1, ignored in training);  image without objects -> kept;
* more than MAX_OBJECTS_PER_IMAGE objects in one image -> the first ones kept.

The import fails (DatasetError, naming the first problems) only when no image with at least one
object remains, no format is recognised, or a limit of core.data.formats.safe is crossed
(images, objects, classes per import; bytes per file). Memory: objects are held as flat
arrays and the JSON is written streaming, so a 100 MB source imports within a few hundred MB.
"""

from __future__ import annotations

import logging
import math
import os
import shutil
from array import array
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

from core.data.archive import MAX_UNCOMPRESSED_BYTES, extract_zip
from core.data.formats import Parsed, RawImage, coco, voc, yolo
from core.data.formats.report import Report
from core.data.formats.safe import LinkRefused, is_regular_file, link_on_path, scan_links
from core.data.generate import split_indices
from core.data.images import MAX_PIXELS, ImageTooLargeError, check_decodable
from core.data.internal import IMAGES_DIR, SPLITS, split_json, write_coco_stream
from core.data.stats import compute_stats
from core.errors import DatasetError
from core.io import copy_file

log = logging.getLogger(__name__)

SOURCE_DIR = ".source"  # inside the work folder: where a .zip is unpacked
CLIP_TOLERANCE = 0.01  # pixels a box may exceed the image before it counts as clipped
PROGRESS_EVERY = 25
MAX_IMAGE_BYTES = 512 * 1024**2  # one image file; larger ones are skipped
_OUT_FIELDS = 7  # per kept object: category id (1-based), x, y, w, h, iscrowd, difficult


@dataclass
class ImportResult:
    format: str
    classes: list[str]
    report: dict
    counts: dict
    stats: dict | None = None


@dataclass
class _Kept:
    """One usable image: its internal record, its objects (flat, _OUT_FIELDS each), split."""

    record: dict
    boxes: array
    split: str | None


def import_dataset(
    path: str | Path,
    work: str | Path,
    fmt: str = "auto",
    val_fraction: float = 0.2,
    seed: int = 0,
    progress: Callable[[float, str], None] | None = None,
    check_stop: Callable[[], None] | None = None,
    max_pixels: int = MAX_PIXELS,
    max_bytes: int = MAX_UNCOMPRESSED_BYTES,
) -> ImportResult:
    """Build the internal form of the dataset at `path` inside the work folder `work`."""
    path, work = Path(path), Path(work)
    report = Report(source=path.name)
    source, unpacked = path, False
    if path.is_file() and path.suffix.lower() == ".zip":
        _progress(progress, 0.0, "unpacking archive")
        source, unpacked = extract_zip(path, work / SOURCE_DIR, max_bytes), True
    elif not path.is_dir():
        raise DatasetError(f"{path} is neither a folder nor a .zip file")
    try:
        detected, root = _locate(source.resolve(), fmt)
        report.format = detected
        for link in scan_links(root):
            report.add("symlink", link, f"{link} is a symbolic link; it is not followed")
        parsed = _parse(detected, root, report)
        counts, stats = build(
            parsed,
            root,
            work,
            report,
            val_fraction,
            seed,
            progress,
            check_stop,
            max_pixels,
            move=unpacked,
        )
    finally:
        shutil.rmtree(work / SOURCE_DIR, ignore_errors=True)
    return ImportResult(detected, parsed.classes, report.to_dict(), counts, stats)


def _progress(progress, fraction: float, message: str) -> None:
    if progress is not None:
        progress(fraction, message)


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
        "Annotations/*.xml + JPEGImages/ (VOC), or data.yaml + images/ + labels/ (YOLO)"
    )


def detect_format(root: Path) -> str | None:
    """'coco', 'voc', 'yolo' or None for a folder (checked in that order)."""
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
            try:
                subdirs = sorted(
                    p
                    for p in folder.iterdir()
                    if p.is_dir()
                    and not p.is_symlink()
                    and not p.name.startswith((".", "__MACOSX"))
                )
            except OSError as exc:  # an unreadable folder is not searched
                log.warning("cannot list %s: %s", folder, exc)
                continue
            nxt.extend(subdirs)
        level = nxt[:50]


def _locate(source: Path, fmt: str) -> tuple[str, Path]:
    if fmt == "auto":
        return find_dataset_root(source)
    module = _module(fmt)
    for root in candidate_roots(source, 3):
        if module.looks_like(root):
            return fmt, root
    found = detect_format(source)
    hint = f" (it looks like {found}; try --format {found} or auto)" if found else ""
    raise DatasetError(
        f"{source.name or source} is not recognised as a {fmt.upper()} dataset{hint}"
    )


def _module(fmt: str):
    return {"coco": coco, "voc": voc, "yolo": yolo}[fmt]


def _parse(fmt: str, root: Path, report: Report) -> Parsed:
    parsed = _module(fmt).parse(root, report)
    if not parsed.images:
        raise DatasetError(
            f"the {fmt.upper()} dataset in {root.name} lists no usable image; "
            f"first problems: {report.first() or 'none recorded'}"
        )
    return parsed


def build(
    parsed: Parsed,
    root: Path,
    work: Path,
    report: Report,
    val_fraction: float,
    seed: int,
    progress=None,
    check_stop=None,
    max_pixels: int = MAX_PIXELS,
    move: bool = False,
) -> tuple[dict, dict]:
    """Check and copy (or, from an unpacked archive, move) images, fix boxes, assign splits and
    write the JSON files; returns (counts, stats). Raises DatasetError if nothing usable
    remains."""
    kept: list[_Kept] = []
    seen: dict[Path, str] = {}
    total = len(parsed.images)
    for i, raw in enumerate(parsed.images):
        if check_stop is not None:
            check_stop()
        if i % PROGRESS_EVERY == 0:
            _progress(progress, 0.05 + 0.9 * i / total, f"checked {i}/{total} images")
        record = _check_image(raw, root, seen, report, max_pixels)
        if record is not None:
            boxes = _check_boxes(raw, record, len(parsed.classes), report)
            record["file_name"] = f"{len(kept) + 1:06d}{raw.path.suffix.lower() or '.jpg'}"
            (os.replace if move else copy_file)(raw.path, work / IMAGES_DIR / record["file_name"])
            kept.append(_Kept(record, boxes, raw.split))
        parsed.images[i] = None  # free the source objects as we go
    objects = sum(1 for k in kept for j in range(5, len(k.boxes), _OUT_FIELDS) if not k.boxes[j])
    if not kept or objects == 0:
        what = "no readable image" if not kept else "no object in any readable image"
        raise DatasetError(
            f"nothing usable to import ({what}); first problems: "
            f"{report.first() or 'none recorded'}"
        )
    _assign_splits(kept, val_fraction, seed, report)
    return _write(work, parsed.classes, kept)


def _check_image(
    raw: RawImage, root: Path, seen: dict, report: Report, max_pixels: int
) -> dict | None:
    """The image record {"height", "width", ...} of a usable image, else None (reported)."""
    try:
        link = link_on_path(root, raw.path)
    except DatasetError:
        report.add("unsafe_path", raw.rel, "image path points outside the dataset folder")
        return None
    if link is not None:
        report.add("symlink", link, str(LinkRefused(link)))
        return None
    resolved = Path(os.path.abspath(raw.path))  # no link on the way: the path is the file
    if resolved in seen:  # checked first: from an archive, the first use moved the file
        report.add(
            "duplicate_file_name",
            raw.rel,
            f"the same file is listed again (first as {seen[resolved]})",
        )
        return None
    if not is_regular_file(root, raw.path):
        missing = not os.path.lexists(raw.path)
        report.add(
            "missing_image" if missing else "unreadable_image",
            raw.rel,
            "image file not found" if missing else "not a regular file",
        )
        return None
    seen[resolved] = raw.rel
    try:
        if os.path.getsize(resolved) > MAX_IMAGE_BYTES:
            raise DatasetError(f"{raw.path.name}: the file is over {MAX_IMAGE_BYTES:,} bytes")
        h, w = check_decodable(resolved, max_pixels)
    except ImageTooLargeError as exc:
        report.add("image_too_large", raw.rel, str(exc).split(": ", 1)[-1])
        return None
    except DatasetError as exc:
        report.add("unreadable_image", raw.rel, str(exc).split(": ", 1)[-1])
        return None
    if raw.size is not None and tuple(raw.size) != (h, w):
        report.add(
            "size_mismatch", raw.rel, f"recorded {raw.size[1]}x{raw.size[0]}, file is {w}x{h}"
        )
    return {
        "height": h,
        "width": w,
        "source_file": raw.rel,
        "source_id": raw.source_id if raw.source_id is not None else raw.rel,
    }


def _check_boxes(raw: RawImage, record: dict, num_classes: int, report: Report) -> array:
    """Clip boxes to the image, drop empty/NaN ones; returns the kept objects flat
    (_OUT_FIELDS numbers each: category id 1..K, x, y, w, h in pixels, iscrowd, difficult)."""
    h, w = record["height"], record["width"]
    out = array("d")
    for ann in raw.anns:
        x1, y1, x2, y2 = ann.box
        if raw.normalized:
            x1, y1, x2, y2 = x1 * w, y1 * h, x2 * w, y2 * h
        if not all(math.isfinite(v) for v in (x1, y1, x2, y2)):
            report.add("bad_box", raw.rel, f"box {_fmt(ann.box)} has NaN/infinite values")
            continue
        if x2 <= x1 or y2 <= y1:
            report.add(
                "bad_box", raw.rel, f"box {_fmt((x1, y1, x2, y2))} has zero or negative area"
            )
            continue
        cx1, cy1 = min(max(x1, 0.0), w), min(max(y1, 0.0), h)
        cx2, cy2 = min(max(x2, 0.0), w), min(max(y2, 0.0), h)
        if cx2 - cx1 <= 0 or cy2 - cy1 <= 0:
            report.add(
                "bad_box",
                raw.rel,
                f"box {_fmt((x1, y1, x2, y2))} lies outside the {w}x{h} image",
                "dropped",
            )
            continue
        if max(abs(cx1 - x1), abs(cy1 - y1), abs(cx2 - x2), abs(cy2 - y2)) > CLIP_TOLERANCE:
            report.add(
                "box_clipped",
                raw.rel,
                f"box {_fmt((x1, y1, x2, y2))} extends past the {w}x{h} image",
            )
        if ann.iscrowd:
            report.add("crowd", raw.rel, "crowd annotation")
        if not 0 <= ann.label < num_classes:
            report.add("unknown_category", raw.rel, f"class index {ann.label}")
            continue
        out.extend((ann.label + 1, cx1, cy1, cx2 - cx1, cy2 - cy1, ann.iscrowd, ann.difficult))
    if raw.dropped:
        report.add(
            "too_many_objects",
            raw.rel,
            f"{raw.count + raw.dropped:,} objects; only the "
            f"first {raw.count:,} are kept (the per-image limit)",
        )
    if not raw.count:
        report.add("empty_image", raw.rel, f"no objects{f' ({raw.note})' if raw.note else ''}")
    elif not out:
        report.add("empty_image", raw.rel, "no usable objects left")
    raw.boxes = array("d")
    return out


def _fmt(box) -> str:
    return "[" + ", ".join(f"{v:.1f}" if abs(v) < 1e15 else f"{v:.3g}" for v in box) + "]"


def _assign_splits(kept: list[_Kept], val_fraction: float, seed: int, report: Report) -> None:
    """Source splits where present; otherwise (or when no val image) a seeded split."""
    splits = [k.split for k in kept]
    if "val" in splits and "train" in splits:
        pool = [i for i, s in enumerate(splits) if s is None]
    else:
        pool = list(range(len(kept)))
        report.add(
            "split_missing",
            report.source or "dataset",
            f"no separate train and val splits; {val_fraction:.0%} of the images "
            f"(seed {seed}) become val",
        )
    is_val = split_indices(len(pool), val_fraction, seed)
    for i, val in zip(pool, is_val):
        kept[i].split = "val" if val else "train"


def _write(work: Path, classes: list[str], kept: list[_Kept]) -> tuple[dict, dict]:
    """Write train.json / val.json streaming; returns (counts, stats)."""
    ids = {id(k): n for n, k in enumerate(kept, start=1)}  # image ids in source order
    first_ann = {}
    n = 0
    for k in kept:
        first_ann[id(k)] = n + 1
        n += len(k.boxes) // _OUT_FIELDS
    docs = {s: _Doc([k for k in kept if k.split == s], ids, first_ann) for s in SPLITS}
    for split, doc in docs.items():
        write_coco_stream(split_json(work, split), doc["images"], doc["annotations"], classes)
    counts = {}
    for split, doc in docs.items():
        counts[f"{split}_images"] = len(doc.kept)
        counts[f"{split}_objects"] = sum(
            1 for k in doc.kept for j in range(5, len(k.boxes), _OUT_FIELDS) if not k.boxes[j]
        )
    return counts, compute_stats(classes, docs)


class _Doc:
    """One split as a COCO document whose "images" and "annotations" are generated from the
    compact form on each iteration (never held as dicts all at once)."""

    def __init__(self, kept: list[_Kept], ids: dict, first_ann: dict):
        self.kept, self.ids, self.first_ann = kept, ids, first_ann

    def __getitem__(self, key: str):
        if key == "images":
            return _Members(self._images, len(self.kept))
        return _Members(self._annotations, sum(len(k.boxes) // _OUT_FIELDS for k in self.kept))

    def _images(self) -> Iterator[dict]:
        for k in self.kept:
            yield {"id": self.ids[id(k)], **k.record}

    def _annotations(self) -> Iterator[dict]:
        for k in self.kept:
            b, image_id = k.boxes, self.ids[id(k)]
            for n, j in enumerate(range(0, len(b), _OUT_FIELDS)):
                cat, x, y, w, h, crowd, difficult = b[j : j + _OUT_FIELDS]
                ann = {
                    "id": self.first_ann[id(k)] + n,
                    "image_id": image_id,
                    "category_id": int(cat),
                    "bbox": [x, y, w, h],
                    "area": w * h,
                    "iscrowd": int(crowd),
                }
                if difficult:
                    ann["difficult"] = 1
                yield ann


class _Members:
    """A re-iterable, sized view over generated dicts (what compute_stats and the writer
    read)."""

    def __init__(self, make: Callable[[], Iterator[dict]], size: int):
        self.make, self.size = make, size

    def __iter__(self) -> Iterator[dict]:
        return self.make()

    def __len__(self) -> int:
        return self.size
