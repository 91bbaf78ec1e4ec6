"""Helpers shared by the tabs: the error boundaries, job actions and formatting.

Two error boundaries. `ui_errors` (API endpoints) turns engine exceptions (core.errors) into
gr.Error, which an API client receives as an AppError. `on_page` (the page's own events) shows
the message in the tab's notice line instead, so it stays on the page (no 10 s toast, no red
"Error" badge over the outputs). What the store says is read through core.app only; no
handler here writes from a render or a timer tick.
"""

from __future__ import annotations

import functools
import json
import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import gradio as gr

from core.app import arguments, datasets, forms, jobs
from core.app.jobs import ACTIVE, FINISHED, RESUMABLE, Store
from core.errors import NasdetError
from core.viz.common import markdown_text, plain_text
from nasdet_gui.config import AppConfig

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Ctx:
    """What every tab builder receives: the app's store and configuration (shared, read-only)."""

    store: Store
    config: AppConfig


def error_message(exc: BaseException) -> str | None:
    """The user-facing message of an error we expect (engine, input, gr.Error); else None
    (Python's own texts, "invalid literal for int()", are not messages for a person)."""
    if isinstance(exc, gr.Error):
        return str(exc.message)
    if isinstance(exc, NasdetError):
        return str(exc)
    return None


def ui_errors(fn: Callable) -> Callable:
    """Decorator for API endpoints, the door of every client's call: arguments are checked by
    `fn`'s type hints first (core.app.arguments: the spec layer's words), expected errors
    become gr.Error with their message, and anything else is logged with its traceback and
    answered in one line of our own, never with Python's text."""
    what = fn.__name__.removeprefix("api_").removesuffix("_api")

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        try:
            args, kwargs = arguments.check_arguments(fn, args, kwargs, what)
            return fn(*args, **kwargs)
        except gr.Error:
            raise
        except NasdetError as exc:
            raise gr.Error(error_message(exc), print_exception=False) from exc
        except Exception as exc:  # the one place an unforeseen error becomes a message
            log.exception("%s failed", what)
            raise gr.Error(
                f"{what}: unexpected {type(exc).__name__} (its traceback is in the app's log; "
                "please report it)",
                print_exception=False,
            ) from exc

    return wrapper


def notice_html(message: str | None, level: str = "info") -> str:
    """The tab's notice line: '' (nothing), an info line or an error line with its message."""
    if not message:
        return ""
    icon = "&#9888;" if level == "error" else "&#10003;"
    return (
        f"<div class='notice notice-{level}' role='{'alert' if level == 'error' else 'status'}'"
        f">{icon} {plain_text(message)}</div>"
    )


def on_page(fn: Callable, n_outputs: int) -> Callable:
    """Wrap a page event whose outputs are `n_outputs` components then the tab's notice.

    `fn` returns its n outputs followed by a message: a str (shown as info, '' clears the
    notice) or None (the notice is left as it is, for timer ticks). An expected error skips the
    n outputs and shows its message in the notice."""

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        try:
            result = fn(*args, **kwargs)
        except Exception as exc:  # expected ones are shown; anything else is a bug: re-raised
            message = error_message(exc)
            if message is None:
                raise
            log.info("%s: %s", fn.__name__, message)
            return (*[gr.skip()] * n_outputs, notice_html(message, "error"))
        result = result if isinstance(result, tuple) else (result,)
        *outputs, message = result
        if len(outputs) != n_outputs:
            raise TypeError(f"{fn.__name__} returned {len(outputs)} outputs, wired {n_outputs}")
        return (*outputs, gr.skip() if message is None else notice_html(message))

    return wrapper


def wire(
    listener: Callable, fn: Callable, inputs: Any, outputs: Sequence, notice: gr.HTML, **kwargs
) -> Any:
    """`listener(on_page(fn), inputs, [*outputs, notice])`, private to the API by default."""
    kwargs.setdefault("api_visibility", "private")
    return listener(on_page(fn, len(outputs)), inputs, [*outputs, notice], **kwargs)


def make_notice(elem_id: str | None = None) -> gr.HTML:
    """The tab's notice line (empty until an action reports something)."""
    return gr.HTML("", elem_classes="notice-box", elem_id=elem_id, show_label=False)


def need(value: Any, message: str) -> Any:
    """`value`, or gr.Error(message) (shown in the notice) when it is empty."""
    if value in (None, "", [], ()):
        raise gr.Error(message, print_exception=False)
    return value


def submit(ctx: Ctx, kind: str, spec: dict) -> int:
    """Validate and queue a job (SpecError shown by the boundary); make sure a worker runs."""
    return jobs.submit(ctx.store, kind, spec)


def cancel_job(ctx: Ctx, job_id: int) -> str:
    """Cancel a job (queued: at once; running: at its next step); returns what happened."""
    return jobs.cancel(ctx.store, job_id)


def resume_job(ctx: Ctx, job_id: int) -> str:
    """Re-queue a job (it continues from its last checkpoint); make sure a worker runs."""
    return jobs.resume(ctx.store, job_id)


def job_buttons(job: dict | None) -> tuple[gr.Button, gr.Button]:
    """(Cancel, Resume) enabled only when they can act on this job."""
    status = (job or {}).get("status")
    return gr.Button(interactive=status in ACTIVE), gr.Button(interactive=status in RESUMABLE)


def count(n: int, one: str, several: str | None = None) -> str:
    """'1 cell', '3 cells', '0 boxes' (`several` for plurals other than one + 's')."""
    return f"{n} {one if n == 1 else (several or one + 's')}"


