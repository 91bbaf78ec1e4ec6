"""How a detector search spends its minutes: the epochs a trial may reach, where it is judged, and
whether the time left fits another step.

Fidelity is training epochs. Successive halving (Jamieson & Talwalkar, AISTATS 2016; its
asynchronous form ASHA, Li et al., MLSys 2020, is Optuna's SuccessiveHalvingPruner) judges a
trial at rungs r, r*eta, r*eta^2, ... epochs and keeps about 1/eta of the trials at each; a trial
that survives every rung trains `max_epochs` and is complete. `plan_max_epochs` sizes the top
rung from a measured `TrialCost` so that one complete trial takes at most `FULL_TRIAL_SHARE` of
the budget (the first trial always survives its rungs: it has no rival yet).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

FULL_TRIAL_SHARE = 0.25
MAX_PLANNED_EPOCHS = 27  # 3^3: four rungs at the default eta
# the first trial must fit its first rung this many times over when the plan is made: a busy
# machine slows a trial after the probe timed it, and a search without one evaluation has no pick
FIRST_RUNG_MARGIN = 1.3
FINISH_S = 1.0  # choosing and registering the pick after the last trial, as a person waits


@dataclass(frozen=True)
class TrialCost:
    """Seconds of a trial's parts, measured on the job's device (or estimated from them)."""

    startup_s: float  # building the model and the data, timing its latency
    epoch_s: float  # one training epoch
    eval_s: float  # one evaluation on the val split

    def seconds(self, epochs: int, evals: int) -> float:
        return self.startup_s + epochs * self.epoch_s + evals * self.eval_s

    def to_dict(self) -> dict[str, float]:
        return {"startup_s": self.startup_s, "epoch_s": self.epoch_s, "eval_s": self.eval_s}

    def like(self, first_rung: float, min_epochs: int) -> TrialCost:
        """The same parts scaled so that the first rung takes `first_rung` s (a measured one)."""
        k = first_rung / max(first_rung_s(self, min_epochs), 1e-9)
        return TrialCost(self.startup_s * k, self.epoch_s * k, self.eval_s * k)

    @classmethod
    def from_dict(cls, data: dict[str, float]) -> TrialCost:
        return cls(float(data["startup_s"]), float(data["epoch_s"]), float(data["eval_s"]))


def rungs(min_epochs: int, reduction_factor: int, max_epochs: int) -> list[int]:
    """The epochs after which a trial is evaluated: min_epochs * eta^k below max_epochs, and
    max_epochs itself (where it completes)."""
    out, epochs = [], max(1, min_epochs)
    while epochs < max_epochs:
        out.append(epochs)
        epochs *= max(2, reduction_factor)
    return [*out, max_epochs]


def plan_max_epochs(
    cost: TrialCost,
    budget_s: float,
    min_epochs: int,
    reduction_factor: int,
    share: float = FULL_TRIAL_SHARE,
    cap: int = MAX_PLANNED_EPOCHS,
) -> int:
    """The largest rung min_epochs * eta^k (at most `cap`) whose complete trial fits `share` of
    `budget_s`; min_epochs when none does (every trial then completes at its first rung)."""
    best, epochs = max(1, min_epochs), max(1, min_epochs)
    while epochs <= cap:
        if cost.seconds(epochs, len(rungs(min_epochs, reduction_factor, epochs))) <= (
            share * budget_s
        ):
            best = epochs
        epochs *= max(2, reduction_factor)
    return best


def first_rung_s(cost: TrialCost, min_epochs: int) -> float:
    """Seconds from a trial's start to its first judgement."""
    return cost.seconds(max(1, min_epochs), 1)


def seconds_to_next_rung(epoch: int, epoch_s: float, eval_s: float, schedule: list[int]) -> float:
    """Seconds a trial after `epoch` epochs needs to reach its next rung and be evaluated there
    (0 when it has none left)."""
    ahead = [r for r in schedule if r > epoch]
    return (ahead[0] - epoch) * epoch_s + eval_s if ahead else 0.0


def sure_rungs_s(
    schedule: list[int],
    rung: int | None,
    reached: set[int],
    epoch_s: float,
    eval_s: float,
    room: float,
) -> float:
    """Seconds a trial trains for sure after its judgement at `rung`: alone at a rung (no other
    trial has `reached` it) Optuna's successive halving keeps it (of fewer than eta trials the
    best goes on), so it trains to the next rung, and on, while that fits `room` seconds."""
    seconds = 0.0
    while rung is not None and rung not in reached and rung < max(schedule, default=0):
        step = seconds_to_next_rung(rung, epoch_s, eval_s, schedule)
        if room - seconds < step:
            break
        seconds += step
        rung = next((r for r in schedule if r > rung), None)
    return seconds


def too_short(cost: TrialCost, min_epochs: int, clock: Any, minutes: float) -> str | None:
    """Why a budget is too short when the time `clock` (a JobClock) has left after the probe
    cannot hold the first trial's first rung with FIRST_RUNG_MARGIN, naming the minutes that
    would fit; None when it fits."""
    need = FIRST_RUNG_MARGIN * first_rung_s(cost, min_epochs)
    if clock.remaining >= need:
        return None
    fits = math.ceil((clock.elapsed + need + clock.reserve_s) / 6.0) / 10.0
    return (
        f"minutes={minutes:g}: too short: the first trial needs about {need:.0f} s on this "
        f"machine (its first rung of {min_epochs} epoch{'' if min_epochs == 1 else 's'}), "
        f"{max(0.0, clock.remaining):.0f} s are left after timing the reference detector; "
        f"give --minutes {fits:g} or more"
    )


def job_seconds_left(
    clock: Any,
    first_rung: float,
    judged_in: float | None,
    goes_on_s: float = 0.0,
    trial_s: float | None = None,
) -> float:
    """When a timed search will end, in seconds from now. The running trial is judged in
    `judged_in` s (None: none is running) and then trains `goes_on_s` more (the rungs after it
    that fit, where it surely goes on); a new trial starts only while the time left holds a
    `first_rung` (the mean the trials took: the search's own rule), and most new trials are
    stopped at theirs (judged against the earlier ones), `trial_s` each (default `first_rung`);
    then the pick is chosen and registered (FINISH_S; the clock's reserve keeps more for a busy
    machine)."""
    budget_left = max(0.0, clock.budget_s - clock.elapsed)
    ahead, trial_s = (judged_in or 0.0) + goes_on_s, max(trial_s or first_rung, first_rung)
    while first_rung > 0 and clock.remaining - ahead >= first_rung:
        ahead += trial_s
    return min(budget_left, ahead + FINISH_S)
