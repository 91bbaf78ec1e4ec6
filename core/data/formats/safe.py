"""Bounded, link-safe reading of the files of a dataset being imported, and the import limits.

A source folder comes from outside (a download, an archive someone unpacked), so every file an
importer opens goes through here:

* no symbolic link is followed: a path whose file, or any folder between the dataset root and
  it, is a link is refused with `LinkRefused` (the final open also uses O_NOFOLLOW);
  `scan_links` names every link under a root for the report;
* only regular files are read (a FIFO would block for ever, /dev/zero never ends);
* each kind of file has a size cap, checked on the open file before anything is read;
* YAML is read without aliases (an alias bomb expands a few kB into gigabytes), and nesting
  beyond the parser's limit is a DatasetError, never a RecursionError.

The limits below bound the memory of an import: with them a 100 MB source stays far below 1 GB
(tests/data/test_import_limits.py measures one).
"""

from __future__ import annotations

import os
import stat
from pathlib import Path, PurePosixPath
from typing import Any, BinaryIO

import yaml

from core.errors import DatasetError

MiB = 1024**2
MAX_YAML_BYTES = 1 * MiB  # data.yaml: the names of 10,000 classes take about 200 kB
MAX_TEXT_BYTES = 16 * MiB  # one YOLO label file, classes.txt, split list or VOC xml
MAX_JSON_BYTES = 2 * 1024 * MiB  # one COCO json; streamed, so its size does not become memory
MAX_CLASSES = 10_000  # more class names than this are refused (a detector head per class)
MAX_NAME_CHARS = 200  # a longer class name is not a name (it is reported, never stored)
MAX_IMAGES = 200_000  # image entries per import (COCO train2017 has 118,287)
MAX_OBJECTS = 1_000_000  # objects per import (COCO train2017 has 860,001)
MAX_OBJECTS_PER_IMAGE = 2_000
"""Objects kept per image; the rest of that image's objects are dropped and reported
(COCO's densest image has under 100; 2,000 boxes already exceed any detector's top-k)."""

_OPEN_FLAGS = (
    os.O_RDONLY
    | getattr(os, "O_NOFOLLOW", 0)
    | getattr(os, "O_NONBLOCK", 0)
    | getattr(os, "O_CLOEXEC", 0)
    | getattr(os, "O_BINARY", 0)
)


class LinkRefused(DatasetError):
    """A file of a dataset is, or lies below, a symbolic link (links are never followed).
    `link` is the link's path relative to the dataset root."""

    def __init__(self, link: str, detail: str = ""):
        super().__init__(f"{link} is a symbolic link; links are not followed{detail}")
        self.link = link


def rel_posix(root: Path, path: Path) -> str:
    """`path` relative to `root` in POSIX form (lexically, without resolving links)."""
    rel = os.path.relpath(os.path.abspath(path), os.path.abspath(root))
    return PurePosixPath(*Path(rel).parts).as_posix()


def link_on_path(root: Path, path: Path) -> str | None:
    """The first component from `root` down to `path` that is a symbolic link (relative POSIX
    path), or None. Raises DatasetError if `path` lies outside `root`."""
    rel = rel_posix(root, path)
    parts = PurePosixPath(rel).parts
    if rel == ".":
        return None
    if parts and parts[0] == "..":
        raise DatasetError(f"{rel} points outside the dataset folder")
    current = Path(os.path.abspath(root))
    for i, part in enumerate(parts):
        current = current / part
        try:
            mode = os.lstat(current).st_mode
        except (OSError, ValueError):  # ValueError: a name the file system cannot encode
            return None  # missing: the caller reports it when it opens the file
        if stat.S_ISLNK(mode):
            return PurePosixPath(*parts[: i + 1]).as_posix()
    return None


def check_no_link(root: Path, path: Path) -> None:
    """Raise LinkRefused naming the link if `path` is or passes through one below `root`."""
    link = link_on_path(root, path)
    if link is not None:
        raise LinkRefused(link)


def is_regular_file(root: Path, path: Path) -> bool:
    """True for a regular file below `root` reached without links (never raises)."""
    try:
        return link_on_path(root, path) is None and stat.S_ISREG(os.lstat(path).st_mode)
    except (DatasetError, OSError, ValueError):
        return False


