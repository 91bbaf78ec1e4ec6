"""The "Models" tab: every stored detector side by side.

A table of all models of a dataset (core.app.model_list: where each came from, its backbone,
input size, BiFPN width and depth, parameters, AP50 and AP, latency at batch 1 on this machine,
training time and date; sortable by any column), the same models on an AP50-against-latency
chart with the Pareto front drawn, and two selected models, A and B, compared: their loss and
AP50 curves overlaid and their detections on the same validation pictures side by side, each at
its own threshold. A model is selected from the dropdowns, a click on its table row, or a click
on its point in the chart (the last two make the newest pick A and the former A B).
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass

import gradio as gr

from core.app import datasets, jobs, model_list, models
from core.app.models import ModelCache
from core.errors import NasdetError
from core.viz.curves import training_figure
from core.viz.models import ORIGIN_LABELS, models_figure
from nasdet_gui import figures
from nasdet_gui.common import Ctx, make_notice, wire
from nasdet_gui.config import TICK_S
from nasdet_gui.pictures import draw

PICTURES = 4  # validation pictures each selected model detects on
FALLBACK_THRESHOLD = 0.3  # for a model evaluated before thresholds were recorded
TABLE_HEADERS = [
    "Model", "What it is", "From", "Input (px)", "BiFPN width x depth", "Head depth",
    "Parameters (M)", "AP50", "AP", "Latency (ms)", "Training (s)", "Stored",
]  # fmt: skip
# A click on a point of the chart writes the point's model name into the hidden #models-click
# box (plotly's own click event on the chart's div, attached again whenever plotly redraws it).
CLICK_JS = """
() => {
  const attach = () => {
    const plot = document.querySelector('#models-chart .js-plotly-plot');
    if (!plot || plot.__nasdetClick || !plot.on) return;
    plot.__nasdetClick = true;
    plot.on('plotly_click', (ev) => {
      const name = ev && ev.points && ev.points[0] && ev.points[0].customdata;
      const box = document.querySelector('#models-click textarea, #models-click input');
      if (!name || !box) return;
      box.value = name + '|' + Date.now();
      box.dispatchEvent(new Event('input', {bubbles: true}));
    });
  };
  if (!window.__nasdetModelsClick) window.__nasdetModelsClick = setInterval(attach, 500);
}
"""


@dataclass
class ModelsTab:
    timer: gr.Timer


def _fmt(value, digits: int) -> str:
    return "" if value is None else f"{value:.{digits}f}"


def table_rows(rows: list[dict]) -> list[list]:
    """The table's cells: plain numbers with units in the headers, empty where not recorded."""
    out = []
    for r in rows:
        bifpn = f"{r['fpn_channels']} x {r['fpn_cell_repeats']}" if r["fpn_channels"] else ""
        out.append(
            [
                r["name"],
                r["title"],
                ORIGIN_LABELS.get(r["origin"], r["origin"]),
                r["image_size"] or "",
                bifpn,
                r["box_class_repeats"] or "",
                _fmt(r["params"] / 1e6 if r["params"] else None, 2),
                _fmt(r["AP50"], 3),
                _fmt(r["AP"], 3),
                _fmt(r["latency_ms"], 1),
                _fmt(r["train_seconds"], 0),
                time.strftime("%Y-%m-%d %H:%M", time.localtime(r["created_at"]))
                if r["created_at"]
                else "",
            ]
        )
    return out


def threshold_of(ctx: Ctx, name: str) -> float:
    value = models.model_threshold(ctx.store, name)
    return FALLBACK_THRESHOLD if value is None else math.floor(value * 100) / 100


def model_pictures(ctx: Ctx, cache: ModelCache, name: str | None, dataset: str | None):
    """A gallery update: the model's detections on the dataset's first val pictures at its own
    threshold, "N found / M true" under each."""
    if not name or not dataset:
        return gr.Gallery(value=[], label="Choose a model")
    threshold = threshold_of(ctx, name)
    try:
        state = models.detect(cache, name, models.dataset_items(ctx.store, dataset, PICTURES))
    except NasdetError as exc:  # e.g. its checkpoint was moved: the other model still shows
        return gr.Gallery(value=[], label=f"{name}: {exc}")
    return gr.Gallery(
        value=draw(state, threshold, with_truth=False),
        label=f"{name} at score >= {threshold:.2f}",
    )


def curves(ctx: Ctx, rows: dict[str, dict], names: list[str]):
    """Loss and AP50 curves of the selected models' trainings, one colour per model."""
    runs = {}
    for name in names:
        job = rows.get(name, {}).get("job_id")
        metrics = ctx.store.metrics(job, last=20_000) if job else []
        if metrics:
            runs[f"{chr(ord('A') + len(runs))}: {name}"] = metrics
    if not runs:
        return figures.note("The selected models have no training curves (imported models).")
    fig = training_figure(runs)
    fig.update_layout(height=460)
    return fig


