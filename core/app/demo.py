"""The Guided demo's own chain of jobs, and where its walk stands.

The walk is three jobs, each waiting for the one before (jobs.after_id, see Store.insert_job):

1. a cell search (`search`): cells of the DARTS space ranked on crops of the pictures, the best
   kept;
2. a detector search (`search.detector`): short trainings of detectors built on that cell and on
   hand-made backbones (MobileNetV3-Small...) at several input sizes and BiFPN/head sizes, judged
   on their val AP50 and measured latency, the pick registered from its trial's weights;
3. a training (`train`) that goes on from the pick's weights (`init: job-<detector search>`), not
   from scratch.

`demo_specs(preset, dataset)` gives the three specs of a demo preset (assets/presets.json, "demo"
section: {"search": {...}, "detector": {...}, "train": {...}}); `queue_demo` submits them. The
GUI's "Run the whole demo" button and bench/demo_time.py both queue the walk this way, so the
bench times what a presenter sees. Each job has a wall-clock budget (`minutes`), so the walk's
length is their sum plus each job's start-up (`promise_s`). The training, last, is given the
walk's promised end itself (`until`) rather than its minutes: what the searches leave of their
budgets (a search ends when another trial no longer fits) goes to the pick's training, and the
walk ends when the page said it would.

The budgets are sized for the machine before the click (`fit_to_machine`): a probe times a
training step of the preset's `pace` detector (core.train.pace, about two seconds) against the
step time on the machine the budgets were set on; on a machine that many times slower (or as
busy) the searches get that many times their minutes - so they still reach their first trials -
and the training what is left of MAX_WALK_S. The page states the walk's length from the same
probe.

Every job the demo queues carries origin "demo" (jobs.origin), and `guided_walk` reads only
those: a job started from another tab, the CLI or a script never moves the walk, never becomes
its results and never decides its verdict. The walk is read from the store, so a browser
refresh lands on the demo's own step.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from core.app.jobs import submit
from core.engine.jobs import get_task, validate_spec
from core.engine.queries import find_job, latest_job_id
from core.engine.store import Store
from core.engine.worker import ensure_worker
from core.errors import SpecError
from core.nas.detector.config import KIND as DETECTOR_SEARCH
from core.references import check_dataset
from core.train.pace import training_step_s

ORIGIN = "demo"  # jobs.origin of every job the demo queues
# Seconds the walk stays on step 3 (the found cell) after the cell search ends, before it moves
# on to the detector search that is already running: long enough to read a sentence.
CELL_DWELL_S = 15.0
PROBE_CELL = "DARTS_V2"  # a published cell standing in for one not searched yet (see queue_demo)
PARTS = ("search", "detector", "train")
# Seconds a part spends outside its budget's clock: the worker picking it up after the part
# before, the job's imports and, for the training, building its data before the budget starts.
STARTUP_S = 5.0
KINDS = {"search": "search", "detector": DETECTOR_SEARCH, "train": "train"}
MAX_WALK_S = 480.0  # the longest walk the budgets grow to on a slow machine (8 minutes)
MIN_TRAIN_MINUTES = 1.0  # what the training keeps when the searches take the rest
SAME_PACE = 1.25  # a probe within this factor of the reference is noise: the budgets stay
PACE_MAX_AGE_S = 30.0  # a probe this recent is reused (a page load and its click share one)
_pace: dict[str, tuple[float, float]] = {}  # probe key -> (monotonic time, seconds per step)


@dataclass(frozen=True)
class DemoJobs:
    """The ids of a queued demo chain, and the walk's promised length (seconds from the
    queueing; None without time budgets)."""

    search: int
    detector: int
    train: int
    promised_s: float | None = None


def machine_step_s(preset: Mapping[str, Any], max_age_s: float = PACE_MAX_AGE_S) -> float | None:
    """Seconds of a training step of the preset's `pace` detector on this machine now (a probe
    of about two seconds, reused for `max_age_s`); None when the preset names none."""
    pace = preset.get("pace")
    if not pace:
        return None
    key = repr(sorted(pace.items()))
    measured = _pace.get(key)
    if measured is None or time.monotonic() - measured[0] > max_age_s:
        step_s = training_step_s(
            pace["model"], pace.get("backbone"), int(pace["image_size"]), int(pace["batch_size"])
        )
        measured = _pace[key] = (time.monotonic(), step_s)
    return measured[1]


def fit_to_machine(
    preset: Mapping[str, Any], step_s: float | None = None
) -> tuple[dict[str, Any], float]:
    """(the preset with budgets for this machine, how many times slower than the reference it
    is): the searches' minutes times the slowdown, the training's cut so that the walk stays
    within MAX_WALK_S (keeping MIN_TRAIN_MINUTES). `step_s`: a probe already taken."""
    preset = {k: dict(v) if isinstance(v, Mapping) else v for k, v in preset.items()}
    pace = preset.get("pace")
    step_s = step_s if step_s is not None else machine_step_s(preset)
    if not pace or step_s is None:
        return preset, 1.0
    slowdown = max(1.0, step_s / float(pace["step_s"]))
    if slowdown <= SAME_PACE or promise_s(preset) is None:
        return preset, slowdown
    for part in ("search", "detector"):
        preset[part]["minutes"] = round(float(preset[part]["minutes"]) * slowdown, 2)
    over = promise_s(preset, STARTUP_S) - MAX_WALK_S
    if over > 0:
        train = float(preset["train"]["minutes"])
        preset["train"]["minutes"] = round(max(MIN_TRAIN_MINUTES, train - over / 60.0), 2)
    return preset, slowdown


def demo_specs(preset: Mapping[str, Any], dataset: str) -> dict[str, dict]:
    """{"search", "detector", "train"}: the preset's specs on `dataset` (without the references
    to the jobs before them, which `chain_spec` adds)."""
    for key in PARTS:
        if not isinstance(preset.get(key), Mapping):
            raise SpecError(f"the demo preset has no {key!r} settings; see assets/presets.json")
    return {key: dict(preset[key], dataset=dataset) for key in PARTS}


def chain_spec(
    preset: Mapping[str, Any],
    dataset: str,
    part: str,
    before: int | None,
    until: float | None = None,
) -> dict:
    """The spec of one part of the chain, pointing at the job before it: the detector search
    has the searched cell `nas:<search>` first among its backbones; the training goes on from
    the detector search's pick (`job-<detector search>`) and, given `until` (the walk's
    promised end, Unix seconds), trains until then instead of for its minutes."""
    spec = demo_specs(preset, dataset)[part]
    if part == "detector":
        hand_made = [b for b in spec.get("backbones") or () if not str(b).startswith("nas:")]
        spec["backbones"] = [f"nas:{int(before)}", *hand_made]
    elif part == "train":
        spec["init"] = f"job-{int(before)}"
        if until is not None and spec.get("minutes") is not None:
            spec.pop("minutes")
            spec["until"] = round(until, 1)
    return spec


def walk_end(preset: Mapping[str, Any], parts: tuple[str, ...] = PARTS) -> float | None:
    """Unix time the walk (its `parts`, from now) is promised to end; None without budgets."""
    promised = promise_s(preset, STARTUP_S, parts)
    return None if promised is None else time.time() + promised


def _insert_waiting(store: Store, part: str, spec: dict, after: int) -> int:
    """Validate and queue a part that waits for `after`, whose references do not exist yet:
    the searched cell is checked as a published cell of the same space would be; the pick's
    model is checked when the training runs (its dataset now)."""
    kind = KINDS[part]
    spec = validate_spec(kind, spec)
    resolve = get_task(kind).resolve
    if part == "detector" and resolve is not None:
        stand_in = [
            f"nas:{PROBE_CELL}" if b == spec["backbones"][0] else b for b in spec["backbones"]
        ]
        resolve(dict(spec, backbones=stand_in), store, "auto")
    elif part == "train":
        check_dataset(store, spec["dataset"], "train")
    return store.insert_job(kind, spec, after=after, origin=ORIGIN)


def queue_demo(
    store: Store, preset: Mapping[str, Any], dataset: str, start_worker: bool = True
) -> DemoJobs:
    """Queue the cell search, the detector search waiting for it and the training waiting for
    that; returns the three ids. When a later part cannot be queued, the search just queued is
    cancelled again (and what waits for it with it), so no half chain is left behind."""
    preset, _ = fit_to_machine(preset)
    until = walk_end(preset)
    search = submit(
        store, "search", demo_specs(preset, dataset)["search"], origin=ORIGIN, start_worker=False
    )
    queued = [search]
    try:
        for part in ("detector", "train"):
            spec = chain_spec(preset, dataset, part, queued[-1], until)
            queued.append(_insert_waiting(store, part, spec, queued[-1]))
    except BaseException:
        store.request_cancel(search)  # the parts waiting for it are cancelled with it
        raise
    if start_worker:
        ensure_worker(store.home, "auto")
    return DemoJobs(*queued, promised_s=promise_s(preset, STARTUP_S))


def start_search(store: Store, preset: Mapping[str, Any], dataset: str) -> int:
    """The demo's step 2 alone: its cell search, without the rest of the chain."""
    return submit(store, "search", demo_specs(preset, dataset)["search"], origin=ORIGIN)


