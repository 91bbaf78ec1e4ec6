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
NODE_FILL = {"input": "#b7dfb0", "intermediate": "#a9c8ef", "output": "#f2da8d",
             "unused": "#e5e7eb"}
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
CURVE_SAMPLES = 21
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
    """What the router has placed so far: label boxes [L, 4], curves [M, P, 2], bends per pair."""

    labels: list[tuple[float, float, float, float]]
    paths: list[np.ndarray]
    bends: dict[tuple[int, int], list[float]]


def _hits(points: np.ndarray, boxes: np.ndarray) -> np.ndarray:
    """bool [..., K]: whether any of the [..., P, 2] points is strictly inside each [K, 4] box."""
    x, y = points[..., :, 0:1], points[..., :, 1:2]  # [..., P, 1]
    inside = (x > boxes[:, 0]) & (x < boxes[:, 2]) & (y > boxes[:, 1]) & (y < boxes[:, 3])
    return inside.any(axis=-2)


def _overlap_areas(boxes: np.ndarray, others: np.ndarray) -> np.ndarray:
    """Summed overlap area [...] of each [..., 4] box with the [K, 4] boxes."""
    if len(others) == 0:
        return np.zeros(boxes.shape[:-1])
    b = boxes[..., None, :]
    w = np.minimum(b[..., 2], others[:, 2]) - np.maximum(b[..., 0], others[:, 0])
    h = np.minimum(b[..., 3], others[:, 3]) - np.maximum(b[..., 1], others[:, 1])
    return (np.clip(w, 0, None) * np.clip(h, 0, None)).sum(axis=-1)


_BENDS = np.array(BEND_CANDIDATES_PX, dtype=np.float64)  # [B]
_TS = np.array(T_CANDIDATES, dtype=np.float64)           # [T]
_GRID = np.linspace(0.0, 1.0, CURVE_SAMPLES)             # [P]


