"""Store: schema versioning, home folder checks, job state transitions, metric de-duplication."""

from __future__ import annotations

import os
import sqlite3
import threading

import pytest

from core.engine import schema as schema_mod
from core.engine.jobs import submit_job
from core.engine.store import SCHEMA_VERSION, Store, resolve_home
from core.errors import HomeError, JobStateError, NotFoundError, SchemaError, SpecError


def test_new_store_has_tables_wal_and_version(store):
    tables = set(store.db.table_names())
    assert {
        "datasets",
        "jobs",
        "metrics",
        "events",
        "architectures",
        "artifacts",
        "models",
        "schema_version",
    } <= tables
    assert store.db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert store.schema_version() == SCHEMA_VERSION
    Store(store.home)  # reopening is idempotent
    assert store.db.execute("SELECT count(*) FROM schema_version").fetchone()[0] == SCHEMA_VERSION


def test_newer_schema_is_refused_untouched(home):
    Store(home).db.execute("INSERT INTO schema_version VALUES (?, 0)", [SCHEMA_VERSION + 1])
    before = (home / "nasdet.db").read_bytes()
    with pytest.raises(SchemaError, match="newer"):
        Store(home)
    assert (home / "nasdet.db").read_bytes() == before


def test_migrations_run_forward_from_older_version(home, monkeypatch):
    Store(home)  # a database at the current version
    added = []
    monkeypatch.setattr(
        schema_mod,
        "MIGRATIONS",
        schema_mod.MIGRATIONS + [lambda db: added.append(db["jobs"].add_column("note", str))],
    )
    monkeypatch.setattr(schema_mod, "SCHEMA_VERSION", SCHEMA_VERSION + 1)
    s2 = Store(home)
    assert added and "note" in s2.db["jobs"].columns_dict
    assert s2.schema_version() == SCHEMA_VERSION + 1


def test_foreign_database_refused(home):
    conn = sqlite3.connect(home / "nasdet.db")
    conn.execute("CREATE TABLE jobs (x)")
    conn.commit()
    conn.close()
    with pytest.raises(SchemaError, match="not ours"):
        Store(home)


def test_home_resolution_and_unwritable_home(tmp_path, monkeypatch):
    monkeypatch.setenv("NASDET_HOME", str(tmp_path / "from-env"))
    assert resolve_home() == (tmp_path / "from-env").resolve()
    assert resolve_home(tmp_path / "arg") == (tmp_path / "arg").resolve()
    a_file = tmp_path / "file"
    a_file.write_text("x")
    with pytest.raises(HomeError, match="--home"):
        resolve_home(a_file / "sub")
    if os.geteuid() != 0:  # root can write anywhere
        locked = tmp_path / "locked"
        locked.mkdir(mode=0o500)
        with pytest.raises(HomeError, match="not writable"):
            resolve_home(locked)


def test_job_lifecycle_transitions(store):
    job_id = submit_job(store, "test.count", {"steps": 2})
    assert store.get_job(job_id)["status"] == "queued"
    job = store.claim_job("cpu", os.getpid())
    assert job["id"] == job_id and job["status"] == "running" and job["device"] == "cpu"
    assert store.claim_job("cpu", os.getpid()) is None
    with pytest.raises(JobStateError):
        store.resume_job(job_id)
    store.finish_job(job_id, "succeeded")
    job = store.get_job(job_id)
    assert job["status"] == "succeeded" and job["progress"] == 1.0 and job["finished_at"]
    assert job["message"] == "done"
    with pytest.raises(JobStateError, match="only queued or running"):
        store.request_cancel(job_id)


def test_queued_job_is_cancelled_at_once(store):
    job_id = submit_job(store, "test.count", {"steps": 2})
    assert store.request_cancel(job_id) == "cancelled"
    assert store.claim_job("cpu", os.getpid()) is None


def test_running_job_of_dead_process_reads_interrupted(store):
    job_id = submit_job(store, "test.count", {"steps": 2})
    store.claim_job("cpu", 2**22 + 12345)  # a pid that does not exist
    assert store.get_job(job_id)["status"] == "interrupted"
    store.resume_job(job_id)
    assert store.get_job(job_id)["status"] == "queued"


def test_stale_heartbeat_reads_interrupted(store):
    job_id = submit_job(store, "test.count", {"steps": 2})
    store.claim_job("cpu", os.getpid())
    store.db.execute("UPDATE jobs SET heartbeat_at = heartbeat_at - 31 WHERE id = ?", [job_id])
    assert store.list_jobs()[0]["status"] == "interrupted"


def test_unknown_ids_and_bad_specs(store):
    with pytest.raises(NotFoundError, match="no job 999"):
        store.get_job(999)
    with pytest.raises(NotFoundError):
        store.get_dataset("nope")
    with pytest.raises(SpecError, match="unknown job kind"):
        submit_job(store, "no.such.kind", {})
    with pytest.raises(SpecError, match="JSON object"):
        submit_job(store, "test.count", ["steps", 3])
    with pytest.raises(SpecError, match="positive integer"):
        submit_job(store, "test.count", {"steps": -1})
    with pytest.raises(SpecError, match="device"):
        submit_job(store, "test.count", {"steps": 1}, device="tpu")
    assert store.list_jobs() == []


def test_metrics_replace_on_same_key_step_epoch(store):
    job_id = submit_job(store, "test.count", {})
    store.add_metrics([(job_id, None, 0, "val/AP", 0.1, 0.0), (job_id, 5, None, "loss", 2.0, 0.0)])
    store.add_metrics(
        [
            (job_id, None, 0, "val/AP", 0.2, 1.0),
            (job_id, 5, None, "loss", 1.5, 1.0),
            (job_id, 6, None, "loss", 1.0, 1.0),
        ]
    )
    rows = store.metrics(job_id)
    assert sorted((r["key"], r["step"], r["epoch"], r["value"]) for r in rows) == [
        ("loss", 5, None, 1.5),
        ("loss", 6, None, 1.0),
        ("val/AP", None, 0, 0.2),
    ]
    assert [r["step"] for r in store.metrics(job_id, keys=["loss"], last=1)] == [6]


def test_store_is_usable_from_threads(store):
    errors = []

    def write(n):
        try:
            store.add_event(None, "info", f"thread {n}")
        except Exception as exc:  # collected and asserted below
            errors.append(exc)

    threads = [threading.Thread(target=write, args=(i,)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    assert store.db.execute("SELECT count(*) FROM events").fetchone()[0] == 8


def test_delete_job_removes_rows(store):
    job_id = submit_job(store, "test.count", {})
    with pytest.raises(JobStateError, match="cancel it"):
        store.delete_job(job_id)
    store.request_cancel(job_id)
    store.add_event(job_id, "info", "x")
    store.delete_job(job_id)
    with pytest.raises(NotFoundError):
        store.get_job(job_id)
    assert store.events(job_id) == []
