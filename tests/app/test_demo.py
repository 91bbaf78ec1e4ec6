"""core.app.demo: the Guided demo's jobs queued as one chain (training waits for the search), and
its walk, which follows only the jobs the demo queued itself."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from core.app.demo import ORIGIN, Walk, guided_walk, queue_demo, start_over_point, train_spec_for
from core.engine.store import Store
from core.errors import SpecError
from tests.engine.test_queries import _search_with_report
from tests.train.conftest import make_dataset

PRESETS = json.loads((Path(__file__).resolve().parents[2] / "assets" / "presets.json").read_text())


@pytest.fixture()
def store(tmp_path):
    s = Store(tmp_path / "home")
    make_dataset(s, "shapes-demo", 4)
    return s


def test_queue_demo_chains_training_on_the_searched_cell(store):
    jobs = queue_demo(store, PRESETS["demo"]["tiny"], "shapes-demo", start_worker=False)
    train = store.get_job(jobs.train, reconcile=False)
    assert train["after_id"] == jobs.search and train["spec"]["backbone"] == f"nas:{jobs.search}"
    assert store.claim_job("cpu", os.getpid())["id"] == jobs.search
    assert store.claim_job("cpu", os.getpid()) is None  # the training waits for the search


def test_a_refused_training_leaves_no_half_chain(store):
    bad = dict(PRESETS["demo"]["tiny"], train={"epochs": -1})
    with pytest.raises(SpecError):
        queue_demo(store, bad, "shapes-demo", start_worker=False)
    assert [j["status"] for j in store.list_jobs()] == ["cancelled"]


def test_train_spec_for_effnet_keeps_the_preset_backbone():
    spec = train_spec_for(PRESETS["demo"]["tiny"], "shapes-demo", None)
    assert "backbone" not in spec and spec["dataset"] == "shapes-demo"


def test_queued_demo_jobs_carry_the_demo_origin(store):
    jobs = queue_demo(store, PRESETS["demo"]["tiny"], "shapes-demo", start_worker=False)
    origins = {j["id"]: j["origin"] for j in store.list_jobs()}
    assert origins == {jobs.search: ORIGIN, jobs.train: ORIGIN}
    walk = guided_walk(store)
    assert (walk.search_id, walk.train_id) == (jobs.search, jobs.train)


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
    train = store.insert_job("train", {"dataset": "d"}, origin=ORIGIN)
    walk = guided_walk(store)
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
    train = store.insert_job("train", {"dataset": "d"}, after=search, origin=ORIGIN)
    before = guided_walk(store)
    tab_search = store.insert_job("search", {"dataset": "d"})
    store.request_cancel(tab_search)
    tab_train = store.insert_job("train", {"dataset": "d", "epochs": 1})
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