def _candidate_curves(p0: np.ndarray, p2: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Quadratic curves from p0 to p2 for every bend candidate: ([B, P, 2] points, [B, 2]
    control points); a curve's middle is `bend` px off the chord."""
    chord = p2 - p0
    normal = np.array([-chord[1], chord[0]]) / max(float(np.hypot(*chord)), 1e-9)
    ctrl = (p0 + p2) / 2 + 2 * _BENDS[:, None] * normal  # [B, 2]
    t = _GRID[None, :, None]
    return (1 - t) ** 2 * p0 + 2 * (1 - t) * t * ctrl[:, None, :] + t ** 2 * p2, ctrl


def _route(p0: np.ndarray, p2: np.ndarray, label: str | None, pair: tuple[int, int],
           nodes: Sequence[CellNode], state: _RouteState, width: float, height: float):
    """Cheapest (path, label centre, label box, bend) over all bend x label-position candidates.

    Curve cost: bending, running through a node it does not connect (60), lying on a parallel
    edge of the same pair (80), crossing a placed label (4). Label cost: off-centre, outside
    the plot (200), overlapping labels or nodes (300 x overlap fraction), hiding a placed
    curve (3 each). Ties go to the earlier candidate (straighter, more central).
    """
    paths, ctrl = _candidate_curves(p0, p2)                             # [B, P, 2], [B, 2]
    others = np.array([_node_box(n, margin=4.0) for n in nodes if n.index not in pair])
    labels = np.array(state.labels, dtype=np.float64).reshape(-1, 4)
    cost = (np.abs(_BENDS) / 20 + 60 * _hits(paths, others).sum(-1)
            + 4 * _hits(paths, labels).sum(-1))
    for other in state.bends.get(pair, []):
        cost += 80 * (np.abs(_BENDS - other) < 18)
    if not label:
        b = int(np.argmin(cost))
        return paths[b], None, None, float(_BENDS[b])
    t = _TS[None, :, None]
    centres = (1 - t) ** 2 * p0 + 2 * (1 - t) * t * ctrl[:, None, :] + t ** 2 * p2   # [B, T, 2]
    half = np.array([label_width_px(label) / 2, LABEL_H_PX / 2])
    boxes = np.concatenate([centres - half, centres + half], axis=-1)                 # [B, T, 4]
    area = 4 * half[0] * half[1]
    node_boxes = np.array([_node_box(n) for n in nodes])
    total = cost[:, None] + np.abs(_TS - 0.5) * 8
    total = total + 200 * ((boxes[..., 0] < 0) | (boxes[..., 1] < 0) | (boxes[..., 2] > width)
                           | (boxes[..., 3] > height))
    total = total + 300 * (_overlap_areas(boxes, labels) + _overlap_areas(boxes, node_boxes)) / area
    if state.paths:  # placed curves passing under the label
        placed = np.stack(state.paths)                                                 # [M, P, 2]
        x, y = placed[None, None, :, :, 0], placed[None, None, :, :, 1]
        bx = boxes[:, :, None, None, :]
        under = ((x > bx[..., 0]) & (x < bx[..., 2]) & (y > bx[..., 1]) & (y < bx[..., 3]))
        total = total + 3 * under.any(-1).sum(-1)
    b, k = np.unravel_index(int(np.argmin(total)), total.shape)
    box = tuple(float(v) for v in boxes[b, k])
    return paths[b], (float(centres[b, k, 0]), float(centres[b, k, 1])), box, float(_BENDS[b])


def _route_ops(pairs: Sequence[tuple[str, int]], order: Sequence[int], nodes: Sequence[CellNode],
               pos: dict[int, np.ndarray], width: float, height: float
               ) -> tuple[dict[int, CellEdge], _RouteState]:
    """Route the op edges one by one in `order`, each avoiding what is already placed."""
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
    return routed, state


def _label_clashes(edges: Iterable[CellEdge], nodes: Sequence[CellNode]) -> float:
    """Total overlap area of labels with each other and with nodes (0 for a clean layout)."""
    boxes = [e.label_box for e in edges]
    node_boxes = [_node_box(n, margin=0.0) for n in nodes]
    return (sum(_overlap(a, b) for i, a in enumerate(boxes) for b in boxes[i + 1:])
            + sum(_overlap(a, nb) for a in boxes for nb in node_boxes))


def _routing_orders(pairs: Sequence[tuple[str, int]], pos: dict[int, np.ndarray]
                    ) -> list[list[int]]:
    """Edge orders to try: long edges first (fewest good options), then variations."""
    span = {k: abs(pos[k // 2 + 2][0] - pos[pairs[k][1]][0]) for k in range(len(pairs))}
    long_first = sorted(span, key=lambda k: (-span[k], k))
    by_height = sorted(span, key=lambda k: (-pos[k // 2 + 2][1], -span[k], k))
    return [long_first, long_first[::-1], by_height, by_height[::-1]]


def layout_cell(genotype: Genotype | dict, cell: str = "normal", width: float = PLOT_W_PX,
                height: float | None = None) -> CellLayout:
    """Node positions and routed edges of one cell, in nominal px (origin bottom-left).

    The op edges are routed greedily in a few orders; the first order without label overlaps
    wins (else the one with the least overlap). Concat edges follow, avoiding the labels.
    """
    pairs, concat = as_genotype(genotype).cell(cell)
    if height is None:
        height = cell_height_px(pairs)
    nodes = _place_nodes(pairs, concat, width, height)
    pos = {n.index: np.array([n.x, n.y]) for n in nodes}
    best = None
    for order in _routing_orders(pairs, pos):
        routed, state = _route_ops(pairs, order, nodes, pos, width, height)
        clash = _label_clashes(routed.values(), nodes)
        if best is None or clash < best[0]:
            best = (clash, routed, state)
        if clash == 0:
            break
    _, routed, state = best
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
    return height_for_layer_size(max(Counter(_layers(pairs).values()).values()))


def height_for_layer_size(states: int) -> float:
    """Plot-area height (px) for a cell whose most crowded layer holds `states` states."""
    return float(min(max(82 * states + 20, 240), 440))


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
    r, g, b = (int(hex_color[i:i + 2], 16) for i in (1, 3, 5))
    return f"rgba({r},{g},{b},{alpha})"


def _lines_trace(paths: Sequence[np.ndarray], name: str, color: str, width: float,
                 opacity: float, show_legend: bool, axes: "_Axes", meta: dict,
                 dash: str = "solid") -> dict:
    xs, ys = _polyline(paths)
    return dict(type="scatter", x=xs, y=ys, mode="lines", name=name, legendgroup=name,
                showlegend=show_legend, line=dict(color=color, width=width, dash=dash),
                opacity=opacity, hoverinfo="skip", meta=meta, xaxis=axes.x, yaxis=axes.y)


def _arrows_trace(edges: Sequence[CellEdge], nodes: dict[int, CellNode],
                  alpha: Sequence[float], axes: "_Axes") -> dict:
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
    return dict(type="scatter", x=xs, y=ys, mode="markers", showlegend=False, name="arrows",
                marker=dict(symbol="arrow", angleref="previous", size=np.array(sizes), color=colors,
                            line=dict(width=0)),
                hoverinfo="skip", meta={"role": "arrows"}, xaxis=axes.x, yaxis=axes.y)


def _labels_trace(edges: Sequence[CellEdge], alpha: Sequence[float], cell: str, C: int,
                  axes: "_Axes") -> dict:
    """The op labels of a cell (text on the curves, white halo) carrying the hover text
    (op, from, to, stride, params) and customdata [slot, source, target] per edge."""
    return dict(
        type="scatter", x=[e.label_xy[0] for e in edges], y=[e.label_xy[1] for e in edges],
        mode="text", text=[e.op for e in edges], name="ops", showlegend=False,
        textfont=dict(size=LABEL_FONT_PX, family=FONT_FAMILY, shadow=LABEL_HALO,
                      color=[_rgba(_darker(op_color(e.op)), max(a, 0.5))
                             for e, a in zip(edges, alpha)]),
        hovertext=[_edge_hover(e, cell, C) for e in edges], hoverinfo="text",
        customdata=[[e.slot, e.source, e.target] for e in edges],
        meta={"role": "op_labels"}, xaxis=axes.x, yaxis=axes.y)


FADED_ALPHA = 0.3


def cell_traces(layout: CellLayout, cell: str = "normal", C: int = 16,
                highlight: set[tuple] | None = None, axes: "_Axes | None" = None,
                ops: Sequence[str] | None = None, legend: bool = True,
                legend_shown: set[str] | None = None) -> list[dict]:
    """Plotly trace dicts of a laid-out cell (no layout annotations, so they animate in frames).

    Per op a line trace (the legend entry, in the op's colour); then the concat edges (dashed),
    all arrowheads (one trace), all op labels (one text trace with the hover text and
    customdata [slot, source, target]) and the nodes. `highlight`: keys ("op", slot) /
    ("concat", source) of edges to emphasise, the others are faded (the comparison view); ops
    with both kinds get a second line trace. `ops`: a fixed op list so that animation frames
    keep the same traces (absent ops give empty traces). `legend_shown`: names already in the
    legend (shared across panels; updated).
    """
    axes = axes or _Axes()
    nodes = {n.index: n for n in layout.nodes}
    op_edges = layout.op_edges
    ops = list(ops) if ops is not None else sorted({e.op for e in op_edges})
    shown = legend_shown if legend_shown is not None else set()

    def bold(key: tuple) -> bool:
        return highlight is None or key in highlight

    traces: list[dict] = []
    for op in ops:
        edges = [e for e in op_edges if e.op == op]
        groups = [(True, [e for e in edges if bold(("op", e.slot))]),
                  (False, [e for e in edges if not bold(("op", e.slot))])]
        groups = [g for g in groups if g[1]] or [(True, [])]
        for rank, (strong, group) in enumerate(groups):
            show = legend and rank == 0 and bool(edges) and op not in shown
            width = (4.0 if highlight is not None else 2.2) if strong else 1.6
            traces.append(_lines_trace([e.path for e in group], op, op_color(op), width,
                                       1.0 if strong else FADED_ALPHA, show, axes,
                                       {"role": "op_lines", "op": op}))
            shown |= {op} if show else set()
    for strong in (True, False):
        group = [e for e in layout.concat_edges if bold(("concat", e.source)) == strong]
        if group or strong:
            show = legend and strong and "concat" not in shown
            traces.append(_lines_trace(
                [e.path for e in group], "concat", CONCAT_COLOR,
                3.0 if (highlight is not None and strong) else 1.4, 1.0 if strong else FADED_ALPHA,
                show, axes, {"role": "concat", "sources": [e.source for e in group]}, dash="dash"))
            shown |= {"concat"} if show else set()
    alpha = [1.0 if bold(("op", e.slot) if e.op else ("concat", e.source)) else FADED_ALPHA
             for e in layout.edges]
    traces.append(_arrows_trace(layout.edges, nodes, alpha, axes))
    traces.append(_labels_trace(op_edges, alpha[:len(op_edges)], cell, C, axes))
    traces.append(_node_trace(layout, axes))
    return traces


def _node_trace(layout: CellLayout, axes: _Axes) -> dict:
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
    return dict(
        type="scatter", x=[n.x for n in layout.nodes], y=[n.y for n in layout.nodes],
        mode="markers+text", text=texts, textposition="middle center",
        textfont=dict(size=12, color=TEXT_COLOR),
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
    return [((0.0, 1.0), (1 - panel_h / total_h, 1.0)),
            ((0.0, 1.0), (0.0, panel_h / total_h))], total_h


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
