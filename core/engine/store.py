"""The SQLite store (sqlite-utils): datasets, jobs, metrics, events, architectures, artifacts,
models.

One database file, `<home>/nasdet.db`, in WAL mode so the GUI can read while a worker writes.
Every statement is parameterised. The schema is versioned (core.engine.schema: `MIGRATIONS`
moves an older database forward; a newer, foreign, damaged, or emptied database beside earlier
work is refused rather than touched). Connections are per thread (Gradio handlers run on a
thread pool); a full disk comes out of any write as DiskFullError naming the database and disk.
"""

from __future__ import annotations

import json
import logging
import os
import threading
import time
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import sqlite_utils

from core.engine import schema
from core.engine.catalog import CatalogMixin
from core.engine.schema import DB_NAME, MIGRATIONS, SCHEMA_VERSION  # noqa: F401 (re-exported)
from core.errors import DiskFullError, HomeError, JobStateError, NotFoundError
from core.io import describe_disk, free_bytes

log = logging.getLogger(__name__)
HEARTBEAT_STALE_S = 30.0  # a running job whose heartbeat is older than this is interrupted
JOB_STATUSES = ("queued", "running", "succeeded", "failed", "cancelled", "interrupted")
FINISHED = ("succeeded", "failed", "cancelled")
RESUMABLE = ("interrupted", "failed", "cancelled")
LOST_JOB_ERROR = "worker process stopped; `jobs resume` continues from the last checkpoint"
LOW_DISK_BYTES = 1024 * 1024  # below this a lost job's reason names the full disk
JSON_COLUMNS = {
    "datasets": ("classes", "counts", "report", "stats"),
    "jobs": ("spec", "result"),
    "architectures": ("genotype", "extra"),
    "models": ("classes", "metrics", "config"),
}


def resolve_home(home: str | os.PathLike | None = None) -> Path:
    """The home folder: `home` if given, else $NASDET_HOME, else ./nasdet_data; created if
    missing."""
    path = Path(home or os.environ.get("NASDET_HOME") or "nasdet_data").expanduser().resolve()
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise HomeError(
            f"cannot create home folder {path}: {exc.strerror}; pass --home DIR"
        ) from exc
    if not path.is_dir():
        raise HomeError(f"home {path} is not a folder; pass --home DIR or set NASDET_HOME")
    if not os.access(path, os.W_OK | os.X_OK):
        raise HomeError(f"home folder {path} is not writable; pass --home DIR or set NASDET_HOME")
    return path


def now() -> float:
    """Timestamps in the store are Unix seconds (float, UTC)."""
    return time.time()


def pid_alive(pid: int | None) -> bool:
    """True if a process with this pid exists on this machine (zombies count as dead)."""
    if not pid:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().split(")")[-1].split()[0] != "Z"
    except OSError:
        return True


def lost_job_error(home: Path) -> str:
    """LOST_JOB_ERROR, and when the home's disk is (nearly) full, that as the likely cause."""
    free = free_bytes(home)
    if free is None or free >= LOW_DISK_BYTES:
        return LOST_JOB_ERROR
    return (
        f"worker process stopped while {describe_disk(home)} was nearly full (a full disk "
        "stops the writes of a job and of its worker); free some space, then `jobs resume` "
        "continues from the last checkpoint"
    )


def job_lost(pid: int | None, heartbeat_at: float | None, at: float | None = None) -> bool:
    """A running job is lost when its worker process is gone or silent > HEARTBEAT_STALE_S.

    The one rule behind `Store.reconcile` (which writes) and core.engine.queries (which only reads).
    """
    at = now() if at is None else at
    return not pid_alive(pid) or (heartbeat_at or 0) < at - HEARTBEAT_STALE_S