def start_detector(store: Store, preset: Mapping[str, Any], since: int) -> tuple[int, int]:
    """The demo's step 4 alone, once the walk's cell search has succeeded: the detector search
    on its cell and, waiting for it, the training of the pick; returns both ids."""
    walk = guided_walk(store, since)
    if not walk.search_done:
        raise SpecError("the demo's search has not finished yet; wait for step 2 to end")
    dataset = find_job(store, walk.search_id)["spec"]["dataset"]
    preset, _ = fit_to_machine(preset)
    until = walk_end(preset, ("detector", "train"))
    spec = chain_spec(preset, dataset, "detector", walk.search_id)
    detector = submit(store, DETECTOR_SEARCH, spec, origin=ORIGIN, start_worker=False)
    try:
        train = _insert_waiting(
            store, "train", chain_spec(preset, dataset, "train", detector, until), detector
        )
    except BaseException:
        store.request_cancel(detector)
        raise
    ensure_worker(store.home, "auto")
    return detector, train


def promise_s(
    preset: Mapping[str, Any], startup_s: float = 0.0, parts: tuple[str, ...] = PARTS
) -> float | None:
    """Seconds the walk (its `parts`) takes: their budgets and `startup_s` for each part (what a
    job spends before its budget's clock runs: the worker picking it up, its imports); None when
    a part has no time budget."""
    minutes = [(preset.get(part) or {}).get("minutes") for part in parts]
    if any(m is None for m in minutes):
        return None
    return 60.0 * sum(float(m) for m in minutes) + len(parts) * startup_s


@dataclass(frozen=True)
class Walk:
    """Where the Guided demo stands: its own newest cell search after `since`, its own newest
    detector search and training queued after that, with their (effective) statuses."""

    since: int = 0
    search_id: int | None = None
    search_status: str | None = None
    detector_id: int | None = None
    detector_status: str | None = None
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
    detector = find_job(
        store, latest_job_id(store, DETECTOR_SEARCH, after=search["id"], origin=ORIGIN)
    )
    train = None
    if detector is not None:
        train = find_job(store, latest_job_id(store, "train", after=detector["id"], origin=ORIGIN))
    return Walk(
        since=since,
        search_id=search["id"],
        search_status=search["status"],
        detector_id=detector["id"] if detector else None,
        detector_status=detector["status"] if detector else None,
        train_id=train["id"] if train else None,
        train_status=train["status"] if train else None,
        has_cell=bool(store.artifacts(search["id"], kind="genotype")),
        search_finished_at=search.get("finished_at"),
    )


def start_over_point(store: Store) -> int:
    """The `since` of a walk started over: the newest job id so far (the walk then shows only
    the demo's jobs queued after it)."""
    return latest_job_id(store) or 0
