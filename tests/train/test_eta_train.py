"""The train job's progress and time left (core.train.progress), against a fake clock."""

from __future__ import annotations

import pytest

from core.train.progress import MIN_STEPS, TrainProgress, eval_epochs


class FakeClock:
    def __init__(self) -> None:
        self.t = 100.0

    def __call__(self) -> float:
        return self.t


def run_epoch(p: TrainProgress, clock: FakeClock, steps: int, s_step: float) -> None:
    for _ in range(steps):
        clock.t += s_step
        p.step()


def test_eval_epochs():
    assert eval_epochs(12, 2) == [2, 4, 6, 8, 10, 12]
    assert eval_epochs(5, 2) == [2, 4, 5]  # the last epoch always evaluates
    assert eval_epochs(5, 2, has_val=False) == []


def test_no_eta_until_measured_after_the_first_epoch_then_exact_remaining_time():
    clock = FakeClock()
    # 4 epochs x 10 steps: a 3 s warm-up epoch, then 1 s steps; evaluations after epochs 3 and 4
    # taking 5 s each
    p = TrainProgress(40, 10, [3, 4], val_images=8, batch_size=4, clock=clock)
    run_epoch(p, clock, 10, 3.0)
    assert p.seconds_left() is None  # the warm-up epoch is never extrapolated
    run_epoch(p, clock, MIN_STEPS - 1, 1.0)
    assert p.seconds_left() is None  # too few steps measured after it
    run_epoch(p, clock, 1, 1.0)
    # at the speed after the warm-up; an eval is guessed at 0.5 * 8 / 4 = 1 step = 1 s
    assert p.seconds_left() == pytest.approx(22 * 1.0 + 2 * 1.0)
    run_epoch(p, clock, 12, 1.0)  # 30 steps: epoch 3 trained
    p.eval_started()
    clock.t += 2.5
    p.eval_partial(1, 2)
    assert p.seconds_left() == pytest.approx(10 + 0.5 + 1.0)  # still the guess, half done
    clock.t += 2.5
    p.eval_done()
    # now measured: 10 steps of 1 s and one 5 s evaluation are left
    assert p.seconds_left() == pytest.approx(15.0)
    run_epoch(p, clock, 10, 1.0)
    p.eval_started()
    clock.t += 5
    p.eval_done()
    assert p.seconds_left() == pytest.approx(0.0) and p.fraction() == pytest.approx(1.0)
    assert p.eval_seconds == pytest.approx(10.0)  # the job's result reports it


def test_a_slow_first_epoch_does_not_throw_the_eta_off():
    """The first epoch 6x slower than the next ones (images decoded and cached): the first ETA
    shown, and every one after 20 % of the job, is within 30 % of the truth."""
    clock = FakeClock()
    start = clock.t
    per_epoch, epochs = 20, 12
    steps = [6.0] * per_epoch + [1.0] * per_epoch * (epochs - 1)
    total = sum(steps)
    p = TrainProgress(per_epoch * epochs, per_epoch, [], val_images=0, batch_size=4, clock=clock)
    shown = []
    for s in steps:
        clock.t += s
        p.step()
        left = p.seconds_left()
        if left is not None:
            shown.append((clock.t - start, left))
    first_at, first = shown[0]
    assert first_at > per_epoch * 6.0  # nothing during the warm-up epoch
    errors = [abs(left - (total - at)) / (total - at) for at, left in shown if total - at > 10]
    assert errors[0] <= 0.30 and max(errors) <= 0.30, errors[:3]


def test_fraction_rises_steadily_and_never_goes_back():
    clock = FakeClock()
    p = TrainProgress(40, 10, eval_epochs(4, 1), val_images=40, batch_size=4, clock=clock)
    seen = []
    for _ in range(4):  # epochs
        for _ in range(10):
            clock.t += 1.0
            p.step()
            seen.append(p.fraction())
        p.eval_started()
        for b in range(1, 5):  # a 20 s evaluation: 4x the guessed 0.5 * 40 / 4 = 5 s
            clock.t += 5.0
            p.eval_partial(b, 4)
            seen.append(p.fraction())
        p.eval_done()
        seen.append(p.fraction())
    assert all(b >= a for a, b in zip(seen, seen[1:]))
    assert seen[-1] == pytest.approx(1.0)
    # the whole job: 40 s of steps + 80 s of evaluations; after epoch 1 (30 s) the estimate is
    # measured and the bar reads the time share, not the step share (10/40)
    assert seen[14] == pytest.approx(30 / 120)


def test_eta_error_after_a_fifth_of_the_job_is_within_30_percent():
    """Noisy step times (+-40 %) and evaluations of 6-10 s: from 20 % of the real duration on,
    the estimate stays within 30 % of the true remaining time."""
    import random

    rng = random.Random(0)
    steps_per_epoch, epochs = 20, 10
    plan = eval_epochs(epochs, 2)
    durations = [[rng.uniform(0.6, 1.4) for _ in range(steps_per_epoch)] for _ in range(epochs)]
    evals = {e: rng.uniform(6, 10) for e in plan}
    total = sum(map(sum, durations)) + sum(evals.values())
    clock = FakeClock()
    start = clock.t
    p = TrainProgress(steps_per_epoch * epochs, steps_per_epoch, plan, 40, 4, clock=clock)
    worst = 0.0
    for epoch in range(1, epochs + 1):
        for s in durations[epoch - 1]:
            clock.t += s
            p.step()
            elapsed = clock.t - start
            if elapsed >= 0.2 * total and total - elapsed > 10:
                worst = max(worst, abs(p.seconds_left() - (total - elapsed)) / (total - elapsed))
        if epoch in evals:
            p.eval_started()
            clock.t += evals[epoch]
            p.eval_done()
    assert worst <= 0.30, worst


def test_resume_counts_earlier_work_as_done_but_measures_speed_afresh():
    clock = FakeClock()
    p = TrainProgress(40, 10, [2, 4], val_images=8, batch_size=4, steps_done=20, clock=clock)
    assert p.seconds_left() is None
    run_epoch(p, clock, 10, 5.0)  # this attempt's first epoch: its warm-up
    assert p.seconds_left() is None
    run_epoch(p, clock, MIN_STEPS, 2.0)  # then 2 s per step
    # left: 2 steps x 2 s + the epoch-4 evaluation, guessed at 1 step = 2 s; the epoch-2
    # evaluation happened in the earlier attempt
    assert p.seconds_left() == pytest.approx(2 * 2.0 + 2.0)
    assert p.fraction() == pytest.approx((38 * 2 + 1 * 2) / (40 * 2 + 2 * 2))


def test_the_speed_estimate_follows_a_machine_that_slows_down_but_not_one_slow_epoch():
    """Steps take 1 s for three epochs, then 2 s: one slow epoch moves the estimate by a third,
    three slow epochs (the window) make it 2 s."""
    clock = FakeClock()
    p = TrainProgress(200, 20, [], val_images=0, batch_size=4, clock=clock)
    run_epoch(p, clock, 60, 1.0)
    assert p.seconds_left() == pytest.approx(140 * 1.0)
    run_epoch(p, clock, 20, 2.0)
    assert p.seconds_left() == pytest.approx(120 * (40 * 1.0 + 20 * 2.0) / 60)
    run_epoch(p, clock, 40, 2.0)  # the window (three epochs of steps) holds only slow steps
    assert p.seconds_left() == pytest.approx(80 * 2.0)