class Store(CatalogMixin):
    """Typed access to the database of one home folder. Cheap to create; thread-safe.

    Jobs, workers, metrics and events here; datasets, models, architectures and artifacts in
    core.engine.catalog; the file, its checks and the schema in core.engine.schema."""

    def __init__(self, home: str | os.PathLike | None = None):
        self.home = resolve_home(home)
        self.path = self.home / DB_NAME
        self._local = threading.local()
        self._migrate()

    # -- connection and schema (core.engine.schema) ------------------------------------------
    @property
    def db(self) -> sqlite_utils.Database:
        db = getattr(self._local, "db", None)
        if db is None:
            db = self._local.db = schema.connect(self.path)
        return db

    def close(self) -> None:
        db = getattr(self._local, "db", None)
        if db is not None:
            db.conn.close()
            self._local.db = None

    def schema_version(self) -> int:
        return schema.schema_version(self.db)

    def _migrate(self) -> None:
        schema.check_file(self.path)
        schema.migrate(self.db, self.path)

    def transaction(self):
        """`with store.transaction():` groups writes atomically (BEGIN IMMEDIATE ... COMMIT)."""
        return _Transaction(self.db)

    # -- rows ----------------------------------------------------------------------------------
    @staticmethod
    def _decode(table: str, row: dict | None) -> dict | None:
        if row is None:
            return None
        for col in JSON_COLUMNS.get(table, ()):
            if isinstance(row.get(col), str):
                row[col] = json.loads(row[col])
        return row

    def _rows(self, table: str, sql: str, params: Iterable[Any] = ()) -> list[dict]:
        cur = self.db.execute(sql, list(params))
        cols = [c[0] for c in cur.description]
        return [self._decode(table, dict(zip(cols, r))) for r in cur.fetchall()]

    def resolve_path(self, path: str | os.PathLike) -> Path:
        """Paths in the store are absolute or relative to the home folder."""
        p = Path(path)
        return p if p.is_absolute() else self.home / p

    def relative_path(self, path: str | os.PathLike) -> str:
        """Store paths inside home relative to it, so a home folder can be moved."""
        p = Path(path).resolve()
        try:
            return str(p.relative_to(self.home))
        except ValueError:
            return str(p)

    # -- jobs ----------------------------------------------------------------------------------
    def insert_job(
        self,
        kind: str,
        spec: dict,
        requested_device: str = "auto",
        after: int | None = None,
        origin: str | None = None,
    ) -> int:
        """Queue a job (the spec must already be validated: see core.engine.jobs.submit_job).

        `after`: the id of a job this one waits for; it is claimed only once that job has
        succeeded, and cancelled if that job fails or is cancelled. `origin`: what queued it
        ("demo" for the Guided demo's chain), so a reader can follow only its own jobs."""
        row = {
            "kind": kind,
            "status": "queued",
            "spec": json.dumps(spec),
            "progress": 0.0,
            "requested_device": requested_device,
            "created_at": now(),
            "cancel_requested": 0,
            "attempts": 0,
            "after_id": after,
            "origin": origin,
        }
        return self.db["jobs"].insert(row).last_pk

    def get_job(self, job_id: int, reconcile: bool = True) -> dict:
        if reconcile:
            self.reconcile()
        rows = self._rows("jobs", "SELECT * FROM jobs WHERE id = ?", [int(job_id)])
        if not rows:
            raise NotFoundError(f"no job {job_id}; `python -m core jobs list` shows the jobs")
        return rows[0]

    def list_jobs(
        self, status: str | None = None, kind: str | None = None, limit: int = 500
    ) -> list[dict]:
        self.reconcile()
        where, params = [], []
        if status:
            where.append("status = ?")
            params.append(status)
        if kind:
            where.append("kind = ?")
            params.append(kind)
        sql = "SELECT * FROM jobs" + (" WHERE " + " AND ".join(where) if where else "")
        return self._rows("jobs", sql + " ORDER BY id DESC LIMIT ?", [*params, limit])

    def claim_job(
        self,
        device: str,
        pid: int,
        worker_id: int | None = None,
        kinds: tuple[str, ...] | None = None,
    ) -> dict | None:
        """Atomically move the oldest queued job this device may run to running; None if none.

        A single UPDATE ... RETURNING is atomic in SQLite, so two workers never get the same job.
        Jobs asking for device 'auto' go to any worker; others only to a worker on that device.
        `kinds`: only jobs of these kinds (a worker of the light lane, core.engine.jobs).
        """
        t = now()
        only = f"AND kind IN ({', '.join('?' * len(kinds))}) " if kinds else ""
        cur = self.db.execute(
            "UPDATE jobs SET status = 'running', device = ?, pid = ?, worker_id = ?, "
            "started_at = ?, heartbeat_at = ?, attempts = attempts + 1, error = NULL, "
            "message = 'starting' "
            "WHERE id = (SELECT id FROM jobs WHERE status = 'queued' "
            "AND (requested_device = 'auto' OR requested_device = ?) "
            "AND (after_id IS NULL OR "
            "after_id IN (SELECT id FROM jobs WHERE status = 'succeeded')) "
            f"{only}ORDER BY id LIMIT 1) "
            "AND status = 'queued' RETURNING id",
            [device, pid, worker_id, t, t, device, *(kinds or ())],
        )
        row = cur.fetchone()
        return self.get_job(row[0], reconcile=False) if row else None

    def heartbeat(self, job_id: int) -> None:
        self.db.execute(
            "UPDATE jobs SET heartbeat_at = ? WHERE id = ? AND status = 'running'", [now(), job_id]
        )

    def set_progress(
        self, job_id: int, fraction: float, message: str | None, eta_s: float | None = None
    ) -> None:
        t = now()
        self.db.execute(
            "UPDATE jobs SET progress = ?, message = coalesce(?, message), eta_s = ?, "
            "eta_at = ?, heartbeat_at = ? WHERE id = ?",
            [min(max(float(fraction), 0.0), 1.0), message, eta_s, t, t, job_id],
        )

    def finish_job(
        self, job_id: int, status: str, error: str | None = None, result: dict | None = None
    ) -> None:
        assert status in FINISHED + ("interrupted",), status
        self.db.execute(
            "UPDATE jobs SET status = ?, error = ?, result = coalesce(?, result), finished_at = ?, "
            "progress = CASE WHEN ? = 'succeeded' THEN 1.0 ELSE progress END, eta_s = NULL, "
            "message = CASE WHEN ? = 'succeeded' THEN 'done' ELSE message END WHERE id = ?",
            [
                status,
                error,
                json.dumps(result) if result is not None else None,
                now(),
                status,
                status,
                job_id,
            ],
        )
        if status in ("failed", "cancelled"):
            self._cancel_waiting(job_id, status)

    def _cancel_waiting(self, job_id: int, status: str) -> None:
        """Cancel the queued jobs that wait for `job_id` (and those waiting for them)."""
        waiting = [
            r[0]
            for r in self.db.execute(
                "SELECT id FROM jobs WHERE after_id = ? AND status = 'queued'", [job_id]
            ).fetchall()
        ]
        for dependent in waiting:
            self.db.execute(
                "UPDATE jobs SET status = 'cancelled', finished_at = ?, error = ? "
                "WHERE id = ? AND status = 'queued'",
                [
                    now(),
                    f"job {job_id} it waited for was {status}; resume both to run them",
                    dependent,
                ],
            )
            self._cancel_waiting(dependent, "cancelled")

    def set_result(self, job_id: int, result: dict) -> None:
        self.db.execute("UPDATE jobs SET result = ? WHERE id = ?", [json.dumps(result), job_id])

    def request_cancel(self, job_id: int) -> str:
        """Cancel a job: a queued job at once, a running one at its next step. Returns the
        status."""
        job = self.get_job(job_id)
        if job["status"] == "queued":
            self.db.execute(
                "UPDATE jobs SET status = 'cancelled', finished_at = ?, cancel_requested = 1 "
                "WHERE id = ? AND status = 'queued'",
                [now(), job_id],
            )
            self._cancel_waiting(job_id, "cancelled")
        elif job["status"] == "running":
            self.db.execute("UPDATE jobs SET cancel_requested = 1 WHERE id = ?", [job_id])
        else:
            raise JobStateError(
                f"job {job_id} is {job['status']}; only queued or running jobs can be cancelled"
            )
        return self.get_job(job_id)["status"]

    def cancel_requested(self, job_id: int) -> bool:
        row = self.db.execute("SELECT cancel_requested FROM jobs WHERE id = ?", [job_id]).fetchone()
        return bool(row and row[0])

    def resume_job(self, job_id: int) -> None:
        """Re-queue an interrupted, failed or cancelled job; its task resumes from its
        checkpoint."""
        job = self.get_job(job_id)
        if job["status"] not in RESUMABLE:
            raise JobStateError(
                f"job {job_id} is {job['status']}; only {', '.join(RESUMABLE)} jobs can be resumed"
            )
        self.db.execute(
            "UPDATE jobs SET status = 'queued', cancel_requested = 0, error = NULL, "
            "finished_at = NULL, pid = NULL, message = 'queued to resume' WHERE id = ?",
            [job_id],
        )

    def delete_job(self, job_id: int) -> dict:
        """Delete a finished job's rows (not its files: see core.engine.jobs.delete_job)."""
        job = self.get_job(job_id)
        if job["status"] in ("running", "queued"):
            raise JobStateError(f"job {job_id} is {job['status']}; cancel it before deleting")
        with self.transaction():
            for table in ("metrics", "events", "architectures", "artifacts"):
                self.db.execute(f"DELETE FROM {table} WHERE job_id = ?", [job_id])
            self.db.execute("DELETE FROM jobs WHERE id = ?", [job_id])
        return job

    def reconcile(self) -> list[int]:
        """Mark running jobs whose worker is gone (or silent > 30 s) interrupted; return their
        ids."""
        rows = self.db.execute(
            "SELECT id, pid, heartbeat_at FROM jobs WHERE status = 'running'"
        ).fetchall()
        t = now()
        lost = [job_id for job_id, pid, hb in rows if job_lost(pid, hb, t)]
        reason = lost_job_error(self.home) if lost else LOST_JOB_ERROR
        try:
            for job_id in lost:
                self.db.execute(
                    "UPDATE jobs SET status = 'interrupted', finished_at = ?, eta_s = NULL, "
                    "error = coalesce(error, ?) WHERE id = ? AND status = 'running'",
                    [now(), reason, job_id],
                )
        except (DiskFullError, HomeError) as exc:  # reads go on; the next reader marks them
            log.warning("cannot mark lost jobs %s interrupted: %s", lost, exc)
        return lost

    # -- workers -------------------------------------------------------------------------------
    def register_worker(self, pid: int, device: str, hostname: str, lane: str = "all") -> int:
        t = now()
        return (
            self.db["workers"]
            .insert(
                {
                    "pid": pid,
                    "device": device,
                    "hostname": hostname,
                    "lane": lane,
                    "started_at": t,
                    "heartbeat_at": t,
                }
            )
            .last_pk
        )

    def worker_heartbeat(self, worker_id: int) -> None:
        self.db.execute("UPDATE workers SET heartbeat_at = ? WHERE id = ?", [now(), worker_id])

    def stop_worker(self, worker_id: int) -> None:
        self.db.execute("UPDATE workers SET stopped_at = ? WHERE id = ?", [now(), worker_id])

    def live_workers(self, device: str | None = None, lane: str | None = None) -> list[dict]:
        """Workers alive now (their process exists and their heartbeat is fresh), of one device
        and lane when given."""
        rows = self._rows(
            "workers",
            "SELECT * FROM workers WHERE stopped_at IS NULL AND heartbeat_at > ?",
            [now() - HEARTBEAT_STALE_S],
        )
        return [
            r
            for r in rows
            if pid_alive(r["pid"])
            and (device is None or r["device"] == device)
            and (lane is None or (r.get("lane") or "all") == lane)
        ]

    # -- metrics and events --------------------------------------------------------------------
    def add_metrics(self, rows: list[tuple]) -> None:
        """Insert (job_id, step, epoch, key, value, ts) rows; a repeated (job, key, step, epoch)
        replaces the old value, so a resumed job never duplicates its metrics."""
        if rows:
            with self.transaction():
                self.db.conn.executemany(
                    "INSERT OR REPLACE INTO metrics (job_id, step, epoch, key, value, ts) "
                    "VALUES (?, ?, ?, ?, ?, ?)",
                    rows,
                )

    def metrics(
        self, job_id: int, keys: Iterable[str] | None = None, last: int | None = None
    ) -> list[dict]:
        """Metric rows of a job in insertion order; `last` keeps only the newest rows."""
        sql, params = (
            "SELECT rowid, step, epoch, key, value, ts FROM metrics WHERE job_id = ?",
            [job_id],
        )
        if keys:
            keys = list(keys)
            sql += f" AND key IN ({', '.join('?' * len(keys))})"
            params += keys
        if last:
            sql = f"SELECT * FROM ({sql} ORDER BY rowid DESC LIMIT ?) ORDER BY rowid"
            params.append(int(last))
        else:
            sql += " ORDER BY rowid"
        return self._rows("metrics", sql, params)

    def metric_count(self, job_id: int) -> int:
        return self.db.execute(
            "SELECT count(*) FROM metrics WHERE job_id = ?", [job_id]
        ).fetchone()[0]

    def add_event(self, job_id: int | None, level: str, message: str) -> None:
        self.db["events"].insert(
            {"job_id": job_id, "ts": now(), "level": level, "message": message}
        )

    def events(self, job_id: int, after_id: int = 0, limit: int = 1000) -> list[dict]:
        return self._rows(
            "events",
            "SELECT * FROM (SELECT * FROM events WHERE job_id = ? AND id > ? "
            "ORDER BY id DESC LIMIT ?) ORDER BY id",
            [job_id, after_id, limit],
        )


class _Transaction:
    def __init__(self, db: sqlite_utils.Database):
        self.db = db

    def __enter__(self):
        self.db.execute("BEGIN IMMEDIATE")
        return self.db

    def __exit__(self, exc_type, exc, tb):
        if exc_type is None:
            try:
                self.db.execute("COMMIT")
                return False
            except BaseException:
                self._rollback()
                raise
        self._rollback()
        return False

    def _rollback(self) -> None:
        """Roll back unless the error already did (SQLite ends a transaction on a full disk)."""
        if self.db.conn.in_transaction:
            self.db.execute("ROLLBACK")
