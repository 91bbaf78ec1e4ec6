"""Helpers shared by the tabs: the error boundary, job formatting, cheap change fingerprints.

`ui_errors` turns engine exceptions (core.errors) into gr.Error with the engine's actionable
message. Fingerprints are small tuples read with cheap queries; a timer handler compares them with
the previous tick's (kept in a per-session gr.State) and returns gr.skip() when nothing changed.
"""

from __future__ import annotations

import functools
import logging
import time
from dataclasses import dataclass
from typing import Any, Callable

import gradio as gr

from core.engine.store import FINISHED, Store
from core.errors import NasdetError

from nasdet_gui.config import AppConfig

log = logging.getLogger(__name__)

ACTIVE = ("queued", "running")


@dataclass(frozen=True)
class Ctx:
    """What every tab builder receives: the app's store and configuration (shared, read-only)."""

    store: Store
    config: AppConfig


def ui_errors(fn: Callable) -> Callable:
    """Decorator for event handlers: engine errors become gr.Error with their message."""

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        try:
            return fn(*args, **kwargs)
        except NasdetError as exc:
            raise gr.Error(str(exc), print_exception=False) from exc
        except (ValueError, KeyError) as exc:  # malformed input from a client
            raise gr.Error(f"invalid input: {exc}", print_exception=False) from exc

    return wrapper


def submit(ctx: Ctx, kind: str, spec: dict) -> int:
    """Validate and queue a job (SpecError -> gr.Error via ui_errors); make sure a worker runs."""
    from core.engine.jobs import submit_job
    from core.engine.worker import ensure_worker

    job_id = submit_job(ctx.store, kind, spec)
    ensure_worker(ctx.store.home, "auto")
    return job_id


def cancel_job(ctx: Ctx, job_id: int) -> None:
    """Cancel a job (queued: at once; running: at its next step) and say so in a toast."""
    status = ctx.store.request_cancel(job_id)
    gr.Info(f"Job {job_id} {'cancelled' if status == 'cancelled' else 'stops at its next step'}.")


def resume_job(ctx: Ctx, job_id: int) -> None:
    """Re-queue a job (it continues from its last checkpoint) and make sure a worker runs."""
    from core.engine.worker import ensure_worker

    ctx.store.resume_job(job_id)
    ensure_worker(ctx.store.home, "auto")
    gr.Info(f"Job {job_id} queued again; it continues from its last checkpoint.")


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
    """One plain-words line: 'Job 12 (search): running 43%, epoch 3/10, about 2m 10s left'."""
    if not job:
        return "No job yet."
    status = job["status"]
    text = f"Job {job['id']} ({job['kind']}): **{status}**"
    if status in ACTIVE or status == "interrupted":
        text += f" {100 * (job['progress'] or 0):.0f}%"
    if job.get("message") and status not in FINISHED:
        text += f" - {job['message']}"
    if job.get("eta_s") and status == "running":
        text += f", about {fmt_duration(job['eta_s'])} left"
    if job.get("device"):
        text += f" on `{job['device']}`"
    if job.get("error"):
        text += f"\n\n**Reason:** {job['error']}"
        if status in ("failed", "interrupted", "cancelled"):
            text += " - use Resume to continue from the last checkpoint."
    return text


def job_fingerprint(store: Store, job_id: int | None) -> tuple:
    """Changes whenever a job's visible state changes: status, progress, message, new metrics,
    new architectures, new events. Four indexed point queries."""
    if not job_id:
        return ()
    db = store.db
    row = db.execute("SELECT status, progress, message, error, pid, heartbeat_at FROM jobs "
                     "WHERE id = ?", [int(job_id)]).fetchone()
    if row is None:
        return ("missing", job_id)
    status = row[0]
    if status == "running":  # reconcile cheaply: a dead worker reads as interrupted
        store.reconcile()
        row = db.execute("SELECT status, progress, message, error FROM jobs WHERE id = ?",
                         [int(job_id)]).fetchone()
    metrics = db.execute("SELECT max(rowid) FROM metrics WHERE job_id = ?", [job_id]).fetchone()[0]
    archs = db.execute("SELECT max(id) FROM architectures WHERE job_id = ?", [job_id]).fetchone()[0]
    events = db.execute("SELECT max(id) FROM events WHERE job_id = ?", [job_id]).fetchone()[0]
    return (job_id, *row[:4], metrics, archs, events)


def jobs_fingerprint(store: Store, limit: int = 200) -> tuple:
    """Changes when any of the newest `limit` jobs changes status, progress or message."""
    store.reconcile()
    rows = store.db.execute("SELECT id, status, round(progress, 3), message, error FROM jobs "
                            "ORDER BY id DESC LIMIT ?", [limit]).fetchall()
    return tuple(rows)


def job_choices(store: Store, kinds: tuple[str, ...],
                status: str | None = None) -> list[tuple[str, int]]:
    """Dropdown choices (label, id) for the jobs of these kinds, newest first."""
    jobs = sorted((j for k in kinds for j in store.list_jobs(kind=k, status=status, limit=200)),
                  key=lambda j: -j["id"])
    return [(f"#{j['id']} {j['status']} - {_spec_label(j)}", j["id"]) for j in jobs]


def _spec_label(job: dict) -> str:
    spec = job.get("spec") or {}
    parts = [str(spec[k]) for k in ("dataset", "strategy", "model", "backbone", "name")
             if spec.get(k)]
    return ", ".join(parts) or fmt_time(job["created_at"])


