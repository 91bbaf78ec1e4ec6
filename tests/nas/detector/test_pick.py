"""The detector search's objective, Pareto front, pick and time plan on hand-made values."""

from __future__ import annotations

import pytest

from core.nas.detector.pick import TrialPoint, comparable, pareto_front, pick, reward
from core.nas.detector.plan import (
    TrialCost,
    first_rung_s,
    plan_max_epochs,
    rungs,
    seconds_to_next_rung,
)

# trial: (AP50, latency ms). B dominates C (better and faster), A dominates D.
TABLE = {0: (0.50, 10.0), 1: (0.60, 20.0), 2: (0.55, 25.0), 3: (0.40, 12.0), 4: (0.70, 40.0)}
POINTS = [TrialPoint(n, ap, ms, epochs=9) for n, (ap, ms) in TABLE.items()]


def test_reward_is_ap50_within_the_target_and_scaled_by_target_over_latency_above():
    assert reward(0.6, 10.0, 20.0) == 0.6  # w = 0: only accuracy counts within the target
    assert reward(0.6, 20.0, 20.0) == 0.6
    assert reward(0.6, 40.0, 20.0) == pytest.approx(0.3)  # w = -1: twice as slow, half
    assert reward(0.6, 30.0, 20.0) == pytest.approx(0.4)


def test_pareto_front_of_a_hand_made_table():
    front = pareto_front(POINTS)
    assert [p.trial for p in front] == [0, 1, 4]  # fastest first; 2 and 3 are dominated


def test_equal_points_are_both_on_the_front():
    twins = [TrialPoint(0, 0.5, 10.0, 3), TrialPoint(1, 0.5, 10.0, 3)]
    assert [p.trial for p in pareto_front(twins)] == [0, 1]


def test_pick_is_the_best_ap50_within_the_target():
    assert pick(POINTS, 22.0).point.trial == 1 and pick(POINTS, 22.0).within_target
    assert pick(POINTS, 100.0).point.trial == 4
    assert pick(POINTS, 10.0).point.trial == 0  # the limit itself is within
    none_within = pick(POINTS, 5.0)
    assert none_within.point.trial == 0 and not none_within.within_target  # the fastest
    assert pick([], 10.0) is None


def test_a_tie_on_ap50_goes_to_the_faster():
    tie = [TrialPoint(0, 0.5, 12.0, 3), TrialPoint(1, 0.5, 11.0, 3)]
    assert pick(tie, 20.0).point.trial == 1


def test_only_complete_trials_compete_unless_none_is():
    pruned_but_better = TrialPoint(5, 0.9, 5.0, epochs=1, complete=False)
    assert pick([*POINTS, pruned_but_better], 100.0).point.trial == 4
    assert 5 not in [p.trial for p in pareto_front([*POINTS, pruned_but_better])]
    partial = [
        TrialPoint(0, 0.3, 10.0, epochs=1, complete=False),
        TrialPoint(1, 0.2, 10.0, epochs=3, complete=False),
        TrialPoint(2, 0.1, 30.0, epochs=3, complete=False),
    ]
    assert [p.trial for p in comparable(partial)] == [1, 2]  # the most epochs
    assert pick(partial, 20.0).point.trial == 1


def test_rungs_by_hand():
    assert rungs(1, 3, 9) == [1, 3, 9]
    assert rungs(1, 3, 5) == [1, 3, 5]  # the top rung need not be a power of eta
    assert rungs(2, 2, 8) == [2, 4, 8]
    assert rungs(1, 3, 1) == [1]


def test_plan_max_epochs_fits_a_complete_trial_in_its_share():
    cost = TrialCost(startup_s=2.0, epoch_s=3.0, eval_s=1.0)
    # share 25 s of 100: 1 epoch 2+3+1 = 6, 3 epochs 2+9+2 = 13, 9 epochs 2+27+3 = 32
    assert plan_max_epochs(cost, 100.0, 1, 3) == 3
    assert plan_max_epochs(cost, 128.0, 1, 3) == 9
    assert plan_max_epochs(cost, 1.0, 1, 3) == 1  # nothing fits: the first rung, never 0
    assert plan_max_epochs(cost, 1e9, 1, 3) == 27  # capped
    assert first_rung_s(cost, 1) == 6.0


def test_seconds_to_next_rung():
    assert seconds_to_next_rung(1, 3.0, 1.0, [1, 3, 9]) == 2 * 3.0 + 1.0
    assert seconds_to_next_rung(9, 3.0, 1.0, [1, 3, 9]) == 0.0
