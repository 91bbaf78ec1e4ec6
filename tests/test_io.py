"""core.io: atomic writes leave the old file or the new one, never a temp file; disk full named."""

from __future__ import annotations

import errno
import json

import pytest
import torch

from core import io
from core.errors import DiskFullError
from tests.engine.small_disk import mounted_tmpfs


def _no_temp_files(folder):
    return [p.name for p in folder.iterdir() if p.name.endswith(".tmp")] == []


def test_human_bytes():
    assert io.human_bytes(10) == "10 B"
    assert io.human_bytes(1536) == "1.5 KiB"
    assert io.human_bytes(4 * 1024**2) == "4.0 MiB"
    assert io.human_bytes(3 * 1024**5) == "3072.0 TiB"


def test_json_and_bytes_written_and_replaced(tmp_path):
    path = tmp_path / "sub" / "a.json"
    io.write_json_atomic(path, {"name": "Straße", "file": "bild\udcff.png", "n": [1, 2]})
    assert (
        path.read_text(encoding="ascii")
        == '{"name":"Stra\\u00dfe","file":"bild\\udcff.png","n":[1,2]}'
    )
    assert json.loads(path.read_text())["name"] == "Straße"
    io.write_json_atomic(path, {"n": 1}, indent=2)
    assert path.read_text() == '{\n  "n": 1\n}'
    io.write_bytes_atomic(tmp_path / "b.bin", b"\x00\x01")
    assert (tmp_path / "b.bin").read_bytes() == b"\x00\x01"
    assert _no_temp_files(tmp_path / "sub") and _no_temp_files(tmp_path)


def test_failed_write_keeps_old_file_and_removes_temp(tmp_path):
    path = tmp_path / "a.json"
    io.write_json_atomic(path, {"old": True})
    with pytest.raises(TypeError):
        io.write_json_atomic(path, {"bad": object()})  # fails half-way through the dump
    assert json.loads(path.read_text()) == {"old": True}
    assert _no_temp_files(tmp_path)


def test_injected_enospc_is_disk_full_error_naming_path_and_disk(tmp_path, monkeypatch):
    path = tmp_path / "a.json"
    io.write_json_atomic(path, [1])

    def full(fd):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(io.os, "fsync", full)
    with pytest.raises(DiskFullError) as info:
        io.write_json_atomic(path, [2])
    message = str(info.value)
    assert str(path) in message and "free of" in message and "disk mounted at" in message
    assert info.value.errno == errno.ENOSPC and isinstance(info.value, OSError)
    assert json.loads(path.read_text()) == [1] and _no_temp_files(tmp_path)


def test_other_oserror_keeps_its_errno_and_names_the_path(tmp_path, monkeypatch):
    def broken(fd):
        raise OSError(errno.EIO, "Input/output error")

    monkeypatch.setattr(io.os, "fsync", broken)
    with pytest.raises(OSError) as info:
        io.write_bytes_atomic(tmp_path / "x.bin", b"abc")
    assert not isinstance(info.value, DiskFullError)
    assert info.value.errno == errno.EIO and info.value.filename == str(tmp_path / "x.bin")
    assert not (tmp_path / "x.bin").exists() and _no_temp_files(tmp_path)


def test_torch_save_enospc_through_the_file_object(tmp_path, monkeypatch):
    """torch turns a failed write into a RuntimeError; the ENOSPC behind it must still show."""
    path = tmp_path / "c.pt"
    with io.atomic_open(path) as f:
        torch.save({"w": torch.ones(3)}, f)
    real_open = open

    class FullFile:
        def __init__(self, f):
            self.f = f

        def write(self, data):
            raise OSError(errno.ENOSPC, "No space left on device")

        def __getattr__(self, name):
            return getattr(self.f, name)

        def __enter__(self):
            return self

        def __exit__(self, *exc):
            self.f.close()

    monkeypatch.setattr("builtins.open", lambda *a, **k: FullFile(real_open(*a, **k)))
    with pytest.raises(DiskFullError, match="c.pt"):
        with io.atomic_open(path) as f:
            torch.save({"w": torch.zeros(1000)}, f)
    monkeypatch.undo()
    assert torch.equal(torch.load(path, weights_only=True)["w"], torch.ones(3))
    assert _no_temp_files(tmp_path)


def test_real_small_disk_fills_up(tmp_path):
    with mounted_tmpfs(tmp_path / "disk", "1m") as disk:
        io.write_json_atomic(disk / "keep.json", {"v": 1})
        with pytest.raises(DiskFullError) as info:
            with io.atomic_open(disk / "keep.json") as f:
                torch.save({"big": torch.zeros(1_000_000)}, f)  # 4 MB into 1 MiB
        assert f"disk mounted at {disk}" in str(info.value) and "free of 1.0 MiB" in str(info.value)
        assert json.loads((disk / "keep.json").read_text()) == {"v": 1}
        assert sorted(p.name for p in disk.iterdir()) == ["keep.json"]
        assert io.mount_point(disk / "a" / "b") == disk
