"""The planner with hand-made timings: no phase planned to zero, floors per strategy, a budget
too short said as such, 0-s measurements, and a machine that slows 3x mid-job."""

from __future__ import annotations

import math

import pytest

from core.nas.config import SearchConfig
from core.nas.planning import (
    FULL,
    RESERVE_MIN_S,
    SEARCH_ONLY,
    TOO_SHORT,
    afford,
    epoch_steps,
    fitting,
    plan,
    replan,
    search_floor_s,
)

# 600 train crops, 150 val crops at batch 32: 19 steps + 0.35 * 150 / 32 = 20.640625 steps
STEPS = 19 + 0.35 * 150 / 32


def cfg(strategy: str = "evolution", minutes: float | None = 1.0, **extra) -> SearchConfig:
    return SearchConfig.from_spec(
        {"dataset": "d", "strategy": strategy, "minutes": minutes, **extra}
    )


def test_epoch_steps_and_floors_by_hand():
    assert epoch_steps(600, 150, 32) == pytest.approx(STEPS)
    assert epoch_steps(0, 0, 32) == 1  # never a zero-step epoch
    # evolution: 2 candidates x 3 child epochs x 2 s x the search-train half (0.5) = 6 s
    assert search_floor_s(cfg("evolution"), 2.0, 0.1) == pytest.approx(6.0)
    # its zero-cost warm start scores in a quarter of the search first: 6 / 0.75
    assert search_floor_s(cfg("evolution", warm_start="zero-cost"), 2.0, 0.1) == 8.0
    # darts: 2 supernet steps of 16 crops at 28 discrete-step crops each: 2 x 28 x 0.5 x 0.1;
    # enas trains one sampled child a step: 4 crops' worth
    assert search_floor_s(cfg("darts"), 2.0, 0.1) == pytest.approx(2.8)
    assert search_floor_s(cfg("enas"), 2.0, 0.1) == pytest.approx(0.4)
    # zero-cost: 10 cells x 6 steps x 0.1 s in its scoring half (12 s), or one top cell in
    # the other half (3 s / 0.5 = 6 s): the larger
    assert search_floor_s(cfg("zero-cost"), 2.0, 0.1) == pytest.approx(12.0)
    assert search_floor_s(cfg("zero-cost"), 20.0, 0.1) == pytest.approx(60.0)


def test_full_plan_keeps_the_search_floor():
    """A report that would take the search below its floor gives way: 1 minute, 6 s epochs."""
    p = plan(cfg("evolution", report={"random": 1, "repeats": 1}), epoch_s=6.0, train_crops=600)
    # left = 60 - 3 - 0 = 57; floor = 2 x 3 x 6 x 0.5 = 18 s; the report's room is
    # min(max(0.3 x 57, min(2 x 6 x 6, 0.6 x 57)), 57 - 18) = 34.2 s: 2 networks x 2 epochs
    assert p["mode"] == FULL and p["search_floor_s"] == 18.0
    assert p["report"]["epochs"] == 2 and p["report_s"] == 24.0
    assert p["search_s"] == 57.0 - 24.0 >= p["search_floor_s"]
    assert p["text"].startswith("plan: search 33s, report 24s (searched + 1 random cell x 2")


def test_no_phase_is_planned_to_zero():
    """The observed 'search 0s, report 1m 36s': a report of one epoch that alone fills the
    budget. The plan now drops the report (saying so) or says the budget is too short."""
    slow = cfg("darts", minutes=2)
    for epoch_s in (10.0, 40.0, 49.0, 60.0, 90.0, 200.0, 1e6):
        p = plan(slow, epoch_s=epoch_s, train_crops=600)
        assert p["mode"] in (FULL, SEARCH_ONLY, TOO_SHORT)
        if p["mode"] == FULL:
            assert p["search_s"] >= p["search_floor_s"] > 0 and p["report_s"] > 0
        elif p["mode"] == SEARCH_ONLY:
            assert p["search_s"] >= p["search_floor_s"] > 0 and p["report_s"] == 0
            assert "no final report" in p["text"]
        else:
            assert p["text"].startswith("too short") and "--minutes" in p["text"]
    # 49 s epochs: darts floor 2 x 28 x 0.5 x 49 / 20.64 = 66 s fits the 114 s left, the
    # smallest report (98 s) does not beside it: search only
    assert plan(slow, epoch_s=49.0, train_crops=600)["mode"] == SEARCH_ONLY
    # 90 s epochs: the floor (122 s) alone does not fit: too short
    p = plan(slow, epoch_s=90.0, train_crops=600)
    assert p["mode"] == TOO_SHORT and p["min_minutes"] == 5.3
    # the budget it names fits a full plan
    assert plan(cfg("darts", minutes=p["min_minutes"]), epoch_s=90.0)["mode"] == FULL
    assert plan(cfg("darts", minutes=p["min_minutes"] - 0.2), epoch_s=90.0)["mode"] != FULL


