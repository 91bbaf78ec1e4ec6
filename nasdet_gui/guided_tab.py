"""The "Guided demo" tab: a gr.Walkthrough for newcomers, in plain words.

1 choose a dataset -> 2 find a cell (a quick search) -> 3 see the cell -> 4 train a detector with
it (or with EfficientNet) -> 5 see its detections and its score. Each step shows live progress
and opens the next when its job is done. The settings come from the demo preset
(assets/presets.json, `--demo-preset`). Where the walk stands is read from the store (the newest
search and the newest training after it), so a browser refresh lands on the same step.
"""

from __future__ import annotations

from dataclasses import dataclass

import gradio as gr

from core.engine import queries as q

from nasdet_gui import figures
from nasdet_gui.common import Ctx, job_line, progress_html, submit, ui_errors
from nasdet_gui.config import DEFAULT_DATASET, TICK_S
from nasdet_gui.detect_tab import ModelCache, dataset_items, draw, run_model

CHOOSE, SEARCH, CELL, TRAIN, RESULT = 1, 2, 3, 4, 5
DEMO_IMAGES = 4


@dataclass
class GuidedTab:
    timer: gr.Timer


def walk_state(ctx: Ctx, started_over_at: int = 0) -> dict:
    """{search, train}: the newest search job (after `started_over_at`) and the newest train job
    started after that search."""
    walk = q.guided_walk(ctx.store, started_over_at)
    return {"search": walk.search_id, "train": walk.train_id, "since": started_over_at}


def step_of(ctx: Ctx, walk: dict) -> int:
    """Which step the walk is at, from its jobs' statuses."""
    if not walk.get("search"):
        return CHOOSE
    if q.get_job(ctx.store, walk["search"])["status"] != "succeeded":
        return SEARCH
    if not walk.get("train"):
        return CELL
    if q.get_job(ctx.store, walk["train"])["status"] != "succeeded":
        return TRAIN
    return RESULT


def score_html(job: dict) -> str:
    result = job.get("result") or {}
    if result.get("AP") is None:
        return ""
    return (f"<div class='big-number' id='demo-ap'>Score (mAP): {result['AP']:.3f}</div>"
            f"<p class='note'>mAP is the COCO average precision over IoU 0.5-0.95: 1.0 means "
            f"every object found with a perfect box. AP50 (boxes half right): "
            f"{result.get('AP50', 0):.3f}.</p>")


