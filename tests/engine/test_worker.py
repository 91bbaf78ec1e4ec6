"""The worker as a real process: outcomes, kill -9 and resume, exactly-once, cancel latency."""

from __future__ import annotations

import os
import signal
import time
from collections import Counter

from core.engine.jobs import submit_job
from core.engine.store import Store
from tests.engine.conftest import wait_for


def _status(store, job_id):
    return store.get_job(job_id)["status"]


def test_lifecycle_succeeded_failed_and_worker_survives(store, start_worker):
    ok = submit_job(store, "test.count", {"steps": 3})
    bad = submit_job(store, "test.count", {"steps": 3, "fail_at": 1})
    after = submit_job(store, "test.count", {"steps": 1})
    start_worker()
    wait_for(lambda: _status(store, after) == "succeeded")
    assert _status(store, ok) == "succeeded"
    job = store.get_job(bad)
    assert job["status"] == "failed" and "planned failure at step 1" in job["error"]
    assert any("Traceback" in e["message"] for e in store.events(bad))
    assert "planned failure" in (store.home / "runs" / str(bad) / "log.txt").read_text()
    assert [m["value"] for m in store.metrics(ok)] == [0.0, 1.0, 2.0]
    assert store.get_job(ok)["device"] == "cpu" and store.get_job(ok)["progress"] == 1.0


def test_cancel_running_job_stops_within_five_seconds(store, start_worker):
    job_id = submit_job(store, "test.count", {"steps": 1000, "sleep": 0.05})
    start_worker()
    wait_for(lambda: _status(store, job_id) == "running")
    wait_for(lambda: store.metric_count(job_id) > 3)
    t0 = time.monotonic()
    store.request_cancel(job_id)
    wait_for(lambda: _status(store, job_id) == "cancelled", timeout=10)
    assert time.monotonic() - t0 < 5.0
    assert (store.home / "runs" / str(job_id) / "checkpoint.pt").exists()  # partial state kept


def test_kill_9_then_resume_continues_without_duplicates(store, start_worker, tmp_path):
    log = tmp_path / "steps.log"
    job_id = submit_job(store, "test.count", {"steps": 12, "sleep": 0.15, "log_file": str(log)})
    worker = start_worker()
    wait_for(lambda: store.metric_count(job_id) >= 4)
    os.kill(worker.pid, signal.SIGKILL)
    worker.wait()
    assert _status(store, job_id) == "interrupted"  # at once, reconciled on read
    store.resume_job(job_id)
    start_worker()
    wait_for(lambda: _status(store, job_id) == "succeeded", timeout=60)
    job = store.get_job(job_id)
    # >= 4 steps had logged their metric; the 4th one's checkpoint may have been in flight
    assert job["result"]["resumed_from"] >= 3 and job["attempts"] == 2
    epochs = [m["epoch"] for m in store.metrics(job_id, keys=["count"])]
    assert sorted(epochs) == list(range(12))
    steps = [int(line.split()[1]) for line in log.read_text().split("\n") if line]
    assert set(steps) == set(range(12))
    assert max(Counter(steps).values()) <= 2  # only the step in flight at the kill re-runs


def test_two_workers_run_each_of_twenty_jobs_exactly_once(store, start_worker, tmp_path):
    log = tmp_path / "ran.log"
    ids = [
        submit_job(store, "test.count", {"steps": 1, "sleep": 0.02, "log_file": str(log)})
        for _ in range(20)
    ]
    w1, w2 = start_worker(), start_worker()
    wait_for(lambda: all(_status(store, i) == "succeeded" for i in ids), timeout=90)
    ran = Counter(int(line.split()[0]) for line in log.read_text().split("\n") if line)
    assert ran == Counter({i: 1 for i in ids})
    pids = {store.get_job(i)["pid"] for i in ids}
    assert pids <= {w1.pid, w2.pid}


def test_sigterm_marks_running_job_interrupted(store, start_worker):
    job_id = submit_job(store, "test.count", {"steps": 1000, "sleep": 0.05})
    worker = start_worker()
    wait_for(lambda: store.metric_count(job_id) > 1)
    worker.terminate()
    worker.wait(timeout=30)  # the task stops at its next step; slow under load
    job = Store(store.home).get_job(job_id, reconcile=False)
    assert job["status"] == "interrupted"


def test_reader_never_sees_database_locked(store, start_worker):
    """A GUI-like reader polls while a task writes 10,000 metric rows."""
    from core.engine.reporter import Reporter

    job_id = submit_job(store, "test.count", {"steps": 1})
    job = store.claim_job("cpu", os.getpid())
    errors, reads = [], 0
    import threading

    def write():
        writer = Store(store.home)
        rep = Reporter(writer, job, store.home / "runs" / str(job_id), "cpu")
        for step in range(10_000):
            rep.metric("train/loss", 1.0 / (step + 1), step=step)
            if step % 500 == 0:
                rep.progress(step / 10_000, f"step {step}")
        rep.flush()

    t = threading.Thread(target=write)
    t.start()
    reader = Store(store.home)
    while True:  # at least one read, however fast the writer is
        alive = t.is_alive()
        try:
            reader.get_job(job_id)
            reader.metrics(job_id, last=1000)
            reads += 1
        except Exception as exc:  # would be sqlite3.OperationalError: database is locked
            errors.append(exc)
        if not alive:
            break
    t.join()
    assert not errors and reads > 0
    assert reader.metric_count(job_id) == 10_000
