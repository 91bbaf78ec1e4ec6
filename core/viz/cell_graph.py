"""Cell graphs: a genotype's normal or reduction cell drawn as an interactive plotly figure.

A NASNet/DARTS cell (Zoph et al. 2018; Liu et al. 2019, section 2.1) has two inputs c_{k-2} and
c_{k-1}, N intermediate nodes each summing two operations applied to earlier states, and an
output c_{k} that concatenates exactly the states in the genotype's concat list (NASNet and
AmoebaNet concatenate only the nodes not consumed inside the cell, and may list an input; the
DARTS authors' plot always joins every intermediate node, which draws those cells wrongly).

Layout: states are placed in layers left to right by longest path from the inputs; within a
layer by the mean height of their inputs (fewer crossings). Edges are quadratic Bezier curves;
each op label sits on its curve, and a small greedy router picks, edge by edge, the curve bend
and label position with the least cost (labels overlapping labels or nodes, curves through
other nodes, parallel edges on top of each other). Coordinates are nominal pixels of the plot
area, so label sizes can be compared with distances.

`cell_figure(genotype, "normal")` and `compare_figure(a, b, "normal")` are the public entry
points; `layout_cell` is the geometry alone (tested for overlaps).
"""

from __future__ import annotations

import logging
from collections import Counter
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, Iterable, Sequence

import numpy as np
import plotly.graph_objects as go

from core.nas.genotypes import CELL_KINDS, Genotype, GenotypeError
from core.viz.common import FONT_FAMILY, TEXT_COLOR, base_layout
from core.viz.detections import class_color_hex

log = logging.getLogger(__name__)

OUTPUT = -1  # state index used for the cell output c_{k}
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
NODE_FILL = {"input": "#b7dfb0", "intermediate": "#a9c8ef", "output": "#f2da8d", "unused": "#e5e7eb"}
LABEL_FONT_PX = 11
LABEL_HALO = "0 0 2px #fff, 0 0 2px #fff, 0 0 3px #fff"  # CSS text-shadow: white halo over lines
CHAR_PX = 6.3          # mean glyph width of the label font at LABEL_FONT_PX (conservative)
LABEL_PAD_PX = 8
LABEL_H_PX = 17
NODE_HALF_PX = {"input": 21, "intermediate": 17, "output": 21}
PLOT_W_PX = 584        # nominal plot-area width at a 600 px figure
PAD_X_PX = 30
PAD_Y_PX = 26
BEND_CANDIDATES_PX = (0, 20, -20, 38, -38, 58, -58, 80, -80)
T_CANDIDATES = (0.5, 0.42, 0.58, 0.34, 0.66, 0.27, 0.73)
CURVE_SAMPLES = 25
CONCAT_GAP_WEIGHT = 0.6


@dataclass(frozen=True)
class CellNode:
    """A state of the cell at (x, y) nominal px (y up). index: 0/1 inputs, 2.. nodes, -1 output."""

    index: int
    name: str
    kind: str        # "input" | "intermediate" | "output"
    layer: int
    x: float
    y: float
    used: bool       # False for an intermediate node neither consumed nor concatenated


@dataclass(frozen=True)
class CellEdge:
    """One op edge (op set) or concat edge (op None) from state `source` to state `target`.

    path: [P, 2] px points of the curve; label_box: (x1, y1, x2, y2) px of the op label or None;
    slot: position in the genotype's pair list (None for concat edges).
    """

    op: str | None
    source: int
    target: int
    slot: int | None
    path: np.ndarray
    label_xy: tuple[float, float] | None
    label_box: tuple[float, float, float, float] | None


@dataclass(frozen=True)
class CellLayout:
    """Geometry of one cell: nodes, op edges then concat edges, plot size in px."""

    nodes: tuple[CellNode, ...]
    edges: tuple[CellEdge, ...]
    width: float
    height: float

    def node(self, index: int) -> CellNode:
        return next(n for n in self.nodes if n.index == index)

    @property
    def op_edges(self) -> tuple[CellEdge, ...]:
        return tuple(e for e in self.edges if e.op is not None)

    @property
    def concat_edges(self) -> tuple[CellEdge, ...]:
        return tuple(e for e in self.edges if e.op is None)


