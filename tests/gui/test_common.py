"""The timer's cheap reads (fingerprints) and the app's command-line helpers, without a browser."""

from __future__ import annotations

import statistics
import time

import pytest

from core.engine.store import now

import app as app_module
from nasdet_gui.common import form_spec, job_fingerprint, jobs_fingerprint


def _job_with_metrics(store, rows: int) -> int:
    job = store.insert_job("train", {"dataset": "x"})
    t = now()
    store.add_metrics([(job, step, None, "train/loss", 1.0 / (step + 1), t) for step in range(rows)])
    return job


def test_fingerprint_changes_only_when_the_job_changes(store):
    job = _job_with_metrics(store, 10)
    first = job_fingerprint(store, job)
    assert job_fingerprint(store, job) == first  # nothing changed -> the tick sends nothing
    store.add_metrics([(job, 10, None, "train/loss", 0.1, now())])
    second = job_fingerprint(store, job)
    assert second != first
    store.add_event(job, "info", "hello")
    assert job_fingerprint(store, job) != second
    before = jobs_fingerprint(store)
    store.set_progress(job, 0.5, "half")
    assert jobs_fingerprint(store) != before


def test_tick_reads_stay_under_50_ms_with_100k_metric_rows(store):
    job = _job_with_metrics(store, 100_000)
    other = _job_with_metrics(store, 10)
    times = []
    for _ in range(15):
        t0 = time.perf_counter()
        job_fingerprint(store, job)
        job_fingerprint(store, other)
        jobs_fingerprint(store)
        times.append(time.perf_counter() - t0)
    assert statistics.median(times) < 0.050, times


def test_form_spec_drops_empty_and_maps_cleared_optional_numbers_to_none():
    spec = form_spec(["strategy", "epochs", "minutes", "C", "fast"],
                     ("darts", 0, None, 8.0, False), optional={"epochs", "minutes"})
    assert spec == {"strategy": "darts", "epochs": None, "minutes": None, "C": 8, "fast": False}
    assert isinstance(spec["C"], int)


@pytest.mark.parametrize("host,loop", [("127.0.0.1", True), ("localhost", True), ("::1", True),
                                       ("127.0.0.2", True), ("0.0.0.0", False),
                                       ("192.168.1.5", False), ("example.org", False)])
def test_loopback_detection(host, loop):
    assert app_module.is_loopback(host) is loop


def test_auth_parsing():
    assert app_module.parse_auth("ann:s3cret:x") == ("ann", "s3cret:x")
    assert app_module.parse_auth(None) is None
    with pytest.raises(SystemExit, match="USER:PASS"):
        app_module.parse_auth("nopassword")


def test_public_bind_without_auth_warns(monkeypatch, capsys, tmp_path):
    monkeypatch.setattr(app_module, "serve", lambda args, auth: 0)
    assert app_module.main(["--host", "0.0.0.0", "--home", str(tmp_path)]) == 0
    assert "WARNING" in capsys.readouterr().err
    assert app_module.main(["--host", "0.0.0.0", "--auth", "a:b", "--home", str(tmp_path)]) == 0
    assert "WARNING" not in capsys.readouterr().err
