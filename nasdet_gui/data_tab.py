"""The "Data" tab: datasets in the store, generate a built-in one, import (a .zip upload or a
folder under the allowed roots), the validation report, a gallery with ground-truth boxes, stats.

Generate and import are jobs (`dataset.generate`, `dataset.import`); this tab only queues them and
follows them. An uploaded zip is copied into <home>/uploads/ first, because Gradio's temporary
copy may be cleaned up before the worker reads it.
"""

from __future__ import annotations

import re
import shutil
import tempfile
import time
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import gradio as gr

from core.app import datasets, jobs
from core.app.datasets import DIFFICULTY_NAMES, GENERATOR_KINDS, IMPORT_FORMATS
from core.viz.common import markdown_text
from nasdet_gui import figures
from nasdet_gui.common import Ctx, as_int, need, on_page, submit, ui_errors, wire
from nasdet_gui.config import TICK_S
from nasdet_gui.job_panel import JobPanel, build_panel

UPLOADS_DIR = "uploads"
GALLERY_IMAGES = 8
GALLERY_HEIGHT = 420  # two rows of four
DATASET_HEADERS = [
    "Name",
    "Kind",
    "Classes",
    "Train images",
    "Val images",
    "Train objects",
    "Val objects",
]
DATA_KINDS = ("dataset.generate", "dataset.import")


@dataclass
class DataTab:
    timer: gr.Timer
    panel: JobPanel


def dataset_rows(ctx: Ctx) -> list[list]:
    rows = []
    for d in ctx.store.list_datasets():
        c = d.get("counts") or {}
        classes = d.get("classes") or []
        rows.append(
            [
                d["name"],
                d["kind"],
                f"{len(classes)}: {', '.join(classes[:6])}" + ("..." if len(classes) > 6 else ""),
                c.get("train_images"),
                c.get("val_images"),
                c.get("train_objects"),
                c.get("val_objects"),
            ]
        )
    return rows


def report_markdown(report: dict | None) -> str:
    """The validation report in plain words: counts per problem, then the first few problems
    (file, entry within it, what is wrong, what was done)."""
    if not report or not (report.get("problems") or report.get("summary")):
        return "No problems found." if report is not None else ""
    source = Path(str(report.get("source") or "")).name  # the user's file, not our copy's path
    lines = [f"**Validation report** ({markdown_text(source)})"]
    for code, n in (report.get("summary") or {}).items():
        lines.append(f"- {markdown_text(datasets.summary_line(code, n))}")
    problems = report.get("problems") or []
    if problems:
        lines.append("\n| file | entry | problem | action |\n|---|---|---|---|")
        lines += [
            f"| {_cell(p.get('file'))} | {_cell(p.get('entry'))} | {_cell(p.get('problem'))} "
            f"| {_cell(p.get('action'))} |"
            for p in problems[:20]
        ]
        if len(problems) > 20:
            lines.append(f"\n... and {len(problems) - 20} more")
    return "\n".join(lines)


def gallery(ctx: Ctx, name: str, split: str) -> list:
    """Up to GALLERY_IMAGES images of a split with their ground-truth boxes (numpy RGB)."""
    from core.viz.previews import preview_images

    if not name:
        return []
    return preview_images(datasets.open_dataset(ctx.store, name), split=split, n=GALLERY_IMAGES)


def stats_figures(ctx: Ctx, name: str | None) -> tuple:
    """(objects per class, box sizes and objects per image) of a dataset."""
    from core.viz.stats import stats_figures as figures_of

    if not name:
        empty = figures.note("Pick a dataset.")
        return empty, empty
    d = ctx.store.get_dataset(name)
    return tuple(figures_of(d.get("stats") or {}, d.get("classes") or []))[:2]


def show_dataset(ctx: Ctx, name: str, split: str) -> tuple:
    """(report markdown, gallery, two stats charts, notice message) of one dataset."""
    if not name:
        return "", [], *stats_figures(ctx, None), ""
    d = ctx.store.get_dataset(name)
    return (
        report_markdown(d.get("report")),
        gallery(ctx, name, split),
        *stats_figures(ctx, name),
        "",
    )


def stage_upload(ctx: Ctx, upload: str) -> Path:
    """Check an uploaded file is a readable zip and copy it into a folder of its own under
    <home>/uploads/, keeping the user's file name (the report and job lines show it)."""
    src = Path(upload)
    if not zipfile.is_zipfile(src):
        raise gr.Error(
            f"{src.name} is not a .zip file: zip the dataset folder (COCO json, VOC "
            "xml or YOLO txt files with their images) and upload that.",
            print_exception=False,
        )
    uploads = ctx.store.home / UPLOADS_DIR
    uploads.mkdir(exist_ok=True)
    dest = Path(tempfile.mkdtemp(prefix=f"{int(time.time())}-", dir=uploads)) / src.name
    shutil.copyfile(src, dest)
    return dest


