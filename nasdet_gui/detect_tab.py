"""The "Detect" tab: run a trained or imported detector on uploaded images or dataset images;
a score slider refilters without rerunning the model; ground truth beside prediction for
dataset images; the model's evaluation (per-class AP, PR curves, confusion matrix);
predictions.json download; evaluate and ONNX export as jobs.

Prediction on a handful of images runs in the event (it takes about a second on a CPU); the
raw detections (score >= MIN_SCORE) live in the session's gr.State so the slider only redraws.
Loaded models are kept in a small per-app cache (not per user: a model is read-only).
"""

from __future__ import annotations

import json
import threading
import time
from collections import OrderedDict
from dataclasses import dataclass
from pathlib import Path

import gradio as gr
import numpy as np

from nasdet_gui.common import (Ctx, dataset_names, engine_part, job_fingerprint, job_line,
                               latest_job_id, model_names, note_figure, submit, ui_errors)
from nasdet_gui.config import TICK_S
from nasdet_gui.downloads import download_file

MIN_SCORE = 0.05  # detections kept for the slider
MAX_IMAGES = 16
DATASET_SAMPLE = 6
CACHED_MODELS = 2


@dataclass
class DetectTab:
    timer: gr.Timer


class ModelCache:
    """The last few loaded detectors, shared by all sessions of this app (models are read-only)."""

    def __init__(self, ctx: Ctx, size: int = CACHED_MODELS):
        self.ctx, self.size = ctx, size
        self._models: OrderedDict[tuple, object] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, name: str):
        from core.train.predict import load_model

        row = self.ctx.store.get_model(name)
        key = (name, row["path"], row.get("created_at"))
        with self._lock:
            if key not in self._models:
                self._models[key] = load_model(self.ctx.store, name)
                while len(self._models) > self.size:
                    self._models.popitem(last=False)
            self._models.move_to_end(key)
            return self._models[key]


def dataset_items(ctx: Ctx, name: str, count: int = DATASET_SAMPLE) -> list[dict]:
    """The first `count` validation images of a dataset with their ground truth."""
    from core.data.dataset import load_records, open_dataset

    records = load_records(open_dataset(ctx.store, name), "val")[:count]
    return [{"path": str(r.path), "gt_boxes": r.boxes.tolist(), "gt_labels": r.labels.tolist()}
            for r in records]


def run_model(cache: ModelCache, model: str, items: list[dict]) -> dict:
    """Detect on every item; returns the session state {model, classes, items (with dets)}."""
    from core.data.images import read_rgb
    from core.train.predict import predict_images, result_to_json

    loaded = cache.get(model)
    images = [read_rgb(item["path"]) for item in items]
    results = predict_images(loaded, images, score_threshold=MIN_SCORE)
    out = [dict(item, detections=result_to_json(res)) for item, res in zip(items, results)]
    return {"model": model, "classes": list(loaded.classes), "items": out}


def draw(state: dict | None, score: float) -> list[tuple[np.ndarray, str]]:
    """Gallery images at this score threshold (GT beside prediction when GT is known)."""
    from core.data.images import read_rgb
    from core.viz.detections import draw_boxes, draw_comparison

    if not state:
        return []
    classes, shown = state["classes"], []
    for item in state["items"]:
        dets = [d for d in item["detections"] if d["score"] >= score]
        boxes = np.array([d["box"] for d in dets], np.float32).reshape(-1, 4)
        labels = [d["label"] for d in dets]
        scores = [d["score"] for d in dets]
        image = read_rgb(item["path"])
        if "gt_boxes" in item:
            drawn = draw_comparison(image, np.array(item["gt_boxes"], np.float32).reshape(-1, 4),
                                    item["gt_labels"], boxes, labels, scores, classes)
        else:
            drawn = draw_boxes(image, boxes, labels, classes, scores)
        shown.append((drawn, f"{Path(item['path']).name}: {len(dets)} objects"))
    return shown


def predictions_file(ctx: Ctx, state: dict, score: float) -> str:
    """The session's detections (>= score) as a JSON download (a temp file, not in the home)."""
    doc = {"model": state["model"], "score_threshold": score, "images": [
        {"file": Path(i["path"]).name,
         "detections": [d for d in i["detections"] if d["score"] >= score]}
        for i in state["items"]]}
    return download_file(f"predictions-{state['model']}-{int(time.time() * 1000)}.json",
                         json.dumps(doc, indent=1))


