"""Tests for core.viz.cell_graph: edges per published genotype, label layout, hover, comparison."""

from __future__ import annotations

from collections import Counter

import numpy as np
import pytest

from core.nas.genotypes import PUBLISHED_GENOTYPES, Genotype
from core.viz import cell_graph as cg
from core.viz import cell_layout as cl
from core.viz import cell_traces as ct
from core.viz.common import figure_to_html

CASES = [(name, cell) for name in PUBLISHED_GENOTYPES for cell in ("normal", "reduce")]


def _role(fig, role):
    return [t for t in fig.data if (t.meta or {}).get("role") == role]


@pytest.mark.parametrize("name,cell", CASES)
def test_published_cell_edges_and_labels(name, cell):
    g = PUBLISHED_GENOTYPES[name]
    pairs, concat = g.cell(cell)
    fig = cg.cell_figure(g, cell)
    (labels,) = _role(fig, "op_labels")
    # one labelled point per op edge, naming every op of the cell
    assert Counter(labels.text) == Counter(op for op, _ in pairs)
    # each edge's customdata: [slot, source, target] as in the genotype, label text its op
    edges = sorted((tuple(c), text) for c, text in zip(labels.customdata, labels.text))
    assert edges == sorted(((k, src, k // 2 + 2), op) for k, (op, src) in enumerate(pairs))
    # one line trace per op with one curve (None-separated) per edge of that op
    curves = Counter()
    for t in _role(fig, "op_lines"):
        curves[t.meta["op"]] += int(np.isnan(np.asarray(t.x, dtype=float)).sum())
    assert curves == Counter(op for op, _ in pairs)
    # one arrowhead per op edge and per concat edge
    (arrows,) = _role(fig, "arrows")
    assert sum(1 for s in arrows.marker.size if s > 0) == len(pairs) + len(concat)
    # the output is fed by exactly the concat states (NASNet / AmoebaNet are not 2..5)
    concat_sources = [s for t in _role(fig, "concat") for s in t.meta["sources"]]
    assert sorted(concat_sources) == sorted(concat)
    assert fig.layout.meta["op_edges"] == len(pairs)
    assert fig.layout.meta["concat_edges"] == len(concat)
    # legend: one entry per op type present, plus concat
    legend = {t.name for t in fig.data if t.showlegend}
    assert legend == {op for op, _ in pairs} | {"concat"}


@pytest.mark.parametrize("name,cell", CASES)
def test_layout_has_no_overlapping_labels(name, cell):
    lay = cg.layout_cell(PUBLISHED_GENOTYPES[name], cell)
    boxes = [e.label_box for e in lay.op_edges]
    for i, a in enumerate(boxes):
        assert 0 <= a[0] and a[2] <= lay.width and 0 <= a[1] and a[3] <= lay.height
        for b in boxes[i + 1 :]:
            assert cl._overlap(a, b) == 0, f"labels overlap: {a} {b}"
        for n in lay.nodes:
            assert cl._overlap(a, cl._node_box(n, margin=0)) == 0
    # left to right: every edge goes to a later layer; inputs first, output last
    layer = {n.index: n.layer for n in lay.nodes}
    assert all(layer[e.target] > layer[e.source] for e in lay.edges)
    assert layer[cl.OUTPUT] == max(layer.values()) and layer[0] == layer[1] == 0


def test_hover_has_op_params_at_width():
    fig = cg.cell_figure(PUBLISHED_GENOTYPES["DARTS_V2"], "normal", C=16)
    (labels,) = _role(fig, "op_labels")
    hover = dict(zip(labels.text, labels.hovertext))  # DARTS_V2 normal slot 0: sep_conv_3x3 from 0
    # SepConv twice: (depthwise 16*9 + pointwise 16*16 + BN 2*16) * 2 = 864
    assert "params at C=16: 864" in hover["sep_conv_3x3"]
    assert "from: c<sub>k-2</sub>" in labels.hovertext[0]
    (pool,) = _role(cg.cell_figure(PUBLISHED_GENOTYPES["DARTS_V2"], "reduce", C=16), "op_labels")
    mp = dict(zip(pool.text, pool.hovertext))["max_pool_3x3"]
    assert "params at C=16: 0" in mp and "stride: 2" in mp


def test_unused_node_is_greyed():
    g = Genotype(
        [("sep_conv_3x3", 0), ("skip_connect", 1), ("max_pool_3x3", 0), ("avg_pool_3x3", 1)],
        [3],
        [("max_pool_3x3", 0), ("max_pool_3x3", 1)],
        [2],
    )
    fig = cg.cell_figure(g, "normal")
    nodes = _role(fig, "nodes")[0]
    colors = dict(zip(nodes.text, nodes.marker.color))
    assert colors["0"] == ct.NODE_FILL["unused"]
    assert colors["1"] == ct.NODE_FILL["intermediate"]


def test_compare_highlights_differing_edges():
    v1, v2 = PUBLISHED_GENOTYPES["DARTS_V1"], PUBLISHED_GENOTYPES["DARTS_V2"]
    diff_a, diff_b = cg.genotype_diff(v1, v2, "normal")
    # node 1: skip(c_{k-2}) vs sep(c_{k-2}); node 3: both edges differ; nodes 0 and 2 same
    assert diff_a == {("op", 2), ("op", 6), ("op", 7)}
    assert diff_b == {("op", 2), ("op", 6), ("op", 7)}
    fig = cg.compare_figure(v1, v2, "normal", names=("V1", "V2"))
    bold = [t for t in _role(fig, "op_lines") if t.opacity == 1.0 and len(t.x)]
    faded = [t for t in _role(fig, "op_lines") if t.opacity < 1.0]
    assert sum(int(np.isnan(t.x).sum()) for t in bold) == 6  # 3 + 3 curves
    assert sum(int(np.isnan(t.x).sum()) for t in faded) == 16 - 6
    assert {t.xaxis for t in fig.data} == {"x", "x2"}
    same = cg.compare_figure(v2, v2, "reduce", arrangement="rows", width=600)
    assert same.layout.meta["differing"] == [0, 0]
    # a legend entry per op across both panels (dil_conv_3x3 is only in V2)
    assert {t.name for t in fig.data if t.showlegend} == {
        "sep_conv_3x3",
        "skip_connect",
        "dil_conv_3x3",
        "concat",
    }


def test_accepts_dict_and_rejects_bad_cell():
    d = PUBLISHED_GENOTYPES["NASNet"].to_dict()
    assert cg.cell_figure(d, "reduce").layout.meta["concat"] == [4, 5, 6]
    with pytest.raises(ValueError, match="cell"):
        cg.cell_figure(d, "middle")


def test_figure_to_html_is_standalone():
    html = figure_to_html(cg.cell_figure(PUBLISHED_GENOTYPES["DARTS_V2"]), title="DARTS_V2")
    assert "<html>" in html[:100] and html.rstrip().endswith("</html>")
    assert "<title>DARTS_V2</title>" in html
    assert 'src="http' not in html and len(html) > 1_000_000  # plotly.js inline, no CDN


def test_random_cells_have_no_label_overlaps():
    import random

    from core.nas.space import sample_genotype

    rng = random.Random(1)
    for _ in range(15):
        g = sample_genotype(rng, nodes=rng.choice([3, 4, 5]))
        for cell in ("normal", "reduce"):
            lay = cg.layout_cell(g, cell, width=480)
            assert cl._label_clashes(lay.op_edges, lay.nodes) == 0, (str(g), cell)
