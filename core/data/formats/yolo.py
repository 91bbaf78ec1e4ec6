"""YOLO (Ultralytics/Darknet): data.yaml with `names`, images/ and labels/ trees; one .txt per
image with lines `class cx cy w h` normalised to [0, 1] (a polygon `class x1 y1 x2 y2 ...`
becomes its bounding box). Splits from data.yaml `train`/`val` (folders, .txt lists, or lists
of them), else images/{train,val}/ or {train,valid,val}/images/, else one pool split at import.

Files are read through core.data.formats.safe: data.yaml without aliases and at most 1 MB (a
linked or unreadable data.yaml fails the import: it is the dataset's definition); a label
file, classes.txt or split list that is a link or too large is refused and reported (the image
then has no objects). A line that does not parse, or whose class is not an integer in range,
is one reported problem; a `names` entry that is not a name is reported and named by its index.
"""

from __future__ import annotations

import logging
import math
import os
import shutil
from pathlib import Path
from typing import Any

import yaml

from core.data.formats import Budget, Parsed, RawImage, class_name, is_image_file
from core.data.formats.report import Report, describe
from core.data.formats.safe import (
    MAX_CLASSES,
    LinkRefused,
    link_on_path,
    load_yaml,
    read_text,
    rel_posix,
)
from core.errors import DatasetError

log = logging.getLogger(__name__)

YAML_NAMES = ("data.yaml", "dataset.yaml", "data.yml")
NAMES_FILES = ("classes.txt", "obj.names", "classes.names")
SPLIT_KEYS = {"train": ("train",), "val": ("val", "valid", "validation")}


def _exists(path: Path) -> bool:
    """Anything is there (a file, a link, a FIFO...): what it is, the reader finds out."""
    return os.path.lexists(path) and not os.path.isdir(path)


def _yaml_file(root: Path) -> Path | None:
    for name in YAML_NAMES:
        if _exists(root / name):
            return root / name
    return next(iter(sorted(root.glob("*.yaml"))), None)


def looks_like(root: Path) -> bool:
    path = _yaml_file(root)
    if path is not None and (path.is_symlink() or _read_yaml(root, path, quiet=True).get("names")):
        return True
    return (root / "labels").is_dir() and (root / "images").is_dir()


def _read_yaml(root: Path, path: Path, quiet: bool = False) -> dict:
    try:
        data = load_yaml(root, path)
    except DatasetError:
        if quiet:
            return {}
        raise
    return data if isinstance(data, dict) else {}


def _names(root: Path, config: dict, report: Report, yaml_rel: str) -> list[str] | None:
    """Class names from data.yaml `names` (a list or {index: name}), else classes.txt."""
    names = config.get("names")
    if isinstance(names, (list, dict)):
        if len(names) > MAX_CLASSES:
            raise DatasetError(
                f"{yaml_rel}: {len(names):,} class names, over the limit of {MAX_CLASSES:,}"
            )
        pairs = (
            list(enumerate(names)) if isinstance(names, list) else _indexed(names, report, yaml_rel)
        )
        found = dict(pairs)
        out = []
        for i in range(max(found, default=-1) + 1):
            name = class_name(found.get(i))
            if name is None:
                report.add(
                    "bad_category",
                    yaml_rel,
                    f"names[{i}]: {describe(found.get(i))} is "
                    f"not a class name; the class is named {i}",
                    "named by its index",
                    entry=f"names[{i}]",
                )
                name = str(i)
            out.append(name)
        return out
    if names is not None:
        report.add(
            "bad_category",
            yaml_rel,
            f"names: {describe(names)} is not a list or a mapping; ignored",
            "ignored",
            entry="names",
        )
    return _names_file(root, report)


def _indexed(names: dict, report: Report, yaml_rel: str) -> list[tuple[int, Any]]:
    """{index: name} entries with usable indices 0..MAX_CLASSES-1 (others reported)."""
    pairs = []
    for key, value in names.items():
        index = key if isinstance(key, int) and not isinstance(key, bool) else None
        if isinstance(key, str) and key.strip().isdigit():
            index = int(key)
        if index is None or not 0 <= index < MAX_CLASSES:
            report.add(
                "bad_category",
                yaml_rel,
                f"names: key {describe(key)} is not a class index 0..{MAX_CLASSES - 1}; skipped",
                entry=f"names[{key!r:.20}]",
            )
            continue
        pairs.append((index, value))
    return pairs


