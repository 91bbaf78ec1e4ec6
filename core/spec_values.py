"""Scalar value coercion of the spec layer (core.spec): strings from the CLI/GUI -> typed values.

Each converter raises ValueError with the reason only ("must be a finite number"); core.spec
adds the "what: field=value: " prefix. NaN/inf are refused for every float. `parse_image_size`
is the one image-size parser (re-exported by core.spec).
"""

from __future__ import annotations

import difflib
import json
import math
import typing
from collections.abc import Mapping
from typing import Any

from core.errors import SpecError

MAX_STR_LEN = 4096  # PATH_MAX on Linux: no spec string needs more
NESTING_LIMIT = 32  # depth of free-form (Any / dict) values
MAX_INT = 2**63 - 1  # SQLite INTEGER: the largest whole number the store can hold
MAX_IMAGE_SIDE = 2048
MIN_IMAGE_SIDE = 8


def fail(path: str, value: Any, reason: str) -> SpecError:
    err = SpecError(f"{path}={show(value)}: {reason}")
    err.reason = reason  # type: ignore[attr-defined]
    return err


def show(value: Any) -> str:
    text = repr(value) if isinstance(value, str) else str(value)
    return text if len(text) <= 80 else text[:77] + "..."


def did_you_mean(word: str, options: typing.Iterable[str]) -> str:
    close = difflib.get_close_matches(str(word), list(options), n=1, cutoff=0.6)
    return f" (did you mean {close[0]!r}?)" if close else ""


def to_int(value: Any) -> int:
    if isinstance(value, bool):
        raise ValueError("must be a whole number, not true/false")
    if isinstance(value, int):
        return value
    if isinstance(value, str):
        text = value.strip()
        try:
            return int(text)
        except ValueError:
            try:
                value = float(text)
            except ValueError:
                raise ValueError("must be a whole number") from None
    if isinstance(value, float):
        if not math.isfinite(value):
            raise ValueError("must be a finite whole number")
        if value.is_integer():
            return int(value)
    raise ValueError("must be a whole number")


def to_float(value: Any) -> float:
    if isinstance(value, bool):
        raise ValueError("must be a number, not true/false")
    if isinstance(value, str):
        try:
            value = float(value.strip())
        except ValueError:
            raise ValueError("must be a number") from None
    if not isinstance(value, (int, float)):
        raise ValueError("must be a number")
    try:
        number = float(value)
    except OverflowError:
        raise ValueError("must be a finite number") from None
    if not math.isfinite(number):
        raise ValueError("must be a finite number")
    return number


_TRUE, _FALSE = ("true",), ("false",)  # JSON words only: "yes", 1 or "0" are refused


def to_bool(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().lower() in _TRUE + _FALSE:
        return value.strip().lower() in _TRUE
    raise ValueError("must be true or false")


def to_str(value: Any) -> str:
    if not isinstance(value, str):
        raise ValueError("must be a string")
    if len(value) > MAX_STR_LEN:
        raise ValueError(f"must be at most {MAX_STR_LEN} characters")
    return value


def check_free(value: Any, path: str, depth: int = 0) -> Any:
    """An Any value: JSON-like, finite floats only, bounded nesting."""
    if depth > NESTING_LIMIT:
        raise fail(path, "...", f"nested deeper than {NESTING_LIMIT} levels")
    if isinstance(value, float) and not math.isfinite(value):
        raise fail(path, value, "must be a finite number")
    if isinstance(value, Mapping):
        return {k: check_free(v, f"{path}.{k}", depth + 1) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [check_free(v, f"{path}[{i}]", depth + 1) for i, v in enumerate(value)]
    return value


def parse_json(text: str, invalid: str = "must be valid JSON") -> Any:
    """JSON text -> value; ValueError(`invalid`) for text that is not JSON, and for text nested
    deeper than NESTING_LIMIT before the decoder sees it (deep enough text would exhaust
    Python's recursion limit inside the decoder)."""
    if json_depth(text) > NESTING_LIMIT:
        raise ValueError(f"nested deeper than {NESTING_LIMIT} levels")
    try:
        return json.loads(text)
    except ValueError:
        raise ValueError(invalid) from None


def json_depth(text: str) -> int:
    """The deepest nesting of [ and { in JSON text, brackets inside strings not counted."""
    depth = deepest = 0
    in_string = escaped = False
    for char in text:
        if in_string:
            if escaped:
                escaped = False
            elif char == "\\":
                escaped = True
            elif char == '"':
                in_string = False
        elif char == '"':
            in_string = True
        elif char in "[{":
            depth += 1
            deepest = max(deepest, depth)
        elif char in "]}":
            depth -= 1
    return deepest


def split_list(value: Any) -> list:
    """A sequence, or a CLI/GUI string "a,b" / "a b" / "[a, b]" -> list."""
    if isinstance(value, str):
        text = value.strip()
        if text.startswith("["):
            value = parse_json(text, "must be a list, e.g. [1, 2]")
        else:
            return [p for p in text.replace(",", " ").split() if p]
    if not isinstance(value, (list, tuple)):
        raise ValueError("must be a list")
    return list(value)


def parse_image_size(
    value: Any, *, lo: int = MIN_IMAGE_SIDE, hi: int = MAX_IMAGE_SIDE, name: str = "image_size"
) -> int | tuple[int, int]:
    """The one image-size parser: S, "S" -> S (square); "WxH" (width x height, as typed on a
    command line), [H, W] (as stored in specs) or its text "H, W" -> (H, W). Each side within
    lo..hi pixels."""
    reason = "use S or WxH, e.g. 512 or 640x384"
    if isinstance(value, bool) or value is None:
        raise fail(name, value, reason)
    try:
        if isinstance(value, str):
            text = value.strip().lower()
            if "x" in text:
                width, height = (to_int(p) for p in text.split("x"))
                size: int | tuple[int, int] = (height, width)
            elif "," in text:
                height, width = (to_int(p) for p in text.split(","))
                size = (height, width)
            else:
                size = to_int(text)
        elif isinstance(value, (list, tuple)) and len(value) == 2:
            size = (to_int(value[0]), to_int(value[1]))
        else:
            size = to_int(value)
    except ValueError:
        raise fail(name, value, reason) from None
    for side in size if isinstance(size, tuple) else (size,):
        if not lo <= side <= hi:
            raise fail(name, value, f"each side must be {lo}..{hi} pixels")
    return size


def image_size_hw(value: Any) -> tuple[int, int]:
    """parse_image_size, always (H, W): the form stored in train/evaluate specs."""
    size = parse_image_size(value)
    return size if isinstance(size, tuple) else (size, size)
