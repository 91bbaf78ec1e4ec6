"""The one spec layer: typed job-spec definitions validated by one generic loader.

A job spec (data, search, train, evaluate, export) is a frozen dataclass whose fields carry
their bounds and help in `param(...)` metadata. `load(cls, spec, what=...)` turns a JSON object
(from the API, the GUI or the CLI, where every value may arrive as a string) into that dataclass:

* types from the type hints: int, float, bool, str, Optional[X], tuple[...], list[X],
  dict[str, X], Literal[...], nested dataclasses (from dicts), Any (checked for NaN/inf only);
* "3" -> 3, "0.5" -> 0.5, "true"/"false" -> bool, "" -> None for an optional field, a
  JSON null for a non-optional field -> its default (the CLI passes None for "not given");
* refused: NaN and inf for every float, bool where a number is expected, fractional ints,
  values outside lo/hi (or gt/lt), values not in choices, unknown keys (with a "did you mean");
* every error is a SpecError "what: field=value: reason", e.g.
  "train: epochs=1000000000000: must be <= 10000".

`dump` is the inverse (JSON-ready dict), `describe` gives each field's kind, label, bounds,
choices, help and default, from which `add_arguments` builds the CLI options and the GUI its
forms; `parse_image_size` (core.spec_values) is the one image-size parser.
Cheap to import (no torch): it runs at submit time in the CLI and GUI processes.
"""

from __future__ import annotations

import argparse
import dataclasses
import functools
import json
import operator
import types
import typing
from collections.abc import Callable, Mapping
from typing import Any, Literal, TypeVar, Union

from core.errors import SpecError
from core.spec_values import (
    MAX_IMAGE_SIDE,
    check_free,
    did_you_mean,
    fail,
    image_size_hw,
    parse_image_size,
    parse_json,
    show,
    split_list,
    to_bool,
    to_float,
    to_int,
    to_str,
)

T = TypeVar("T")


def param(
    default: Any = dataclasses.MISSING,
    *,
    lo: float | None = None,
    hi: float | None = None,
    choices: tuple | list | None = None,
    help: str = "",
    gt: float | None = None,
    lt: float | None = None,
    parse: Callable[[Any], Any] | None = None,
    flag: str | None = None,
    show: Callable[[Any], str] | None = None,
    label: str = "",
    unit: str = "",
) -> Any:
    """A dataclass field with validation metadata.

    lo/hi: inclusive bounds (applied to each element of a tuple/list), gt/lt: exclusive ones;
    choices: allowed values; parse: a custom coercion (raises ValueError/SpecError with the
    reason) used instead of the type hint; flag: the CLI option name (default --field-name);
    show: how the CLI help writes the default (e.g. (240, 320) as "320x240"); label and unit:
    how a form names the field in plain words (default: the name, spaced), e.g. "Learning
    rate" and "per image". Mutable defaults (list, dict) are copied per instance.
    """
    meta = {
        "lo": lo,
        "hi": hi,
        "gt": gt,
        "lt": lt,
        "help": help,
        "parse": parse,
        "flag": flag,
        "show": show,
        "choices": tuple(choices) if choices is not None else None,
        "label": label,
        "unit": unit,
    }
    if isinstance(default, (list, dict, set)):
        return dataclasses.field(default_factory=lambda: type(default)(default), metadata=meta)
    return dataclasses.field(default=default, metadata=meta)


def _is_optional(hint: Any) -> tuple[bool, Any]:
    """(True, X) for Optional[X] / X | None, else (False, hint)."""
    if typing.get_origin(hint) in (Union, types.UnionType):
        args = [a for a in typing.get_args(hint) if a is not type(None)]
        if len(args) < len(typing.get_args(hint)):
            return True, functools.reduce(operator.or_, args)
    return False, hint


