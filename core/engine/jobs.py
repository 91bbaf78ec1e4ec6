"""Job kinds and their task definitions; validated submission.

A task is `run(spec: dict, reporter: Reporter) -> dict | None` (the returned dict is stored as
the job's result). `validate(spec) -> dict` normalises a spec (defaults filled in) or raises
SpecError; it runs at submit time, so a bad spec never reaches the queue. The optional
`resolve(spec, store, device) -> dict | None` then checks what the spec refers to in the store
and on disk (datasets, models, searched cells, weight files) and whether the job fits its
device; it may return a completed spec. Both run in the submitting process: keep them cheap.
"""

from __future__ import annotations

import importlib
import json
import os
import shutil
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from core.engine.devices import resolve_device
from core.errors import SpecError

if TYPE_CHECKING:  # pragma: no cover
    from core.engine.reporter import Reporter
    from core.engine.store import Store

JOB_KINDS = (
    "dataset.generate",
    "dataset.import",
    "search",
    "search.detector",
    "train",
    "evaluate",
    "export",
)

# Kinds that take seconds to minutes: a worker of the "light" lane runs them beside a long
# search or training, so an import or an evaluation never waits behind one.
LIGHT_KINDS = ("dataset.generate", "dataset.import", "evaluate", "export")
LANES: dict[str, tuple[str, ...] | None] = {"all": None, "light": LIGHT_KINDS}


@dataclass(frozen=True)
class TaskDef:
    """What a job kind runs, and how its spec is checked before queueing."""

    run: Callable[[dict, Reporter], Any]
    validate: Callable[[dict], dict]
    resolve: Callable[[dict, Store, str], dict | None] | None = None


# kind -> "module:attribute" of a TaskDef, imported on first use (keeps `jobs list` fast).
TASKS: dict[str, str] = {
    "dataset.generate": "core.data.tasks:GENERATE",
    "dataset.import": "core.data.tasks:IMPORT",
    "search": "core.nas.tasks:SEARCH",
    "search.detector": "core.nas.detector.tasks:SEARCH_DETECTOR",
    "train": "core.train.tasks:TRAIN",
    "evaluate": "core.train.tasks:EVALUATE",
    "export": "core.det.tasks:EXPORT",
}
EXTRA_TASKS_ENV = "NASDET_EXTRA_TASKS"  # "kind=module:attr,..." (tests register test-only kinds)
_REGISTERED: dict[str, TaskDef] = {}


def register_task(kind: str, task: TaskDef) -> None:
    """Register a task kind in this process (workers in other processes use NASDET_EXTRA_TASKS)."""
    _REGISTERED[kind] = task


def _task_paths() -> dict[str, str]:
    paths = dict(TASKS)
    for item in filter(None, os.environ.get(EXTRA_TASKS_ENV, "").split(",")):
        kind, _, target = item.partition("=")
        paths[kind.strip()] = target.strip()
    return paths


def get_task(kind: str) -> TaskDef:
    if kind in _REGISTERED:
        return _REGISTERED[kind]
    paths = _task_paths()
    if kind not in paths:
        raise SpecError(f"unknown job kind {kind!r}; known kinds: {', '.join(sorted(paths))}")
    return load_by_name(paths[kind])


def load_by_name(target: str) -> Any:
    """The attribute named "module:attr", its module imported now."""
    module, _, attr = target.partition(":")
    return getattr(importlib.import_module(module), attr)


def run_by_name(target: str) -> Callable[[dict, Reporter], Any]:
    """A TaskDef's run named "module:function" and imported at its first call: a job kind's
    module keeps the light checks (validate, resolve) and names its run, so what running needs
    (torch, the models) stays out of the processes that only submit, list or check jobs."""

    def run(spec: dict, reporter: Reporter) -> Any:
        return load_by_name(target)(spec, reporter)

    run.__name__ = run.__qualname__ = target
    return run


def validate_spec(kind: str, spec: Any) -> dict:
    """Check a spec is a JSON object the task accepts; returns the normalised spec."""
    if not isinstance(spec, dict):
        raise SpecError(f"a {kind} job spec must be a JSON object, got {type(spec).__name__}")
    try:
        json.dumps(spec)
    except (TypeError, ValueError) as exc:
        raise SpecError(f"the {kind} job spec is not JSON-serialisable: {exc}") from exc
    normalised = get_task(kind).validate(dict(spec))
    if not isinstance(normalised, dict):
        raise SpecError(f"validator of {kind} returned {type(normalised).__name__}, not a dict")
    return normalised


def submit_job(
    store: Store,
    kind: str,
    spec: dict,
    device: str = "auto",
    after: int | None = None,
    origin: str | None = None,
) -> int:
    """Validate, resolve and queue a job; returns its id. The CLI, the API and the GUI all come
    here, so a bad spec gets the same message everywhere; raises SpecError (or NotFoundError,
    CheckpointError, ...) before queueing anything. `after` and `origin`: see Store.insert_job."""
    if device != "auto":
        device = resolve_device(device)
    normalised = validate_spec(kind, spec)
    resolve = get_task(kind).resolve
    if resolve is not None:
        normalised = resolve(normalised, store, device) or normalised
    return store.insert_job(kind, normalised, requested_device=device, after=after, origin=origin)


def run_dir(store: Store, job_id: int) -> os.PathLike:
    return store.home / "runs" / str(job_id)


def delete_job(store: Store, job_id: int) -> None:
    """Delete a finished job's rows and its runs/<id>/ folder."""
    store.delete_job(job_id)
    shutil.rmtree(run_dir(store, job_id), ignore_errors=True)
