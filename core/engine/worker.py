"""The worker: a process that claims queued jobs one at a time and runs their tasks.

`python -m core worker` runs one in the foreground; `ensure_worker` starts a detached one (own
session, survives the GUI or CLI that started it). A heartbeat thread stamps the job and the
worker every HEARTBEAT_S seconds; a job whose worker dies is read as `interrupted` by
`Store.reconcile` and can be resumed from its checkpoint.
"""

from __future__ import annotations

import fcntl
import logging
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import traceback
from pathlib import Path

from core.engine.devices import resolve_device
from core.engine.jobs import get_task, run_dir
from core.engine.reporter import Reporter
from core.engine.store import Store
from core.errors import JobCancelled, NasdetError

log = logging.getLogger(__name__)

HEARTBEAT_S = 2.0
POLL_S = 0.5
REPO_ROOT = Path(__file__).resolve().parents[2]
LOG_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"


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
        while not self.stopped.wait(HEARTBEAT_S):
            try:
                store.worker_heartbeat(self.worker_id)
                if self.job_id is not None:
                    store.heartbeat(self.job_id)
            except Exception:  # a locked/busy database must not kill the heartbeat thread
                log.exception("heartbeat write failed; retrying")


def _raise_stop(signum, frame):
    raise WorkerStopped(signal.Signals(signum).name)


def run_job(store: Store, job: dict, device: str) -> str:
    """Run one claimed job to its end; returns the final status. Never raises for task errors."""
    job_id = job["id"]
    folder = Path(run_dir(store, job_id))
    folder.mkdir(parents=True, exist_ok=True)
    handler = logging.FileHandler(folder / "log.txt", encoding="utf-8")
    handler.setFormatter(logging.Formatter(LOG_FORMAT))
    logging.getLogger().addHandler(handler)
    reporter = Reporter(store, job, folder, device)
    try:
        reporter.info(f"{job['kind']} job started on {device} (attempt {job['attempts']})")
        result = get_task(job["kind"]).run(job["spec"], reporter)
        reporter.flush()
        if store.cancel_requested(job_id):
            status, error = "cancelled", None
        else:
            status, error = "succeeded", None
    except JobCancelled:
        reporter.flush()
        status, error, result = "cancelled", None, None
    except WorkerStopped:
        reporter.flush()
        store.finish_job(job_id, "interrupted", "worker stopped; `jobs resume` continues it")
        raise
    except Exception as exc:  # the task failed: record it, keep the worker alive
        reporter.flush()
        status, result = "failed", None
        error = str(exc) if isinstance(exc, NasdetError) else f"{type(exc).__name__}: {exc}"
        store.add_event(job_id, "error", traceback.format_exc())
        log.error("job %s failed:\n%s", job_id, traceback.format_exc())
    finally:
        logging.getLogger().removeHandler(handler)
        handler.close()
    store.finish_job(job_id, status, error, result if isinstance(result, dict) else None)
    store.add_event(job_id, "info" if status == "succeeded" else "warning", f"job {status}"
                    + (f": {error}" if error else ""))
    return status


def run_worker(home: str | Path | None = None, device: str = "auto", max_jobs: int | None = None,
               idle_exit_s: float | None = None) -> int:
    """Claim and run jobs until stopped (or `max_jobs` done / idle for `idle_exit_s`)."""
    store = Store(home)
    device = resolve_device(device)
    worker_id = store.register_worker(os.getpid(), device, socket.gethostname())
    heartbeat = _Heartbeat(store.home, worker_id)
    heartbeat.start()
    signal.signal(signal.SIGTERM, _raise_stop)
    log.info("worker %s (pid %s) on %s, home %s", worker_id, os.getpid(), device, store.home)
    done, idle_since = 0, time.monotonic()
    try:
        store.reconcile()
        while max_jobs is None or done < max_jobs:
            job = store.claim_job(device, os.getpid(), worker_id)
            if job is None:
                if idle_exit_s is not None and time.monotonic() - idle_since > idle_exit_s:
                    break
                time.sleep(POLL_S)
                continue
            heartbeat.job_id = job["id"]
            status = run_job(store, job, device)
            heartbeat.job_id = None
            log.info("job %s %s", job["id"], status)
            done, idle_since = done + 1, time.monotonic()
    except (WorkerStopped, KeyboardInterrupt):
        log.info("worker %s stopping", worker_id)
        if heartbeat.job_id is not None:
            store.finish_job(heartbeat.job_id, "interrupted",
                             "worker stopped; `jobs resume` continues it")
    finally:
        heartbeat.stopped.set()
        store.stop_worker(worker_id)
    return 0


def ensure_worker(home: Path, device: str = "auto") -> int | None:
    """Start a detached worker for `device` unless one is alive; returns the new pid or None."""
    store = Store(home)
    concrete = resolve_device(device)
    logs = store.home / "logs"
    logs.mkdir(exist_ok=True)
    with open(logs / "worker.lock", "w") as lock:  # one starter at a time (GUI and CLI may race)
        fcntl.flock(lock, fcntl.LOCK_EX)
        if store.live_workers(concrete):
            return None
        return _spawn_worker(store, concrete, logs)


def _spawn_worker(store: Store, concrete: str, logs: Path) -> int:
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(
        filter(None, [str(REPO_ROOT), os.environ.get("PYTHONPATH")])))
    with open(logs / f"worker-{concrete.replace(':', '')}.log", "ab") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "core", "--home", str(store.home), "worker", "--device", concrete],
            stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT, env=env,
            cwd=REPO_ROOT, start_new_session=True)
    # wait until it registers, so a second caller does not start another
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline and proc.poll() is None:
        if any(w["pid"] == proc.pid for w in store.live_workers(concrete)):
            break
        time.sleep(0.1)
    if proc.poll() is not None:
        raise NasdetError(f"the worker exited at start (code {proc.returncode}); see {out.name}")
    return proc.pid