def fmt_time(ts: float | None) -> str:
    return time.strftime("%m-%d %H:%M:%S", time.localtime(ts)) if ts else ""


def fmt_duration(seconds: float | None) -> str:
    """12s, 3m 05s, 1h 02m."""
    if seconds is None:
        return ""
    s = int(max(seconds, 0))
    if s < 60:
        return f"{s}s"
    if s < 3600:
        return f"{s // 60}m {s % 60:02d}s"
    return f"{s // 3600}h {(s % 3600) // 60:02d}m"


def job_line(job: dict | None) -> str:
    """One plain-words line: 'Job 12 (cell search): running 43%, epoch 3/10, about 2m 10s
    left'."""
    if not job:
        return "No job yet."
    status = job["status"]
    text = f"Job {job['id']} ({jobs.kind_words(job['kind'])}): **{status}**"
    if status in ACTIVE or status == "interrupted":
        text += f" {100 * (job['progress'] or 0):.0f}%"
    if job.get("message") and status not in FINISHED:
        text += f" - {markdown_text(job['message'])}"
    if job.get("eta_s") and status == "running":
        text += f", about {fmt_duration(job['eta_s'])} left"
    if job.get("device"):
        text += f" on `{job['device']}`"
    if job.get("error"):
        text += f"\n\n**Reason:** {markdown_text(job['error'])}"
        if status in ("failed", "interrupted", "cancelled"):
            text += " - use Resume to continue from the last checkpoint."
    return text


def dataset_dropdown(ctx: Ctx) -> gr.Dropdown:
    """Fresh dataset choices, the first one (shapes-demo on a new home) preselected."""
    names = datasets.dataset_names(ctx.store)
    return gr.Dropdown(choices=names, value=names[0] if names else None)


def as_int(value: Any) -> int | None:
    """A job/arch id from a Number/Dropdown value ('' and None -> None)."""
    if value in (None, "", 0) and not isinstance(value, bool):
        return None
    return arguments.job_id(value)


def field_input(info: forms.FieldInfo, value: Any = None, label: str | None = None) -> Any:
    """The input of one spec field, from its description (core.spec.describe): a checkbox, a
    number box with its bounds, a dropdown of its choices, else a text box; its help as info."""
    value = info.default if value is None and not info.required else value
    label = label or info.label
    common = {"info": info.about or None, "min_width": 120}
    if info.kind == "bool":
        return gr.Checkbox(value=bool(value), label=label, **common)
    if info.kind == "choice":
        return gr.Dropdown([str(c) for c in info.choices], value=value, label=label, **common)
    if info.kind in ("int", "float"):
        if value is None:  # an empty number box reads 0: form_spec turns it back into None
            return gr.Number(value=None, label=f"{label} (0 = automatic)", **common)
        return gr.Number(
            value=value,
            minimum=info.lo,
            maximum=info.hi,
            precision=0 if info.kind == "int" else None,
            label=label,
            **common,
        )
    return gr.Textbox(value=to_text(value), label=label, **common)


def to_text(value: Any) -> str:
    """Form text of a field value: tuples as 'a, b', mappings as JSON, None as ''."""
    if value is None or value is forms.MISSING:
        return ""
    if isinstance(value, (tuple, list)):
        return ", ".join(str(v) for v in value)
    if isinstance(value, dict):
        return json.dumps(value)
    return str(value)


def dataclass_form(
    cls: type,
    names: list[str] | None = None,
    skip: tuple[str, ...] = (),
    labels: dict[str, str] | None = None,
) -> dict[str, gr.components.Component]:
    """One input per field of a spec dataclass (defaults shown), in field order (or `names`'),
    built from the field descriptions; nested dataclasses are left to the caller."""
    comps: dict[str, gr.components.Component] = {}
    for info in forms.describe(cls, names):
        if info.name in skip or info.kind == "nested":
            continue
        comps[info.name] = field_input(info, label=(labels or {}).get(info.name))
    return comps


def form_spec(names: list[str], values: tuple, optional: set[str] = frozenset()) -> dict:
    """Pair form values with field names; empty inputs (and 0 in an optional number, which a
    cleared gr.Number shows) become None for optional fields and are dropped otherwise (so the
    engine's defaults apply)."""
    spec: dict[str, Any] = {}
    for name, value in zip(names, values):
        if (
            value is None
            or value == ""
            or (name in optional and value == 0 and not isinstance(value, bool))
        ):
            if name in optional:
                spec[name] = None
            continue
        if isinstance(value, float) and value.is_integer():
            value = int(value)  # gr.Number gives floats; the engine checks int fields strictly
        spec[name] = value
    return spec


def optional_fields(cls: type, names: list[str] | None = None) -> set[str]:
    """The fields of a spec (all, or `names`, dotted ones included) that may be None (an empty
    input means "automatic")."""
    return {info.name for info in forms.describe(cls, names) if info.optional}


def progress_html(job: dict | None) -> str:
    """A thin progress bar with the job's status line under it."""
    if not job:
        return "<div class='job-line'>No job selected.</div>"
    pct = 100 * (job.get("progress") or 0.0)
    color = {"failed": "#dc2626", "interrupted": "#d97706", "cancelled": "#6b7280"}.get(
        job["status"], "#4f46e5"
    )
    return f"<div class='pbar'><div style='width:{pct:.1f}%;background:{color}'></div></div>"
