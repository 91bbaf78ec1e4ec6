"""The DARTS alpha view: per-edge softmax weights as heatmaps, animated over the search epochs.

DARTS (Liu et al. 2019, section 2.2) mixes every candidate op on every edge of the cell with the
softmax of the architecture weights alpha; the discrete cell is derived from the strongest
weights (section 2.4). A search writes one snapshot per epoch to runs/<id>/alphas.json:
{"epoch", "normal": [[w per op] per edge], "reduce": ..., "genotype": {...}} (rows in
`core.nas.space.edge_list` order, columns in PRIMITIVES order; optional "edges" and
"primitives" say so explicitly). `alpha_figure` shows, for the normal and the reduction cell,
the edges x ops heatmap with the derived choice outlined, beside the derived cell graph, and an
epoch slider that steps through how the cell emerged.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Sequence
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np
import plotly.graph_objects as go

from core.errors import NasdetError
from core.nas.derive import derive_genotype
from core.nas.genotypes import CELL_KINDS, Genotype
from core.nas.primitives import PRIMITIVES
from core.viz.cell_layout import CellLayout, height_for_layer_size, layout_cell, state_name
from core.viz.cell_traces import Axes, cell_traces, hidden_axis
from core.viz.common import base_layout, empty_figure

log = logging.getLogger(__name__)

MAX_FRAMES = 30  # more epochs than this: evenly spaced slider steps (first, last kept)
# ColorBrewer Blues, white -> dark blue, spelled out: a named "Blues" means a different scale
# in plotly.js than in plotly.py, and slider restyles are not translated by plotly.py.
HEATMAP_COLORSCALE = [
    [0.0, "#f7fbff"],
    [0.125, "#deebf7"],
    [0.25, "#c6dbef"],
    [0.375, "#9ecae1"],
    [0.5, "#6baed6"],
    [0.625, "#4292c6"],
    [0.75, "#2171b5"],
    [0.875, "#08519c"],
    [1.0, "#08306b"],
]
CHOICE_COLOR = "#e45756"  # outline of the derived (edge, op) choices
SLIDER_PX = 100
ROW_TITLE_PX = 26
TICKS_PX = 64  # room for the rotated op names under a heatmap
LEFT_MARGIN_PX = 80  # room for the edge names left of a heatmap
CELL_GAP_PX = 70  # heatmap colour bar lives in this gap
STACK_BELOW_PX = 900  # narrower figures put each derived cell under its heatmap


class AlphaSnapshotError(NasdetError, ValueError):
    """An alphas.json file or snapshot list is malformed."""


def load_alphas(path: str | Path) -> list[dict]:
    """Read and check runs/<id>/alphas.json; returns the snapshots sorted by epoch."""
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise AlphaSnapshotError(f"cannot read alpha snapshots {path}: {exc}") from exc
    return check_snapshots(data)


def check_snapshots(snapshots: Any) -> list[dict]:
    """Validate snapshot dicts (same [edges, ops] shape everywhere); sorted by epoch."""
    if not isinstance(snapshots, list):
        raise AlphaSnapshotError("alpha snapshots must be a list of {epoch, normal, reduce}")
    shape = None
    for k, snap in enumerate(snapshots):
        if not isinstance(snap, dict) or not {"epoch", "normal", "reduce"} <= snap.keys():
            raise AlphaSnapshotError(f"snapshot {k} needs keys epoch, normal, reduce")
        for cell in CELL_KINDS:
            w = np.asarray(snap[cell], dtype=np.float64)
            if w.ndim != 2 or (shape is not None and w.shape != shape):
                raise AlphaSnapshotError(
                    f"snapshot {k} ({cell}) has weights of shape {w.shape}; expected a 2-D "
                    f"[edges, ops] list{'' if shape is None else f' of shape {shape}'}"
                )
            shape = w.shape
    return sorted(snapshots, key=lambda s: s["epoch"])


def _nodes_for_edges(n_edges: int) -> int:
    """Number of intermediate nodes N with sum_{i<N} (i + 2) == n_edges."""
    nodes, total = 0, 0
    while total < n_edges:
        total += nodes + 2
        nodes += 1
    if total != n_edges:
        raise AlphaSnapshotError(
            f"{n_edges} alpha rows do not match any cell size (2, 5, 9, 14, 20... edges)"
        )
    return nodes


def _edges(snapshot: dict) -> list[tuple[int, int]]:
    """(node, input) per alpha row: the snapshot's own list or the DARTS edge order."""
    if snapshot.get("edges"):
        return [tuple(e) for e in snapshot["edges"]]
    nodes = _nodes_for_edges(len(snapshot["normal"]))
    return [(i, j) for i in range(nodes) for j in range(i + 2)]