def test_search_only_when_the_report_does_not_fit():
    # evolution, 1 minute, 12 s epochs: floor 2 x 3 x 12 x 0.5 = 36 s; left 57 s; smallest
    # report 2 x 12 = 24 s does not fit beside it: the search keeps all 57 s
    p = plan(cfg("evolution"), epoch_s=12.0, train_crops=600)
    assert p["mode"] == SEARCH_ONLY and p["search_s"] == 57.0
    assert p["report"]["networks"] == 0 and p["report_s"] == 0.0
    assert p["text"] == (
        "plan: search 57s, no final report (its smallest, 24s, does not fit beside the search "
        "on this machine), within 1m"
    )


def test_a_search_only_plan_replans_without_a_report():
    c = cfg("evolution")
    p = plan(c, epoch_s=12.0, train_crops=600)
    for epoch_s in (0.0, 12.0, 36.0):
        q = replan(p, c, epoch_s=epoch_s, elapsed_s=20.0, search_elapsed_s=10.0)
        assert q["mode"] == SEARCH_ONLY and q["report_s"] == 0.0
        assert q["search_s"] == 10.0 + min(p["search_s"] - 10.0, 60.0 - 3.0 - 20.0)
    assert afford(10.0, 1.0, c.report.__class__(repeats=1, random=0)).networks == 1


def test_zero_second_measurements_plan_without_dividing_by_zero():
    for strategy in ("darts", "evolution", "random", "zero-cost"):
        p = plan(cfg(strategy), epoch_s=0.0, train_crops=0, val_crops=0)
        assert p["mode"] == FULL and math.isfinite(p["search_s"]) and p["search_s"] > 0
        assert p["report"]["epochs"] == 24  # the asked report fits in no time
        again = replan(p, cfg(strategy), epoch_s=0.0, elapsed_s=0.0, search_elapsed_s=0.0)
        assert again["search_s"] == p["search_s"] and again["report"] == p["report"]
    assert afford(10.0, 0.0, cfg().report).epochs == 24
    assert plan(cfg(minutes=None), epoch_s=0.0)["search_s"] is None


def test_an_estimated_plan_counts_its_start_up():
    """Before the job runs, loading and the timing of two cells are estimated and counted: a
    budget that the estimate cannot fit is too short (refused at submit)."""
    p = plan(cfg("darts", minutes=0.2))
    assert not p["measured"] and p["mode"] == TOO_SHORT
    assert "estimated" in p["text"] and f"--minutes {p['min_minutes']:g}" in p["text"]
    assert plan(cfg("darts", minutes=p["min_minutes"]))["mode"] == FULL


def test_fitting_never_exceeds_its_room():
    report = cfg(report={"random": 3, "repeats": 2}).report
    assert fitting(100.0, 1.0, report).describe() == "searched x2 + 3 random cells x 20 epochs"
    assert fitting(2.0, 1.0, report).describe() == "searched + 1 random cell x 1 epoch"
    assert fitting(1.5, 1.0, report).describe() == "searched + 0 random cells x 1 epoch"
    assert fitting(0.5, 1.0, report).networks == 0


def _slowed(strategy: str, minutes: float = 2.0, **extra):
    """A plan made at 3 s an epoch, then the machine runs slower 40 s into the job (30 s of
    it in the search)."""
    c = cfg(strategy, minutes=minutes, report={"random": 2, "repeats": 1}, **extra)
    p = plan(c, epoch_s=3.0, train_crops=600, elapsed_s=10.0)
    return c, p


