"""The database file of a home: opening it, checking that it is ours and sound, its versioned
schema.

`connect` opens `<home>/nasdet.db` in WAL mode through `GuardedConnection`, which turns SQLite's
file-level failures into the project's errors wherever they surface (a damaged page is often
met only by the query that reads it): a full disk -> DiskFullError (path, disk, free space), a
damaged or foreign file -> SchemaError ("restore a backup or move it aside"), a read-only file
-> HomeError. A database another process holds (its write lock, or an exclusive one) is busy,
not foreign: a statement that meets the lock says so once ("another process holds the
database ...; retrying"), retries for BUSY_TIMEOUT_MS, then raises DatabaseBusyError.
`check_file` refuses, reading only, a damaged file and a 0-byte or table-less database beside
earlier work (a database that lost its tables must not be re-created empty
while datasets/ and runs/ are still on disk; in a fresh home an empty file is initialised);
`migrate` refuses a newer schema and a database that is not ours, and moves an older schema
forward with `MIGRATIONS`.
"""

from __future__ import annotations

import contextlib
import logging
import re
import sqlite3
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import sqlite_utils

from core.errors import DatabaseBusyError, HomeError, NasdetError, SchemaError
from core.io import disk_full_error

log = logging.getLogger(__name__)

DB_NAME = "nasdet.db"
BUSY_TIMEOUT_MS = 30_000  # how long a statement waits for another process's lock in all
BUSY_STEP_MS = 1_000  # SQLite's own wait per try; between tries the wait is said once
BUSY_PAUSE_S = 0.05  # between tries that SQLite answers at once (a stale read snapshot)
EARLIER_WORK = ("datasets", "runs")  # folders whose contents the database indexes


def damaged_error(path: Path, exc: BaseException) -> SchemaError:
    return SchemaError(
        f"the database {path} is damaged: {exc}; restore a backup of it, or move "
        "it aside (rename it) to start a new, empty one"
    )


def is_busy(exc: sqlite3.Error) -> bool:
    """SQLITE_BUSY / SQLITE_LOCKED: another connection holds a lock this statement needs."""
    name = getattr(exc, "sqlite_errorname", "") or ""
    return name.startswith(("SQLITE_BUSY", "SQLITE_LOCKED")) or "database is locked" in str(exc)


def busy_error(path: Path) -> DatabaseBusyError:
    return DatabaseBusyError(
        f"another process holds the database {path} and did not let go within "
        f"{BUSY_TIMEOUT_MS // 1000} s (a worker writing, or a script or browser of the "
        "database); the database itself is fine: try again when that process has finished"
    )


def translate(exc: sqlite3.Error, path: Path) -> NasdetError | None:
    """The project error for an SQLite error about the file itself; None for other errors."""
    name = getattr(exc, "sqlite_errorname", "") or ""
    text = str(exc)
    if is_busy(exc):
        return busy_error(path)
    if name.startswith("SQLITE_FULL") or "database or disk is full" in text:
        return disk_full_error(path, "cannot write the database")
    if (
        name.startswith(("SQLITE_CORRUPT", "SQLITE_NOTADB"))
        or "malformed" in text
        or "not a database" in text
    ):
        return damaged_error(path, exc)
    if name.startswith("SQLITE_READONLY"):
        return HomeError(
            f"the database {path} cannot be written ({text}); check the permissions "
            "of the file and its folder, or pass another --home"
        )
    return None


class GuardedConnection(sqlite3.Connection):
    """An sqlite3 connection whose file-level errors come out as `translate` says, and whose
    statements wait out another process's lock (`retry_busy`)."""

    db_path: Path

    @contextlib.contextmanager
    def guard(self) -> Iterator[None]:
        try:
            yield
        except sqlite3.Error as exc:
            error = translate(exc, self.db_path)
            if error is None:
                raise
            raise error from exc

    def retry_busy(self, call: Callable[[], Any]) -> Any:
        """`call()` (one statement), tried again while another process holds the lock it
        needs, for BUSY_TIMEOUT_MS in all; the first wait is logged, the last raises
        DatabaseBusyError. A failed statement changed nothing, so trying it again is safe."""
        deadline = None
        while True:
            try:
                with self.guard():
                    return call()
            except DatabaseBusyError:
                now = time.monotonic()
                if deadline is None:
                    deadline = now + (BUSY_TIMEOUT_MS - BUSY_STEP_MS) / 1000
                    log.warning("another process holds the database %s; retrying", self.db_path)
                if now >= deadline:
                    raise
                time.sleep(BUSY_PAUSE_S)

    def cursor(self, factory: Any = None) -> sqlite3.Cursor:
        return super().cursor(factory or GuardedCursor)

    def execute(self, sql: str, parameters: Any = (), /) -> sqlite3.Cursor:
        return self.retry_busy(lambda: super(GuardedConnection, self).execute(sql, parameters))

    def executemany(self, sql: str, parameters: Any, /) -> sqlite3.Cursor:
        return self.retry_busy(lambda: super(GuardedConnection, self).executemany(sql, parameters))

    def executescript(self, script: str, /) -> sqlite3.Cursor:
        with self.guard():
            return super().executescript(script)


