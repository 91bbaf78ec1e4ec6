"""Named API endpoints that are not tied to one button (gradio_client: `client.predict(...,
api_name="/job_status")`). Button-bound endpoints (/start_search, /start_train, /predict,
/generate_dataset, /cancel_job, ...) are declared by their tabs.
"""

from __future__ import annotations

import gradio as gr

from core.app import jobs, searches
from nasdet_gui.common import Ctx, ui_errors

JOB_FIELDS = (
    "id",
    "kind",
    "status",
    "progress",
    "message",
    "eta_s",
    "device",
    "error",
    "result",
    "spec",
    "created_at",
    "started_at",
    "finished_at",
    "attempts",
)


def job_status_dict(ctx: Ctx, job_id: int) -> dict:
    """The public fields of one job (status, progress, error, result...); a search also carries
    `genotype`, its searched cell (core.engine.queries.searched_genotype; None until its search
    phase has finished)."""
    job = jobs.get_job(ctx.store, int(job_id))
    out = {k: job.get(k) for k in JOB_FIELDS}
    if job["kind"] == "search":
        out["genotype"] = searches.searched_genotype(ctx.store, job["id"])
    return out


def build(ctx: Ctx) -> None:
    """Register the endpoints inside the current Blocks context."""

    @ui_errors
    def job_status(job_id: int) -> dict:
        """Status, progress (0..1), message, ETA (s), device, error and result of a job; for a
        search also `genotype`, the searched cell."""
        return job_status_dict(ctx, job_id)

    @ui_errors
    def list_jobs(status: str = "", kind: str = "", limit: int = 50) -> list[dict]:
        """Jobs, newest first, optionally filtered by status and kind."""
        rows = jobs.list_jobs(ctx.store, status or None, (kind,) if kind else (), int(limit))
        return [{k: j.get(k) for k in JOB_FIELDS if k not in ("spec", "result")} for j in rows]

    @ui_errors
    def list_datasets() -> list[dict]:
        """Datasets in the store: name, kind, classes, counts."""
        return [
            {k: d.get(k) for k in ("name", "kind", "classes", "counts")}
            for d in ctx.store.list_datasets()
        ]

    @ui_errors
    def list_models() -> list[dict]:
        """Trained or imported detectors: name, kind, job id, classes, metrics."""
        return [
            {k: m.get(k) for k in ("name", "kind", "job_id", "classes", "metrics")}
            for m in ctx.store.list_models()
        ]

    gr.api(job_status, api_name="job_status", queue=False)
    gr.api(list_jobs, api_name="list_jobs", queue=False)
    gr.api(list_datasets, api_name="list_datasets", queue=False)
    gr.api(list_models, api_name="list_models", queue=False)