def evaluation_views(ctx: Ctx, model: str | None) -> tuple:
    """(summary markdown, per-class AP rows, PR figure, confusion figure) of a model's newest
    evaluation: an evaluate job's result, else its train job's eval.json."""
    empty = note_figure("No evaluation yet: train the model or press Evaluate.")
    if not model:
        return "", [], empty, empty
    ev = latest_evaluation(ctx, model)
    if not ev or "AP" not in ev:
        return "*No evaluation of this model yet.*", [], empty, empty
    summary = (f"<div class='big-number'>AP {ev['AP']:.3f}</div>\n\nAP50 {ev.get('AP50', 0):.3f}"
               f" · AP75 {ev.get('AP75', 0):.3f} · AR100 {ev.get('AR100', 0):.3f}")
    rows = [[name, round(ap, 4) if ap is not None and ap >= 0 else None]
            for name, ap in (ev.get("per_class_AP") or {}).items()]
    pr_fn = engine_part("core.viz.evaluation", "pr_curves_figure")
    cm_fn = engine_part("core.viz.evaluation", "confusion_figure")
    classes = [r[0] for r in rows]
    pr = pr_fn(ev["precision"], classes) if pr_fn and ev.get("precision") else note_figure(
        "PR curves are not available in this build yet.")
    cm = cm_fn(ev["confusion"], classes) if cm_fn and ev.get("confusion") else note_figure(
        "The confusion matrix is not available in this build yet.")
    return summary, rows, pr, cm


def latest_evaluation(ctx: Ctx, model: str) -> dict | None:
    row = ctx.store.get_model(model)
    for job in ctx.store.list_jobs(kind="evaluate", status="succeeded", limit=50):
        if (job["spec"] or {}).get("model") == model and (job.get("result") or {}).get("AP") \
                is not None:
            return _full_eval(ctx, job["id"]) or job["result"]
    if row.get("job_id"):
        return _full_eval(ctx, row["job_id"]) or row.get("metrics")
    return row.get("metrics")


def _full_eval(ctx: Ctx, job_id: int) -> dict | None:
    for art in ctx.store.artifacts(job_id, kind="evaluation"):
        path = ctx.store.resolve_path(art["path"])
        if path.is_file():
            return json.loads(path.read_text(encoding="utf-8"))
    return None


