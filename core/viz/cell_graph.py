"""Cell graphs: a genotype's normal or reduction cell drawn as an interactive plotly figure.

A NASNet/DARTS cell (Zoph et al. 2018; Liu et al. 2019, section 2.1) has two inputs c_{k-2} and
c_{k-1}, N intermediate nodes each summing two operations applied to earlier states, and an
output c_{k} that concatenates exactly the states in the genotype's concat list (NASNet and
AmoebaNet concatenate only the nodes not consumed inside the cell, and may list an input; the
DARTS authors' plot always joins every intermediate node, which draws those cells wrongly).

Modules: core.viz.cell_layout (the geometry: node layers, routed curves and labels),
core.viz.cell_traces (plotly traces of a layout, hover text with the ops' parameter counts from
core.nas.primitives), this module (the figures). No torch module is built to draw a cell.

`cell_figure(genotype, "normal")` and `compare_figure(a, b, "normal")` are the public entry
points; `layout_cell` is the geometry alone (tested for overlaps).
"""

from __future__ import annotations

from collections import Counter
from typing import Any

import plotly.graph_objects as go

from core.nas.genotypes import CELL_KINDS, Genotype, GenotypeError
from core.viz.cell_layout import CellLayout, as_genotype, cell_height_px, layout_cell
from core.viz.cell_traces import Axes, cell_traces, hidden_axis
from core.viz.common import base_layout

LEGEND_PX = 64
TITLE_PX = 36
MARGIN_PX = 8
PANEL_GAP_PX = 24


def cell_figure(
    genotype: Genotype | dict | str,
    cell: str = "normal",
    C: int = 16,
    title: str | None = None,
    width: int = 600,
) -> go.Figure:
    """Interactive graph of one cell of `genotype` ("normal" or "reduce").

    Inputs c_{k-2}, c_{k-1} on the left, intermediate nodes 0..N-1 in layers, output c_{k} on
    the right fed by dashed concat edges from exactly the genotype's concat states. One curve
    per op, coloured by op type (legend), labelled with the op name; hover gives op, from, to,
    stride and the op's parameter count at width C (px `width` is the nominal figure width the
    labels are laid out for). layout.meta holds {"cell", "op_edges", "concat_edges", "ops",
    "concat"} for callers and tests.
    """
    if cell not in CELL_KINDS:
        raise GenotypeError(f"cell must be one of {CELL_KINDS}, got {cell!r}")
    lay = layout_cell(as_genotype(genotype), cell, width=width - 2 * MARGIN_PX)
    top = TITLE_PX if title else MARGIN_PX
    return go.Figure(
        data=cell_traces(lay, cell, C),
        layout=base_layout(
            title=title,
            height=int(lay.height + top + LEGEND_PX),
            margin=dict(l=MARGIN_PX, r=MARGIN_PX, t=top, b=LEGEND_PX),
            legend=dict(orientation="h", yanchor="top", y=-0.02, x=0, font=dict(size=11)),
            hovermode="closest",
            dragmode=False,
            meta=_meta(lay, cell),
            xaxis=hidden_axis((0, 1), lay.width, "y"),
            yaxis=hidden_axis((0, 1), lay.height, "x"),
        ),
    )


def _meta(lay: CellLayout, cell: str) -> dict:
    return {
        "cell": cell,
        "op_edges": len(lay.op_edges),
        "concat_edges": len(lay.concat_edges),
        "ops": sorted({e.op for e in lay.op_edges}),
        "concat": [e.source for e in lay.concat_edges],
    }


