"""The app serves no file of the home by path.

Its own app.py (no worker) is started on a free port with a fresh home that holds the database,
a planted dataset json, a worker log and a planted secret; every Gradio file route is asked for
each of them by absolute and relative path, plain and URL-encoded, and must refuse (403/404).
The app runs with its own TMPDIR and a cwd outside the home, so a GUI output that still handed
Gradio a path inside the home would fail: a download produced by the GUI (the Architectures
tab's genotype.json, called over the queue protocol the browser uses) must still arrive.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import urllib.error
import urllib.parse
import urllib.request
import uuid
from pathlib import Path

import pytest

from tests.gui.conftest import REPO, START_TIMEOUT_S, RunningApp, _up, free_port

ROUTES = ["/gradio_api/file=", "/file=", "/gradio_api/file/", "/file/"]
SECRET = f"planted-secret-{uuid.uuid4().hex}"


@pytest.fixture(scope="module")
def bare_app(tmp_path_factory):
    """(app, cwd): app.py --no-worker, cwd and TMPDIR outside the home (home = cwd/../home)."""
    root = tmp_path_factory.mktemp("security")
    home, cwd, tmp = root / "home", root / "cwd", root / "tmp"
    for folder in (home / "logs", home / "datasets" / "planted", cwd, tmp):
        folder.mkdir(parents=True)
    (home / "secret.txt").write_text(SECRET)
    (home / "logs" / "worker-cpu.log").write_text(SECRET)
    (home / "datasets" / "planted" / "train.json").write_text(json.dumps({"s": SECRET}))
    port = free_port()
    env = dict(os.environ, PYTHONPATH=str(REPO), TMPDIR=str(tmp), GRADIO_ANALYTICS_ENABLED="False")
    env.pop("GRADIO_TEMP_DIR", None)
    env.pop("NASDET_HOME", None)
    with open(root / "app.log", "wb") as log:
        proc = subprocess.Popen(
            [
                sys.executable,
                str(REPO / "app.py"),
                "--home",
                str(home),
                "--port",
                str(port),
                "--no-worker",
                "--demo-preset",
                "tiny",
            ],
            cwd=cwd,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        app = RunningApp(f"http://127.0.0.1:{port}", home, proc)
        try:
            app.wait_for(
                lambda: _up(app.url) or proc.poll() is not None, START_TIMEOUT_S, "the app"
            )
            if proc.poll() is not None:
                raise RuntimeError(f"app.py exited: {(root / 'app.log').read_text()[-2000:]}")
            yield app, cwd
        finally:
            proc.terminate()
            try:
                proc.wait(5)
            except subprocess.TimeoutExpired:
                proc.kill()


def get(url: str) -> tuple[int, bytes]:
    try:
        with urllib.request.urlopen(url, timeout=10) as r:
            return r.status, r.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read()


def path_variants(target: Path, cwd: Path) -> list[str]:
    rel = os.path.relpath(target, cwd)  # ../home/...
    plain = [str(target), rel, "/" + str(target), str(target).replace("/", "//")]
    return plain + [urllib.parse.quote(p, safe="") for p in plain]


def test_no_file_of_the_home_is_served_by_any_route(bare_app):
    app, cwd = bare_app
    targets = [
        app.home / "nasdet.db",
        app.home / "nasdet.db-wal",
        app.home / "secret.txt",
        app.home / "logs" / "worker-cpu.log",
        app.home / "datasets" / "planted" / "train.json",
    ]
    assert (app.home / "nasdet.db").stat().st_size > 0  # the app created and uses it
    served = []
    for target in targets:
        for route in ROUTES:
            for variant in path_variants(target, cwd):
                status, body = get(app.url + route + variant)
                if status not in (403, 404) or SECRET.encode() in body or b"SQLite" in body:
                    served.append((route + variant, status))
    assert not served, served


def call_event(url: str, fn_index: int, data: list) -> list:
    """One event over Gradio's queue protocol (as the browser sends it); returns output data."""
    session = uuid.uuid4().hex
    body = json.dumps(
        {
            "data": data,
            "fn_index": fn_index,
            "session_hash": session,
            "event_data": None,
            "trigger_id": None,
        }
    ).encode()
    req = urllib.request.Request(
        url + "/gradio_api/queue/join", body, {"Content-Type": "application/json"}
    )
    urllib.request.urlopen(req, timeout=10).read()
    with urllib.request.urlopen(
        f"{url}/gradio_api/queue/data?session_hash={session}", timeout=60
    ) as stream:
        for line in stream:
            if not line.startswith(b"data:"):
                continue
            msg = json.loads(line[5:])
            if msg.get("msg") == "process_completed":
                assert msg.get("success"), msg
                return msg["output"]["data"]
    raise AssertionError("the event never completed")


def test_genotype_download_still_works_without_serving_the_home(bare_app):
    app, _ = bare_app
    config = json.loads(get(app.url + "/config")[1])
    button = next(
        c["id"]
        for c in config["components"]
        if c.get("type") == "downloadbutton"
        and c["props"].get("value") is None
        and "genotype" in str(c["props"].get("label", "")) + str(c["props"].get("value", ""))
    )
    cell = next(
        c["id"]
        for c in config["components"]
        if c.get("type") == "dropdown" and c["props"].get("label") == "Cell"
    )
    dep = next(
        d
        for d in config["dependencies"]
        if button in d["outputs"] and [cell, "input"] in [list(t) for t in d["targets"]]
    )
    out = call_event(app.url, dep["id"], ["published:DARTS_V1"])
    file_data = out[dep["outputs"].index(button)]["value"]
    assert not str(file_data["path"]).startswith(str(app.home))
    status, body = get(urllib.parse.urljoin(app.url, file_data["url"]))
    assert status == 200
    from core.nas.genotypes import PUBLISHED_GENOTYPES

    assert json.loads(body) == json.loads(PUBLISHED_GENOTYPES["DARTS_V1"].to_json())


def test_predictions_download_is_a_temp_file_with_the_detections_above_the_score(tmp_path):
    from nasdet_gui.detect_tab import predictions_file

    state = {
        "model": "m1",
        "items": [
            {
                "path": str(tmp_path / "home" / "a.png"),
                "detections": [
                    {"box": [1, 2, 3, 4], "score": 0.9, "label": 0},
                    {"box": [0, 0, 1, 1], "score": 0.2, "label": 1},
                ],
            }
        ],
    }
    path = Path(predictions_file(None, state, 0.5))
    assert not path.is_relative_to(tmp_path) and path.name.startswith("predictions-m1-")
    doc = json.loads(path.read_text())
    assert doc["score_threshold"] == 0.5 and doc["model"] == "m1"
    assert doc["images"] == [
        {"file": "a.png", "detections": [{"box": [1, 2, 3, 4], "score": 0.9, "label": 0}]}
    ]
