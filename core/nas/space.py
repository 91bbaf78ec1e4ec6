"""The discrete search space shared by the strategies: edges, uniform samples, mutations, the
skip-connection cap.

A cell of N nodes has sum_{i<N} (i + 2) candidate edges (14 for N = 4), listed node by node:
edge (node i, input j) for j in 0 .. i + 1. Alpha rows follow this order. A sampled genotype picks,
for each node, two distinct inputs and one op per input from the search set without `none`
(as the DARTS derive rule and ENAS do); the concat is all intermediate nodes.

Mutation follows regularised evolution (Real et al. 2019, section 2): change one op or one input
of one node in one of the two cells. The skip cap guards against DARTS's skip-connection collapse
(Chen et al. 2019, P-DARTS section 3.3): a normal cell with more than `cap` skip_connect ops is
not sampled, and a derived one has its weakest skips replaced by the edge's next best op.
"""

from __future__ import annotations

import random
from collections.abc import Sequence

from core.errors import SearchError
from core.nas.genotypes import CELL_KINDS, Genotype, concat_range
from core.nas.primitives import PRIMITIVES

SKIP = "skip_connect"
CANDIDATE_OPS: tuple[str, ...] = tuple(p for p in PRIMITIVES if p != "none")
MAX_SAMPLE_TRIES = 1000


def edge_list(nodes: int) -> list[tuple[int, int]]:
    """[(node, input)] in alpha-row order; node counts from 0, inputs 0..node+1."""
    return [(i, j) for i in range(nodes) for j in range(i + 2)]


def edge_index(node: int, input_index: int) -> int:
    """Row of edge (node, input) in edge_list order."""
    return sum(i + 2 for i in range(node)) + input_index


def _sample_cell(rng: random.Random, nodes: int, ops: Sequence[str]) -> list[tuple[str, int]]:
    pairs = []
    for i in range(nodes):
        for j in sorted(rng.sample(range(i + 2), 2)):
            pairs.append((rng.choice(ops), j))
    return pairs


def sample_genotype(
    rng: random.Random, nodes: int = 4, skip_cap: int | None = 2, ops: Sequence[str] = CANDIDATE_OPS
) -> Genotype:
    """A uniform random genotype (rejecting normal cells with more than skip_cap skips)."""
    concat = concat_range(nodes)
    for _ in range(MAX_SAMPLE_TRIES):
        normal = _sample_cell(rng, nodes, ops)
        if skip_cap is None or sum(op == SKIP for op, _ in normal) <= skip_cap:
            return Genotype(normal, concat, _sample_cell(rng, nodes, ops), concat)
    raise SearchError(
        f"could not sample a cell with <= {skip_cap} skip connections in "
        f"{MAX_SAMPLE_TRIES} tries; raise skip_cap or use more ops"
    )


def mutate(
    genotype: Genotype,
    rng: random.Random,
    skip_cap: int | None = 2,
    ops: Sequence[str] = CANDIDATE_OPS,
) -> tuple[Genotype, str]:
    """One op or one input changed in one cell; returns (child, description of the change).

    The changed value always differs from the parent's, the two inputs of a node stay distinct,
    and the child respects the skip cap.
    """
    for _ in range(MAX_SAMPLE_TRIES):
        kind = rng.choice(CELL_KINDS)
        pairs, concat = genotype.cell(kind)
        pairs = list(pairs)
        k = rng.randrange(len(pairs))
        node, (op, index) = k // 2, pairs[k]
        other = pairs[k ^ 1][1]
        if rng.random() < 0.5:
            choices = [o for o in ops if o != op]
            new, what = (rng.choice(choices), index), f"{kind} node {node + 2}: op {op} ->"
            what += f" {new[0]}"
        else:
            choices = [j for j in range(node + 2) if j not in (index, other)]
            if not choices:
                continue
            new = (op, rng.choice(choices))
            what = f"{kind} node {node + 2}: input {index} -> {new[1]}"
        pairs[k] = new
        cells = {c: genotype.cell(c) for c in CELL_KINDS}
        cells[kind] = (pairs, concat)
        child = Genotype(
            cells["normal"][0], cells["normal"][1], cells["reduce"][0], cells["reduce"][1]
        )
        if skip_cap is None or child.count(SKIP) <= skip_cap:
            return child, what
    raise SearchError("could not find a mutation that respects the skip cap; raise skip_cap")


def cap_skips(
    pairs: Sequence[tuple[str, int]],
    edge_weights: dict[tuple[int, int], dict[str, float]],
    cap: int,
) -> list[tuple[str, int]]:
    """Replace the weakest skip_connect ops of a derived cell until at most `cap` remain.

    `edge_weights[(node, input)][op]` are the softmax weights of the cell's edges. Each replaced
    skip becomes the strongest other non-none op on the same edge (the input is kept).
    """
    pairs = list(pairs)
    skips = [k for k, (op, _) in enumerate(pairs) if op == SKIP]
    skips.sort(key=lambda k: edge_weights[(k // 2, pairs[k][1])][SKIP])
    for k in skips[: max(0, len(skips) - cap)]:
        weights = edge_weights[(k // 2, pairs[k][1])]
        best = max((op for op in weights if op not in ("none", SKIP)), key=weights.__getitem__)
        pairs[k] = (best, pairs[k][1])
    return pairs
