"""A cancel is honoured within 5 s in every phase of every job kind, and leaves nothing
half-written.

Each case starts a real job of its kind with a tiny spec in a temp home, runs it here as the
worker does (core.engine.worker.run_job, on a thread), waits until the job's progress message
says it is in the phase in question, asks for the cancel through the store (as `jobs cancel`
and the GUI do) and times the job's status becoming `cancelled`. A cancelled job leaves no temp
file, no dataset work folder and registers nothing. Ray's connect phase is covered in
tests/nas/execution/test_ray_address.py; the detector search's time between trials and before its
pick is covered below by waiting for its trials' rows.
"""

from __future__ import annotations

import os
import re
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

import pytest

from core.data.generate import generate_dataset
from core.det.model import create_detector
from core.det.model_file import save_model_checkpoint
from core.engine.jobs import submit_job
from core.engine.store import FINISHED, Store
from core.engine.worker import run_job
from core.nas.detector import results as detector_results
from tests.nas.conftest import TINY, make_proxy_tensors
from tests.train.conftest import TINY_MODEL, make_dataset, run_in_process

CANCEL_WITHIN_S = 5.0
POLL_S = 0.02
REACH_TIMEOUT_S = 120.0  # reaching a phase, on a busy machine

pytestmark = pytest.mark.slow


@dataclass
class Cancelled:
    job: dict  # the finished job row
    phase: str  # the job's progress message when the cancel was asked
    latency_s: float  # from the request to the job's status `cancelled`


def cancel_in_phase(
    store: Store, kind: str, spec: dict, phase: str | Callable[[Store, int], bool]
) -> Cancelled:
    """Run a `kind` job on a thread, cancel it once `phase` (a regular expression searched in
    its progress message, or a predicate of the store and job id) holds, and time the cancel."""
    job_id = submit_job(store, kind, spec)
    job = store.claim_job("cpu", os.getpid())
    assert job["id"] == job_id
    runner = threading.Thread(target=run_job, args=(store, job, "cpu"), daemon=True)
    runner.start()
    message = _wait(lambda: _reached(store, job_id, phase), REACH_TIMEOUT_S, f"phase {phase!r}")
    asked = time.monotonic()
    store.request_cancel(job_id)
    _wait(lambda: _row(store, job_id)["status"] in FINISHED, 60.0, "the job's end")
    latency = time.monotonic() - asked
    runner.join(30.0)
    assert not runner.is_alive(), "the task went on after its job ended"
    return Cancelled(_row(store, job_id), message, latency)


def _row(store: Store, job_id: int) -> dict:
    return store.get_job(job_id, reconcile=False)


def _reached(store: Store, job_id: int, phase) -> str | None:
    row = _row(store, job_id)
    message = row["message"] or ""
    if row["status"] in FINISHED:
        pytest.fail(
            f"job ended {row['status']} ({row['error']}) before phase {phase!r}; "
            f"its last message: {message!r}"
        )
    if callable(phase):
        return message or "(none)" if phase(store, job_id) else None
    return message if re.search(phase, message) else None


def _wait(predicate, timeout: float, what: str):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(POLL_S)
    pytest.fail(f"{what} not reached within {timeout:.0f} s")


def assert_cancelled_cleanly(store: Store, done: Cancelled) -> None:
    """Cancelled in time; no temp file, no dataset work folder, no model or dataset of the job."""
    job = done.job
    assert job["status"] == "cancelled", (job["status"], job["error"], done.phase)
    assert done.latency_s < CANCEL_WITHIN_S, f"{done.latency_s:.2f} s in {done.phase!r}"
    stray = [
        p.relative_to(store.home)
        for p in store.home.rglob("*")
        if p.name.endswith(".tmp") or p.name.startswith(".tmp-")
    ]
    assert not stray, f"half-written files after a cancel in {done.phase!r}: {stray}"
    assert not any(m["name"] == f"job-{job['id']}" for m in store.list_models())
    assert not any(d.get("job_id") == job["id"] for d in store.list_datasets())


def _search_spec(strategy: str, **extra) -> dict:
    return {**TINY, "strategy": strategy, "minutes": 1.0, **extra}


@pytest.fixture
def proxy_path(tmp_path):
    import torch

    path = tmp_path / "proxy.pt"
    torch.save(make_proxy_tensors(n_train=64, n_val=24), path)
    return str(path)


# -- dataset.generate, dataset.import ---------------------------------------------------------
def test_generate_while_drawing(store):
    spec = {"name": "g", "images": 3000, "size": 64}
    done = cancel_in_phase(store, "dataset.generate", spec, r"drew \d+/")
    assert_cancelled_cleanly(store, done)
    assert not (store.home / "datasets" / "g").exists()


