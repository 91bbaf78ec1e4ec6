"""Plotly traces of a laid-out cell (core.viz.cell_layout): op curves coloured by op type,
dashed concat edges, arrowheads, op labels carrying the hover text, and the state nodes.

Traces are plain dicts without layout annotations, so the alpha view (core.viz.alphas) can
animate them in frames. The hover of an op gives its parameter count at width C from
core.nas.primitives.op_param_count (written out from the op definitions; no module is built).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from core.nas.primitives import op_param_count
from core.viz.cell_layout import NODE_HALF_PX, CellEdge, CellLayout, CellNode, state_name
from core.viz.common import FONT_FAMILY, TEXT_COLOR
from core.viz.detections import class_color_hex

OP_COLORS: dict[str, str] = {
    "none": "#c7c7c7",
    "max_pool_3x3": "#1f77b4",
    "avg_pool_3x3": "#17becf",
    "skip_connect": "#2ca02c",
    "sep_conv_3x3": "#ff7f0e",
    "sep_conv_5x5": "#d62728",
    "sep_conv_7x7": "#8c564b",
    "dil_conv_3x3": "#9467bd",
    "dil_conv_5x5": "#e377c2",
    "conv_7x1_1x7": "#bcbd22",
}
CONCAT_COLOR = "#6b7280"
NODE_FILL = {
    "input": "#b7dfb0",
    "intermediate": "#a9c8ef",
    "output": "#f2da8d",
    "unused": "#e5e7eb",
}
LABEL_FONT_PX = 11
LABEL_HALO = "0 0 2px #fff, 0 0 2px #fff, 0 0 3px #fff"  # CSS text-shadow: white halo over lines


def op_color(op: str) -> str:
    """Colour of an op type (fixed for the known ops, stable fallback for others)."""
    if op in OP_COLORS:
        return OP_COLORS[op]
    return class_color_hex(20 + sum(op.encode()) % 97)


def _darker(hex_color: str, factor: float = 0.72) -> str:
    """A darker shade of '#rrggbb' (label text stays readable for light op colours)."""
    r, g, b = (int(hex_color[i : i + 2], 16) for i in (1, 3, 5))
    return f"#{int(r * factor):02x}{int(g * factor):02x}{int(b * factor):02x}"


@dataclass(frozen=True)
class Axes:
    """Which plotly axes a cell is drawn on ("x"/"y", "x2"/"y2", ...)."""

    x: str = "x"
    y: str = "y"


def _edge_hover(edge: CellEdge, cell: str, C: int) -> str:
    stride = 2 if cell == "reduce" and edge.source in (0, 1) else 1
    params = op_param_count(edge.op, C, stride)
    params_text = "n/a" if params is None else f"{params:,}"
    return (
        f"<b>{edge.op}</b><br>from: {state_name(edge.source, True)}"
        f"<br>to: node {state_name(edge.target)}<br>stride: {stride}"
        f"<br>params at C={C}: {params_text}"
    )


ARROW_PX = 10


def _arrow_points(path: np.ndarray, target: CellNode) -> tuple[np.ndarray, np.ndarray]:
    """(tail, head) of the arrowhead where the curve reaches the target node's outline."""
    half = NODE_HALF_PX[target.kind] + ARROW_PX / 2
    inside = (np.abs(path[:, 0] - target.x) <= half) & (np.abs(path[:, 1] - target.y) <= half)
    k = max(int(np.argmax(inside)) if inside.any() else len(path) - 1, 1)
    return path[k - 1], path[k]


