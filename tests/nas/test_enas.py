"""ENAS controller sampling under the skip-connection cap."""

from __future__ import annotations

import torch

from core.nas.genotypes import PUBLISHED_GENOTYPES
from core.nas.space import SKIP
from core.nas.strategies import enas


class _SkipOnlyController:
    """A collapsed controller: every op it samples is skip_connect."""

    def sample(self):
        g = PUBLISHED_GENOTYPES["DARTS_V2"]
        normal = [(SKIP, index) for _, index in g.normal]
        return type(g)(normal, g.normal_concat, g.reduce, g.reduce_concat), torch.tensor(-1.0), \
            torch.tensor(0.5)


def test_collapsed_controller_is_capped_by_hand_not_failed():
    genotype, log_p, entropy = enas.sample_capped(_SkipOnlyController(), skip_cap=2)
    assert genotype.count(SKIP) == 2
    assert [op for op, _ in genotype.normal][2:] == [enas.CAP_REPLACEMENT] * 6
    assert [i for _, i in genotype.normal] == [i for _, i in PUBLISHED_GENOTYPES["DARTS_V2"].normal]
    genotype.validate()
    assert log_p.item() == -1.0 and entropy.item() == 0.5


def test_real_controller_sample_respects_cap():
    torch.manual_seed(0)
    controller = enas.Controller(4, hidden=16, temperature=5.0, tanh_constant=2.5)
    for _ in range(5):
        genotype, _, _ = enas.sample_capped(controller, skip_cap=0)
        assert genotype.count(SKIP) == 0
