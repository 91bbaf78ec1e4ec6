"""Detector searches as a screen or a CLI verb sees them: the job kind and its options, the plan
line, the trials as rows and the answer (the Pareto front and the pick, from the job's result).
The meaning lives in core.nas.detector; this is the door."""

from __future__ import annotations

from core.engine.store import Store
from core.nas.detector.config import KIND, DetectorSearchConfig, plan_line
from core.nas.detector.results import trials
from core.nas.detector.space import DetectorChoice

__all__ = ["KIND", "DetectorChoice", "DetectorSearchConfig", "answer", "plan_line", "trials"]


def answer(store: Store, job_id: int) -> dict | None:
    """A detector search's result so far ({"front", "pick", "target_ms", "trials", "states",
    "final", ...}; the model once final), or None before its first trial ends."""
    job = store.get_job(int(job_id))
    result = job.get("result") or {}
    return result if job["kind"] == KIND and result.get("level") == "detector" else None
