"""Progress and time left of a train job, measured over the whole job (training and evaluation).

The job is `total_steps` optimiser steps plus one evaluation at each epoch in `eval_epochs`.
Its cost in seconds is modelled as

    cost = steps * s_step + evaluations * s_eval

with s_step the measured wall seconds per step over the last WINDOW_EPOCHS epochs' worth of
steps of this run (at least WINDOW_MIN_STEPS; loader start-up, checkpoint writes and logging
between steps included: it is the wall time not spent evaluating, divided by the steps taken),
so that the estimate follows a machine that gets busier or quieter without jumping on one slow
epoch (with a one-epoch window, two slow epochs on a shared machine throw the ETA far off), and
s_eval the mean measured seconds of the evaluations of this run. Before the first evaluation is
measured, s_eval is estimated from the val split's size: a val image costs EVAL_COST_PER_IMAGE
of a training image (a forward pass and post-processing against a forward and a backward pass).

progress = done cost / total cost, never decreasing (an estimate that grows holds the bar still
until the work catches up); seconds left = total cost - done cost. The first epoch of a run is
warm-up (images decoded and cached, kernels and allocators set up: it can be several times
slower than the next ones), so its steps are never extrapolated: seconds left are given only
once that epoch is over and at least MIN_STEPS steps over MIN_SECONDS have been measured after
it, at the speed of those steps. A resumed job keeps its steps done; its speed (and its
warm-up) is measured afresh.
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable, Iterable

EVAL_COST_PER_IMAGE = 0.5
MIN_STEPS = 8
MIN_SECONDS = 5.0
WINDOW_MIN_STEPS = 20
WINDOW_EPOCHS = 3


class TrainProgress:
    """Live estimate of a train job's progress in [0, 1] and of its seconds left.

    Call `step()` after each optimiser step, `eval_started()` / `eval_done()` around each
    evaluation (`eval_partial(done, total)` between its batches), then read `fraction()` and
    `seconds_left()`. `clock` is injectable for tests (default time.monotonic).
    """

    def __init__(
        self,
        total_steps: int,
        steps_per_epoch: int,
        eval_epochs: Iterable[int],
        val_images: int,
        batch_size: int,
        steps_done: int = 0,
        clock: Callable[[], float] = time.monotonic,
    ):
        self.total_steps, self.steps_per_epoch = int(total_steps), max(int(steps_per_epoch), 1)
        self.eval_epochs = sorted(set(int(e) for e in eval_epochs))  # 1-based epoch numbers
        self.clock = clock
        self.steps_done = int(steps_done)
        self._eval_guess_steps = EVAL_COST_PER_IMAGE * val_images / max(int(batch_size), 1)
        self._started = clock()
        self._first_step = self.steps_done
        epochs_before = self.steps_done // self.steps_per_epoch
        self._evals_before = sum(1 for e in self.eval_epochs if e <= epochs_before)
        self._eval_seconds: list[float] = []
        self._eval_started: float | None = None
        self._eval_share = 0.0  # share of the running evaluation already done
        self._fraction = 0.0
        self._window = max(WINDOW_EPOCHS * self.steps_per_epoch, WINDOW_MIN_STEPS)
        self._marks: deque[tuple[float, int]] = deque(
            [(0.0, self.steps_done)], maxlen=self._window + 1
        )
        self._warm_at: tuple[float, int] | None = None  # (seconds, steps) when warm-up ended

    # -- events ------------------------------------------------------------------------------
    def step(self) -> None:
        self.steps_done += 1
        mark = (self._measured()[1], self.steps_done)
        if self._warm_at is None and self.steps_done - self._first_step >= self.steps_per_epoch:
            self._warm_at = mark  # the speed is measured from here on
            self._marks = deque([mark], maxlen=self._window + 1)
        else:
            self._marks.append(mark)

    def eval_started(self) -> None:
        self._eval_started, self._eval_share = self.clock(), 0.0

    def eval_partial(self, done: int, total: int) -> None:
        self._eval_share = min(max(done / max(total, 1), 0.0), 1.0)

    def eval_done(self) -> None:
        if self._eval_started is not None:
            self._eval_seconds.append(self.clock() - self._eval_started)
        self._eval_started, self._eval_share = None, 0.0

    @property
    def eval_seconds(self) -> float:
        """Wall seconds of this run's finished evaluations."""
        return sum(self._eval_seconds)

    def replan(self, total_steps: int, eval_epochs: Iterable[int]) -> None:
        """A new plan of the same job (a time budget moved its last epoch)."""
        self.total_steps = int(total_steps)
        self.eval_epochs = sorted(set(int(e) for e in eval_epochs))

    def epoch_costs(self) -> tuple[float, float]:
        """(seconds of a training epoch, seconds of an evaluation) as measured so far: the speed
        after the warm-up once MIN_STEPS steps are measured, else every step of this run (the
        warm-up included: an overestimate that errs on the safe side)."""
        steps, seconds = self._measured()
        s_step, s_eval = self._costs()
        if self._warm_at is None or self.steps_done - self._warm_at[1] < MIN_STEPS:
            s_step = seconds / steps if steps else 0.0
            if not self._eval_seconds:
                s_eval = self._eval_guess_steps * s_step
        return s_step * self.steps_per_epoch, s_eval

    # -- estimates ---------------------------------------------------------------------------
    def _measured(self) -> tuple[int, float]:
        """(steps measured in this run, wall seconds they took, evaluations excluded)."""
        now = self.clock()
        evaluating = now - self._eval_started if self._eval_started is not None else 0.0
        seconds = now - self._started - sum(self._eval_seconds) - evaluating
        return self.steps_done - self._first_step, max(seconds, 0.0)

    def _costs(self) -> tuple[float, float]:
        """(seconds per step, seconds per evaluation); 1.0 per step while nothing is measured
        (the fraction needs only their ratio)."""
        _, seconds = self._measured()
        old_seconds, old_steps = self._marks[0]
        steps = self.steps_done - old_steps
        s_step = (seconds - old_seconds) / steps if steps > 0 else 1.0
        if self._eval_seconds:
            return s_step, sum(self._eval_seconds) / len(self._eval_seconds)
        return s_step, self._eval_guess_steps * s_step

    def _evals_done(self) -> float:
        """Evaluations behind us: those of epochs finished before this run (a checkpoint is
        written after its epoch's evaluation), those of this run, and the share of a running one."""
        running = self._eval_share if self._eval_started is not None else 0.0
        return self._evals_before + len(self._eval_seconds) + running

    def _cost_done_and_total(self) -> tuple[float, float]:
        s_step, s_eval = self._costs()
        total = self.total_steps * s_step + len(self.eval_epochs) * s_eval
        done = self.steps_done * s_step + self._evals_done() * s_eval
        return min(done, total), total

    def fraction(self) -> float:
        """Share of the job's estimated time behind us, in [0, 1], never decreasing."""
        done, total = self._cost_done_and_total()
        if total > 0:
            self._fraction = max(self._fraction, min(done / total, 1.0))
        return self._fraction

    def seconds_left(self) -> float | None:
        """Estimated wall seconds to the end of the job; None until the speed after the first
        epoch (the warm-up) is measured."""
        if self._warm_at is None:
            return None
        steps, seconds = self._measured()
        if steps - self._warm_at[1] + self._first_step < MIN_STEPS or (
            seconds - self._warm_at[0] < MIN_SECONDS
        ):
            return None
        done, total = self._cost_done_and_total()
        return max(total - done, 0.0)


def eval_epochs(epochs: int, eval_every: int, has_val: bool = True) -> list[int]:
    """The 1-based epochs after which a run evaluates: every `eval_every`-th and the last."""
    if not has_val:
        return []
    return sorted({e for e in range(1, epochs + 1) if e % eval_every == 0} | {epochs})
