"""Pascal VOC: Annotations/*.xml + JPEGImages/ (+ ImageSets/Main/{train,val,trainval}.txt).

VOC boxes are 1-based inclusive pixel indices (xmin..xmax); they become (xmin - 1, ymin - 1,
xmax, ymax) in the 0-based, right-exclusive convention of COCO (as Detectron2 does). The
`difficult` flag is kept on each annotation. Classes are the object names found, sorted (for
the 20 VOC classes this is the usual order).

Each xml is read through core.data.formats.safe (no links, at most MAX_TEXT_BYTES) and parsed by
expat, which refuses external entities (XXE) and entity expansion bombs ("billion laughs"); one
unreadable file, an <object> without a name, or a <size> that is not a positive finite number
is one reported problem. Only a compact record of each file is kept (never its tree).
"""

from __future__ import annotations

import glob
import logging
import math
import xml.etree.ElementTree as ET
from pathlib import Path

from core.data.formats import Budget, Parsed, RawImage, class_name
from core.data.formats.report import Report
from core.data.formats.safe import (
    MAX_CLASSES,
    MAX_TEXT_BYTES,
    LinkRefused,
    is_regular_file,
    read_bytes,
    read_text,
    rel_posix,
)
from core.errors import DatasetError

log = logging.getLogger(__name__)

ANNOTATIONS = "Annotations"
IMAGES = "JPEGImages"
SETS = Path("ImageSets") / "Main"


def looks_like(root: Path) -> bool:
    ann = root / ANNOTATIONS
    return ann.is_dir() and any(ann.glob("*.xml"))


def _split_ids(root: Path, report: Report) -> dict[str, str | None] | None:
    """image id -> split from ImageSets/Main, or None when there are no split files."""
    sets = root / SETS
    found: dict[str, str | None] = {}
    for split, name in (("train", "train.txt"), ("val", "val.txt"), (None, "trainval.txt")):
        path = sets / name
        if not (path.is_file() or path.is_symlink()):
            continue
        try:
            text = read_text(root, path, MAX_TEXT_BYTES, "split list")
        except LinkRefused as exc:
            report.add("symlink", exc.link, str(exc))
            continue
        except DatasetError as exc:
            report.add("bad_annotation_file", rel_posix(root, path), str(exc), "ignored")
            continue
        for line in text.splitlines():
            if line.strip():
                found.setdefault(line.split()[0], split)
    return found or None


def _text(node: ET.Element | None, tag: str) -> str | None:
    child = node.find(tag) if node is not None else None
    return child.text.strip() if child is not None and child.text else None


def _number(node: ET.Element | None, tag: str) -> float:
    value = _text(node, tag)
    try:
        return float(value) if value is not None else float("nan")
    except ValueError:
        return float("nan")


def parse(root: Path, report: Report) -> Parsed:
    split_ids = _split_ids(root, report)
    xml_files = sorted((root / ANNOTATIONS).glob("*.xml"))
    if split_ids is not None:
        by_stem = {p.stem: p for p in xml_files}
        xml_files = [by_stem[i] for i in split_ids if i in by_stem]
        for missing in (i for i in split_ids if i not in by_stem):
            report.add(
                "bad_annotation_file",
                f"{ANNOTATIONS}/{missing}.xml",
                "listed in ImageSets/Main but has no annotation file",
            )
    names: dict[str, int] = {}  # class name -> index in order of first appearance
    budget = Budget()
    images = []
    for xml_path in xml_files:
        raw = _read(root, xml_path, names, report, budget)
        if raw is not None:
            raw.split = split_ids.get(xml_path.stem) if split_ids else None
            images.append(raw)
    classes = sorted(names)
    if not classes:
        raise DatasetError(
            f"VOC folder {root.name}: no <object> with a <name> in any "
            f"readable annotation file; {report.first() or 'no problem recorded'}"
        )
    order = {names[c]: i for i, c in enumerate(classes)}
    for raw in images:
        raw.relabel(order)
    return Parsed("voc", classes, images)


def _read(
    root: Path, xml_path: Path, names: dict[str, int], report: Report, budget: Budget
) -> RawImage | None:
    """One annotation file -> its RawImage (objects labelled by `names`, extended), or None."""
    rel = f"{ANNOTATIONS}/{xml_path.name}"
    try:
        tree = ET.fromstring(read_bytes(root, xml_path, MAX_TEXT_BYTES, "annotation file"))
    except LinkRefused as exc:
        report.add("symlink", exc.link, str(exc))
        return None
    except DatasetError as exc:
        report.add("bad_annotation_file", rel, str(exc).split(": ", 1)[-1])
        return None
    except (ET.ParseError, LookupError, ValueError) as exc:  # LookupError: unknown encoding
        report.add("bad_annotation_file", rel, f"unreadable XML ({exc})")
        return None
    budget.add(images=1)
    raw = _image(root, xml_path, tree, report)
    for k, obj in enumerate(tree.findall("object"), start=1):
        name = class_name(_text(obj, "name"))
        if name is None:
            text = _text(obj, "name")
            why = "no <name>" if not text else f"a <name> of {len(text):,} characters"
            report.add("bad_annotation", rel, f"<object> {k}: {why}", entry=f"object {k}")
            continue
        if name not in names and len(names) >= MAX_CLASSES:
            raise DatasetError(f"{rel}: more than {MAX_CLASSES:,} class names (the import limit)")
        box = obj.find("bndbox")
        x1, y1, x2, y2 = (_number(box, t) for t in ("xmin", "ymin", "xmax", "ymax"))
        budget.add(objects=1)
        raw.add(
            names.setdefault(name, len(names)),
            (x1 - 1.0, y1 - 1.0, x2, y2),
            iscrowd=_text(obj, "iscrowd") == "1",
            difficult=_text(obj, "difficult") == "1",
        )
    return raw


def _image(root: Path, xml_path: Path, tree: ET.Element, report: Report) -> RawImage:
    file_name = _text(tree, "filename") or f"{xml_path.stem}.jpg"
    file = root / IMAGES / file_name
    if not is_regular_file(root, file):
        alternatives = sorted((root / IMAGES).glob(f"{glob.escape(xml_path.stem)}.*"))
        file = alternatives[0] if alternatives else file
    size = tree.find("size")
    w, h = _number(size, "width"), _number(size, "height")
    recorded = None
    if all(math.isfinite(v) and v >= 1 for v in (w, h)):
        recorded = (int(h), int(w))
    elif size is not None:
        report.add(
            "bad_image_size",
            f"{ANNOTATIONS}/{xml_path.name}",
            f"<size> {_text(size, 'width')!r} x {_text(size, 'height')!r} is not a positive number",
            entry="size",
        )
    return RawImage(
        path=file, rel=f"{IMAGES}/{file.name}", size=recorded, split=None, source_id=xml_path.stem
    )
