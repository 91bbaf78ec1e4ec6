"""The executors with a local Ray started inside this module (ray.init(num_cpus=2), once):
trials give the same numbers as the local executor, a cancel ends the running Ray tasks, a task
whose worker dies is retried."""

from __future__ import annotations

import json
import os
import signal
import threading
import time
from pathlib import Path

import pytest
import torch

ray = pytest.importorskip("ray")

from core.errors import JobCancelled, SpecError  # noqa: E402
from core.nas.execution.executor import LocalExecutor, RayExecutor, make_executor  # noqa: E402
from core.nas.genotypes import PUBLISHED_GENOTYPES  # noqa: E402
from core.nas.proxy_training import TrainSettings, prepare  # noqa: E402
from core.nas.trials import Trial, TrialTimeout, on_cpu, run_trial  # noqa: E402
from tests.nas.conftest import TINY, make_proxy_tensors  # noqa: E402


@pytest.fixture(scope="module")
def executor():
    with RayExecutor(slots=2) as ex:  # starts a local Ray; shut down at the end of the module
        yield ex
    assert not ray.is_initialized()


def tiny_data():
    g = torch.Generator().manual_seed(0)
    raw = {
        "train_x": torch.randint(0, 256, (48, 3, 16, 16), generator=g, dtype=torch.uint8),
        "train_y": torch.arange(48) % 3,
        "val_x": torch.randint(0, 256, (24, 3, 16, 16), generator=g, dtype=torch.uint8),
        "val_y": torch.arange(24) % 3,
        "classes": ["a", "b", "c"],
    }
    return prepare(raw, 16, 0.5, seed=0)


def trials(n: int = 3, **kw) -> list[Trial]:
    names = list(PUBLISHED_GENOTYPES)
    settings = TrainSettings(epochs=1, batch_size=8, lr=0.05)
    return [
        Trial(
            PUBLISHED_GENOTYPES[names[i % len(names)]].to_dict(),
            4,
            3,
            3,
            settings,
            seed=10 + i,
            split="search" if i % 2 else "report",
            threads=1,
            **kw,
        )
        for i in range(n)
    ]


def test_ray_trials_equal_local_trials(executor):
    data = tiny_data()
    local = list(LocalExecutor().map(run_trial, trials(), data))
    remote = list(executor.map(run_trial, trials(), executor.share(on_cpu(data))))
    assert [r["val_acc"] for r in remote] == [r["val_acc"] for r in local]
    assert [r["loss"] for r in remote] == [r["loss"] for r in local]  # bit for bit
    assert executor.slots == 2 and executor.remote


def test_a_deadline_stops_a_remote_trial(executor):
    past = trials(1, deadline=time.time() - 1)
    with pytest.raises(TrialTimeout):
        list(executor.map(run_trial, past, executor.share(on_cpu(tiny_data()))))


def slow_task(folder: str, index: int) -> int:
    """Writes its pid, then works for a minute (a task to cancel)."""
    Path(folder, f"{index}.pid").write_text(str(os.getpid()))
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        time.sleep(0.05)
    return index


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def test_cancel_in_the_middle_ends_the_ray_tasks(executor, tmp_path):
    started = time.monotonic()

    def check() -> None:
        if len(list(tmp_path.glob("*.pid"))) == 2 or time.monotonic() - started > 30:
            raise JobCancelled("cancelled by the test")

    with pytest.raises(JobCancelled):
        list(executor.map(_slow, [(str(tmp_path), 0), (str(tmp_path), 1)], check=check))
    pids = [int(p.read_text()) for p in tmp_path.glob("*.pid")]
    assert len(pids) == 2
    deadline = time.monotonic() + 10
    while any(_alive(p) for p in pids) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not any(_alive(p) for p in pids)  # the tasks' worker processes ended
    assert not executor._pending


def _slow(item: tuple[str, int]) -> int:
    return slow_task(*item)


def dies_once(folder: str) -> str:
    """Kills its own worker the first time (a lost task); returns on the retry."""
    marker = Path(folder, "attempt")
    if not marker.exists():
        marker.write_text("1")
        os.kill(os.getpid(), signal.SIGKILL)
    return "second attempt"


