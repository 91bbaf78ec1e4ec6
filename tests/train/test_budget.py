"""A train job with a time budget: the epochs planned from the measured costs, the learning-rate
schedule following the plan, and a real run that ends within its minutes (or by its end time)."""

from __future__ import annotations

import time

import pytest

from core.engine.store import Store
from core.errors import SpecError
from core.train.budget import FINISH_RESERVE_S, plan_epochs, plan_steps
from core.train.loop import WarmupCosine
from core.train.presets import build_config
from core.train.progress import TrainProgress
from tests.train.conftest import TINY_MODEL, make_dataset, run_in_process


def test_plan_counts_epochs_periodic_and_final_evaluations():
    # 10 s epochs, 3 s evaluations every 2nd epoch; 2 done (evaluated); 60 s left
    # epoch 3: 10 + 3 (final) = 13; epoch 4: 20 + 3 = 23; 5: 30 + 3 (at 4) + 3 = 36;
    # 6: 40 + 3 + 3 = 46; 7: 50 + 6 + 3 = 59 > 56 (60 - reserve 4)
    assert plan_epochs(2, 100, 2, 60.0, 10.0, 3.0) == 6
    assert plan_epochs(2, 5, 2, 60.0, 10.0, 3.0) == 5  # never more than `epochs`
    assert plan_epochs(2, 100, 2, FINISH_RESERVE_S + 12.9, 10.0, 3.0) == 2  # nothing fits
    assert plan_epochs(0, 100, 1, -5.0, 10.0, 3.0) == 0  # over budget already


def test_a_last_epoch_is_cut_to_the_steps_that_fit_the_budget():
    # 10 s epochs of 10 steps, 3 s evaluations every 2nd epoch; 2 done; 60 s left: 6 whole
    # epochs (46 s, evaluated at 4 and 6) leave 10 s; a 7th epoch's steps need its evaluation
    # (3 s) and 6 after 4 is periodic now (3 s): 56 - 40 - 9 = 7 s, 7 steps
    assert plan_steps(2, 100, 2, 60.0, 10.0, 3.0, 10) == 67
    assert plan_steps(2, 6, 2, 60.0, 10.0, 3.0, 10) == 60  # all epochs fit: none is cut
    # nothing whole fits: 12 s left, 8 after the reserve, 3 for the evaluation: 5 steps
    assert plan_steps(2, 100, 2, 12.0, 10.0, 3.0, 10) == 25
    assert plan_steps(2, 100, 2, 7.5, 10.0, 3.0, 10) == 20  # under a tenth of an epoch: none
    assert plan_steps(0, 100, 1, -5.0, 10.0, 3.0, 10) == 0  # over budget already


def test_a_job_that_got_slower_ends_its_steps_where_the_budget_holds_only_the_finish():
    from types import SimpleNamespace

    from core.train.trainer import Trainer

    cut: list[int] = []
    job = SimpleNamespace(
        _budget_left=lambda: 5.0,
        timing=SimpleNamespace(epoch_costs=lambda: (10.0, 2.0)),
        global_step=13,
        _set_steps=cut.append,
    )
    assert Trainer._out_of_time(job)  # 5 s left; the evaluation and the finish need 2 + 4
    assert cut == [13]  # the plan ends at this step: the epoch is the last, evaluated
    job._budget_left = lambda: 6.5
    assert not Trainer._out_of_time(job)
    job._budget_left = lambda: None  # no budget
    assert not Trainer._out_of_time(job)
    assert cut == [13]


def test_a_plan_the_budget_cut_says_it_ends_on_the_budget():
    from types import SimpleNamespace

    from core.train.budget import REGISTER_S
    from core.train.trainer import Trainer

    shown: list[float] = []
    job = SimpleNamespace(
        timing=SimpleNamespace(seconds_left=lambda: 12.0, fraction=lambda: 0.5),
        _budget_left=lambda: 20.0,
        config=SimpleNamespace(epochs=10),
        steps_per_epoch=8,
        total_steps=60,  # cut by the budget: 7.5 of 10 epochs
        reporter=SimpleNamespace(
            progress=lambda f, m, remaining_s, measured: shown.append(remaining_s)
        ),
    )
    Trainer._report(job, "epoch 6")
    job.total_steps = 80  # every epoch fits: the measured costs say when it ends
    Trainer._report(job, "epoch 6")
    job._budget_left = lambda: 10.0  # ... unless that is past the budget's end
    Trainer._report(job, "epoch 6")
    on_budget = 20.0 - FINISH_RESERVE_S + REGISTER_S
    assert shown == [pytest.approx(on_budget), 12.0, pytest.approx(on_budget - 10.0)]


def test_schedule_follows_a_moved_end_and_survives_a_state_dict():
    import torch

    schedule = WarmupCosine(0, 100, 0.1)
    assert schedule(50) == pytest.approx(0.5)
    schedule.total_steps = 50
    assert schedule(50) == pytest.approx(0.0)
    opt = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=1.0)
    sched = torch.optim.lr_scheduler.LambdaLR(opt, schedule)
    fresh = WarmupCosine(0, 100, 0.1)
    torch.optim.lr_scheduler.LambdaLR(opt, fresh).load_state_dict(sched.state_dict())
    assert fresh.total_steps == 50  # a resumed job keeps its planned end


def test_epoch_costs_include_the_warm_up_until_the_speed_is_measured():
    now = [0.0]
    timing = TrainProgress(100, 10, [10], 0, 4, clock=lambda: now[0])
    for _ in range(10):  # a slow first epoch: 3 s a step
        now[0] += 3.0
        timing.step()
    assert timing.epoch_costs()[0] == pytest.approx(30.0)  # the warm-up is all there is
    for _ in range(10):  # then 1 s a step
        now[0] += 1.0
        timing.step()
    assert timing.epoch_costs()[0] == pytest.approx(10.0)


def test_a_budget_is_refused_with_several_processes():
    with pytest.raises(SpecError, match="time budget"):
        build_config({"dataset": "d", "minutes": 1, "nproc": 2})


def test_minutes_and_until_are_one_budget_or_the_other():
    with pytest.raises(SpecError, match="minutes or until"):
        build_config({"dataset": "d", "minutes": 1, "until": time.time() + 60})


@pytest.mark.parametrize("budget", ["minutes", "until"])
def test_a_budgeted_training_ends_within_its_minutes(tmp_path, budget):
    """15 s of budget, as minutes or as an end time (a chain's promised end)."""
    store = Store(tmp_path / "home")
    make_dataset(store, "eight", 8, val_is_train=True, repeat=4)
    budget_min = 0.25
    started = time.monotonic()
    limit = {"minutes": budget_min} if budget == "minutes" else {"until": time.time() + 15.0}
    job = run_in_process(
        store,
        "train",
        {
            "dataset": "eight",
            **TINY_MODEL,
            "epochs": 1000,
            **limit,
            "batch_size": 4,
            "workers": 0,
            "eval_every": 3,
        },
    )
    took = time.monotonic() - started
    assert job["status"] == "succeeded", job.get("error")
    result = job["result"]
    assert 1 <= result["epochs"] < 1000  # the budget, not `epochs`, ended it
    assert took < 60 * budget_min + 10  # start-up and the store's writes beside the budget
    # it ends on its budget (the last epoch cut to the steps that fit), not an epoch before
    assert took > 60 * budget_min - FINISH_RESERVE_S - 3
    assert result["AP50"] is not None  # the last epoch was evaluated: a model was registered
    store.close()
