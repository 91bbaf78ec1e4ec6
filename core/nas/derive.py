"""The DARTS derive rule (Liu et al. 2019, section 2.4): a discrete cell from softmax weights.

Plain Python on [edges, ops] weight lists (rows in core.nas.space.edge_list order, columns in
PRIMITIVES order), so anything holding saved weights (runs/<id>/alphas.json, the alpha view of
core.viz.alphas) derives the same genotype as the supernet (core.nas.supernet.SuperNet.genotype)
without torch. For each node keep the two inputs whose strongest non-none op is strongest, with
that op; then cap skip_connect in the normal cell (core.nas.space.cap_skips).
"""

from __future__ import annotations

from collections.abc import Sequence

from core.nas.genotypes import Genotype, concat_range
from core.nas.primitives import PRIMITIVES
from core.nas.space import cap_skips, edge_index, edge_list


def derive_cell(
    weights: Sequence[Sequence[float]], nodes: int, primitives: Sequence[str] = PRIMITIVES
) -> list[tuple[str, int]]:
    """DARTS derive rule for one cell. weights: [edges, ops] (softmax), edge_list order.

    For each node, rank its input edges by their strongest non-none weight, keep the top two
    (in that order) each with its strongest non-none op.
    """
    none = primitives.index("none") if "none" in primitives else -1
    pairs = []
    for i in range(nodes):
        rows = {j: weights[edge_index(i, j)] for j in range(i + 2)}
        best = {
            j: max((k for k in range(len(primitives)) if k != none), key=row.__getitem__)
            for j, row in rows.items()
        }
        for j in sorted(rows, key=lambda j: -rows[j][best[j]])[:2]:
            pairs.append((primitives[best[j]], j))
    return pairs


def derive_genotype(
    normal: Sequence[Sequence[float]],
    reduce: Sequence[Sequence[float]],
    nodes: int,
    primitives: Sequence[str] = PRIMITIVES,
    skip_cap: int | None = 2,
) -> Genotype:
    """Genotype of softmax weights [edges, ops] for both cells; skips capped in the normal cell."""
    normal_pairs = derive_cell(normal, nodes, primitives)
    if skip_cap is not None:
        edge_w = {e: dict(zip(primitives, normal[k])) for k, e in enumerate(edge_list(nodes))}
        normal_pairs = cap_skips(normal_pairs, edge_w, skip_cap)
    concat = concat_range(nodes)
    return Genotype(normal_pairs, concat, derive_cell(reduce, nodes, primitives), concat)