def coerce(hint: Any, value: Any, path: str, depth: int = 0) -> Any:
    """value -> the type `hint`; SpecError naming `path` on a mismatch."""
    optional, hint = _is_optional(hint)
    if value is None or (optional and isinstance(value, str) and not value.strip()):
        if optional or hint is Any:
            return None
        raise fail(path, value, "cannot be empty")
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    try:
        if hint is Any:
            return check_free(value, path, depth)
        if dataclasses.is_dataclass(hint):
            if isinstance(value, hint):
                return value
            if not isinstance(value, Mapping):
                names = field_names(hint)
                group = path.rpartition(": ")[2]
                raise ValueError(
                    f"must be an object of {', '.join(names)}, or set one as "
                    f"{group}.{names[0]}=VALUE"
                )
            return _load(hint, value, path)
        if origin is Literal:
            if value not in args:
                raise ValueError(_choices_reason(value, args))
            return value
        if origin in (Union, types.UnionType):
            return _coerce_union(args, value, path, depth)
        if origin is tuple:
            return _coerce_tuple(args, value, path, depth)
        if origin is list:
            item = args[0] if args else Any
            return [
                coerce(item, v, f"{path}[{i}]", depth + 1) for i, v in enumerate(split_list(value))
            ]
        if origin is dict or hint is dict:
            return _coerce_dict(args, value, path, depth)
        simple = {int: to_int, float: to_float, bool: to_bool, str: to_str}
        if hint in simple:
            return simple[hint](value)
    except SpecError:
        raise
    except ValueError as exc:
        raise fail(path, value, str(exc)) from None
    raise fail(path, value, f"unsupported field type {hint!r}")


def _coerce_union(args: tuple, value: Any, path: str, depth: int) -> Any:
    errors = []
    for option in args:
        try:
            return coerce(option, value, path, depth)
        except SpecError as exc:
            errors.append(getattr(exc, "reason", str(exc)))
    raise ValueError(" or ".join(dict.fromkeys(errors)))


def _coerce_tuple(args: tuple, value: Any, path: str, depth: int) -> tuple:
    items = split_list(value)
    if len(args) == 2 and args[1] is Ellipsis:
        kinds = [args[0]] * len(items)
    else:
        kinds = list(args)
        if len(items) != len(kinds):
            raise ValueError(f"must have {len(kinds)} values, got {len(items)}")
    return tuple(
        coerce(k, v, f"{path}[{i}]", depth + 1) for i, (k, v) in enumerate(zip(kinds, items))
    )


def _coerce_dict(args: tuple, value: Any, path: str, depth: int) -> dict:
    if isinstance(value, str):
        value = parse_json(value, 'must be a JSON object, e.g. {"key": 1}') if value.strip() else {}
    if not isinstance(value, Mapping):
        raise ValueError("must be a JSON object")
    item = args[1] if len(args) == 2 else Any
    out = {}
    for key, val in value.items():
        if not isinstance(key, str):
            raise ValueError(f"keys must be strings, got {key!r}")
        out[key] = coerce(item, val, f"{path}.{key}", depth + 1)
    return out


def _choices_reason(value: Any, choices: tuple) -> str:
    words = [str(c) for c in choices]
    return f"must be one of {', '.join(words)}{did_you_mean(value, words)}"


# (bound key, is the value outside it, the word for the error): lo/hi inclusive, gt/lt exclusive
BOUND_CHECKS = (
    ("lo", operator.lt, ">="),
    ("hi", operator.gt, "<="),
    ("gt", operator.le, ">"),
    ("lt", operator.ge, "<"),
)


def _check_bounds(meta: Mapping, value: Any, path: str) -> None:
    """lo/hi/gt/lt on a number (each element of a tuple/list), choices on the value."""
    if value is None:
        return
    choices = meta.get("choices")
    if choices is not None and value not in choices:
        raise fail(path, value, _choices_reason(value, choices))
    items = value if isinstance(value, (tuple, list)) else [value]
    for item in items:
        if isinstance(item, bool) or not isinstance(item, (int, float)):
            continue
        for key, bad, word in BOUND_CHECKS:
            bound = meta.get(key)
            if bound is not None and bad(item, bound):
                raise fail(path, item if len(items) == 1 else value, f"must be {word} {bound}")


