"""The Guided demo's jobs as one chain: a search, then a detector trained on the cell it finds.

`demo_specs(preset, dataset)` gives the two job specs of a demo preset (assets/presets.json,
"demo" section: {"search": {...}, "train": {...}}); `queue_demo` submits them so that the
training waits for the search (jobs.after_id, see Store.insert_job) and trains `nas:<search>`,
the searched cell. The GUI's "Run the whole demo" button and bench/demo_time.py both queue the
walk this way, so the bench times what a presenter sees.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from core.engine.jobs import get_task, submit_job, validate_spec
from core.engine.store import Store
from core.errors import SpecError

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


def queue_demo(store: Store, preset: Mapping[str, Any], dataset: str) -> DemoJobs:
    """Queue the search and, waiting for it, the training on its cell; returns both ids.

    The search is submitted as any job is (validated and resolved). The training is validated
    and resolved too, except for its backbone: the cell `nas:<search>` does not exist until the
    search writes it, so the references are checked with a published cell of the same search
    space in its place (same memory estimate); the train task reads the real one when it runs.
    When the training cannot be queued, the search just queued is cancelled again, so no half
    chain is left behind.
    """
    search_spec, _ = demo_specs(preset, dataset)
    search = submit_job(store, "search", search_spec)
    try:
        spec = validate_spec("train", train_spec_for(preset, dataset, search))
        resolve = get_task("train").resolve
        if resolve is not None:
            resolve(dict(spec, backbone=f"nas:{PROBE_CELL}"), store, "auto")
        train = store.insert_job("train", spec, after=search)
    except BaseException:
        store.request_cancel(search)
        raise
    return DemoJobs(search=search, train=train)
