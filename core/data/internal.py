"""The internal dataset form and its atomic registration.

Every dataset lives in `<home>/datasets/<name>/` as `train.json` and `val.json` (COCO instances:
category ids 1..K in class order, `bbox` [x, y, w, h] pixels, `area`, `iscrowd`; image
`file_name` relative to `images/`) plus `images/`. Generators and importers build it in a work
folder `<home>/datasets/.tmp-<name>-<random>/`, then `commit_dataset` renames it into place and
adds the store row; on any failure the work folder is removed and nothing is registered.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import sqlite3
import tempfile
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from core.data.formats.jsonstream import stream_object
from core.data.stats import compute_stats
from core.errors import DatasetError, SpecError
from core.io import atomic_open, write_json_atomic

log = logging.getLogger(__name__)

SPLITS = ("train", "val")
IMAGES_DIR = "images"
DATASETS_DIR = "datasets"
TMP_PREFIX = ".tmp-"


def split_json(root: Path, split: str) -> Path:
    if split not in SPLITS:
        raise SpecError(f"unknown split {split!r}; use one of {', '.join(SPLITS)}")
    return Path(root) / f"{split}.json"


def datasets_dir(home: Path) -> Path:
    path = Path(home) / DATASETS_DIR
    path.mkdir(parents=True, exist_ok=True)
    return path


def coco_document(images: list[dict], annotations: list[dict], classes: list[str]) -> dict:
    """A COCO instances document with categories 1..K named after `classes`."""
    return {
        "info": {"description": "NASDet Studio dataset", "version": "1.0"},
        "licenses": [],
        "images": images,
        "annotations": annotations,
        "categories": [
            {"id": i + 1, "name": c, "supercategory": "object"} for i, c in enumerate(classes)
        ],
    }


def write_json(path: Path, obj: Any) -> None:
    """Write compact JSON atomically (core.io.write_json_atomic)."""
    write_json_atomic(path, obj)


def write_coco_stream(
    path: Path, images: Iterable[dict], annotations: Iterable[dict], classes: list[str]
) -> None:
    """Write a COCO document like `coco_document` one entry at a time (atomically), so that
    the images and annotations can come from generators."""
    head = coco_document([], [], classes)
    # ASCII escapes: a file name read with surrogate escapes (bytes that are not UTF-8) stays
    # writable; NaN/inf cannot occur (the importer checks every number).
    dumps = json.JSONEncoder(separators=(",", ":"), allow_nan=False).encode
    with atomic_open(path, "w", encoding="utf-8") as f:  # a full disk: DiskFullError
        f.write(f'{{"info":{dumps(head["info"])},"licenses":[],"images":[')
        _write_items(f, images, dumps)
        f.write('],"annotations":[')
        _write_items(f, annotations, dumps)
        f.write(f'],"categories":{dumps(head["categories"])}}}')


def _write_items(f, items: Iterable[dict], dumps: Callable[[Any], str]) -> None:
    """Comma-separated JSON of `items`, written in batches of 1,000."""
    sep, batch = "", []
    for item in items:
        batch.append(dumps(item))
        if len(batch) >= 1000:
            f.write(sep + ",".join(batch))
            sep, batch = ",", []
    if batch:
        f.write(sep + ",".join(batch))


def read_json(path: Path) -> Any:
    try:
        with open(path, encoding="utf-8") as f:
            return json.load(f)
    except FileNotFoundError as exc:
        raise DatasetError(f"{path} is missing; the dataset folder is incomplete") from exc
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise DatasetError(f"{path} is not valid JSON: {exc}") from exc
    except RecursionError as exc:
        raise DatasetError(f"{path} is nested too deeply to be a dataset file") from exc


def split_counts(docs: dict[str, dict]) -> dict:
    """The store's `counts`: train/val images and objects (crowd annotations not counted)."""
    counts = {}
    for split in SPLITS:
        doc = docs.get(split, {"images": [], "annotations": []})
        counts[f"{split}_images"] = len(doc["images"])
        counts[f"{split}_objects"] = sum(1 for a in doc["annotations"] if not a.get("iscrowd"))
    return counts


def new_workdir(home: Path, name: str, job_id: int | None = None) -> Path:
    """A fresh work folder under <home>/datasets/ (same filesystem, so the rename is atomic).

    Leftovers of an earlier attempt of the same job (a killed worker) are removed first."""
    tag = f"{TMP_PREFIX}{name}-job{job_id}-" if job_id is not None else f"{TMP_PREFIX}{name}-"
    if job_id is not None:
        for old in datasets_dir(home).glob(f"{tag}*"):
            remove_workdir(old)
    work = Path(tempfile.mkdtemp(prefix=tag, dir=datasets_dir(home)))
    (work / IMAGES_DIR).mkdir()
    return work


def remove_workdir(path: Path | None) -> None:
    """Delete a work folder (only ever one named .tmp-*)."""
    if path is not None and Path(path).name.startswith(TMP_PREFIX):
        shutil.rmtree(path, ignore_errors=True)


def commit_dataset(
    store,
    work: Path,
    name: str,
    kind: str,
    classes: list[str],
    report: dict | None = None,
    stats: dict | None = None,
    job_id: int | None = None,
    counts: dict | None = None,
) -> dict:
    """Move a finished work folder (train.json, val.json, images/) to datasets/<name> and
    register it. `stats` and `counts` are computed from the files (streamed) when not given.

    Returns the store row. Raises DatasetError (and leaves nothing behind) if the name was taken
    meanwhile.
    """
    docs = {s: _StreamedDoc(split_json(work, s)) for s in SPLITS}
    if stats is None:
        stats = compute_stats(classes, docs)
    counts = counts if counts is not None else split_counts(docs)
    target = datasets_dir(store.home) / name
    if target.exists():
        remove_workdir(work)
        raise DatasetError(f"dataset folder {target} appeared while this job ran; use another name")
    try:
        os.replace(work, target)
    except OSError as exc:
        remove_workdir(work)
        raise DatasetError(f"cannot move the new dataset to {target}: {exc}") from exc
    try:
        store.add_dataset(name, kind, target, classes, counts, report or {}, stats, job_id)
    except sqlite3.IntegrityError as exc:
        shutil.rmtree(target, ignore_errors=True)
        raise DatasetError(
            f"a dataset named {name!r} was registered while this job ran; use another name"
        ) from exc
    log.info("dataset %s registered at %s", name, target)
    return store.get_dataset(name)


class _StreamedDoc:
    """A COCO file of the internal form read back entry by entry: `doc["images"]` and
    `doc["annotations"]` stream the file on each iteration (never all of it in memory)."""

    def __init__(self, path: Path):
        if not Path(path).is_file():
            raise DatasetError(f"{path} is missing; the dataset folder is incomplete")
        self.path = Path(path)

    def __getitem__(self, key: str) -> _StreamedMembers:
        return _StreamedMembers(self.path, key)


class _StreamedMembers:
    def __init__(self, path: Path, key: str):
        self.path, self.key = path, key

    def __iter__(self):
        with open(self.path, "rb") as f:
            for key, index, value in stream_object(f, self.path.name):
                if key == self.key and index is not None:
                    yield value

    def __len__(self) -> int:
        return sum(1 for _ in self)


def delete_dataset(store, name: str) -> None:
    """Remove a dataset's row and, when it lies under <home>/datasets/, its folder."""
    row = store.get_dataset(name)
    folder = store.resolve_path(row["path"]).resolve()
    store.delete_dataset(name)
    if folder.parent == datasets_dir(store.home).resolve() and folder.is_dir():
        shutil.rmtree(folder)
    log.info("dataset %s deleted", name)
