"""The "Train" tab: train an EfficientDet (D0-D7x, tiny) with an EfficientNet, searched or
published-cell backbone; presets such as "quick-cpu"; live loss and mAP charts.

The form shows the chosen preset's values; only fields the user changed are sent with the preset
name, so the job spec stays small and the engine's preset logic stays the single source.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import gradio as gr

from core.app import datasets, forms, jobs, models, searches
from core.app.forms import coerce_fields, dump
from core.app.trainings import (
    DEFAULT_PRESET,
    PRESETS,
    PUBLISHED_GENOTYPES,
    TrainConfig,
    list_models,
)
from core.errors import NotFoundError
from core.viz.common import markdown_text
from nasdet_gui import figures
from nasdet_gui.common import (
    Ctx,
    as_int,
    dataset_dropdown,
    field_input,
    need,
    submit,
    to_text,
    ui_errors,
    wire,
)
from nasdet_gui.config import TICK_S
from nasdet_gui.job_panel import JobPanel, build_panel

DEFAULT_BACKBONE = "(the model's EfficientNet)"
MAIN_FIELDS = ["model", "image_size", "epochs", "batch_size", "lr", "pretrained_backbone"]
GUI_PRESET = "quick-cpu"


@dataclass
class TrainTab:
    timer: gr.Timer
    panel: JobPanel
    backbone: gr.Dropdown
    dataset: gr.Dropdown


def preset_values(preset: str) -> dict:
    """Every TrainConfig field's value under a preset (defaults, then the preset's overrides)."""
    values = {
        f.name: f.default
        for f in dataclasses.fields(TrainConfig)
        if f.default is not dataclasses.MISSING
    }
    values.update(PRESETS.get(preset, {}))
    return values


def from_form(name: str, value):
    """A form value -> the spec value, by the engine's own coercion (core.spec: the same
    messages as the CLI and the API); an empty box -> None."""
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    if isinstance(value, float) and value.is_integer():
        value = int(value)  # gr.Number gives floats; int fields are checked strictly
    return dump(coerce_fields(TrainConfig, {name: value}, what="train")[name])


def backbone_choices(ctx: Ctx) -> list[tuple[str, str]]:
    """Default EfficientNet, every succeeded search's cell, the published cells."""
    choices = [(DEFAULT_BACKBONE, "")]
    for cell in searches.search_cells(ctx.store, limit=50):
        if cell["final"]:
            choices.append((f"searched cell of search #{cell['job_id']}", f"nas:{cell['job_id']}"))
    choices += [(f"published cell {name}", f"nas:{name}") for name in PUBLISHED_GENOTYPES]
    return choices


def train_spec(dataset: str, preset: str, backbone: str, changed: dict) -> dict:
    spec = {"dataset": dataset, "preset": preset or DEFAULT_PRESET, **changed}
    if backbone:
        spec["backbone"] = backbone
    return spec


def start_train(ctx: Ctx, spec: dict) -> int:
    need(spec.get("dataset"), "Choose a dataset first (the Data tab creates or imports one).")
    return submit(ctx, "train", spec)


def result_markdown(job: dict | None, model_title: str = "") -> str:
    """A finished training's AP figures and the model it stored, named by what it is."""
    result = (job or {}).get("result") or {}
    ev = result.get("eval") or result.get("metrics") or result
    if "AP" not in ev:
        return "*The evaluation appears when training has finished.*"
    return (
        f"**mAP (COCO AP@[.5:.95])** {ev['AP']:.3f}  ·  **AP50** {ev.get('AP50', 0):.3f}  ·  "
        f"**AP75** {ev.get('AP75', 0):.3f}  ·  model: {model_title or result.get('model', '')}"
    )


def trained_title(ctx: Ctx, job: dict | None) -> str:
    """What the model a training stored is, in words (shown as text), or '' before it has one."""
    name = ((job or {}).get("result") or {}).get("model")
    if not name:
        return ""
    try:
        return markdown_text(models.model_title(ctx.store, name))
    except NotFoundError:  # deleted since: its stored name is all there is
        return markdown_text(name)


def _form(ctx: Ctx) -> dict:
    """The left column: dataset, preset, model, backbone and the preset's fields."""
    start_values = preset_values(GUI_PRESET)
    text_fields = [
        f.name
        for f in dataclasses.fields(TrainConfig)
        if f.name
        not in ("dataset", "backbone", "preset", "model", "amp", "augment", "optimizer", "until")
    ]
    form = {
        "dataset": gr.Dropdown(
            label="Dataset", choices=datasets.dataset_names(ctx.store), allow_custom_value=True
        ),
        "preset": gr.Dropdown(list(PRESETS), value=GUI_PRESET, label="Settings bundle"),
        "model": gr.Dropdown(list_models(), value=start_values["model"], label="Detector"),
        "backbone": gr.Dropdown(
            backbone_choices(ctx),
            value="",
            allow_custom_value=True,
            label="Backbone",
            info="or type a timm name / nas-file:PATH",
        ),
    }
    info = {i.name: i for i in forms.describe(TrainConfig)}
    boxes: dict[str, gr.components.Component] = {}
    for name in MAIN_FIELDS[1:]:
        boxes[name] = field_input(info[name], start_values.get(name))
    with gr.Accordion("Advanced options", open=False):
        for name in ("optimizer", "amp", "augment", *text_fields):
            if name not in boxes:
                boxes[name] = field_input(info[name], start_values.get(name))
    form["boxes"] = boxes
    form["start"] = gr.Button("Start training", variant="primary", elem_id="train-start")
    return form


