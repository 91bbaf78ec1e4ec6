"""A full disk names the disk and its free space in every job kind: dataset.generate (its
images), dataset.import (the copied images and COCO files), search and train (their run files),
export (the exported model). The disk fills by an injected ENOSPC on the kind's own writes:
files opened by core.io, the temp files of its atomic writes, and copies."""

from __future__ import annotations

import builtins
import errno
import shutil
import tempfile

import pytest

import core.io
from core.data.generate import generate_dataset
from core.det.model import create_detector
from core.det.model_file import save_model_checkpoint
from tests.engine.small_disk import mounted_tmpfs
from tests.train.conftest import TINY_MODEL, make_dataset, run_in_process


@pytest.fixture
def full_disk(monkeypatch):
    """`full_disk(fragment)`: from now on, writes to a path containing `fragment` fail with
    ENOSPC, as on a full disk."""

    def install(fragment: str) -> None:
        real_open, real_mkstemp, real_copy = builtins.open, tempfile.mkstemp, shutil.copyfile

        def refuse(path) -> None:
            raise OSError(errno.ENOSPC, "No space left on device", str(path))

        def open_(file, mode="r", *args, **kwargs):
            if fragment in str(file) and any(m in mode for m in "wax+"):
                refuse(file)
            return real_open(file, mode, *args, **kwargs)

        def mkstemp(suffix=None, prefix=None, dir=None, text=False):
            if fragment in f"{dir}/{prefix}":
                refuse(dir)
            return real_mkstemp(suffix, prefix, dir, text)

        def copyfile(src, dst, **kwargs):
            if fragment in str(dst):
                refuse(dst)
            return real_copy(src, dst, **kwargs)

        monkeypatch.setattr(core.io, "open", open_, raising=False)
        monkeypatch.setattr(tempfile, "mkstemp", mkstemp)
        monkeypatch.setattr(shutil, "copyfile", copyfile)

    return install


def assert_names_the_disk(job: dict, fragment: str) -> None:
    assert job["status"] == "failed", job
    error = job["error"]
    assert error.startswith("disk full: cannot write ") and fragment in error, error
    assert "the disk mounted at" in error and " free of " in error, error  # disk, free space
    assert "requested and" not in error and "Errno" not in error, error


def test_generate(store, full_disk):
    full_disk("images")
    job = run_in_process(store, "dataset.generate", {"name": "g", "images": 4, "size": 64})
    assert_names_the_disk(job, "images")


def test_import(store, full_disk, tmp_path):
    source = tmp_path / "source"
    generate_dataset(source, "shapes", 4, 64, (1, 2), "easy", 0.25, 0)
    full_disk("datasets")
    job = run_in_process(store, "dataset.import", {"name": "imp", "path": str(source)})
    assert_names_the_disk(job, "datasets")


def test_search(store, full_disk):
    make_dataset(store, "d", 8)
    full_disk("checkpoint")
    spec = {"dataset": "d", "strategy": "random", "minutes": 0.5}
    assert_names_the_disk(run_in_process(store, "search", spec), "checkpoint")


def test_train(store, full_disk):
    make_dataset(store, "d", 8)
    full_disk("checkpoint")
    spec = {"dataset": "d", "preset": "quick-cpu", "epochs": 1, "batch_size": 4, **TINY_MODEL}
    assert_names_the_disk(run_in_process(store, "train", spec), "checkpoint")


def test_export(store, full_disk):
    model = create_detector(TINY_MODEL["model"], 2, image_size=TINY_MODEL["image_size"])
    path = save_model_checkpoint(store.home / "m.pt", model, ["a", "b"])
    store.add_model("m", "trained", path, ["a", "b"])
    full_disk("model.onnx")
    assert_names_the_disk(run_in_process(store, "export", {"model": "m"}), "model.onnx")


def test_generate_on_a_small_disk(store):
    """A real small disk (a 1 MiB tmpfs as the home's datasets/ folder; root only)."""
    datasets = store.home / "datasets"
    with mounted_tmpfs(datasets, "1m"):
        spec = {"name": "g", "images": 400, "size": 128}
        job = run_in_process(store, "dataset.generate", spec)
        assert_names_the_disk(job, "images")
        assert f"the disk mounted at {datasets} (" in job["error"]
