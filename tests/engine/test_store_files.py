"""The database file: emptied, table-less, truncated or damaged databases are refused with a message
(never re-created silently, never a traceback); a fresh home with an empty file is initialised."""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from core.cli import main
from core.engine.jobs import submit_job
from core.engine.store import Store
from core.errors import SchemaError

REPO = Path(__file__).resolve().parents[2]


def _earlier_work(home: Path) -> None:
    (home / "datasets" / "shapes").mkdir(parents=True)
    (home / "datasets" / "shapes" / "train.json").write_text("{}")


def _real_db(home: Path, events: int = 400) -> Path:
    """A checkpointed database whose job 1 has events spread over many pages."""
    store = Store(home)
    job_id = submit_job(store, "test.count", {"steps": 2})
    for i in range(events):
        store.add_event(job_id, "info", f"event {i} " + "x" * 400)
    store.db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    store.close()
    return home / "nasdet.db"


def _files(home: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in home.iterdir() if p.name.startswith("nasdet.db")}


def test_empty_file_beside_datasets_is_refused_untouched(home):
    _earlier_work(home)
    (home / "nasdet.db").touch()
    with pytest.raises(SchemaError) as info:
        Store(home)
    message = str(info.value)
    assert "empty (0 bytes)" in message and "datasets/" in message and "backup" in message
    assert _files(home) == {"nasdet.db": b""}  # no WAL switch, no -wal/-shm, no header


def test_empty_file_in_a_fresh_home_is_initialised(home):
    (home / "nasdet.db").touch()
    (home / "logs").mkdir()  # only a log folder: nothing the database indexes
    store = Store(home)
    assert "jobs" in store.db.table_names()


def test_missing_database_beside_runs_is_created(home):
    """Moving a database aside (what the messages advise) starts a new one."""
    (home / "runs" / "3").mkdir(parents=True)
    assert Store(home).list_jobs() == []


def test_tableless_database_beside_runs_is_refused_untouched(home):
    (home / "runs" / "3").mkdir(parents=True)
    conn = sqlite3.connect(home / "nasdet.db")
    conn.execute("CREATE TABLE t (x)")
    conn.execute("DROP TABLE t")
    conn.commit()
    conn.close()
    before = _files(home)
    assert before["nasdet.db"]  # a valid header, no tables
    with pytest.raises(SchemaError, match="without tables.*runs/"):
        Store(home)
    assert _files(home) == before


def test_truncated_database_is_refused_untouched(home):
    path = _real_db(home)
    os.truncate(path, path.stat().st_size // 2)
    before = _files(home)
    with pytest.raises(SchemaError, match="is damaged: database disk image is malformed"):
        Store(home).list_jobs()
    assert _files(home) == before


def test_damaged_pages_give_a_message_not_a_traceback(home, capsys):
    path = _real_db(home)
    size = path.stat().st_size
    with open(path, "r+b") as f:  # garbage over pages in the middle; page 1 (the schema) intact
        f.seek(size // 2)
        f.write(b"\xde\xad\xbe\xef" * 4096)
    store = Store(home)  # opens: the damage is met by the query that reads it
    with pytest.raises(SchemaError) as info:
        store.events(1)
    assert str(info.value).startswith(
        f"the database {path} is damaged: database disk image is "
        "malformed; restore a backup of it, or move it aside"
    )
    store.close()
    capsys.readouterr()
    assert main(["--home", str(home), "jobs", "logs", "1"]) == 2
    err = capsys.readouterr().err
    assert "is damaged" in err and "Traceback" not in err


@pytest.mark.parametrize("damage", ["garbage-header", "empty-beside-datasets"])
def test_cli_jobs_list_exits_2_without_traceback(home, damage):
    if damage == "garbage-header":
        path = _real_db(home)
        with open(path, "r+b") as f:
            f.write(b"this is not an sqlite file, the header is gone" * 20)
    else:
        _earlier_work(home)
        (home / "nasdet.db").touch()
    before = _files(home)
    env = dict(os.environ, PYTHONPATH=str(REPO))
    done = subprocess.run(
        [sys.executable, "-m", "core", "--home", str(home), "jobs", "list"],
        capture_output=True,
        text=True,
        env=env,
        cwd=REPO,
        timeout=120,
    )
    assert done.returncode == 2, done.stderr
    assert "Traceback" not in done.stderr and "nasdet.db" in done.stderr
    assert ("damaged" if damage == "garbage-header" else "empty (0 bytes)") in done.stderr
    assert _files(home) == before
