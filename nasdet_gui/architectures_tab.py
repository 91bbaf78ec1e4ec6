"""The "Architectures" tab: draw any cell (a search's searched cell, a logged architecture, a
published cell, an uploaded genotype.json) as graphs of its normal and reduction cells; the
selected search's architectures with their roles; compare two cells; download genotype.json;
"Train a detector with this cell" fills the Train tab.

A search's cell is `core.app.searches.search_best`: its searched genotype (genotype.json, what
`nas:<job>` trains) once the search phase is over, else the best cell so far, said as such.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

import gradio as gr

from core.app import searches
from core.app.searches import PUBLISHED_GENOTYPES, Genotype
from core.viz.cell_graph import compare_figure
from nasdet_gui import figures
from nasdet_gui.common import Ctx, make_notice, need, wire
from nasdet_gui.downloads import download_copy

GENOTYPES_DIR = "genotypes"
ARCH_HEADERS = ["ID", "Role", "Step", "Score", "Params", "Latency ms"]
TABLE_ROWS = 300


@dataclass
class ArchitecturesTab:
    timer: gr.Timer
    train_button: gr.Button
    backbone: gr.Textbox  # the Train tab's backbone value for the shown cell


def cell_choices(ctx: Ctx) -> list[tuple[str, str]]:
    """Each search's cell (newest first: searched, or best so far while it runs), then the
    published cells."""
    choices = []
    for cell in searches.search_cells(ctx.store):
        what = "searched cell" if cell["final"] else f"best so far ({cell['status']})"
        choices.append((f"search #{cell['job_id']}: {what}", f"search:{cell['job_id']}"))
    return choices + [(f"published: {name}", f"published:{name}") for name in PUBLISHED_GENOTYPES]


def resolve(ctx: Ctx, source: str) -> tuple[dict, str, str]:
    """source ('published:NAME' | 'search:ID' | 'arch:ID' | 'file:PATH') ->
    (genotype dict, Train-tab backbone value, title)."""
    kind, _, ref = (source or "").partition(":")
    if kind == "published":
        if ref not in PUBLISHED_GENOTYPES:
            raise gr.Error(f"unknown published cell {ref!r}", print_exception=False)
        return PUBLISHED_GENOTYPES[ref].to_dict(), f"nas:{ref}", ref
    if kind == "search":
        best = searches.search_best(ctx.store, int(ref))
        if best is None:
            raise gr.Error(f"search {ref} has not logged a cell yet", print_exception=False)
        if best["final"]:
            return best["genotype"], f"nas:{ref}", f"search {ref} searched"
        return best["genotype"], f"nas-arch:{best['arch_id']}", f"search {ref} best so far"
    if kind == "arch":
        arch = ctx.store.get_architecture(int(ref))
        return (
            arch["genotype"],
            f"nas-arch:{arch['id']}",
            f"architecture {arch['id']} ({searches.arch_role(arch)})",
        )
    if kind == "file":
        genotype = load_genotype_file(Path(ref))
        path = save_genotype(ctx, genotype, "upload")
        return genotype, f"nas-file:{path}", Path(ref).name
    raise gr.Error("Pick a cell first.", print_exception=False)


def load_genotype_file(path: Path) -> dict:
    """Read and validate a genotype.json."""
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise gr.Error(f"cannot read {path.name}: {exc}", print_exception=False) from exc
    try:
        return Genotype.from_json(text).validate().to_dict()
    except ValueError as exc:
        raise gr.Error(
            f"{path.name} is not a valid genotype file: {exc}. Expected the JSON "
            "written by a search (normal, normal_concat, reduce, reduce_concat).",
            print_exception=False,
        ) from exc


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


def arch_table(ctx: Ctx, source: str) -> list[list]:
    """The architectures of the shown cell's search (newest first) with their roles."""
    kind, _, ref = (source or "").partition(":")
    if kind == "arch":
        ref = str(ctx.store.get_architecture(int(ref))["job_id"] or "")
    elif kind != "search":
        return []
    if not ref.isdigit():
        return []
    rows = searches.architectures(ctx.store, int(ref))[-TABLE_ROWS:]
    return [
        [
            a["id"],
            a["role"],
            a["step"],
            None if a["score"] is None else round(a["score"], 4),
            a["params"],
            None if a["latency_ms"] is None else round(a["latency_ms"], 2),
        ]
        for a in reversed(rows)
    ]


def comparison(ctx: Ctx, a: str, b: str) -> tuple:
    need(a and b, "Pick two cells to compare.")
    (ga, _, ta), (gb, _, tb) = resolve(ctx, a), resolve(ctx, b)
    return tuple(
        compare_figure(ga, gb, cell=c, names=(ta, tb), arrangement="rows", width=600)
        for c in ("normal", "reduce")
    )


