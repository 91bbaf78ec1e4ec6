"""The Guided demo's outputs for one moment of the walk, as {component: value} dicts.

`refresh` reads where the walk stands (core.engine.queries.guided_walk) and the fingerprints of
its two jobs; a section is redrawn only when its job's fingerprint changed (a tick with no
change updates only the session's fingerprint state: nothing visible is sent). The status lines carry a running clock, so
they change on every tick while a job runs. The step shown changes only when the walk moves
on, so a presenter who clicks back to an earlier step is not pulled away on the next tick.
"""

from __future__ import annotations

from typing import Any

from core.engine import queries as q
from core.errors import NotFoundError

from nasdet_gui.common import Ctx, progress_html
from nasdet_gui.guided import ending, live
from nasdet_gui.guided.layout import CELL, CHOOSE, RESULT, SEARCH, TRAIN, Parts
from nasdet_gui.guided.texts import EXPLAIN, explain, score_html, status_line, verdict_html

ACTIVE = ("queued", "running")


def step_of(walk: q.Walk) -> int:
    """Which step the walk is at, from its jobs' statuses (a chained training that is already
    queued while the search runs leaves the walk at the search)."""
    if walk.search_id is None:
        return CHOOSE
    if not walk.search_done:
        return SEARCH
    if walk.train_id is None:
        return CELL
    return RESULT if walk.train_done else TRAIN


def _buttons(p: Parts, search: dict | None, train: dict | None) -> dict:
    """The buttons that queue jobs are off while the walk's jobs run (no second search by a
    stray click during a talk)."""
    import gradio as gr

    busy = any(j and j["status"] in ACTIVE for j in (search, train))
    return {p["run_all"]: gr.Button(interactive=not busy),
            p["start_search"]: gr.Button(interactive=not busy),
            p["train_cell"]: gr.Button(interactive=not busy),
            p["train_effnet"]: gr.Button(interactive=not busy)}


def _search_outputs(ctx: Ctx, p: Parts, walk: q.Walk, job: dict | None) -> dict:
    out = {p["s_status"]: status_line(job, "Search"), p["s_bar"]: progress_html(job)}
    scatter, best, phase = live.search_views(ctx.store, walk.search_id)
    archs = q.architectures(ctx.store, walk.search_id) if walk.search_id else []
    reporting = any(a["role"] in live.REPORT_ROLES for a in archs)
    out.update({p["scatter"]: scatter, p["best"]: best, p["phase"]: phase,
                p["phase_note"]: explain("report" if reporting else "alphas")})
    return out


def _cell_outputs(ctx: Ctx, p: Parts, walk: q.Walk, job: dict | None) -> dict:
    from nasdet_gui import figures

    genotype = q.searched_genotype(ctx.store, walk.search_id) if walk.search_id else None
    normal, reduce = figures.cells(genotype, "found")
    verdict = verdict_html((job or {}).get("result")) if walk.search_done else ""
    return {p["c_normal"]: normal, p["c_reduce"]: reduce, p["verdict_cell"]: verdict}


def _train_outputs(ctx: Ctx, p: Parts, job: dict | None) -> dict:
    classes = live.dataset_classes(ctx.store, job)
    loss, ap = live.train_curves(ctx.store, job["id"] if job else None)
    return {p["t_status"]: status_line(job, "Training"), p["t_bar"]: progress_html(job),
            p["t_gallery"]: live.preview_gallery(ctx.store, job["id"] if job else None, classes),
            p["t_loss"]: loss, p["t_ap"]: ap}


def result_outputs(ctx: Ctx, p: Parts, cache: Any, train: dict, search: dict | None) -> dict:
    """The ending: boxes on val pictures at the model's own threshold, score and verdict."""
    from nasdet_gui.detect_tab import dataset_items, run_model

    model = ending.model_of(train)
    evaluation = ending.evaluation_of(ctx.store, model)
    threshold = ending.default_threshold(evaluation)
    items = dataset_items(ctx, train["spec"]["dataset"], ending.RESULT_IMAGES)
    try:
        state = run_model(cache, model, items)
    except NotFoundError:  # the walk's model was deleted (Jobs tab) since it was trained
        return {p["score"]: f"The detector of this walk (`{model}`) was deleted; press "
                            "**Start over** to run the demo again.",
                p["r_gallery"]: [], p["r_state"]: None}
    verdict = verdict_html((search or {}).get("result"))
    return {p["score"]: score_html(evaluation), p["verdict_result"]: verdict,
            p["r_gallery"]: ending.result_gallery(state, threshold),
            p["threshold"]: threshold, p["legend"]: ending.legend_html(state["classes"]),
            p["r_state"]: state}


def fingerprint(ctx: Ctx, walk: q.Walk) -> dict:
    return {"since": walk.since, "step": step_of(walk),
            "s": q.job_fingerprint(ctx.store, walk.search_id),
            "t": q.job_fingerprint(ctx.store, walk.train_id)}


def refresh(ctx: Ctx, p: Parts, cache: Any, since: int, fp: dict | None,
            force: bool = False) -> dict:
    """What changed since `fp` (everything when `force`), as {component: new value}."""
    walk = q.guided_walk(ctx.store, since)
    new = fingerprint(ctx, walk)
    old = fp if (fp and not force) else {}
    search = q.find_job(ctx.store, walk.search_id)
    train = q.find_job(ctx.store, walk.train_id)
    out: dict = {}
    if old.get("step") != new["step"]:
        import gradio as gr

        out[p["walk"]] = gr.Walkthrough(selected=new["step"])
    if old.get("s") != new["s"]:
        out.update(_search_outputs(ctx, p, walk, search))
        out.update(_cell_outputs(ctx, p, walk, search))
    elif search and search["status"] == "running":
        out[p["s_status"]] = status_line(search, "Search")  # the clock moves
    if (old.get("s"), old.get("t")) != (new["s"], new["t"]):
        out.update(_buttons(p, search, train))
    if old.get("t") != new["t"]:
        out.update(_train_outputs(ctx, p, train))
        if new["step"] == RESULT:
            out.update(result_outputs(ctx, p, cache, train, search))
    elif train and train["status"] in ACTIVE:
        out[p["t_status"]] = status_line(train, "Training")
    out[p["fp"]] = new  # a dict naming no component at all would read as one bare value
    return out


__all__ = ["refresh", "result_outputs", "step_of", "EXPLAIN", "SEARCH", "TRAIN", "CELL"]
