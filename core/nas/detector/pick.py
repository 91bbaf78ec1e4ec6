"""What a detector search's trials mean: the scalar the optimiser sees, the Pareto front of val AP50
against latency, and the pick for a latency target.

* `reward`: MnasNet's objective (Tan et al., CVPR 2019, sec. 3, eq. 2) AP50 * (lat / T)^w in its
  hard-constraint setting: w = 0 within the target T (only accuracy counts), w = -1 above it
  (a detector twice as slow as the target keeps half its AP50). Optuna's pruners need one value
  per rung, so the trials are ranked by it; AP50 and latency are recorded apart.
* `pareto_front`: the trials no other trial beats on both AP50 (higher) and latency (lower).
* `pick`: the best AP50 among the trials within the target; when none is, the fastest one (said
  so in `within_target`). Both consider only the trials trained to the full budget of epochs
  (or, when no trial got there, those that reached the most epochs): a trial stopped at a lower
  rung was measured on less training and is not comparable.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from core.nas.latency import mnas_reward

W_WITHIN_TARGET = 0.0
W_OVER_TARGET = -1.0


def reward(ap50: float, latency_ms: float, target_ms: float) -> float:
    """AP50 * (latency / target)^w, w = 0 within the target and -1 above it."""
    w = W_WITHIN_TARGET if latency_ms <= target_ms else W_OVER_TARGET
    return mnas_reward(ap50, latency_ms, target_ms, w)


@dataclass(frozen=True)
class TrialPoint:
    """One trial as the front and the pick see it."""

    trial: int  # the Optuna trial number
    ap50: float  # val AP50 at the last evaluated epoch
    latency_ms: float  # batch-1 detection on the job's device (core.det.latency)
    epochs: int  # epochs trained
    complete: bool = True  # trained to the full budget of epochs


def comparable(points: Iterable[TrialPoint]) -> list[TrialPoint]:
    """The complete trials; when there is none, the trials that reached the most epochs."""
    points = [p for p in points if p.ap50 is not None and p.latency_ms is not None]
    complete = [p for p in points if p.complete]
    if complete or not points:
        return complete
    most = max(p.epochs for p in points)
    return [p for p in points if p.epochs == most]


def dominates(a: TrialPoint, b: TrialPoint) -> bool:
    """a is at least as accurate and as fast as b, and better in one of the two."""
    return (
        a.ap50 >= b.ap50
        and a.latency_ms <= b.latency_ms
        and (a.ap50 > b.ap50 or a.latency_ms < b.latency_ms)
    )


def pareto_front(points: Sequence[TrialPoint]) -> list[TrialPoint]:
    """The comparable trials that no other comparable trial dominates, fastest first."""
    pool = comparable(points)
    front = [p for p in pool if not any(dominates(q, p) for q in pool)]
    return sorted(front, key=lambda p: (p.latency_ms, -p.ap50, p.trial))


@dataclass(frozen=True)
class Pick:
    """The detector chosen for a target: its trial and whether it meets the target."""

    point: TrialPoint
    within_target: bool


def pick(points: Sequence[TrialPoint], target_ms: float) -> Pick | None:
    """The most accurate comparable trial within `target_ms` (the faster one on a tie); when
    none is within it, the fastest comparable trial. None when no trial has a result."""
    pool = comparable(points)
    if not pool:
        return None
    within = [p for p in pool if p.latency_ms <= target_ms]
    if within:
        return Pick(max(within, key=lambda p: (p.ap50, -p.latency_ms, -p.trial)), True)
    return Pick(min(pool, key=lambda p: (p.latency_ms, -p.ap50, p.trial)), False)
