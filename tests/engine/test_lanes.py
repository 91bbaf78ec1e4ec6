"""A light job (dataset generate/import, evaluate, export) does not wait behind a long one: when
every worker is busy, submitting it starts a worker of the light lane, which takes only light
jobs and exits by itself when idle."""

from __future__ import annotations

import os
import signal
import socket
import time

from core.app import jobs
from core.engine.jobs import LIGHT_KINDS
from core.engine.worker import ensure_worker

GENERATE = {"name": "gen", "images": 4, "size": "64x48", "objects": "1-2", "seed": 1}


def _busy_main_worker(store) -> tuple[int, int]:
    """This test process posing as the home's one worker, busy with a long training."""
    worker = store.register_worker(os.getpid(), "cpu", socket.gethostname(), "all")
    train = store.insert_job("train", {"dataset": "d"})
    claimed = store.claim_job("cpu", os.getpid(), worker)
    assert claimed["id"] == train
    return worker, train


def _wait(predicate, timeout_s: float) -> bool:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.25)
    return False


def test_a_light_job_runs_beside_a_running_training(store):
    worker, train = _busy_main_worker(store)
    search = store.insert_job("search", {"dataset": "d"})  # a long job waiting for the worker
    job = jobs.submit(store, "dataset.generate", GENERATE, "cpu")
    light = store.live_workers("cpu", lane="light")
    try:
        assert len(light) == 1
        assert _wait(lambda: store.get_job(job)["status"] == "succeeded", 120), store.get_job(job)
        store.heartbeat(train)
        assert store.get_job(train)["status"] == "running"
        assert store.get_job(search)["status"] == "queued"  # never taken by the light lane
    finally:
        for w in light:
            os.kill(w["pid"], signal.SIGTERM)


def test_no_light_worker_while_a_worker_is_free(store):
    store.register_worker(os.getpid(), "cpu", socket.gethostname(), "all")  # alive and idle
    assert ensure_worker(store.home, "cpu", "dataset.generate") is None
    assert store.live_workers("cpu", lane="light") == []


def test_a_light_lane_claims_only_light_kinds(store):
    heavy = store.insert_job("train", {"dataset": "d"})
    light = store.insert_job("evaluate", {"model": "m", "dataset": "d"})
    claimed = store.claim_job("cpu", os.getpid(), None, LIGHT_KINDS)
    assert claimed["id"] == light and heavy < light
    assert store.claim_job("cpu", os.getpid(), None, LIGHT_KINDS) is None
    assert store.claim_job("cpu", os.getpid())["id"] == heavy
