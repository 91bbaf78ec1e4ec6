"""Exact resume, cancel, divergence and bad checkpoints of the train job (tiny model, few steps)."""

from __future__ import annotations

import os

import numpy as np
import pytest
import torch

import core.engine.reporter as reporter_module
from core.checkpoint import load_checkpoint, save_checkpoint
from core.det.bench import DetectionBench
from core.engine.worker import run_job
from core.train.predict import load_model, predict_images
from core.train.trainer import Trainer
from tests.train.conftest import TINY_MODEL, make_dataset, run_in_process

# SGD with momentum (the paper's optimiser), augmentation on, EMA on: every piece of state that
# must survive a resume is exercised. 4 images, batch 2: 2 steps per epoch.
SPEC = {
    "dataset": "four",
    **TINY_MODEL,
    "epochs": 3,
    "batch_size": 2,
    "workers": 0,
    "eval_every": 100,
    "model_overrides": {"fpn_channels": 16},
}


@pytest.fixture
def four(store):
    make_dataset(store, "four", 4, val_is_train=True)
    return store


def _state(store, job_id: int) -> dict:
    return load_checkpoint(store.home / "runs" / str(job_id) / "checkpoint.pt", kind="train")


def _resume(store, job_id: int) -> dict:
    store.resume_job(job_id)
    job = store.claim_job("cpu", os.getpid())
    assert job["id"] == job_id
    run_job(store, job, "cpu")
    return store.get_job(job_id, reconcile=False)


def _cancel_after(monkeypatch, store, step: int) -> None:
    """Request cancel once the trainer has taken `step` optimiser steps."""
    original = Trainer.train_step
    monkeypatch.setattr(reporter_module, "CANCEL_POLL_S", 0.0)

    def train_step(self, images, targets):
        out = original(self, images, targets)
        if self.global_step == step:
            store.request_cancel(self.reporter.job_id)
        return out

    monkeypatch.setattr(Trainer, "train_step", train_step)


def test_interrupted_and_resumed_run_ends_with_the_same_weights(four, monkeypatch):
    store = four
    straight = run_in_process(store, "train", SPEC)
    assert straight["status"] == "succeeded", straight["error"]

    with monkeypatch.context() as patch:
        _cancel_after(patch, store, 3)  # in epoch 2: its partial work is thrown away
        cut = run_in_process(store, "train", SPEC)
    assert cut["status"] == "cancelled"
    assert _state(store, cut["id"])["epoch"] == 1
    resumed = _resume(store, cut["id"])
    assert resumed["status"] == "succeeded", resumed["error"]

    a, b = _state(store, straight["id"]), _state(store, cut["id"])
    assert (a["epoch"], a["global_step"]) == (b["epoch"], b["global_step"]) == (3, 6)
    for key in a["model"]:
        assert torch.equal(a["model"][key], b["model"][key]), key
    for key in a["ema"]["module"]:
        assert torch.equal(a["ema"]["module"][key], b["ema"]["module"][key]), key
    momentum_a = [s["momentum_buffer"] for s in a["optimizer"]["state"].values()]
    momentum_b = [s["momentum_buffer"] for s in b["optimizer"]["state"].values()]
    assert all(torch.equal(x, y) for x, y in zip(momentum_a, momentum_b))
    assert a["scheduler"]["last_epoch"] == b["scheduler"]["last_epoch"] == 6
    assert resumed["result"]["AP50"] == pytest.approx(straight["result"]["AP50"])
    steps = [m["step"] for m in store.metrics(cut["id"], keys=["train/loss"])]
    assert sorted(steps) == list(range(1, 7))  # re-logged steps replace, never duplicate


def test_nan_loss_fails_with_step_and_keeps_last_good_checkpoint(four, monkeypatch):
    store = four
    original = DetectionBench.loss
    calls = {"n": 0}

    def loss(self, images, targets):
        out = original(self, images, targets)
        calls["n"] += 1
        if calls["n"] == 3:  # first step of epoch 2
            out = {**out, "loss": out["loss"] * float("nan")}
        return out

    monkeypatch.setattr(DetectionBench, "loss", loss)
    job = run_in_process(store, "train", SPEC)
    assert job["status"] == "failed"
    assert "loss is nan at step 3 (epoch 2)" in job["error"]
    assert "end of epoch 1" in job["error"] and f"jobs resume {job['id']}" in job["error"]
    assert "lower learning rate" in job["error"]
    assert _state(store, job["id"])["epoch"] == 1  # the good checkpoint was not overwritten


def test_corrupt_or_mismatched_checkpoint_fails_clearly(four):
    store = four
    job_id = store.insert_job("train", SPEC)
    run = store.home / "runs" / str(job_id)
    run.mkdir(parents=True)
    (run / "checkpoint.pt").write_bytes(b"PK\x03\x04 this is not a checkpoint")
    job = store.claim_job("cpu", os.getpid())
    run_job(store, job, "cpu")
    job = store.get_job(job_id, reconcile=False)
    assert job["status"] == "failed" and "corrupt" in job["error"]
    assert "checkpoint.pt" in job["error"]

    save_checkpoint(run / "checkpoint.pt", {"spec": {**SPEC, "epochs": 99}}, kind="train")
    job = _resume(store, job_id)
    assert job["status"] == "failed"
    assert "different training configuration" in job["error"]


def test_searched_cell_backbone_trains_and_reloads(four):
    store = four
    spec = {**SPEC, "epochs": 1, "backbone": "nas:DARTS_V2", "ema_decay": 0.0}
    job = run_in_process(store, "train", spec)
    assert job["status"] == "succeeded", job["error"]
    row = store.get_model(job["result"]["model"])
    assert row["config"]["backbone"]["genotype"]["normal"]  # rebuilt from the stored cell
    loaded = load_model(store, row["name"])
    assert type(loaded.bench.model.backbone).__name__ == "NasBackbone"
    [det] = predict_images(loaded, [np.zeros((100, 140, 3), np.uint8)], score_threshold=0.0)
    assert det["boxes"].shape[1] == 4 and (det["boxes"][:, 2] <= 140).all()