def open_regular(root: Path, path: Path, max_bytes: int, what: str = "file") -> BinaryIO:
    """Open a regular file below `root` for binary reading, refusing links, non-regular files
    and files larger than `max_bytes`. Raises DatasetError (LinkRefused for links)."""
    name = rel_posix(root, path)
    check_no_link(root, path)
    try:
        fd = os.open(path, _OPEN_FLAGS)
    except (FileNotFoundError, ValueError) as exc:  # ValueError: a name that cannot exist
        raise DatasetError(f"{name}: {what} not found") from exc
    except OSError as exc:
        if os.path.islink(path):  # replaced by a link since the check above (O_NOFOLLOW)
            raise LinkRefused(name) from exc
        raise DatasetError(f"{name}: cannot open the {what} ({exc.strerror})") from exc
    f = os.fdopen(fd, "rb")
    info = os.fstat(fd)
    if not stat.S_ISREG(info.st_mode):
        f.close()
        raise DatasetError(f"{name}: not a regular file; the {what} is refused")
    if info.st_size > max_bytes:
        f.close()
        raise DatasetError(
            f"{name}: the {what} has {info.st_size:,} bytes, over the limit of {max_bytes:,}"
        )
    return f


def read_bytes(root: Path, path: Path, max_bytes: int, what: str = "file") -> bytes:
    """The content of a regular file below `root` (see `open_regular`), at most `max_bytes`."""
    with open_regular(root, path, max_bytes, what) as f:
        try:
            data = f.read(max_bytes + 1)
        except OSError as exc:
            raise DatasetError(
                f"{rel_posix(root, path)}: cannot read the {what} ({exc.strerror})"
            ) from exc
    if len(data) > max_bytes:  # grew after the size check
        raise DatasetError(
            f"{rel_posix(root, path)}: the {what} is over the limit of {max_bytes:,} bytes"
        )
    return data


def read_text(
    root: Path,
    path: Path,
    max_bytes: int = MAX_TEXT_BYTES,
    what: str = "file",
    errors: str = "replace",
) -> str:
    """UTF-8 text of a file (BOM dropped); undecodable bytes replaced unless errors='strict'."""
    data = read_bytes(root, path, max_bytes, what)
    try:
        return data.decode("utf-8-sig", errors=errors)
    except UnicodeDecodeError as exc:
        raise DatasetError(
            f"{rel_posix(root, path)}: the {what} is not UTF-8 text "
            f"({exc.reason} at byte {exc.start})"
        ) from exc


class _NoAliasLoader(yaml.SafeLoader):
    """yaml.SafeLoader that refuses aliases (*name): data.yaml never needs them, and a few
    nested aliases expand into gigabytes (the "billion laughs" of YAML). Used when libyaml is
    missing; with libyaml, `_refuse_aliases` checks the parse events first."""

    def compose_node(self, parent, index):  # noqa: ANN001 - PyYAML's signature
        if self.check_event(yaml.AliasEvent):
            event = self.peek_event()
            raise yaml.composer.ComposerError(
                None,
                None,
                f"alias *{event.anchor} found; YAML aliases are refused (they can "
                "expand a small file without bound)",
                event.start_mark,
            )
        return super().compose_node(parent, index)


_C_LOADER = getattr(yaml, "CSafeLoader", None)  # libyaml's C parser when installed (faster)


def _refuse_aliases(events) -> None:
    for event in events:
        if isinstance(event, yaml.AliasEvent):
            raise yaml.composer.ComposerError(
                None,
                None,
                f"alias *{event.anchor} found; YAML aliases are refused (they can "
                "expand a small file without bound)",
                event.start_mark,
            )


def load_yaml(root: Path, path: Path, max_bytes: int = MAX_YAML_BYTES) -> Any:
    """Parse a small YAML file safely: size cap, no links, no aliases, no Python tags."""
    text = read_text(root, path, max_bytes, "YAML file", errors="strict")
    try:
        if _C_LOADER is None:
            return yaml.load(text, Loader=_NoAliasLoader)  # noqa: S506 - a SafeLoader
        _refuse_aliases(yaml.parse(text, Loader=_C_LOADER))  # events only: nothing expanded
        return yaml.load(text, Loader=_C_LOADER)  # noqa: S506 - libyaml's SafeLoader
    except yaml.YAMLError as exc:
        raise DatasetError(f"{rel_posix(root, path)}: unreadable YAML ({exc})") from exc
    except RecursionError as exc:
        raise DatasetError(f"{rel_posix(root, path)}: YAML nested too deeply") from exc
    except (ValueError, OverflowError) as exc:  # e.g. an integer beyond Python's digit limit
        raise DatasetError(f"{rel_posix(root, path)}: unreadable YAML value ({exc})") from exc


def scan_links(root: Path, limit: int = 10_000) -> list[str]:
    """Relative POSIX paths of the symbolic links below `root` (not followed; at most `limit`)."""
    found: list[str] = []
    stack = [Path(root)]
    while stack and len(found) < limit:
        folder = stack.pop()
        try:
            entries = sorted(os.scandir(folder), key=lambda e: e.name)
        except OSError:
            continue  # unreadable folder: its files are reported when they are opened
        for entry in entries:
            if entry.is_symlink():
                found.append(rel_posix(root, Path(entry.path)))
            elif entry.is_dir(follow_symlinks=False):
                stack.append(Path(entry.path))
    return sorted(found[:limit])
