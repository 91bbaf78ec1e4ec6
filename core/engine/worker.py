"""The worker: a process that claims queued jobs one at a time and runs their tasks.

`python -m core worker` runs one in the foreground; `ensure_worker` starts a detached one (own
session, survives the GUI or CLI that started it). A heartbeat thread stamps the job and the
worker every HEARTBEAT_S seconds; a job whose worker dies is read as `interrupted` by
`Store.reconcile` and can be resumed from its checkpoint.

A failing job never takes the worker with it: a task error, a full disk (DiskFullError from
core.io or from the store) or any OSError fails the job with its message, and the worker goes on
to the next job. When the job's end cannot be written because the database's disk is full, the
worker frees its reserve file (RESERVE_BYTES kept in <home>/logs while there is room), writes the
end, and otherwise keeps it pending, logs it, and retries before it claims anything else.
"""

from __future__ import annotations

import fcntl
import logging
import os
import signal
import socket
import sqlite3
import subprocess
import sys
import threading
import time
import traceback
from pathlib import Path

from core.engine.devices import resolve_device
from core.engine.jobs import LANES, LIGHT_KINDS, get_task, run_dir
from core.engine.reporter import Reporter
from core.engine.store import Store
from core.errors import DiskFullError, JobCancelled, NasdetError
from core.io import DISK_FULL_ERRNOS, disk_full_error, free_bytes

log = logging.getLogger(__name__)

HEARTBEAT_S = 2.0
POLL_S = 0.5
STORE_RETRY_S = 5.0  # wait between attempts while the database cannot be written
RESERVE_BYTES = 512 * 1024  # freed to record a job's end when the disk is full
REPO_ROOT = Path(__file__).resolve().parents[2]
LOG_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"
# A worker started in the background exits after this long without a job (the next submit
# starts one again): nothing is left running on a presenter's laptop for long.
IDLE_EXIT_S = {"all": 15 * 60.0, "light": 60.0}
STORE_ERRORS = (NasdetError, sqlite3.Error, OSError)  # what a store write can raise


class WorkerStopped(BaseException):
    """Raised in the worker's main thread on SIGTERM/SIGINT: the current job becomes interrupted."""


class _Heartbeat(threading.Thread):
    def __init__(self, home: Path, worker_id: int):
        super().__init__(daemon=True, name="nasdet-heartbeat")
        self.home, self.worker_id = home, worker_id
        self.job_id: int | None = None
        self.stopped = threading.Event()

    def run(self) -> None:
        store = Store(self.home)  # own connection in this thread
        failing = False
        while not self.stopped.wait(HEARTBEAT_S):
            try:
                store.worker_heartbeat(self.worker_id)
                if self.job_id is not None:
                    store.heartbeat(self.job_id)
                failing = False
            except Exception as exc:  # a locked/busy/full database must not kill this thread
                if not failing:  # once per outage, not every 2 s onto a full disk
                    log.error("heartbeat write failed (%s); retrying quietly", exc)
                failing = True


class Reserve:
    """A file of RESERVE_BYTES whose space is given back when the disk is full, so the worker can
    still record why a job failed. Taken only while the disk has room to spare."""

    def __init__(self, path: Path, size: int = RESERVE_BYTES):
        self.path, self.size = path, size
        self.held = False

    def take(self) -> None:
        if self.held:
            return
        free = free_bytes(self.path.parent)
        if free is None or free < 4 * self.size:
            return
        try:
            with open(self.path, "wb") as f:
                f.write(b"\0" * self.size)
                f.flush()
                os.fsync(f.fileno())
            self.held = True
        except OSError as exc:
            log.warning("cannot keep a reserve file %s: %s", self.path, exc)
            self.path.unlink(missing_ok=True)

    def release(self, disk_full: bool = True) -> bool:
        """Delete the file; True if that freed space. `disk_full`: it is freed so that a job's
        end can be recorded (said in the log); False: the worker is leaving."""
        if not self.held:
            return False
        self.path.unlink(missing_ok=True)
        self.held = False
        if disk_full:
            log.warning(
                "disk full: released %s (%d bytes) to record the job's end", self.path, self.size
            )
        return True

    @staticmethod
    def remove_stale(folder: Path, live_ids: set[int]) -> None:
        """Delete the reserve files of workers that are gone (killed before releasing theirs)."""
        for path in folder.glob(".reserve-worker-*"):
            worker = path.name.rsplit("-", 1)[1]
            if worker.isdigit() and int(worker) not in live_ids:
                path.unlink(missing_ok=True)


def _raise_stop(signum, frame):
    raise WorkerStopped(signal.Signals(signum).name)