def _views(ctx: Ctx) -> dict:
    """The right column: the job panel, the result, then the four training charts (loss,
    class/box loss, learning rate, validation AP) in one 2x2 figure across the column."""
    panel = build_panel(ctx, ("train",), "Train job")
    result = gr.Markdown(elem_id="train-result")
    curves = gr.Plot(show_label=False, elem_id="train-curves")
    return {"panel": panel, "charts": [curves], "result": result}


def _wire_preset(form: dict) -> None:
    """Choosing a preset shows its values in the form."""
    boxes = form["boxes"]

    def on_preset(p):
        values = preset_values(p)
        updates = [values["model"]]
        for name, comp in boxes.items():
            v = values.get(name)
            updates.append(to_text(v) if isinstance(comp, gr.Textbox) else v)
        return updates

    form["preset"].input(
        on_preset,
        form["preset"],
        [form["model"], *boxes.values()],
        api_visibility="private",
        queue=False,
    )


def _changed_fields(preset: str, names: list[str], values: tuple) -> dict:
    """The form values that differ from the preset's (only those are sent with its name)."""
    base, changed = preset_values(preset), {}
    for name, value in zip(names, values):
        v = value if isinstance(value, bool) or name == "model" else from_form(name, value)
        ref = base.get(name)
        ref = list(ref) if isinstance(ref, tuple) else ref
        if v != ref and not (v is None and ref is None):
            changed[name] = v
    return changed


def build(ctx: Ctx, demo: gr.Blocks) -> TrainTab:
    gr.Markdown(
        "Train a detector. *quick-cpu* finishes in minutes on a laptop CPU; *paper* uses "
        "the EfficientDet paper's schedule.",
        elem_classes="tab-intro",
    )
    with gr.Row():
        with gr.Column(scale=2, min_width=340):
            form = _form(ctx)
        with gr.Column(scale=5):
            views = _views(ctx)
    panel, boxes = views["panel"], form["boxes"]
    names = ["model", *boxes]
    _wire_preset(form)
    timer = gr.Timer(TICK_S, active=False)
    state = gr.State(())

    def refresh(fp, job):
        newest = jobs.latest_job_id(ctx.store, "train")
        jid = as_int(job) or newest  # none picked: follow the newest
        new = jobs.job_fingerprint(ctx.store, jid) + (newest,)
        if fp and new == fp:
            return (gr.skip(),) * len(outputs) + (None,)
        curves = (
            figures.training_curves(ctx.store, jid)
            if jid
            else figures.note("Start a training or pick one above.")
        )
        return (
            *panel.render(ctx, jid),
            result_markdown(found := jobs.find_job(ctx.store, jid), trained_title(ctx, found)),
            curves,
            new,
            None,
        )

    outputs = [*panel.outputs(), views["result"], *views["charts"], state]
    wire(timer.tick, refresh, [state, panel.picker], outputs, panel.notice, show_progress="hidden")
    wire(panel.picker.input, lambda job: refresh((), job), panel.picker, outputs, panel.notice)
    wire(demo.load, lambda: refresh((), None), None, outputs, panel.notice)
    demo.load(
        lambda: (dataset_dropdown(ctx), gr.Dropdown(choices=backbone_choices(ctx))),
        None,
        [form["dataset"], form["backbone"]],
        api_visibility="private",
        queue=False,
    )

    def on_start(ds, p, bb, *values):
        jid = start_train(ctx, train_spec(ds, p, bb, _changed_fields(p, names, values)))
        return (*refresh((), jid)[:-1], f"Training job {jid} queued.")

    wire(
        form["start"].click,
        on_start,
        [form["dataset"], form["preset"], form["backbone"], form["model"], *boxes.values()],
        outputs,
        panel.notice,
    )

    @ui_errors
    def api_start_train(
        dataset: str, preset: str = GUI_PRESET, backbone: str = "", options: dict | None = None
    ) -> int:
        """Queue a training job; returns its id. `backbone`: '' (the model's EfficientNet), a
        timm name, nas:JOB_ID, nas:PUBLISHED_NAME or nas-file:PATH. `options`: any TrainConfig
        field (model, epochs, batch_size, lr, image_size, ...)."""
        return start_train(ctx, train_spec(dataset, preset, backbone, dict(options or {})))

    gr.api(api_start_train, api_name="start_train")
    return TrainTab(timer=timer, panel=panel, backbone=form["backbone"], dataset=form["dataset"])