def test_a_task_lost_with_its_worker_is_retried(executor, tmp_path):
    assert executor.submit(dies_once, str(tmp_path)).result(timeout=60) == "second attempt"


def test_make_executor_choices():
    assert make_executor("local").name == "local"
    ray_executor = make_executor("ray", device="cpu", address="auto")
    assert ray_executor.address == "auto" and ray_executor.gpus_per_task == 0
    with pytest.raises(SpecError, match="unknown executor"):
        make_executor("dask")


# -- a search through the Ray executor --------------------------------------------------------
SEARCH_SPEC = {
    **TINY,
    "minutes": None,
    "strategy": "evolution",
    "samples": 6,
    "evolution.parallel": 2,
}


@pytest.fixture
def proxy_file(tmp_path):
    path = tmp_path / "proxy.pt"
    torch.save(make_proxy_tensors(), path)
    return path


def _search(store, proxy_file, **spec) -> tuple[int, dict]:
    from core.engine.jobs import submit_job
    from core.engine.reporter import Reporter
    from core.nas.tasks import SEARCH

    job_id = submit_job(store, "search", {**SEARCH_SPEC, "proxy_path": str(proxy_file), **spec})
    job = {**store.get_job(job_id), "attempts": 1}
    reporter = Reporter(store, job, store.home / "runs" / str(job_id), "cpu")
    return job_id, SEARCH.run(reporter.spec, reporter)


def _rows(store, job_id: int) -> list[tuple]:
    return [
        (
            r["extra"]["kind"],
            r["extra"].get("role"),
            r["step"],
            r["score"],
            json.dumps(r["genotype"], sort_keys=True),
        )
        for r in store.architectures(job_id)
    ]


def test_an_evolution_search_and_its_report_equal_the_local_executors(executor, store, proxy_file):
    local_id, local = _search(store, proxy_file, execution={"executor": "local"})
    ray_id, remote = _search(store, proxy_file, execution={"executor": "ray"})
    assert remote["executor"] == "ray" and local["executor"] == "local"
    assert remote["executor_slots"] == 2
    assert remote["genotype"] == local["genotype"]
    assert remote["searched"]["accs"] == local["searched"]["accs"]
    assert remote["random"]["accs"] == local["random"]["accs"]
    rows = _rows(store, ray_id)
    assert rows == _rows(store, local_id)  # every candidate, in order, with the same score
    origins = [
        r["extra"]["origin"] for r in store.architectures(ray_id) if r["extra"]["kind"] == "sampled"
    ]
    assert origins == ["initial"] * 3 + ["mutation"] * 3  # P=3, then rounds of 2 and 1


def test_cancel_in_the_middle_of_a_search_ends_its_ray_tasks(executor, store, proxy_file):
    from core.engine.jobs import submit_job
    from core.engine.reporter import Reporter
    from core.engine.store import Store
    from core.nas.tasks import SEARCH

    spec = {
        **SEARCH_SPEC,
        "proxy_path": str(proxy_file),
        "execution.executor": "ray",
        "child.epochs": 1000,
        "samples": 20,
    }
    job_id = submit_job(store, "search", spec)
    out: dict = {}

    def target() -> None:
        own = Store(store.home)
        job = {**own.get_job(job_id), "attempts": 1}
        try:
            SEARCH.run(job["spec"], Reporter(own, job, own.home / "runs" / str(job_id), "cpu"))
        except JobCancelled as exc:
            out["cancelled"] = exc
        own.close()

    thread = threading.Thread(target=target, daemon=True)
    thread.start()
    _until(lambda: ray.available_resources().get("CPU", 0.0) == 0.0, 120, "2 running tasks")
    store.request_cancel(job_id)
    thread.join(30)
    assert not thread.is_alive() and "cancelled" in out
    _until(lambda: ray.available_resources().get("CPU", 0.0) == 2.0, 20, "the slots freed")
    assert not [r for r in store.architectures(job_id) if r["extra"]["kind"] == "sampled"]


def _until(predicate, timeout_s: float, what: str) -> None:
    deadline = time.monotonic() + timeout_s
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.1)