def failure_message(exc: BaseException, store: Store) -> str:
    """The job's error text: the project's own message, or the type and text of anything else
    (an OSError's text names its file); a full disk also names the disk and its free space."""
    if (
        isinstance(exc, OSError)
        and exc.errno in DISK_FULL_ERRNOS
        and not isinstance(exc, NasdetError)
    ):
        exc = disk_full_error(exc.filename or store.home)
    return str(exc) if isinstance(exc, NasdetError) else f"{type(exc).__name__}: {exc}"


def _quietly(what: str, fn, *args) -> None:
    """Run a store write whose failure must not hide the job's own outcome (it is logged)."""
    try:
        fn(*args)
    except STORE_ERRORS as exc:
        log.error("%s failed: %s", what, exc)


def _run_task(store: Store, job: dict, reporter: Reporter) -> tuple[str, str | None, dict | None]:
    """Run the task; returns (status, error, result). Only WorkerStopped escapes."""
    job_id = job["id"]
    try:
        reporter.info(f"{job['kind']} job started on {reporter.device} (attempt {job['attempts']})")
        result = get_task(job["kind"]).run(job["spec"], reporter)
        reporter.flush()
        status = "cancelled" if store.cancel_requested(job_id) else "succeeded"
        return status, None, result if isinstance(result, dict) else None
    except JobCancelled:
        _quietly("writing the last metrics", reporter.flush)
        return "cancelled", None, None
    except WorkerStopped:
        _quietly("writing the last metrics", reporter.flush)
        _quietly(
            "marking the job interrupted",
            store.finish_job,
            job_id,
            "interrupted",
            "worker stopped; `jobs resume` continues it",
        )
        raise
    except Exception as exc:  # the task failed (disk full included): record it, keep the worker
        _quietly("writing the last metrics", reporter.flush)
        error = failure_message(exc, store)
        log.error("job %s failed:\n%s", job_id, traceback.format_exc())
        _quietly("logging the traceback", store.add_event, job_id, "error", traceback.format_exc())
        return "failed", error, None


def execute_job(store: Store, job: dict, device: str) -> tuple[str, str | None, dict | None]:
    """Run one claimed job's task in its run folder; returns (status, error, result) unrecorded.
    Never raises for task errors, a full disk or a database that cannot be written."""
    job_id = job["id"]
    handler: logging.Handler | None = None
    try:
        folder = Path(run_dir(store, job_id))
        folder.mkdir(parents=True, exist_ok=True)
        handler = logging.FileHandler(folder / "log.txt", encoding="utf-8")
        handler.setFormatter(logging.Formatter(LOG_FORMAT))
        logging.getLogger().addHandler(handler)
        return _run_task(store, job, Reporter(store, job, folder, device))
    except (OSError, NasdetError, sqlite3.Error) as exc:  # the run folder or log cannot be made
        log.error("job %s cannot start: %s", job_id, exc)
        return "failed", failure_message(exc, store), None
    finally:
        if handler is not None:
            logging.getLogger().removeHandler(handler)
            handler.close()


def run_job(store: Store, job: dict, device: str) -> str:
    """Run one claimed job to its end and record it; returns the final status."""
    status, error, result = execute_job(store, job, device)
    record_end(store, job["id"], status, error, result)
    return status


def record_end(
    store: Store,
    job_id: int,
    status: str,
    error: str | None,
    result: dict | None,
    reserve: Reserve | None = None,
) -> bool:
    """Write a job's end (and its closing event); True once written. On a full disk the
    reserve is released and the write retried once; on failure it is logged and False."""
    for attempt in range(2):
        try:
            store.finish_job(job_id, status, error, result)
            break
        except STORE_ERRORS as exc:
            if attempt == 0 and isinstance(exc, DiskFullError) and reserve and reserve.release():
                continue
            log.error(
                "cannot record job %s as %s%s (%s); will retry",
                job_id,
                status,
                f" ({error})" if error else "",
                exc,
            )
            return False
    _quietly(
        "logging the job's end",
        store.add_event,
        job_id,
        "info" if status == "succeeded" else "warning",
        f"job {status}" + (f": {error}" if error else ""),
    )
    return True


def _loop(
    store: Store,
    device: str,
    worker_id: int,
    heartbeat: _Heartbeat,
    reserve: Reserve,
    max_jobs: int | None,
    idle_exit_s: float | None,
    kinds: tuple[str, ...] | None = None,
) -> None:
    """Claim and run jobs (of `kinds` only, when given); a job end not yet written is written
    before anything else is claimed."""
    done, idle_since, pending = 0, time.monotonic(), None
    while max_jobs is None or done < max_jobs:
        if pending is not None:
            if not record_end(store, *pending, reserve):
                time.sleep(STORE_RETRY_S)
                continue
            pending = None
        try:
            reserve.take()
            job = store.claim_job(device, os.getpid(), worker_id, kinds)
        except STORE_ERRORS as exc:  # e.g. disk full: wait for room, do not die
            log.error("cannot claim a job (%s); retrying in %.0f s", exc, STORE_RETRY_S)
            time.sleep(STORE_RETRY_S)
            continue
        if job is None:
            if idle_exit_s is not None and time.monotonic() - idle_since > idle_exit_s:
                break
            time.sleep(POLL_S)
            continue
        heartbeat.job_id = job["id"]
        end = (job["id"], *execute_job(store, job, device))
        heartbeat.job_id = None
        log.info("job %s %s", job["id"], end[1])
        pending = None if record_end(store, *end, reserve) else end
        done, idle_since = done + 1, time.monotonic()
    if pending is not None and not record_end(store, *pending, reserve):
        log.error("worker exits with the end of job %s unrecorded: %s %s", *pending[:3])


