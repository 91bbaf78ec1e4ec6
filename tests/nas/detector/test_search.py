"""A tiny real detector search end to end: trials are trainings, each one a row; a pruned trial;
the pick is a stored model that loads and predicts; the job ends within its minutes; a cancelled
search resumes its study without running a trial twice."""

from __future__ import annotations

import json
import time

import numpy as np
import optuna
import pytest

from core.engine.jobs import submit_job
from core.errors import SpecError
from core.nas.detector import results as detector_results
from core.nas.detector import study as detector_study
from core.nas.detector.pick import pareto_front, pick
from core.nas.detector.plan import (
    FINISH_S,
    TrialCost,
    first_rung_s,
    job_seconds_left,
    sure_rungs_s,
)
from core.nas.detector.trial import JobClock, TrialOutcome
from core.train.predict import load_model, predict_images
from core.train.trainer import Trainer
from tests.train.conftest import make_dataset, run_in_process

MINUTES = 1.0
# 4 detectors at 128 px; a target no trial misses, so the reward is the AP50 itself and the
# pruner's decisions do not depend on the machine's speed. Training is seeded: with seed 3 the
# second detector trained is worse than the first after one epoch, and pruned there. Three
# trials end the job long before its minute on a quiet machine (about 10 s), and within it on a
# busy one.
SPEC = {
    "dataset": "tiny",
    "minutes": MINUTES,
    "trials": 3,
    "epochs": 3,
    "backbones": ["mobilenetv3_small_100", "nas:DARTS_V2"],
    "image_sizes": [128],
    "fpn_channels": [16, 32],
    "fpn_cell_repeats": [1],
    "box_class_repeats": [1],
    "target_ms": 10_000,
    "startup_trials": 2,
    "threads": 1,
    "seed": 3,
}


@pytest.fixture
def tiny(store):
    make_dataset(store, "tiny", 12, val_is_train=True, repeat=2)
    return store


def test_a_tiny_detector_search_end_to_end(tiny):
    store = tiny
    job = run_in_process(store, "search.detector", SPEC)
    assert job["status"] == "succeeded", job["error"]
    assert job["finished_at"] - job["started_at"] <= 60 * MINUTES * 1.1 + 10
    rows = detector_results.trials(store, job["id"])
    assert len(rows) >= 2
    assert [r["trial"] for r in rows] == sorted({r["trial"] for r in rows})  # one row a trial
    for r in rows:
        assert r["latency_ms"] > 0 and r["params"] > 0
        assert r["config"]["image_size"] == 128 and r["max_epochs"] == 3
        assert r["pruned"] == (r["state"] == "pruned")
    complete = [r for r in rows if r["state"] == "complete"]
    pruned = [r for r in rows if r["state"] == "pruned"]
    assert complete and all(r["epochs"] == 3 for r in complete)
    assert pruned and all(r["epochs"] == 1 and r["AP50"] is not None for r in pruned)

    result = job["result"]
    points = detector_results.points(rows)
    assert [f["trial"] for f in result["front"]] == [p.trial for p in pareto_front(points)]
    chosen = pick(points, SPEC["target_ms"]).point
    assert result["pick"]["trial"] == chosen.trial and result["pick"]["within_target"]
    assert result["model"] == f"job-{job['id']}" and result["AP50"] == chosen.ap50
    assert result["rungs"] == [1, 3] and result["target_ms"] == SPEC["target_ms"]

    model = store.get_model(result["model"])
    assert model["config"]["origin"] == "search.detector"
    assert model["config"]["train"]["dataset"] == "tiny"
    assert model["metrics"]["AP50"] == pytest.approx(chosen.ap50)
    assert model["config"]["params"] == result["pick"]["params"] > 0
    assert model["config"]["latency"]["ms"] == result["pick"]["latency_ms"]
    run_dir = store.home / "runs" / str(job["id"])
    detector = json.loads((run_dir / "detector.json").read_text())
    assert detector["trial"] == chosen.trial and detector["detector"] == result["pick"]["config"]
    assert (run_dir / "study.db").is_file()
    loaded = load_model(store, result["model"])
    assert loaded.config.fpn_channels == detector["detector"]["fpn_channels"]
    image = np.random.default_rng(0).integers(0, 255, (128, 128, 3), dtype=np.uint8)
    assert predict_images(loaded, [image])[0]["boxes"].shape[1] == 4

    # evaluate and export take the pick like any trained model
    evaluation = run_in_process(store, "evaluate", {"model": result["model"], "dataset": "tiny"})
    assert evaluation["status"] == "succeeded", evaluation["error"]
    assert evaluation["result"]["AP50"] == pytest.approx(chosen.ap50, abs=0.01)
    export = run_in_process(store, "export", {"model": result["model"], "format": "torchscript"})
    assert export["status"] == "succeeded", export["error"]


