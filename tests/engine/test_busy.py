"""A database another process holds reads as busy, never as foreign: the first statement that
meets the lock says "another process holds the database <path>; retrying", it is tried again
until the lock goes (then it succeeds) or BUSY_TIMEOUT_MS has passed (then DatabaseBusyError,
exit 1 on the CLI). Reads go on beside a writer (WAL), so `jobs list` is not held up by one."""

from __future__ import annotations

import sqlite3
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from core.cli import main
from core.engine import schema
from core.engine.jobs import submit_job
from core.engine.store import Store
from core.errors import DatabaseBusyError

HOLD_S = 1.5


@pytest.fixture
def short_waits(monkeypatch):
    """Waits of 1.5 s in all (0.1 s per SQLite try) instead of 30 s."""
    monkeypatch.setattr(schema, "BUSY_TIMEOUT_MS", 1500)
    monkeypatch.setattr(schema, "BUSY_STEP_MS", 100)


@contextmanager
def held(path: Path, seconds: float, *, exclusive: bool = False) -> Iterator[None]:
    """Another connection (as another process would) holds the database's write lock - or,
    `exclusive`, a lock that keeps readers out too - for `seconds`, then commits."""
    locked, done = threading.Event(), threading.Event()

    def hold() -> None:
        conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
        if exclusive:
            conn.execute("PRAGMA locking_mode = EXCLUSIVE")
        conn.execute("BEGIN EXCLUSIVE" if exclusive else "BEGIN IMMEDIATE")
        conn.execute("UPDATE jobs SET message = 'held' WHERE id = 1")
        locked.set()
        done.wait(seconds)
        conn.execute("COMMIT")
        conn.close()

    thread = threading.Thread(target=hold, daemon=True)
    thread.start()
    assert locked.wait(10)
    try:
        yield
    finally:
        done.set()
        thread.join(10)


@pytest.fixture
def home_with_a_job(home: Path) -> Path:
    store = Store(home)
    submit_job(store, "test.count", {"steps": 1})
    store.close()
    return home


def test_a_write_waits_for_the_lock_then_succeeds(home_with_a_job, short_waits, caplog):
    store = Store(home_with_a_job)
    with held(store.path, 0.5):
        start = time.monotonic()
        with caplog.at_level("WARNING"):
            store.request_cancel(1)  # a write: waits for the holder's commit
    assert time.monotonic() - start >= 0.4
    assert store.get_job(1)["status"] == "cancelled"
    assert f"another process holds the database {store.path}; retrying" in caplog.text


def test_a_write_gives_up_with_a_clear_busy_error(home_with_a_job, short_waits, caplog):
    store = Store(home_with_a_job)
    with held(store.path, 5.0), caplog.at_level("WARNING"):
        start = time.monotonic()
        with pytest.raises(DatabaseBusyError) as err:
            store.request_cancel(1)
        waited = time.monotonic() - start
    assert 1.0 <= waited <= 4.0, waited
    message = str(err.value)
    assert f"another process holds the database {store.path}" in message
    assert "not a NASDet Studio database" not in message and "locked" not in message
    assert caplog.text.count("retrying") == 1  # said once, not at every try


def test_jobs_list_reads_beside_a_writer(home_with_a_job, capsys):
    assert main(["--home", str(home_with_a_job), "jobs", "list"]) == 0  # imports done
    capsys.readouterr()
    with held(home_with_a_job / schema.DB_NAME, HOLD_S):
        start = time.monotonic()
        assert main(["--home", str(home_with_a_job), "jobs", "list"]) == 0
        assert time.monotonic() - start < HOLD_S  # not held up by the writer
    assert "test.count" in capsys.readouterr().out


def test_cli_on_a_database_held_exclusively_says_busy_and_exits_1(
    home_with_a_job, short_waits, capsys, caplog
):
    with held(home_with_a_job / schema.DB_NAME, 5.0, exclusive=True), caplog.at_level("WARNING"):
        code = main(["--home", str(home_with_a_job), "jobs", "cancel", "1"])
    err = capsys.readouterr().err
    assert "another process holds the database" in caplog.text and "retrying" in caplog.text
    assert code == 1, err
    assert "another process holds the database" in err and "did not let go" in err
    assert "not a NASDet Studio database" not in err and "Traceback" not in err
