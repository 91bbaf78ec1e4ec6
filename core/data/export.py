"""Export a registered dataset as COCO (annotations/instances_{train,val}.json + train/ val/)
or YOLO (data.yaml + images/{train,val}/ + labels/{train,val}/) into a new folder.

YOLO has no crowd flag: crowd annotations are left out of a YOLO export. Its data.yaml names
the export folder by its absolute `path:` because Ultralytics resolves a relative `path` against
its own datasets folder (or the working directory), never against the yaml's folder.
"""

from __future__ import annotations

import logging
import shutil
import tempfile
from pathlib import Path

import yaml

from core.data.dataset import open_dataset
from core.data.formats import yolo
from core.data.formats.coco import ANNOTATIONS_DIR
from core.data.internal import SPLITS, coco_document, read_json, write_json
from core.data.spec import EXPORT_FORMATS
from core.errors import DatasetError, SpecError

log = logging.getLogger(__name__)


def export_dataset(store, name: str, out: str | Path, fmt: str = "coco") -> Path:
    """Write dataset `name` to `out` (which must not exist, or be an empty folder); returns it.

    Built in a sibling temp folder and renamed, so a failed export leaves nothing behind.
    """
    if fmt not in EXPORT_FORMATS:
        raise SpecError(f"export format must be one of {', '.join(EXPORT_FORMATS)}; got {fmt!r}")
    info = open_dataset(store, name)
    out = Path(out).expanduser().resolve()
    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        raise SpecError(f"export target {out} exists and is not an empty folder")
    out.parent.mkdir(parents=True, exist_ok=True)
    splits = {s: (read_json(info.split_json(s)), info.images_dir) for s in SPLITS}
    tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}-", dir=out.parent))
    try:
        (write_coco if fmt == "coco" else yolo.write)(tmp, info.classes, splits)
        if fmt == "yolo":
            _set_yaml_root(tmp / "data.yaml", out)
        if out.exists():
            out.rmdir()
        tmp.rename(out)
    except OSError as exc:
        shutil.rmtree(tmp, ignore_errors=True)
        raise DatasetError(f"cannot export {name} to {out}: {exc}") from exc
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    log.info("exported %s as %s to %s", name, fmt, out)
    return out


def write_coco(out: Path, classes: list[str], splits: dict[str, tuple[dict, Path]]) -> None:
    """Write annotations/instances_<split>.json and <split>/ images (copied) for each split.

    `splits` maps split -> (internal COCO document, its images folder).
    """
    (out / ANNOTATIONS_DIR).mkdir(parents=True, exist_ok=True)
    for split, (doc, images_dir) in splits.items():
        (out / split).mkdir(exist_ok=True)
        for im in doc["images"]:
            shutil.copyfile(images_dir / im["file_name"], out / split / im["file_name"])
        write_json(
            out / ANNOTATIONS_DIR / f"instances_{split}.json",
            coco_document(doc["images"], doc["annotations"], classes),
        )


def _set_yaml_root(yaml_path: Path, root: Path) -> None:
    """Point data.yaml's `path:` at `root` (absolute), keeping the other keys and their order."""
    config = yaml.safe_load(yaml_path.read_text(encoding="utf-8"))
    config = {"path": str(root), **{k: v for k, v in config.items() if k != "path"}}
    yaml_path.write_text(
        yaml.safe_dump(config, sort_keys=False, allow_unicode=True), encoding="utf-8"
    )