def _layout(ctx: Ctx) -> dict:
    gr.Markdown(
        "A cell is a small graph of operations; the network stacks normal cells and "
        "reduction cells (which halve the resolution).",
        elem_classes="tab-intro",
    )
    choices = cell_choices(ctx)
    with gr.Row(elem_classes="action-row"):
        cell = gr.Dropdown(choices, value=choices[0][1], label="Cell", scale=3, elem_id="arch-cell")
        arch_id = gr.Textbox(
            label="or architecture id (Enter)",
            placeholder="e.g. 12",
            scale=1,
            min_width=160,
            elem_id="arch-id",
        )
        upload = gr.UploadButton(
            "Upload genotype.json", file_types=[".json"], type="filepath", scale=1, min_width=160
        )
    v = {
        "cell": cell,
        "arch_id": arch_id,
        "upload": upload,
        "notice": make_notice("arch-notice"),
        "summary": gr.Markdown(elem_id="arch-summary"),
    }
    with gr.Row():
        v["normal"], v["reduce"] = gr.Plot(show_label=False), gr.Plot(show_label=False)
    with gr.Row(elem_classes="action-row"):
        v["download"] = gr.DownloadButton("Download genotype.json", scale=1)
        v["train"] = gr.Button(
            "Train a detector with this cell", variant="primary", scale=1, elem_id="arch-train"
        )
    v["backbone"] = gr.Textbox(visible=False)
    v["table"] = gr.Dataframe(
        headers=ARCH_HEADERS,
        value=[],
        interactive=False,
        max_height=260,
        label="This search's architectures (click a row to draw it)",
        elem_id="arch-table",
    )
    with gr.Accordion("Compare two cells", open=False):
        v["other"] = gr.Dropdown(
            cell_choices(ctx), value="published:DARTS_V1", label="Compare with"
        )
        v["compare"] = gr.Button("Compare")
        with gr.Row():
            v["cmp_normal"], v["cmp_reduce"] = gr.Plot(show_label=False), gr.Plot(show_label=False)
    return v


def arch_number(text: str) -> int:
    """An architecture id typed by the user."""
    text = need((text or "").strip(), "Type an architecture id (a whole number), then Enter.")
    if not text.isdigit():
        raise gr.Error(f"{text!r} is not an architecture id: type a whole number, e.g. 12.")
    return int(text)


def build(ctx: Ctx, demo: gr.Blocks) -> ArchitecturesTab:
    v = _layout(ctx)
    source = gr.State()  # the shown cell ("search:3", "arch:12", ...); first: the picker's value

    def show(src: str):
        genotype, train_value, title = resolve(ctx, src)
        normal_fig, reduce_fig = figures.cells(genotype, title)
        ops = ", ".join(sorted(Genotype.from_dict(genotype).ops()))
        path = save_genotype(ctx, genotype, "genotype")
        return (
            src,
            f"**{title}** - operations used: {ops}",
            normal_fig,
            reduce_fig,
            gr.DownloadButton(value=download_copy(path)),
            train_value,
            arch_table(ctx, src),
            "",
        )

    outputs = [
        source,
        v["summary"],
        v["normal"],
        v["reduce"],
        v["download"],
        v["backbone"],
        v["table"],
    ]
    notice = v["notice"]
    wire(v["cell"].input, show, v["cell"], outputs, notice)
    wire(
        v["arch_id"].submit, lambda i: show(f"arch:{arch_number(i)}"), v["arch_id"], outputs, notice
    )
    wire(
        v["upload"].upload,
        lambda f: show(f"file:{need(f, 'Choose a file.')}"),
        v["upload"],
        outputs,
        notice,
    )

    def pick(evt: gr.SelectData):
        return (
            show(f"arch:{int(evt.row_value[0])}")
            if evt.row_value
            else ((gr.skip(),) * len(outputs) + (None,))
        )

    wire(v["table"].select, pick, None, outputs, notice)
    fresh = lambda: (gr.Dropdown(choices=cell_choices(ctx)),) * 2

    def first_view():
        choices = cell_choices(ctx)
        return (
            gr.Dropdown(choices=choices, value=choices[0][1]),
            gr.Dropdown(choices=choices),
            *show(choices[0][1]),
        )

    wire(demo.load, first_view, None, [v["cell"], v["other"], *outputs], notice)
    wire(
        v["compare"].click,
        lambda a, b: (*comparison(ctx, a, b), ""),
        [source, v["other"]],
        [v["cmp_normal"], v["cmp_reduce"]],
        notice,
    )
    timer = gr.Timer(10.0, active=False)  # new searches appear in the pickers
    timer.tick(
        fresh, None, [v["cell"], v["other"]], api_visibility="private", show_progress="hidden"
    )
    return ArchitecturesTab(timer=timer, train_button=v["train"], backbone=v["backbone"])
