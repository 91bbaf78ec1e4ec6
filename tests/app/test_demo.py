"""core.app.demo: the Guided demo's jobs queued as one chain (the detector search waits for the
cell search, the training for the detector search), and its walk, which follows only the jobs
the demo queued itself."""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

import pytest

from core.app.demo import (
    MAX_WALK_S,
    MIN_TRAIN_MINUTES,
    ORIGIN,
    STARTUP_S,
    Walk,
    chain_spec,
    fit_to_machine,
    guided_walk,
    promise_s,
    queue_demo,
    start_over_point,
    walk_end,
)
from core.engine.store import Store
from core.errors import SpecError
from core.train.pace import training_step_s
from tests.engine.test_queries import _search_with_report
from tests.train.conftest import make_dataset

PRESETS = json.loads((Path(__file__).resolve().parents[2] / "assets" / "presets.json").read_text())


@pytest.fixture()
def store(tmp_path):
    s = Store(tmp_path / "home")
    make_dataset(s, "shapes-demo", 4)
    return s


def test_queue_demo_chains_the_detector_search_on_the_cell_and_the_training_on_the_pick(store):
    jobs = queue_demo(store, PRESETS["demo"]["tiny"], "shapes-demo", start_worker=False)
    detector = store.get_job(jobs.detector, reconcile=False)
    train = store.get_job(jobs.train, reconcile=False)
    assert detector["after_id"] == jobs.search and detector["kind"] == "search.detector"
    assert detector["spec"]["backbones"][0] == f"nas:{jobs.search}"  # the searched cell first
    assert "mobilenetv3_small_100" in detector["spec"]["backbones"]  # beside a hand-made one
    assert train["after_id"] == jobs.detector and train["spec"]["init"] == f"job-{jobs.detector}"
    assert train["spec"]["image_size"] is None  # the pick's own input size is kept
    assert store.claim_job("cpu", os.getpid())["id"] == jobs.search
    assert store.claim_job("cpu", os.getpid()) is None  # the rest waits for the search


def test_a_refused_part_leaves_no_half_chain(store):
    bad = dict(PRESETS["demo"]["tiny"], train={"epochs": -1})
    with pytest.raises(SpecError):
        queue_demo(store, bad, "shapes-demo", start_worker=False)
    assert [j["status"] for j in store.list_jobs()] == ["cancelled", "cancelled"]


def test_chain_spec_puts_the_cell_before_the_hand_made_backbones():
    preset = dict(PRESETS["demo"]["tiny"])
    preset["detector"] = dict(preset["detector"], backbones=["nas:DARTS_V2", "efficientnet_b0"])
    spec = chain_spec(preset, "shapes-demo", "detector", 7)
    assert spec["backbones"] == ["nas:7", "efficientnet_b0"] and spec["dataset"] == "shapes-demo"


def test_the_promise_is_the_sum_of_the_budgets():
    preset = PRESETS["demo"]["default"]
    minutes = sum(preset[part]["minutes"] for part in ("search", "detector", "train"))
    assert promise_s(preset, startup_s=5.0) == pytest.approx(60 * minutes + 15.0)
    assert promise_s(dict(preset, train={"epochs": 3})) is None  # no budget: no promise


def test_the_training_is_given_the_walks_promised_end(store):
    preset = PRESETS["demo"]["default"]
    before = time.time()
    jobs = queue_demo(store, preset, "shapes-demo", start_worker=False)
    train = store.get_job(jobs.train, reconcile=False)["spec"]
    promised = jobs.promised_s  # the budgets fitted to this machine's probe
    assert promised >= promise_s(preset, STARTUP_S)
    # not its own minutes: what the searches leave goes to the training, the walk ends on time
    assert train["minutes"] is None
    assert before + promised - 1.0 <= train["until"] <= time.time() + promised + 1.0


def test_the_budgets_grow_with_the_machines_slowdown_within_eight_minutes():
    preset = PRESETS["demo"]["default"]
    reference = preset["pace"]["step_s"]
    same, slowdown = fit_to_machine(preset, step_s=reference * 1.2)  # noise: the budgets stay
    assert same == preset and slowdown == pytest.approx(1.2)
    slow, slowdown = fit_to_machine(preset, step_s=reference * 2.0)
    assert slowdown == pytest.approx(2.0)
    for part in ("search", "detector"):
        assert slow[part]["minutes"] == pytest.approx(2.0 * preset[part]["minutes"], abs=0.01)
    assert slow["train"]["minutes"] == preset["train"]["minutes"]  # 7m 15s: it fits
    slower, _ = fit_to_machine(preset, step_s=reference * 2.5)
    assert promise_s(slower, STARTUP_S) <= MAX_WALK_S + 1.0  # the training gave way
    assert slower["train"]["minutes"] < preset["train"]["minutes"]
    assert preset["search"]["minutes"] == PRESETS["demo"]["default"]["search"]["minutes"]
    crawling, _ = fit_to_machine(preset, step_s=reference * 10.0)
    assert crawling["train"]["minutes"] == MIN_TRAIN_MINUTES  # never trained away entirely


