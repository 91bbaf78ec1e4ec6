"""Cell geometry: where the states of a NASNet/DARTS cell go and how its edges are routed.

A cell (Zoph et al. 2018; Liu et al. 2019, section 2.1) has two inputs c_{k-2} and c_{k-1}, N
intermediate nodes each summing two operations applied to earlier states, and an output c_{k}
that concatenates exactly the states in the genotype's concat list.

Layout: states are placed in layers left to right by longest path from the inputs; within a
layer by the mean height of their inputs (fewer crossings). Edges are quadratic Bezier curves;
each op label sits on its curve, and a small greedy router picks, edge by edge, the curve bend
and label position with the least cost (labels overlapping labels or nodes, curves through
other nodes, parallel edges on top of each other). Coordinates are nominal pixels of the plot
area, so label sizes can be compared with distances. `layout_cell` is the entry point (tested
for overlaps); core.viz.cell_traces draws a layout, core.viz.cell_graph makes the figures.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np

from core.nas.genotypes import Genotype, GenotypeError

OUTPUT = -1  # state index used for the cell output c_{k}
CHAR_PX = 6.3  # mean glyph width of the label font at LABEL_FONT_PX (conservative)
LABEL_PAD_PX = 8
LABEL_H_PX = 17
NODE_HALF_PX = {"input": 21, "intermediate": 17, "output": 21}
PLOT_W_PX = 584  # nominal plot-area width at a 600 px figure
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
    kind: str  # "input" | "intermediate" | "output"
    layer: int
    x: float
    y: float
    used: bool  # False for an intermediate node neither consumed nor concatenated


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


def state_name(index: int, html: bool = False) -> str:
    """Display name of a state: c_{k-2}, c_{k-1}, node numbers 0.., c_{k} for the output."""
    if index == OUTPUT:
        return "c<sub>k</sub>" if html else "c_{k}"
    if index in (0, 1):
        sub = "k-2" if index == 0 else "k-1"
        return f"c<sub>{sub}</sub>" if html else f"c_{{{sub}}}"
    return str(index - 2)


def _layers(pairs: Sequence[tuple[str, int]]) -> dict[int, int]:
    layer = {0: 0, 1: 0}
    for i in range(len(pairs) // 2):
        layer[i + 2] = 1 + max(layer[pairs[2 * i][1]], layer[pairs[2 * i + 1][1]])
    return layer


def _place_nodes(
    pairs: Sequence[tuple[str, int]], concat: Sequence[int], width: float, height: float
) -> list[CellNode]:
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
            nodes.append(
                CellNode(
                    state,
                    state_name(state),
                    kind,
                    lay,
                    x,
                    y,
                    used=kind != "intermediate" or state in consumed,
                )
            )
    return nodes


def _layer_x(by_layer: dict[int, list[int]], width: float) -> list[float]:
    """x of each layer: op gaps widen with the number of edges entering the next layer, the last
    gap (concat edges, no labels) is narrower."""
    last = max(by_layer)
    gaps = [
        1.0 + 0.1 * 2 * len(by_layer[k]) if k < last else CONCAT_GAP_WEIGHT
        for k in range(1, last + 1)
    ]
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
_TS = np.array(T_CANDIDATES, dtype=np.float64)  # [T]
_GRID = np.linspace(0.0, 1.0, CURVE_SAMPLES)  # [P]


def _candidate_curves(p0: np.ndarray, p2: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Quadratic curves from p0 to p2 for every bend candidate: ([B, P, 2] points, [B, 2]
    control points); a curve's middle is `bend` px off the chord."""
    chord = p2 - p0
    normal = np.array([-chord[1], chord[0]]) / max(float(np.hypot(*chord)), 1e-9)
    ctrl = (p0 + p2) / 2 + 2 * _BENDS[:, None] * normal  # [B, 2]
    t = _GRID[None, :, None]
    return (1 - t) ** 2 * p0 + 2 * (1 - t) * t * ctrl[:, None, :] + t**2 * p2, ctrl