def short_op(op: str) -> str:
    """Compact op name for axis ticks: sep_conv_3x3 -> sep 3x3, skip_connect -> skip."""
    return (
        op.replace("_conv_", " ")
        .replace("_pool_", " ")
        .replace("skip_connect", "skip")
        .replace("conv_", "conv ")
    )


def edge_label(node: int, input_index: int) -> str:
    """Tick label of an alpha row: input -> node, e.g. 'c<sub>k-1</sub> → 2'."""
    return f"{state_name(input_index, html=True)} → {node}"


def _genotype(snapshot: dict, nodes: int, primitives: Sequence[str]) -> Genotype:
    """The snapshot's derived genotype, or the DARTS derive rule applied to its weights."""
    if snapshot.get("genotype"):
        return Genotype.from_dict(snapshot["genotype"])
    return derive_genotype(snapshot["normal"], snapshot["reduce"], nodes, primitives)


@lru_cache(maxsize=512)
def _cached_layout(genotype_json: str, cell: str, width: float, height: float) -> CellLayout:
    return layout_cell(Genotype.from_json(genotype_json), cell, width=width, height=height)


def _choice_points(
    genotype: Genotype, cell: str, edges: Sequence[tuple[int, int]], primitives: Sequence[str]
) -> tuple[list[str], list[str]]:
    """(op tick, edge tick) of each derived (edge, op) choice, to outline on the heatmap."""
    xs, ys = [], []
    pairs, _ = genotype.cell(cell)
    for k, (op, src) in enumerate(pairs):
        if (k // 2, src) in edges and op in primitives:
            xs.append(short_op(op))
            ys.append(edge_label(k // 2, src))
    return xs, ys


def _sample_epochs(snapshots: list[dict], max_frames: int) -> list[dict]:
    if len(snapshots) <= max_frames:
        return snapshots
    idx = np.unique(np.linspace(0, len(snapshots) - 1, max_frames).round().astype(int))
    return [snapshots[i] for i in idx]


def _frame_traces(
    snap: dict,
    cells: Sequence[str],
    edges,
    primitives,
    zmax: float,
    panels: dict,
    cell_ops: Sequence[str],
    C: int,
) -> list:
    """All traces of one epoch, in a fixed order: per cell heatmap, choices, then cell graph."""
    nodes = _nodes_for_edges(len(edges))
    genotype = _genotype(snap, nodes, primitives)
    y_ticks = [edge_label(i, j) for i, j in edges]
    x_ticks = [short_op(op) for op in primitives]
    traces: list = []
    for cell in cells:
        hx, hy, cx, cy, cw, ch = panels[cell]
        colorbar = dict(
            thickness=10,
            lenmode="pixels",
            len=panels["_heat_px"],
            x=panels["_heat_right"],
            xanchor="left",
            y=1.0,
            yanchor="top",
            title=dict(text="w", side="top"),
            tickfont=dict(size=10),
        )
        z = np.round(np.asarray(snap[cell], dtype=np.float64), 4)
        traces.append(
            dict(
                type="heatmap",
                z=z,
                x=x_ticks,
                y=y_ticks,
                zmin=0.0,
                zmax=zmax,
                colorscale=HEATMAP_COLORSCALE,
                showscale=cell == cells[0],
                colorbar=colorbar,
                hovertemplate="%{y}<br>%{x}: %{z:.3f}<extra></extra>",
                xgap=1,
                ygap=1,
                xaxis=hx,
                yaxis=hy,
                name=f"{cell} weights",
            )
        )
        px, py = _choice_points(genotype, cell, edges, primitives)
        traces.append(
            dict(
                type="scatter",
                x=px,
                y=py,
                mode="markers",
                name="derived choice",
                showlegend=False,
                marker=dict(symbol="square-open", size=13, color=CHOICE_COLOR, line=dict(width=2)),
                hoverinfo="skip",
                xaxis=hx,
                yaxis=hy,
            )
        )
        lay = _cached_layout(genotype.to_json(), cell, cw, ch)
        traces += cell_traces(lay, cell, C, axes=Axes(cx, cy), ops=cell_ops, legend=False)
    return traces


def _panels(
    cells: Sequence[str], width: int, heat_h: float, cell_h: float, heat_frac: float
) -> tuple[dict, dict, float]:
    """Axis names, domains and the plot height: per cell, the heatmap with the derived cell
    beside it (width >= STACK_BELOW_PX) or below it (narrow figures)."""
    stacked = width < STACK_BELOW_PX
    inner_w = width - LEFT_MARGIN_PX - 16
    blocks = []  # (top px, height px) of each heatmap and cell panel, from the top
    y = 0.0
    for _ in cells:
        y += ROW_TITLE_PX
        if stacked:
            blocks.append(((y, heat_h), (y + heat_h + TICKS_PX, cell_h)))
            y += heat_h + TICKS_PX + cell_h + 8
        else:
            row_h = max(heat_h, cell_h)
            blocks.append(((y, heat_h), (y, row_h)))
            y += row_h + TICKS_PX
    total_h = y
    panels, axes = {}, {}
    for r, (cell, (heat, graph)) in enumerate(zip(cells, blocks)):
        n = 2 * r + 1
        hx, hy = ("x", "y") if n == 1 else (f"x{n}", f"y{n}")
        cx, cy = f"x{n + 1}", f"y{n + 1}"
        hdom = (0.0, 0.55 if stacked else heat_frac)
        cdom = (0.0, 1.0) if stacked else (heat_frac + CELL_GAP_PX / inner_w, 1.0)
        cell_w = inner_w * (cdom[1] - cdom[0])
        panels[cell] = (hx, hy, cx, cy, cell_w, graph[1])
        axes[_axis_key(hx)] = dict(
            domain=list(hdom), anchor=hy, tickangle=-45, tickfont=dict(size=10), fixedrange=True
        )
        axes[_axis_key(hy)] = dict(
            domain=_ydom(heat, total_h),
            anchor=hx,
            autorange="reversed",
            tickfont=dict(size=10),
            fixedrange=True,
        )
        axes[_axis_key(cx)] = hidden_axis(cdom, cell_w, cy)
        axes[_axis_key(cy)] = hidden_axis(tuple(_ydom(graph, total_h)), graph[1], cx)
    panels["_heat_right"] = hdom[1] + 0.01
    panels["_heat_px"] = heat_h
    return panels, axes, total_h


def _ydom(block: tuple[float, float], total_h: float) -> list[float]:
    """Paper y domain of a block given as (top px from the top, height px)."""
    top, h = block
    return [max(1 - (top + h) / total_h, 0.0), 1 - top / total_h]


def _axis_key(name: str) -> str:
    return name[0] + "axis" + name[1:]


def alpha_figure(
    snapshots: Sequence[dict],
    epoch: int | None = None,
    cells: Sequence[str] = CELL_KINDS,
    C: int = 16,
    width: int = 1100,
    max_frames: int = MAX_FRAMES,
) -> go.Figure:
    """Heatmaps of the alpha softmax weights (edges x ops) with the derived choices outlined,
    beside (or, below STACK_BELOW_PX of width, under) the derived cell of that epoch, one block
    per cell, and an epoch slider that steps through the search. `epoch`: the one shown first
    (default: the last). layout.meta = {"epochs": [...], "shown": epoch}.

    The slider restyles the traces (each step carries that epoch's trace data) rather than
    using plotly frames: building frame objects costs seconds for a few dozen epochs, the
    step arguments cost little, and both draw the same.
    """
    snaps = check_snapshots(list(snapshots))
    if not snaps:
        return empty_figure("no alpha snapshots yet (the first arrives after one search epoch)")
    edges = _edges(snaps[0])
    primitives = list(snaps[0].get("primitives") or PRIMITIVES)
    nodes = _nodes_for_edges(len(edges))
    snaps = _sample_epochs(snaps, max_frames)
    epochs = [int(s["epoch"]) for s in snaps]
    shown = epochs.index(epoch) if epoch in epochs else len(snaps) - 1
    zmax = float(max(np.max(s[c]) for s in snaps for c in cells))
    cell_ops = sorted(
        {op for s in snaps for c in cells for op, _ in _genotype(s, nodes, primitives).cell(c)[0]}
    )
    heat_h = max(17.0 * len(edges), 200.0)
    cell_h = height_for_layer_size(nodes)  # worst case: all nodes in one layer
    panels, axes, total_h = _panels(cells, width, heat_h, cell_h, heat_frac=0.36)
    per_epoch = [
        _frame_traces(s, cells, edges, primitives, zmax, panels, cell_ops, C) for s in snaps
    ]
    titles = [
        dict(
            text=f"<b>{cell}</b> cell: softmax(alpha) per edge · derived cell",
            x=0,
            xref="paper",
            y=axes[_axis_key(panels[cell][1])]["domain"][1],
            yref="paper",
            yanchor="bottom",
            showarrow=False,
            font=dict(size=12),
        )
        for cell in cells
    ]
    return go.Figure(
        data=per_epoch[shown],
        layout=base_layout(
            height=int(total_h + SLIDER_PX),
            margin=dict(l=LEFT_MARGIN_PX, r=16, t=0, b=SLIDER_PX),
            showlegend=False,
            annotations=titles,
            hovermode="closest",
            dragmode=False,
            sliders=[_slider(epochs, per_epoch, shown)],
            meta={"epochs": epochs, "shown": epochs[shown]},
            **axes,
        ),
    )


def _flatten(trace: dict, prefix: str = "") -> dict[str, Any]:
    """{"marker": {"size": s}} -> {"marker.size": s} (restyle keys); meta stays whole."""
    out: dict[str, Any] = {}
    for key, value in trace.items():
        if key in ("type", "xaxis", "yaxis"):
            continue
        if isinstance(value, dict) and key != "meta":
            out.update(_flatten(value, f"{prefix}{key}."))
        else:
            out[prefix + key] = value
    return out


def _restyle_args(traces: Sequence[dict]) -> list:
    """[update, trace indices] for Plotly.restyle: every property of every trace (a missing
    property is null, i.e. reset to its default)."""
    flats = [_flatten(t) for t in traces]
    keys = sorted(set().union(*flats))
    return [{k: [f.get(k) for f in flats] for k in keys}, list(range(len(traces)))]


def _slider(epochs: Sequence[int], per_epoch: Sequence[Sequence[dict]], active: int) -> dict:
    return dict(
        active=active,
        x=0.0,
        len=1.0,
        y=0,
        yanchor="top",
        pad=dict(t=40),
        currentvalue=dict(prefix="epoch ", font=dict(size=12)),
        steps=[
            dict(label=str(e), method="restyle", args=_restyle_args(traces))
            for e, traces in zip(epochs, per_epoch)
        ],
    )


__all__ = [
    "AlphaSnapshotError",
    "alpha_figure",
    "check_snapshots",
    "edge_label",
    "load_alphas",
    "short_op",
]