def _polyline(paths: Sequence[np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    """Concatenate [P, 2] paths into x and y arrays with a NaN gap after each curve (one trace,
    many curves; NaN becomes null in the figure JSON). Arrays, not lists: plotly copies them
    without per-element checks."""
    if not paths:
        return np.zeros(0), np.zeros(0)
    gap = np.full((1, 2), np.nan)
    pts = np.concatenate([part for p in paths for part in (np.round(p, 1), gap)])
    return pts[:, 0], pts[:, 1]


def _rgba(hex_color: str, alpha: float) -> str:
    r, g, b = (int(hex_color[i : i + 2], 16) for i in (1, 3, 5))
    return f"rgba({r},{g},{b},{alpha})"


def _lines_trace(
    paths: Sequence[np.ndarray],
    name: str,
    color: str,
    width: float,
    opacity: float,
    show_legend: bool,
    axes: Axes,
    meta: dict,
    dash: str = "solid",
) -> dict:
    xs, ys = _polyline(paths)
    return dict(
        type="scatter",
        x=xs,
        y=ys,
        mode="lines",
        name=name,
        legendgroup=name,
        showlegend=show_legend,
        line=dict(color=color, width=width, dash=dash),
        opacity=opacity,
        hoverinfo="skip",
        meta=meta,
        xaxis=axes.x,
        yaxis=axes.y,
    )


def _arrows_trace(
    edges: Sequence[CellEdge], nodes: dict[int, CellNode], alpha: Sequence[float], axes: Axes
) -> dict:
    """All arrowheads of a cell: 'arrow' markers turned along their segment (angleref
    'previous'; each head is preceded by an invisible tail point), coloured per edge."""
    xs, ys, sizes, colors = [], [], [], []
    for e, a in zip(edges, alpha):
        tail, head = _arrow_points(e.path, nodes[e.target])
        xs += [tail[0], head[0], np.nan]
        ys += [tail[1], head[1], np.nan]
        color = _rgba(op_color(e.op) if e.op else CONCAT_COLOR, a)
        sizes += [0, ARROW_PX, 0]
        colors += [color, color, color]
    xs = np.round(np.array(xs, dtype=np.float64), 1)
    ys = np.round(np.array(ys, dtype=np.float64), 1)
    return dict(
        type="scatter",
        x=xs,
        y=ys,
        mode="markers",
        showlegend=False,
        name="arrows",
        marker=dict(
            symbol="arrow",
            angleref="previous",
            size=np.array(sizes),
            color=colors,
            line=dict(width=0),
        ),
        hoverinfo="skip",
        meta={"role": "arrows"},
        xaxis=axes.x,
        yaxis=axes.y,
    )


def _labels_trace(
    edges: Sequence[CellEdge], alpha: Sequence[float], cell: str, C: int, axes: Axes
) -> dict:
    """The op labels of a cell (text on the curves, white halo) carrying the hover text
    (op, from, to, stride, params) and customdata [slot, source, target] per edge."""
    return dict(
        type="scatter",
        x=[e.label_xy[0] for e in edges],
        y=[e.label_xy[1] for e in edges],
        mode="text",
        text=[e.op for e in edges],
        name="ops",
        showlegend=False,
        textfont=dict(
            size=LABEL_FONT_PX,
            family=FONT_FAMILY,
            shadow=LABEL_HALO,
            color=[_rgba(_darker(op_color(e.op)), max(a, 0.5)) for e, a in zip(edges, alpha)],
        ),
        hovertext=[_edge_hover(e, cell, C) for e in edges],
        hoverinfo="text",
        customdata=[[e.slot, e.source, e.target] for e in edges],
        meta={"role": "op_labels"},
        xaxis=axes.x,
        yaxis=axes.y,
    )


FADED_ALPHA = 0.3


def cell_traces(
    layout: CellLayout,
    cell: str = "normal",
    C: int = 16,
    highlight: set[tuple] | None = None,
    axes: Axes | None = None,
    ops: Sequence[str] | None = None,
    legend: bool = True,
    legend_shown: set[str] | None = None,
) -> list[dict]:
    """Plotly trace dicts of a laid-out cell (no layout annotations, so they animate in frames).

    Per op a line trace (the legend entry, in the op's colour); then the concat edges (dashed),
    all arrowheads (one trace), all op labels (one text trace with the hover text and
    customdata [slot, source, target]) and the nodes. `highlight`: keys ("op", slot) /
    ("concat", source) of edges to emphasise, the others are faded (the comparison view); ops
    with both kinds get a second line trace. `ops`: a fixed op list so that animation frames
    keep the same traces (absent ops give empty traces). `legend_shown`: names already in the
    legend (shared across panels; updated).
    """
    axes = axes or Axes()
    nodes = {n.index: n for n in layout.nodes}
    op_edges = layout.op_edges
    ops = list(ops) if ops is not None else sorted({e.op for e in op_edges})
    shown = legend_shown if legend_shown is not None else set()

    def bold(key: tuple) -> bool:
        return highlight is None or key in highlight

    traces: list[dict] = []
    for op in ops:
        edges = [e for e in op_edges if e.op == op]
        groups = [
            (True, [e for e in edges if bold(("op", e.slot))]),
            (False, [e for e in edges if not bold(("op", e.slot))]),
        ]
        groups = [g for g in groups if g[1]] or [(True, [])]
        for rank, (strong, group) in enumerate(groups):
            show = legend and rank == 0 and bool(edges) and op not in shown
            width = (4.0 if highlight is not None else 2.2) if strong else 1.6
            traces.append(
                _lines_trace(
                    [e.path for e in group],
                    op,
                    op_color(op),
                    width,
                    1.0 if strong else FADED_ALPHA,
                    show,
                    axes,
                    {"role": "op_lines", "op": op},
                )
            )
            shown |= {op} if show else set()
    for strong in (True, False):
        group = [e for e in layout.concat_edges if bold(("concat", e.source)) == strong]
        if group or strong:
            show = legend and strong and "concat" not in shown
            traces.append(
                _lines_trace(
                    [e.path for e in group],
                    "concat",
                    CONCAT_COLOR,
                    3.0 if (highlight is not None and strong) else 1.4,
                    1.0 if strong else FADED_ALPHA,
                    show,
                    axes,
                    {"role": "concat", "sources": [e.source for e in group]},
                    dash="dash",
                )
            )
            shown |= {"concat"} if show else set()
    alpha = [
        1.0 if bold(("op", e.slot) if e.op else ("concat", e.source)) else FADED_ALPHA
        for e in layout.edges
    ]
    traces.append(_arrows_trace(layout.edges, nodes, alpha, axes))
    traces.append(_labels_trace(op_edges, alpha[: len(op_edges)], cell, C, axes))
    traces.append(_node_trace(layout, axes))
    return traces


def _node_trace(layout: CellLayout, axes: Axes) -> dict:
    symbol = {"input": "square", "intermediate": "circle", "output": "square"}
    fills, sizes, symbols, hovers, texts = [], [], [], [], []
    concat_sources = sorted(e.source for e in layout.concat_edges)
    for n in layout.nodes:
        fills.append(NODE_FILL["unused" if not n.used else n.kind])
        sizes.append(2 * NODE_HALF_PX[n.kind])
        symbols.append(symbol[n.kind])
        texts.append(state_name(n.index, html=True))
        if n.kind == "input":
            hovers.append(f"input {texts[-1]} (state {n.index})")
        elif n.kind == "output":
            hovers.append(
                "output c<sub>k</sub> = concat of "
                + ", ".join(state_name(s, True) for s in concat_sources)
            )
        else:
            ins = [e for e in layout.op_edges if e.target == n.index]
            hovers.append(
                f"node {n.name}<br>"
                + "<br>".join(f"{e.op}({state_name(e.source, True)})" for e in ins)
                + ("" if n.used else "<br>(unused: not concatenated, not consumed)")
            )
    return dict(
        type="scatter",
        x=[n.x for n in layout.nodes],
        y=[n.y for n in layout.nodes],
        mode="markers+text",
        text=texts,
        textposition="middle center",
        textfont=dict(size=12, color=TEXT_COLOR),
        marker=dict(size=sizes, color=fills, symbol=symbols, line=dict(color="#4b5563", width=1.2)),
        hovertext=hovers,
        hoverinfo="text",
        showlegend=False,
        name="states",
        meta={"role": "nodes"},
        xaxis=axes.x,
        yaxis=axes.y,
    )


def hidden_axis(domain: tuple[float, float], extent: float, anchor: str) -> dict:
    return dict(
        domain=list(domain), range=[0, extent], visible=False, fixedrange=True, anchor=anchor
    )