def as_genotype(genotype: Genotype | dict | str) -> Genotype:
    """Accept a Genotype, its dict form (store rows) or its JSON text."""
    if isinstance(genotype, Genotype):
        return genotype
    if isinstance(genotype, str):
        return Genotype.from_json(genotype)
    if isinstance(genotype, dict):
        return Genotype.from_dict(genotype)
    raise GenotypeError(f"expected a Genotype, dict or JSON string, got {type(genotype).__name__}")


def op_color(op: str) -> str:
    """Colour of an op type (fixed for the known ops, stable fallback for others)."""
    if op in OP_COLORS:
        return OP_COLORS[op]
    return class_color_hex(20 + sum(op.encode()) % 97)


def _darker(hex_color: str, factor: float = 0.72) -> str:
    """A darker shade of '#rrggbb' (label text stays readable for light op colours)."""
    r, g, b = (int(hex_color[i:i + 2], 16) for i in (1, 3, 5))
    return "#%02x%02x%02x" % (int(r * factor), int(g * factor), int(b * factor))


def state_name(index: int, html: bool = False) -> str:
    """Display name of a state: c_{k-2}, c_{k-1}, node numbers 0.., c_{k} for the output."""
    if index == OUTPUT:
        return "c<sub>k</sub>" if html else "c_{k}"
    if index in (0, 1):
        sub = "k-2" if index == 0 else "k-1"
        return f"c<sub>{sub}</sub>" if html else f"c_{{{sub}}}"
    return str(index - 2)


@lru_cache(maxsize=256)
def op_param_count(op: str, C: int, stride: int) -> int | None:
    """Parameters of OPS[op](C, stride, affine=True); None if the op is unknown."""
    from core.nas.operations import OPS  # torch modules; imported on first use

    if op not in OPS:
        return None
    return int(sum(p.numel() for p in OPS[op](C, stride, True).parameters()))


# -- geometry ------------------------------------------------------------------------------------

