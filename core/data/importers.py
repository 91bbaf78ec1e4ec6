"""Import a COCO / VOC / YOLO dataset (folder or .zip) into the internal form, with a report.

Steps: unpack a .zip safely into the work folder (the source is never modified and never
referenced afterwards), find the dataset root and its format, parse it (core.data.formats),
then check every image and box, copy usable images to `images/` under new ASCII names, and
write train.json / val.json. Problems are fixed where that is safe and always reported:

* missing, unreadable or too large image -> skipped;  same file listed twice -> first kept;
* recorded size differs from the file -> the file's size is used;
* box partly outside -> clipped;  zero/negative/NaN area -> dropped;
* unknown category -> dropped;  crowd -> kept (iscrowd=1, ignored in training);
* image without objects -> kept.

The import fails (DatasetError, naming the first problems) only when no image with at least one
object remains, or no format is recognised.
"""

from __future__ import annotations

import logging
import math
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from core.data.archive import MAX_UNCOMPRESSED_BYTES, extract_zip
from core.data.formats import Parsed, RawImage, find_dataset_root
from core.data.generate import split_indices
from core.data.images import MAX_PIXELS, ImageTooLargeError, image_size, read_rgb
from core.data.internal import (IMAGES_DIR, SPLITS, coco_document, split_counts, split_json,
                                 write_json)
from core.data.report import Report
from core.errors import DatasetError

log = logging.getLogger(__name__)

SOURCE_DIR = ".source"  # inside the work folder: where a .zip is unpacked
CLIP_TOLERANCE = 0.01  # pixels a box may exceed the image before it counts as clipped
PROGRESS_EVERY = 25


@dataclass
class ImportResult:
    format: str
    classes: list[str]
    report: dict
    counts: dict


def import_dataset(path: str | Path, work: str | Path, fmt: str = "auto",
                   val_fraction: float = 0.2, seed: int = 0,
                   progress: Callable[[float, str], None] | None = None,
                   check_stop: Callable[[], None] | None = None,
                   max_pixels: int = MAX_PIXELS,
                   max_bytes: int = MAX_UNCOMPRESSED_BYTES) -> ImportResult:
    """Build the internal form of the dataset at `path` inside the work folder `work`."""
    path, work = Path(path), Path(work)
    report = Report(source=path.name)
    source = path
    if path.is_file() and path.suffix.lower() == ".zip":
        _progress(progress, 0.0, "unpacking archive")
        source = extract_zip(path, work / SOURCE_DIR, max_bytes)
    elif not path.is_dir():
        raise DatasetError(f"{path} is neither a folder nor a .zip file")
    try:
        detected, root = _locate(source, fmt)
        report.format = detected
        parsed = _parse(detected, root, report)
        counts = build(parsed, root, work, report, val_fraction, seed, progress, check_stop,
                       max_pixels)
    finally:
        shutil.rmtree(work / SOURCE_DIR, ignore_errors=True)
    return ImportResult(detected, parsed.classes, report.to_dict(), counts)


def _progress(progress, fraction: float, message: str) -> None:
    if progress is not None:
        progress(fraction, message)


def _locate(source: Path, fmt: str) -> tuple[str, Path]:
    if fmt == "auto":
        return find_dataset_root(source)
    from core.data.formats import candidate_roots, detect_format

    module = _module(fmt)
    for root in candidate_roots(source, 3):
        if module.looks_like(root):
            return fmt, root
    found = detect_format(source)
    hint = f" (it looks like {found}; try --format {found} or auto)" if found else ""
    raise DatasetError(f"{source.name or source} is not recognised as a {fmt.upper()} "
                       f"dataset{hint}")


def _module(fmt: str):
    from core.data.formats import coco, voc, yolo

    return {"coco": coco, "voc": voc, "yolo": yolo}[fmt]


def _parse(fmt: str, root: Path, report: Report) -> Parsed:
    parsed = _module(fmt).parse(root, report)
    if not parsed.images:
        raise DatasetError(f"the {fmt.upper()} dataset in {root.name} lists no images")
    return parsed


def build(parsed: Parsed, root: Path, work: Path, report: Report, val_fraction: float,
          seed: int, progress=None, check_stop=None, max_pixels: int = MAX_PIXELS) -> dict:
    """Check and copy images, fix boxes, assign splits and write the JSON files; returns the
    counts. Raises DatasetError if nothing usable remains."""
    kept: list[tuple[RawImage, dict, list[dict]]] = []
    seen: dict[Path, str] = {}
    total = len(parsed.images)
    for i, raw in enumerate(parsed.images):
        if check_stop is not None:
            check_stop()
        if i % PROGRESS_EVERY == 0:
            _progress(progress, 0.05 + 0.9 * i / total, f"checked {i}/{total} images")
        record = _check_image(raw, root, seen, report, max_pixels)
        if record is None:
            continue
        anns = _check_boxes(raw, record, len(parsed.classes), report)
        file_name = f"{len(kept) + 1:06d}{raw.path.suffix.lower() or '.jpg'}"
        shutil.copyfile(raw.path, work / IMAGES_DIR / file_name)
        record["file_name"] = file_name
        kept.append((raw, record, anns))
    objects = sum(1 for _, _, anns in kept for a in anns if not a["iscrowd"])
    if not kept or objects == 0:
        what = "no readable image" if not kept else "no object in any readable image"
        raise DatasetError(f"nothing usable to import ({what}); first problems: "
                           f"{report.first() or 'none recorded'}")
    splits = _assign_splits(kept, val_fraction, seed, report)
    return _write(work, parsed.classes, kept, splits)


