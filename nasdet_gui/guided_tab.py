"""The "Guided demo" tab: a gr.Walkthrough for newcomers, in plain words.

1 choose a dataset -> 2 find a cell (a quick cell search) -> 3 see the cell -> 4 find the
detector (a detector search on the cell and a hand-made backbone, its trials live on a chart,
then the pick trained on) -> 5 see its detections, its place on the chart, the verdict in one
sentence, and try a picture of one's own. "Run the whole demo" queues the three jobs as one
chain in the store (core.app.demo.queue_demo), so the walk moves on by itself; no timer tick
ever submits a job. The walk reads only the jobs the demo queued itself (their origin is
"demo"): other tabs' jobs never move it. Something on screen changes at every tick while a job
runs (nasdet_gui.guided.live). The settings come from the demo preset (assets/presets.json,
`--demo-preset`). Where the walk stands is read from the store, so a browser refresh lands on
the same step.
"""

from __future__ import annotations

from dataclasses import dataclass

import gradio as gr

from core.app import datasets
from core.app import demo as demo_chain
from core.app.models import ModelCache
from core.errors import DatasetError
from core.viz.common import markdown_text
from nasdet_gui.common import Ctx, fmt_duration, ui_errors
from nasdet_gui.config import DEFAULT_DATASET, TICK_S
from nasdet_gui.guided import ending
from nasdet_gui.guided.canvas import decode_drawing
from nasdet_gui.guided.layout import CANVAS, SEARCH, Parts, build_layout
from nasdet_gui.guided.views import refresh


@dataclass
class GuidedTab:
    timer: gr.Timer


def _outputs(p: Parts) -> list:
    """Every component a refresh may update (a handler returns a dict over some of them)."""
    names = [
        "walk",
        "s_status",
        "s_bar",
        "d_status",
        "d_bar",
        "d_box",
        "d_chart",
        "scatter",
        "best",
        "phase",
        "phase_note",
        "verdict_cell",
        "c_normal",
        "c_reduce",
        "t_status",
        "t_bar",
        "t_gallery",
        "t_loss",
        "t_ap",
        "score",
        "verdict_result",
        "r_chart",
        "r_gallery",
        "threshold",
        "legend",
        "r_state",
        "fp",
        "since",
        "run_all",
        "start_search",
        "train_cell",
    ]  # `since` is set by "Start over" only (a tick never writes it)
    return [p[n] for n in names]


def _wire_refresh(ctx: Ctx, demo: gr.Blocks, p: Parts, cache: ModelCache, timer: gr.Timer) -> list:
    outputs = _outputs(p)
    tick = ui_errors(lambda since, fp: refresh(ctx, p, cache, since or 0, fp))
    timer.tick(
        tick, [p["since"], p["fp"]], outputs, show_progress="hidden", api_visibility="private"
    )
    demo.load(
        ui_errors(lambda: refresh(ctx, p, cache, 0, None, force=True)),
        None,
        outputs,
        api_visibility="private",
    )
    demo.load(
        lambda: gr.Dropdown(choices=datasets.dataset_names(ctx.store)),
        None,
        p["dataset"],
        api_visibility="private",
        queue=False,
    )
    return outputs


def _wire_jobs(ctx: Ctx, p: Parts, cache: ModelCache, outputs: list) -> None:
    """The buttons that queue jobs (each returns the refreshed views at once)."""
    preset = ctx.config.demo

    def dataset_or_error(ds: str | None) -> str:
        if not ds:
            raise gr.Error("Choose a dataset in step 1 first.", print_exception=False)
        return ds

    @ui_errors
    def on_run_all(ds, since):
        jobs = demo_chain.queue_demo(ctx.store, preset, dataset_or_error(ds))
        length = "" if jobs.promised_s is None else f" It ends in {fmt_duration(jobs.promised_s)}."
        gr.Info(
            "The whole demo is queued: the cell search, the detector search on its cell, then "
            f"the best detector trained on.{length}"
        )
        return refresh(ctx, p, cache, since or 0, None, force=True)

    @ui_errors
    def on_search(ds, since):
        demo_chain.start_search(ctx.store, preset, dataset_or_error(ds))
        return refresh(ctx, p, cache, since or 0, None, force=True)

    @ui_errors
    def on_detector(since):
        demo_chain.start_detector(ctx.store, preset, since or 0)
        return refresh(ctx, p, cache, since or 0, None, force=True)

    @ui_errors
    def on_again():
        since = demo_chain.start_over_point(ctx.store)
        return {**refresh(ctx, p, cache, since, None, force=True), p["since"]: since}

    p["run_all"].click(on_run_all, [p["dataset"], p["since"]], outputs, api_visibility="private")
    p["start_search"].click(
        on_search, [p["dataset"], p["since"]], outputs, api_visibility="private"
    )
    p["train_cell"].click(on_detector, p["since"], outputs, api_visibility="private")
    p["again"].click(on_again, None, outputs, api_visibility="private")