def default_name(source: str) -> str:
    """A dataset name from an upload's or a folder's name ("My COCO (2).zip" -> "My-COCO-2"):
    the allowed characters kept, the rest as '-'."""
    stem = Path(source.rstrip("/\\")).stem
    return re.sub(r"-+", "-", re.sub(r"[^A-Za-z0-9_.-]", "-", stem)).strip("-.")[:64]


def check_folder(ctx: Ctx, folder: str) -> Path:
    """A folder import must stay under the allowed roots (--import-root)."""
    path = Path(folder).expanduser().resolve()
    if not any(path == root or root in path.parents for root in ctx.config.import_roots):
        roots = ", ".join(str(r) for r in ctx.config.import_roots)
        raise gr.Error(
            f"{path} is outside the allowed import folders ({roots}); start the app "
            "with --import-root DIR to allow another folder, or upload a .zip.",
            print_exception=False,
        )
    if not path.is_dir():
        raise gr.Error(f"{path} is not a folder", print_exception=False)
    return path


def generate(
    ctx: Ctx, name: str, kind: str, images: int, size: int, difficulty: str, seed: int
) -> int:
    spec = {
        "name": name,
        "kind": kind,
        "images": images,
        "size": size,  # core.spec coerces
        "difficulty": difficulty,
        "seed": seed,
    }
    return submit(ctx, "dataset.generate", spec)


def _forms(ctx: Ctx) -> dict:
    """The left column: Generate and Import forms."""
    f: dict = {}
    with gr.Tab("Generate"):
        f["gen_name"] = gr.Textbox("shapes-2", label="Name")
        with gr.Row():
            f["gen_kind"] = gr.Dropdown(
                list(GENERATOR_KINDS), value="shapes", label="Kind", min_width=100
            )
            f["gen_diff"] = gr.Dropdown(
                list(DIFFICULTY_NAMES), value="medium", label="Difficulty", min_width=100
            )
        with gr.Row():
            f["gen_images"] = gr.Number(300, label="Images", precision=0, minimum=2, min_width=80)
            f["gen_size"] = gr.Number(256, label="Size (px)", precision=0, minimum=64, min_width=80)
            f["gen_seed"] = gr.Number(0, label="Seed", precision=0, min_width=80)
        f["gen_btn"] = gr.Button("Generate", variant="primary", elem_id="data-generate")
    with gr.Tab("Import"):
        f["imp_name"] = gr.Textbox(label="Name", placeholder="empty: the file's or folder's name")
        f["imp_format"] = gr.Dropdown(list(IMPORT_FORMATS), value="auto", label="Format")
        f["imp_file"] = gr.File(
            label="Upload a .zip", file_types=[".zip"], type="filepath", height=90
        )
        f["imp_folder"] = gr.Textbox(
            label="or a folder on this machine", placeholder=str(ctx.config.import_roots[0])
        )
        f["imp_btn"] = gr.Button("Import", variant="primary", elem_id="data-import")
    return f


def _views(ctx: Ctx) -> dict:
    """The right column: dataset picker, samples, statistics, validation report."""
    v: dict = {}
    with gr.Row(elem_classes="action-row"):
        v["selected"] = gr.Dropdown(
            datasets.dataset_names(ctx.store), label="Dataset", scale=3, elem_id="data-selected"
        )
        v["split"] = gr.Radio(["train", "val"], value="train", label="Split", scale=1)
    v["samples"] = gr.Gallery(
        label="Samples with ground-truth boxes (click to enlarge)",
        columns=4,
        height=GALLERY_HEIGHT,
        object_fit="contain",
        preview=False,
        elem_id="data-samples",
    )
    v["stat_a"] = gr.Plot(show_label=False)  # one chart per row: titles and legends fit
    v["stat_b"] = gr.Plot(show_label=False)
    v["report"] = gr.Markdown()
    return v


