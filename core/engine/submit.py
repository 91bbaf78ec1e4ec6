"""Submitting a job as every door does it: validate and queue it, then make sure a worker runs
for its device (a light job also gets the light lane when every worker is busy)."""

from __future__ import annotations

from core.engine.jobs import submit_job
from core.engine.store import Store
from core.engine.worker import ensure_worker


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
        ensure_worker(store.home, device, kind)
    return job_id