def _route(
    p0: np.ndarray,
    p2: np.ndarray,
    label: str | None,
    pair: tuple[int, int],
    nodes: Sequence[CellNode],
    state: _RouteState,
    width: float,
    height: float,
):
    """Cheapest (path, label centre, label box, bend) over all bend x label-position candidates.

    Curve cost: bending, running through a node it does not connect (60), lying on a parallel
    edge of the same pair (80), crossing a placed label (4). Label cost: off-centre, outside
    the plot (200), overlapping labels or nodes (300 x overlap fraction), hiding a placed
    curve (3 each). Ties go to the earlier candidate (straighter, more central).
    """
    paths, ctrl = _candidate_curves(p0, p2)  # [B, P, 2], [B, 2]
    others = np.array([_node_box(n, margin=4.0) for n in nodes if n.index not in pair])
    labels = np.array(state.labels, dtype=np.float64).reshape(-1, 4)
    cost = (
        np.abs(_BENDS) / 20 + 60 * _hits(paths, others).sum(-1) + 4 * _hits(paths, labels).sum(-1)
    )
    for other in state.bends.get(pair, []):
        cost += 80 * (np.abs(_BENDS - other) < 18)
    if not label:
        b = int(np.argmin(cost))
        return paths[b], None, None, float(_BENDS[b])
    t = _TS[None, :, None]
    centres = (1 - t) ** 2 * p0 + 2 * (1 - t) * t * ctrl[:, None, :] + t**2 * p2  # [B, T, 2]
    half = np.array([label_width_px(label) / 2, LABEL_H_PX / 2])
    boxes = np.concatenate([centres - half, centres + half], axis=-1)  # [B, T, 4]
    area = 4 * half[0] * half[1]
    node_boxes = np.array([_node_box(n) for n in nodes])
    total = cost[:, None] + np.abs(_TS - 0.5) * 8
    total = total + 200 * (
        (boxes[..., 0] < 0)
        | (boxes[..., 1] < 0)
        | (boxes[..., 2] > width)
        | (boxes[..., 3] > height)
    )
    total = total + 300 * (_overlap_areas(boxes, labels) + _overlap_areas(boxes, node_boxes)) / area
    if state.paths:  # placed curves passing under the label
        placed = np.stack(state.paths)  # [M, P, 2]
        x, y = placed[None, None, :, :, 0], placed[None, None, :, :, 1]
        bx = boxes[:, :, None, None, :]
        under = (x > bx[..., 0]) & (x < bx[..., 2]) & (y > bx[..., 1]) & (y < bx[..., 3])
        total = total + 3 * under.any(-1).sum(-1)
    b, k = np.unravel_index(int(np.argmin(total)), total.shape)
    box = tuple(float(v) for v in boxes[b, k])
    return paths[b], (float(centres[b, k, 0]), float(centres[b, k, 1])), box, float(_BENDS[b])


def _route_ops(
    pairs: Sequence[tuple[str, int]],
    order: Sequence[int],
    nodes: Sequence[CellNode],
    pos: dict[int, np.ndarray],
    width: float,
    height: float,
) -> tuple[dict[int, CellEdge], _RouteState]:
    """Route the op edges one by one in `order`, each avoiding what is already placed."""
    state = _RouteState(labels=[], paths=[], bends={})
    routed: dict[int, CellEdge] = {}
    for k in order:
        op, src = pairs[k]
        dst = k // 2 + 2
        path, centre, box, bend = _route(
            pos[src], pos[dst], op, (src, dst), nodes, state, width, height
        )
        state.labels.append(box)
        state.paths.append(path)
        state.bends.setdefault((src, dst), []).append(bend)
        routed[k] = CellEdge(op, src, dst, k, path, centre, box)
    return routed, state


def _label_clashes(edges: Iterable[CellEdge], nodes: Sequence[CellNode]) -> float:
    """Total overlap area of labels with each other and with nodes (0 for a clean layout)."""
    boxes = [e.label_box for e in edges]
    node_boxes = [_node_box(n, margin=0.0) for n in nodes]
    return sum(_overlap(a, b) for i, a in enumerate(boxes) for b in boxes[i + 1 :]) + sum(
        _overlap(a, nb) for a in boxes for nb in node_boxes
    )


def _routing_orders(
    pairs: Sequence[tuple[str, int]], pos: dict[int, np.ndarray]
) -> list[list[int]]:
    """Edge orders to try: long edges first (fewest good options), then variations."""
    span = {k: abs(pos[k // 2 + 2][0] - pos[pairs[k][1]][0]) for k in range(len(pairs))}
    long_first = sorted(span, key=lambda k: (-span[k], k))
    by_height = sorted(span, key=lambda k: (-pos[k // 2 + 2][1], -span[k], k))
    return [long_first, long_first[::-1], by_height, by_height[::-1]]


def layout_cell(
    genotype: Genotype | dict,
    cell: str = "normal",
    width: float = PLOT_W_PX,
    height: float | None = None,
) -> CellLayout:
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
        path, _, _, bend = _route(
            pos[src], pos[OUTPUT], None, (src, OUTPUT), nodes, state, width, height
        )
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
