"""ENAS controller sampling under the skip-connection cap."""

from __future__ import annotations

import pytest
import torch

from core.nas.genotypes import PUBLISHED_GENOTYPES
from core.nas.space import SKIP
from core.nas.strategies import enas


class _SkipOnlyController:
    """A collapsed controller: every op it samples is skip_connect."""

    def sample(self):
        g = PUBLISHED_GENOTYPES["DARTS_V2"]
        normal = [(SKIP, index) for _, index in g.normal]
        return (
            type(g)(normal, g.normal_concat, g.reduce, g.reduce_concat),
            torch.tensor(-1.0),
            torch.tensor(0.5),
        )


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


def _op_frequency(controller, op: str, samples: int = 200) -> float:
    with torch.no_grad():
        ops = [o for _ in range(samples) for o, _ in controller.sample()[0].normal]
    return ops.count(op) / len(ops)


def test_reinforce_raises_the_probability_of_the_op_that_is_always_better():
    """Toy reward: the share of normal-cell ops that are sep_conv_3x3. REINFORCE must make the
    controller pick it more often (a flipped sign makes it rarer)."""
    torch.manual_seed(0)
    controller = enas.Controller(2, hidden=16, temperature=5.0, tanh_constant=2.5)
    optimizer = torch.optim.Adam(controller.parameters(), lr=0.03)
    before = _op_frequency(controller, "sep_conv_3x3")
    baseline = None
    for _ in range(60):
        genotype, log_p, entropy = controller.sample()
        reward = sum(op == "sep_conv_3x3" for op, _ in genotype.normal) / len(genotype.normal)
        baseline = enas.reinforce_step(optimizer, log_p, entropy, reward, baseline, 0.9, 0.0)
    after = _op_frequency(controller, "sep_conv_3x3")
    assert before < 0.25 and after > before + 0.15, (before, after)


def test_reinforce_baseline_is_a_moving_average():
    controller = enas.Controller(2, hidden=8)
    optimizer = torch.optim.SGD(controller.parameters(), lr=0.0)
    _, log_p, entropy = controller.sample()
    assert enas.reinforce_step(optimizer, log_p, entropy, 0.5, None, 0.9, 0.0) == 0.5
    _, log_p, entropy = controller.sample()
    assert enas.reinforce_step(optimizer, log_p, entropy, 1.0, 0.5, 0.9, 0.0) == pytest.approx(
        0.9 * 0.5 + 0.1 * 1.0
    )
