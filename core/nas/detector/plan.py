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

from dataclasses import dataclass

FULL_TRIAL_SHARE = 0.25
MAX_PLANNED_EPOCHS = 27  # 3^3: four rungs at the default eta


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