def _shape(p: dict) -> tuple:
    return p["report"]["repeats"], p["report"]["random"], p["report"]["epochs"]


@pytest.mark.parametrize("strategy", ["darts", "evolution", "random", "zero-cost"])
def test_a_machine_that_slows_3x_cuts_the_report_not_the_deadline(strategy):
    c, p = _slowed(strategy)
    # planned: left = 120 - 6 - 10 = 104 s; the report's 30 % (31.2 s) stretched to what the
    # searched and one random cell need for 6 epochs: 2 x 6 x 3 s = 36 s; the search 68 s
    assert p["mode"] == FULL and _shape(p) == (1, 1, 6) and p["report_s"] == 36.0
    assert p["search_s"] == 68.0
    # at 9 s an epoch that report needs 108 s; the 74 s left hold the search's 38 s rest and
    # 36 s of report: 2 networks x 2 epochs x 9 s; the search keeps its end
    q = replan(p, c, epoch_s=9.0, elapsed_s=40.0, search_elapsed_s=30.0)
    assert q["search_s"] == p["search_s"] and _shape(q) == (1, 1, 2) and q["report_s"] == 36.0
    assert (q["search_s"] - 30.0) + q["report_s"] <= 120.0 - 6.0 - 40.0
    assert q["slowdown"] == 3.0 and "re-planned" in q["text"]


def test_a_machine_that_slows_more_ends_the_search_earlier_then_drops_the_report():
    c, p = _slowed("random", child={"epochs": 1})  # floor 2 x 1 x epoch x 0.5
    assert p["search_s"] == 68.0 and _shape(p) == (1, 1, 6)
    # 7x slower, 21 s an epoch: the smallest report (2 x 21 = 42 s) beside the search's 38 s
    # rest does not fit the 74 s left: the search ends 42 s before the end instead
    q = replan(p, c, epoch_s=21.0, elapsed_s=40.0, search_elapsed_s=30.0)
    assert q["mode"] == FULL and _shape(q) == (1, 1, 1) and q["report_s"] == 42.0
    assert q["search_s"] == 30.0 + 74.0 - 42.0
    # 20x: the smallest report (120 s) cannot fit at all: the report goes, the search keeps
    # the 74 s left
    r = replan(p, c, epoch_s=60.0, elapsed_s=40.0, search_elapsed_s=30.0)
    assert r["mode"] == SEARCH_ONLY and r["report_s"] == 0.0 and r["search_s"] == 30.0 + 74.0
    assert "no final report" in r["text"]
    # a machine that got faster again: back to (never beyond) the first plan
    s = replan(p, c, epoch_s=1.0, elapsed_s=40.0, search_elapsed_s=30.0)
    assert s["search_s"] == p["search_s"] and _shape(s) == _shape(p) and s["report_s"] == 12.0


def test_replan_past_the_end_plans_no_negative_phase():
    c, p = _slowed("evolution")
    q = replan(p, c, epoch_s=9.0, elapsed_s=500.0, search_elapsed_s=300.0)
    assert q["search_s"] == 300.0 and q["report_s"] == 0.0  # the search ends now, no report
    assert p["reserve_s"] == max(RESERVE_MIN_S, 6.0)


@pytest.mark.parametrize(
    "options, end",
    [
        ({"strategy": "darts"}, "until its 50 epochs end (no time limit)"),
        ({"strategy": "enas", "epochs": 1}, "until its 1 epoch ends (no time limit)"),
        ({"strategy": "evolution", "samples": 7}, "until 7 architectures are trained"),
        ({"strategy": "zero-cost"}, "until 500 cells are scored"),
    ],
)
def test_without_a_time_limit_the_plan_says_when_the_search_ends(options, end):
    """minutes=None (the Search tab's budget 0 or empty): no time is promised, the plan says
    which count ends the search, and no "within" clause."""
    text = plan(SearchConfig(dataset="d", minutes=None, **options))["text"]
    assert text.startswith(f"plan: search {end}") and "within" not in text
