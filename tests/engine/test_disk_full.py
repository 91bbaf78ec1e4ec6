"""A full disk (or any OSError while writing) fails the job with the disk and path named, keeps the
last good checkpoint, leaves no temp file, and the worker runs the next job; `jobs list` works.

Run on a real small filesystem (a tmpfs, when root) and with ENOSPC injected (anywhere)."""

from __future__ import annotations

import errno
import os
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from core.checkpoint import load_checkpoint
from core.cli import main
from core.engine import store as store_module
from core.engine import worker as worker_module
from core.engine.jobs import submit_job
from core.engine.store import LOST_JOB_ERROR, Store
from core.errors import DiskFullError
from tests.engine.conftest import wait_for
from tests.engine.small_disk import mounted_tmpfs

REPO = Path(__file__).resolve().parents[2]


def _temp_files(home: Path) -> list[str]:
    return [str(p) for p in home.rglob("*.tmp")]


def _check_outcome(store: Store, fill: int, after: int, *, checkpoint: bool = True) -> dict:
    job = store.get_job(fill)
    assert job["status"] == "failed", job
    assert job["error"].startswith("disk full: cannot write ") and "disk mounted at" in job["error"]
    if checkpoint:  # the checkpoint of step 0 survived the failed write of step 1
        assert (
            load_checkpoint(store.home / "runs" / str(fill) / "checkpoint.pt", "test")["next_step"]
            == 1
        )
    assert _temp_files(store.home) == []
    assert store.get_job(after)["status"] == "succeeded"
    return job


def _jobs_list(home: Path) -> subprocess.CompletedProcess:
    env = dict(os.environ, PYTHONPATH=str(REPO))
    return subprocess.run(
        [sys.executable, "-m", "core", "--home", str(home), "jobs", "list"],
        capture_output=True,
        text=True,
        env=env,
        cwd=REPO,
        timeout=120,
    )


# -- injected ENOSPC (runs anywhere) ------------------------------------------------------------
def test_injected_enospc_in_torch_save_fails_job_and_worker_goes_on(store, monkeypatch, capsys):
    real_save = torch.save

    def save(obj, f, *args, **kwargs):
        if isinstance(obj, dict) and "blob" in obj:  # the big write of step 1
            f.write(b"PK\x03\x04 half a checkpoint")
            raise OSError(errno.ENOSPC, "No space left on device")
        return real_save(obj, f, *args, **kwargs)

    monkeypatch.setattr(torch, "save", save)
    fill = submit_job(store, "test.fill", {"steps": 3, "fill_at": 1, "fill_mb": 0.01})
    after = submit_job(store, "test.count", {"steps": 2})
    assert worker_module.run_worker(store.home, "cpu", max_jobs=2) == 0
    job = _check_outcome(store, fill, after)
    assert str(store.home / "runs" / str(fill) / "checkpoint.pt") in job["error"]
    assert main(["--home", str(store.home), "jobs", "list"]) == 0
    assert "failed" in capsys.readouterr().out


def test_a_worker_leaving_with_room_on_disk_says_nothing_of_a_full_disk(store, caplog):
    """The reserve file goes when the worker leaves; only a real disk-full says 'disk full'."""
    job = submit_job(store, "test.count", {"steps": 2})
    with caplog.at_level("INFO"):
        assert worker_module.run_worker(store.home, "cpu", max_jobs=1) == 0
    assert store.get_job(job)["status"] == "succeeded"
    assert "disk full" not in caplog.text
    assert not list((store.home / "logs").glob(".reserve-worker-*"))


def test_other_oserror_while_writing_fails_job_with_path(store, monkeypatch):
    def save(obj, f, *args, **kwargs):
        raise OSError(errno.EIO, "Input/output error", "/dev/broken")

    monkeypatch.setattr(torch, "save", save)
    fill = submit_job(store, "test.fill", {"steps": 2, "fill_at": 5})
    after = submit_job(store, "test.count", {"steps": 1})
    worker_module.run_worker(store.home, "cpu", max_jobs=2)
    job = store.get_job(fill)
    assert job["status"] == "failed" and job["error"].startswith("OSError: [Errno 5]")
    assert "checkpoint.pt" in job["error"] and "disk mounted at" in job["error"]
    assert store.get_job(after)["status"] == "succeeded" and _temp_files(store.home) == []


