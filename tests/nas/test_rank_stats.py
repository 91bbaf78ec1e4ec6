"""Rank statistics of bench/proxies.py (Kendall tau-b, Spearman rho, top-k hits, the verdict)
against values computed by hand (scipy's kendalltau / spearmanr give the same numbers)."""

from __future__ import annotations

import itertools
import math

import pytest

from bench.proxies import (
    combinations,
    correlation_rows,
    kendall_tau_b,
    spearman,
    structure_rows,
    top_hits,
    verdict,
)
from core.nas.genotypes import Genotype


def test_kendall_and_spearman_without_ties():
    # y swaps the pairs (0, 1) and (2, 3): 2 of the 10 pairs discordant -> (8 - 2) / 10;
    # rank differences 1, 1, 1, 1, 0 -> rho = 1 - 6 * 4 / (5 * 24) = 0.8
    x, y = [1, 2, 3, 4, 5], [2, 1, 4, 3, 5]
    assert kendall_tau_b(x, y) == pytest.approx(0.6)
    assert spearman(x, y) == pytest.approx(0.8)


def test_kendall_tau_b_and_spearman_with_ties():
    # pairs: (0,1) (0,2) (0,3) concordant, (1,3) discordant, (1,2) tied in x, (2,3) tied in y:
    # tau-b = (3 - 1) / sqrt((6 - 1) * (6 - 1)) = 0.4 (tau-a would be 2 / 6)
    x, y = [1, 2, 2, 3], [1, 3, 2, 2]
    assert kendall_tau_b(x, y) == pytest.approx(0.4)
    # average ranks x: 1, 2.5, 2.5, 4; y: 1, 4, 2.5, 2.5 -> cov 2.25, variances 4.5: rho 0.5
    assert spearman(x, y) == pytest.approx(0.5)


def test_reversed_constant_and_mismatched():
    x = [0.1, 0.5, 0.2, 0.9]
    y = [-v for v in x]
    assert kendall_tau_b(x, y) == pytest.approx(-1.0)
    assert spearman(x, y) == pytest.approx(-1.0)
    assert spearman(x, [2.0 * v + 1 for v in x]) == pytest.approx(1.0)
    assert math.isnan(kendall_tau_b(x, [3, 3, 3, 3]))
    assert math.isnan(spearman(x, [3, 3, 3, 3]))
    with pytest.raises(ValueError):
        kendall_tau_b([1, 2], [1, 2, 3])


def test_top_hits():
    truth = [12, 11, 10, 9, 8, 7, 6, 5, 4, 3, 2, 1]  # true top 10: cells 0..9
    scores = [9, 8, 7, 6, 5, 4, 3, 2, 1, 0, 10, 11]  # best 5: cells 11, 10, 0, 1, 2
    assert top_hits(scores, truth) == 3
    tied = truth[:10] + [3, 1]  # cell 10 ties the 10th: in it
    assert top_hits(scores, tied) == 4
    # a tie in the scores goes to the earlier cell (as zero_cost.ranking): cell 0, not cell 1
    assert top_hits([1, 1, 0], [0, 1, 0], top=1, true_top=1) == 0
    assert top_hits([1, 2, 0], [0, 1, 0], top=1, true_top=1) == 1


def _scored(values: dict[str, list[float]]) -> list[dict[str, float]]:
    return [dict(zip(values, v)) for v in zip(*values.values())]