def run_worker(
    home: str | Path | None = None,
    device: str = "auto",
    max_jobs: int | None = None,
    idle_exit_s: float | None = None,
    lane: str = "all",
) -> int:
    """Claim and run jobs until stopped (or `max_jobs` done / idle for `idle_exit_s`); the
    "light" lane takes only LIGHT_KINDS (core.engine.jobs.LANES)."""
    if lane not in LANES:
        raise NasdetError(f"unknown worker lane {lane!r}; use one of {', '.join(LANES)}")
    store = Store(home)
    device = resolve_device(device)
    worker_id = store.register_worker(os.getpid(), device, socket.gethostname(), lane)
    heartbeat = _Heartbeat(store.home, worker_id)
    heartbeat.start()
    logs = store.home / "logs"
    logs.mkdir(exist_ok=True)
    Reserve.remove_stale(logs, {w["id"] for w in store.live_workers()} | {worker_id})
    reserve = Reserve(logs / f".reserve-worker-{worker_id}")
    previous = signal.signal(signal.SIGTERM, _raise_stop)
    log.info(
        "worker %s (pid %s, lane %s) on %s, home %s",
        worker_id,
        os.getpid(),
        lane,
        device,
        store.home,
    )
    try:
        _quietly("reconciling lost jobs", store.reconcile)
        _loop(store, device, worker_id, heartbeat, reserve, max_jobs, idle_exit_s, LANES[lane])
    except (WorkerStopped, KeyboardInterrupt):
        log.info("worker %s stopping", worker_id)
        if heartbeat.job_id is not None:
            _quietly(
                "marking the job interrupted",
                store.finish_job,
                heartbeat.job_id,
                "interrupted",
                "worker stopped; `jobs resume` continues it",
            )
    finally:
        signal.signal(signal.SIGTERM, previous)
        heartbeat.stopped.set()
        reserve.release(disk_full=False)
        _quietly("marking the worker stopped", store.stop_worker, worker_id)
    return 0


def ensure_worker(home: Path, device: str = "auto", kind: str | None = None) -> int | None:
    """Start a detached worker for `device` unless one is alive; for a light job (`kind` in
    LIGHT_KINDS) also one of the light lane when every worker is busy with a long job, so the
    light job does not wait behind it. Returns the pid of the worker started, or None."""
    store = Store(home)
    concrete = resolve_device(device)
    logs = store.home / "logs"
    logs.mkdir(exist_ok=True)
    with open(logs / "worker.lock", "w") as lock:  # one starter at a time (GUI and CLI may race)
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not store.live_workers(concrete):
            return _spawn_worker(store, concrete, logs, "all")
        if kind in LIGHT_KINDS and _all_busy(store, concrete):
            if not store.live_workers(concrete, lane="light"):
                return _spawn_worker(store, concrete, logs, "light")
        return None


def _all_busy(store: Store, device: str) -> bool:
    """Whether every live worker of `device` is running a job."""
    busy = {j["worker_id"] for j in store.list_jobs(status="running", limit=100)}
    return all(w["id"] in busy for w in store.live_workers(device))


def _spawn_worker(store: Store, concrete: str, logs: Path, lane: str) -> int:
    env = dict(
        os.environ,
        PYTHONPATH=os.pathsep.join(filter(None, [str(REPO_ROOT), os.environ.get("PYTHONPATH")])),
    )
    suffix = "" if lane == "all" else f"-{lane}"
    with open(logs / f"worker-{concrete.replace(':', '')}{suffix}.log", "ab") as out:
        proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "core",
                "--home",
                str(store.home),
                "worker",
                "--device",
                concrete,
                "--lane",
                lane,
                "--idle-exit",
                str(IDLE_EXIT_S[lane]),
            ],
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            env=env,
            cwd=REPO_ROOT,
            start_new_session=True,
        )
    # wait until it registers, so a second caller does not start another
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline and proc.poll() is None:
        if any(w["pid"] == proc.pid for w in store.live_workers(concrete, lane)):
            break
        time.sleep(0.1)
    if proc.poll() is not None:
        raise NasdetError(f"the worker exited at start (code {proc.returncode}); see {out.name}")
    return proc.pid
