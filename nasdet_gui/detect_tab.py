"""The "Detect" tab: run a trained or imported detector on uploaded images or dataset images;
the score threshold refilters without rerunning the model (drag, or type and press Enter);
ground truth beside prediction for dataset images; the model's evaluation (per-class AP, PR
curves, confusion matrix); predictions.json download; evaluate and ONNX export as jobs.

With nothing chosen it works on the newest model and that model's own validation images.
Prediction on a handful of images runs in the event: the default models (efficientdet_tiny at
128-256 px) predict and draw a few images well within the 1 s an event may take, even on a CPU
and counting the first load of a model; the notice line says how long it took. The raw
detections (score >= MIN_SCORE) live in the session's gr.State so the threshold only redraws.
Loaded models are kept in a small per-app cache (not per user: a model is read-only).
"""

from __future__ import annotations

import json
import math
import time
from dataclasses import dataclass
from pathlib import Path

import gradio as gr
from gradio.data_classes import FileData

from core.app import datasets, jobs, models
from core.app.models import MIN_SCORE, ModelCache
from core.viz.evaluation import confusion_figure, pr_curves_figure
from nasdet_gui import figures
from nasdet_gui.common import (
    Ctx,
    count,
    job_line,
    make_notice,
    need,
    submit,
    ui_errors,
    wire,
)
from nasdet_gui.config import TICK_S
from nasdet_gui.downloads import download_file
from nasdet_gui.pictures import draw

DEFAULT_SCORE = 0.3
MAX_IMAGES = 16
DATASET_SAMPLE = 6
GALLERY_HEIGHT = 440
NO_MODEL = "No model yet: train one in the Train tab (or the Guided demo) first."


@dataclass
class DetectTab:
    timer: gr.Timer


def dataset_items(ctx: Ctx, name: str, count: int = DATASET_SAMPLE) -> list[dict]:
    """The first `count` validation images of a dataset with their ground truth."""
    return models.dataset_items(ctx.store, name, count)


def run_model(cache: ModelCache, model: str, items: list[dict], max_pixels: int) -> dict:
    """Detect on every item; returns the session state {model, classes, items (with dets)}.
    A file that is not an image or has more than `max_pixels` is refused with its name."""
    return models.detect(cache, model, items, MIN_SCORE, max_pixels)


def shown_line(state: dict, score: float) -> str:
    """'12 boxes found at score >= 0.30 (15 true objects)'."""
    found = sum(d["score"] >= score for i in state["items"] for d in i["detections"])
    true = sum(len(i["gt_boxes"]) for i in state["items"] if "gt_boxes" in i)
    return (
        f"{count(found, 'box', 'boxes')} found at score >= {score:.2f}"
        + (f" ({count(true, 'true object')})" if true else "")
        + "."
    )


def predictions_file(ctx: Ctx, state: dict, score: float) -> str:
    """The session's detections (>= score) as a JSON download (a temp file, not in the home)."""
    doc = {
        "model": state["model"],
        "score_threshold": score,
        "images": [
            {
                "file": Path(i["path"]).name,
                "detections": [d for d in i["detections"] if d["score"] >= score],
            }
            for i in state["items"]
        ],
    }
    return download_file(
        f"predictions-{state['model']}-{int(time.time() * 1000)}.json", json.dumps(doc, indent=1)
    )


def evaluation_views(ctx: Ctx, model: str | None) -> tuple:
    """(summary markdown, per-class AP rows, PR figure, confusion figure) of a model's newest
    evaluation: an evaluate job's result, else its train job's eval.json."""
    empty = figures.note("No evaluation yet: train the model or press Evaluate.")
    if not model:
        return "", [], empty, empty
    ev = models.latest_evaluation(ctx.store, model)
    if not ev or "AP" not in ev:
        return "*No evaluation of this model yet.*", [], empty, empty
    summary = (
        f"<div class='big-number'>AP {ev['AP']:.3f}</div>\n\nAP50 {ev.get('AP50', 0):.3f}"
        f" · AP75 {ev.get('AP75', 0):.3f} · AR100 {ev.get('AR100', 0):.3f}"
    )
    rows = [
        [name, round(ap, 4) if ap is not None and ap >= 0 else None]
        for name, ap in (ev.get("per_class_AP") or {}).items()
    ]
    classes = [r[0] for r in rows]
    pr = (
        pr_curves_figure(ev["precision"], classes)
        if ev.get("precision")
        else figures.note("This evaluation has no PR curves (press Evaluate).")
    )
    cm = (
        confusion_figure(ev["confusion"], classes)
        if ev.get("confusion")
        else figures.note("This evaluation has no confusion matrix (press Evaluate).")
    )
    return summary, rows, pr, cm