def test_the_probe_times_a_real_training_step():
    step_s = training_step_s("efficientdet_tiny", "mobilenetv3_small_100", 128, 2)
    assert 0.001 < step_s < 30.0


def test_queued_demo_jobs_carry_the_demo_origin(store):
    jobs = queue_demo(store, PRESETS["demo"]["tiny"], "shapes-demo", start_worker=False)
    origins = {j["id"]: j["origin"] for j in store.list_jobs()}
    assert origins == {jobs.search: ORIGIN, jobs.detector: ORIGIN, jobs.train: ORIGIN}
    walk = guided_walk(store)
    assert (walk.search_id, walk.detector_id, walk.train_id) == (
        jobs.search,
        jobs.detector,
        jobs.train,
    )


def test_the_walk_follows_its_own_search_and_the_training_after_it(store):
    home = store.home
    assert guided_walk(store) == Walk()
    old_train = store.insert_job("train", {"dataset": "d"}, origin=ORIGIN)
    search = _search_with_report(store, home, origin=ORIGIN)
    walk = guided_walk(store)
    assert (walk.search_id, walk.search_done, walk.has_cell, walk.train_id) == (
        search,
        True,
        True,
        None,
    )
    detector = store.insert_job("search.detector", {"dataset": "d"}, origin=ORIGIN)
    train = store.insert_job("train", {"dataset": "d"}, origin=ORIGIN)
    walk = guided_walk(store)
    assert (walk.detector_id, walk.detector_status) == (detector, "queued")
    assert (walk.train_id, walk.train_status, walk.train_done) == (train, "queued", False)
    store.finish_job(train, "succeeded")
    assert guided_walk(store).train_done
    assert old_train < search
    fresh = guided_walk(store, since=start_over_point(store))
    assert fresh == Walk(since=train)


def test_other_tabs_jobs_never_move_the_walk(store):
    """A search and a training started (and cancelled, or finished) from the Search and Train
    tabs or the CLI after the demo's own jobs leave the walk where it is."""
    home = store.home
    search = _search_with_report(store, home, origin=ORIGIN)
    detector = store.insert_job("search.detector", {"dataset": "d"}, after=search, origin=ORIGIN)
    train = store.insert_job("train", {"dataset": "d"}, after=detector, origin=ORIGIN)
    before = guided_walk(store)
    tab_search = store.insert_job("search", {"dataset": "d"})
    store.request_cancel(tab_search)
    tab_train = store.insert_job("train", {"dataset": "d", "epochs": 1})
    store.insert_job("search.detector", {"dataset": "d"})
    store.finish_job(tab_train, "succeeded")
    _search_with_report(store, home)  # a finished search of another tab, with its own cell
    assert guided_walk(store) == before
    assert (before.search_id, before.train_id) == (search, train)


def test_cells_trained_counts_trained_networks_not_ranked_ones(store):
    from core.app.searches import cells_trained
    from tests.engine.test_queries import CELL_A

    search = _search_with_report(store, store.home)
    assert cells_trained(store, search) == 2  # the two derived (supernet) cells
    ranked = store.insert_job("search", {"dataset": "d", "strategy": "zero-cost"})
    store.add_architecture(ranked, CELL_A, score=None, extra={"kind": "candidate", "synflow": 1})
    assert cells_trained(store, ranked) == 0
    store.add_architecture(
        ranked, CELL_A, score=0.4, extra={"kind": "trained", "train_acc": 0.5, "val_acc": 0.4}
    )
    assert cells_trained(store, ranked) == 1


def test_the_walks_end_counts_the_parts_asked_for():
    preset = PRESETS["demo"]["default"]
    now = time.time()
    rest = walk_end(preset, ("detector", "train"))  # step 4 started alone
    minutes = preset["detector"]["minutes"] + preset["train"]["minutes"]
    assert rest == pytest.approx(now + 60 * minutes + 2 * STARTUP_S, abs=1.0)
    assert walk_end(dict(preset, train={"epochs": 3})) is None
