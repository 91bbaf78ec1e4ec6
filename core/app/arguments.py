"""The arguments an API client sends, checked at the door by the type hints of the function
that answers them, with the spec layer's own coercion (core.spec.coerce): "3" -> 3, a JSON
object's text -> a dict, NaN/inf, bool-for-number, too deep nesting and non-mappings refused,
whole numbers kept within what the store can hold. Every refusal is a SpecError
"what: name=value: reason", so a client reads the same words as the CLI and the job specs.

Parameters without a hint, or with a hint that is not plain data (an uploaded file, an event),
are passed on untouched: their handler checks them. Before any of that, `check_body_nesting`
refuses a request body nested too deep to be parsed at all.
"""

from __future__ import annotations

import functools
import inspect
import types
import typing
from collections.abc import Callable, Mapping
from typing import Any, Literal, Union

from core.errors import SpecError
from core.spec import coerce
from core.spec_values import MAX_INT, NESTING_LIMIT, fail, json_depth

PLAIN = (int, float, str, bool, dict, list, tuple, type(None), Any)
# A request body nested deeper than this is refused before it is parsed: far deeper than any
# argument may nest (NESTING_LIMIT, said by the argument's own check), far below the depth at
# which Python's JSON decoder runs out of recursion.
BODY_NESTING_LIMIT = 256
PLAIN_ORIGINS = (list, tuple, dict, Union, types.UnionType, Literal)


def is_plain(hint: Any) -> bool:
    """True for the JSON-like hints core.spec.coerce handles (int, str, dict | None, list[int],
    dict[str, Any], Literal[...]); False for anything else (FileData, gr.EventData)."""
    if hint in PLAIN:
        return True
    origin = typing.get_origin(hint)
    if origin not in PLAIN_ORIGINS:
        return False
    return origin is Literal or all(a is Ellipsis or is_plain(a) for a in typing.get_args(hint))


@functools.cache
def plain_hints(fn: Callable) -> dict[str, tuple[Any, inspect.Parameter]]:
    """name -> (hint, parameter) of `fn`'s parameters whose hint is plain data."""
    hints = typing.get_type_hints(fn)
    return {
        name: (hints[name], param)
        for name, param in inspect.signature(fn).parameters.items()
        if name in hints and is_plain(hints[name])
    }


def check_arguments(fn: Callable, args: tuple, kwargs: Mapping, what: str) -> tuple[tuple, dict]:
    """(args, kwargs) for a call of `fn`, each plain-hinted argument coerced to its hint; a
    None for a parameter with a default takes the default. SpecError names `what` and the
    parameter."""
    checked = plain_hints(fn)
    try:
        bound = inspect.signature(fn).bind(*args, **kwargs)
    except TypeError:
        raise SpecError(
            f"{what}: takes {', '.join(inspect.signature(fn).parameters)}; got "
            f"{len(args) + len(kwargs)} values"
        ) from None
    for name, value in bound.arguments.items():
        if name not in checked:
            continue
        hint, param = checked[name]
        if value is None and param.default is not inspect.Parameter.empty:
            bound.arguments[name] = param.default
            continue
        path = f"{what}: {name}"
        value = coerce(hint, value, path)
        if isinstance(value, int) and not isinstance(value, bool) and abs(value) > MAX_INT:
            raise fail(path, value, f"must be between -{MAX_INT} and {MAX_INT}")
        bound.arguments[name] = value
    return bound.args, bound.kwargs


def job_id(value: Any) -> int:
    """A job id from a client's value: a whole number 1..MAX_INT (SpecError otherwise; the
    store says whether such a job exists)."""
    number = coerce(int, value, "job id")
    if not 1 <= number <= MAX_INT:
        raise fail("job id", value, f"must be a whole number 1..{MAX_INT}")
    return number


def check_body_nesting(body: bytes) -> None:
    """SpecError when a request's JSON body nests deeper than BODY_NESTING_LIMIT."""
    if body.count(b"[") + body.count(b"{") <= BODY_NESTING_LIMIT:  # cannot be deeper
        return
    if json_depth(body.decode("utf-8", "replace")) > BODY_NESTING_LIMIT:
        raise SpecError(
            f"the request's JSON is nested deeper than {BODY_NESTING_LIMIT} levels; an "
            f"argument may nest {NESTING_LIMIT} levels at most"
        )