def _hints(cls: type) -> dict[str, Any]:
    return typing.get_type_hints(cls)


def _join(what: str, name: str) -> str:
    """ "train" + "lr" -> "train: lr"; "search: darts" + "lr" -> "search: darts.lr"."""
    return f"{what}.{name}" if ": " in what else f"{what}: {name}"


def _check_keys(cls: type, spec: Any, what: str) -> dict[str, dataclasses.Field]:
    if not isinstance(spec, Mapping):
        raise SpecError(f"{what}: the spec must be a JSON object, got {type(spec).__name__}")
    fields = {f.name: f for f in dataclasses.fields(cls) if f.init}
    for key in spec:
        if key not in fields:
            raise SpecError(
                f"{_join(what, str(key))}={show(spec[key])}: unknown field"
                f"{did_you_mean(key, field_names(cls))}; known: {', '.join(fields)}"
            )
    return fields


def _nest_dotted(cls: type, spec: Mapping) -> dict:
    """Dotted keys of nested dataclass fields ("report.epochs": 3) -> nested objects
    ({"report": {"epochs": 3}}), merged with an object given for the same field."""
    hints, out = _hints(cls), {}
    for key, value in spec.items():
        head, dot, rest = str(key).partition(".")
        if dot and head in hints and dataclasses.is_dataclass(_is_optional(hints[head])[1]):
            key, value = head, {rest: value}
        if isinstance(value, Mapping) and isinstance(out.get(key), dict):
            out[key].update(value)
        else:
            out[key] = dict(value) if isinstance(value, Mapping) else value
    return out


def _field_value(f: dataclasses.Field, hint: Any, raw: Any, path: str) -> Any:
    """One field: its parse hook or the type hint, then its bounds and choices."""
    parse = f.metadata.get("parse")
    try:
        value = parse(raw) if parse and raw is not None else coerce(hint, raw, path)
    except SpecError as exc:
        if not parse:
            raise
        raise fail(path, raw, getattr(exc, "reason", str(exc))) from None
    except ValueError as exc:
        raise fail(path, raw, str(exc)) from None
    _check_bounds(f.metadata, value, path)
    return value


def coerce_fields(cls: type, spec: Mapping, *, what: str) -> dict[str, Any]:
    """Only the fields given in `spec`, each coerced and checked as `load` does (for partial
    overrides of a dataclass, e.g. model_overrides of a DetConfig)."""
    fields, hints = _check_keys(cls, spec, what), _hints(cls)
    return {
        name: _field_value(fields[name], hints[name], raw, _join(what, name))
        for name, raw in spec.items()
    }


def _load(cls: type[T], spec: Any, what: str) -> T:
    if isinstance(spec, Mapping):
        spec = _nest_dotted(cls, spec)
    fields, hints = _check_keys(cls, spec, what), _hints(cls)
    values = {}
    for name, f in fields.items():
        path = _join(what, name)
        raw = spec.get(name)
        required = f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING
        if (
            name not in spec
            or (raw is None and not _is_optional(hints[name])[0])
            or (required and raw == "")
        ):
            if required:
                help_ = f.metadata.get("help")
                raise SpecError(f"{path}: required" + (f" ({help_})" if help_ else ""))
            continue
        values[name] = _field_value(f, hints[name], raw, path)
    return cls(**values)


def load(cls: type[T], spec: Mapping, *, what: str) -> T:
    """Validate a job spec dict into `cls` (a dataclass); raises SpecError "what: field=value:
    reason". Missing keys and nulls take the field's default; __post_init__ may add checks."""
    return _load(cls, spec, what)