def _layers(pairs: Sequence[tuple[str, int]]) -> dict[int, int]:
    layer = {0: 0, 1: 0}
    for i in range(len(pairs) // 2):
        layer[i + 2] = 1 + max(layer[pairs[2 * i][1]], layer[pairs[2 * i + 1][1]])
    return layer


def _place_nodes(pairs: Sequence[tuple[str, int]], concat: Sequence[int], width: float,
                 height: float) -> list[CellNode]:
    layer = _layers(pairs)
    out_layer = max(layer.values()) + 1
    inputs_of = {i + 2: (pairs[2 * i][1], pairs[2 * i + 1][1]) for i in range(len(pairs) // 2)}
    inputs_of[OUTPUT] = tuple(concat)
    layer[OUTPUT] = out_layer
    consumed = {src for _, src in pairs} | set(concat)
    by_layer: dict[int, list[int]] = {}
    for state in sorted(layer, key=lambda s: (layer[s], s if s >= 0 else 10**6)):
        by_layer.setdefault(layer[state], []).append(state)
    max_count = max(len(v) for v in by_layer.values())
    spacing = (height - 2 * PAD_Y_PX) / max(max_count - 1, 1)
    xs = _layer_x(by_layer, width)
    ys: dict[int, float] = {}
    nodes = []
    for lay in range(out_layer + 1):
        states = by_layer[lay]
        if lay > 0:  # barycentre ordering: higher inputs first (y grows upward)
            states = sorted(states, key=lambda s: -float(np.mean([ys[i] for i in inputs_of[s]])))
        x = xs[lay]
        for rank, state in enumerate(states):
            y = height / 2 + ((len(states) - 1) / 2 - rank) * spacing
            ys[state] = y
            kind = "input" if state in (0, 1) else "output" if state == OUTPUT else "intermediate"
            nodes.append(CellNode(state, state_name(state), kind, lay, x, y,
                                  used=kind != "intermediate" or state in consumed))
    return nodes


def _layer_x(by_layer: dict[int, list[int]], width: float) -> list[float]:
    """x of each layer: op gaps widen with the number of edges entering the next layer, the last
    gap (concat edges, no labels) is narrower."""
    last = max(by_layer)
    gaps = [1.0 + 0.1 * 2 * len(by_layer[k]) if k < last else CONCAT_GAP_WEIGHT
            for k in range(1, last + 1)]
    scale = (width - 2 * PAD_X_PX) / sum(gaps)
    return [PAD_X_PX + scale * sum(gaps[:k]) for k in range(last + 1)]


def _bezier(p0: np.ndarray, p2: np.ndarray, bend: float) -> tuple[np.ndarray, np.ndarray]:
    """Quadratic curve from p0 to p2 whose middle is `bend` px off the chord; ([P,2] points, control)."""
    chord = p2 - p0
    normal = np.array([-chord[1], chord[0]]) / max(float(np.hypot(*chord)), 1e-9)
    ctrl = (p0 + p2) / 2 + 2 * bend * normal
    t = np.linspace(0.0, 1.0, CURVE_SAMPLES)[:, None]
    return (1 - t) ** 2 * p0 + 2 * (1 - t) * t * ctrl + t ** 2 * p2, ctrl


def _point_at(p0: np.ndarray, ctrl: np.ndarray, p2: np.ndarray, t: float) -> np.ndarray:
    return (1 - t) ** 2 * p0 + 2 * (1 - t) * t * ctrl + t ** 2 * p2


def label_width_px(text: str) -> float:
    """Estimated width of an op label (text plus padding) in px."""
    return len(text) * CHAR_PX + LABEL_PAD_PX


def _overlap(a: Sequence[float], b: Sequence[float]) -> float:
    """Overlap area of two (x1, y1, x2, y2) rectangles."""
    w = min(a[2], b[2]) - max(a[0], b[0])
    h = min(a[3], b[3]) - max(a[1], b[1])
    return max(w, 0.0) * max(h, 0.0)


def _node_box(node: CellNode, margin: float = 3.0) -> tuple[float, float, float, float]:
    half = NODE_HALF_PX[node.kind] + margin
    return node.x - half, node.y - half, node.x + half, node.y + half


@dataclass
class _RouteState:
    labels: list[tuple[float, float, float, float]]
    paths: list[np.ndarray]
    bends: dict[tuple[int, int], list[float]]


def _inside_any(points: np.ndarray, boxes: np.ndarray) -> np.ndarray:
    """bool [K]: whether any of the [P, 2] points lies strictly inside each of the [K, 4] boxes."""
    if len(boxes) == 0:
        return np.zeros(0, dtype=bool)
    x, y = points[:, 0:1], points[:, 1:2]  # [P, 1]
    hit = (x > boxes[:, 0]) & (x < boxes[:, 2]) & (y > boxes[:, 1]) & (y < boxes[:, 3])  # [P, K]
    return hit.any(axis=0)


def _path_cost(path: np.ndarray, bend: float, pair: tuple[int, int], nodes: Sequence[CellNode],
               state: _RouteState) -> float:
    """Cost of a curve: bending, running through nodes it does not connect, doubling a parallel
    edge, crossing placed labels (labels are opaque, so a small cost)."""
    others = np.array([_node_box(n, margin=4.0) for n in nodes if n.index not in pair])
    cost = abs(bend) / 20 + 60 * float(_inside_any(path, others).sum())
    cost += 80 * sum(abs(other - bend) < 18 for other in state.bends.get(pair, []))
    labels = np.array([b for b in state.labels if b is not None]).reshape(-1, 4)
    return cost + 4 * float(_inside_any(path, labels).sum())


def _label_cost(box: tuple[float, float, float, float], t: float, node_boxes: Sequence[tuple],
                state: _RouteState, width: float, height: float) -> float:
    """Cost of an op label: off-centre, outside the plot, overlapping labels or nodes, hiding
    another edge."""
    area = (box[2] - box[0]) * (box[3] - box[1])
    cost = abs(t - 0.5) * 8
    if box[0] < 0 or box[1] < 0 or box[2] > width or box[3] > height:
        cost += 200
    cost += 300 * sum(_overlap(box, other) for other in state.labels if other is not None) / area
    cost += 300 * sum(_overlap(box, nb) for nb in node_boxes) / area
    if state.paths:  # count the placed curves that pass under this label
        pts = np.concatenate(state.paths)
        ids = np.repeat(np.arange(len(state.paths)), [len(p) for p in state.paths])
        hit = ((pts[:, 0] > box[0]) & (pts[:, 0] < box[2]) & (pts[:, 1] > box[1])
               & (pts[:, 1] < box[3]))
        cost += 3 * len(np.unique(ids[hit]))
    return cost


def _route(p0: np.ndarray, p2: np.ndarray, label: str | None, pair: tuple[int, int],
           nodes: Sequence[CellNode], state: _RouteState, width: float, height: float):
    """Cheapest (path, label centre, label box, bend) over the bend and label-position candidates."""
    best = None
    w_label = label_width_px(label) if label else 0.0
    node_boxes = [_node_box(n) for n in nodes]
    for bend in BEND_CANDIDATES_PX:
        path, ctrl = _bezier(p0, p2, bend)
        path_cost = _path_cost(path, bend, pair, nodes, state)
        if best is not None and path_cost >= best[0]:
            continue
        if not label:
            best = (path_cost, path, None, None, bend)
            continue
        for t in T_CANDIDATES:
            c = _point_at(p0, ctrl, p2, t)
            box = (c[0] - w_label / 2, c[1] - LABEL_H_PX / 2, c[0] + w_label / 2,
                   c[1] + LABEL_H_PX / 2)
            cost = path_cost + _label_cost(box, t, node_boxes, state, width, height)
            if best is None or cost < best[0]:
                best = (cost, path, c, box, bend)
    _, path, centre, box, bend = best
    return path, None if centre is None else (float(centre[0]), float(centre[1])), box, bend


def layout_cell(genotype: Genotype | dict, cell: str = "normal", width: float = PLOT_W_PX,
                height: float | None = None) -> CellLayout:
    """Node positions and routed edges of one cell, in nominal px (origin bottom-left)."""
    pairs, concat = as_genotype(genotype).cell(cell)
    if height is None:
        height = cell_height_px(pairs)
    nodes = _place_nodes(pairs, concat, width, height)
    pos = {n.index: np.array([n.x, n.y]) for n in nodes}
    # route long edges first (they have the fewest good options), then by target
    order = sorted(range(len(pairs)),
                   key=lambda k: (-abs(pos[k // 2 + 2][0] - pos[pairs[k][1]][0]), k))
    state = _RouteState(labels=[], paths=[], bends={})
    routed: dict[int, CellEdge] = {}
    for k in order:
        op, src = pairs[k]
        dst = k // 2 + 2
        path, centre, box, bend = _route(pos[src], pos[dst], op, (src, dst), nodes, state, width,
                                         height)
        state.labels.append(box)
        state.paths.append(path)
        state.bends.setdefault((src, dst), []).append(bend)
        routed[k] = CellEdge(op, src, dst, k, path, centre, box)
    concat_edges = []
    for src in concat:
        path, _, _, bend = _route(pos[src], pos[OUTPUT], None, (src, OUTPUT), nodes, state, width,
                                  height)
        state.paths.append(path)
        state.bends.setdefault((src, OUTPUT), []).append(bend)
        concat_edges.append(CellEdge(None, src, OUTPUT, None, path, None, None))
    edges = tuple(routed[k] for k in range(len(pairs))) + tuple(concat_edges)
    return CellLayout(tuple(nodes), edges, float(width), float(height))


def cell_height_px(pairs: Sequence[tuple[str, int]]) -> float:
    """Plot-area height: enough room for the most crowded layer."""
    counts = Counter(_layers(pairs).values())
    return float(min(max(82 * max(counts.values()) + 20, 240), 440))


# -- figure ----------------------------------------------------------------------------------------

@dataclass(frozen=True)
class _Axes:
    """Which plotly axes a cell is drawn on ("x"/"y", "x2"/"y2", ...)."""

    x: str = "x"
    y: str = "y"


def _edge_hover(edge: CellEdge, cell: str, C: int) -> str:
    stride = 2 if cell == "reduce" and edge.source in (0, 1) else 1
    params = op_param_count(edge.op, C, stride)
    params_text = "n/a" if params is None else f"{params:,}"
    return (f"<b>{edge.op}</b><br>from: {state_name(edge.source, True)}"
            f"<br>to: node {state_name(edge.target)}<br>stride: {stride}"
            f"<br>params at C={C}: {params_text}")


ARROW_PX = 10


def _arrow_points(path: np.ndarray, target: CellNode) -> tuple[np.ndarray, np.ndarray]:
    """(tail, head) of the arrowhead where the curve reaches the target node's outline."""
    half = NODE_HALF_PX[target.kind] + ARROW_PX / 2
    inside = (np.abs(path[:, 0] - target.x) <= half) & (np.abs(path[:, 1] - target.y) <= half)
    k = max(int(np.argmax(inside)) if inside.any() else len(path) - 1, 1)
    return path[k - 1], path[k]


def _polyline(paths: Iterable[np.ndarray]) -> tuple[list, list]:
    """Concatenate [P, 2] paths into x/y lists separated by None (one trace, many curves)."""
    xs: list = []
    ys: list = []
    for p in paths:
        xs.extend(np.round(p[:, 0], 1).tolist() + [None])
        ys.extend(np.round(p[:, 1], 1).tolist() + [None])
    return xs, ys


def _arrow_trace(pairs: Sequence[tuple[np.ndarray, np.ndarray]], color: str, opacity: float,
                 group: str, axes: "_Axes") -> go.Scatter:
    """Arrowheads as 'arrow' markers turned along their segment (angleref='previous')."""
    xs, ys, sizes = [], [], []
    for tail, head in pairs:
        xs += [round(float(tail[0]), 1), round(float(head[0]), 1), None]
        ys += [round(float(tail[1]), 1), round(float(head[1]), 1), None]
        sizes += [0, ARROW_PX, 0]
    return go.Scatter(x=xs, y=ys, mode="markers", legendgroup=group, showlegend=False,
                      marker=dict(symbol="arrow", angleref="previous", size=sizes, color=color,
                                  line=dict(width=0)),
                      opacity=opacity, hoverinfo="skip", meta={"role": "arrows"},
                      xaxis=axes.x, yaxis=axes.y)


def _op_traces(op: str, edges: Sequence[CellEdge], nodes: dict[int, CellNode], width: float,
               opacity: float, show_legend: bool, cell: str, C: int, group: str,
               axes: "_Axes") -> list[go.Scatter]:
    """Lines, arrowheads and labels (with the hover text) of the edges of one op."""
    color = op_color(op)
    xs, ys = _polyline(e.path for e in edges)
    lines = go.Scatter(x=xs, y=ys, mode="lines", name=op, legendgroup=group,
                       showlegend=show_legend, line=dict(color=color, width=width),
                       opacity=opacity, hoverinfo="skip", meta={"role": "op_lines", "op": op},
                       xaxis=axes.x, yaxis=axes.y)
    arrows = _arrow_trace([_arrow_points(e.path, nodes[e.target]) for e in edges], color,
                          opacity, group, axes)
    labels = go.Scatter(
        x=[e.label_xy[0] for e in edges], y=[e.label_xy[1] for e in edges], mode="text",
        text=[op] * len(edges), name=op, legendgroup=group, showlegend=False,
        textfont=dict(size=LABEL_FONT_PX, color=_darker(color), family=FONT_FAMILY, shadow=LABEL_HALO),
        hovertext=[_edge_hover(e, cell, C) for e in edges], hoverinfo="text",
        customdata=[[e.slot, e.source, e.target] for e in edges], opacity=max(opacity, 0.5),
        meta={"role": "op_labels", "op": op}, xaxis=axes.x, yaxis=axes.y)
    return [lines, arrows, labels]


def cell_traces(layout: CellLayout, cell: str = "normal", C: int = 16,
                highlight: set[tuple] | None = None, axes: "_Axes | None" = None,
                ops: Sequence[str] | None = None, legend: bool = True,
                legend_shown: set[str] | None = None) -> list[go.Scatter]:
    """Plotly traces of a laid-out cell (no layout annotations, so they animate in frames).

    Per op: a line trace (the legend entry, in the op's colour), an arrowhead trace and a text
    trace with the op labels that carries the hover text (op, from, to, stride, params) and
    customdata [slot, source, target]. Then the concat edges (dashed) and the nodes.
    `highlight`: keys ("op", slot) / ("concat", source) of edges to emphasise, the others are
    faded (the comparison view); ops with both kinds get a second set of three traces.
    `ops`: a fixed op list so that animation frames keep the same traces (absent ops give
    empty traces). `legend_shown`: names already in the legend (shared across panels; updated).
    """
    axes = axes or _Axes()
    nodes = {n.index: n for n in layout.nodes}
    op_edges = layout.op_edges
    ops = list(ops) if ops is not None else sorted({e.op for e in op_edges})
    traces: list[go.Scatter] = []
    shown = legend_shown if legend_shown is not None else set()
    for op in ops:
        edges = [e for e in op_edges if e.op == op]
        if highlight is None:
            groups = [(2.2, 1.0, edges)]
        else:
            groups = [(4.0, 1.0, [e for e in edges if ("op", e.slot) in highlight]),
                      (1.6, 0.3, [e for e in edges if ("op", e.slot) not in highlight])]
            groups = [g for g in groups if g[2]] or [(2.2, 1.0, [])]
        for rank, (width, opacity, group) in enumerate(groups):
            show = legend and rank == 0 and bool(edges) and op not in shown
            traces += _op_traces(op, group, nodes, width, opacity, show, cell, C, op, axes)
            shown |= {op} if show else set()
    traces += _concat_traces(layout, highlight, axes, legend and "concat" not in shown)
    shown.add("concat")
    traces.append(_node_trace(layout, axes))
    return traces


def _concat_traces(layout: CellLayout, highlight: set[tuple] | None, axes: "_Axes",
                   legend: bool) -> list[go.Scatter]:
    """Dashed concat edges into c_{k} (bold/faded split when highlighting), with arrowheads."""
    out = []
    target = next(n for n in layout.nodes if n.index == OUTPUT)
    for faded in (False, True):
        group = [e for e in layout.concat_edges
                 if (highlight is not None and ("concat", e.source) not in highlight) == faded]
        if faded and not group:
            continue
        xs, ys = _polyline(e.path for e in group)
        width = 3.0 if (highlight is not None and not faded) else 1.4
        opacity = 0.3 if faded else 1.0
        out.append(go.Scatter(
            x=xs, y=ys, mode="lines", name="concat", legendgroup="concat",
            showlegend=legend and not faded, opacity=opacity,
            line=dict(color=CONCAT_COLOR, width=width, dash="dash"), hoverinfo="skip",
            meta={"role": "concat", "sources": [e.source for e in group]},
            xaxis=axes.x, yaxis=axes.y))
        out.append(_arrow_trace([_arrow_points(e.path, target) for e in group], CONCAT_COLOR,
                                opacity, "concat", axes))
    return out


def _node_trace(layout: CellLayout, axes: _Axes) -> go.Scatter:
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
            hovers.append("output c<sub>k</sub> = concat of "
                          + ", ".join(state_name(s, True) for s in concat_sources))
        else:
            ins = [e for e in layout.op_edges if e.target == n.index]
            hovers.append(f"node {n.name}<br>" + "<br>".join(
                f"{e.op}({state_name(e.source, True)})" for e in ins)
                + ("" if n.used else "<br>(unused: not concatenated, not consumed)"))
    return go.Scatter(
        x=[n.x for n in layout.nodes], y=[n.y for n in layout.nodes], mode="markers+text",
        text=texts, textposition="middle center", textfont=dict(size=12, color=TEXT_COLOR),
        marker=dict(size=sizes, color=fills, symbol=symbols, line=dict(color="#4b5563", width=1.2)),
        hovertext=hovers, hoverinfo="text", showlegend=False, name="states",
        meta={"role": "nodes"}, xaxis=axes.x, yaxis=axes.y)


def _axis(domain: tuple[float, float], extent: float, anchor: str) -> dict:
    return dict(domain=list(domain), range=[0, extent], visible=False, fixedrange=True,
                anchor=anchor)


LEGEND_PX = 64
TITLE_PX = 36
MARGIN_PX = 8
PANEL_GAP_PX = 24


def cell_figure(genotype: Genotype | dict | str, cell: str = "normal", C: int = 16,
                title: str | None = None, width: int = 600) -> go.Figure:
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
    return go.Figure(data=cell_traces(lay, cell, C), layout=base_layout(
        title=title, height=int(lay.height + top + LEGEND_PX),
        margin=dict(l=MARGIN_PX, r=MARGIN_PX, t=top, b=LEGEND_PX),
        legend=dict(orientation="h", yanchor="top", y=-0.02, x=0, font=dict(size=11)),
        hovermode="closest", dragmode=False, meta=_meta(lay, cell),
        xaxis=_axis((0, 1), lay.width, "y"), yaxis=_axis((0, 1), lay.height, "x")))


def _meta(lay: CellLayout, cell: str) -> dict:
    return {"cell": cell, "op_edges": len(lay.op_edges), "concat_edges": len(lay.concat_edges),
            "ops": sorted({e.op for e in lay.op_edges}),
            "concat": [e.source for e in lay.concat_edges]}


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
            other = Counter(py[2 * node:2 * node + 2]) if 2 * node < len(py) else Counter()
            for slot in (2 * node, 2 * node + 1):
                if other[px[slot]] > 0:
                    other[px[slot]] -= 1
                else:
                    out.add(("op", slot))
        out |= {("concat", s) for s in cx if s not in cy}
        return out

    return diff(a, b), diff(b, a)


def _panel_domains(arrangement: str, panel_w: float, panel_h: float
                   ) -> tuple[list[tuple[tuple, tuple]], float]:
    """Paper-coordinate (x, y) domains of the two panels and the total plot height in px."""
    if arrangement == "columns":
        total_w = 2 * panel_w + PANEL_GAP_PX
        return [((0.0, panel_w / total_w), (0.0, 1.0)),
                ((1 - panel_w / total_w, 1.0), (0.0, 1.0))], panel_h
    total_h = 2 * panel_h + TITLE_PX
    return [((0.0, 1.0), (1 - panel_h / total_h, 1.0)), ((0.0, 1.0), (0.0, panel_h / total_h))], total_h


def compare_figure(genotype_a: Genotype | dict | str, genotype_b: Genotype | dict | str,
                   cell: str = "normal", C: int = 16, names: tuple[str, str] = ("A", "B"),
                   arrangement: str = "columns", width: int = 1200) -> go.Figure:
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
        axes = _Axes("x" if i == 0 else "x2", "y" if i == 0 else "y2")
        traces += cell_traces(lay, cell, C, highlight=hl, axes=axes, legend_shown=shown)
        layout["xaxis" if i == 0 else "xaxis2"] = _axis(xdom, lay.width, axes.y)
        layout["yaxis" if i == 0 else "yaxis2"] = _axis(ydom, lay.height, axes.x)
        n_diff = sum(1 for k in hl if k[0] == "op")
        titles.append(dict(
            text=f"<b>{name}</b> · {cell} cell · {n_diff} differing op edge{'s' * (n_diff != 1)}",
            x=xdom[0], y=ydom[1], xref="paper", yref="paper", xanchor="left", yanchor="bottom",
            showarrow=False, font=dict(size=13)))
    return go.Figure(data=traces, layout=base_layout(
        height=int(plot_h + TITLE_PX + LEGEND_PX),
        margin=dict(l=MARGIN_PX, r=MARGIN_PX, t=TITLE_PX, b=LEGEND_PX),
        legend=dict(orientation="h", yanchor="top", y=-0.02, x=0, font=dict(size=11)),
        annotations=titles, hovermode="closest", dragmode=False,
        meta={"cell": cell, "differing": [len(diffs[0]), len(diffs[1])]}, **layout))
