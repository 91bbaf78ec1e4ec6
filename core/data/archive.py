"""Safe extraction of uploaded .zip datasets.

Refused outright (nothing extracted): entries with absolute paths, drive letters or `..`
components, symbolic links, and archives whose declared uncompressed size exceeds the limit:
`max_bytes`, or the free space of the destination's disk less DISK_MARGIN, whichever is
smaller. Zip bombs are refused by entry: one that unpacks to more than RATIO_FLOOR bytes and
more than MAX_RATIO times its compressed size. Each file is written only below the destination
folder, streamed, and its real size counted while writing (against the total limit and the
entry's ratio), so a lying header cannot get past either check.
"""

from __future__ import annotations

import logging
import shutil
import stat
import zipfile
from pathlib import Path, PurePosixPath

from core.errors import DatasetError

log = logging.getLogger(__name__)

MAX_UNCOMPRESSED_BYTES = 20 * 1024**3  # 20 GiB; lowered to the free disk space less the margin
DISK_MARGIN = 1024**3  # left free on the destination's disk (the import then copies images)
MAX_RATIO = 200  # uncompressed / compressed size of one entry (JPEG/PNG ~1, JSON/txt ~5-20)
RATIO_FLOOR = 1024**2  # an entry may always unpack to this much (small text compresses well)
MAX_ENTRIES = 2_000_000
CHUNK = 1 << 20


def safe_member_path(name: str) -> PurePosixPath:
    """The relative path of a zip entry, or DatasetError if it could land outside the target."""
    posix = name.replace("\\", "/")
    path = PurePosixPath(posix)
    if (
        posix.startswith("/")
        or (len(posix) > 1 and posix[1] == ":")
        or any(part == ".." for part in path.parts)
    ):
        raise DatasetError(
            f"archive entry {name!r} would be written outside the target folder; "
            "the archive is refused"
        )
    return PurePosixPath(*[p for p in path.parts if p not in ("", ".")])


def _is_link(info: zipfile.ZipInfo) -> bool:
    mode = info.external_attr >> 16
    return stat.S_ISLNK(mode)


def entry_limit(info: zipfile.ZipInfo) -> int:
    """The most bytes entry `info` may unpack to: MAX_RATIO x its compressed size, and at
    least RATIO_FLOOR."""
    return max(info.compress_size * MAX_RATIO, RATIO_FLOOR)


def disk_limit(dest: Path, max_bytes: int) -> tuple[int, str]:
    """min(max_bytes, free space at `dest` - DISK_MARGIN) and a phrase saying which applies."""
    probe = dest
    while not probe.exists() and probe != probe.parent:
        probe = probe.parent
    free = shutil.disk_usage(probe).free
    room = max(0, free - DISK_MARGIN)
    if room < max_bytes:
        return room, (
            f"the free space on the disk of {probe} ({free:,} bytes, less a margin "
            f"of {DISK_MARGIN:,})"
        )
    return max_bytes, f"the limit of {max_bytes:,} bytes"


def check_archive(
    zf: zipfile.ZipFile, max_bytes: int = MAX_UNCOMPRESSED_BYTES, limit_text: str | None = None
) -> list:
    """Validate every entry before extracting anything; returns [(info, relative path)]."""
    infos = zf.infolist()
    if len(infos) > MAX_ENTRIES:
        raise DatasetError(f"archive has {len(infos):,} entries (limit {MAX_ENTRIES:,})")
    total = sum(i.file_size for i in infos)
    if total > max_bytes:
        raise DatasetError(
            f"archive would unpack to {total:,} bytes, over "
            f"{limit_text or f'the limit of {max_bytes:,}'}; unpack it yourself "
            "and import the folder"
        )
    entries = []
    for info in infos:
        rel = safe_member_path(info.filename)
        if _is_link(info):
            raise DatasetError(
                f"archive entry {info.filename!r} is a symbolic link; links are refused"
            )
        if info.file_size > entry_limit(info):
            raise DatasetError(_ratio_message(info))
        entries.append((info, rel))
    return entries


def _ratio_message(info: zipfile.ZipInfo) -> str:
    return (
        f"archive entry {info.filename!r} unpacks to more than {MAX_RATIO} times its "
        f"compressed size ({info.compress_size:,} bytes); a zip bomb is refused"
    )


def extract_zip(
    path: str | Path, dest: str | Path, max_bytes: int = MAX_UNCOMPRESSED_BYTES
) -> Path:
    """Extract `path` into `dest` (created) after the checks above; returns `dest`."""
    dest = Path(dest)
    dest.mkdir(parents=True, exist_ok=True)
    root = dest.resolve()
    try:
        zf = zipfile.ZipFile(path)
    except (zipfile.BadZipFile, OSError) as exc:
        raise DatasetError(f"{Path(path).name} is not a readable .zip archive ({exc})") from exc
    max_bytes, limit_text = disk_limit(dest, max_bytes)
    written = 0
    with zf:
        for info, rel in check_archive(zf, max_bytes, limit_text):
            if not rel.parts:
                continue
            target = (root / Path(*rel.parts)).resolve()
            if root not in target.parents:
                raise DatasetError(f"archive entry {info.filename!r} escapes the target folder")
            if info.is_dir():
                target.mkdir(parents=True, exist_ok=True)
                continue
            target.parent.mkdir(parents=True, exist_ok=True)
            written = _copy_limited(zf, info, target, written, max_bytes, limit_text)
    log.info("extracted %s (%d bytes) into %s", path, written, dest)
    return dest


def _copy_limited(
    zf: zipfile.ZipFile,
    info: zipfile.ZipInfo,
    target: Path,
    written: int,
    max_bytes: int,
    limit_text: str | None = None,
) -> int:
    """Stream one entry to `target`, counting real bytes against the total and ratio limits."""
    entry_max = entry_limit(info)
    try:
        with zf.open(info) as src, open(target, "xb") as out:
            size = 0
            while chunk := src.read(CHUNK):
                written += len(chunk)
                size += len(chunk)
                if written > max_bytes:
                    raise DatasetError(
                        f"archive unpacks to more than {max_bytes:,} bytes, over "
                        f"{limit_text or 'the limit'}; it is refused"
                    )
                if size > entry_max:
                    raise DatasetError(_ratio_message(info))
                out.write(chunk)
    except FileExistsError as exc:
        raise DatasetError(f"archive entry {info.filename!r} appears twice") from exc
    except (zipfile.BadZipFile, zipfile.LargeZipFile, OSError, EOFError) as exc:
        raise DatasetError(f"cannot extract {info.filename!r}: {exc}") from exc
    return written
