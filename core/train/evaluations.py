"""A stored detector's evaluation as a reader asks for it: its dataset, its newest evaluation,
its own score threshold. Only reads the store."""

from __future__ import annotations

from core.engine.queries import find_job, list_jobs, read_json_artifact
from core.engine.store import Store
from core.errors import NotFoundError


def model_dataset(store: Store, model: str) -> str | None:
    """The dataset a model was trained on (its train config, else its train job's spec)."""
    row = store.get_model(model)
    train = (row.get("config") or {}).get("train") or {}
    if train.get("dataset"):
        return train["dataset"]
    job = find_job(store, row.get("job_id"))
    return ((job or {}).get("spec") or {}).get("dataset")


def latest_evaluation(store: Store, model: str) -> dict | None:
    """A model's newest evaluation: the newest succeeded evaluate job of it (its full
    evaluation.json when kept, else its result), else its train job's eval.json, else the
    metrics registered with the model."""
    row = store.get_model(model)
    for job in list_jobs(store, "succeeded", ("evaluate",), limit=200):
        if (job["spec"] or {}).get("model") == model and (job.get("result") or {}).get(
            "AP"
        ) is not None:
            return _evaluation_file(store, job["id"]) or job["result"]
    if row.get("job_id"):
        return _evaluation_file(store, row["job_id"]) or row.get("metrics")
    return row.get("metrics")


def model_threshold(store: Store, model: str) -> float | None:
    """The score threshold chosen for a model on its val split (the F1-best one of its newest
    evaluation, core.train.threshold), or None when it has none (or does not exist)."""
    try:
        evaluation = latest_evaluation(store, model) or {}
    except NotFoundError:
        return None
    value = evaluation.get("score_threshold")
    return float(value) if isinstance(value, (int, float)) else None


def _evaluation_file(store: Store, job_id: int) -> dict | None:
    for art in reversed(store.artifacts(job_id, kind="evaluation")):
        loaded = read_json_artifact(store, art["path"])
        if loaded is not None:
            return loaded
    return None
