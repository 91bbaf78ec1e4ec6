"""core.app.jobs: what keeps running when the app stops."""

from __future__ import annotations

import os
import socket
import subprocess
import sys

from core.app.jobs import after_app


def _sleeper() -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])


def test_an_idle_worker_is_stopped_when_the_app_stops(store):
    proc = _sleeper()
    store.register_worker(proc.pid, "cpu", socket.gethostname())
    assert after_app(store) == f"Stopped the idle background worker (pid {proc.pid})."
    assert proc.wait(timeout=10) != 0  # SIGTERM


def test_a_busy_worker_is_left_running_and_the_note_says_how_to_stop_it(store):
    worker = store.register_worker(os.getpid(), "cpu", socket.gethostname())
    store.insert_job("train", {"dataset": "d"})
    store.claim_job("cpu", os.getpid(), worker)
    store.insert_job("search", {"dataset": "d"})
    note = after_app(store)
    assert f"(pid {os.getpid()}) keeps going with its jobs (1 running, 1 queued)" in note
    assert f"kill {os.getpid()}" in note and "stops by itself 15 minutes" in note


def test_nothing_to_say_without_a_worker(store):
    assert after_app(store) == ""
