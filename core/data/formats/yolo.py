"""YOLO (Ultralytics/Darknet): data.yaml with `names`, images/ and labels/ trees; one .txt per
image with lines `class cx cy w h` normalised to [0, 1] (a polygon `class x1 y1 x2 y2 ...`
becomes its bounding box). Splits from data.yaml `train`/`val` (folders or .txt lists),
else images/{train,val}/ or {train,valid,val}/images/, else one pool split at import.
"""

from __future__ import annotations

import logging
import math
import shutil
from pathlib import Path

import yaml

from core.data.formats import Parsed, RawAnn, RawImage
from core.data.images import is_image_file
from core.data.report import Report
from core.errors import DatasetError

log = logging.getLogger(__name__)

YAML_NAMES = ("data.yaml", "dataset.yaml", "data.yml")
NAMES_FILES = ("classes.txt", "obj.names", "classes.names")
SPLIT_KEYS = {"train": ("train",), "val": ("val", "valid", "validation")}


def _yaml_file(root: Path) -> Path | None:
    for name in YAML_NAMES:
        if (root / name).is_file():
            return root / name
    return next(iter(sorted(root.glob("*.yaml"))), None)


def looks_like(root: Path) -> bool:
    if _yaml_file(root) is not None and _read_yaml(_yaml_file(root), quiet=True).get("names"):
        return True
    return (root / "labels").is_dir() and (root / "images").is_dir()


def _read_yaml(path: Path, quiet: bool = False) -> dict:
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError, UnicodeDecodeError) as exc:
        if quiet:
            return {}
        raise DatasetError(f"{path.name}: unreadable YAML ({exc})") from exc
    return data if isinstance(data, dict) else {}


def _names(root: Path, config: dict) -> list[str] | None:
    names = config.get("names")
    if isinstance(names, list):
        return [str(n) for n in names]
    if isinstance(names, dict):
        try:
            keys = sorted(int(k) for k in names)
        except (TypeError, ValueError) as exc:
            raise DatasetError(f"YOLO names must be a list or {{index: name}}: {exc}") from exc
        if keys != list(range(len(keys))):
            raise DatasetError("YOLO names must be numbered 0..K-1 without gaps")
        return [str(names.get(k, names.get(str(k)))) for k in keys]
    for name in NAMES_FILES:
        if (root / name).is_file():
            return [line.strip() for line in (root / name).read_text(encoding="utf-8")
                    .splitlines() if line.strip()]
    return None


def _inside(root: Path, path: Path) -> bool:
    resolved, base = path.resolve(), root.resolve()
    return resolved == base or base in resolved.parents


def _split_sources(root: Path, config: dict) -> list[tuple[str | None, list[Path]]]:
    """[(split, image files)] from data.yaml, the usual folder layouts, or all images."""
    base = root
    if isinstance(config.get("path"), str):
        candidate = (root / config["path"]).resolve()
        base = candidate if candidate.is_dir() and _inside(root, candidate) else root
    sources = []
    for split, keys in SPLIT_KEYS.items():
        for key in keys:
            value = config.get(key)
            if isinstance(value, str):
                files = _list_images(root, base, value)
                if files is not None:
                    sources.append((split, files))
                    break
    if sources:
        return sources
    for split, folders in (("train", ("images/train", "train/images", "train")),
                           ("val", ("images/val", "images/valid", "valid/images",
                                    "val/images", "val", "valid"))):
        for folder in folders:
            if (root / folder).is_dir():
                sources.append((split, _images_under(root / folder)))
                break
    if sources:
        return sources
    pool = root / "images" if (root / "images").is_dir() else root
    return [(None, _images_under(pool))]


def _images_under(folder: Path) -> list[Path]:
    return sorted(p for p in folder.rglob("*") if p.is_file() and is_image_file(p))


def _list_images(root: Path, base: Path, value: str) -> list[Path] | None:
    target = (base / value)
    if not _inside(root, target):
        stripped = Path(*[p for p in Path(value).parts if p not in ("..", "/")])
        target = base / stripped
        if not _inside(root, target):
            return None
    if target.is_dir():
        return _images_under(target)
    if target.is_file() and target.suffix == ".txt":
        files = []
        for line in target.read_text(encoding="utf-8", errors="replace").splitlines():
            if line.strip():
                p = (target.parent / line.strip())
                files.append(p if p.exists() else base / line.strip().lstrip("./"))
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
    config = _read_yaml(yaml_path) if yaml_path is not None else {}
    names = _names(root, config)
    sources = _split_sources(root, config)
    images = []
    max_label = -1
    for split, files in sources:
        for file in files:
            raw, top = _image(root, file, split, names, report)
            images.append(raw)
            max_label = max(max_label, top)
    if names is None:
        names = [str(i) for i in range(max_label + 1)]
        if names:
            report.add("no_class_names", yaml_path.name if yaml_path else "data.yaml",
                       "no class names found")
    if not names:
        raise DatasetError(f"YOLO folder {root.name}: no class names (data.yaml `names`) and "
                           "no labels")
    return Parsed("yolo", names, images)


def _image(root: Path, file: Path, split: str | None, names: list[str] | None,
           report: Report) -> tuple[RawImage, int]:
    rel = file.relative_to(root).as_posix() if _inside(root, file) else file.name
    raw = RawImage(path=file, rel=rel, size=None, split=split, source_id=rel, normalized=True)
    labels = label_path(file)
    if not labels.is_file():
        raw.note = "no label file"
        return raw, -1
    top = -1
    lines = labels.read_text(encoding="utf-8", errors="replace").splitlines()
    for n, line in enumerate(lines, start=1):
        parsed = _line(line)
        where = f"{labels.relative_to(root).as_posix() if _inside(root, labels) else labels.name}:{n}"
        if parsed is None:
            if line.strip():
                report.add("bad_label_line", where, f"cannot parse {line.strip()[:60]!r}")
            continue
        label, box = parsed
        if names is not None and not 0 <= label < len(names):
            report.add("unknown_category", where, f"class {label} not in 0..{len(names) - 1}")
            continue
        top = max(top, label)
        raw.anns.append(RawAnn(label, box))
    return raw, top


def _line(line: str) -> tuple[int, tuple[float, float, float, float]] | None:
    """'c cx cy w h' or 'c x1 y1 x2 y2 ...' (polygon) -> (class, normalised xyxy)."""
    parts = line.split()
    if len(parts) < 5:
        return None
    try:
        values = [float(v) for v in parts[1:]]
        label = int(float(parts[0]))
    except ValueError:
        return None
    if float(parts[0]) != label or label < 0:
        return None
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
                lines.append(f"{ann['category_id'] - 1} {(x + w / 2) / im['width']:.6f} "
                             f"{(y + h / 2) / im['height']:.6f} {w / im['width']:.6f} "
                             f"{h / im['height']:.6f}")
            label = (out / "labels" / split / im["file_name"]).with_suffix(".txt")
            label.write_text("\n".join(lines) + ("\n" if lines else ""), encoding="utf-8")
    config = {"path": ".", **{s: f"images/{s}" for s in splits}, "nc": len(classes),
              "names": list(classes)}
    (out / "data.yaml").write_text(yaml.safe_dump(config, sort_keys=False, allow_unicode=True),
                                   encoding="utf-8")