def latest_job_id(store: Store, *kinds: str) -> int | None:
    """The newest job of these kinds (None if there is none)."""
    marks = ", ".join("?" * len(kinds))
    row = store.db.execute(f"SELECT max(id) FROM jobs WHERE kind IN ({marks})",
                           list(kinds)).fetchone()
    return row[0] if row else None


def dataset_names(store: Store) -> list[str]:
    return [d["name"] for d in store.list_datasets()]


def dataset_dropdown(ctx: "Ctx") -> gr.Dropdown:
    """Fresh dataset choices, the first one (shapes-demo on a new home) preselected."""
    names = dataset_names(ctx.store)
    return gr.Dropdown(choices=names, value=names[0] if names else None)


def model_names(store: Store) -> list[str]:
    return [m["name"] for m in store.list_models()]


def skip_all(n: int) -> tuple[Any, ...] | Any:
    """gr.skip() for each of n outputs (a bare gr.skip() when n == 1)."""
    return gr.skip() if n == 1 else tuple(gr.skip() for _ in range(n))


def as_int(value: Any) -> int | None:
    """A job/arch id from a Number/Dropdown value ('' and None -> None)."""
    if value in (None, "", 0):
        return None
    try:
        return int(value)
    except (TypeError, ValueError) as exc:
        raise gr.Error(f"{value!r} is not a job id (a whole number)", print_exception=False) \
            from exc


def dataclass_form(cls: type, names: list[str] | None = None, skip: tuple[str, ...] = (),
                   labels: dict[str, str] | None = None) -> dict[str, gr.components.Component]:
    """One input per field of a frozen config dataclass (defaults shown), in field order.

    bool -> Checkbox, int/float -> Number (empty means null for optional fields), str -> Textbox.
    """
    import dataclasses

    comps: dict[str, gr.components.Component] = {}
    for f in dataclasses.fields(cls):
        if (names is not None and f.name not in names) or f.name in skip:
            continue
        default = f.default if f.default is not dataclasses.MISSING else None
        label = (labels or {}).get(f.name, f.name)
        kind = str(f.type).replace(" | None", "")
        if kind == "bool":
            comps[f.name] = gr.Checkbox(value=bool(default), label=label)
        elif kind in ("int", "float"):
            if default is None:
                label += " (0 = default)"
            comps[f.name] = gr.Number(value=default, label=label,
                                      precision=0 if kind == "int" else None, min_width=120)
        else:
            comps[f.name] = gr.Textbox(value="" if default is None else str(default), label=label,
                                       min_width=120)
    return comps


def form_spec(names: list[str], values: tuple, optional: set[str] = frozenset()) -> dict:
    """Pair form values with field names; empty inputs (and 0 in an optional number, which a
    cleared gr.Number shows) become None for optional fields and are dropped otherwise (so the
    engine's defaults apply)."""
    spec: dict[str, Any] = {}
    for name, value in zip(names, values):
        if value is None or value == "" or (name in optional and value == 0
                                            and not isinstance(value, bool)):
            if name in optional:
                spec[name] = None
            continue
        if isinstance(value, float) and value.is_integer():
            value = int(value)  # gr.Number gives floats; the engine checks int fields strictly
        spec[name] = value
    return spec


def optional_fields(cls: type) -> set[str]:
    import dataclasses
    return {f.name for f in dataclasses.fields(cls) if "None" in str(f.type)}


def engine_part(module: str, attr: str | None = None) -> Any:
    """Import an engine module (or one attribute of it); None while that part is not installed.

    Lets a tab show "not available yet" instead of failing while the engine grows."""
    import importlib

    try:
        mod = importlib.import_module(module)
    except ModuleNotFoundError as exc:
        if exc.name and (module == exc.name or module.startswith(exc.name + ".")):
            return None
        raise
    return getattr(mod, attr, None) if attr else mod


def note_figure(message: str):
    """An empty plotly figure that says why there is nothing to show."""
    import plotly.graph_objects as go

    fig = go.Figure()
    fig.add_annotation(text=message, showarrow=False, x=0.5, y=0.5, xref="paper", yref="paper",
                       font={"size": 13, "color": "#6b7280"})
    fig.update_layout(height=260, xaxis={"visible": False}, yaxis={"visible": False},
                      margin={"l": 10, "r": 10, "t": 10, "b": 10}, plot_bgcolor="white",
                      paper_bgcolor="white")
    return fig


def not_yet(part: str) -> str:
    return f"*{part} is not available in this build yet.*"


def progress_html(job: dict | None) -> str:
    """A thin progress bar with the job's status line under it."""
    if not job:
        return "<div class='job-line'>No job selected.</div>"
    pct = 100 * (job.get("progress") or 0.0)
    color = {"failed": "#dc2626", "interrupted": "#d97706", "cancelled": "#6b7280"}.get(
        job["status"], "#4f46e5")
    return (f"<div class='pbar'><div style='width:{pct:.1f}%;background:{color}'></div></div>")


def best_architecture(store: Store, job_id: int) -> dict | None:
    """The search's final cell if logged, else its best-scoring one."""
    archs = store.architectures(job_id)
    if not archs:
        return None
    for kind in ("final", "derived"):
        tagged = [a for a in archs if (a.get("extra") or {}).get("kind") == kind]
        if tagged:
            return tagged[-1]
    return max(archs, key=lambda a: a["score"] if a["score"] is not None else -1.0)
