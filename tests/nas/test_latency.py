"""The latency-aware objective: MnasNet reward, expected latency and its gradient, the op table,
and both objectives through real search jobs."""

from __future__ import annotations

import pytest
import torch

from core.nas.genotypes import DARTS_V2
from core.nas.latency import (
    backbone_latency_ms,
    expected_latency,
    latency_loss,
    mnas_reward,
    op_latency_table,
)
from core.nas.tasks import SEARCH

TABLE = {
    "normal": {"none": 0.0, "a": 1.0, "b": 3.0},
    "reduce": {"none": 0.0, "a": 2.0, "b": 4.0},
    "fixed_ms": 5.0,
}
OPS = ("none", "a", "b")


def test_mnas_reward_by_hand():
    assert mnas_reward(0.8, 20.0, 10.0, -0.07) == pytest.approx(0.8 * 2**-0.07)  # 0.7621
    assert mnas_reward(0.8, 10.0, 10.0, -0.07) == 0.8
    assert mnas_reward(0.8, 5.0, 10.0, -0.07) > 0.8  # faster than the target: rewarded


def test_expected_latency_by_hand_and_its_gradient_prefers_cheap_ops():
    normal = torch.tensor([[0.0, 0.5, 0.5], [0.0, 1.0, 0.0]], requires_grad=True)
    reduce = torch.tensor([[1.0, 0.0, 0.0], [0.0, 0.0, 1.0]], requires_grad=True)
    # 2 edges, 2 ops kept per cell (scale 1): fixed 5 + normal (0.5*1 + 0.5*3) + 1 + reduce 4
    expected = expected_latency({"normal": normal, "reduce": reduce}, TABLE, OPS, 2)
    assert float(expected.detach()) == pytest.approx(12.0)
    # the loss -w log(E / target) grows with E: its gradient is largest on the slowest op
    alphas = torch.zeros(2, 3, requires_grad=True)
    weights = {"normal": torch.softmax(alphas, -1), "reduce": torch.softmax(alphas, -1)}
    (grad,) = torch.autograd.grad(
        latency_loss(expected_latency(weights, TABLE, OPS, 2), 10.0, -0.07), alphas
    )
    assert (grad[:, 2] > 0).all() and (grad[:, 0] < 0).all()  # b up costs, none up saves
    assert float(latency_loss(torch.tensor(10.0), 10.0, -0.07)) == 0.0


def test_op_latency_table_times_each_op_of_each_cell_kind():
    table = op_latency_table(
        ("none", "skip_connect", "sep_conv_3x3"), 32, "cpu", nodes=2, C=4, layers=3, repeats=1
    )
    for kind in ("normal", "reduce"):
        assert table[kind]["none"] == 0.0 and table[kind]["sep_conv_3x3"] > 0.0
    assert table["fixed_ms"] > 0.0
    assert backbone_latency_ms(DARTS_V2, 32, "cpu", C=4, layers=3, repeats=1) > 0.0


def test_sampled_scores_are_the_mnas_reward(make_job, store):
    job_id, reporter = make_job(
        strategy="random",
        samples=2,
        objective={"kind": "accuracy-latency", "target_ms": 5.0, "latency_size": 32},
    )
    report = SEARCH.run(reporter.spec, reporter)
    sampled = [r for r in store.architectures(job_id) if r["extra"]["kind"] == "sampled"]
    assert len(sampled) == 2
    for row in sampled:
        e = row["extra"]
        assert e["target_ms"] == 5.0 and e["backbone_latency_ms"] > 0
        assert row["score"] == pytest.approx(
            e["accuracy"] * (e["backbone_latency_ms"] / 5.0) ** -0.07
        )
    lat = report["latency"]
    assert report["objective"] == "accuracy-latency" and lat["image_size"] == 32
    assert lat["searched_ms"] > 0 and len(lat["random_ms"]) == len(report["random"]["accs"])


def test_darts_with_the_latency_penalty_logs_its_expected_latency(make_job, store):
    job_id, reporter = make_job(
        strategy="darts",
        epochs=2,
        objective={"kind": "accuracy-latency", "latency_size": 32},
        darts={"warmup": 0.0},
    )
    SEARCH.run(reporter.spec, reporter)
    expected = [
        m["value"] for m in store.metrics(job_id) if m["key"] == "search/expected_latency_ms"
    ]
    assert len(expected) == 2 and all(v > 0 for v in expected)
    events = " ".join(e["message"] for e in store.events(job_id))
    assert "op latency table measured at 32px" in events and "latency target" in events


def test_architect_adds_the_penalty_gradient_to_the_alpha_gradient():
    import torch.nn.functional as F

    from core.nas.strategies.darts import Architect
    from core.nas.supernet import SuperNet

    torch.manual_seed(0)
    net = SuperNet(4, 3, 3, nodes=2).double()
    w_opt = torch.optim.SGD(net.weight_parameters(), lr=0.1)
    x, y = torch.randn(8, 3, 8, 8, dtype=torch.float64), torch.arange(8) % 3

    def penalty():  # a toy latency: the softmax weight on sep_conv_5x5, times 3
        column = net.primitives.index("sep_conv_5x5")
        return 3 * torch.softmax(net.alphas_normal, -1)[:, column].sum()

    ce = torch.autograd.grad(F.cross_entropy(net(x), y), net.arch_parameters())
    pen = torch.autograd.grad(penalty(), net.arch_parameters(), allow_unused=True)
    architect = Architect(net, 3e-4, 1e-3, 0.9, 3e-4, penalty)
    architect.optimizer.step = lambda: None  # look at the gradient the step would use
    architect.step((x, y), (x, y), 0.1, w_opt, second_order=False)
    for a, g, p in zip(net.arch_parameters(), ce, pen):
        assert torch.allclose(a.grad, g + (p if p is not None else 0), atol=1e-12)
