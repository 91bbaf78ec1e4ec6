"""core.demo: the Guided demo's jobs queued as one chain (training waits for the search)."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from core.demo import queue_demo, train_spec_for
from core.engine.store import Store
from core.errors import SpecError

PRESETS = json.loads((Path(__file__).resolve().parents[1] / "assets" / "presets.json").read_text())


@pytest.fixture()
def store(tmp_path):
    from tests.train.conftest import make_dataset

    s = Store(tmp_path / "home")
    make_dataset(s, "shapes-demo", 4)
    return s


def test_queue_demo_chains_training_on_the_searched_cell(store):
    jobs = queue_demo(store, PRESETS["demo"]["tiny"], "shapes-demo")
    train = store.get_job(jobs.train, reconcile=False)
    assert train["after_id"] == jobs.search and train["spec"]["backbone"] == f"nas:{jobs.search}"
    assert store.claim_job("cpu", os.getpid())["id"] == jobs.search
    assert store.claim_job("cpu", os.getpid()) is None  # the training waits for the search


def test_a_refused_training_leaves_no_half_chain(store):
    bad = dict(PRESETS["demo"]["tiny"], train={"epochs": -1})
    with pytest.raises(SpecError):
        queue_demo(store, bad, "shapes-demo")
    assert [j["status"] for j in store.list_jobs()] == ["cancelled"]


def test_train_spec_for_effnet_keeps_the_preset_backbone():
    spec = train_spec_for(PRESETS["demo"]["tiny"], "shapes-demo", None)
    assert "backbone" not in spec and spec["dataset"] == "shapes-demo"
