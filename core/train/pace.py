"""How fast this machine trains a detector right now: seconds per training step of a given
detector on random pictures, timed in the calling process.

The Guided demo measures it before the click (core.app.demo.fit_to_machine) and sizes its time
budgets from it, so the walk it promises holds on a slower or busier machine. The step is the
real one (model, focal and box loss with anchor matching, backward, AdamW step) on random
pictures with one box each: no dataset is needed, and nothing is read or written.
"""

from __future__ import annotations

import time

import torch

from core.det.bench import DetectionBench
from core.det.model import create_detector
from core.torch_util import threads_fitted

WARMUP_STEPS = 1  # the first step pays the allocator and oneDNN's kernel choice
TIMED_STEPS = 4  # their mean: a busy neighbour's share of the CPU counts, as it would in a job


def training_step_s(
    model: str,
    backbone: str | None,
    image_size: int,
    batch_size: int,
    overrides: dict | None = None,
    num_classes: int = 6,
) -> float:
    """Mean wall seconds of one training step of the detector on `batch_size` random pictures
    of `image_size` pixels, on the CPU with the threads a job would take now (those the other
    processes leave free: core.torch_util.threads_fitted). The global RNG is kept."""
    state = torch.get_rng_state()
    try:
        torch.manual_seed(0)
        detector = create_detector(
            model, num_classes, image_size=image_size, backbone=backbone, overrides=overrides
        )
        bench = DetectionBench(detector).train()
        optimizer = torch.optim.AdamW(detector.parameters(), lr=1e-3)
        images = torch.rand(batch_size, 3, image_size, image_size)
        box = [0.2 * image_size, 0.2 * image_size, 0.6 * image_size, 0.7 * image_size]
        targets = [{"boxes": [box], "labels": [1]} for _ in range(batch_size)]

        def step() -> None:
            loss = bench.loss(images, targets)["loss"]
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()

        with threads_fitted("cpu"):
            for _ in range(WARMUP_STEPS):
                step()
            started = time.perf_counter()
            for _ in range(TIMED_STEPS):
                step()
            return (time.perf_counter() - started) / TIMED_STEPS
    finally:
        torch.set_rng_state(state)


__all__ = ["training_step_s"]