def test_store_full_while_recording_the_end_is_retried(store, monkeypatch):
    """The database's disk is full when the failure is written: the worker releases its reserve,
    and when that is not enough keeps the end pending and retries before claiming anything."""
    real_finish, calls = Store.finish_job, []

    def finish_job(self, job_id, status, *args, **kwargs):
        calls.append((job_id, status))
        if len(calls) <= 3:
            raise DiskFullError(f"disk full: cannot write the database {self.path}")
        return real_finish(self, job_id, status, *args, **kwargs)

    monkeypatch.setattr(Store, "finish_job", finish_job)
    monkeypatch.setattr(worker_module, "STORE_RETRY_S", 0.01)
    first = submit_job(store, "test.count", {"steps": 2, "fail_at": 1})
    second = submit_job(store, "test.count", {"steps": 1})
    worker_module.run_worker(store.home, "cpu", max_jobs=2)
    assert calls[:4] == [(first, "failed")] * 4 and calls[4] == (second, "succeeded")
    job = store.get_job(first)
    assert job["status"] == "failed" and "planned failure at step 1" in job["error"]
    assert store.get_job(second)["status"] == "succeeded"
    assert not list((store.home / "logs").glob(".reserve-worker-*"))  # released at exit


def test_sqlite_full_error_is_disk_full_error_naming_the_database(store):
    from core.engine.schema import translate

    error = translate(sqlite3.OperationalError("database or disk is full"), store.path)
    assert isinstance(error, DiskFullError) and str(store.path) in str(error)
    assert "free of" in str(error)


def test_lost_job_reason_names_a_full_disk(store, monkeypatch):
    job_id = submit_job(store, "test.count", {"steps": 2})
    store.claim_job("cpu", 2**22 + 4321)  # a worker pid that does not exist
    monkeypatch.setattr(store_module, "free_bytes", lambda path: 12 * 1024)
    job = store.get_job(job_id)
    assert job["status"] == "interrupted" and job["error"] != LOST_JOB_ERROR
    assert "was nearly full" in job["error"] and "the disk mounted at" in job["error"]


# -- a real small disk (root only) --------------------------------------------------------------
@pytest.fixture
def small_home(tmp_path):
    """A home on an 8 MiB tmpfs (set up before `start_worker`, so torn down after its workers)."""
    with mounted_tmpfs(tmp_path / "disk", "8m") as disk:
        home = disk / "home"
        home.mkdir()
        yield home


def test_small_disk_filled_by_a_checkpoint(small_home, start_worker):
    store = Store(small_home)
    fill = submit_job(store, "test.fill", {"steps": 3, "fill_at": 1, "fill_mb": 16})
    after = submit_job(store, "test.count", {"steps": 2})
    worker = start_worker(home=small_home)
    wait_for(lambda: store.get_job(after)["status"] == "succeeded", timeout=120)
    job = _check_outcome(store, fill, after)
    assert str(small_home.parent) in job["error"]  # the disk: the tmpfs' mount point
    assert worker.poll() is None  # still alive, polling for the next job
    done = _jobs_list(small_home)
    assert done.returncode == 0 and "Traceback" not in done.stderr


def test_small_disk_filled_by_another_file(small_home, start_worker):
    """A file that stays behind fills the disk: the database cannot grow either. The job still
    fails with its reason (the worker's reserve file makes room to write it), the worker lives
    on, `jobs list` works on the full disk, and once space is freed the next job runs."""
    store = Store(small_home)
    fill = submit_job(store, "test.fill", {"steps": 4, "fill_at": 1, "junk": True})
    worker = start_worker(home=small_home)
    wait_for(lambda: store.get_job(fill, reconcile=False)["status"] == "failed", timeout=120)
    job = store.get_job(fill)
    assert job["error"].startswith("disk full: cannot write ") and "disk mounted at" in job["error"]
    assert (
        load_checkpoint(small_home / "runs" / str(fill) / "checkpoint.pt", "test")["next_step"] == 1
    )
    assert _temp_files(small_home) == [] and worker.poll() is None
    done = _jobs_list(small_home)
    assert done.returncode == 0 and "Traceback" not in done.stderr and "failed" in done.stdout
    (small_home / "junk.bin").unlink()
    after = submit_job(store, "test.count", {"steps": 2})
    wait_for(lambda: store.get_job(after)["status"] == "succeeded", timeout=120)
    assert worker.poll() is None