class GuardedCursor(sqlite3.Cursor):
    """Rows are read page by page, so fetching can meet a damaged page too."""

    def execute(self, sql: str, parameters: Any = (), /) -> sqlite3.Cursor:
        return self.connection.retry_busy(
            lambda: super(GuardedCursor, self).execute(sql, parameters)
        )

    def executemany(self, sql: str, parameters: Any, /) -> sqlite3.Cursor:
        return self.connection.retry_busy(
            lambda: super(GuardedCursor, self).executemany(sql, parameters)
        )

    def fetchone(self) -> Any:
        with self.connection.guard():
            return super().fetchone()

    def fetchmany(self, size: int | None = None) -> list:
        with self.connection.guard():
            return super().fetchmany(self.arraysize if size is None else size)

    def fetchall(self) -> list:
        with self.connection.guard():
            return super().fetchall()

    def __next__(self) -> Any:
        with self.connection.guard():
            return super().__next__()


def connect(path: Path) -> sqlite_utils.Database:
    """Open the database (WAL, busy timeout); damaged files raise SchemaError, others HomeError."""
    try:
        conn = sqlite3.connect(
            path,
            timeout=BUSY_STEP_MS / 1000,
            isolation_level=None,
            check_same_thread=False,
            factory=GuardedConnection,
        )
    except sqlite3.Error as exc:
        raise HomeError(f"cannot open database {path}: {exc}") from exc
    conn.db_path = path
    try:
        conn.execute(f"PRAGMA busy_timeout = {BUSY_STEP_MS}")
        conn.execute("PRAGMA journal_mode = WAL")
        conn.execute("PRAGMA synchronous = NORMAL")
    except NasdetError:
        conn.close()
        raise
    except sqlite3.Error as exc:
        conn.close()
        raise HomeError(f"cannot open database {path}: {exc}") from exc
    return sqlite_utils.Database(conn)


def earlier_work(home: Path) -> list[str]:
    """The folders of EARLIER_WORK in `home` that hold something (hidden work folders aside)."""
    found = []
    for name in EARLIER_WORK:
        folder = home / name
        if folder.is_dir() and any(not p.name.startswith(".") for p in folder.iterdir()):
            found.append(f"{name}/")
    return found


def _lost_database(path: Path, what: str, work: list[str]) -> SchemaError:
    return SchemaError(
        f"the database {path} is {what}, but {path.parent} still holds {' and '.join(work)} "
        "from earlier work, so it was not re-created empty (that would forget them). Restore "
        "nasdet.db from a backup, or move it aside (rename it) to start a new database beside "
        "the existing files, or pass another --home"
    )


def check_file(path: Path) -> None:
    """Refuse, untouched, a database that cannot be ours: damaged, or 0 bytes or without tables
    beside earlier work. Reads only (the WAL switch in `connect` would write to the file)."""
    try:
        size = path.stat().st_size if path.is_file() else None
    except OSError as exc:
        raise HomeError(f"cannot read database {path}: {exc.strerror}") from exc
    if size is None:
        return  # a new database: created by `connect`
    if size == 0:
        tables = 0
    else:
        conn = sqlite3.connect(path, timeout=BUSY_STEP_MS / 1000, factory=GuardedConnection)
        conn.db_path = path
        try:
            tables = conn.execute("SELECT count(*) FROM sqlite_master").fetchone()[0]
        except sqlite3.Error as exc:
            raise translate(exc, path) or SchemaError(
                f"{path} is not a NASDet Studio database ({exc})"
            ) from exc
        finally:
            conn.close()
    work = earlier_work(path.parent) if tables == 0 else []
    if work:
        raise _lost_database(
            path, "empty (0 bytes)" if size == 0 else "a database without tables", work
        )


def schema_version(db: sqlite_utils.Database) -> int:
    if not db["schema_version"].exists():
        return 0
    row = db.execute("SELECT max(version) FROM schema_version").fetchone()
    return row[0] or 0


def migrate(db: sqlite_utils.Database, path: Path) -> None:
    """Bring the schema to SCHEMA_VERSION in one transaction (call `check_file` first). A
    database already at SCHEMA_VERSION is only read, so opening it never waits for a writer."""
    if "jobs" in db.table_names() and schema_version(db) == SCHEMA_VERSION:
        return
    try:
        db.execute("BEGIN IMMEDIATE")
    except sqlite3.DatabaseError as exc:
        raise SchemaError(f"{path} is not a NASDet Studio database ({exc})") from exc
    try:
        tables = db.table_names()
        if "schema_version" not in tables:
            if "jobs" in tables:
                raise SchemaError(f"{path} has tables but no schema version: not ours")
            db["schema_version"].create({"version": int, "applied_at": float}, pk="version")
        version = schema_version(db)
        if version > SCHEMA_VERSION:
            raise SchemaError(
                f"{path} is schema version {version}, newer than this NASDet Studio "
                f"({SCHEMA_VERSION}); upgrade NASDet Studio or use another --home"
            )
        for target in range(version, SCHEMA_VERSION):
            MIGRATIONS[target](db)
            db["schema_version"].insert({"version": target + 1, "applied_at": time.time()})
        db.execute("COMMIT")
    except BaseException:
        if db.conn.in_transaction:
            db.execute("ROLLBACK")
        raise


