"""Job chains (jobs.after_id): a job waits for the one it names, and is cancelled with it."""

from __future__ import annotations

import os

from core.engine.store import Store


def test_a_waiting_job_runs_only_after_its_predecessor_succeeds(tmp_path):
    store = Store(tmp_path)
    first = store.insert_job("test", {})
    second = store.insert_job("test", {}, after=first)
    other = store.insert_job("test", {})
    assert store.claim_job("cpu", os.getpid())["id"] == first
    assert store.claim_job("cpu", os.getpid())["id"] == other  # the chained one waits
    assert store.claim_job("cpu", os.getpid()) is None
    store.finish_job(first, "succeeded")
    assert store.claim_job("cpu", os.getpid())["id"] == second


def test_a_failed_or_cancelled_predecessor_cancels_the_chain(tmp_path):
    store = Store(tmp_path)
    a = store.insert_job("test", {})
    b = store.insert_job("test", {}, after=a)
    c = store.insert_job("test", {}, after=b)
    store.claim_job("cpu", os.getpid())
    store.finish_job(a, "failed", "boom")
    for job_id in (b, c):
        job = store.get_job(job_id, reconcile=False)
        assert job["status"] == "cancelled" and "waited for" in job["error"]
    d = store.insert_job("test", {})
    e = store.insert_job("test", {}, after=d)
    assert store.request_cancel(d) == "cancelled"  # queued: cancelled at once, with its chain
    assert store.get_job(e, reconcile=False)["status"] == "cancelled"
