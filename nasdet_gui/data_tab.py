"""The "Data" tab: datasets in the store, generate a built-in one, import (a .zip upload or a
folder under the allowed roots), the validation report, a gallery with ground-truth boxes, stats.

Generate and import are jobs (`dataset.generate`, `dataset.import`); this tab only queues them and
follows them. An uploaded zip is copied into <home>/uploads/ first, because Gradio's temporary
copy may be cleaned up before the worker reads it.
"""

from __future__ import annotations

import shutil
import time
import zipfile
from dataclasses import dataclass
from pathlib import Path

import gradio as gr

from nasdet_gui import figures
from nasdet_gui.common import (Ctx, engine_part, job_fingerprint, latest_job_id, note_figure,
                               submit, ui_errors)
from nasdet_gui.config import TICK_S
from nasdet_gui.job_panel import JobPanel, build_panel

UPLOADS_DIR = "uploads"
GALLERY_IMAGES = 8
DATASET_HEADERS = ["Name", "Kind", "Classes", "Train images", "Val images", "Train objects",
                   "Val objects"]
IMPORT_FORMATS = ["auto", "coco", "voc", "yolo"]
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
        rows.append([d["name"], d["kind"], f"{len(classes)}: {', '.join(classes[:6])}"
                     + ("..." if len(classes) > 6 else ""), c.get("train_images"),
                     c.get("val_images"), c.get("train_objects"), c.get("val_objects")])
    return rows


def report_markdown(report: dict | None) -> str:
    """The validation report in plain words: counts per problem, then the first few files."""
    if not report or not (report.get("problems") or report.get("summary")):
        return "No problems found." if report is not None else ""
    lines = [f"**Validation report** ({report.get('source', '')})"]
    for code, n in (report.get("summary") or {}).items():
        lines.append(f"- `{code}`: {n}")
    problems = report.get("problems") or []
    if problems:
        lines.append("\n| file | problem | action |\n|---|---|---|")
        lines += [f"| {p.get('file', '')} | {p.get('problem', '')} | {p.get('action', '')} |"
                  for p in problems[:20]]
        if len(problems) > 20:
            lines.append(f"\n... and {len(problems) - 20} more")
    return "\n".join(lines)


def gallery(ctx: Ctx, name: str, split: str) -> list:
    preview = engine_part("core.data.preview", "preview_images")
    if preview is None or not name:
        return []
    return preview(ctx.store, name, split=split, n=GALLERY_IMAGES)


def stats_figures(ctx: Ctx, name: str) -> tuple:
    fn = engine_part("core.viz.stats", "stats_figures")
    if not name:
        empty = note_figure("Pick a dataset.")
        return empty, empty
    if fn is None:
        empty = note_figure("Statistics charts are not available in this build yet.")
        return empty, empty
    d = ctx.store.get_dataset(name)
    figs = fn(d.get("stats") or {}, d.get("classes") or [])
    return tuple(figs)[:2]


def show_dataset(ctx: Ctx, name: str, split: str) -> tuple:
    if not name:
        return "", [], *stats_figures(ctx, None)
    d = ctx.store.get_dataset(name)
    return (report_markdown(d.get("report")), gallery(ctx, name, split),
            *stats_figures(ctx, name))


def stage_upload(ctx: Ctx, upload: str) -> Path:
    """Check an uploaded file is a readable zip and copy it into <home>/uploads/."""
    src = Path(upload)
    if not zipfile.is_zipfile(src):
        raise gr.Error(f"{src.name} is not a .zip file: zip the dataset folder (COCO json, VOC "
                       "xml or YOLO txt files with their images) and upload that.",
                       print_exception=False)
    folder = ctx.store.home / UPLOADS_DIR
    folder.mkdir(exist_ok=True)
    dest = folder / f"{int(time.time())}-{src.name}"
    shutil.copyfile(src, dest)
    return dest


def check_folder(ctx: Ctx, folder: str) -> Path:
    """A folder import must stay under the allowed roots (--import-root)."""
    path = Path(folder).expanduser().resolve()
    if not any(path == root or root in path.parents for root in ctx.config.import_roots):
        roots = ", ".join(str(r) for r in ctx.config.import_roots)
        raise gr.Error(f"{path} is outside the allowed import folders ({roots}); start the app "
                       "with --import-root DIR to allow another folder, or upload a .zip.",
                       print_exception=False)
    if not path.is_dir():
        raise gr.Error(f"{path} is not a folder", print_exception=False)
    return path


def generate(ctx: Ctx, name: str, kind: str, images: int, size: int, difficulty: str,
             seed: int) -> int:
    spec = {"name": name, "kind": kind, "images": int(images), "size": int(size),
            "difficulty": difficulty, "seed": int(seed)}
    return submit(ctx, "dataset.generate", spec)