def build(ctx: Ctx, demo: gr.Blocks) -> DetectTab:
    cache = ModelCache(ctx)
    gr.Markdown("Run a detector on your images or on dataset images (ground truth left, "
                "prediction right). The score slider refilters without running the model again.",
                elem_classes="tab-intro")
    with gr.Row():
        with gr.Column(scale=2, min_width=320):
            model = gr.Dropdown(model_names(ctx.store), label="Model")
            files = gr.File(label="Images", file_count="multiple", type="filepath",
                            file_types=["image"], height=110)
            with gr.Row(elem_classes="action-row"):
                dataset = gr.Dropdown(dataset_names(ctx.store), label="or dataset images",
                                      scale=2)
                use_dataset = gr.Button("Use 6 val images", scale=1)
            score = gr.Slider(0.05, 0.95, value=0.3, step=0.05, label="Score threshold")
            run = gr.Button("Detect", variant="primary")
            with gr.Row():
                download = gr.DownloadButton("predictions.json", interactive=False)
                evaluate = gr.Button("Evaluate on dataset")
                export = gr.Button("Export ONNX")
            job_status = gr.Markdown(elem_classes="job-line")
        with gr.Column(scale=5):
            gallery = gr.Gallery(label="Detections", columns=2, height=420, object_fit="contain")
            with gr.Row():
                summary = gr.Markdown(elem_id="detect-ap")
                per_class = gr.Dataframe(headers=["Class", "AP"], value=[], interactive=False,
                                         max_height=200)
            with gr.Row():
                pr = gr.Plot(show_label=False)
                confusion = gr.Plot(show_label=False)
    state = gr.State(None)
    items_state = gr.State([])

    @ui_errors
    def on_files(paths):
        return [{"path": p} for p in (paths or [])][:MAX_IMAGES]

    @ui_errors
    def on_dataset(name):
        if not name:
            raise gr.Error("Pick a dataset first.", print_exception=False)
        return dataset_items(ctx, name)

    files.change(on_files, files, items_state, api_visibility="private")
    use_dataset.click(on_dataset, dataset, items_state, api_visibility="private").then(
        lambda: gr.Info("6 validation images selected; press Detect."), None, None,
        api_visibility="private")

    @ui_errors
    def on_run(name, items, threshold):
        if not name:
            raise gr.Error("Pick a model first (train one in the Train tab).",
                           print_exception=False)
        if not items:
            raise gr.Error("Upload images or use dataset images first.", print_exception=False)
        new_state = run_model(cache, name, items)
        return (new_state, draw(new_state, threshold),
                gr.DownloadButton(value=predictions_file(ctx, new_state, threshold),
                                  interactive=True))

    run.click(on_run, [model, items_state, score], [state, gallery, download],
              api_visibility="private")

    # /predict for API clients: hidden inputs so uploads (gradio_client.handle_file) work.
    with gr.Row(visible=False):
        api_model = gr.Textbox(label="model")
        api_images = gr.File(label="images", file_count="multiple", type="filepath")
        api_score = gr.Number(0.3, label="score_threshold")
        api_out = gr.JSON()
        api_button = gr.Button()

    @ui_errors
    def predict(name, images, threshold):
        """Detect objects with a registered model; returns per image {"file", "detections":
        [{"box" (x1, y1, x2, y2) px, "score", "label" (0-based), "class_name"}]}."""
        if not images:
            raise gr.Error("no images given", print_exception=False)
        result = run_model(cache, name, [{"path": p} for p in images][:MAX_IMAGES])
        threshold = MIN_SCORE if threshold is None else float(threshold)
        return [{"file": Path(i["path"]).name,
                 "detections": [d for d in i["detections"] if d["score"] >= threshold]}
                for i in result["items"]]

    api_button.click(predict, [api_model, api_images, api_score], api_out, api_name="predict")

    @ui_errors
    def on_score(st, threshold):
        if not st:
            return gr.skip(), gr.skip()
        return draw(st, threshold), gr.DownloadButton(value=predictions_file(ctx, st, threshold))

    score.release(on_score, [state, score], [gallery, download], api_visibility="private")

    eval_outputs = [summary, per_class, pr, confusion]
    show_eval = ui_errors(lambda name: evaluation_views(ctx, name))
    model.input(show_eval, model, eval_outputs, api_visibility="private")

    @ui_errors
    def on_evaluate(name, ds):
        if not name or not ds:
            raise gr.Error("Pick a model and a dataset first.", print_exception=False)
        jid = submit(ctx, "evaluate", {"model": name, "dataset": ds})
        return f"Evaluation job {jid} queued."

    @ui_errors
    def on_export(name):
        if not name:
            raise gr.Error("Pick a model first.", print_exception=False)
        jid = submit(ctx, "export", {"model": name, "format": "onnx"})
        return f"Export job {jid} queued; the .onnx file appears in runs/{jid}/."

    evaluate.click(on_evaluate, [model, dataset], job_status, api_visibility="private")
    export.click(on_export, model, job_status, api_visibility="private")

    timer = gr.Timer(TICK_S, active=False)
    fp_state = gr.State(())

    def refresh(fp, name):
        jid = latest_job_id(ctx.store, "evaluate", "export")
        models = ctx.store.db.execute("SELECT count(*), max(id) FROM models").fetchone()
        new = job_fingerprint(ctx.store, jid) + tuple(models) + (name,)
        if fp and new == fp:
            return (gr.skip(),) * len(outputs)
        names = model_names(ctx.store)
        current = name if name in names else (names[0] if names else None)
        job = ctx.store.get_job(jid) if jid else None
        return (gr.Dropdown(choices=names, value=current), job_line(job) if job else "",
                *evaluation_views(ctx, current), new)

    outputs = [model, job_status, *eval_outputs, fp_state]
    timer.tick(ui_errors(refresh), [fp_state, model], outputs, show_progress="hidden",
               api_visibility="private")
    demo.load(ui_errors(lambda n: refresh((), n)), model, outputs, api_visibility="private")
    demo.load(lambda: gr.Dropdown(choices=dataset_names(ctx.store)), None, dataset,
              api_visibility="private", queue=False)
    return DetectTab(timer=timer)