def model_threshold(ctx: Ctx, name: str | None) -> float:
    """The score slider's start: the model's own F1-best threshold (chosen on its val split at
    evaluation), else DEFAULT_SCORE for models evaluated before thresholds were recorded."""
    value = models.model_threshold(ctx.store, name) if name else None
    return DEFAULT_SCORE if value is None else math.floor(value * 100) / 100


def pick_model(ctx: Ctx, current: str | None) -> str | None:
    """The chosen model if it still exists, else the newest one (None when there is none)."""
    names = models.model_names(ctx.store)
    return current if current in names else (names[0] if names else None)


def chosen_images(ctx: Ctx, model: str | None, dataset: str | None, items: list) -> tuple:
    """(model, items) for Detect: the chosen or newest model; the chosen images, else the
    validation images of the chosen dataset, else of the model's own dataset."""
    model = need(pick_model(ctx, model), NO_MODEL)
    if items:
        return model, items
    dataset = dataset or models.model_dataset(ctx.store, model)
    need(dataset, f"Model {model} has no dataset on record: upload images or pick a dataset.")
    return model, dataset_items(ctx, dataset)


def _layout(ctx: Ctx) -> dict:
    gr.Markdown(
        "Run a detector on your images or on dataset images (ground truth left, "
        "prediction right). The score threshold refilters without running the model "
        "again. With nothing chosen, Detect uses the newest model on its own validation "
        "images.",
        elem_classes="tab-intro",
    )
    v: dict = {}
    # across the tab: a model's title ("EfficientDet-tiny on ..., shapes-demo, 15 epochs")
    # is wider than the left column
    v["model"] = gr.Dropdown(models.model_choices(ctx.store), label="Model", elem_id="detect-model")
    with gr.Row():
        with gr.Column(scale=2, min_width=340):
            v["files"] = gr.File(
                label="Your images",
                file_count="multiple",
                type="filepath",
                file_types=["image"],
                height=150,  # Gradio's drop zone needs it for its three lines, uncut
                elem_id="detect-files",
            )
            v["dataset"] = gr.Dropdown(
                datasets.dataset_names(ctx.store),
                label="or dataset images",
                elem_id="detect-dataset",
            )
            v["use_dataset"] = gr.Button(
                f"Use {DATASET_SAMPLE} validation images", size="md", elem_id="detect-use-dataset"
            )
            v["score"] = gr.Slider(
                MIN_SCORE,
                0.95,
                value=DEFAULT_SCORE,
                step=0.01,  # the model's own threshold (two decimals) is a position of it
                label="Score threshold",
                elem_id="detect-score",
            )
            with gr.Row():
                v["run"] = gr.Button("Detect", variant="primary", scale=1, elem_id="detect-run")
                v["download"] = gr.DownloadButton(
                    "predictions.json", interactive=False, scale=1, min_width=150
                )
            v["notice"] = make_notice("detect-notice")
            with gr.Row():
                v["evaluate"] = gr.Button("Evaluate", min_width=110, size="md")
                v["export"] = gr.Button("Export ONNX", min_width=110, size="md")
            v["job_status"] = gr.Markdown(elem_classes="job-line")
        with gr.Column(scale=5):
            v["gallery"] = gr.Gallery(
                label="Detections (click to enlarge)",
                columns=2,
                height=GALLERY_HEIGHT,
                object_fit="contain",
                allow_preview=True,
                preview=False,
                elem_id="detect-gallery",
            )
            with gr.Row():
                v["summary"] = gr.Markdown(elem_id="detect-ap")
                v["per_class"] = gr.Dataframe(
                    headers=["Class", "AP"], value=[], interactive=False, max_height=200
                )
            with gr.Row():
                v["pr"], v["confusion"] = gr.Plot(show_label=False), gr.Plot(show_label=False)
    return v


