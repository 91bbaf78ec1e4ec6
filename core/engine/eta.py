"""Truthful progress and remaining time of a running job: one estimator shared by every task.

A job reports how far it is (a fraction of its work in [0, 1]) and, when it knows better, its own
estimate of the remaining seconds (a search with a time budget knows its deadline; a training
run knows how many epochs are left and how long the first ones took). `EtaEstimator.update`
turns that into what the store shows:

* the fraction never goes back (a re-plan that adds work does not make the bar shrink);
* no ETA until it means something: at least `min_fraction` of the work done since this attempt
  started (5 % by default) or a first measured unit of work (`measured=True`, e.g. an epoch),
  and at least `min_elapsed_s` seconds;
* the ETA is the caller's `remaining_s` when given, else the rate estimate
  elapsed * (1 - f) / (f - f0), with f0 the fraction this attempt started at (a resumed job
  does not count the earlier attempt's work as done in no time).

`time_fraction(elapsed_s, remaining_s)` is the fraction of a job whose total is its elapsed time
plus its remaining estimate: with a time budget that fraction rises with the clock.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass

MIN_FRACTION = 0.05
MIN_ELAPSED_S = 1.0


@dataclass(frozen=True)
class Estimate:
    """What the store shows: fraction in [0, 1] and the ETA in seconds (None: not yet known)."""

    fraction: float
    eta_s: float | None


class EtaEstimator:
    """Monotone progress and a remaining-time estimate for one attempt of one job."""

    def __init__(
        self,
        min_fraction: float = MIN_FRACTION,
        min_elapsed_s: float = MIN_ELAPSED_S,
        clock: Callable[[], float] = time.monotonic,
    ):
        self.min_fraction = min_fraction
        self.min_elapsed_s = min_elapsed_s
        self._clock = clock
        self._started = clock()
        self._start_fraction: float | None = None
        self._fraction = 0.0
        self._measured = False

    @property
    def elapsed_s(self) -> float:
        """Seconds since this estimator (this attempt of the job) started."""
        return self._clock() - self._started

    def update(
        self, fraction: float, remaining_s: float | None = None, measured: bool = False
    ) -> Estimate:
        """Record progress; returns the fraction to show (never lower than before) and the ETA.

        `remaining_s`: the caller's own estimate of the seconds left (used once meaningful);
        `measured`: a first unit of work has been timed (makes the ETA meaningful early).
        """
        fraction = min(max(float(fraction), 0.0), 1.0) if math.isfinite(fraction) else 0.0
        if self._start_fraction is None:
            self._start_fraction = fraction
        self._fraction = max(self._fraction, fraction)
        self._measured = self._measured or measured
        return Estimate(self._fraction, self._eta(remaining_s))

    def _eta(self, remaining_s: float | None) -> float | None:
        if self._fraction >= 1.0:
            return 0.0
        elapsed = self.elapsed_s
        done = self._fraction - (self._start_fraction or 0.0)
        if elapsed < self.min_elapsed_s or not (self._measured or done >= self.min_fraction):
            return None
        if remaining_s is not None:
            return max(0.0, float(remaining_s)) if math.isfinite(remaining_s) else None
        if done <= 1e-9:
            return None
        return elapsed * (1.0 - self._fraction) / done


def time_fraction(elapsed_s: float, remaining_s: float) -> float:
    """elapsed / (elapsed + remaining) in [0, 1]: the share of a job whose end is estimated."""
    total = max(0.0, elapsed_s) + max(0.0, remaining_s)
    return 1.0 if total <= 0 else min(1.0, max(0.0, elapsed_s) / total)
