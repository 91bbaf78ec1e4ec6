"""Shared fixtures: an isolated home folder and store per test; deterministic, single-threaded
torch."""

from __future__ import annotations

import os

import pytest

os.environ.setdefault("OMP_NUM_THREADS", "1")  # pytest -n 2 on 2 cores: one thread per test process

import torch  # noqa: E402

torch.set_num_threads(1)


@pytest.fixture
def home(tmp_path, monkeypatch):
    """A fresh NASDET_HOME for this test (also exported for subprocesses)."""
    path = tmp_path / "home"
    path.mkdir()
    monkeypatch.setenv("NASDET_HOME", str(path))
    return path


@pytest.fixture
def store(home):
    from core.engine.store import Store

    s = Store(home)
    yield s
    s.close()
