"""Read-only questions the GUI (and other readers) ask the store; nothing here ever writes.

The GUI's render paths and timer ticks call only these functions (and Store getters that do not
reconcile), so looking at a page never changes the database. A running job whose worker is gone
is *shown* as interrupted (`effective`, the rule of `store.job_lost`) without being marked so;
the worker's start-up or a user action (cancel, resume) writes that state.

These are the engine's own questions (jobs, their fingerprints and labels, the names of
datasets and models, JSON artifacts); what a search's or a model's results mean is read by
core.nas.results and core.train.evaluations, and a screen asks core.app.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Iterable
from typing import Any

from core.engine.store import LOST_JOB_ERROR, Store, job_lost, now
from core.errors import NotFoundError

log = logging.getLogger(__name__)

LABEL_SPEC_KEYS = ("dataset", "strategy", "model", "backbone", "name")
LABEL_MAX_CHARS = 40
STATUS_WORDS = {
    "succeeded": "done",
    "running": "running",
    "queued": "queued",
    "failed": "failed",
    "cancelled": "cancelled",
    "interrupted": "interrupted",
}


# -- jobs -------------------------------------------------------------------------------------


def effective(job: dict, at: float | None = None) -> dict:
    """The job as a reader should see it: a running job whose worker is gone reads as
    interrupted (with the store's message), as `Store.reconcile` would mark it; a running job's
    ETA is counted down from when it was written (`eta_at`), so that it does not stand still
    between two progress reports. Returns `job` itself (changed in place) for convenience."""
    if job.get("status") == "running" and job_lost(job.get("pid"), job.get("heartbeat_at"), at):
        job["status"] = "interrupted"
        job["eta_s"] = None
        job["error"] = job.get("error") or LOST_JOB_ERROR
    if job.get("status") == "running" and job.get("eta_s") is not None and job.get("eta_at"):
        since = max(0.0, (now() if at is None else at) - job["eta_at"])
        job["eta_s"] = max(0.0, job["eta_s"] - since)
    return job


def find_job(store: Store, job_id: int | None) -> dict | None:
    """One job (effective status) or None if there is no such job."""
    if not job_id:
        return None
    rows = store._rows("jobs", "SELECT * FROM jobs WHERE id = ?", [int(job_id)])
    return effective(rows[0]) if rows else None


def get_job(store: Store, job_id: int) -> dict:
    """One job (effective status); NotFoundError if there is none."""
    job = find_job(store, job_id)
    if job is None:
        raise NotFoundError(f"no job {job_id}; `python -m core jobs list` shows the jobs")
    return job


def list_jobs(
    store: Store, status: str | None = None, kinds: Iterable[str] = (), limit: int = 500
) -> list[dict]:
    """Jobs newest first (effective statuses), optionally of one status and of these kinds."""
    kinds = [k for k in kinds if k]
    where, params = [], []
    if status:
        wanted = [status, "running"] if status == "interrupted" else [status]
        where.append(f"status IN ({', '.join('?' * len(wanted))})")
        params += wanted
    if kinds:
        where.append(f"kind IN ({', '.join('?' * len(kinds))})")
        params += kinds
    sql = "SELECT * FROM jobs" + (" WHERE " + " AND ".join(where) if where else "")
    t = now()
    jobs = [
        effective(j, t)
        for j in store._rows("jobs", sql + " ORDER BY id DESC LIMIT ?", [*params, int(limit)])
    ]
    return [j for j in jobs if not status or j["status"] == status]


def latest_job_id(
    store: Store, *kinds: str, after: int = 0, origin: str | None = None
) -> int | None:
    """The newest job of these kinds (any kind when none given) with id > `after`, and queued
    by `origin` when given (see Store.insert_job); else None."""
    sql, params = "SELECT max(id) FROM jobs WHERE id > ?", [int(after or 0)]
    if kinds:
        sql += f" AND kind IN ({', '.join('?' * len(kinds))})"
        params += list(kinds)
    if origin is not None:
        sql += " AND origin = ?"
        params.append(origin)
    return store.db.execute(sql, params).fetchone()[0]


def job_fingerprint(store: Store, job_id: int | None) -> tuple:
    """Changes whenever a job's visible state changes: status (effective), progress, message,
    error, and its newest metric, architecture and event. One indexed query."""
    if not job_id:
        return ()
    row = store.db.execute(
        "SELECT status, progress, message, error, pid, heartbeat_at, "
        "(SELECT max(rowid) FROM metrics WHERE job_id = :id), "
        "(SELECT max(id) FROM architectures WHERE job_id = :id), "
        "(SELECT max(id) FROM events WHERE job_id = :id) FROM jobs WHERE id = :id",
        {"id": int(job_id)},
    ).fetchone()
    if row is None:
        return ("missing", int(job_id))
    status = row[0]
    if status == "running" and job_lost(row[4], row[5]):
        status = "interrupted"
    return (int(job_id), status, *row[1:4], *row[6:])


def jobs_fingerprint(store: Store, limit: int = 200) -> tuple:
    """Changes when any of the newest `limit` jobs changes (effective) status, progress,
    message or error, or a job is added or deleted."""
    rows = store.db.execute(
        "SELECT id, status, round(progress, 3), message, error, pid, heartbeat_at FROM jobs "
        "ORDER BY id DESC LIMIT ?",
        [int(limit)],
    ).fetchall()
    t = now()
    return tuple(
        (
            jid,
            "interrupted" if status == "running" and job_lost(pid, hb, t) else status,
            progress,
            message,
            error,
        )
        for jid, status, progress, message, error, pid, hb in rows
    )


def table_fingerprint(store: Store, table: str) -> tuple:
    """(row count, newest id) of the datasets or models table: changes on add or delete."""
    if table not in ("datasets", "models"):
        raise ValueError(f"table_fingerprint: unknown table {table!r}")
    return tuple(store.db.execute(f"SELECT count(*), max(id) FROM {table}").fetchone())


def job_label(job: dict) -> str:
    """A short dropdown label: '#12 shapes-demo, darts · done' (at most ~40 characters)."""
    spec = job.get("spec") or {}
    parts = [str(spec[k]) for k in LABEL_SPEC_KEYS if spec.get(k)]
    what = ", ".join(parts) or time.strftime("%m-%d %H:%M", time.localtime(job["created_at"]))
    status = STATUS_WORDS.get(job["status"], job["status"])
    room = LABEL_MAX_CHARS - len(f"#{job['id']}  · {status}")
    if len(what) > room:
        what = what[: max(room - 1, 4)] + "…"
    return f"#{job['id']} {what} · {status}"


def job_choices(
    store: Store, kinds: Iterable[str], status: str | None = None, limit: int = 200
) -> list[tuple[str, int]]:
    """Dropdown choices (label, id) for the jobs of these kinds, newest first."""
    return [(job_label(j), j["id"]) for j in list_jobs(store, status, kinds, limit)]


# -- datasets and models ----------------------------------------------------------------------


def dataset_names(store: Store) -> list[str]:
    return [d["name"] for d in store.list_datasets()]


def model_names(store: Store) -> list[str]:
    """Registered detectors, newest first."""
    return [m["name"] for m in store.list_models()]


def read_json_artifact(store: Store, path: str) -> Any:
    """A JSON artifact, or None (with a warning) when it is missing or unreadable."""
    file = store.resolve_path(path)
    try:
        return json.loads(file.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        log.warning("cannot read %s: %s", file, exc)
        return None
