"""One launched app (python app.py, real worker) per test session, shared by the GUI tests.

`make test` runs `pytest -n 2 --dist loadfile`: each GUI test file stays on one xdist worker, so
the app starts at most once per file. The app gets a fresh home, a free port, the `tiny` demo
preset and the engine's test-only task kind (test.count) for quick jobs.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
CHROMIUM = "/usr/bin/chromium"
EXTRA_TASKS = "test.count=tests.engine.tasks_for_tests:COUNT"
START_TIMEOUT_S = 120


@dataclass
class RunningApp:
    url: str
    home: Path
    proc: subprocess.Popen

    def store(self):
        from core.engine.store import Store

        return Store(self.home)

    def wait_for(self, predicate, timeout: float = 60.0, what: str = "condition"):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            value = predicate()
            if value:
                return value
            time.sleep(0.3)
        raise AssertionError(f"timed out after {timeout}s waiting for {what}")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="session")
def gui_app(tmp_path_factory):
    home = tmp_path_factory.mktemp("gui") / "home"
    port = free_port()
    env = dict(
        os.environ,
        NASDET_EXTRA_TASKS=EXTRA_TASKS,
        PYTHONPATH=str(REPO),
        NASDET_HOME=str(home),
        GRADIO_ANALYTICS_ENABLED="False",
    )
    log = open(home.parent / "app.log", "wb")
    proc = subprocess.Popen(
        [
            sys.executable,
            "app.py",
            "--home",
            str(home),
            "--port",
            str(port),
            "--demo-preset",
            "tiny",
        ],
        cwd=REPO,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    saved = os.environ.get("NASDET_EXTRA_TASKS")
    os.environ["NASDET_EXTRA_TASKS"] = EXTRA_TASKS  # this process submits test.count jobs too
    url = f"http://127.0.0.1:{port}/"
    app = RunningApp(url, home, proc)
    try:
        app.wait_for(lambda: _up(url) or proc.poll() is not None, START_TIMEOUT_S, "the app")
        if proc.poll() is not None:
            raise RuntimeError(f"app.py exited: {(home.parent / 'app.log').read_text()[-2000:]}")
        yield app
    finally:
        if saved is None:
            os.environ.pop("NASDET_EXTRA_TASKS", None)
        else:
            os.environ["NASDET_EXTRA_TASKS"] = saved
        proc.terminate()
        try:
            proc.wait(5)
        except subprocess.TimeoutExpired:
            proc.kill()
        _stop_workers(home)
        log.close()


def _up(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=2) as r:
            return r.status == 200
    except OSError:
        return False


def _stop_workers(home: Path) -> None:
    """The app starts a detached worker: stop it (by its registered pid) with the session."""
    from core.engine.store import Store

    store = Store(home)
    for worker in store.live_workers():
        try:
            os.kill(worker["pid"], signal.SIGTERM)
        except ProcessLookupError:
            pass
    store.close()


@pytest.fixture(scope="session")
def client(gui_app):
    from gradio_client import Client

    return Client(gui_app.url, verbose=False)


@pytest.fixture(scope="session")
def browser():
    if not Path(CHROMIUM).exists():
        pytest.skip("Debian's chromium is not installed (make test installs it)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(
            executable_path=CHROMIUM,
            headless=True,
            args=[
                "--no-sandbox",
                "--disable-gpu",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                "--no-first-run",
            ],
        )
        yield b
        b.close()


VIEWPORT = {"width": 1280, "height": 800}


def open_page(browser, url: str, init_script: str | None = None):
    """A 1280x800 page on the app, its page errors collected in `pg.errors`; close its context
    (`pg.context.close()`) when done."""
    context = browser.new_context(viewport=VIEWPORT)
    if init_script:
        context.add_init_script(init_script)
    pg = context.new_page()
    pg.errors = []
    pg.on("pageerror", lambda exc: pg.errors.append(str(exc)))
    pg.goto(url)
    pg.wait_for_selector("#main-tabs", timeout=30_000)
    return pg
