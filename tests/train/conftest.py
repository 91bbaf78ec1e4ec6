"""Fixtures for core.train tests: small generated datasets and in-process job runs."""

from __future__ import annotations

import json
import os
import shutil

from core.data.generate import generate_dataset
from core.data.internal import commit_dataset, new_workdir, split_json
from core.engine.jobs import submit_job
from core.engine.worker import run_job

# A detector small enough to train in seconds on one CPU thread (core/det docstring).
TINY_MODEL = {"model": "efficientdet_tiny", "image_size": 128}


def make_dataset(
    store,
    name: str,
    images: int,
    val_is_train: bool = False,
    repeat: int = 1,
    size: int = 128,
    objects=(1, 2),
    difficulty: str = "easy",
    seed: int = 0,
) -> dict:
    """Generate and register a shapes dataset.

    `val_is_train`: val is the generated images and train lists each of them `repeat` times
    (same files and boxes under new ids), so one epoch is `repeat` passes over the same images.
    """
    work = new_workdir(store.home, name)
    out = generate_dataset(
        work, "shapes", images, size, objects, difficulty, 0.0 if val_is_train else 0.25, seed
    )
    if val_is_train:
        train = split_json(work, "train")
        shutil.copyfile(train, split_json(work, "val"))
        train.write_text(json.dumps(_repeated(json.loads(train.read_text()), repeat)))
    return commit_dataset(store, work, name, "generated", out["classes"])


def _repeated(doc: dict, repeat: int) -> dict:
    images, anns = [], []
    for r in range(repeat):
        offset = r * 100_000
        images += [{**im, "id": im["id"] + offset} for im in doc["images"]]
        anns += [
            {**a, "id": a["id"] + offset, "image_id": a["image_id"] + offset}
            for a in doc["annotations"]
        ]
    return {**doc, "images": images, "annotations": anns}


def run_in_process(store, kind: str, spec: dict) -> dict:
    """Submit a job and run it here (no worker process); returns the finished job row."""
    job_id = submit_job(store, kind, spec)
    job = store.claim_job("cpu", os.getpid())
    assert job["id"] == job_id
    run_job(store, job, "cpu")
    return store.get_job(job_id, reconcile=False)
