"""Jobs as a screen or a CLI verb sees them: submit one (and make sure a worker runs), cancel,
resume or delete it, and read them (effective statuses, fingerprints, labels)."""

from __future__ import annotations

from core.engine.jobs import delete_job, run_dir, submit_job
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
from core.engine.worker import ensure_worker

ACTIVE = ("queued", "running")

__all__ = [
    "ACTIVE",
    "FINISHED",
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


def submit(
    store: Store,
    kind: str,
    spec: dict,
    device: str = "auto",
    *,
    after: int | None = None,
    origin: str | None = None,
    start_worker: bool = True,
) -> int:
    """Validate, resolve and queue a job (SpecError and friends before anything is queued),
    then make sure a worker runs for its device; returns the job id."""
    job_id = submit_job(store, kind, spec, device=device, after=after, origin=origin)
    if start_worker:
        ensure_worker(store.home, device)
    return job_id


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
