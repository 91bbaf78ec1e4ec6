"""The Guided demo's outputs for one moment of the walk, as {component: value} dicts.

`refresh` reads where the walk stands (core.app.demo.guided_walk) and the fingerprints of
its two jobs; a part is redrawn only when what it shows changed (a tick with no change updates
only the session's fingerprint state: nothing visible is sent). The status lines and bars follow
every progress report (and carry a running clock, so they change on every tick while a job
runs); the charts follow the job's new rows at most every CHART_EVERY_S seconds while it runs
(the search's points and best cell every 4 s, the loss and AP curves every 10 s); the training
gallery changes when the per-epoch preview file does; the found cell when the search's status
does. On a 2-core CPU the worker shares the machine with the app and the browser: redrawing
every chart and re-encoding the gallery on every 2-second tick made the demo's training about
twice as slow in the app as alone. The step shown changes only when the walk moves on, so a
presenter who clicks back to an earlier step is not pulled away on the next tick.
"""

from __future__ import annotations

import time
from typing import Any

from core.app import demo as demo_chain
from core.app import demo_results, jobs, models, searches, trainings
from core.errors import NotFoundError
from nasdet_gui.common import Ctx, progress_html
from nasdet_gui.guided import ending, live
from nasdet_gui.guided.layout import CELL, CHOOSE, RESULT, SEARCH, TRAIN, Parts
from nasdet_gui.guided.texts import (
    EXPLAIN,
    detector_verdict_html,
    explain,
    score_html,
    status_line,
    verdict_html,
)

ACTIVE = ("queued", "running")
CHART_EVERY_S = {
    "sc": 4.0,
    "dc": 4.0,
    "tc": 10.0,
}  # least seconds between chart redraws of a running job


def step_of(walk: demo_chain.Walk, at: float | None = None) -> int:
    """Which step the walk is at, from its jobs' statuses (the chained parts that are already
    queued while the cell search runs leave the walk at the search). When the search has just
    ended, step 3 (the found cell and its verdict) is shown for CELL_DWELL_S before the walk
    moves on to the detector search and the training (step 4)."""
    if walk.search_id is None:
        return CHOOSE
    if not walk.search_done:
        return SEARCH
    if walk.detector_id is None:
        return CELL
    if walk.train_done:
        return RESULT
    now = time.time() if at is None else at
    ended = walk.search_finished_at
    return CELL if ended is not None and now - ended < demo_chain.CELL_DWELL_S else TRAIN


def _buttons(p: Parts, *walk_jobs: dict | None) -> dict:
    """The buttons that queue jobs are off while the walk's jobs run (no second search by a
    stray click during a talk)."""
    import gradio as gr

    busy = any(j and j["status"] in ACTIVE for j in walk_jobs)
    return {
        p["run_all"]: gr.Button(interactive=not busy),
        p["start_search"]: gr.Button(interactive=not busy),
        p["train_cell"]: gr.Button(interactive=not busy),
    }


def _trial_chart(ctx: Ctx, walk: demo_chain.Walk, pick: dict | None = None):
    from core.viz.models import detector_search_figure

    detector = jobs.find_job(ctx.store, walk.detector_id)
    dataset = ((detector or {}).get("spec") or {}).get("dataset")
    return detector_search_figure(
        demo_results.trial_points(ctx.store, walk.detector_id),
        demo_results.baselines(ctx.store, dataset),
        pick,
    )


def _search_charts(ctx: Ctx, p: Parts, walk: demo_chain.Walk) -> dict:
    scatter, best, phase = live.search_views(ctx.store, walk.search_id)
    archs = searches.architectures(ctx.store, walk.search_id) if walk.search_id else []
    reporting = any(a["role"] in live.REPORT_ROLES for a in archs)
    return {
        p["scatter"]: scatter,
        p["best"]: best,
        p["phase"]: phase,
        p["phase_note"]: explain("report" if reporting else "alphas"),
    }


def _cell_outputs(ctx: Ctx, p: Parts, walk: demo_chain.Walk, job: dict | None) -> dict:
    from nasdet_gui import figures

    genotype = searches.searched_genotype(ctx.store, walk.search_id) if walk.search_id else None
    normal, reduce = figures.cells(genotype, "found")
    trained = searches.cells_trained(ctx.store, walk.search_id) if walk.search_id else None
    verdict = verdict_html((job or {}).get("result"), trained) if walk.search_done else ""
    return {p["c_normal"]: normal, p["c_reduce"]: reduce, p["verdict_cell"]: verdict}


def _train_curves(ctx: Ctx, p: Parts, job: dict | None) -> dict:
    loss, ap = live.train_curves(ctx.store, job["id"] if job else None)
    return {p["t_loss"]: loss, p["t_ap"]: ap}


