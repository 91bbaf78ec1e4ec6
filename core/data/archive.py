"""Safe extraction of uploaded .zip datasets.

Refused outright (nothing extracted): entries with absolute paths, drive letters or `..`
components, symbolic links, and archives whose declared or actual uncompressed size exceeds
`max_bytes` (zip bombs). Each file is written only below the destination folder, streamed, and
its real size counted while writing, so a lying header cannot get past the limit.
"""

from __future__ import annotations

import logging
import stat
import zipfile
from pathlib import Path, PurePosixPath

from core.errors import DatasetError

log = logging.getLogger(__name__)

MAX_UNCOMPRESSED_BYTES = 20 * 1024**3  # 20 GiB
MAX_ENTRIES = 2_000_000
CHUNK = 1 << 20


def safe_member_path(name: str) -> PurePosixPath:
    """The relative path of a zip entry, or DatasetError if it could land outside the target."""
    posix = name.replace("\\", "/")
    path = PurePosixPath(posix)
    if (posix.startswith("/") or (len(posix) > 1 and posix[1] == ":")
            or any(part == ".." for part in path.parts)):
        raise DatasetError(f"archive entry {name!r} would be written outside the target folder; "
                           "the archive is refused")
    return PurePosixPath(*[p for p in path.parts if p not in ("", ".")])


def _is_link(info: zipfile.ZipInfo) -> bool:
    mode = info.external_attr >> 16
    return stat.S_ISLNK(mode)


def check_archive(zf: zipfile.ZipFile, max_bytes: int = MAX_UNCOMPRESSED_BYTES) -> list:
    """Validate every entry before extracting anything; returns [(info, relative path)]."""
    infos = zf.infolist()
    if len(infos) > MAX_ENTRIES:
        raise DatasetError(f"archive has {len(infos):,} entries (limit {MAX_ENTRIES:,})")
    total = sum(i.file_size for i in infos)
    if total > max_bytes:
        raise DatasetError(f"archive would unpack to {total:,} bytes, over the limit of "
                           f"{max_bytes:,}; unpack it yourself and import the folder")
    entries = []
    for info in infos:
        rel = safe_member_path(info.filename)
        if _is_link(info):
            raise DatasetError(f"archive entry {info.filename!r} is a symbolic link; links are "
                               "refused")
        entries.append((info, rel))
    return entries


def extract_zip(path: str | Path, dest: str | Path,
                max_bytes: int = MAX_UNCOMPRESSED_BYTES) -> Path:
    """Extract `path` into `dest` (created) after the checks above; returns `dest`."""
    dest = Path(dest)
    dest.mkdir(parents=True, exist_ok=True)
    root = dest.resolve()
    try:
        zf = zipfile.ZipFile(path)
    except (zipfile.BadZipFile, OSError) as exc:
        raise DatasetError(f"{Path(path).name} is not a readable .zip archive ({exc})") from exc
    written = 0
    with zf:
        for info, rel in check_archive(zf, max_bytes):
            if not rel.parts:
                continue
            target = (root / Path(*rel.parts)).resolve()
            if root not in target.parents:
                raise DatasetError(f"archive entry {info.filename!r} escapes the target folder")
            if info.is_dir():
                target.mkdir(parents=True, exist_ok=True)
                continue
            target.parent.mkdir(parents=True, exist_ok=True)
            written = _copy_limited(zf, info, target, written, max_bytes)
    log.info("extracted %s (%d bytes) into %s", path, written, dest)
    return dest


def _copy_limited(zf: zipfile.ZipFile, info: zipfile.ZipInfo, target: Path, written: int,
                  max_bytes: int) -> int:
    try:
        with zf.open(info) as src, open(target, "xb") as out:
            while chunk := src.read(CHUNK):
                written += len(chunk)
                if written > max_bytes:
                    raise DatasetError(f"archive unpacks to more than {max_bytes:,} bytes "
                                       "(limit); it is refused")
                out.write(chunk)
    except FileExistsError as exc:
        raise DatasetError(f"archive entry {info.filename!r} appears twice") from exc
    except (zipfile.BadZipFile, zipfile.LargeZipFile, OSError, EOFError) as exc:
        raise DatasetError(f"cannot extract {info.filename!r}: {exc}") from exc
    return written