def genotype_diff(a: Genotype, b: Genotype, cell: str) -> tuple[set[tuple], set[tuple]]:
    """Edges of a not in b and of b not in a, as highlight keys ("op", slot) / ("concat", src).

    Op edges are compared per intermediate node as multisets of (op, input); an edge is shared
    when the same node of the other cell has the same op from the same input.
    """

    def diff(x: Genotype, y: Genotype) -> set[tuple]:
        px, cx = x.cell(cell)
        py, cy = y.cell(cell)
        out: set[tuple] = set()
        for node in range(len(px) // 2):
            other = Counter(py[2 * node : 2 * node + 2]) if 2 * node < len(py) else Counter()
            for slot in (2 * node, 2 * node + 1):
                if other[px[slot]] > 0:
                    other[px[slot]] -= 1
                else:
                    out.add(("op", slot))
        out |= {("concat", s) for s in cx if s not in cy}
        return out

    return diff(a, b), diff(b, a)


def _panel_domains(
    arrangement: str, panel_w: float, panel_h: float
) -> tuple[list[tuple[tuple, tuple]], float]:
    """Paper-coordinate (x, y) domains of the two panels and the total plot height in px."""
    if arrangement == "columns":
        total_w = 2 * panel_w + PANEL_GAP_PX
        return [
            ((0.0, panel_w / total_w), (0.0, 1.0)),
            ((1 - panel_w / total_w, 1.0), (0.0, 1.0)),
        ], panel_h
    total_h = 2 * panel_h + TITLE_PX
    return [
        ((0.0, 1.0), (1 - panel_h / total_h, 1.0)),
        ((0.0, 1.0), (0.0, panel_h / total_h)),
    ], total_h


def compare_figure(
    genotype_a: Genotype | dict | str,
    genotype_b: Genotype | dict | str,
    cell: str = "normal",
    C: int = 16,
    names: tuple[str, str] = ("A", "B"),
    arrangement: str = "columns",
    width: int = 1200,
) -> go.Figure:
    """Two genotypes' cells side by side ("columns") or stacked ("rows"); differing edges bold.

    An edge differs when the same node of the other genotype has no edge with the same op from
    the same input; differing concat edges are bold too; shared edges are faded. For a ~600 px
    slot use arrangement="rows", width=600. layout.meta["differing"] = [count in a, count in b]
    (op and concat edges).
    """
    if arrangement not in ("columns", "rows"):
        raise ValueError(f"arrangement must be 'columns' or 'rows', got {arrangement!r}")
    a, b = as_genotype(genotype_a), as_genotype(genotype_b)
    diffs = genotype_diff(a, b, cell)
    inner_w = width - 2 * MARGIN_PX
    panel_w = (inner_w - PANEL_GAP_PX) / 2 if arrangement == "columns" else inner_w
    panel_h = max(cell_height_px(g.cell(cell)[0]) for g in (a, b))
    domains, plot_h = _panel_domains(arrangement, panel_w, panel_h)
    traces: list[go.Scatter] = []
    shown: set[str] = set()
    titles: list[dict] = []
    layout: dict[str, Any] = {}
    for i, (g, hl, name, (xdom, ydom)) in enumerate(zip((a, b), diffs, names, domains)):
        lay = layout_cell(g, cell, width=panel_w, height=panel_h)
        axes = Axes("x" if i == 0 else "x2", "y" if i == 0 else "y2")
        traces += cell_traces(lay, cell, C, highlight=hl, axes=axes, legend_shown=shown)
        layout["xaxis" if i == 0 else "xaxis2"] = hidden_axis(xdom, lay.width, axes.y)
        layout["yaxis" if i == 0 else "yaxis2"] = hidden_axis(ydom, lay.height, axes.x)
        n_diff = sum(1 for k in hl if k[0] == "op")
        differing = f"{n_diff} differing op edge{'s' * (n_diff != 1)}"
        titles.append(
            dict(
                text=f"<b>{name}</b> · {cell} cell · {differing}",
                x=xdom[0],
                y=ydom[1],
                xref="paper",
                yref="paper",
                xanchor="left",
                yanchor="bottom",
                showarrow=False,
                font=dict(size=13),
            )
        )
    return go.Figure(
        data=traces,
        layout=base_layout(
            height=int(plot_h + TITLE_PX + LEGEND_PX),
            margin=dict(l=MARGIN_PX, r=MARGIN_PX, t=TITLE_PX, b=LEGEND_PX),
            legend=dict(orientation="h", yanchor="top", y=-0.02, x=0, font=dict(size=11)),
            annotations=titles,
            hovermode="closest",
            dragmode=False,
            meta={"cell": cell, "differing": [len(diffs[0]), len(diffs[1])]},
            **layout,
        ),
    )