def _wire_ending(p: Parts, cache: ModelCache, max_pixels: int) -> None:
    """The threshold slider (redraws, no new prediction) and the picture of one's own."""

    @ui_errors
    def on_threshold(state, threshold):
        return ending.result_gallery(state, threshold) if state else gr.skip()

    def detect(state, image, threshold):
        if not state:
            raise gr.Error("Train the detector first (steps 2-4).", print_exception=False)
        return ending.detect_own(cache, state["model"], image, threshold)

    @ui_errors
    def on_upload(state, path, threshold):
        if path is None:
            return gr.skip()
        try:
            picture = datasets.read_rgb(path, max_pixels)
        except DatasetError as exc:  # not an image, or too large: said under the picture
            return None, markdown_text(exc)
        return detect(state, picture, threshold)

    @ui_errors
    def on_draw(state, threshold, evt: gr.EventData):
        return detect(state, decode_drawing((evt._data or {}).get("png"), CANVAS), threshold)

    p["threshold"].release(
        on_threshold, [p["r_state"], p["threshold"]], p["r_gallery"], api_visibility="private"
    )
    # off the queue: the answer must not wait behind the page's refresh ticks (<= 1 s target)
    own = [p["own_out"], p["own_text"]]
    p["own_in"].upload(
        on_upload,
        [p["r_state"], p["own_in"], p["threshold"]],
        own,
        api_visibility="private",
        queue=False,
    )
    p["own_draw"].change(
        on_draw, [p["r_state"], p["threshold"]], own, api_visibility="private", queue=False
    )


def _about(preset: dict) -> str:
    """The preset's description, led by the walk's length on this machine when every step has
    a time budget (the budgets sized from a probe of this machine's speed: fit_to_machine)."""
    about = preset.get("about", "")
    fitted, slowdown = demo_chain.fit_to_machine(preset)
    promise = demo_chain.promise_s(fitted, demo_chain.STARTUP_S)
    if promise is None:
        return about
    slower = (
        ""
        if slowdown <= demo_chain.SAME_PACE
        else f" (it trains {slowdown:.1f}x slower than the machine the demo was timed on, so "
        f"the searches get {slowdown:.1f}x their time)"
    )
    return (
        f"takes {fmt_duration(promise)} on this machine{slower}, each step within its time "
        f"budget; {about}"
    )


def build(ctx: Ctx, demo: gr.Blocks) -> GuidedTab:
    preset = ctx.config.demo
    p = build_layout(
        ctx.config.demo_preset,
        _about(preset),
        datasets.dataset_names(ctx.store),
        preset.get("dataset", DEFAULT_DATASET),
    )
    p["r_state"] = gr.State(None)
    p["fp"] = gr.State(None)
    p["since"] = gr.State(0)
    cache = ModelCache(ctx.store, size=1)
    timer = gr.Timer(TICK_S, active=False)
    outputs = _wire_refresh(ctx, demo, p, cache, timer)
    p["next"].click(
        lambda: gr.Walkthrough(selected=SEARCH), None, p["walk"], api_visibility="private"
    )
    _wire_jobs(ctx, p, cache, outputs)
    _wire_ending(p, cache, ctx.config.max_pixels)
    return GuidedTab(timer=timer)
