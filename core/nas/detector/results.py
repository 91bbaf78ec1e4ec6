"""A detector search's trials as readers see them: one architectures row per finished trial.

Each trial of a `search.detector` job is an architectures row (logged when the trial ends) with
genotype = the trial's detector (core.nas.detector.space.DetectorChoice.to_dict), score = its
val AP50 at its last evaluation, params, latency_ms (batch 1, the job's device, core.det.latency),
step = the Optuna trial number, and extra:

    {"role": "trial", "trial": n, "state": "complete" | "pruned" | "stopped" | "failed",
     "pruned": bool, "epochs": epochs trained, "max_epochs": a complete trial's epochs,
     "AP50", "AP", "reward": the value the optimiser ranked it by, "seconds": its wall time,
     "error": why it failed or None, "weights": its model file (home-relative) or None}

`trials(store, job_id)` flattens those rows into dicts; `points` turns them into the TrialPoints
of core.nas.detector.pick (front and pick). Only reads the store.
"""

from __future__ import annotations

from core.nas.detector.pick import TrialPoint
from core.nas.results import TRIAL_ROLE as ROLE

FIELDS = (
    "trial",
    "state",
    "pruned",
    "epochs",
    "max_epochs",
    "AP50",
    "AP",
    "reward",
    "seconds",
    "error",
    "weights",
)


def trials(store, job_id: int) -> list[dict]:
    """The job's trials in trial order: {"arch_id", "config", "params", "latency_ms", and the
    extra fields above}."""
    out = []
    for row in store.architectures(int(job_id)):
        extra = row.get("extra") or {}
        if extra.get("role") != ROLE:
            continue
        out.append(
            {
                "arch_id": row["id"],
                "config": row["genotype"],
                "params": row["params"],
                "latency_ms": row["latency_ms"],
                **{k: extra.get(k) for k in FIELDS},
            }
        )
    return sorted(out, key=lambda t: t["trial"])


def points(rows: list[dict]) -> list[TrialPoint]:
    """The trials that have an AP50 and a latency, as TrialPoints."""
    return [
        TrialPoint(
            trial=r["trial"],
            ap50=float(r["AP50"]),
            latency_ms=float(r["latency_ms"]),
            epochs=int(r["epochs"] or 0),
            complete=r["state"] == "complete",
        )
        for r in rows
        if r.get("AP50") is not None and r.get("latency_ms") is not None
    ]


def brief(row: dict) -> dict:
    """A trial as the result lists it."""
    return {
        "trial": row["trial"],
        "config": row["config"],
        "AP50": row["AP50"],
        "AP": row["AP"],
        "latency_ms": row["latency_ms"],
        "params": row["params"],
        "epochs": row["epochs"],
        "state": row["state"],
    }
