"""Jobs as a screen or a CLI verb sees them: submit one (and make sure a worker runs), cancel,
resume or delete it, and read them (effective statuses, fingerprints, labels, kinds in words)."""

from __future__ import annotations

import os
import signal

from core.engine.jobs import delete_job, run_dir
from core.engine.queries import (
    STATUS_WORDS,
    dataset_names,
    effective,
    find_job,
    get_job,
    job_choices,
    job_fingerprint,
    job_label,
    jobs_fingerprint,
    latest_job_id,
    list_jobs,
    model_names,
    read_json_artifact,
    table_fingerprint,
)
from core.engine.store import FINISHED, RESUMABLE, Store
from core.engine.submit import submit
from core.engine.worker import IDLE_EXIT_S, ensure_worker

ACTIVE = ("queued", "running")
KIND_WORDS = {  # a job's kind as a screen names it
    "dataset.generate": "dataset generation",
    "dataset.import": "dataset import",
    "search": "cell search",
    "search.detector": "detector search",
    "train": "training",
    "evaluate": "evaluation",
    "export": "export",
}

__all__ = [
    "after_app",
    "ensure_worker",
    "ACTIVE",
    "FINISHED",
    "KIND_WORDS",
    "RESUMABLE",
    "STATUS_WORDS",
    "Store",
    "cancel",
    "dataset_names",
    "delete",
    "effective",
    "find_job",
    "get_job",
    "job_choices",
    "job_fingerprint",
    "job_label",
    "kind_words",
    "jobs_fingerprint",
    "latest_job_id",
    "list_jobs",
    "model_names",
    "read_json_artifact",
    "resume",
    "run_dir",
    "submit",
    "table_fingerprint",
]


def kind_words(kind: str) -> str:
    """A job kind in words ("train" -> "training"); an unknown kind with its dots as spaces."""
    return KIND_WORDS.get(kind, kind.replace(".", " "))


def cancel(store: Store, job_id: int) -> str:
    """Cancel a job (queued: at once; running: at its next step); says what happened."""
    status = store.request_cancel(job_id)
    return f"Job {job_id} {'cancelled' if status == 'cancelled' else 'stops at its next step'}."


def resume(store: Store, job_id: int, start_worker: bool = True) -> str:
    """Re-queue a job (it continues from its last checkpoint) and make sure a worker runs for
    the device it asked for."""
    store.resume_job(job_id)
    if start_worker:
        ensure_worker(store.home, store.get_job(job_id)["requested_device"] or "auto")
    return f"Job {job_id} queued again; it continues from its last checkpoint."


def delete(store: Store, job_id: int) -> str:
    """Delete a finished job's rows and files; its number is never given to another job."""
    delete_job(store, job_id)
    return f"Job {job_id} deleted."


def after_app(store: Store) -> str:
    """What keeps running once the app has stopped, in words; idle workers are stopped now
    (SIGTERM: they leave no job behind). A busy worker goes on with its jobs and exits by itself
    IDLE_EXIT_S after its last one."""
    live = store.live_workers()
    if not live:
        return ""
    pids = " ".join(str(w["pid"]) for w in live)
    running = list_jobs(store, "running")
    queued = list_jobs(store, "queued")
    if not running and not queued:
        for worker in live:
            os.kill(worker["pid"], signal.SIGTERM)
        return f"Stopped the idle background worker (pid {pids})."
    what = ", ".join(
        f"{len(group)} {word}"
        for group, word in ((running, "running"), (queued, "queued"))
        if group
    )
    minutes = IDLE_EXIT_S["all"] / 60
    return (
        f"The background worker (pid {pids}) keeps going with its jobs ({what}) and stops by "
        f"itself {minutes:.0f} minutes after the last one; the app shows them again when it "
        f"starts. To stop it now: kill {pids} (a running job becomes interrupted and "
        "`python -m core jobs resume ID` continues it)."
    )
