"""The zero-cost strategy end to end (real SEARCH task and Reporter) and the warm starts."""

from __future__ import annotations

import pytest

from core.nas.config import ZeroCostConfig
from core.nas.genotypes import Genotype
from core.nas.strategies.zero_cost import ranking
from core.nas.tasks import SEARCH

DEFAULT = ZeroCostConfig()
ZC = {"zero_cost": {"cells": 6, "top_k": 2, "batch_size": 8}}
PROXY_KEYS = ("synflow", "naswot", "zico", "noskip", "params")


def test_zero_cost_scores_cells_trains_the_top_k_and_picks_from_them(make_job, store):
    job_id, reporter = make_job(strategy="zero-cost", **ZC)
    result = SEARCH.run(reporter.spec, reporter)
    rows = store.architectures(job_id)
    candidates = [r for r in rows if r["extra"]["kind"] == "candidate"]
    trained = [r for r in rows if r["extra"]["kind"] == "trained"]
    assert len(candidates) == 6 and [r["step"] for r in candidates] == list(range(6))
    for row in candidates:
        assert row["extra"]["role"] == "candidate" and row["score"] is None
        assert all(isinstance(row["extra"][k], float) for k in PROXY_KEYS)
        assert row["extra"]["params"] == row["params"]
    # the trained ones are the two best by the default rank aggregate of the default proxies
    records = [
        {"genotype": r["genotype"], "arch_id": r["id"], **{k: r["extra"][k] for k in PROXY_KEYS}}
        for r in candidates
    ]
    top = ranking(records, DEFAULT.proxies, DEFAULT.combine)[:2]
    assert [r["genotype"] for r in trained] == [t["genotype"] for t in top]
    assert [r["extra"]["rank"] for r in trained] == [1, 2]
    best = max(trained, key=lambda r: (r["score"], -r["extra"]["rank"]))
    assert Genotype.from_dict(result["genotype"]) == Genotype.from_dict(best["genotype"])
    assert result["search_score"] == pytest.approx(best["score"])


def test_evolution_warm_start_uses_the_best_ranked_cells(make_job, store):
    job_id, reporter = make_job(strategy="evolution", samples=4, warm_start="zero-cost", **ZC)
    SEARCH.run(reporter.spec, reporter)
    rows = store.architectures(job_id)
    candidates = [r for r in rows if r["extra"]["kind"] == "candidate"]
    sampled = [r for r in rows if r["extra"]["kind"] == "sampled"]
    records = [
        {"genotype": r["genotype"], "arch_id": r["id"], **{k: r["extra"][k] for k in PROXY_KEYS}}
        for r in candidates
    ]
    ranked = ranking(records, DEFAULT.proxies, DEFAULT.combine)
    population = 3  # TINY: population 3, sample size 2
    assert [r["extra"]["origin"] for r in sampled] == ["zero-cost"] * population + ["mutation"]
    assert [r["genotype"] for r in sampled[:population]] == [
        r["genotype"] for r in ranked[:population]
    ]
    assert [r["extra"]["candidate_arch_id"] for r in sampled[:population]] == [
        r["arch_id"] for r in ranked[:population]
    ]


def test_random_warm_start_is_a_filter(make_job, store):
    job_id, reporter = make_job(
        strategy="random",
        samples=3,
        warm_start="zero-cost",
        zero_cost={**ZC["zero_cost"], "keep": 0.34},
    )
    SEARCH.run(reporter.spec, reporter)
    rows = store.architectures(job_id)
    candidates = [r for r in rows if r["extra"]["kind"] == "candidate"]
    sampled = [r for r in rows if r["extra"]["kind"] == "sampled"]
    records = [
        {"genotype": r["genotype"], "arch_id": r["id"], **{k: r["extra"][k] for k in PROXY_KEYS}}
        for r in candidates
    ]
    ranked = ranking(records, DEFAULT.proxies, DEFAULT.combine)
    # keep 34 % of 6 scored cells = 3 (rounded up), trained in rank order
    assert [r["genotype"] for r in sampled] == [r["genotype"] for r in ranked[:3]]
    assert [r["extra"]["origin"] for r in sampled] == ["zero-cost filter"] * 3


def test_fill_trains_the_top_cells_as_long_as_the_search_budget_affords():
    from types import SimpleNamespace

    from core.nas.config import SearchConfig
    from core.nas.search_context import Budget
    from core.nas.strategies.zero_cost import _top_epochs

    def ctx(fill: bool, seconds: float, report_epochs: int = 24):
        cfg = SearchConfig.from_spec(
            {"dataset": "d", "zero_cost": {"fill": fill}, "report": {"epochs": report_epochs}}
        )
        # one report epoch 1 s on 600 crops -> 0.5 s per child epoch on the 300-crop half
        return SimpleNamespace(
            cfg=cfg,
            budget=Budget(seconds),
            plan={"epoch_s": 1.0},
            data=SimpleNamespace(search_train_y=[0] * 300, train_y=[0] * 600),
            reporter=SimpleNamespace(info=lambda _msg: None),
        )

    assert _top_epochs(ctx(False, 100.0), 5) == 3  # child_epochs
    assert _top_epochs(ctx(True, 51.0), 5) == 16  # 0.8 * 51 / (5 * 0.5)
    assert _top_epochs(ctx(True, 100.0), 5) == 24  # capped by the report's
    assert _top_epochs(ctx(True, 2.0), 5) == 3  # never below child_epochs
    assert _top_epochs(ctx(True, float("inf")), 5) == 3  # no time limit