def test_generate_cancelled_as_it_registers(store, monkeypatch):
    """A cancel that lands just before the dataset is registered (within the reporter's poll
    interval of its last check) still leaves no dataset: the last check reads the flag afresh."""
    real = Store.set_progress

    def set_progress(self, job_id, fraction, message, eta_s=None):
        real(self, job_id, fraction, message, eta_s)
        if message == "registering":
            self.request_cancel(job_id)

    monkeypatch.setattr(Store, "set_progress", set_progress)
    job = run_in_process(store, "dataset.generate", {"name": "g", "images": 4, "size": 64})
    assert job["status"] == "cancelled"
    assert [d["name"] for d in store.list_datasets()] == []
    assert not list((store.home / "datasets").iterdir())


def test_import_while_copying(store, tmp_path, monkeypatch):
    import core.data.importers as importers

    source = tmp_path / "source"
    generate_dataset(source, "shapes", 60, 64, (1, 2), "easy", 0.25, 0)
    real_copy = importers.copy_file

    def slow_copy(src, dst):  # a slow disk: the copy phase lasts seconds
        time.sleep(0.05)
        return real_copy(src, dst)

    monkeypatch.setattr(importers, "copy_file", slow_copy)
    spec = {"name": "imp", "path": str(source)}
    done = cancel_in_phase(store, "dataset.import", spec, r"checked \d+/")
    assert_cancelled_cleanly(store, done)
    assert not (store.home / "datasets" / "imp").exists()


# -- search: each phase, each strategy ------------------------------------------------------
@pytest.mark.parametrize(
    "strategy, phase",
    [
        ("random", r"timing the training of report cells"),
        ("darts", r"darts epoch"),
        ("enas", r"enas"),
        ("zero-cost", r"zero-cost: scored"),
        ("evolution", r"evolution: "),
        ("random", r"final report: training"),
    ],
)
def test_search_phases(store, proxy_path, strategy, phase):
    spec = _search_spec(strategy, proxy_path=proxy_path)
    done = cancel_in_phase(store, "search", spec, phase)
    assert_cancelled_cleanly(store, done)
    assert not (store.home / "runs" / str(done.job["id"]) / "report.json").exists()


def test_search_while_building_crops(store):
    make_dataset(store, "d", 40, size=128)
    spec = _search_spec("random", dataset="d")
    done = cancel_in_phase(store, "search", spec, r"loading proxy crops")
    assert_cancelled_cleanly(store, done)


# -- search.detector --------------------------------------------------------------------------
# Two detectors at 128 px, one epoch each: after both, the sampler proposes judged ones again.
DETECTOR_SPEC = {
    "dataset": "tiny",
    "minutes": 1.0,
    "trials": 3,
    "epochs": 1,
    "backbones": ["mobilenetv3_small_100", "nas:DARTS_V2"],
    "image_sizes": [128],
    "fpn_channels": [16],
    "fpn_cell_repeats": [1],
    "box_class_repeats": [1],
    "target_ms": 10_000,
    "startup_trials": 2,
    "threads": 1,
    "seed": 3,
}


def _both_trials_judged(store: Store, job_id: int) -> bool:
    return len(detector_results.trials(store, job_id)) >= 2


@pytest.mark.parametrize(
    "phase",
    [r"timing the \w+ detector", r"trial \d+: epoch", _both_trials_judged],
    ids=["probe", "trial", "before-the-pick"],
)
def test_detector_search_phases(store, phase):
    make_dataset(store, "tiny", 12, val_is_train=True, repeat=2)
    done = cancel_in_phase(store, "search.detector", DETECTOR_SPEC, phase)
    assert_cancelled_cleanly(store, done)
    assert not (store.home / "runs" / str(done.job["id"]) / "model.pt").exists()


# -- train, evaluate, export ------------------------------------------------------------------
def _started(store: Store, job_id: int) -> bool:
    """The task has begun (the worker's first event), its start-up under way."""
    return any("job started" in e["message"] for e in store.events(job_id))


@pytest.mark.parametrize(
    "phase",
    [_started, r"epoch 1/3 step", r"epoch 2/3 step", r"evaluating"],
    ids=["start-up", "first-epoch", "later-epoch", "evaluation"],
)
def test_train_phases(store, phase):
    make_dataset(store, "d", 16)
    spec = {"dataset": "d", "preset": "quick-cpu", "epochs": 3, "batch_size": 2, **TINY_MODEL}
    done = cancel_in_phase(store, "train", spec, phase)
    assert_cancelled_cleanly(store, done)


@pytest.fixture
def model(store):
    """Model `m` on dataset `d`'s classes."""
    classes = list(make_dataset(store, "d", 24)["classes"])
    detector = create_detector(TINY_MODEL["model"], len(classes), image_size=128)
    path = save_model_checkpoint(store.home / "m.pt", detector, classes)
    store.add_model("m", "trained", path, classes)
    return "m"


def test_evaluate_while_predicting(store, model):
    spec = {"model": model, "dataset": "d", "split": "train", "batch_size": 1}
    done = cancel_in_phase(store, "evaluate", spec, r"batch \d+/")
    assert_cancelled_cleanly(store, done)


def test_export_while_exporting(store, model):
    done = cancel_in_phase(store, "export", {"model": model}, r"exporting onnx")
    assert_cancelled_cleanly(store, done)
    assert not list((store.home / "runs" / str(done.job["id"])).glob("*.onnx"))
