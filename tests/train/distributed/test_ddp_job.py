"""A train job on 2 CPU processes through the worker (core.train.distributed.launch -> torchrun
-> ranks): rank 0 alone logs and writes, the model loads in one process; cancel stops every rank
and the job resumes from rank 0's checkpoint; a rank killed with SIGKILL fails the job with a
message that names it."""

from __future__ import annotations

import os
import re
import signal
import threading
import time
from pathlib import Path

import pytest
import torch

from core.engine.jobs import submit_job
from core.engine.store import Store
from core.engine.worker import run_job
from core.train.predict import load_model, predict_images
from tests.train.conftest import TINY_MODEL, make_dataset

SPEC = {
    "dataset": "four",
    **TINY_MODEL,
    "batch_size": 2,
    "workers": 0,
    "optimizer": "adamw",
    "lr": 0.01,
    "augment": False,
    "nproc": 2,
}


def _run(store: Store, job_id: int) -> dict:
    """Claim and run one job as the worker does; the finished row."""
    job = store.claim_job("cpu", os.getpid())
    assert job is not None and job["id"] == job_id
    run_job(store, job, "cpu")
    return store.get_job(job_id, reconcile=False)


def _in_thread(home: Path, job_id: int) -> tuple[threading.Thread, dict]:
    out: dict = {}

    def target() -> None:
        store = Store(home)  # own connection in this thread
        out["job"] = _run(store, job_id)
        store.close()

    thread = threading.Thread(target=target, daemon=True)
    thread.start()
    return thread, out


def _ranks(job_id: int) -> dict[int, int]:
    """RANK -> pid of this job's live rank processes (read from /proc)."""
    found = {}
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            argv = (proc / "cmdline").read_bytes().split(b"\0")
            env = (proc / "environ").read_bytes().split(b"\0")
        except OSError:
            continue
        if b"core.train.rank_entry" in argv and str(job_id).encode() in argv:
            rank = next((e[5:] for e in env if e.startswith(b"RANK=")), None)
            if rank is not None:
                found[int(rank)] = int(proc.name)
    return found


def _wait(predicate, timeout_s: float, what: str):
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}")


def test_two_process_job_cancels_resumes_logs_each_epoch_once_and_leaves_a_model(store):
    torch.manual_seed(0)
    make_dataset(store, "four", 4, val_is_train=True, repeat=4)  # 16 images: 4 steps/epoch
    job_id = submit_job(store, "train", {**SPEC, "epochs": 3})
    thread, out = _in_thread(store.home, job_id)
    checkpoint = store.home / "runs" / str(job_id) / "checkpoint.pt"
    _wait(checkpoint.is_file, 120, "the first epoch's checkpoint")
    assert set(_ranks(job_id)) == {0, 1}
    store.request_cancel(job_id)
    cancelled_at = time.monotonic()
    thread.join(30)
    assert not thread.is_alive() and time.monotonic() - cancelled_at < 15
    assert out["job"]["status"] == "cancelled"
    assert not _ranks(job_id)  # every rank stopped
    store.resume_job(job_id)
    job = _run(store, job_id)  # every rank loads rank 0's checkpoint
    assert job["status"] == "succeeded", job["error"]
    result = job["result"]
    # 16 images / (2 processes x batch 2) = 4 steps per epoch
    assert result["world_size"] == 2 and result["epochs"] == 3 and result["steps"] == 12
    messages = [e["message"] for e in store.events(job_id)]
    resumed = [m for m in messages if m.startswith("resumed from checkpoint.pt")]
    assert len(resumed) == 1 and re.match(
        r"resumed from checkpoint.pt after epoch [12] ", resumed[0]
    ), resumed
    for epoch in (1, 2, 3):
        assert sum(m.startswith(f"epoch {epoch}/3:") for m in messages) == 1, messages
    assert (
        sum("lr scaled x 2 (linear rule, Goyal et al. 2017): 0.01 -> 0.02" in m for m in messages)
        == 2
    )  # once per launch
    assert sorted(m["step"] for m in store.metrics(job_id, keys=["train/loss"])) == list(
        range(1, 13)
    )
    first_lr = store.metrics(job_id, keys=["train/lr"])[0]
    assert first_lr["step"] == 1 and first_lr["value"] == pytest.approx(0.02 * 0.1)  # warm-up
    loaded = load_model(store, result["model"], device="cpu")  # one process, plain BatchNorm
    image = (torch.rand(128, 128, 3) * 255).to(torch.uint8).numpy()
    assert len(predict_images(loaded, [image], 0.0)) == 1


def test_a_killed_rank_fails_the_job_with_a_clear_message(store):
    four = store
    torch.manual_seed(0)
    make_dataset(four, "four", 4, val_is_train=True, repeat=2)
    job_id = submit_job(four, "train", {**SPEC, "epochs": 40})
    thread, out = _in_thread(four.home, job_id)
    _wait(lambda: four.metrics(job_id, keys=["train/loss"]), 120, "the first step")
    os.kill(_ranks(job_id)[1], signal.SIGKILL)
    thread.join(60)
    assert not thread.is_alive()
    job = out["job"]
    assert job["status"] == "failed"
    assert re.search(r"rank 1 exited with code -9 \(SIGKILL\)", job["error"]), job["error"]
    assert not _ranks(job_id)
