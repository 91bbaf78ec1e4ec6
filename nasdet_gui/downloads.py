"""Files handed to the browser as downloads: a copy in a fresh temp folder, never a home path.

The app serves no file of the home by path (app.py passes no `allowed_paths`), so a handler
that offers a file writes it with `download_file` into a new `tempfile.mkdtemp()` folder (which
Gradio accepts as an output), and Gradio copies it into its own cache and serves it from there.
Images go to Gradio as numpy arrays, never as paths.
"""

from __future__ import annotations

import atexit
import shutil
import tempfile
from pathlib import Path

_FOLDERS: list[str] = []


def download_file(name: str, data: bytes | str) -> str:
    """Write `data` (text is UTF-8) as `name` in a fresh temp folder; returns its path.

    The folders are removed when the process exits (Gradio has its own copy by then)."""
    folder = tempfile.mkdtemp(prefix="nasdet-download-")
    _FOLDERS.append(folder)
    path = Path(folder) / Path(name).name
    path.write_bytes(data.encode("utf-8") if isinstance(data, str) else data)
    return str(path)


def download_copy(source: str | Path) -> str:
    """A temp copy of a file (e.g. one in the home) for a gr.DownloadButton / gr.File value."""
    source = Path(source)
    return download_file(source.name, source.read_bytes())


@atexit.register
def _remove_folders() -> None:
    for folder in _FOLDERS:
        shutil.rmtree(folder, ignore_errors=True)
