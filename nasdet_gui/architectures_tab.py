"""The "Architectures" tab: draw any cell (a logged architecture, a search's best, a published
cell, an uploaded genotype.json) as graphs of its normal and reduction cells; compare two;
download genotype.json; "Train a detector with this cell" fills the Train tab.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

import gradio as gr

from core.nas.genotypes import PUBLISHED_GENOTYPES, Genotype

from nasdet_gui import figures
from nasdet_gui.common import Ctx, best_architecture, engine_part, note_figure, ui_errors
from nasdet_gui.downloads import download_copy

GENOTYPES_DIR = "genotypes"


@dataclass
class ArchitecturesTab:
    timer: gr.Timer
    train_button: gr.Button
    backbone: gr.Textbox  # the Train tab's backbone value for the shown cell


def cell_choices(ctx: Ctx) -> list[tuple[str, str]]:
    """Published cells, then the best cell of each search (newest first)."""
    choices = [(f"published: {name}", f"published:{name}") for name in PUBLISHED_GENOTYPES]
    for job in ctx.store.list_jobs(kind="search", limit=100):
        if ctx.store.db.execute("SELECT 1 FROM architectures WHERE job_id = ? LIMIT 1",
                                [job["id"]]).fetchone():
            choices.insert(0, (f"best of search {job['id']} ({job['status']})",
                               f"search:{job['id']}"))
    return choices


def resolve(ctx: Ctx, source: str) -> tuple[dict, str, str]:
    """source ('published:NAME' | 'search:ID' | 'arch:ID' | 'file:PATH') ->
    (genotype dict, Train-tab backbone value, title)."""
    kind, _, ref = (source or "").partition(":")
    if kind == "published":
        if ref not in PUBLISHED_GENOTYPES:
            raise gr.Error(f"unknown published cell {ref!r}", print_exception=False)
        return PUBLISHED_GENOTYPES[ref].to_dict(), f"nas:{ref}", ref
    if kind == "search":
        best = best_architecture(ctx.store, int(ref))
        if best is None:
            raise gr.Error(f"search {ref} has not logged a cell yet", print_exception=False)
        return best["genotype"], f"nas:{ref}", f"search {ref}"
    if kind == "arch":
        arch = ctx.store.get_architecture(int(ref))
        path = save_genotype(ctx, arch["genotype"], f"arch-{arch['id']}")
        return arch["genotype"], f"nas-file:{path}", f"architecture {arch['id']}"
    if kind == "file":
        genotype = load_genotype_file(Path(ref))
        path = save_genotype(ctx, genotype, "upload")
        return genotype, f"nas-file:{path}", Path(ref).name
    raise gr.Error("Pick a cell first.", print_exception=False)


def load_genotype_file(path: Path) -> dict:
    """Read and validate a genotype.json (GenotypeError -> gr.Error via ui_errors)."""
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise gr.Error(f"cannot read {path.name}: {exc}", print_exception=False) from exc
    try:
        return Genotype.from_json(text).validate().to_dict()
    except ValueError as exc:
        raise gr.Error(f"{path.name} is not a valid genotype file: {exc}. Expected the JSON "
                       "written by a search (normal, normal_concat, reduce, reduce_concat).",
                       print_exception=False) from exc


def save_genotype(ctx: Ctx, genotype: dict, stem: str) -> Path:
    """Write genotype JSON under <home>/genotypes/ (content-addressed), return its path."""
    text = Genotype.from_dict(genotype).to_json(indent=2)
    digest = hashlib.sha1(text.encode()).hexdigest()[:8]
    folder = ctx.store.home / GENOTYPES_DIR
    folder.mkdir(exist_ok=True)
    path = folder / f"{stem}-{digest}.json"
    if not path.exists():
        path.write_text(text, encoding="utf-8")
    return path


def comparison(ctx: Ctx, a: str, b: str) -> tuple:
    compare_figure = engine_part("core.viz.cell_graph", "compare_figure")
    if not a or not b:
        empty = note_figure("Pick two cells to compare.")
        return empty, empty
    (ga, _, ta), (gb, _, tb) = resolve(ctx, a), resolve(ctx, b)
    return tuple(compare_figure(ga, gb, cell=c, names=(ta, tb), arrangement="rows", width=600)
                 for c in ("normal", "reduce"))


def build(ctx: Ctx, demo: gr.Blocks) -> ArchitecturesTab:
    gr.Markdown("A cell is a small graph of operations; the network stacks normal cells and "
                "reduction cells (which halve the resolution).", elem_classes="tab-intro")
    with gr.Row(elem_classes="action-row"):
        cell = gr.Dropdown(cell_choices(ctx), value="published:DARTS_V2", label="Cell", scale=3)
        arch_id = gr.Number(label="or architecture id (Enter)", precision=0, value=None,
                            scale=1)
        upload = gr.UploadButton("Upload genotype.json", file_types=[".json"], type="filepath",
                                 scale=1)
    source = gr.State("published:DARTS_V2")
    summary = gr.Markdown()
    with gr.Row():
        normal = gr.Plot(show_label=False)
        reduce = gr.Plot(show_label=False)
    with gr.Row(elem_classes="action-row"):
        download = gr.DownloadButton("Download genotype.json", scale=1)
        train = gr.Button("Train a detector with this cell", variant="primary", scale=1)
    backbone = gr.Textbox(visible=False)
    with gr.Accordion("Compare two cells", open=False):
        other = gr.Dropdown(cell_choices(ctx), value="published:DARTS_V1", label="Compare with")
        compare = gr.Button("Compare")
        with gr.Row():
            cmp_normal = gr.Plot(show_label=False)
            cmp_reduce = gr.Plot(show_label=False)

    @ui_errors
    def show(src: str):
        genotype, train_value, title = resolve(ctx, src)
        normal_fig, reduce_fig = figures.cells(genotype, title)
        g = Genotype.from_dict(genotype)
        ops = ", ".join(sorted(g.ops()))
        path = save_genotype(ctx, genotype, "genotype")
        return (src, f"**{title}** - operations used: {ops}", normal_fig, reduce_fig,
                gr.DownloadButton(value=download_copy(path)), train_value)

    outputs = [source, summary, normal, reduce, download, backbone]
    cell.input(show, cell, outputs, api_visibility="private")
    arch_id.submit(lambda i: show(f"arch:{int(i)}") if i else gr.skip(), arch_id, outputs,
                   api_visibility="private")
    upload.upload(lambda f: show(f"file:{f}") if f else gr.skip(), upload, outputs,
                  api_visibility="private")
    demo.load(show, source, outputs, api_visibility="private")
    demo.load(lambda: (gr.Dropdown(choices=cell_choices(ctx)),) * 2, None, [cell, other],
              api_visibility="private")
    compare.click(ui_errors(lambda a, b: comparison(ctx, a, b)), [source, other],
                  [cmp_normal, cmp_reduce], api_visibility="private")
    timer = gr.Timer(10.0, active=False)  # new searches appear in the pickers
    timer.tick(lambda: (gr.Dropdown(choices=cell_choices(ctx)),) * 2, None, [cell, other],
               api_visibility="private", show_progress="hidden")
    return ArchitecturesTab(timer=timer, train_button=train, backbone=backbone)
