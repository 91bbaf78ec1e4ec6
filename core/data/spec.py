"""Job specs of the dataset tasks: names, defaults, ranges and parsers (no heavy imports).

Used at submit time (validate, in the CLI/GUI process) and by the tasks themselves.
"""

from __future__ import annotations

import dataclasses
import os
import re
import typing
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from core.errors import SpecError
from core.spec import MAX_IMAGE_SIDE, dump, load, param, parse_image_size

EXPORT_FORMATS = ("coco", "yolo")
NAME_RE = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.-]{0,63}$")

MAX_IMAGES = 200_000
SIZE_RANGE = (32, MAX_IMAGE_SIDE)
MAX_OBJECTS = 100
SEED_MAX = 2**63 - 1
NAME_RULE = "use 1-64 letters, digits, '_', '.' or '-', not starting with '.' or '-'"


def _name(value: Any) -> str:
    if not isinstance(value, str) or not NAME_RE.match(value):
        raise ValueError(f"dataset name not allowed: {NAME_RULE}")
    return value


def _size(value: Any) -> tuple[int, int]:
    """W, "W" or "WxH" (width x height) or [H, W] -> (H, W), each side in SIZE_RANGE."""
    size = parse_image_size(value, lo=SIZE_RANGE[0], hi=SIZE_RANGE[1], name="size")
    return size if isinstance(size, tuple) else (size, size)


def _path(value: Any) -> str:
    """An existing folder or .zip file -> its absolute path."""
    if not isinstance(value, str) or not value.strip():
        raise ValueError("must be the path of a dataset folder or a .zip of one")
    path = Path(os.path.expanduser(value)).resolve()
    if not path.exists():
        raise ValueError(f"{path} does not exist")
    if not (path.is_dir() or path.suffix.lower() == ".zip"):
        raise ValueError(f"{path} must be a folder or a .zip file")
    return str(path)


def _objects(value: Any) -> tuple[int, int]:
    """ "1-6", 4, [1, 6] -> (min, max) with 0 <= min <= max <= MAX_OBJECTS."""
    if isinstance(value, bool):
        raise ValueError("must be N or MIN-MAX (e.g. 1-6)")
    if isinstance(value, int):
        pair = (value, value)
    elif isinstance(value, str) and re.fullmatch(r"\s*\d+\s*(-\s*\d+\s*)?", value):
        parts = [int(v) for v in value.split("-")]
        pair = (parts[0], parts[-1])
    elif (
        isinstance(value, (list, tuple))
        and len(value) == 2
        and all(isinstance(v, int) and not isinstance(v, bool) for v in value)
    ):
        pair = (int(value[0]), int(value[1]))
    else:
        raise ValueError("must be N or MIN-MAX (e.g. 1-6)")
    if not 0 <= pair[0] <= pair[1] <= MAX_OBJECTS:
        raise ValueError(f"need 0 <= MIN <= MAX <= {MAX_OBJECTS}")
    return pair


@dataclass(frozen=True)
class GenerateSpec:
    """A dataset.generate job: a built-in dataset drawn from a seed."""

    name: str = param(parse=_name, help="dataset name ([A-Za-z0-9_.-])")
    kind: Literal["shapes", "glyphs"] = param("shapes", help="what is drawn")
    images: int = param(600, lo=1, hi=MAX_IMAGES, help="number of images")
    size: tuple[int, int] = param(
        (256, 256),
        parse=_size,
        show=lambda hw: f"{hw[1]}x{hw[0]}",
        help="W (square) or WxH, e.g. 320x240",
    )
    objects: tuple[int, int] = param(
        (1, 6),
        parse=_objects,
        show=lambda r: f"{r[0]}-{r[1]}",
        help="objects per image, N or MIN-MAX",
    )
    difficulty: Literal["easy", "medium", "hard"] = param("medium", help="clutter and overlap")
    val_fraction: float = param(0.2, lo=0.0, hi=0.9, help="share of images in the val split")
    seed: int = param(0, lo=0, hi=SEED_MAX)

    def __post_init__(self) -> None:
        if self.objects[1] < 1:
            raise SpecError(
                f"dataset.generate: objects={self.objects[0]}-{self.objects[1]}: "
                "the maximum must be at least 1"
            )


@dataclass(frozen=True)
class ImportSpec:
    """A dataset.import job: a COCO / VOC / YOLO folder or .zip."""

    name: str = param(parse=_name, help="dataset name ([A-Za-z0-9_.-])")
    path: str = param(parse=_path, help="a dataset folder or a .zip of one")
    format: Literal["auto", "coco", "voc", "yolo"] = param("auto", help="the source format")
    val_fraction: float = param(
        0.2, lo=0.0, hi=0.9, help="share of images for val when the source has no val split"
    )
    seed: int = param(0, lo=0, hi=SEED_MAX, help="of the val split")


GENERATOR_KINDS: tuple[str, ...] = typing.get_args(typing.get_type_hints(GenerateSpec)["kind"])
DIFFICULTY_NAMES: tuple[str, ...] = typing.get_args(
    typing.get_type_hints(GenerateSpec)["difficulty"]
)
IMPORT_FORMATS: tuple[str, ...] = typing.get_args(typing.get_type_hints(ImportSpec)["format"])
GENERATE_DEFAULTS = {
    f.name: dump(f.default)
    for f in dataclasses.fields(GenerateSpec)
    if f.default is not dataclasses.MISSING
}


def check_name_format(name: Any) -> str:
    """A dataset name: 1-64 of letters, digits, '_', '.', '-', not starting with '.' or '-'."""
    if not isinstance(name, str) or not NAME_RE.match(name):
        raise SpecError(f"dataset name {name!r} is not allowed: {NAME_RULE}")
    return name


def check_new_name(store, name: Any) -> str:
    """check_name_format, and no dataset (row or folder) of that name exists in `store`."""
    name = check_name_format(name)
    exists = any(row["name"] == name for row in store.list_datasets())
    if exists or (Path(store.home) / "datasets" / name).exists():
        raise SpecError(
            f"a dataset named {name!r} already exists; pick another name "
            "(`python -m core data list` shows them)"
        )
    return name


def validate_generate(spec: dict) -> dict:
    """TaskDef.validate of dataset.generate: {"name", "kind", "images", "size": [H, W],
    "objects": [min, max], "difficulty", "val_fraction", "seed"}."""
    return dump(load(GenerateSpec, spec, what="dataset.generate"))


def validate_import(spec: dict) -> dict:
    """TaskDef.validate of dataset.import: {"name", "path" (absolute), "format",
    "val_fraction", "seed"}."""
    return dump(load(ImportSpec, spec, what="dataset.import"))


def resolve_new_dataset(spec: dict, store, device: str = "auto") -> None:
    """TaskDef.resolve of both kinds: the name is still free in the store at submit."""
    check_new_name(store, spec["name"])
