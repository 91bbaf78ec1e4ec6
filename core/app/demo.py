"""The Guided demo's own chain of jobs, and where its walk stands.

`demo_specs(preset, dataset)` gives the two job specs of a demo preset (assets/presets.json,
"demo" section: {"search": {...}, "train": {...}}); `queue_demo` submits them so that the
training waits for the search (jobs.after_id, see Store.insert_job) and trains `nas:<search>`,
the searched cell. The GUI's "Run the whole demo" button and bench/demo_time.py both queue the
walk this way, so the bench times what a presenter sees.

Every job the demo queues carries origin "demo" (jobs.origin), and `guided_walk` reads only
those: a search or a training started from another tab, the CLI or a script never moves the
walk, never becomes its results and never decides its verdict. The walk is read from the store,
so a browser refresh lands on the demo's own step.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from core.app.jobs import submit
from core.engine.jobs import get_task, validate_spec
from core.engine.queries import find_job, latest_job_id
from core.engine.store import Store
from core.engine.worker import ensure_worker
from core.errors import SpecError

ORIGIN = "demo"  # jobs.origin of every job the demo queues
# Seconds the walk stays on step 3 (the found cell and its verdict) after the search ends,
# before it moves on to the training that is already running: long enough to read a sentence.
CELL_DWELL_S = 15.0
PROBE_CELL = "DARTS_V2"  # a published cell standing in for one not searched yet (see queue_demo)


@dataclass(frozen=True)
class DemoJobs:
    """The ids of a queued demo chain."""

    search: int
    train: int


def demo_specs(preset: Mapping[str, Any], dataset: str) -> tuple[dict, dict]:
    """(search spec, train spec without its backbone) of a demo preset on `dataset`."""
    for key in ("search", "train"):
        if not isinstance(preset.get(key), Mapping):
            raise SpecError(f"the demo preset has no {key!r} settings; see assets/presets.json")
    return dict(preset["search"], dataset=dataset), dict(preset["train"], dataset=dataset)


def train_spec_for(preset: Mapping[str, Any], dataset: str, search_id: int | None) -> dict:
    """The demo's train spec: on the searched cell of `search_id`, or the preset's own
    backbone (EfficientNet-style) when None."""
    spec = demo_specs(preset, dataset)[1]
    if search_id is not None:
        spec["backbone"] = f"nas:{int(search_id)}"
    return spec


def queue_demo(
    store: Store, preset: Mapping[str, Any], dataset: str, start_worker: bool = True
) -> DemoJobs:
    """Queue the search and, waiting for it, the training on its cell; returns both ids.

    The search is submitted as any job is (validated and resolved). The training is validated
    and resolved too, except for its backbone: the cell `nas:<search>` does not exist until the
    search writes it, so the references are checked with a published cell of the same search
    space in its place (same memory estimate); the train task reads the real one when it runs.
    When the training cannot be queued, the search just queued is cancelled again, so no half
    chain is left behind.
    """
    search_spec, _ = demo_specs(preset, dataset)
    search = submit(store, "search", search_spec, origin=ORIGIN, start_worker=False)
    try:
        spec = validate_spec("train", train_spec_for(preset, dataset, search))
        resolve = get_task("train").resolve
        if resolve is not None:
            resolve(dict(spec, backbone=f"nas:{PROBE_CELL}"), store, "auto")
        train = store.insert_job("train", spec, after=search, origin=ORIGIN)
    except BaseException:
        store.request_cancel(search)
        raise
    if start_worker:
        ensure_worker(store.home, "auto")
    return DemoJobs(search=search, train=train)


def start_search(store: Store, preset: Mapping[str, Any], dataset: str) -> int:
    """The demo's step 2 alone: its search, without the chained training."""
    return submit(store, "search", demo_specs(preset, dataset)[0], origin=ORIGIN)


def start_training(store: Store, preset: Mapping[str, Any], since: int, on_cell: bool) -> int:
    """The demo's step 4 alone: a training on the walk's found cell (`on_cell`) or on the
    preset's EfficientNet-style backbone, once the walk's search has succeeded."""
    walk = guided_walk(store, since)
    if not walk.search_done:
        raise SpecError("the demo's search has not finished yet; wait for step 2 to end")
    dataset = find_job(store, walk.search_id)["spec"]["dataset"]
    spec = train_spec_for(preset, dataset, walk.search_id if on_cell else None)
    return submit(store, "train", spec, origin=ORIGIN)


@dataclass(frozen=True)
class Walk:
    """Where the Guided demo stands: its own newest search after `since` and its own newest
    training queued after that search, with their (effective) statuses."""

    since: int = 0
    search_id: int | None = None
    search_status: str | None = None
    train_id: int | None = None
    train_status: str | None = None
    has_cell: bool = False  # the search's genotype.json exists (its search phase is over)
    search_finished_at: float | None = None

    @property
    def search_done(self) -> bool:
        return self.search_status == "succeeded"

    @property
    def train_done(self) -> bool:
        return self.train_status == "succeeded"


def guided_walk(store: Store, since: int = 0) -> Walk:
    """The walk's state read from the store (the demo's own jobs only)."""
    search = find_job(store, latest_job_id(store, "search", after=since, origin=ORIGIN))
    if search is None:
        return Walk(since=since)
    train_id = latest_job_id(store, "train", after=search["id"], origin=ORIGIN)
    train = find_job(store, train_id)
    return Walk(
        since=since,
        search_id=search["id"],
        search_status=search["status"],
        train_id=train["id"] if train else None,
        train_status=train["status"] if train else None,
        has_cell=bool(store.artifacts(search["id"], kind="genotype")),
        search_finished_at=search.get("finished_at"),
    )


def start_over_point(store: Store) -> int:
    """The `since` of a walk started over: the newest job id so far (the walk then shows only
    the demo's jobs queued after it)."""
    return latest_job_id(store) or 0
