"""A train job with a wall-clock budget (`minutes`): how many epochs still fit.

The budget holds the whole job as a person waits for it: building the model and data, every
epoch with its evaluations, and registering the model at the end (FINISH_RESERVE_S: the
latency measurement and the copies). The epochs are planned after each epoch from the measured
costs (core.train.progress.TrainProgress.epoch_costs: after the first epoch its own, warm-up
included, so the first plan errs on the short side; later the speed of the recent epochs), so
a machine that gets busier gives fewer epochs instead of a late job. `epochs` stays the most a
job trains; the learning rate's cosine follows the plan (core.train.loop.WarmupCosine).
"""

from __future__ import annotations

FINISH_RESERVE_S = 4.0
# a plan is cut by an epoch only when keeping it would overrun the budget by more than this:
# ending a few seconds late beats ending a whole epoch early (and an ETA that jumps back)
HOLD_S = 5.0


def plan_epochs(
    done: int, most: int, eval_every: int, seconds_left: float, epoch_s: float, eval_s: float
) -> int:
    """The epochs the job trains in all: `done` and as many more (at most `most`) as fit
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
