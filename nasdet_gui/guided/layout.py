"""The Guided demo's components, one function per step; nasdet_gui/guided_tab.py wires them.

Step labels are short ("1. Dataset" ... "5. Results") so that they fit at 1280 px; every chart
and gallery has a fixed height so nothing is cut off; every number has its sentence under it
(nasdet_gui.guided.texts).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import gradio as gr

from nasdet_gui.guided.canvas import drawing_canvas
from nasdet_gui.guided.texts import explain

CHOOSE, SEARCH, CELL, TRAIN, RESULT = 1, 2, 3, 4, 5
STEP_LABELS = {
    CHOOSE: "1. Dataset",
    SEARCH: "2. Cell search",
    CELL: "3. The cell",
    TRAIN: "4. Detector",
    RESULT: "5. Results",
}
CANVAS = 256  # px: the drawing canvas of "try your own picture" (the demo's image size)
GALLERY_2X2_H = 740  # px: two rows of two square pictures in a 3/5 column (training, results)
SHAPE_COLORS = ["#dc2626", "#2563eb", "#16a34a", "#f59e0b", "#7c3aed", "#111827"]


@dataclass
class Parts:
    """Every component of the tab, by name (filled in by the step builders)."""

    c: dict[str, gr.components.Component] = field(default_factory=dict)

    def __getitem__(self, name: str):
        return self.c[name]

    def __setitem__(self, name: str, comp) -> None:
        self.c[name] = comp


def plot(elem_id: str | None = None) -> gr.Plot:
    return gr.Plot(show_label=False, elem_id=elem_id, elem_classes="demo-plot")


def status(p: Parts, prefix: str) -> None:
    p[f"{prefix}_status"] = gr.Markdown(elem_classes="job-line", elem_id=f"demo-{prefix}-status")
    p[f"{prefix}_bar"] = gr.HTML("<div class='pbar'><div style='width:0%'></div></div>")


def step_dataset(p: Parts, names: list[str], default: str) -> None:
    gr.Markdown(
        "A dataset is a set of pictures in which every object has a box and a name. "
        "**shapes-demo** is made of simple coloured shapes, created for you on the "
        "first start."
    )
    p["dataset"] = gr.Dropdown(names, value=default, label="Dataset", allow_custom_value=True)
    p["next"] = gr.Button("Next: find a cell", variant="primary", elem_id="demo-next-1")


def step_search(p: Parts) -> None:
    gr.Markdown(
        "A *cell* is a small building block of a neural network. The search scores many "
        "cells on small crops of your pictures without training them (quick tests), "
        "trains the best-ranked few briefly and keeps the best."
    )
    p["start_search"] = gr.Button(
        "Start the search", variant="primary", elem_id="demo-start-search"
    )
    status(p, "s")
    with gr.Row(equal_height=True):
        with gr.Column(min_width=300):
            p["scatter"] = plot("demo-scatter")
            gr.HTML(explain("scatter") + explain("proxy"))
        with gr.Column(min_width=300):
            p["best"] = plot("demo-best")
            gr.HTML(explain("best_cell"))
    p["phase"] = plot("demo-phase")
    p["phase_note"] = gr.HTML(explain("alphas"))


def step_cell(p: Parts) -> None:
    gr.Markdown(
        "This is the cell the search found. Pictures flow from the two inputs on the "
        "left through the operations to the output on the right; the *normal* cell "
        "keeps the picture size, the *reduction* cell halves it."
    )
    p["verdict_cell"] = gr.HTML(elem_id="demo-verdict-cell")
    with gr.Row():
        p["c_normal"] = plot("demo-cell-normal")
        p["c_reduce"] = plot("demo-cell-reduce")
    with gr.Row():
        p["train_cell"] = gr.Button(
            "Find the best detector with this cell", variant="primary", elem_id="demo-train-cell"
        )


def step_train(p: Parts) -> None:
    gr.Markdown(
        "Now the search tries whole detectors: built on the found cell or on a hand-made "
        "network (MobileNetV3-Small), with BiFPNs and heads of several sizes. Each one "
        "learns for an epoch or a few and is timed; the best for its speed then learns on, "
        "from where it stopped, to draw a box around each shape and name it."
    )
    status(p, "d")
    # the trials, but while the pick trains its pictures take their place on a 1280x800
    # screen (the ending shows the pick beside its trials; a click back here shows them)
    with gr.Column(elem_id="demo-trials-box") as p["d_box"]:
        p["d_chart"] = plot("demo-trials")
        gr.HTML(explain("trials"))
    status(p, "t")
    # the pictures beside the curves, so a 1280x800 screen shows both while the job runs
    with gr.Row(equal_height=False):
        with gr.Column(scale=3, min_width=420):
            p["t_gallery"] = gr.Gallery(
                columns=2,
                height=GALLERY_2X2_H,
                object_fit="contain",
                label="The pictures appear after the first epoch",
                elem_id="demo-train-gallery",
                allow_preview=False,
            )
            gr.HTML(explain("gallery"))
        with gr.Column(scale=2, min_width=300):
            p["t_loss"] = plot("demo-loss")
            gr.HTML(explain("loss"))
            p["t_ap"] = plot("demo-ap50")
            gr.HTML(explain("ap50"))


def step_result(p: Parts) -> None:
    with gr.Row():
        with gr.Column(scale=3, min_width=360):
            p["r_gallery"] = gr.Gallery(
                columns=2,
                height=GALLERY_2X2_H,
                object_fit="contain",
                show_label=False,
                elem_id="demo-gallery",
                allow_preview=True,
            )
        with gr.Column(scale=2, min_width=280):
            p["score"] = gr.HTML(elem_id="demo-score")
            p["verdict_result"] = gr.HTML(elem_id="demo-verdict-result")
            p["r_chart"] = plot("demo-result-chart")
            p["legend"] = gr.HTML(elem_id="demo-legend")
            p["threshold"] = gr.Slider(
                0.05, 0.95, value=0.3, step=0.01, label="Score threshold", elem_id="demo-threshold"
            )
            gr.HTML(explain("threshold"))
    gr.Markdown("### Try a picture of your own")
    gr.HTML(explain("own"))
    with gr.Row(equal_height=False):
        with gr.Column(min_width=300):
            gr.Markdown("**Draw** (pick a colour; a loop you close is filled)")
            p["own_draw"] = drawing_canvas(SHAPE_COLORS, CANVAS, "demo-own-draw")
        with gr.Column(min_width=300):
            # a file, not gr.Image: Gradio would decode an image upload itself and fail on a
            # file that is not one before any handler could say so
            p["own_in"] = gr.File(
                label="Or upload a picture",
                file_count="single",
                type="filepath",
                file_types=["image"],
                height=120,
                elem_id="demo-own-in",
            )
        with gr.Column(min_width=300):
            p["own_out"] = gr.Image(
                label="What the detector finds",
                height=380,
                interactive=False,
                elem_id="demo-own-out",
            )
            p["own_text"] = gr.Markdown(elem_id="demo-own-text")
    with gr.Row():
        p["again"] = gr.Button("Start over", elem_id="demo-again")


def build_layout(preset_name: str, about: str, names: list[str], default: str) -> Parts:
    """The intro, the presenter's button and the five steps; returns every component."""
    p = Parts()
    with gr.Row(elem_classes="demo-intro"):
        gr.Markdown(
            f"A guided tour: find a network design automatically, train a detector "
            f"with it and see what it finds. Settings: **{preset_name}** ({about}).",
            elem_classes="tab-intro",
        )
        p["run_all"] = gr.Button(
            "Run the whole demo", variant="primary", scale=0, min_width=220, elem_id="demo-run-all"
        )
    with gr.Walkthrough(selected=CHOOSE, elem_id="demo-walk") as walk:
        p["walk"] = walk
        builders = {
            CHOOSE: lambda: step_dataset(p, names, default),
            SEARCH: lambda: step_search(p),
            CELL: lambda: step_cell(p),
            TRAIN: lambda: step_train(p),
            RESULT: lambda: step_result(p),
        }
        for step, label in STEP_LABELS.items():
            with gr.Step(label, id=step, elem_id=f"demo-step-{step}"):
                builders[step]()
    return p