def dump(obj: Any) -> Any:
    """A dataclass (or nested values) -> JSON-ready dicts and lists."""
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        return {f.name: dump(getattr(obj, f.name)) for f in dataclasses.fields(obj)}
    if isinstance(obj, Mapping):
        return {str(k): dump(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [dump(v) for v in obj]
    return obj


def _owner(cls: type, name: str) -> tuple[type, str]:
    """(the dataclass that holds the field, its own name): "report.epochs" of a SearchConfig ->
    (ReportConfig, "epochs"); a plain name -> (cls, name)."""
    head, dot, rest = name.partition(".")
    if not dot:
        return cls, name
    hint = _is_optional(_hints(cls)[_field(cls, head).name])[1]
    if not dataclasses.is_dataclass(hint):
        raise KeyError(f"{cls.__name__}.{head} is not a nested dataclass")
    return _owner(hint, rest)


def _field(cls: type, name: str) -> dataclasses.Field:
    """The field `name` of `cls`; a dotted name reaches into nested dataclasses."""
    cls, name = _owner(cls, name)
    for f in dataclasses.fields(cls):
        if f.name == name:
            return f
    raise KeyError(f"{cls.__name__} has no field {name!r}")


def _hint(cls: type, name: str) -> Any:
    owner, own = _owner(cls, name)
    return _hints(owner)[own]


def field_names(cls: type) -> list[str]:
    """Every settable field of a spec dataclass: plain names, and "group.field" (dotted, at any
    depth) for the fields of its nested dataclasses, in field order."""
    out = []
    for f in dataclasses.fields(cls):
        hint = _is_optional(_hints(cls)[f.name])[1]
        if dataclasses.is_dataclass(hint):
            out += [f"{f.name}.{n}" for n in field_names(hint)]
        else:
            out.append(f.name)
    return out


def _default(f: dataclasses.Field) -> Any:
    if f.default is not dataclasses.MISSING:
        return f.default
    if f.default_factory is not dataclasses.MISSING:
        return f.default_factory()
    return dataclasses.MISSING


def _format_default(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (tuple, list)):
        return " ".join(str(v) for v in value)
    if isinstance(value, dict):
        return json.dumps(value)
    return str(value)


def help_text(cls: type, name: str) -> str:
    """The field's help with its default and bounds, read from the definition."""
    f = _field(cls, name)
    meta, default = f.metadata, _default(f)
    parts = [meta.get("help", "")] if meta.get("help") else []
    bounds = [
        f"{w} {meta[k]}"
        for k, w in (("lo", ">="), ("gt", ">"), ("hi", "<="), ("lt", "<"))
        if meta.get(k) is not None
    ]
    if bounds:
        parts.append(", ".join(bounds))
    if default is dataclasses.MISSING:
        parts.append("required")
    elif default is not None:
        parts.append(f"default: {(meta.get('show') or _format_default)(default)}")
    return "; ".join(parts)


@dataclasses.dataclass(frozen=True)
class FieldInfo:
    """One field of a job spec as a form or a command line shows it.

    kind: bool, int, float, str, choice (one of `choices`), list (a tuple or list: typed as
    text), mapping (a JSON object), nested (a dataclass of its own) or any. `label`: plain
    words with the unit, e.g. "Image size (pixels)"; `help`: what the CLI's --help says (with
    the default and the bounds). `default` is dataclasses.MISSING for a required field."""

    name: str
    kind: str
    label: str
    help: str
    about: str  # the help alone, without default and bounds: a form's one-line hint
    default: Any
    optional: bool
    lo: float | None = None
    hi: float | None = None
    choices: tuple | None = None
    nested: type | None = None

    @property
    def required(self) -> bool:
        return self.default is dataclasses.MISSING


def _kind(hint: Any, meta: Mapping) -> tuple[str, tuple | None]:
    if typing.get_origin(hint) is Literal:
        return "choice", typing.get_args(hint)
    if meta.get("choices") is not None and hint is not bool:
        return "choice", meta["choices"]
    if meta.get("parse"):
        return "str", None  # a custom text form (e.g. an image size "512" or "640x384")
    if hint in (bool, int, float, str):
        return hint.__name__, None
    origin = typing.get_origin(hint)
    if origin in (tuple, list):
        return "list", None
    if origin in (dict, Mapping) or hint is dict:
        return "mapping", None
    if dataclasses.is_dataclass(hint):
        return "nested", None
    return "any", None


def field_label(name: str, meta: Mapping) -> str:
    label = meta.get("label") or name.replace("_", " ").strip().capitalize()
    return f"{label} ({meta['unit']})" if meta.get("unit") else label


def describe(cls: type, names: typing.Iterable[str] | None = None) -> list[FieldInfo]:
    """The fields of a spec dataclass (all, or `names` in that order; a dotted name such as
    "report.epochs" describes a nested dataclass's field): what both argparse (`add_arguments`)
    and the GUI's forms are built from."""
    chosen = [f.name for f in dataclasses.fields(cls)] if names is None else list(names)
    out = []
    for name in chosen:
        f = _field(cls, name)
        optional, hint = _is_optional(_hint(cls, name))
        meta = f.metadata
        kind, choices = _kind(hint, meta)
        bounds = {k: meta.get(k) for k in ("lo", "hi")}
        if bounds["lo"] is None and meta.get("gt") is not None:
            bounds["lo"] = meta["gt"]
        if bounds["hi"] is None and meta.get("lt") is not None:
            bounds["hi"] = meta["lt"]
        out.append(
            FieldInfo(
                name=name,
                kind=kind,
                label=field_label(name, meta),
                help=help_text(cls, name),
                about=meta.get("help", ""),
                default=_default(f),
                optional=optional,
                choices=choices,
                nested=hint if kind == "nested" else None,
                **bounds,
            )
        )
    return out


def add_arguments(
    parser: argparse.ArgumentParser,
    cls: type,
    names: typing.Iterable[str] | None = None,
    *,
    required: typing.Iterable[str] = (),
) -> None:
    """One --field-name option per field (all, or `names`; "report.epochs" -> --report-epochs
    unless its param names a flag; its help then starts with the dotted name), dest = the field
    name, default None (so the spec's own default applies). Values stay strings: `load` coerces
    them, so the CLI and the API give the same messages. Bools get --x/--no-x; fixed tuples take
    N values."""
    required = set(required)
    for info in describe(cls, names):
        f = _field(cls, info.name)
        hint = _is_optional(_hint(cls, info.name))[1]
        flag = cli_flag(cls, info.name)
        _, dot, leaf = info.name.rpartition(".")
        kwargs: dict[str, Any] = {
            "dest": info.name,
            "default": None,
            "help": (f"{info.name}: " if dot else "") + info.help.replace("%", "%%"),
        }
        if dot and info.kind != "bool":
            kwargs["metavar"] = leaf.upper()
        if info.kind == "bool":
            kwargs["action"] = argparse.BooleanOptionalAction
        elif (
            typing.get_origin(hint) is tuple
            and not f.metadata.get("parse")
            and Ellipsis not in typing.get_args(hint)
        ):
            kwargs["nargs"] = len(typing.get_args(hint))
        if info.kind == "choice":
            kwargs["choices"] = [str(c) for c in info.choices]
            kwargs["metavar"] = "{" + ",".join(str(c) for c in info.choices) + "}"
        if info.name in required:
            kwargs["required"] = True
        parser.add_argument(flag, **kwargs)


def cli_flag(cls: type, name: str) -> str:
    """The CLI option of a field: its param's flag, else --name-with-dashes ("report.epochs"
    -> --report-epochs)."""
    return _field(cls, name).metadata.get("flag") or "--" + name.replace("_", "-").replace(".", "-")


def args_to_spec(args: argparse.Namespace, names: typing.Iterable[str]) -> dict[str, Any]:
    """The given (non-None) options of an argparse namespace as a spec dict."""
    return {n: getattr(args, n) for n in names if getattr(args, n, None) is not None}


__all__ = [
    "FieldInfo",
    "describe",
    "field_label",
    "field_names",
    "param",
    "load",
    "dump",
    "add_arguments",
    "args_to_spec",
    "cli_flag",
    "help_text",
    "parse_image_size",
    "image_size_hw",
    "coerce_fields",
    "MAX_IMAGE_SIDE",
]
