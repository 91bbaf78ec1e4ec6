"""A train job with a wall-clock budget (`minutes` or `until`): how many steps still fit.

The budget holds the whole job as a person waits for it: building the model and data, every
epoch with its evaluations, and registering the model at the end (FINISH_RESERVE_S: the
latency measurement and the copies). The plan is made after each epoch from the measured costs
(core.train.progress.TrainProgress.epoch_costs: after the first epoch its own, warm-up
included, so the first plan errs on the short side; later the speed of the recent epochs), so
a machine that gets busier gives fewer steps instead of a late job. It is the whole epochs that
fit and, when the job's `epochs` are not all reached, a last epoch cut to the steps that fit
what they leave: the job ends on its budget rather than up to an epoch before it (a chain's
next part, and the person watching the ETA, count on that end). `epochs` stays the most a job
trains; the learning rate's cosine follows the plan (core.train.loop.WarmupCosine).
"""

from __future__ import annotations

FINISH_RESERVE_S = 4.0
REGISTER_S = 1.0  # what registering the model takes of that reserve, as a person waits
# a cut last epoch is trained only from this share of an epoch on: a few steps more are not
# worth the evaluation they need
MIN_PART = 0.1


def plan_epochs(
    done: int, most: int, eval_every: int, seconds_left: float, epoch_s: float, eval_s: float
) -> int:
    """The whole epochs the job trains in all: `done` and as many more (at most `most`) as fit
    `seconds_left`: reaching epoch e costs its epochs (`epoch_s` each), the periodic
    evaluations on the way (every `eval_every`-th epoch) and the final one at e (`eval_s`
    each), plus FINISH_RESERVE_S. When no further epoch fits, the job ends at `done`."""
    left = seconds_left - FINISH_RESERVE_S
    planned = done
    for epoch in range(done + 1, most + 1):
        periodic = sum(1 for e in range(done + 1, epoch) if e % eval_every == 0)
        if (epoch - done) * epoch_s + (periodic + 1) * eval_s > left:
            break
        planned = epoch
    return planned


def plan_steps(
    done: int,
    most: int,
    eval_every: int,
    seconds_left: float,
    epoch_s: float,
    eval_s: float,
    steps_per_epoch: int,
) -> int:
    """The optimiser steps the job takes in all (`done` epochs finished): the whole epochs of
    plan_epochs and, below `most`, the steps of one more epoch that fit the time they leave
    (its evaluation, the job's last, included) when they are at least MIN_PART of an epoch."""
    whole = plan_epochs(done, most, eval_every, seconds_left, epoch_s, eval_s)
    steps = whole * steps_per_epoch
    if whole >= most or epoch_s <= 0:
        return steps
    periodic = sum(1 for e in range(done + 1, whole + 1) if e % eval_every == 0)
    left = seconds_left - FINISH_RESERVE_S - (whole - done) * epoch_s - (periodic + 1) * eval_s
    part = min(int(left * steps_per_epoch / epoch_s), steps_per_epoch - 1)
    return steps + part if part >= max(1, MIN_PART * steps_per_epoch) else steps