def _wire_detect(ctx: Ctx, cache: ModelCache, v: dict) -> None:
    """Choosing images, Detect and the threshold."""
    state, items = gr.State(None), gr.State([])
    notice = v["notice"]

    def on_files(paths):
        chosen = [{"path": p} for p in (paths or [])][:MAX_IMAGES]
        for item in chosen:  # "not an image" / "too large" now, not at Detect
            datasets.image_size(item["path"], ctx.config.max_pixels)
        return chosen, (f"{count(len(chosen), 'image')} chosen; press Detect." if chosen else "")

    def on_dataset(model, name):
        model = pick_model(ctx, model)
        name = name or (models.model_dataset(ctx.store, model) if model else None)
        name = need(name, "Pick a dataset (or a model trained on one) first.")
        return (
            gr.Dropdown(value=name),
            dataset_items(ctx, name),
            f"{DATASET_SAMPLE} validation images of {name} chosen; press Detect.",
        )

    wire(v["files"].change, on_files, v["files"], [items], notice)
    wire(
        v["use_dataset"].click,
        on_dataset,
        [v["model"], v["dataset"]],
        [v["dataset"], items],
        notice,
    )

    def on_run(name, ds, chosen, threshold):
        name, chosen = chosen_images(ctx, name, ds, chosen)
        t0 = time.perf_counter()
        new_state = run_model(cache, name, chosen, ctx.config.max_pixels)
        seconds = time.perf_counter() - t0
        return (
            gr.Dropdown(value=name),
            new_state,
            draw(new_state, threshold),
            gr.DownloadButton(value=predictions_file(ctx, new_state, threshold), interactive=True),
            f"{models.model_title(ctx.store, name)} on {count(len(chosen), 'image')} in "
            f"{seconds:.1f} s: "
            f"{shown_line(new_state, threshold)}",
        )

    wire(
        v["run"].click,
        on_run,
        [v["model"], v["dataset"], items, v["score"]],
        [v["model"], state, v["gallery"], v["download"]],
        notice,
    )

    def on_score(st, threshold):
        if not st:
            return gr.skip(), gr.skip(), None
        return (
            draw(st, threshold),
            gr.DownloadButton(value=predictions_file(ctx, st, threshold)),
            shown_line(st, threshold),
        )

    for event in (v["score"].release, v["score"].change):  # drag, or type then Enter / blur
        wire(
            event,
            on_score,
            [state, v["score"]],
            [v["gallery"], v["download"]],
            notice,
            trigger_mode="always_last",
            show_progress="hidden",
        )


def _wire_api(cache: ModelCache, max_pixels: int) -> None:
    """/predict for API clients (files sent with gradio_client.handle_file). A gr.api, not a
    hidden File input: a File input refuses a value that is not a file list with Gradio's own
    validation text before any handler runs; here every value reaches `uploaded`."""

    @ui_errors
    def predict(
        name: str, images: list[FileData], threshold: float | None = DEFAULT_SCORE
    ) -> list[dict]:
        """Detect objects with a registered model; returns per image {"file", "detections":
        [{"box" (x1, y1, x2, y2) px, "score", "label" (0-based), "class_name"}]}."""
        if not 0 <= threshold <= 1:
            raise gr.Error(f"predict: threshold={threshold}: must be 0..1", print_exception=False)
        paths = uploaded(need(images, "predict: no images given"))[:MAX_IMAGES]
        result = run_model(cache, name, [{"path": p} for p in paths], max_pixels)
        return [
            {
                "file": Path(i["path"]).name,
                "detections": [d for d in i["detections"] if d["score"] >= threshold],
            }
            for i in result["items"]
        ]

    gr.api(predict, api_name="predict")