def test_rows_and_verdict():
    # 4 cells; accuracy follows zico exactly, synflow and noskip reversed, naswot and params half
    # right
    values = {
        "synflow": [4.0, 3.0, 2.0, 1.0],
        "naswot": [1.0, 2.0, 4.0, 3.0],
        "zico": [1.0, 2.0, 3.0, 4.0],
        "noskip": [0.0, -1.0, -2.0, -2.0],
        "params": [2.0, 1.0, 3.0, 4.0],
    }
    accs = [0.1, 0.2, 0.3, 0.4]
    rows = {
        r["name"]: r for r in correlation_rows(_scored(values), accs, ("synflow", "naswot", "zico"))
    }
    assert rows["zico"]["kendall"] == pytest.approx(1.0)
    assert rows["synflow"]["kendall"] == pytest.approx(-1.0)
    assert rows["params"]["kind"] == "baseline" and rows["zico"]["kind"] == "proxy"
    # mean rank of (synflow, naswot, zico) per cell (rank 1 = best): (1+4+4)/3, (2+3+3)/3,
    # (3+1+2)/3, (4+2+1)/3 -> combined scores -3, -8/3, -2, -7/3: order 2 > 3 > 1 > 0, tau 4/6
    default = "mean-rank(synflow, naswot, zico)"
    assert rows[default]["kendall"] == pytest.approx(4 / 6)
    free = ["synflow", "naswot", "zico", "noskip"]
    subsets = [", ".join(c) for k in (2, 3, 4) for c in itertools.combinations(free, k)]
    subsets.append("synflow, naswot, zico, noskip, params")
    assert set(rows) == set(values) | {
        f"{m}({names})" for m in ("mean-rank", "log-rank") for names in subsets
    }
    text = verdict(list(rows.values()), ("synflow", "naswot", "zico"), "mean-rank")
    best = max((r for r in rows.values() if r["kind"] == "combination"), key=lambda r: r["kendall"])
    assert f"`{best['name']}`" in text
    assert "A single score ranks better" in text and "`zico`" in text  # tau 1 beats all


def test_verdict_names_the_default_when_it_is_best():
    rows = [
        {"name": "zico", "kind": "proxy", "kendall": 0.2},
        {"name": "mean-rank(synflow, zico)", "kind": "combination", "kendall": 0.5},
        {"name": "log-rank(synflow, zico)", "kind": "combination", "kendall": math.nan},
    ]
    text = verdict(rows, ("synflow", "zico"), "mean-rank")
    assert "is that one: the default combination follows this table" in text
    text = verdict(rows, ("synflow", "zico"), "log-rank")
    assert "is not" in text and "becomes `mean-rank(synflow, zico)`" in text


def test_combinations_deduplicate_when_default_is_all():
    scores = {n: [1.0, 2.0] for n in ("synflow", "naswot", "zico", "noskip", "params")}
    # 6 pairs, 4 triples and the four training-free scores + all five, two methods each; a
    # default among them (all five, or a pair) adds nothing
    assert len(combinations(scores, ("synflow", "naswot", "zico", "noskip", "params"))) == 24
    assert len(combinations(scores, ("naswot", "zico"))) == 24


def test_verdict_keeps_the_default_on_a_tie():
    rows = [
        {"name": "zico", "kind": "proxy", "kendall": 0.3},
        {"name": "log-rank(zico)", "kind": "combination", "kendall": 0.3},
        {"name": "mean-rank(zico)", "kind": "combination", "kendall": 0.3},
    ]
    assert "is that one" in verdict(rows, ("zico",), "mean-rank")
    assert "is that one" in verdict(rows, ("zico",), "log-rank")


def test_structure_rows_count_the_normal_cells_ops():
    # one node (two pairs) per cell; normal ops: 2 convs, 1 conv + 1 skip, 2 skips; the
    # reduction cell (all convs) does not count
    normals = [
        ("sep_conv_3x3", "dil_conv_5x5"),
        ("sep_conv_5x5", "skip_connect"),
        ("skip_connect", "skip_connect"),
    ]
    cells = [
        Genotype([(a, 0), (b, 1)], [2], [("sep_conv_3x3", 0), ("sep_conv_3x3", 1)], [2])
        for a, b in normals
    ]
    rows = {r["name"]: r for r in structure_rows(cells, [0.5, 0.4, 0.3])}
    assert rows["conv ops (normal cell)"]["kendall"] == pytest.approx(1.0)
    rows = {r["name"]: r for r in structure_rows(cells, [0.3, 0.4, 0.5])}
    assert rows["conv ops (normal cell)"]["kendall"] == pytest.approx(-1.0)
    assert {r["kind"] for r in rows.values()} == {"structure"}


def test_bench_set_options_are_json_or_strings():
    from bench.common import parse_sets

    assert parse_sets(
        ["crops.fast=true", "child.epochs=6", 'zero_cost={"fill": true}', "warm_start=zero-cost"]
    ) == {
        "crops.fast": True,
        "child.epochs": 6,
        "zero_cost": {"fill": True},
        "warm_start": "zero-cost",
    }