def result_outputs(ctx: Ctx, p: Parts, cache: Any, train: dict, walk: demo_chain.Walk) -> dict:
    """The ending: boxes on val pictures at the model's own threshold, the score, the pick on
    the chart beside the trials and baselines, and the verdict."""
    model = ending.model_of(train)
    evaluation = ending.evaluation_of(ctx.store, model)
    threshold = ending.default_threshold(evaluation)
    items = models.dataset_items(ctx.store, train["spec"]["dataset"], ending.RESULT_IMAGES)
    try:
        state = models.detect(cache, model, items)
    except NotFoundError:  # the walk's model was deleted (Jobs tab) since it was trained
        return {
            p["score"]: f"The detector of this walk (`{model}`) was deleted; press "
            "**Start over** to run the demo again.",
            p["r_gallery"]: [],
            p["r_state"]: None,
        }
    pick = demo_results.pick_row(ctx.store, walk.train_id)
    verdict = demo_results.verdict(ctx.store, walk.detector_id, walk.train_id)
    return {
        p["score"]: score_html(evaluation),
        p["verdict_result"]: detector_verdict_html(verdict),
        p["r_chart"]: _trial_chart(ctx, walk, pick),
        p["r_gallery"]: ending.result_gallery(state, threshold),
        p["threshold"]: threshold,
        p["legend"]: ending.legend_html(state["classes"]),
        p["r_state"]: state,
    }


def fingerprint(ctx: Ctx, walk: demo_chain.Walk) -> dict:
    """{"s"/"t": a job's status, progress, message and error; "sc"/"tc": its newest metric,
    architecture and event rows; "tg": the preview file's mtime; "step", "since"}."""
    s = jobs.job_fingerprint(ctx.store, walk.search_id)
    d = jobs.job_fingerprint(ctx.store, walk.detector_id)
    t = jobs.job_fingerprint(ctx.store, walk.train_id)
    return {
        "since": walk.since,
        "step": step_of(walk),
        "s": s[:5],
        "sc": s[5:],
        "d": d[:5],
        "dc": d[5:],
        "t": t[:5],
        "tc": t[5:],
        "tg": trainings.preview_stamp(ctx.store, walk.train_id),
    }


def _due(old: dict, new: dict, key: str, job: dict | None, at: float) -> bool:
    """Whether the `key` charts are redrawn now: their rows changed and, while the job runs,
    the last redraw is CHART_EVERY_S old. When not, `new` keeps the old value, so the change
    is picked up on a later tick."""
    if old.get(key) == new[key]:
        return False
    running = bool(job) and job["status"] in ACTIVE
    if running and at - old.get(f"{key}_at", 0.0) < CHART_EVERY_S[key]:
        new[key], new[f"{key}_at"] = old.get(key), old.get(f"{key}_at", 0.0)
        return False
    new[f"{key}_at"] = at
    return True


def _status_moved(old: dict, new: dict, key: str) -> bool:
    """Whether the `key` job's status (fingerprint item 1) changed since `old`."""
    return (old.get(key) or (None, None))[1:2] != new[key][1:2]


def refresh(
    ctx: Ctx, p: Parts, cache: Any, since: int, fp: dict | None, force: bool = False
) -> dict:
    """What changed since `fp` (everything when `force`), as {component: new value}."""
    walk = demo_chain.guided_walk(ctx.store, since)
    new = fingerprint(ctx, walk)
    old = fp if (fp and not force) else {}
    search = jobs.find_job(ctx.store, walk.search_id)
    detector = jobs.find_job(ctx.store, walk.detector_id)
    train = jobs.find_job(ctx.store, walk.train_id)
    at = time.monotonic()
    out: dict = {}
    import gradio as gr

    if old.get("step") != new["step"]:
        out[p["walk"]] = gr.Walkthrough(selected=new["step"])
    search_status = (search or {}).get("status")
    if old.get("s") != new["s"]:
        out[p["s_status"]] = status_line(search, "Search")
        out[p["s_bar"]] = progress_html(search)
        if _status_moved(old, new, "s"):
            out.update(_cell_outputs(ctx, p, walk, search))
    elif search_status == "running":
        out[p["s_status"]] = status_line(search, "Search")  # the clock moves
    if _due(old, new, "sc", search, at):
        out.update(_search_charts(ctx, p, walk))
    if old.get("d") != new["d"]:
        out[p["d_status"]] = status_line(detector, "Detector search")
        out[p["d_bar"]] = progress_html(detector)
    elif detector and detector["status"] in ACTIVE:
        out[p["d_status"]] = status_line(detector, "Detector search")
    if _due(old, new, "dc", detector, at):
        out[p["d_chart"]] = _trial_chart(ctx, walk)
    if (old.get("s"), old.get("d"), old.get("t")) != (new["s"], new["d"], new["t"]):
        out.update(_buttons(p, search, detector, train))
    train_moved = _status_moved(old, new, "t")
    if train_moved:
        out[p["d_box"]] = gr.Column(visible=not train or train["status"] != "running")
    if old.get("t") != new["t"]:
        out[p["t_status"]] = status_line(train, "Training")
        out[p["t_bar"]] = progress_html(train)
        if new["step"] == RESULT and train_moved:
            out.update(result_outputs(ctx, p, cache, train, walk))
    elif train and train["status"] in ACTIVE:
        out[p["t_status"]] = status_line(train, "Training")
    if _due(old, new, "tc", train, at):
        out.update(_train_curves(ctx, p, train))
    if old.get("tg") != new["tg"] or not old:
        out[p["t_gallery"]] = live.preview_gallery(
            ctx.store, train["id"] if train else None, live.dataset_classes(ctx.store, train)
        )
    out[p["fp"]] = new  # a dict naming no component at all would read as one bare value
    return out


__all__ = ["refresh", "result_outputs", "step_of", "EXPLAIN", "SEARCH", "TRAIN", "CELL"]