# The first schema as data: table -> (columns "name:type ...", primary key, not-null columns).
V1_TABLES: dict[str, tuple[str, str | None, set[str]]] = {
    "datasets": (
        "id:int name:str kind:str path:str classes:str counts:str report:str stats:str "
        "job_id:int created_at:float",
        "id",
        {"name", "path"},
    ),
    "jobs": (
        "id:int kind:str status:str spec:str requested_device:str device:str pid:int "
        "worker_id:int progress:float message:str eta_s:float error:str result:str "
        "attempts:int created_at:float started_at:float finished_at:float "
        "heartbeat_at:float cancel_requested:int",
        "id",
        {"kind", "status", "spec"},
    ),
    "metrics": ("job_id:int step:int epoch:int key:str value:float ts:float", None, set()),
    "events": ("id:int job_id:int ts:float level:str message:str", "id", set()),
    "architectures": (
        "id:int job_id:int step:int genotype:str score:float params:int flops:int "
        "latency_ms:float extra:str created_at:float",
        "id",
        set(),
    ),
    "artifacts": ("id:int job_id:int kind:str path:str created_at:float", "id", set()),
    "models": (
        "id:int name:str kind:str job_id:int path:str classes:str metrics:str config:str "
        "created_at:float",
        "id",
        {"name", "path"},
    ),
    "workers": (
        "id:int pid:int device:str hostname:str started_at:float heartbeat_at:float "
        "stopped_at:float",
        "id",
        set(),
    ),
}
V1_DEFAULTS = {
    "jobs": {"progress": 0.0, "cancel_requested": 0, "attempts": 0, "requested_device": "auto"}
}
V1_INDEXES = [
    ("datasets", ["name"], True),
    ("jobs", ["status", "id"], False),
    ("metrics", ["job_id"], False),
    ("events", ["job_id", "id"], False),
    ("architectures", ["job_id", "id"], False),
    ("artifacts", ["job_id", "kind", "path"], True),
    ("models", ["name"], True),
]
TYPES = {"int": int, "str": str, "float": float}


def _v1(db: sqlite_utils.Database) -> None:
    for table, (columns, pk, not_null) in V1_TABLES.items():
        spec = dict(c.split(":") for c in columns.split())
        db[table].create(
            {name: TYPES[t] for name, t in spec.items()},
            pk=pk,
            not_null=not_null or None,
            defaults=V1_DEFAULTS.get(table),
        )
    db.execute(
        "CREATE UNIQUE INDEX idx_metrics_unique ON metrics "
        "(job_id, key, coalesce(step, -1), coalesce(epoch, -1))"
    )
    for table, columns, unique in V1_INDEXES:
        db[table].create_index(columns, unique=unique)


def _v2(db: sqlite_utils.Database) -> None:
    """jobs.after_id: a queued job waits until the job it names has succeeded (a chain)."""
    db["jobs"].add_column("after_id", int)


def _v3(db: sqlite_utils.Database) -> None:
    """jobs.eta_at: when eta_s was written (readers count the ETA down from then)."""
    db["jobs"].add_column("eta_at", float)


def _v4(db: sqlite_utils.Database) -> None:
    """Job ids are never reused (AUTOINCREMENT: a deleted job's number stays retired);
    jobs.origin names what queued a job ("demo" for the Guided demo's own chain; NULL for a
    tab, the CLI or a script); workers.lane says which jobs a worker takes. SQLite cannot add
    AUTOINCREMENT to a table, so jobs is rebuilt from its own CREATE statement, rows and
    indexes kept."""
    create = db.execute(
        "SELECT sql FROM sqlite_master WHERE type='table' AND name='jobs'"
    ).fetchone()
    indexes = db.execute(
        "SELECT sql FROM sqlite_master WHERE type='index' AND tbl_name='jobs' AND sql IS NOT NULL"
    ).fetchall()
    rebuilt = re.sub(
        r'(["\[]?id["\]]?\s+INTEGER PRIMARY KEY)', r"\1 AUTOINCREMENT", create[0], count=1
    )
    if rebuilt == create[0]:
        raise SchemaError(f"cannot migrate the jobs table: unexpected schema {create[0]!r}")
    db.execute("ALTER TABLE jobs RENAME TO jobs_v3")
    db.execute(rebuilt)  # read before the rename: it creates "jobs"
    db.execute("INSERT INTO jobs SELECT * FROM jobs_v3")
    db.execute("DROP TABLE jobs_v3")
    for (sql,) in indexes:
        db.execute(sql)
    db["jobs"].add_column("origin", str)
    db["workers"].add_column("lane", str)  # "all", or "light" (core.engine.jobs.LANES)


# Forward migrations: MIGRATIONS[i] takes a database at version i to version i + 1.
MIGRATIONS: list[Callable[[sqlite_utils.Database], None]] = [_v1, _v2, _v3, _v4]
SCHEMA_VERSION = len(MIGRATIONS)