def test_a_search_cut_by_its_minutes_ends_within_them(tiny):
    minutes = 0.25
    job = run_in_process(tiny, "search.detector", dict(SPEC, minutes=minutes, trials=None))
    assert job["finished_at"] - job["started_at"] <= 60 * minutes * 1.1 + 10
    if job["status"] != "succeeded":  # a machine too busy for one first rung in 15 s says so
        assert job["status"] == "failed", job["error"]
        assert "too short" in job["error"] or "give more minutes" in job["error"], job["error"]
    else:
        assert job["result"]["pick"] is not None


def test_a_budget_without_room_for_a_first_rung_is_refused_after_the_probe(tiny, monkeypatch):
    # the probe "measures" 100 s epochs: one minute cannot hold the first trial's first rung
    monkeypatch.setattr(
        detector_study, "probe", lambda job, setup, choice: (TrialCost(1.0, 100.0, 1.0), 5.0)
    )
    job = run_in_process(tiny, "search.detector", dict(SPEC, trials=None))
    assert job["status"] == "failed"
    assert "too short: the first trial needs about 133 s" in job["error"], job["error"]
    minutes = float(job["error"].split("give --minutes ")[1].split()[0])
    assert 2.2 <= minutes <= 2.6  # the probe's seconds and the first rung's, with the margin
    assert detector_results.trials(tiny, job["id"]) == []


def test_a_cancelled_search_resumes_its_study(tiny, monkeypatch):
    store = tiny
    spec = dict(SPEC, minutes=None, trials=3, epochs=1)
    record = detector_study.DetectorSearch._record

    def record_then_cancel(self, setup, trial, choice, outcome):
        record(self, setup, trial, choice, outcome)
        if trial.number == 0:
            store.request_cancel(self.reporter.job_id)

    monkeypatch.setattr(detector_study.DetectorSearch, "_record", record_then_cancel)
    first = run_in_process(store, "search.detector", spec)
    assert first["status"] == "cancelled"
    assert [r["trial"] for r in detector_results.trials(store, first["id"])] == [0]
    monkeypatch.setattr(detector_study.DetectorSearch, "_record", record)
    store.resume_job(first["id"])
    from core.engine.worker import run_job

    run_job(store, store.claim_job("cpu", 1), "cpu")
    job = store.get_job(first["id"], reconcile=False)
    assert job["status"] == "succeeded", job["error"]
    rows = detector_results.trials(store, job["id"])
    numbers = [r["trial"] for r in rows]
    assert len(numbers) == len(set(numbers)) == 3 and numbers[0] == 0  # none ran twice
    study = optuna.load_study(
        study_name="detector", storage=f"sqlite:///{store.home}/runs/{job['id']}/study.db"
    )
    states = {t.number: t.state for t in study.get_trials()}
    assert states[1] != optuna.trial.TrialState.RUNNING  # the interrupted trial was finished
    assert optuna.trial.TrialState.RUNNING not in states.values()
    # a trial without a row is a sampled repeat of a judged detector (not trained again)
    repeats = {t.number for t in study.get_trials() if "repeat_of" in t.user_attrs}
    assert set(states) == set(numbers) | repeats
    assert job["result"]["trials"] == 3


@pytest.mark.parametrize(
    "change, message",
    [
        ({"minutes": None, "trials": None}, "give minutes or trials"),
        ({"image_sizes": [200]}, "multiples of 128"),
        ({"epochs": 1, "min_epochs": 2}, "must be >= min_epochs"),
        ({"backbones": ["http://x"]}, "use a timm model name"),
        ({"backbones": ["mobilenetv3_smal_100"]}, "not a timm model"),
    ],
)
def test_bad_specs_are_refused_at_submit(tiny, change, message):
    with pytest.raises(SpecError, match=message):
        submit_job(tiny, "search.detector", dict(SPEC, **change))


def test_the_default_backbones_include_this_datasets_searched_cells(tiny):
    from core.nas.detector.config import resolve_detector_search

    spec = resolve_detector_search({"dataset": "tiny"}, tiny)
    assert spec["backbones"] == ["nas:DARTS_V2", "mobilenetv3_small_100", "efficientnet_b0"]