def build(ctx: Ctx, demo: gr.Blocks) -> GuidedTab:
    preset = ctx.config.demo
    cache = ModelCache(ctx, size=1)
    gr.Markdown(f"A guided tour: find a network design automatically, train a detector with it "
                f"and see what it finds. Settings: **{ctx.config.demo_preset}** "
                f"({preset.get('about', '')}).", elem_classes="tab-intro")
    with gr.Walkthrough(selected=CHOOSE, elem_id="demo-walk") as walk:
        with gr.Step("1. Choose a dataset", id=CHOOSE):
            gr.Markdown("A dataset is a set of pictures where every object has a box and a "
                        "name. **shapes-demo** is made up of simple coloured shapes, created "
                        "for you on the first start.")
            dataset = gr.Dropdown(q.dataset_names(ctx.store), value=preset.get("dataset",
                                  DEFAULT_DATASET), label="Dataset", allow_custom_value=True)
            to_search = gr.Button("Next: find a cell", variant="primary", elem_id="demo-next-1")
        with gr.Step("2. Find a cell", id=SEARCH):
            gr.Markdown("A *cell* is a small building block of a neural network. The search "
                        "tries many cells on small crops of your pictures and keeps the best.")
            start_search = gr.Button("Start a quick search", variant="primary",
                                     elem_id="demo-start-search")
            s_status = gr.Markdown(elem_classes="job-line")
            s_bar = gr.HTML(progress_html(None))
        with gr.Step("3. See the cell", id=CELL):
            gr.Markdown("This is the cell that was found: pictures flow from the two inputs on "
                        "the left through the operations to the output on the right.")
            with gr.Row():
                c_normal = gr.Plot(show_label=False)
                c_reduce = gr.Plot(show_label=False)
            with gr.Row():
                train_cell = gr.Button("Train a detector with this cell", variant="primary",
                                       elem_id="demo-train-cell")
                train_effnet = gr.Button("Train with EfficientNet instead",
                                         elem_id="demo-train-effnet")
        with gr.Step("4. Train a detector", id=TRAIN):
            gr.Markdown("The detector learns to draw boxes around the objects. The loss going "
                        "down means it is learning.")
            t_status = gr.Markdown(elem_classes="job-line")
            t_bar = gr.HTML(progress_html(None))
            t_chart = gr.Plot(show_label=False)
        with gr.Step("5. See what it finds", id=RESULT):
            gr.Markdown("Left: the true boxes. Right: what the detector found (dashed: "
                        "mistakes).")
            score = gr.HTML(elem_id="demo-score")
            shown = gr.Gallery(columns=2, height=380, object_fit="contain", show_label=False,
                               elem_id="demo-gallery")
            again = gr.Button("Start over")
    state = gr.State({})
    fp_state = gr.State(())
    timer = gr.Timer(TICK_S, active=False)

    def views(walk_now: dict, fp: tuple, force: bool = False):
        """Outputs for the walk; gr.skip() where nothing changed since `fp`."""
        search, train = walk_now.get("search"), walk_now.get("train")
        new = (q.job_fingerprint(ctx.store, search), q.job_fingerprint(ctx.store, train))
        if fp and new == fp and not force:
            return (gr.skip(),) * len(outputs)
        step = step_of(ctx, walk_now)
        s_job = q.find_job(ctx.store, search)
        t_job = q.find_job(ctx.store, train)
        cells = (gr.skip(), gr.skip())
        if step >= CELL and (force or not fp or fp[0] != new[0]):
            cells = figures.cells(q.searched_genotype(ctx.store, search), "found")
        chart = figures.training_charts(ctx.store, train)[0] if train else gr.skip()
        result = (gr.skip(), gr.skip())
        if step == RESULT and (force or not fp or fp[1] != new[1]):
            result = detections(t_job, t_job["spec"]["dataset"])
        return (gr.Walkthrough(selected=step), walk_now, job_line(s_job), progress_html(s_job),
                *cells, job_line(t_job), progress_html(t_job), chart, *result, new)

    def detections(t_job: dict, dataset_name: str) -> tuple:
        model = (t_job.get("result") or {}).get("model") or f"job-{t_job['id']}"
        st = run_model(cache, model, dataset_items(ctx, dataset_name, DEMO_IMAGES))
        return score_html(t_job), draw(st, 0.3)

    outputs = [walk, state, s_status, s_bar, c_normal, c_reduce, t_status, t_bar, t_chart,
               score, shown, fp_state]
    tick = ui_errors(lambda w, fp: views(w or walk_state(ctx), fp))
    timer.tick(tick, [state, fp_state], outputs, show_progress="hidden", api_visibility="private")
    demo.load(ui_errors(lambda: views(walk_state(ctx), (), force=True)), None, outputs,
              api_visibility="private")
    demo.load(lambda: gr.Dropdown(choices=q.dataset_names(ctx.store)), None, dataset,
              api_visibility="private", queue=False)

    to_search.click(lambda: gr.Walkthrough(selected=SEARCH), None, walk, api_visibility="private")

    @ui_errors
    def on_search(ds, w):
        if not ds:
            raise gr.Error("Choose a dataset in step 1 first.", print_exception=False)
        jid = submit(ctx, "search", dict(preset["search"], dataset=ds))
        return views({"search": jid, "train": None, "since": (w or {}).get("since", 0)}, (),
                     force=True)

    def train_with(backbone: bool):
        @ui_errors
        def on_train(w):
            w = w or walk_state(ctx)
            search = q.get_job(ctx.store, w["search"])
            spec = dict(preset["train"], dataset=search["spec"]["dataset"])
            if backbone:
                spec["backbone"] = f"nas:{search['id']}"
            jid = submit(ctx, "train", spec)
            return views(dict(w, train=jid), (), force=True)
        return on_train

    @ui_errors
    def on_again():
        since = q.latest_job_id(ctx.store) or 0
        return views({"search": None, "train": None, "since": since}, (), force=True)

    start_search.click(on_search, [dataset, state], outputs, api_visibility="private")
    train_cell.click(train_with(True), state, outputs, api_visibility="private")
    train_effnet.click(train_with(False), state, outputs, api_visibility="private")
    again.click(on_again, None, outputs, api_visibility="private")
    return GuidedTab(timer=timer)
