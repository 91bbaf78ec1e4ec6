"""Fixtures of the NAS tests: tiny synthetic proxy tensors and a real job + Reporter in a tmp
store."""

from __future__ import annotations

import pytest
import torch

from core.engine.jobs import submit_job
from core.engine.reporter import Reporter

# A tiny search: 2-node cells, C=4, 3 cells on 8x8 crops; one short epoch or a few samples.
# Dotted keys, so that a test's nested override ({"report": {"random": 0}}) changes one field
# and keeps the others.
TINY = {
    "network.C": 4,
    "network.layers": 3,
    "network.nodes": 2,
    "network.skip_cap": 2,
    "crops.image_size": 8,
    "crops.max_per_class": None,
    "supernet.batch_size": 8,
    "minutes": 1.0,
    "report.random": 2,
    "report.repeats": 1,
    "report.epochs": 1,
    "child.epochs": 1,
    "child.batch_size": 8,
    "evolution.population": 3,
    "evolution.sample_size": 2,
    "enas.controller_steps": 2,
    "enas.derive_samples": 2,
}


def make_proxy_tensors(
    n_train: int = 32, n_val: int = 12, size: int = 8, classes: int = 2, seed: int = 0
) -> dict:
    """uint8 crops whose class sets the brightness of one channel (learnable in a few steps)."""
    g = torch.Generator().manual_seed(seed)

    def split(n):
        y = torch.arange(n) % classes
        x = torch.randint(0, 80, (n, 3, size, size), generator=g)
        x[:, 0] += (y * (170 // max(1, classes - 1)))[:, None, None]
        return x.clamp(0, 255).to(torch.uint8), y.long()

    train_x, train_y = split(n_train)
    val_x, val_y = split(n_val)
    return {
        "train_x": train_x,
        "train_y": train_y,
        "val_x": val_x,
        "val_y": val_y,
        "classes": [f"c{i}" for i in range(classes)],
    }


@pytest.fixture
def proxy_file(tmp_path):
    path = tmp_path / "proxy.pt"
    torch.save(make_proxy_tensors(), path)
    return path


@pytest.fixture
def make_job(store, proxy_file):
    """make_job(**spec) -> (job_id, Reporter) for a search job over the synthetic proxy file;
    nested options as objects (report={"random": 0}), merged over TINY's."""

    def make(**overrides):
        spec = {**TINY, "proxy_path": str(proxy_file), **overrides}
        job_id = submit_job(store, "search", spec)
        job = store.get_job(job_id)
        job["attempts"] = 1
        run_dir = store.home / "runs" / str(job_id)
        return job_id, Reporter(store, job, run_dir, "cpu")

    return make
