"""Search space: uniform samples, one-change mutations, the skip cap."""

from __future__ import annotations

import random

from core.nas.genotypes import CELL_KINDS
from core.nas.space import edge_index, edge_list, mutate, sample_genotype


def test_edge_order():
    assert edge_list(3) == [(0, 0), (0, 1), (1, 0), (1, 1), (1, 2), (2, 0), (2, 1), (2, 2), (2, 3)]
    assert [edge_index(i, j) for i, j in edge_list(4)] == list(range(14))


def test_samples_are_valid_distinct_inputs_and_capped():
    rng = random.Random(0)
    for _ in range(200):
        g = sample_genotype(rng, 4, skip_cap=1)
        assert g.count("skip_connect") <= 1
        for kind in CELL_KINDS:
            pairs, concat = g.cell(kind)
            assert concat == (2, 3, 4, 5)
            for node in range(4):
                assert pairs[2 * node][1] != pairs[2 * node + 1][1]
                assert "none" not in (pairs[2 * node][0], pairs[2 * node + 1][0])


def test_mutation_changes_exactly_one_entry():
    rng = random.Random(1)
    parent = sample_genotype(rng, 4)
    for _ in range(100):
        child, what = mutate(parent, rng)
        diffs = [
            (kind, k)
            for kind in CELL_KINDS
            for k, (a, b) in enumerate(zip(parent.cell(kind)[0], child.cell(kind)[0]))
            if a != b
        ]
        assert len(diffs) == 1, what
        kind, k = diffs[0]
        a, b = parent.cell(kind)[0][k], child.cell(kind)[0][k]
        assert (a[0] == b[0]) != (a[1] == b[1])  # op or input, not both
        assert child.count("skip_connect") <= 2


def test_sampling_is_seeded():
    assert sample_genotype(random.Random(5)) == sample_genotype(random.Random(5))
    assert sample_genotype(random.Random(5)) != sample_genotype(random.Random(6))
