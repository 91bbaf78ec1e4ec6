"""Read-only questions the GUI (and other readers) ask the store; nothing here ever writes.

The GUI's render paths and timer ticks call only these functions (and Store getters that do not
reconcile), so looking at a page never changes the database. A running job whose worker is gone
is *shown* as interrupted (`effective`, the rule of `store.job_lost`) without being marked so;
the worker's start-up or a user action (cancel, resume) writes that state.

"The found cell" of a search is `searched_genotype`: the genotype saved as
runs/<id>/genotype.json (artifact "genotype", what `nas:<job>` trains), else the report's row
with role 'searched'. It is never "the last 'final' row", which may be a random baseline.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from core.engine.store import LOST_JOB_ERROR, Store, job_lost, now
from core.errors import NotFoundError

log = logging.getLogger(__name__)

# Architecture roles (docs: DESIGN "Architecture rows carry a role").
ROLES = ("derived", "candidate", "searched", "random")
KIND_ROLES = {"derived": "derived", "sampled": "candidate", "candidate": "candidate"}
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


def latest_job_id(store: Store, *kinds: str, after: int = 0) -> int | None:
    """The newest job of these kinds (any kind when none given) with id > `after`; else None."""
    sql, params = "SELECT max(id) FROM jobs WHERE id > ?", [int(after or 0)]
    if kinds:
        sql += f" AND kind IN ({', '.join('?' * len(kinds))})"
        params += list(kinds)
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
        loaded = _read_json(store, art["path"])
        if loaded is not None:
            return loaded
    return None


def _read_json(store: Store, path: str) -> Any:
    """A JSON artifact, or None (with a warning) when it is missing or unreadable."""
    file = store.resolve_path(path)
    try:
        return json.loads(file.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        log.warning("cannot read %s: %s", file, exc)
        return None


# -- architectures and the found cell -------------------------------------------------------


def arch_role(arch: dict) -> str:
    """derived (a DARTS/ENAS per-epoch cell), candidate (a scored cell), searched (the search's
    answer, retrained in the report) or random (a report baseline)."""
    extra = arch.get("extra") or {}
    role = extra.get("role")
    if role in ROLES:
        return role
    return KIND_ROLES.get(extra.get("kind"), "candidate")


def architectures(store: Store, job_id: int, limit: int = 100_000) -> list[dict]:
    """A search's architecture rows in logging order, each with its `role`."""
    return [dict(a, role=arch_role(a)) for a in store.architectures(job_id, limit=limit)]


def searched_genotype(store: Store, job_id: int) -> dict | None:
    """THE found cell of a search: runs/<id>/genotype.json (artifact "genotype", the cell that
    `nas:<job>` trains), else the report row with role 'searched', else None (the search phase
    has not finished). Never a random baseline."""
    for art in reversed(store.artifacts(int(job_id), kind="genotype")):
        doc = _read_json(store, art["path"])
        if isinstance(doc, dict) and ("normal" in doc or "genotype" in doc):
            return doc if "normal" in doc else doc["genotype"]  # {"genotype": ...} wrapper too
    row = searched_architecture(store, job_id)
    return row["genotype"] if row else None


def searched_architecture(store: Store, job_id: int) -> dict | None:
    """The newest architecture row with role 'searched' (the found cell retrained from scratch
    in the final report: its score is the retrained proxy accuracy), or None."""
    rows = [a for a in architectures(store, job_id) if a["role"] == "searched"]
    return rows[-1] if rows else None


def search_best(store: Store, job_id: int) -> dict | None:
    """What a search view shows as its cell: {"genotype", "final", "arch_id", "score",
    "accuracy", "role"}.

    final=True: the searched genotype (arch_id/score: its report row, when retrained yet).
    final=False (the search phase is still running): DARTS/ENAS's newest derived cell, else the
    best-scoring candidate so far. None when nothing was logged yet. `accuracy` is the cell's
    proxy accuracy (= score, except under the accuracy-latency objective, where the score is
    the latency-weighted reward)."""
    genotype = searched_genotype(store, job_id)
    if genotype is not None:
        row = searched_architecture(store, job_id)
        score = row["score"] if row else None
        return {
            "genotype": genotype,
            "final": True,
            "arch_id": row["id"] if row else None,
            "score": score,
            "accuracy": score,
            "role": "searched",
        }
    rows = architectures(store, job_id)
    derived = [a for a in rows if a["role"] == "derived"]
    scored = [a for a in rows if a["role"] == "candidate" and a["score"] is not None]
    if not derived and not scored:
        return None
    pick = derived[-1] if derived else max(scored, key=lambda a: a["score"])
    return {
        "genotype": pick["genotype"],
        "final": False,
        "arch_id": pick["id"],
        "score": pick["score"],
        "accuracy": proxy_accuracy(pick),
        "role": pick["role"],
    }


def proxy_accuracy(arch: dict) -> float | None:
    """An architecture row's proxy accuracy: extra["accuracy"] where its score is a reward
    (the accuracy-latency objective), else its score."""
    return (arch.get("extra") or {}).get("accuracy", arch.get("score"))


def search_cells(store: Store, limit: int = 100) -> list[dict]:
    """Searches that have a cell to show, newest first: {"job_id", "status", "final"} (final:
    the searched genotype exists; else only cells logged so far)."""
    out = []
    for job in list_jobs(store, kinds=("search",), limit=limit):
        final = bool(store.artifacts(job["id"], kind="genotype"))
        if (
            final
            or store.db.execute(
                "SELECT 1 FROM architectures WHERE job_id = ? LIMIT 1", [job["id"]]
            ).fetchone()
        ):
            out.append({"job_id": job["id"], "status": job["status"], "final": final})
    return out


# -- the Guided walk --------------------------------------------------------------------------


@dataclass(frozen=True)
class Walk:
    """Where the Guided demo stands: its newest search after `since` and the newest training
    queued after that search, with their (effective) statuses."""

    since: int = 0
    search_id: int | None = None
    search_status: str | None = None
    train_id: int | None = None
    train_status: str | None = None
    has_cell: bool = False  # the search's genotype.json exists (its search phase is over)

    @property
    def search_done(self) -> bool:
        return self.search_status == "succeeded"

    @property
    def train_done(self) -> bool:
        return self.train_status == "succeeded"


def guided_walk(store: Store, since: int = 0) -> Walk:
    """The walk's state read from the store, so a browser refresh lands on the same step."""
    search = find_job(store, latest_job_id(store, "search", after=since))
    if search is None:
        return Walk(since=since)
    train = find_job(store, latest_job_id(store, "train", after=search["id"]))
    return Walk(
        since=since,
        search_id=search["id"],
        search_status=search["status"],
        train_id=train["id"] if train else None,
        train_status=train["status"] if train else None,
        has_cell=bool(store.artifacts(search["id"], kind="genotype")),
    )