def _names_file(root: Path, report: Report) -> list[str] | None:
    for name in NAMES_FILES:
        path = root / name
        if not _exists(path):
            continue
        try:
            text = read_text(root, path, what="class names file")
        except LinkRefused as exc:
            report.add("symlink", exc.link, str(exc))
            continue
        except DatasetError as exc:
            report.add("bad_annotation_file", name, str(exc), "ignored")
            continue
        lines = [line.strip() for line in text.splitlines() if line.strip()]
        if len(lines) > MAX_CLASSES:
            raise DatasetError(
                f"{name}: {len(lines):,} class names, over the limit of {MAX_CLASSES:,}"
            )
        names = []
        for i, line in enumerate(lines):
            if class_name(line) is None:
                report.add(
                    "bad_category",
                    name,
                    f"class {i}: a name of {len(line):,} characters; the class is named {i}",
                    "named by its index",
                    entry=f"class {i}",
                )
            names.append(class_name(line) or str(i))
        return names
    return None


def _inside(root: Path, path: Path) -> bool:
    """`path` lies in `root` lexically and is reached without links."""
    try:
        return link_on_path(root, path) is None
    except DatasetError:  # outside the root
        return False


def _rel(root: Path, path: Path) -> str:
    """`path` relative to `root` for the report (its name alone when it lies outside)."""
    rel = rel_posix(root, path)
    return path.name if rel.startswith("../") or rel == ".." else rel


def _split_sources(root: Path, config: dict, report: Report) -> list[tuple[str | None, list[Path]]]:
    """[(split, image files)] from data.yaml, the usual folder layouts, or all images."""
    base = root
    if isinstance(config.get("path"), str) and "\0" not in config["path"]:
        candidate = root / config["path"]
        base = candidate if _inside(root, candidate) and os.path.isdir(candidate) else root
    sources = []
    for split, keys in SPLIT_KEYS.items():
        for key in keys:
            values = config.get(key)
            values = [values] if isinstance(values, str) else values
            if not isinstance(values, list) or not values:
                continue
            lists = [_list_images(root, base, v, report) for v in values if isinstance(v, str)]
            if any(found is not None for found in lists):
                sources.append((split, [f for found in lists if found for f in found]))
                break
    if sources:
        return sources
    for split, folders in (
        ("train", ("images/train", "train/images", "train")),
        ("val", ("images/val", "images/valid", "valid/images", "val/images", "val", "valid")),
    ):
        for folder in folders:
            if os.path.isdir(root / folder) and _inside(root, root / folder):
                sources.append((split, _images_under(root / folder)))
                break
    if sources:
        return sources
    pool = root / "images" if (root / "images").is_dir() else root
    return [(None, _images_under(pool))]


def _images_under(folder: Path) -> list[Path]:
    """Image files below `folder`; linked folders are not entered, linked files are listed
    (the importer refuses and reports them)."""
    return sorted(p for p in folder.rglob("*") if is_image_file(p) and _exists(p))


def _list_images(root: Path, base: Path, value: str, report: Report) -> list[Path] | None:
    if "\0" in value:
        return None
    target = base / value
    if not _inside(root, target):
        stripped = Path(*[p for p in Path(value).parts if p not in ("..", "/")])
        target = base / stripped
        if not _inside(root, target):
            return None
    if os.path.isdir(target):
        return _images_under(target)
    if _exists(target) and target.suffix == ".txt":
        try:
            text = read_text(root, target, what="image list")
        except LinkRefused as exc:
            report.add("symlink", exc.link, str(exc))
            return None
        except DatasetError as exc:
            report.add("bad_annotation_file", rel_posix(root, target), str(exc), "ignored")
            return None
        files = []
        for line in text.splitlines():
            entry = line.strip()
            if entry and "\0" not in entry:
                p = target.parent / entry
                files.append(p if _exists(p) else base / entry.lstrip("./"))
        return files
    return None


def label_path(image: Path) -> Path:
    """images/.../x.jpg -> labels/.../x.txt (the last 'images' folder becomes 'labels')."""
    parts = list(image.parts)
    for i in range(len(parts) - 2, -1, -1):
        if parts[i] == "images":
            parts[i] = "labels"
            return Path(*parts).with_suffix(".txt")
    return image.with_suffix(".txt")


