"""Job specs of the dataset tasks: names, defaults, ranges and parsers (no heavy imports).

Used at submit time (validate, in the CLI/GUI process) and by the tasks themselves.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any

from core.errors import SpecError

GENERATOR_KINDS = ("shapes", "glyphs")
DIFFICULTY_NAMES = ("easy", "medium", "hard")
IMPORT_FORMATS = ("auto", "coco", "voc", "yolo")
EXPORT_FORMATS = ("coco", "yolo")
NAME_RE = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.-]{0,63}$")

GENERATE_DEFAULTS = {"kind": "shapes", "images": 600, "size": [256, 256], "objects": [1, 6],
                     "difficulty": "medium", "val_fraction": 0.2, "seed": 0}
MAX_IMAGES = 200_000
SIZE_RANGE = (32, 4096)
MAX_OBJECTS = 100


def check_name_format(name: Any) -> str:
    """A dataset name: 1-64 of letters, digits, '_', '.', '-', not starting with '.' or '-'."""
    if not isinstance(name, str) or not NAME_RE.match(name):
        raise SpecError(f"dataset name {name!r} is not allowed: use 1-64 letters, digits, "
                        "'_', '.' or '-', not starting with '.' or '-'")
    return name


def check_new_name(store, name: Any) -> str:
    """check_name_format, and no dataset (row or folder) of that name exists in `store`."""
    name = check_name_format(name)
    exists = any(row["name"] == name for row in store.list_datasets())
    if exists or (Path(store.home) / "datasets" / name).exists():
        raise SpecError(f"a dataset named {name!r} already exists; pick another name "
                        "(`python -m core data list` shows them)")
    return name


def parse_size(value: Any) -> list[int]:
    """256, "256", "320x240" (W x H), [H, W] -> [H, W] within SIZE_RANGE."""
    if isinstance(value, bool):
        raise SpecError(f"size must be W or WxH, got {value!r}")
    if isinstance(value, int):
        hw = [value, value]
    elif isinstance(value, str) and re.fullmatch(r"\s*\d+\s*", value):
        hw = [int(value)] * 2
    elif isinstance(value, str) and re.fullmatch(r"\s*\d+\s*[xX]\s*\d+\s*", value):
        w, h = (int(v) for v in re.split(r"[xX]", value))
        hw = [h, w]
    elif isinstance(value, (list, tuple)) and len(value) == 2 and all(
            isinstance(v, int) and not isinstance(v, bool) for v in value):
        hw = [int(value[0]), int(value[1])]
    else:
        raise SpecError(f"size must be W (square) or WxH, e.g. 256 or 320x240; got {value!r}")
    lo, hi = SIZE_RANGE
    if not all(lo <= v <= hi for v in hw):
        raise SpecError(f"image size {hw[1]}x{hw[0]} out of range: each side must be {lo}-{hi}")
    return hw


def parse_range(value: Any, what: str, lo: int, hi: int) -> list[int]:
    """"1-6", 4, [1, 6] -> [min, max] with lo <= min <= max <= hi."""
    if isinstance(value, bool):
        raise SpecError(f"{what} must be N or MIN-MAX, got {value!r}")
    if isinstance(value, int):
        pair = [value, value]
    elif isinstance(value, str) and re.fullmatch(r"\s*\d+\s*(-\s*\d+\s*)?", value):
        parts = [int(v) for v in value.split("-")]
        pair = [parts[0], parts[-1]]
    elif isinstance(value, (list, tuple)) and len(value) == 2 and all(
            isinstance(v, int) and not isinstance(v, bool) for v in value):
        pair = [int(value[0]), int(value[1])]
    else:
        raise SpecError(f"{what} must be N or MIN-MAX (e.g. 1-6); got {value!r}")
    if not lo <= pair[0] <= pair[1] <= hi:
        raise SpecError(f"{what} {pair[0]}-{pair[1]} out of range: need {lo} <= MIN <= MAX <= {hi}")
    return pair


def _int(spec: dict, key: str, lo: int, hi: int) -> int:
    value = spec[key]
    if isinstance(value, bool) or not isinstance(value, int):
        if isinstance(value, str) and value.strip().isdigit():
            value = int(value)
        else:
            raise SpecError(f"{key} must be an integer, got {value!r}")
    if not lo <= value <= hi:
        raise SpecError(f"{key} = {value} out of range [{lo}, {hi}]")
    return value


def _choice(spec: dict, key: str, choices: tuple[str, ...]) -> str:
    if spec[key] not in choices:
        raise SpecError(f"{key} must be one of {', '.join(choices)}; got {spec[key]!r}")
    return spec[key]


def validate_generate(spec: dict) -> dict:
    """Normalise a dataset.generate spec: {"name", "kind", "images", "size": [H, W],
    "objects": [min, max], "difficulty", "val_fraction", "seed"}."""
    unknown = set(spec) - set(GENERATE_DEFAULTS) - {"name"}
    if unknown:
        raise SpecError(f"unknown dataset.generate field(s): {', '.join(sorted(unknown))}")
    if "name" not in spec:
        raise SpecError("dataset.generate needs a 'name'")
    out = {**GENERATE_DEFAULTS, **{k: v for k, v in spec.items() if v is not None}}
    out["name"] = check_name_format(out["name"])
    out["kind"] = _choice(out, "kind", GENERATOR_KINDS)
    out["difficulty"] = _choice(out, "difficulty", DIFFICULTY_NAMES)
    out["images"] = _int(out, "images", 1, MAX_IMAGES)
    out["seed"] = _int(out, "seed", 0, 2**31 - 1)
    out["size"] = parse_size(out["size"])
    out["objects"] = parse_range(out["objects"], "objects per image", 0, MAX_OBJECTS)
    if out["objects"][1] < 1:
        raise SpecError("objects per image: the maximum must be at least 1")
    out["val_fraction"] = _val_fraction(out["val_fraction"])
    return out


def _val_fraction(value) -> float:
    """The share of images put in the val split: a number in [0, 0.9]."""
    try:
        fraction = float(value)
    except (TypeError, ValueError) as exc:
        raise SpecError(f"val_fraction must be a number, got {value!r}") from exc
    if not 0.0 <= fraction <= 0.9:
        raise SpecError(f"val_fraction = {fraction} out of range [0, 0.9]")
    return fraction


def validate_import(spec: dict) -> dict:
    """Normalise a dataset.import spec: {"format", "name", "path"} (path made absolute)."""
    unknown = set(spec) - {"format", "name", "path", "val_fraction", "seed"}
    if unknown:
        raise SpecError(f"unknown dataset.import field(s): {', '.join(sorted(unknown))}")
    for key in ("name", "path"):
        if not spec.get(key):
            raise SpecError(f"dataset.import needs a '{key}'")
    out = {"format": "auto", "val_fraction": 0.2, "seed": 0, **spec}
    out["name"] = check_name_format(out["name"])
    out["format"] = _choice(out, "format", IMPORT_FORMATS)
    out["seed"] = _int(out, "seed", 0, 2**31 - 1)
    out["val_fraction"] = _val_fraction(out["val_fraction"])
    if not isinstance(out["path"], str):
        raise SpecError(f"path must be a string, got {out['path']!r}")
    path = Path(os.path.expanduser(out["path"])).resolve()
    if not path.exists():
        raise SpecError(f"import path {path} does not exist")
    if not (path.is_dir() or path.suffix.lower() == ".zip"):
        raise SpecError(f"import path {path} must be a folder or a .zip file")
    out["path"] = str(path)
    return out
