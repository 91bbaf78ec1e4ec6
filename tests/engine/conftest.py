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
EXTRA = "test.count=tests.engine.tasks_for_tests:COUNT,test.fill=tests.engine.tasks_for_tests:FILL"


@pytest.fixture(autouse=True)
def count_task(monkeypatch):
    monkeypatch.setenv("NASDET_EXTRA_TASKS", EXTRA)
    register_task("test.count", TaskDef(tasks_for_tests.run, tasks_for_tests.validate))
    register_task("test.fill", tasks_for_tests.FILL)


@pytest.fixture
def start_worker(home, tmp_path):
    """Start `python -m core worker` processes on the CPU (in `home`, or the `home=` given); all
    are killed at teardown. Their output goes to tmp_path/worker-N.log (read it on a failure)."""
    procs = []

    def start(*extra: str, home: Path = home) -> subprocess.Popen:
        env = dict(os.environ, NASDET_EXTRA_TASKS=EXTRA, PYTHONPATH=str(REPO))
        with open(tmp_path / f"worker-{len(procs)}.log", "wb") as out:
            proc = subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "core",
                    "--home",
                    str(home),
                    "worker",
                    "--device",
                    "cpu",
                    *extra,
                ],
                cwd=REPO,
                env=env,
                stdout=out,
                stderr=subprocess.STDOUT,
            )
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