def build(ctx: Ctx, demo: gr.Blocks) -> DataTab:
    gr.Markdown("Datasets in this home folder. Generate a built-in one or import your own; "
                "click a row to see its samples, report and statistics.",
                elem_classes="tab-intro")
    table = gr.Dataframe(headers=DATASET_HEADERS, value=dataset_rows(ctx), interactive=False,
                         max_height=220)
    with gr.Row():
        with gr.Column(scale=2, min_width=320):
            with gr.Tab("Generate"):
                gen_name = gr.Textbox("shapes-2", label="Name")
                with gr.Row():
                    gen_kind = gr.Dropdown(["shapes", "glyphs"], value="shapes", label="Kind",
                                           min_width=100)
                    gen_diff = gr.Dropdown(["easy", "medium", "hard"], value="medium",
                                           label="Difficulty", min_width=100)
                with gr.Row():
                    gen_images = gr.Number(300, label="Images", precision=0, minimum=2,
                                           min_width=80)
                    gen_size = gr.Number(256, label="Size (px)", precision=0, minimum=64,
                                         min_width=80)
                    gen_seed = gr.Number(0, label="Seed", precision=0, min_width=80)
                gen_btn = gr.Button("Generate", variant="primary")
            with gr.Tab("Import"):
                imp_name = gr.Textbox(label="Name")
                imp_format = gr.Dropdown(IMPORT_FORMATS, value="auto", label="Format")
                imp_file = gr.File(label="Upload a .zip", file_types=[".zip"], type="filepath",
                                   height=90)
                imp_folder = gr.Textbox(label="or a folder on this machine",
                                        placeholder=str(ctx.config.import_roots[0]))
                imp_btn = gr.Button("Import", variant="primary")
            panel = build_panel(ctx, DATA_KINDS, "Dataset job")
        with gr.Column(scale=5):
            with gr.Row(elem_classes="action-row"):
                selected = gr.Dropdown([r[0] for r in dataset_rows(ctx)], label="Dataset",
                                       scale=3)
                split = gr.Radio(["train", "val"], value="train", label="Split", scale=1)
            samples = gr.Gallery(label="Samples with ground-truth boxes", columns=4, height=300,
                                 object_fit="contain")
            with gr.Row():
                stat_a = gr.Plot(show_label=False)
                stat_b = gr.Plot(show_label=False)
            report = gr.Markdown()

    view_outputs = [report, samples, stat_a, stat_b]
    show = ui_errors(lambda name, sp: show_dataset(ctx, name, sp))
    selected.input(show, [selected, split], view_outputs, api_visibility="private")
    split.input(show, [selected, split], view_outputs, api_visibility="private")
    def pick(evt: gr.SelectData):
        return evt.row_value[0] if evt.row_value else gr.skip()

    table.select(pick, None, selected, api_visibility="private").then(
        show, [selected, split], view_outputs, api_visibility="private")

    timer = gr.Timer(TICK_S, active=False)
    state = gr.State(())

    def refresh(fp, job, name, sp):
        jid = int(job) if job else latest_job_id(ctx.store, *DATA_KINDS)
        count = ctx.store.db.execute("SELECT count(*), max(id) FROM datasets").fetchone()
        new = job_fingerprint(ctx.store, jid) + tuple(count)
        if fp and new == fp:
            return (gr.skip(),) * len(outputs)
        names = [d["name"] for d in ctx.store.list_datasets()]
        return (*panel.render(ctx, jid), dataset_rows(ctx),
                gr.Dropdown(choices=names, value=name if name in names else
                            (names[0] if names else None)), new)

    outputs = [*panel.outputs(), table, selected, state]
    timer.tick(ui_errors(refresh), [state, panel.picker, selected, split], outputs,
               show_progress="hidden", api_visibility="private")
    demo.load(ui_errors(lambda n, s: refresh((), None, n, s)), [selected, split], outputs,
              api_visibility="private").then(show, [selected, split], view_outputs,
                                             api_visibility="private")

    @ui_errors
    def on_generate(name, kind, images, size, difficulty, seed):
        jid = generate(ctx, name, kind, images, size, difficulty, seed)
        gr.Info(f"Generating {name}: job {jid}.")
        return refresh((), jid, None, "train")

    @ui_errors
    def on_import(name, fmt, upload, folder):
        if upload:
            source = stage_upload(ctx, upload)
        elif folder:
            source = check_folder(ctx, folder)
        else:
            raise gr.Error("Upload a .zip or type a folder path.", print_exception=False)
        spec = {"name": name, "path": str(source)}
        if fmt != "auto":
            spec["format"] = fmt
        jid = submit(ctx, "dataset.import", spec)
        gr.Info(f"Importing {name}: job {jid}.")
        return refresh((), jid, None, "train")

    gen_btn.click(on_generate, [gen_name, gen_kind, gen_images, gen_size, gen_diff, gen_seed],
                  outputs, api_visibility="private")
    imp_btn.click(on_import, [imp_name, imp_format, imp_file, imp_folder], outputs,
                  api_visibility="private")

    @ui_errors
    def api_generate(name: str, kind: str = "shapes", images: int = 300, size: int = 256,
                     difficulty: str = "medium", seed: int = 0) -> int:
        """Queue a built-in dataset (shapes or glyphs); returns the job id."""
        return generate(ctx, name, kind, images, size, difficulty, seed)

    gr.api(api_generate, api_name="generate_dataset")
    return DataTab(timer=timer, panel=panel)
