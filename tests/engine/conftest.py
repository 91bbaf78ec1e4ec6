"""Engine fixtures: the test-only task kind, and workers started as real subprocesses."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from core.engine.jobs import TaskDef, register_task
from tests.engine import tasks_for_tests

REPO = Path(__file__).resolve().parents[2]
EXTRA = "test.count=tests.engine.tasks_for_tests:COUNT"


@pytest.fixture(autouse=True)
def count_task(monkeypatch):
    monkeypatch.setenv("NASDET_EXTRA_TASKS", EXTRA)
    register_task("test.count", TaskDef(tasks_for_tests.run, tasks_for_tests.validate))


@pytest.fixture
def start_worker(home):
    """Start `python -m core worker` processes on the CPU; all are killed at teardown."""
    procs = []

    def start(*extra: str) -> subprocess.Popen:
        env = dict(os.environ, NASDET_EXTRA_TASKS=EXTRA, PYTHONPATH=str(REPO))
        proc = subprocess.Popen(
            [sys.executable, "-m", "core", "--home", str(home), "worker", "--device", "cpu", *extra],
            cwd=REPO, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        procs.append(proc)
        return proc

    yield start
    for proc in procs:
        if proc.poll() is None:
            proc.kill()
        proc.wait()


def wait_for(predicate, timeout: float = 90.0, interval: float = 0.05):
    """Poll until predicate() is truthy; returns its value or fails the test."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    pytest.fail(f"condition not met within {timeout} s")