def _layout(ctx: Ctx) -> dict:
    gr.Markdown(
        "Every detector trained or imported in this home: which is best for this data, at what "
        "speed. Pick two (in the lists, a row of the table or a point of the chart) to compare "
        "them on the same pictures.",
        elem_classes="tab-intro",
    )
    v: dict = {}
    with gr.Row():
        v["dataset"] = gr.Dropdown(label="Dataset", choices=[], elem_id="models-dataset", scale=1)
        v["a"] = gr.Dropdown(label="Model A", choices=[], elem_id="models-a", scale=2)
        v["b"] = gr.Dropdown(label="Model B", choices=[], elem_id="models-b", scale=2)
    v["notice"] = make_notice()
    v["click"] = gr.Textbox(elem_id="models-click", elem_classes="click-sink", show_label=False)
    with gr.Row():
        with gr.Column(scale=3):
            v["chart"] = gr.Plot(show_label=False, elem_id="models-chart")
        with gr.Column(scale=4):
            v["curves"] = gr.Plot(show_label=False, elem_id="models-curves")
    v["table"] = gr.Dataframe(
        headers=TABLE_HEADERS,
        value=[],
        interactive=False,
        wrap=True,
        column_widths=["9%", "25%", "9%", "6%", "8%", "5%", "7%", "6%", "6%", "7%", "5%", "7%"],
        elem_id="models-table",
        max_height=320,
    )
    with gr.Row():
        for key in ("a", "b"):
            v[f"gallery_{key}"] = gr.Gallery(
                label=f"Model {key.upper()}",
                columns=2,
                height=560,
                object_fit="contain",
                elem_id=f"models-gallery-{key}",
            )
    return v


def build(ctx: Ctx, demo: gr.Blocks) -> ModelsTab:
    v = _layout(ctx)
    cache = ModelCache(ctx.store)
    timer = gr.Timer(TICK_S, active=False)
    fp = gr.State(None)

    def views(dataset, a, b):
        """Everything for (dataset, A, B): choices, table, chart, curves and both galleries."""
        names = datasets.dataset_names(ctx.store)
        if not dataset:  # the dataset of the most accurate model
            dataset = next((r["dataset"] for r in model_list.model_table(ctx.store)), None)
        rows = model_list.model_table(ctx.store, dataset)
        choices = [r["name"] for r in rows]
        a = a if a in choices else (choices[0] if choices else None)
        b = b if b in choices and b != a else next((c for c in choices if c != a), None)
        selected = [n for n in (a, b) if n]
        by_name = {r["name"]: r for r in rows}
        front = model_list.pareto_names(rows)
        return (
            gr.Dropdown(choices=names, value=dataset),
            gr.Dropdown(choices=choices, value=a),
            gr.Dropdown(choices=choices, value=b),
            table_rows(rows),
            models_figure(rows, front, selected),
            curves(ctx, by_name, selected),
            model_pictures(ctx, cache, a, dataset),
            model_pictures(ctx, cache, b, dataset),
            "",
        )

    outputs = [v[k] for k in ("dataset", "a", "b", "table", "chart", "curves")]
    outputs += [v["gallery_a"], v["gallery_b"]]

    def on_load():
        return (*views(None, None, None)[:-1], jobs.table_fingerprint(ctx.store, "models"), "")

    def on_tick(old, dataset, a, b):
        new = jobs.table_fingerprint(ctx.store, "models")
        if old == new:
            return (*[gr.skip()] * len(outputs), gr.skip(), None)
        return (*views(dataset, a, b)[:-1], new, None)

    def pick(new, dataset, a):
        """A click (table row or chart point) on `new`: it becomes A, the former A becomes B."""
        return views(dataset, new, a if a != new else None)

    def on_row(dataset, a, evt: gr.SelectData):
        row = evt.row_value if evt is not None else None
        return pick(row[0], dataset, a) if row else (*[gr.skip()] * len(outputs), None)

    def on_click(text, dataset, a):
        name = (text or "").split("|")[0]
        return pick(name, dataset, a) if name else (*[gr.skip()] * len(outputs), None)

    wire(demo.load, on_load, None, [*outputs, fp], v["notice"])
    wire(timer.tick, on_tick, [fp, v["dataset"], v["a"], v["b"]], [*outputs, fp], v["notice"])
    wire(v["dataset"].input, lambda d: views(d, None, None), v["dataset"], outputs, v["notice"])
    for key in ("a", "b"):
        wire(v[key].input, views, [v["dataset"], v["a"], v["b"]], outputs, v["notice"])
    wire(v["table"].select, on_row, [v["dataset"], v["a"]], outputs, v["notice"])
    wire(v["click"].change, on_click, [v["click"], v["dataset"], v["a"]], outputs, v["notice"])
    demo.load(None, None, None, js=CLICK_JS)
    return ModelsTab(timer=timer)
