"""Pascal VOC: Annotations/*.xml + JPEGImages/ (+ ImageSets/Main/{train,val,trainval}.txt).

VOC boxes are 1-based inclusive pixel indices (xmin..xmax); they become (xmin - 1, ymin - 1,
xmax, ymax) in the 0-based, right-exclusive convention of COCO (as Detectron2 does). The
`difficult` flag is kept on each annotation. Classes are the object names found, sorted (for
the 20 VOC classes this is the usual order).
"""

from __future__ import annotations

import logging
import xml.etree.ElementTree as ET
from pathlib import Path

from core.data.formats import Parsed, RawAnn, RawImage
from core.data.report import Report
from core.errors import DatasetError

log = logging.getLogger(__name__)

ANNOTATIONS = "Annotations"
IMAGES = "JPEGImages"
SETS = Path("ImageSets") / "Main"


def looks_like(root: Path) -> bool:
    ann = root / ANNOTATIONS
    return ann.is_dir() and any(ann.glob("*.xml"))


def _split_ids(root: Path) -> dict[str, str | None] | None:
    """image id -> split from ImageSets/Main, or None when there are no split files."""
    sets = root / SETS
    found: dict[str, str | None] = {}
    for split, names in (("train", ("train.txt",)), ("val", ("val.txt",)),
                         (None, ("trainval.txt",))):
        for name in names:
            path = sets / name
            if path.is_file():
                for line in path.read_text(encoding="utf-8", errors="replace").splitlines():
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
    split_ids = _split_ids(root)
    xml_files = sorted((root / ANNOTATIONS).glob("*.xml"))
    if split_ids is not None:
        by_stem = {p.stem: p for p in xml_files}
        xml_files = [by_stem[i] for i in split_ids if i in by_stem]
        for missing in (i for i in split_ids if i not in by_stem):
            report.add("bad_annotation_file", f"{ANNOTATIONS}/{missing}.xml",
                       "listed in ImageSets/Main but has no annotation file")
    records = []
    names: set[str] = set()
    for xml_path in xml_files:
        rel = f"{ANNOTATIONS}/{xml_path.name}"
        try:
            tree = ET.parse(xml_path).getroot()
        except (ET.ParseError, OSError) as exc:
            report.add("bad_annotation_file", rel, f"unreadable XML ({exc})")
            continue
        objects = []
        for obj in tree.findall("object"):
            name = _text(obj, "name")
            if not name:
                report.add("bad_box", rel, "object without a <name>")
                continue
            box = obj.find("bndbox")
            coords = tuple(_number(box, t) for t in ("xmin", "ymin", "xmax", "ymax"))
            difficult = _text(obj, "difficult") == "1"
            crowd = _text(obj, "iscrowd") == "1"
            objects.append((name, coords, difficult, crowd))
            names.add(name)
        records.append((xml_path, tree, objects))
    classes = sorted(names)
    if not classes:
        raise DatasetError(f"VOC folder {root.name}: no <object> with a <name> in any "
                           "annotation file")
    index = {c: i for i, c in enumerate(classes)}
    images = [_image(root, xml_path, tree, objects, index, split_ids)
              for xml_path, tree, objects in records]
    return Parsed("voc", classes, images)


def _image(root: Path, xml_path: Path, tree: ET.Element, objects: list, index: dict,
           split_ids: dict | None) -> RawImage:
    file_name = _text(tree, "filename") or f"{xml_path.stem}.jpg"
    file = root / IMAGES / file_name
    if not file.is_file():
        alternatives = sorted((root / IMAGES).glob(f"{xml_path.stem}.*"))
        file = alternatives[0] if alternatives else file
    size = tree.find("size")
    w, h = _number(size, "width"), _number(size, "height")
    recorded = (int(h), int(w)) if h == h and w == w and h > 0 and w > 0 else None
    anns = [RawAnn(index[name], (x1 - 1.0, y1 - 1.0, x2, y2), iscrowd=crowd, difficult=diff)
            for name, (x1, y1, x2, y2), diff, crowd in objects]
    split = split_ids.get(xml_path.stem) if split_ids else None
    return RawImage(path=file, rel=f"{IMAGES}/{file.name}", size=recorded, split=split,
                    anns=anns, source_id=xml_path.stem)