def _wire_views(
    ctx: Ctx, demo: gr.Blocks, table: gr.Dataframe, panel: JobPanel, v: dict
) -> tuple[gr.Timer, list, Callable]:
    """The dataset views follow the picker, the table and the store; returns (timer, outputs
    of `refresh`, refresh)."""
    view_outputs = [v["report"], v["samples"], v["stat_a"], v["stat_b"]]
    inputs = [v["selected"], v["split"]]
    show = lambda name, sp: show_dataset(ctx, name, sp)
    wire(v["selected"].input, show, inputs, view_outputs, panel.notice)
    wire(v["split"].input, show, inputs, view_outputs, panel.notice)

    def pick(evt: gr.SelectData):
        return evt.row_value[0] if evt.row_value else gr.skip()

    table.select(pick, None, v["selected"], api_visibility="private").then(
        on_page(show, len(view_outputs)),
        inputs,
        [*view_outputs, panel.notice],
        api_visibility="private",
    )
    timer = gr.Timer(TICK_S, active=False)
    state = gr.State(())

    def refresh(fp, job, name):
        jid = as_int(job) or jobs.latest_job_id(ctx.store, *DATA_KINDS)
        new = jobs.job_fingerprint(ctx.store, jid) + jobs.table_fingerprint(ctx.store, "datasets")
        if fp and new == fp:
            return (gr.skip(),) * len(outputs) + (None,)
        names = datasets.dataset_names(ctx.store)
        return (
            *panel.render(ctx, jid),
            dataset_rows(ctx),
            gr.Dropdown(
                choices=names, value=name if name in names else (names[0] if names else None)
            ),
            new,
            None,
        )

    outputs = [*panel.outputs(), table, v["selected"], state]
    wire(
        timer.tick,
        refresh,
        [state, panel.picker, v["selected"]],
        outputs,
        panel.notice,
        show_progress="hidden",
    )
    wire(demo.load, lambda n: refresh((), None, n), v["selected"], outputs, panel.notice).then(
        on_page(show, len(view_outputs)),
        inputs,
        [*view_outputs, panel.notice],
        api_visibility="private",
    )
    return timer, outputs, refresh


def build(ctx: Ctx, demo: gr.Blocks) -> DataTab:
    gr.Markdown(
        "Datasets in this home folder. Generate a built-in one or import your own; "
        "click a row to see its samples, report and statistics.",
        elem_classes="tab-intro",
    )
    table = gr.Dataframe(
        headers=DATASET_HEADERS,
        value=dataset_rows(ctx),
        interactive=False,
        max_height=220,
        elem_id="data-table",
    )
    with gr.Row():
        with gr.Column(scale=2, min_width=320):
            f = _forms(ctx)
            panel = build_panel(ctx, DATA_KINDS, "Dataset job", stacked=True)
        with gr.Column(scale=5):
            v = _views(ctx)
    timer, outputs, refresh = _wire_views(ctx, demo, table, panel, v)

    def on_generate(name, kind, images, size, difficulty, seed):
        jid = generate(ctx, name, kind, images, size, difficulty, seed)
        return (*refresh((), jid, None)[:-1], f"Generating {name}: job {jid}.")

    def on_import(name, fmt, upload, folder):
        if upload:
            source = stage_upload(ctx, upload)
        else:
            source = check_folder(ctx, need(folder, "Upload a .zip or type a folder path."))
        name = (name or "").strip() or need(
            default_name(upload or folder), "Type a name for the new dataset."
        )
        spec = {"name": name, "path": str(source)}
        if fmt != "auto":
            spec["format"] = fmt
        jid = submit(ctx, "dataset.import", spec)
        return (
            *refresh((), jid, None)[:-1],
            f"Importing {Path(str(upload or folder)).name} as {name}: job {jid}.",
        )

    wire(
        f["gen_btn"].click,
        on_generate,
        [
            f["gen_name"],
            f["gen_kind"],
            f["gen_images"],
            f["gen_size"],
            f["gen_diff"],
            f["gen_seed"],
        ],
        outputs,
        panel.notice,
    )
    wire(
        f["imp_btn"].click,
        on_import,
        [f["imp_name"], f["imp_format"], f["imp_file"], f["imp_folder"]],
        outputs,
        panel.notice,
    )

    @ui_errors
    def api_generate(
        name: str,
        kind: str = "shapes",
        images: int = 300,
        size: int = 256,
        difficulty: str = "medium",
        seed: int = 0,
    ) -> int:
        """Queue a built-in dataset (shapes or glyphs); returns the job id."""
        return generate(ctx, name, kind, images, size, difficulty, seed)

    gr.api(api_generate, api_name="generate_dataset")
    return DataTab(timer=timer, panel=panel)


def _cell(value) -> str:
    """A markdown table cell: empty for None, shown as text (markdown_text escapes its
    pipes too), newlines as spaces."""
    return "" if value is None else markdown_text(str(value).replace("\n", " "))
