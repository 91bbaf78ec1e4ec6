"""Atomic file writes, and write errors that say which disk and file failed.

Every file the engine writes for keeps (checkpoints, genotype/report/config JSON, dataset json,
caches) goes through here: the bytes go to a temp file in the same folder, are fsynced, and
`os.replace` puts them in place, so a reader sees the old file or the new one, never half of one.
On any error the temp file is removed and the old file is left as it was. An OSError while
writing is re-raised naming the path; a full disk or quota (ENOSPC, EDQUOT) becomes
`core.errors.DiskFullError` naming the path, the disk (its mount point) and its free space.

    write_json_atomic(path, obj, indent=None)      # JSON, UTF-8
    write_bytes_atomic(path, data)                 # bytes
    write_bytes(path, data), copy_file(src, dst)   # one of many files (a dataset's images):
                                                   # in place, no fsync; errors named alike
    with atomic_open(path) as f: torch.save(state, f)
    with atomic_path(path) as tmp: np.savez(tmp, ...)   # writers that want a file name

Prefer `atomic_open` for torch.save: torch reports a failed write as a RuntimeError, and only
with a Python file object does the underlying OSError (ENOSPC) survive as its context.
"""

from __future__ import annotations

import contextlib
import errno
import json
import logging
import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any

from core.errors import DiskFullError

log = logging.getLogger(__name__)
DISK_FULL_ERRNOS = frozenset(e for e in (errno.ENOSPC, getattr(errno, "EDQUOT", None)) if e)
NEARLY_FULL_BYTES = 64 * 1024  # a writer that fails without an OSError on a disk this full


def human_bytes(n: float) -> str:
    """1536 -> '1.5 KiB' (binary units, one decimal above bytes)."""
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if abs(n) < 1024 or unit == "TiB":
            return f"{int(n)} B" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    raise AssertionError("unreachable")


def mount_point(path: str | os.PathLike) -> Path:
    """The mount point of the disk holding `path` (its nearest existing folder)."""
    p = Path(os.path.abspath(path))
    while not p.exists() and p != p.parent:
        p = p.parent
    while not os.path.ismount(p) and p != p.parent:
        p = p.parent
    return p


def free_bytes(path: str | os.PathLike) -> int | None:
    """Bytes free (for this user) on the disk holding `path`; None if it cannot be read."""
    try:
        return shutil.disk_usage(mount_point(path)).free
    except OSError:
        return None


def describe_disk(path: str | os.PathLike) -> str:
    """'the disk mounted at /data (1.2 MiB free of 4.0 MiB)' for messages."""
    mount = mount_point(path)
    try:
        usage = shutil.disk_usage(mount)
    except OSError as exc:
        return f"the disk mounted at {mount} (free space unknown: {exc.strerror})"
    return (
        f"the disk mounted at {mount} ({human_bytes(usage.free)} free of "
        f"{human_bytes(usage.total)})"
    )


def disk_full_error(path: str | os.PathLike, what: str = "cannot write") -> DiskFullError:
    """The DiskFullError for a write to `path` that found the disk (or quota) full."""
    exc = DiskFullError(
        f"disk full: {what} {path}; {describe_disk(path)}. Free some space "
        "(old runs/ folders) or move NASDET_HOME to a larger disk, then resume "
        "the job"
    )
    exc.errno = errno.ENOSPC
    return exc


def write_error(exc: BaseException, path: str | os.PathLike) -> OSError | None:
    """The error to raise for `exc` raised while writing `path`, or None if it is no write error.

    ENOSPC/EDQUOT (anywhere in the exception's cause/context chain) -> DiskFullError; another
    OSError -> OSError with the path and the disk; a RuntimeError without an OSError behind it
    on a disk with almost no space left -> DiskFullError (torch hides the OSError when it
    writes to a file name).
    """
    if isinstance(exc, DiskFullError):
        return exc
    seen: BaseException | None = exc
    while seen is not None:
        if isinstance(seen, OSError):
            if seen.errno in DISK_FULL_ERRNOS:
                return disk_full_error(path)
            return OSError(
                seen.errno, f"{seen.strerror or seen} (writing on {describe_disk(path)})", str(path)
            )
        seen = seen.__cause__ or seen.__context__
    free = free_bytes(Path(path).parent)
    if isinstance(exc, RuntimeError) and free is not None and free < NEARLY_FULL_BYTES:
        return disk_full_error(path)
    return None


def _fsync_dir(folder: Path) -> None:
    """Make the rename durable (not possible on every platform/filesystem: then skipped)."""
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError as exc:  # some filesystems refuse fsync on a folder; the file is synced
        log.debug("fsync of folder %s not supported: %s", folder, exc)
    finally:
        os.close(fd)


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike) -> Iterator[Path]:
    """Yield a temp path beside `path`; on success fsync it and replace `path` with it.

    The temp file is removed on any error; write errors are re-raised as by `write_error`.
    """
    path = Path(path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, name = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
        os.close(fd)
    except OSError as exc:
        raise write_error(exc, path) from exc
    tmp = Path(name)
    try:
        yield tmp
        fd = os.open(tmp, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
        os.replace(tmp, path)
    except BaseException as exc:
        error = write_error(exc, path)
        tmp.unlink(missing_ok=True)
        if error is not None and error is not exc:
            raise error from exc
        raise
    _fsync_dir(path.parent)


@contextlib.contextmanager
def atomic_open(
    path: str | os.PathLike, mode: str = "wb", encoding: str | None = None
) -> Iterator[IO[Any]]:
    """`with atomic_open(path) as f:` - an open temp file that replaces `path` on success."""
    if mode not in ("w", "wb"):
        raise ValueError(f"atomic_open writes whole files: mode 'w' or 'wb', not {mode!r}")
    with atomic_path(path) as tmp:
        with open(tmp, mode, encoding=encoding if "b" not in mode else None) as f:
            yield f


def write_bytes_atomic(path: str | os.PathLike, data: bytes) -> Path:
    """Write `data` to `path` atomically; returns the path."""
    with atomic_open(path, "wb") as f:
        f.write(data)
    return Path(path)


def write_bytes(path: str | os.PathLike, data: bytes) -> Path:
    """Write one of many files (a dataset's images) in place, without a temp file or fsync;
    a write error is re-raised as by `write_error` (a full disk: DiskFullError)."""
    try:
        with open(path, "wb") as f:
            f.write(data)
    except OSError as exc:
        raise write_error(exc, path) from exc
    return Path(path)


def copy_file(src: str | os.PathLike, dst: str | os.PathLike) -> Path:
    """shutil.copyfile; a full disk (or quota) while writing `dst` is DiskFullError naming it."""
    try:
        shutil.copyfile(src, dst)
    except OSError as exc:
        if exc.errno in DISK_FULL_ERRNOS:
            raise disk_full_error(dst) from exc
        raise
    return Path(dst)


def write_json_atomic(path: str | os.PathLike, obj: Any, *, indent: int | None = None) -> Path:
    """Write `obj` as JSON to `path` atomically (compact unless `indent`); returns the path.

    Streams to the file (no second copy of a large document in memory). Non-ASCII characters
    are written as \\u escapes, so a string holding surrogate escapes (a file name that is
    not UTF-8) is written too, and the file is plain ASCII.
    """
    separators = (",", ":") if indent is None else (",", ": ")
    with atomic_open(path, "w", encoding="ascii") as f:
        json.dump(obj, f, indent=indent, separators=separators)
    return Path(path)