def uploaded(images: object) -> list[str]:
    """The server paths of files a client uploaded: Gradio moves a file marked as FileData into
    its cache (refusing one that was not uploaded) before the handler runs; anything else (a
    bare path, a number) is refused here, so no other file of the server is ever read."""
    if not isinstance(images, (list, tuple)):
        images = [images]
    paths = []
    for item in images:
        meta = item.get("meta") if isinstance(item, dict) else None
        if not (isinstance(meta, dict) and meta.get("_type") == "gradio.FileData") or not (
            isinstance(item.get("path"), str)
        ):
            raise gr.Error(
                "predict: images must be uploaded files, e.g. [handle_file('photo.jpg')] "
                "with gradio_client",
                print_exception=False,
            )
        paths.append(item["path"])
    return paths


def _wire_jobs(ctx: Ctx, v: dict) -> None:
    """Evaluate and Export queue jobs; their status line follows in the refresh."""

    def on_evaluate(name, ds):
        name = need(pick_model(ctx, name), NO_MODEL)
        ds = need(ds or models.model_dataset(ctx.store, name), "Pick a dataset to evaluate on.")
        jid = submit(ctx, "evaluate", {"model": name, "dataset": ds})
        return job_line(jobs.find_job(ctx.store, jid)), f"Evaluation job {jid} queued."

    def on_export(name):
        name = need(pick_model(ctx, name), NO_MODEL)
        jid = submit(ctx, "export", {"model": name, "format": "onnx"})
        return (
            job_line(jobs.find_job(ctx.store, jid)),
            f"Export job {jid} queued; the .onnx file appears in runs/{jid}/.",
        )

    wire(
        v["evaluate"].click, on_evaluate, [v["model"], v["dataset"]], [v["job_status"]], v["notice"]
    )
    wire(v["export"].click, on_export, v["model"], [v["job_status"]], v["notice"])


def _wire_refresh(ctx: Ctx, demo: gr.Blocks, v: dict) -> gr.Timer:
    """Model list, default choices, evaluation views and the job line follow the store."""
    eval_outputs = [v["summary"], v["per_class"], v["pr"], v["confusion"]]

    def on_model(name):
        name = pick_model(ctx, name)  # a model deleted since the list was read: the newest
        return (
            gr.Dropdown(value=models.model_dataset(ctx.store, name) if name else None),
            *evaluation_views(ctx, name),
            model_threshold(ctx, name),
            "",
        )

    wire(  # any new model, picked or set by load, Detect or the tick: its own threshold
        v["model"].change,
        on_model,
        v["model"],
        [v["dataset"], *eval_outputs, v["score"]],
        v["notice"],
    )
    timer = gr.Timer(TICK_S, active=False)
    fp_state = gr.State(())

    def refresh(fp, name, ds):
        jid = jobs.latest_job_id(ctx.store, "evaluate", "export")
        new = (
            jobs.job_fingerprint(ctx.store, jid)
            + jobs.table_fingerprint(ctx.store, "models")
            + (name,)
        )
        if fp and new == fp:
            return (gr.skip(),) * len(outputs) + (None,)
        current = pick_model(ctx, name)
        ds = ds or (models.model_dataset(ctx.store, current) if current else None)
        return (
            gr.Dropdown(choices=models.model_choices(ctx.store), value=current),
            gr.Dropdown(choices=datasets.dataset_names(ctx.store), value=ds),
            job_line(jobs.find_job(ctx.store, jid)) if jid else "",
            *evaluation_views(ctx, current),
            new,
            None,
        )

    outputs = [v["model"], v["dataset"], v["job_status"], *eval_outputs, fp_state]
    wire(
        timer.tick,
        refresh,
        [fp_state, v["model"], v["dataset"]],
        outputs,
        v["notice"],
        show_progress="hidden",
    )

    def on_load(name, ds):  # refresh's outputs, then the slider at the model's own threshold
        *shown, notice = refresh((), name, ds)
        return (*shown, model_threshold(ctx, pick_model(ctx, name)), notice)

    wire(demo.load, on_load, [v["model"], v["dataset"]], [*outputs, v["score"]], v["notice"])
    return timer


def build(ctx: Ctx, demo: gr.Blocks) -> DetectTab:
    cache = ModelCache(ctx.store)
    v = _layout(ctx)
    _wire_detect(ctx, cache, v)
    _wire_api(cache, ctx.config.max_pixels)
    _wire_jobs(ctx, v)
    return DetectTab(timer=_wire_refresh(ctx, demo, v))