def test_a_running_trials_time_to_its_next_judgement():
    cost = TrialCost(startup_s=4.0, epoch_s=10.0, eval_s=2.0)
    starting = TrialOutcome("failed", started_at=time.monotonic() - 5.0)
    # before its first epoch: the probe's start-up, one epoch and an evaluation, 5 s of them spent
    assert 10.5 <= starting.seconds_to_judgement([1, 3], cost) <= 11.0
    measured = TrialOutcome("failed", epochs=1, epoch_s=8.0, eval_s=1.0)
    measured.epoch_at = time.monotonic() - 3.0
    # judged at 1 epoch, on to the rung at 3: two of its own epochs and an evaluation, 3 s spent
    assert 13.5 <= measured.seconds_to_judgement([1, 3], cost) <= 14.0


def test_a_first_trial_cut_by_the_clock_is_evaluated_where_it_stands(tiny, monkeypatch):
    """The machine is slower than the probe measured (each step takes 2 s more): the only trial
    is cut in its first epoch, evaluated anyway, and becomes the pick - not a search without one."""
    monkeypatch.setattr(
        detector_study, "probe", lambda job, setup, choice: (TrialCost(0.1, 0.5, 0.1), 5.0)
    )
    step = Trainer.train_step

    def slow_step(self, images, targets):
        time.sleep(2.0)
        return step(self, images, targets)

    monkeypatch.setattr(Trainer, "train_step", slow_step)
    minutes = 0.25
    job = run_in_process(tiny, "search.detector", dict(SPEC, minutes=minutes, trials=None))
    assert job["status"] == "succeeded", job.get("error")
    assert job["finished_at"] - job["started_at"] <= 60 * minutes * 1.1 + 10
    rows = detector_results.trials(tiny, job["id"])
    assert rows[0]["state"] == "stopped" and rows[0]["AP50"] is not None
    assert job["result"]["pick"]["trial"] == rows[0]["trial"]
    assert job["result"]["model"] == f"job-{job['id']}"


def test_the_search_says_it_ends_where_no_first_rung_fits():
    clock = JobClock(100.0, elapsed_s=40.0, reserve_s=3.0)  # 57 s left for trials
    # the running trial is judged in 50 s: 7 s left then, less than a 20 s first rung; then
    # the pick is registered (FINISH_S)
    assert job_seconds_left(clock, 20.0, 50.0) == pytest.approx(50.0 + FINISH_S, abs=0.5)
    # judged in 10 s: 47 s left then, two more trials of a 20 s first rung each
    assert job_seconds_left(clock, 20.0, 10.0) == pytest.approx(50.0 + FINISH_S, abs=0.5)
    # none running: two trials (57 s hold 2 x 20 s; a third would start with 17 s left)
    assert job_seconds_left(clock, 20.0, None) == pytest.approx(40.0 + FINISH_S, abs=0.5)
    # trials take 25 s on average; one starts while 20 s (the fastest) are left: two
    assert job_seconds_left(clock, 20.0, None, 0.0, 25.0) == pytest.approx(51.0, abs=0.5)
    # the running trial goes on 30 s after its judgement: then one more first rung
    assert job_seconds_left(clock, 20.0, 5.0, 30.0) == pytest.approx(55.0 + FINISH_S, abs=0.5)
    assert job_seconds_left(JobClock(100.0, 95.0, 3.0), 20.0, 50.0) == pytest.approx(5.0)


def test_a_trial_alone_at_its_rungs_is_counted_on_to_go_on():
    schedule = [1, 3, 9]  # 10 s epochs, 2 s evaluations
    # judged at 1 epoch, alone there: on to 3 (22 s) and, alone there too, to 9 (62 s)
    assert sure_rungs_s(schedule, 1, set(), 10.0, 2.0, 100.0) == pytest.approx(84.0)
    assert sure_rungs_s(schedule, 1, {3}, 10.0, 2.0, 100.0) == pytest.approx(22.0)
    assert sure_rungs_s(schedule, 1, {1}, 10.0, 2.0, 100.0) == 0.0  # it has rivals there
    assert sure_rungs_s(schedule, 1, set(), 10.0, 2.0, 21.0) == 0.0  # the next rung does not fit
    assert sure_rungs_s(schedule, 9, set(), 10.0, 2.0, 100.0) == 0.0  # complete there


def test_the_probe_costs_are_scaled_to_the_first_rungs_the_trials_took():
    cost = TrialCost(2.0, 10.0, 3.0)  # a first rung of one epoch: 15 s
    like = cost.like(30.0, 1)  # the trials took 30 s to theirs
    assert first_rung_s(like, 1) == pytest.approx(30.0)
    assert like.epoch_s == pytest.approx(20.0) and like.eval_s == pytest.approx(6.0)
