"""Aging evolution: the oldest member dies (not the worst), the tournament picks the best."""

from __future__ import annotations

import random

from core.nas.search_context import RunState
from core.nas.strategies.evolution import age_population, tournament
from core.nas.tasks import SEARCH


def test_the_oldest_dies_even_when_it_is_the_best():
    history = [{"score": 0.9}, {"score": 0.1}, {"score": 0.5}, {"score": 0.2}]
    population = age_population([0, 1, 2], 3, size=3)
    assert population == [1, 2, 3]  # member 0 (the best) is gone, 1 (the worst) stays
    assert age_population([0, 1], 2, size=3) == [0, 1, 2]
    assert history[0]["score"] == max(h["score"] for h in history)


def test_tournament_picks_the_best_of_its_sample():
    history = [{"score": s} for s in (0.3, 0.8, 0.1, 0.6)]
    rng = random.Random(0)
    for _ in range(20):
        assert tournament(rng, [0, 1, 2, 3], history, 4) == 1
    picks = {tournament(rng, [0, 2, 3], history, 2) for _ in range(50)}
    assert picks == {0, 3}  # 2 (the worst) never wins a pair


def test_the_search_keeps_the_newest_members(make_job, store):
    job_id, reporter = make_job(strategy="evolution", samples=5)  # TINY: population 3
    SEARCH.run(reporter.spec, reporter)
    state = RunState.load(reporter.checkpoint_path, "evolution").search
    assert state["population"] == [2, 3, 4]
