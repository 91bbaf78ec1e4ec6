"""The pace probe, and a search that re-plans when the machine slows mid-job: the report is cut,
then the search's end moves, and a training in flight stops at the new end."""

from __future__ import annotations

import random
import time

import pytest
import torch

from core.nas import search_context
from core.nas.pace import Pace
from core.nas.planning import SEARCH_ONLY, plan
from core.nas.proxy_training import prepare
from core.nas.search_context import Budget, RunState, SearchContext
from core.nas.space import sample_genotype
from core.nas.trials import TrialTimeout
from tests.nas.conftest import make_proxy_tensors


class _StubPace:
    def __init__(self, slowdown: float):
        self.value = slowdown

    def slowdown(self) -> float:
        return self.value


def test_pace_is_the_smaller_of_the_last_two_probes():
    pace = Pace(
        torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(12, 2)), torch.ones(4, 3, 2, 2)
    )
    times = iter([2.0, 6.0, 3.0, 1.0])
    pace.baseline_s = 1.0
    pace.probe_s = lambda: next(times)
    # 2x, then 6x (a spike: the previous 2x stands), then 3x (6x was real: 3x), then 1x
    assert [pace.slowdown() for _ in range(4)] == [1.0, 2.0, 3.0, 1.0]


def test_a_probe_leaves_weights_and_random_numbers_alone():
    torch.manual_seed(0)
    net = torch.nn.Sequential(torch.nn.Conv2d(3, 4, 3), torch.nn.Flatten(), torch.nn.LazyLinear(2))
    net(torch.zeros(1, 3, 8, 8))
    before = [p.detach().clone() for p in net.parameters()]
    x = torch.randn(16, 3, 8, 8)
    state = torch.get_rng_state()
    pace = Pace(net, x)
    assert pace.baseline_s > 0 and pace.x.shape[0] == 8
    pace.slowdown()
    with torch.no_grad():  # a step check inside an evaluation
        pace.slowdown()
    assert torch.equal(torch.get_rng_state(), state)
    assert all(torch.equal(a, b) for a, b in zip(before, net.parameters()))
    assert all(p.grad is None for p in net.parameters())


@pytest.fixture
def ctx(make_job, monkeypatch):
    """A 2-minute evolution job's context with a plan made at 3 s an epoch, 10 s in."""
    monkeypatch.setattr(search_context, "PACE_EVERY_S", 0.0)
    monkeypatch.setattr(search_context, "PACE_SHARE", 0.0)
    _, reporter = make_job(
        strategy="evolution", minutes=2.0, report={"random": 2, "epochs": 24}, child={"epochs": 3}
    )
    data = prepare(make_proxy_tensors(), 8)
    run_state = RunState("evolution")
    c = SearchContext(reporter_cfg(reporter), data, reporter, run_state, Budget(120.0, 10.0))
    c.set_plan(plan(c.cfg, epoch_s=3.0, train_crops=600, val_crops=150, elapsed_s=10.0))
    return c


def reporter_cfg(reporter):
    from core.nas.config import SearchConfig

    return SearchConfig.from_spec(reporter.spec)


def test_a_machine_that_slows_3x_cuts_the_report_and_logs_it(ctx):
    planned = ctx.plan
    assert planned["report"]["epochs"] == 6 and ctx.budget.seconds == planned["search_s"]
    ctx.pace = _StubPace(1.0)
    ctx.keep_pace()
    assert ctx.budget.seconds == planned["search_s"]  # same pace: nothing moves
    ctx.pace = _StubPace(3.0)
    ctx.keep_pace()
    # at 9 s an epoch the report keeps 2 networks for fewer epochs; the search's end holds
    assert ctx.plan["report"]["epochs"] < 6 and ctx.plan["slowdown"] == 3.0
    assert ctx.budget.seconds == pytest.approx(planned["search_s"])
    assert any("re-planned" in e["message"] for e in ctx.reporter.store.events(ctx.reporter.job_id))
    ctx.pace = _StubPace(1000.0)  # no report fits any more: the search keeps the time left
    ctx.keep_pace()
    assert ctx.plan["mode"] == SEARCH_ONLY
    assert ctx.budget.seconds <= 120.0 - planned["reserve_s"] - 10.0 + 1.0
    assert ctx.run_state.plan is planned  # re-plans start from the first plan, which is kept


def test_a_training_in_flight_stops_at_the_moved_end(ctx):
    """A candidate without a deadline of its own stops (TrialTimeout) at its next step once a
    re-plan has moved the search's end: 3x slower with half a second of the job left before its
    reserve, no report fits and the search ends then."""
    genotype = sample_genotype(random.Random(0), ctx.cfg.network.nodes, ctx.cfg.network.skip_cap)
    trial = ctx.trial(genotype, 0, 10_000, "search")
    ctx.pace = _StubPace(3.0)
    ctx.job = Budget(120.0, 120.0 - ctx.plan["reserve_s"] - 0.5)
    start = time.monotonic()
    with pytest.raises(TrialTimeout):
        for _ in ctx.run_trials([trial]):
            pass
    assert time.monotonic() - start < 15.0  # 10,000 epochs would take hours
    assert ctx.plan["mode"] == SEARCH_ONLY


def test_report_trainings_stop_at_the_jobs_hard_limit(ctx):
    genotype = sample_genotype(random.Random(1), ctx.cfg.network.nodes, ctx.cfg.network.skip_cap)
    ctx.job = Budget(120.0, 119.0)
    start = time.monotonic()
    with pytest.raises(TrialTimeout):
        for _ in ctx.run_trials([ctx.trial(genotype, 0, 10_000, "report")], until_job_s=120.5):
            pass
    assert time.monotonic() - start < 30.0


def test_budget_fraction_of_a_zero_second_budget():
    assert Budget(0.0).fraction() == 1.0 and Budget(float("inf")).fraction() == 0.0
    assert Budget(10.0, 5.0).fraction() == pytest.approx(0.5, abs=0.01)