def _check_image(raw: RawImage, root: Path, seen: dict, report: Report,
                 max_pixels: int) -> dict | None:
    """The image record {"height", "width", ...} of a usable image, else None (reported)."""
    resolved = raw.path.resolve()
    base = root.resolve()
    if base not in resolved.parents:
        report.add("unsafe_path", raw.rel, "image path points outside the dataset folder")
        return None
    if not resolved.is_file():
        report.add("missing_image", raw.rel, "image file not found")
        return None
    if resolved in seen:
        report.add("duplicate_file_name", raw.rel, f"the same file is listed again (first as "
                                                   f"{seen[resolved]})")
        return None
    seen[resolved] = raw.rel
    try:
        h, w = image_size(resolved, max_pixels)
        read_rgb(resolved, max_pixels)  # full decode: catches truncated files
    except ImageTooLargeError as exc:
        report.add("image_too_large", raw.rel, str(exc).split(": ", 1)[-1])
        return None
    except DatasetError as exc:
        report.add("unreadable_image", raw.rel, str(exc).split(": ", 1)[-1])
        return None
    if raw.size is not None and tuple(raw.size) != (h, w):
        report.add("size_mismatch", raw.rel, f"recorded {raw.size[1]}x{raw.size[0]}, file is "
                                             f"{w}x{h}")
    return {"height": h, "width": w, "source_file": raw.rel,
            "source_id": raw.source_id if raw.source_id is not None else raw.rel}


def _check_boxes(raw: RawImage, record: dict, num_classes: int, report: Report) -> list[dict]:
    """Clip boxes to the image, drop empty/NaN ones; returns annotation dicts (no ids yet)."""
    h, w = record["height"], record["width"]
    anns = []
    for ann in raw.anns:
        x1, y1, x2, y2 = ann.box
        if raw.normalized:
            x1, y1, x2, y2 = x1 * w, y1 * h, x2 * w, y2 * h
        if not all(math.isfinite(v) for v in (x1, y1, x2, y2)):
            report.add("bad_box", raw.rel, f"box {_fmt(ann.box)} has NaN/infinite values")
            continue
        if x2 <= x1 or y2 <= y1:
            report.add("bad_box", raw.rel, f"box {_fmt((x1, y1, x2, y2))} has zero or negative "
                                           "area")
            continue
        cx1, cy1 = min(max(x1, 0.0), w), min(max(y1, 0.0), h)
        cx2, cy2 = min(max(x2, 0.0), w), min(max(y2, 0.0), h)
        if cx2 - cx1 <= 0 or cy2 - cy1 <= 0:
            report.add("bad_box", raw.rel, f"box {_fmt((x1, y1, x2, y2))} lies outside the "
                                           f"{w}x{h} image", "dropped")
            continue
        if max(abs(cx1 - x1), abs(cy1 - y1), abs(cx2 - x2), abs(cy2 - y2)) > CLIP_TOLERANCE:
            report.add("box_clipped", raw.rel, f"box {_fmt((x1, y1, x2, y2))} extends past the "
                                               f"{w}x{h} image")
        if ann.iscrowd:
            report.add("crowd", raw.rel, "crowd annotation")
        if not 0 <= ann.label < num_classes:
            report.add("unknown_category", raw.rel, f"class index {ann.label}")
            continue
        item = {"category_id": ann.label + 1, "bbox": [cx1, cy1, cx2 - cx1, cy2 - cy1],
                "area": (cx2 - cx1) * (cy2 - cy1), "iscrowd": int(ann.iscrowd)}
        if ann.difficult:
            item["difficult"] = 1
        anns.append(item)
    if not raw.anns:
        report.add("empty_image", raw.rel, f"no objects{f' ({raw.note})' if raw.note else ''}")
    elif not anns:
        report.add("empty_image", raw.rel, "no usable objects left")
    return anns


def _fmt(box) -> str:
    return "[" + ", ".join(f"{v:.1f}" for v in box) + "]"


def _assign_splits(kept: list, val_fraction: float, seed: int, report: Report) -> list[str]:
    """Source splits where present; otherwise (or when no val image) a seeded split."""
    splits = [raw.split for raw, _, _ in kept]
    if "val" in splits and "train" in splits:
        pool = [i for i, s in enumerate(splits) if s is None]
    else:
        pool = list(range(len(kept)))
        report.add("split_missing", report.source or "dataset",
                   f"no separate train and val splits; {val_fraction:.0%} of the images "
                   f"(seed {seed}) become val")
    is_val = split_indices(len(pool), val_fraction, seed)
    for i, val in zip(pool, is_val):
        splits[i] = "val" if val else "train"
    return splits


def _write(work: Path, classes: list[str], kept: list, splits: list[str]) -> dict:
    docs = {s: ([], []) for s in SPLITS}
    ann_id = 0
    for image_id, ((raw, record, anns), split) in enumerate(zip(kept, splits), start=1):
        images, annotations = docs[split]
        images.append({"id": image_id, **record})
        for ann in anns:
            ann_id += 1
            annotations.append({"id": ann_id, "image_id": image_id, **ann})
    for split, (images, annotations) in docs.items():
        write_json(split_json(work, split), coco_document(images, annotations, classes))
    return split_counts({s: {"images": imgs, "annotations": anns}
                         for s, (imgs, anns) in docs.items()})