def parse(root: Path, report: Report) -> Parsed:
    yaml_path = _yaml_file(root)
    yaml_rel = rel_posix(root, yaml_path) if yaml_path is not None else "data.yaml"
    config = _read_yaml(root, yaml_path) if yaml_path is not None else {}
    names = _names(root, config, report, yaml_rel)
    budget = Budget()
    images = []
    max_label = -1
    for split, files in _split_sources(root, config, report):
        for file in files:
            budget.add(images=1)
            raw, top = _image(root, file, split, names, report)
            budget.add(objects=raw.count)
            images.append(raw)
            max_label = max(max_label, top)
    if names is None:
        names = [str(i) for i in range(max_label + 1)]
        if names:
            report.add("no_class_names", yaml_rel, "no class names found")
    if not names:
        raise DatasetError(
            f"YOLO folder {root.name}: no class names (data.yaml `names`) and no labels"
        )
    return Parsed("yolo", names, images)


def _image(
    root: Path, file: Path, split: str | None, names: list[str] | None, report: Report
) -> tuple[RawImage, int]:
    rel = _rel(root, file)
    raw = RawImage(path=file, rel=rel, size=None, split=split, source_id=rel, normalized=True)
    labels = label_path(file)
    if not _exists(labels):
        raw.note = "no label file"
        return raw, -1
    label_rel = _rel(root, labels)
    try:
        text = read_text(root, labels, what="label file")
    except LinkRefused as exc:
        report.add("symlink", exc.link, str(exc))
        raw.note = "its label file is a symbolic link (refused)"
        return raw, -1
    except DatasetError as exc:
        report.add("bad_annotation_file", label_rel, str(exc).split(": ", 1)[-1])
        raw.note = "its label file is unreadable"
        return raw, -1
    top = -1
    limit = len(names) if names is not None else MAX_CLASSES
    for n, line in enumerate(text.splitlines(), start=1):
        parsed = _line(line)
        if parsed is None:
            if line.strip():
                report.add(
                    "bad_label_line",
                    label_rel,
                    f"line {n}: cannot parse {line.strip()[:60]!r}",
                    entry=f"line {n}",
                )
            continue
        label, box = parsed
        if not label < limit:
            report.add(
                "unknown_category",
                label_rel,
                f"line {n}: class {label} not in 0..{limit - 1}",
                entry=f"line {n}",
            )
            continue
        top = max(top, label)
        raw.add(label, box)
    return raw, top


def _line(line: str) -> tuple[int, tuple[float, float, float, float]] | None:
    """'c cx cy w h' or 'c x1 y1 x2 y2 ...' (polygon) -> (class, normalised xyxy); None when
    the line does not parse or its class is not a non-negative integer."""
    parts = line.split()
    if len(parts) < 5:
        return None
    try:
        values = [float(v) for v in parts[1:]]
        label_value = float(parts[0])
    except ValueError:
        return None
    if not math.isfinite(label_value) or not label_value.is_integer() or label_value < 0:
        return None
    label = int(label_value)
    if len(values) == 4:
        cx, cy, w, h = values
        return label, (cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2)
    if len(values) % 2 == 0 and len(values) >= 6 and all(math.isfinite(v) for v in values):
        xs, ys = values[0::2], values[1::2]
        return label, (min(xs), min(ys), max(xs), max(ys))
    return None


def write(out: Path, classes: list[str], splits: dict[str, tuple[dict, Path]]) -> None:
    """Write data.yaml, images/<split>/ and labels/<split>/ (normalised cx cy w h)."""
    for split, (doc, images_dir) in splits.items():
        (out / "images" / split).mkdir(parents=True, exist_ok=True)
        (out / "labels" / split).mkdir(parents=True, exist_ok=True)
        per_image: dict[int, list[dict]] = {im["id"]: [] for im in doc["images"]}
        for ann in doc["annotations"]:
            if not ann.get("iscrowd"):
                per_image.setdefault(ann["image_id"], []).append(ann)
        for im in doc["images"]:
            shutil.copyfile(images_dir / im["file_name"], out / "images" / split / im["file_name"])
            lines = []
            for ann in per_image[im["id"]]:
                x, y, w, h = ann["bbox"]
                lines.append(
                    f"{ann['category_id'] - 1} {(x + w / 2) / im['width']:.6f} "
                    f"{(y + h / 2) / im['height']:.6f} {w / im['width']:.6f} "
                    f"{h / im['height']:.6f}"
                )
            label = (out / "labels" / split / im["file_name"]).with_suffix(".txt")
            label.write_text("\n".join(lines) + ("\n" if lines else ""), encoding="utf-8")
    config = {
        "path": ".",
        **{s: f"images/{s}" for s in splits},
        "nc": len(classes),
        "names": list(classes),
    }
    (out / "data.yaml").write_text(
        yaml.safe_dump(config, sort_keys=False, allow_unicode=True), encoding="utf-8"
    )
